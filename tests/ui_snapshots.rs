//! Console rendering and key handling on a `TestBackend`: one insta snapshot per tab and state
//! (fixed sizes, a model built by replaying events with fixed timestamps through the reducer),
//! `Buffer` assertions for what snapshots cannot show (colours, REVERSED), and the behaviour of
//! the selection, follow mode and filters as the model changes under the cursor.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use lattice_tui::lattice::protocol::{
    ActorEventClaims, ActorStartFailed, ActorStarted, ActorUpdateFailed, DecodeError, EventData,
    HealthCheck, HeartbeatActors, HeartbeatProvider, HostHeartbeat, HostStarted, LatticeEvent,
    LinkDefinition, ProviderEventClaims, ProviderStartFailed, ProviderStarted, StringMap,
};
use lattice_tui::state::{
    self, Lattice, LocalActor, LocalHost, LocalReload, ModelConfig, Timestamp,
};
use lattice_tui::ui::{self, Action, Mode, RowKey, Tab, ViewState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use ratatui::style::{Color, Modifier};

// ---------------------------------------------------------------------------------------------
// Model building: events with fixed ids and timestamps, replayed through the reducer.

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0() + Duration::seconds(secs)
}

/// The render clock of every snapshot: 100 s after the start of the story.
fn now() -> Timestamp {
    at(100)
}

/// A 56-character key starting with `prefix`.
fn key(prefix: &str) -> String {
    format!("{prefix:A<56}")
}

fn map(pairs: &[(&str, &str)]) -> StringMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const EDGE: &str = "NEDGE1";
const CORE: &str = "NCORE2";
const OLD: &str = "NOLD3";
const GHOST: &str = "NGHOST4";
const ECHO: &str = "MECHO";
const KV: &str = "MKVCOUNTER";
const HTTP: &str = "VHTTPSERVER";
const REDIS: &str = "VREDIS";

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

    /// Applies `data` from `host`, emitted and received at `secs`.
    fn ev(&mut self, secs: i64, host: &str, data: EventData) -> &mut Self {
        self.seq += 1;
        let source = if host == "n/a" {
            host.to_string()
        } else {
            key(host)
        };
        let ev = LatticeEvent::new(format!("ev-{:03}", self.seq), source, at(secs), data);
        state::apply(&mut self.model, &ev, at(secs));
        self
    }

    fn host_started(&mut self, secs: i64, host: &str, name: &str, labels: &[(&str, &str)]) {
        self.ev(
            secs,
            host,
            EventData::HostStarted(HostStarted {
                labels: map(labels),
                friendly_name: name.into(),
                uptime_seconds: Some(0),
                version: Some("0.82.0".into()),
            }),
        );
    }

    fn actor_started(&mut self, secs: i64, host: &str, actor: &str, name: &str, instance: &str) {
        self.ev(
            secs,
            host,
            EventData::ActorStarted(ActorStarted {
                public_key: key(actor),
                image_ref: Some(format!("wasmcloud.azurecr.io/{name}:0.3.8")),
                api_version: None,
                instance_id: instance.into(),
                annotations: StringMap::new(),
                claims: Some(ActorEventClaims {
                    name: Some(name.into()),
                    revision: Some(3),
                    issuer: Some(key("AISSUER")),
                    caps: Some(vec!["wasmcloud:httpserver".into()]),
                    version: Some("0.3.8".into()),
                    ..ActorEventClaims::default()
                }),
            }),
        );
    }

    fn provider_started(
        &mut self,
        secs: i64,
        host: &str,
        provider: &str,
        name: &str,
        contract: &str,
    ) {
        self.ev(
            secs,
            host,
            EventData::ProviderStarted(ProviderStarted {
                public_key: key(provider),
                image_ref: Some(format!(
                    "wasmcloud.azurecr.io/{}:0.1",
                    provider.to_lowercase()
                )),
                link_name: "default".into(),
                contract_id: contract.into(),
                instance_id: format!("{host}-{provider}-1"),
                annotations: StringMap::new(),
                claims: Some(ProviderEventClaims {
                    name: Some(name.into()),
                    version: Some("0.1.0".into()),
                    ..ProviderEventClaims::default()
                }),
            }),
        );
    }

    fn heartbeat(
        &mut self,
        secs: i64,
        host: &str,
        actors: &[(&str, u64)],
        providers: &[(&str, &str)],
    ) {
        let labels = self
            .model
            .hosts
            .get(&key(host))
            .map(|h| h.labels.clone())
            .unwrap_or_default();
        self.ev(
            secs,
            host,
            EventData::HostHeartbeat(HostHeartbeat {
                actors: HeartbeatActors::Counts(
                    actors
                        .iter()
                        .map(|(a, n)| (key(a), *n))
                        .collect::<BTreeMap<_, _>>(),
                ),
                providers: providers
                    .iter()
                    .map(|(p, c)| HeartbeatProvider {
                        public_key: key(p),
                        link_name: "default".into(),
                        contract_id: (*c).into(),
                        instance_id: None,
                    })
                    .collect(),
                labels,
                friendly_name: String::new(),
                version: Some("0.82.0".into()),
                uptime_seconds: Some(secs.max(0) as u64 + 3600),
                uptime_human: None,
            }),
        );
    }

    fn link(
        &mut self,
        secs: i64,
        actor: &str,
        provider: &str,
        contract: &str,
        values: &[(&str, &str)],
    ) {
        self.ev(
            secs,
            "n/a",
            EventData::LinkdefSet(LinkDefinition {
                id: String::new(),
                actor_id: key(actor),
                provider_id: key(provider),
                link_name: "default".into(),
                contract_id: contract.into(),
                values: map(values),
            }),
        );
    }

    fn health(&mut self, secs: i64, host: &str, provider: &str, passed: bool) {
        let hc = HealthCheck {
            public_key: key(provider),
            contract_id: String::new(),
            link_name: "default".into(),
        };
        let data = if passed {
            EventData::HealthCheckPassed(hc)
        } else {
            EventData::HealthCheckFailed(hc)
        };
        self.ev(secs, host, data);
    }
}

/// Four hosts (one stale, one lost), actors incl. a failed start and a failed update,
/// providers in every health, three links, an unknown and a malformed event: 25 log entries.
fn lattice() -> Lattice {
    let mut s = Story::new();
    s.host_started(-400, GHOST, "ghost-4", &[]);
    s.host_started(0, EDGE, "edge-1", &[("region", "eu-west"), ("zone", "a")]);
    s.host_started(1, CORE, "core-2", &[("region", "us-east")]);
    s.host_started(2, OLD, "old-3", &[]);
    s.heartbeat(5, OLD, &[], &[]);
    s.actor_started(10, EDGE, ECHO, "echo", "i-echo-1");
    s.actor_started(11, EDGE, ECHO, "echo", "i-echo-2");
    s.actor_started(12, EDGE, KV, "kvcounter", "i-kv-1");
    s.actor_started(13, CORE, ECHO, "echo", "i-echo-3");
    s.ev(
        14,
        CORE,
        EventData::ActorStartFailed(ActorStartFailed {
            actor_ref: "ghcr.io/acme/broken:1.0".into(),
            error: "failed to fetch OCI bytes: 404 Not Found".into(),
        }),
    );
    s.ev(
        15,
        EDGE,
        EventData::ActorUpdateFailed(ActorUpdateFailed {
            public_key: key(KV),
            revision: 4,
            instance_id: "i-kv-1".into(),
            reason: "module validation failed: missing export".into(),
        }),
    );
    s.provider_started(20, EDGE, HTTP, "HTTP Server", "wasmcloud:httpserver");
    s.provider_started(21, EDGE, REDIS, "Redis KeyValue", "wasmcloud:keyvalue");
    s.provider_started(22, CORE, HTTP, "HTTP Server", "wasmcloud:httpserver");
    s.ev(
        23,
        CORE,
        EventData::ProviderStartFailed(ProviderStartFailed {
            provider_ref: "ghcr.io/acme/nats-messaging:0.1".into(),
            link_name: "default".into(),
            error: "timed out waiting for the provider to start".into(),
        }),
    );
    s.health(30, EDGE, HTTP, true);
    s.health(31, EDGE, REDIS, false);
    s.link(40, ECHO, HTTP, "wasmcloud:httpserver", &[("PORT", "8080")]);
    s.link(
        41,
        KV,
        HTTP,
        "wasmcloud:httpserver",
        &[("PORT", "8081"), ("READONLY", "false")],
    );
    s.link(
        42,
        KV,
        REDIS,
        "wasmcloud:keyvalue",
        &[("URL", "redis://127.0.0.1:6379/")],
    );
    s.ev(
        50,
        CORE,
        EventData::Unknown {
            ty: "com.wasmcloud.lattice.component_scaled".into(),
        },
    );
    state::record_malformed(
        &mut s.model,
        &DecodeError::Envelope("expected value at line 1 column 1".into()),
        at(51),
    );
    s.heartbeat(
        60,
        EDGE,
        &[(ECHO, 2), (KV, 1)],
        &[
            (HTTP, "wasmcloud:httpserver"),
            (REDIS, "wasmcloud:keyvalue"),
        ],
    );
    s.heartbeat(61, CORE, &[(ECHO, 1)], &[(HTTP, "wasmcloud:httpserver")]);
    state::tick(&mut s.model, now());
    s.model.connection.resyncs = 1;
    s.model.connection.last_resync = Some(at(3));
    // The console's own embedded host is edge-1: it reports calls per actor.
    state::set_local(
        &mut s.model,
        LocalHost {
            host_id: key(EDGE),
            actors: [
                (
                    key(ECHO),
                    LocalActor {
                        calls: 123_456,
                        errors: 2,
                        in_flight: 1,
                        revision: 0,
                        digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                            .into(),
                        note: None,
                        source: "/work/actors/echo.wasm".into(),
                        watched: true,
                        last_reload: Some(LocalReload {
                            at: Some(at(58)),
                            revision: 3,
                            digest:
                                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                                    .into(),
                            detect_to_stable_us: 121_400,
                            stable_to_compiled_us: 46_250,
                            swap_us: 180,
                            total_us: 167_830,
                        }),
                        last_error: None,
                        last_call_failure: None,
                    },
                ),
                (
                    key(KV),
                    LocalActor {
                        note: Some("component does not export wasi:http/incoming-handler".into()),
                        last_error: Some("compile error: unknown import wasi:nope/thing".into()),
                        ..LocalActor::default()
                    },
                ),
            ]
            .into(),
            serving: Vec::new(),
            data_watch_error: None,
        },
    );
    s.model
}

// ---------------------------------------------------------------------------------------------
// Rendering and keys.

fn draw(model: &Lattice, view: &mut ViewState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| ui::render(f, model, view, now())).unwrap();
    term
}

fn wide(model: &Lattice, view: &mut ViewState) -> Terminal<TestBackend> {
    draw(model, view, 120, 30)
}

fn narrow(model: &Lattice, view: &mut ViewState) -> Terminal<TestBackend> {
    draw(model, view, 80, 24)
}

fn press(view: &mut ViewState, model: &Lattice, code: KeyCode) -> ui::Outcome {
    view.handle_key(&KeyEvent::new(code, KeyModifiers::NONE), model)
}

fn keys(view: &mut ViewState, model: &Lattice, text: &str) {
    for c in text.chars() {
        let _ = press(view, model, KeyCode::Char(c));
    }
}

fn view_on(tab: Tab) -> ViewState {
    let mut v = ViewState::new(false);
    let _ = v.apply(
        Action::GoTab(tab),
        &Lattice::new("x", ModelConfig::default()),
    );
    v
}

/// The text of row `y` of the buffer.
fn line(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

/// The row holding the selection marker `▶`.
fn selected_line(buf: &Buffer) -> (u16, String) {
    (0..buf.area.height)
        .map(|y| (y, line(buf, y)))
        .find(|(_, l)| l.contains('▶'))
        .expect("a selected row")
}

/// Position of the first cell where `needle` starts.
fn find(buf: &Buffer, needle: &str) -> (u16, u16) {
    for y in 0..buf.area.height {
        let l = line(buf, y);
        if let Some(byte) = l.find(needle) {
            let x = l[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("{needle:?} not on screen");
}

// ---------------------------------------------------------------------------------------------
// Snapshots: one per tab and state.

#[test]
fn hosts_tab_wide_with_detail_right() {
    let m = lattice();
    let mut v = ViewState::new(false);
    insta::assert_snapshot!(wide(&m, &mut v).backend());
}

#[test]
fn hosts_tab_narrow_with_detail_below() {
    let m = lattice();
    let mut v = ViewState::new(false);
    insta::assert_snapshot!(narrow(&m, &mut v).backend());
}

#[test]
fn actors_tab() {
    let m = lattice();
    let mut v = view_on(Tab::Actors);
    insta::assert_snapshot!(wide(&m, &mut v).backend());
}

#[test]
fn actors_tab_200_columns_shows_every_column() {
    let m = lattice();
    let mut v = view_on(Tab::Actors);
    let term = draw(&m, &mut v, 200, 16);
    let text = format!("{}", term.backend());
    for title in [
        "NAME",
        "ID",
        "HOST",
        "INST",
        "REV",
        "STATUS",
        "IMAGE",
        "LAST FAILURE",
    ] {
        assert!(text.contains(title), "{title}");
    }
    insta::assert_snapshot!(term.backend());
}

#[test]
fn providers_tab() {
    let m = lattice();
    let mut v = view_on(Tab::Providers);
    insta::assert_snapshot!(wide(&m, &mut v).backend());
}

#[test]
fn links_tab() {
    let m = lattice();
    let mut v = view_on(Tab::Links);
    insta::assert_snapshot!(wide(&m, &mut v).backend());
}

#[test]
fn events_tab_following() {
    let m = lattice();
    let mut v = view_on(Tab::Events);
    let term = wide(&m, &mut v);
    assert!(v.following());
    assert_eq!(v.selected(), Some(&RowKey::Event(m.events.total - 1)));
    insta::assert_snapshot!(term.backend());
}

#[test]
fn events_tab_paused() {
    let mut m = lattice();
    let mut v = view_on(Tab::Events);
    wide(&m, &mut v);
    let _ = press(&mut v, &m, KeyCode::Up);
    let _ = press(&mut v, &m, KeyCode::Up);
    assert!(!v.following());
    let paused_on = v.selected().cloned();
    // A new event arrives while paused: the selection stays put.
    let mut s = Story { model: m, seq: 100 };
    s.health(70, CORE, HTTP, true);
    m = s.model;
    let term = wide(&m, &mut v);
    assert_eq!(v.selected().cloned(), paused_on);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn actors_detail_narrow_with_update_failure() {
    let m = lattice();
    let mut v = view_on(Tab::Actors);
    narrow(&m, &mut v);
    // Rows by host, then name: core-2 (echo, ghcr…broken), edge-1 (echo, kvcounter).
    let _ = press(&mut v, &m, KeyCode::End);
    let term = narrow(&m, &mut v);
    assert!(
        selected_line(term.backend().buffer())
            .1
            .contains("kvcounter")
    );
    insta::assert_snapshot!(term.backend());
}

#[test]
fn detail_pane_hidden_with_d() {
    let m = lattice();
    let mut v = view_on(Tab::Providers);
    let _ = press(&mut v, &m, KeyCode::Char('d'));
    assert!(!v.detail_shown());
    insta::assert_snapshot!(wide(&m, &mut v).backend());
}

#[test]
fn help_overlay_wide() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let _ = press(&mut v, &m, KeyCode::Char('?'));
    assert_eq!(v.mode(), Mode::Help);
    insta::assert_snapshot!(wide(&m, &mut v).backend());
}

#[test]
fn help_overlay_narrow_uses_two_columns() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let _ = press(&mut v, &m, KeyCode::Char('?'));
    insta::assert_snapshot!(narrow(&m, &mut v).backend());
}

#[test]
fn host_filter_by_drilling_into_a_host() {
    let m = lattice();
    let mut v = ViewState::new(false);
    wide(&m, &mut v);
    // Hosts sorted by name: core-2, edge-1, ghost-4, old-3.
    let _ = press(&mut v, &m, KeyCode::Char('j'));
    let out = press(&mut v, &m, KeyCode::Enter);
    assert!(out.dirty);
    assert_eq!(v.tab(), Tab::Actors);
    assert_eq!(v.host_filter(), Some(key(EDGE).as_str()));
    insta::assert_snapshot!(wide(&m, &mut v).backend());
    // The filter also applies to providers and events.
    let _ = press(&mut v, &m, KeyCode::Char('5'));
    let term = wide(&m, &mut v);
    let text = format!("{}", term.backend());
    assert!(!text.contains("core-2 "), "{text}");
    assert!(text.contains("edge-1"));
    // Esc clears it.
    assert!(press(&mut v, &m, KeyCode::Esc).dirty);
    assert_eq!(v.host_filter(), None);
}

#[test]
fn text_filter_while_typing_and_kept() {
    let m = lattice();
    let mut v = view_on(Tab::Events);
    let _ = press(&mut v, &m, KeyCode::Char('/'));
    assert_eq!(v.mode(), Mode::Filter);
    keys(&mut v, &m, "FAIL");
    assert_eq!(v.text_filter(), "FAIL");
    let typing = wide(&m, &mut v);
    insta::assert_snapshot!("text_filter_typing", typing.backend());
    let _ = press(&mut v, &m, KeyCode::Enter);
    assert_eq!(v.mode(), Mode::Normal);
    insta::assert_snapshot!("text_filter_kept", wide(&m, &mut v).backend());
    // Another edit, cancelled with Esc, restores "FAIL".
    let _ = press(&mut v, &m, KeyCode::Char('/'));
    keys(&mut v, &m, "xyz");
    let _ = press(&mut v, &m, KeyCode::Esc);
    assert_eq!(v.text_filter(), "FAIL");
    // The filter belongs to the Events tab only.
    let _ = press(&mut v, &m, KeyCode::Char('1'));
    assert_eq!(v.text_filter(), "");
}

#[test]
fn text_filter_matching_nothing_explains_itself() {
    let m = lattice();
    let mut v = view_on(Tab::Links);
    let _ = press(&mut v, &m, KeyCode::Char('/'));
    keys(&mut v, &m, "nope");
    let _ = press(&mut v, &m, KeyCode::Enter);
    insta::assert_snapshot!(narrow(&m, &mut v).backend());
}

#[test]
fn empty_lattice() {
    let m = Lattice::new("default", ModelConfig::default());
    let mut v = ViewState::new(false);
    insta::assert_snapshot!(narrow(&m, &mut v).backend());
}

#[test]
fn connection_trouble_in_the_header() {
    let mut m = lattice();
    m.connection.state = "reconnecting".into();
    m.connection.dropped = 12;
    m.connection.last_error = Some("no responders for get.links".into());
    let mut v = ViewState::new(false);
    let term = wide(&m, &mut v);
    let header = line(term.backend().buffer(), 0) + &line(term.backend().buffer(), 1);
    assert!(header.contains("◌ reconnecting"), "{header}");
    assert!(header.contains("dropped ! 12"), "{header}");
    assert!(header.contains("✗ error: no responders"), "{header}");
    let (x, y) = find(term.backend().buffer(), "! 12");
    assert_eq!(term.backend().buffer()[(x, y)].fg, Color::Yellow);
}

#[test]
fn tiny_terminal() {
    let m = lattice();
    let mut v = ViewState::new(false);
    insta::assert_snapshot!(draw(&m, &mut v, 20, 5).backend());
}

#[test]
fn no_size_panics() {
    let m = lattice();
    let empty = Lattice::new("default", ModelConfig::default());
    for model in [&m, &empty] {
        for tab in Tab::ALL {
            for help in [false, true] {
                for (w, h) in [
                    (0, 0),
                    (1, 1),
                    (20, 5),
                    (10, 3),
                    (40, 8),
                    (119, 15),
                    (120, 16),
                    (200, 60),
                ] {
                    let mut v = view_on(tab);
                    if help {
                        let _ = v.apply(Action::OpenHelp, model);
                    }
                    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
                    term.draw(|f| ui::render(f, model, &mut v, now())).unwrap();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Styles the snapshots cannot show.

#[test]
fn plain_theme_sets_no_colours_anywhere() {
    let m = lattice();
    for tab in Tab::ALL {
        for help in [false, true] {
            let mut v = ViewState::new(true);
            let _ = v.apply(Action::GoTab(tab), &m);
            if help {
                let _ = v.apply(Action::OpenHelp, &m);
            }
            let term = wide(&m, &mut v);
            let buf = term.backend().buffer();
            for cell in buf.content() {
                assert_eq!(cell.fg, Color::Reset, "{tab:?} help={help} {cell:?}");
                assert_eq!(cell.bg, Color::Reset, "{tab:?} help={help} {cell:?}");
            }
        }
    }
}

#[test]
fn default_theme_colours_health_and_status() {
    let m = lattice();
    let mut v = view_on(Tab::Providers);
    let _ = press(&mut v, &m, KeyCode::Char('d'));
    let term = wide(&m, &mut v);
    let buf = term.backend().buffer();
    let (x, y) = find(buf, "! unhealthy");
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
    let (x, y) = find(buf, "✗ failed");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = find(buf, "✓ healthy");
    assert_eq!(buf[(x, y)].fg, Color::Green);
    // Hosts: stale in yellow, lost in red.
    let mut v = ViewState::new(false);
    let term = wide(&m, &mut v);
    let buf = term.backend().buffer();
    assert_eq!(buf[find(buf, "◐ stale")].fg, Color::Yellow);
    assert_eq!(buf[find(buf, "○ lost")].fg, Color::Red);
}

#[test]
fn selected_row_is_reversed_in_both_themes() {
    let m = lattice();
    for no_color in [false, true] {
        let mut v = ViewState::new(no_color);
        let _ = v.apply(Action::GoTab(Tab::Actors), &m);
        let _ = v.apply(Action::Down, &m);
        let term = wide(&m, &mut v);
        let buf = term.backend().buffer();
        let (y, text) = selected_line(buf);
        assert!(text.contains("ghcr.io/acme"), "{text}");
        let (x, _) = find(buf, "▶");
        // The whole row, from the marker to the table's right edge, is REVERSED.
        for cx in x..x + 40 {
            assert!(
                buf[(cx, y)].modifier.contains(Modifier::REVERSED),
                "no_color={no_color} x={cx}"
            );
        }
        // And the rows around it are not.
        assert!(!buf[(x + 2, y + 1)].modifier.contains(Modifier::REVERSED));
    }
}

// ---------------------------------------------------------------------------------------------
// Selection, follow mode and filters as the model changes.

#[test]
fn selection_follows_the_row_not_the_index() {
    let mut m = lattice();
    let mut v = view_on(Tab::Actors);
    wide(&m, &mut v);
    let _ = press(&mut v, &m, KeyCode::End);
    let want = RowKey::Actor {
        host: key(EDGE),
        actor: key(KV),
    };
    assert_eq!(v.selected(), Some(&want));
    // A new actor sorting before kvcounter appears on edge-1: the cursor stays on kvcounter.
    let mut s = Story { model: m, seq: 200 };
    s.actor_started(80, EDGE, "MAARDVARK", "aardvark", "i-a-1");
    m = s.model;
    let term = wide(&m, &mut v);
    assert_eq!(v.selected(), Some(&want));
    assert!(
        selected_line(term.backend().buffer())
            .1
            .contains("kvcounter")
    );
}

#[test]
fn selection_stays_in_place_when_its_row_goes() {
    let mut m = lattice();
    let mut v = ViewState::new(false);
    wide(&m, &mut v);
    let _ = press(&mut v, &m, KeyCode::Char('j'));
    assert_eq!(v.selected(), Some(&RowKey::Host(key(EDGE))));
    // edge-1 stops: the cursor lands on the row that took its place (ghost-4).
    let mut s = Story { model: m, seq: 300 };
    s.ev(
        90,
        EDGE,
        EventData::HostStopped(lattice_tui::lattice::protocol::HostStopped::default()),
    );
    m = s.model;
    wide(&m, &mut v);
    assert_eq!(v.selected(), Some(&RowKey::Host(key(GHOST))));
}

#[test]
fn follow_mode_tracks_new_events_and_resumes_with_end() {
    let mut m = lattice();
    let mut v = view_on(Tab::Events);
    wide(&m, &mut v);
    let mut s = Story { model: m, seq: 400 };
    s.health(71, CORE, HTTP, true);
    m = s.model;
    wide(&m, &mut v);
    assert_eq!(v.selected(), Some(&RowKey::Event(m.events.total - 1)));
    // Down at the bottom keeps following; Up pauses.
    let _ = press(&mut v, &m, KeyCode::Down);
    assert!(v.following());
    let _ = press(&mut v, &m, KeyCode::Char('k'));
    assert!(!v.following());
    assert_eq!(v.selected(), Some(&RowKey::Event(m.events.total - 2)));
    // End resumes and selects the newest again.
    assert!(press(&mut v, &m, KeyCode::End).dirty);
    assert!(v.following());
    // f pauses on the newest and toggles back.
    let _ = press(&mut v, &m, KeyCode::Char('f'));
    assert!(!v.following());
    assert_eq!(v.selected(), Some(&RowKey::Event(m.events.total - 1)));
    let _ = press(&mut v, &m, KeyCode::Char('f'));
    assert!(v.following());
    // f means nothing on other tabs.
    let _ = press(&mut v, &m, KeyCode::Char('1'));
    assert!(!press(&mut v, &m, KeyCode::Char('f')).dirty);
    assert!(v.following());
}

#[test]
fn paging_uses_the_rendered_height() {
    let m = lattice();
    let mut v = view_on(Tab::Events);
    let _ = press(&mut v, &m, KeyCode::Char('d'));
    draw(&m, &mut v, 80, 12); // 12 - header 2 - tabs 1 - footer 1 - borders 2 - titles 1 = 5 rows
    let last = m.events.total - 1;
    let _ = press(&mut v, &m, KeyCode::PageUp);
    assert_eq!(v.selected(), Some(&RowKey::Event(last - 5)));
    let _ = press(&mut v, &m, KeyCode::Home);
    assert_eq!(v.selected(), Some(&RowKey::Event(0)));
    let _ = press(&mut v, &m, KeyCode::PageDown);
    assert_eq!(v.selected(), Some(&RowKey::Event(5)));
    let term = draw(&m, &mut v, 80, 12);
    assert!(
        selected_line(term.backend().buffer())
            .1
            .contains("12:00:10")
    );
}

#[test]
fn tabs_cycle_and_quit() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let _ = v.handle_key(&KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT), &m);
    assert_eq!(v.tab(), Tab::Events);
    let _ = press(&mut v, &m, KeyCode::Tab);
    assert_eq!(v.tab(), Tab::Hosts);
    let _ = press(&mut v, &m, KeyCode::Char('3'));
    assert_eq!(v.tab(), Tab::Providers);
    assert!(!press(&mut v, &m, KeyCode::Char('3')).dirty);
    let quit = v.handle_key(
        &KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
        &m,
    );
    assert!(quit.quit);
    assert!(press(&mut v, &m, KeyCode::Char('q')).quit);
}

#[test]
fn key_releases_change_nothing() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let release = KeyEvent {
        code: KeyCode::Char('2'),
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Release,
        state: KeyEventState::NONE,
    };
    assert_eq!(v.handle_key(&release, &m), ui::Outcome::default());
    assert_eq!(v.tab(), Tab::Hosts);
}

#[test]
fn help_closes_on_any_key_without_acting() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let _ = press(&mut v, &m, KeyCode::Char('?'));
    let out = press(&mut v, &m, KeyCode::Char('q'));
    assert!(!out.quit && out.dirty);
    assert_eq!(v.mode(), Mode::Normal);
}

#[test]
fn help_lists_every_binding() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let _ = press(&mut v, &m, KeyCode::Char('?'));
    // Tall enough for one column: every line whole (paging is tested in ui::help).
    let text = format!("{}", draw(&m, &mut v, 120, 400).backend());
    assert!(!text.is_empty());
    for c in lattice_tui::state::command::COMMANDS {
        assert!(
            text.contains(&format!(":{}", c.name)),
            "help lacks :{}",
            c.name
        );
    }
    for b in ui::keymap::BINDINGS {
        assert!(text.contains(b.help), "help lacks {:?}", b.help);
        assert!(
            text.contains(&b.keys_label()),
            "help lacks {:?}",
            b.keys_label()
        );
    }
}

/// `lattice-tui dev --build`: the header shows the last build's outcome and `b` opens its
/// output, stderr highlighted, with the run that failed and the command.
#[test]
fn build_output_overlay_after_a_failed_build() {
    use lattice_tui::state::BuildUpdate;
    let mut m = lattice();
    let cmd = "cargo build --target wasm32-wasip2 --release";
    let updates = [
        BuildUpdate::Started {
            run: 1,
            trigger: vec!["src/lib.rs".into()],
        },
        BuildUpdate::Output {
            run: 1,
            line: "   Compiling hello v0.1.0".into(),
            stderr: true,
        },
        BuildUpdate::Finished {
            run: 1,
            success: true,
            code: Some(0),
            took_ms: 4_210,
        },
        BuildUpdate::Started {
            run: 2,
            trigger: vec!["src/lib.rs".into(), "src/http.rs".into()],
        },
        BuildUpdate::Cancelled { run: 2 },
        BuildUpdate::Started {
            run: 3,
            trigger: vec!["src/http.rs".into()],
        },
        BuildUpdate::Output {
            run: 3,
            line: "   Compiling hello v0.1.0".into(),
            stderr: true,
        },
        BuildUpdate::Output {
            run: 3,
            line: "error[E0425]: cannot find value `greeting` in this scope".into(),
            stderr: true,
        },
        BuildUpdate::Output {
            run: 3,
            line: "  --> src/http.rs:12:9".into(),
            stderr: true,
        },
        BuildUpdate::Finished {
            run: 3,
            success: false,
            code: Some(101),
            took_ms: 1_830,
        },
    ];
    for (i, u) in updates.into_iter().enumerate() {
        state::record_build(&mut m, cmd, u, at(80 + i as i64));
    }
    if let Some(local) = m.local.as_mut() {
        local.serving = vec!["http://127.0.0.1:8080/".into()];
    }
    let mut v = ViewState::new(false);
    insta::assert_snapshot!("build_chip_in_the_header", wide(&m, &mut v).backend());
    let _ = press(&mut v, &m, KeyCode::Char('b'));
    insta::assert_snapshot!("build_overlay", wide(&m, &mut v).backend());
    let _ = press(&mut v, &m, KeyCode::Char('x'));
    assert_eq!(v.mode(), Mode::Normal, "any key closes the build output");
}

#[test]
fn events_tab_with_the_console_s_own_action_steps() {
    let mut m = lattice();
    lattice_tui::state::record_action(&mut m, "scale echo 3: sent…".into(), false, at(70));
    lattice_tui::state::record_action(
        &mut m,
        "scale echo 3: timed out after 30 s: the count did not reach 3".into(),
        true,
        at(100),
    );
    let mut v = view_on(Tab::Events);
    let term = wide(&m, &mut v);
    let text = format!("{:?}", term.backend());
    assert!(text.contains("console_action"), "{text}");
    insta::assert_snapshot!(term.backend());
}

#[test]
fn a_host_pick_in_the_footer() {
    let m = lattice();
    let mut v = view_on(Tab::Actors);
    v.ask_pick(
        ":scale echo 2: on which host? 1 core (NCORE…)  2 edge (NEDGE…)".into(),
        2,
    );
    let term = wide(&m, &mut v);
    insta::assert_snapshot!(term.backend());
}

#[test]
fn a_row_key_opens_the_command_line_with_the_rows_command() {
    let m = lattice();
    let mut v = view_on(Tab::Actors);
    wide(&m, &mut v);
    let _ = press(&mut v, &m, KeyCode::Char('s'));
    assert_eq!(v.mode(), ui::Mode::Command);
    insta::assert_snapshot!(wide(&m, &mut v).backend());
}
