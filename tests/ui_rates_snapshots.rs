//! The live rates on screen (insta snapshots on a `TestBackend`): the Actors table's
//! `REQ/S ERR/S TREND` column and the detail pane's rates section with its sparklines, for an
//! actor on one host and for one running on two hosts (lattice-wide sum). The model is built
//! by replaying events and rates samples with fixed timestamps through the reducer.

use chrono::{Duration, TimeZone, Utc};
use lattice_tui::lattice::protocol::{
    ActorCounters, ActorEventClaims, ActorStarted, EventData, HostStarted, LatticeEvent,
    RatesSample, StringMap,
};
use lattice_tui::state::{self, Lattice, ModelConfig, Timestamp};
use lattice_tui::ui::{self, Action, Tab, ViewState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn at(secs: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + Duration::seconds(secs)
}

/// Render clock: the last sample's second.
const END: i64 = 300;

fn key(prefix: &str) -> String {
    format!("{prefix:A<56}")
}

const EDGE: &str = "NEDGE1";
const CORE: &str = "NCORE2";
const ECHO: &str = "MECHO";
const KV: &str = "MKVCOUNTER";

struct Story {
    model: Lattice,
    seq: u32,
}

impl Story {
    fn new() -> Self {
        let mut model = Lattice::new("default", ModelConfig::default());
        model.connection.transport = "nats://127.0.0.1:4222".into();
        model.connection.state = "connected".into();
        Self { model, seq: 0 }
    }

    fn ev(&mut self, secs: i64, host: &str, data: EventData) {
        self.seq += 1;
        let ev = LatticeEvent::new(format!("ev-{:03}", self.seq), key(host), at(secs), data);
        state::apply(&mut self.model, &ev, at(secs));
    }

    fn host(&mut self, host: &str, name: &str) {
        self.ev(
            0,
            host,
            EventData::HostStarted(HostStarted {
                labels: StringMap::new(),
                friendly_name: name.into(),
                uptime_seconds: Some(0),
                version: Some("0.1.0".into()),
            }),
        );
    }

    fn actor(&mut self, host: &str, actor: &str, name: &str) {
        self.ev(
            1,
            host,
            EventData::ActorStarted(ActorStarted {
                public_key: key(actor),
                image_ref: Some(format!("file:///srv/{name}.wasm")),
                api_version: None,
                instance_id: format!("{host}-{actor}"),
                annotations: StringMap::new(),
                claims: Some(ActorEventClaims {
                    name: Some(name.into()),
                    revision: Some(1),
                    ..ActorEventClaims::default()
                }),
            }),
        );
    }

    /// One sample a second from `host` for seconds `0..=END`; `per_second(actor, s)` gives
    /// `(requests, errors)` of second `s`.
    fn samples(
        &mut self,
        host: &str,
        actors: &[&str],
        per_second: impl Fn(&str, i64) -> (u64, u64),
    ) {
        let mut totals = vec![(0u64, 0u64); actors.len()];
        for s in 0..=END {
            for (i, a) in actors.iter().enumerate() {
                let (r, e) = if s == 0 { (0, 0) } else { per_second(a, s) };
                totals[i].0 += r;
                totals[i].1 += e;
            }
            let sample = RatesSample {
                host_id: key(host),
                at: at(s),
                actors: actors
                    .iter()
                    .zip(&totals)
                    .map(|(a, (r, e))| ActorCounters {
                        public_key: key(a),
                        requests: *r,
                        errors: *e,
                    })
                    .collect(),
            };
            state::apply_rates(&mut self.model, &sample, at(s));
        }
    }
}

/// `echo` on two hosts (a wave of traffic on edge, steady on core, a burst of errors on edge
/// in the last minute), `kv-counter` idle on edge.
fn lattice() -> Lattice {
    let mut s = Story::new();
    s.host(EDGE, "edge-1");
    s.host(CORE, "core-2");
    s.actor(EDGE, ECHO, "echo");
    s.actor(EDGE, KV, "kv-counter");
    s.actor(CORE, ECHO, "echo");
    s.samples(EDGE, &[ECHO, KV], |a, sec| {
        if a == KV {
            return (0, 0);
        }
        // A ramp that repeats every 100 s: 0, 1, …, 24 requests/s.
        let r = u64::try_from((sec % 100) / 4).unwrap();
        let e = if sec > END - 60 && sec % 3 == 0 { 2 } else { 0 };
        (r, e)
    });
    s.samples(CORE, &[ECHO], |_, _| (7, 0));
    s.model
}

fn draw(model: &Lattice, tab: Tab, select_down: usize, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut v = ViewState::new(false);
    let _ = v.apply(Action::GoTab(tab), model);
    for _ in 0..select_down {
        let _ = v.apply(Action::Down, model);
    }
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| ui::render(f, model, &mut v, at(END)))
        .unwrap();
    term
}

#[test]
fn actors_tab_with_rates_wide() {
    let m = lattice();
    insta::assert_snapshot!(draw(&m, Tab::Actors, 0, 160, 34).backend());
}

#[test]
fn actors_tab_with_rates_narrow() {
    let m = lattice();
    insta::assert_snapshot!(draw(&m, Tab::Actors, 0, 100, 40).backend());
}

#[test]
fn detail_with_errors_on_the_selected_host() {
    let m = lattice();
    insta::assert_snapshot!(draw(&m, Tab::Actors, 1, 160, 34).backend());
}

#[test]
fn detail_of_an_idle_actor() {
    let m = lattice();
    insta::assert_snapshot!(draw(&m, Tab::Actors, 2, 160, 34).backend());
}

#[test]
fn rows_follow_the_rates_of_their_own_host() {
    let m = lattice();
    let term = draw(&m, Tab::Actors, 0, 160, 34);
    let buf = term.backend().buffer();
    let lines: Vec<String> = (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect();
    let row = |host: &str, actor: &str| {
        lines
            .iter()
            .find(|l| l.contains(host) && l.contains(actor))
            .unwrap_or_else(|| panic!("a row of {actor} on {host}:\n{}", lines.join("\n")))
            .clone()
    };
    assert!(
        row("core-2", "echo").contains("  7.0   0.0 "),
        "{}",
        row("core-2", "echo")
    );
    assert!(row("edge-1", "kv-counter").contains("  0.0   0.0 ▁▁▁▁▁▁▁▁"));
    // Second 300 of the ramp: 0 requests/s, and the error burst's second (300 % 3 == 0).
    assert!(
        row("edge-1", "echo").contains("  0.0   2.0 "),
        "{}",
        row("edge-1", "echo")
    );
}

/// Sorting by STATUS (after the inserted rates column) puts the arrow on STATUS, not on the
/// rates column before it.
#[test]
fn the_sort_arrow_stays_on_its_column_past_the_rates_column() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let _ = v.apply(Action::GoTab(Tab::Actors), &m);
    // o cycles NAME, ID, HOST, INST, REV, CALLS, STATUS.
    for _ in 0..7 {
        let _ = v.apply(Action::SortNext, &m);
    }
    let mut term = Terminal::new(TestBackend::new(200, 30)).unwrap();
    term.draw(|f| ui::render(f, &m, &mut v, at(END))).unwrap();
    let screen = format!("{:?}", term.backend());
    let header = screen
        .lines()
        .find(|l| l.contains("REQ/S"))
        .unwrap_or_else(|| panic!("no rates column:\n{screen}"));
    assert!(header.contains("STATUS▲"), "{header}");
    assert_eq!(header.matches('▲').count(), 1, "one arrow only: {header}");
}
