//! `--lattice '*'`: the monitor of every lattice feeding the console's App, against scripted
//! hosts in three lattices on one bus. Lattices are found from their event subjects (and, on a
//! real nats-server, from their JetStream metadata buckets before any event), each is resynced
//! on its own, the shown model holds them all apart, and an action goes to the lattice where
//! its names resolve or to the focused one.

mod common;

use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use common::fake_lattice::{FakeHost, FakeState};
use common::{NatsServer, within};
use lattice_tui::app::act::Effect;
use lattice_tui::app::{App, ConsoleConfig, Msg};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::monitor::{MonitorConfig, MonitorMsg};
use lattice_tui::lattice::multi;
use lattice_tui::lattice::protocol::{EventData, HeartbeatActors, HostHeartbeat, LatticeEvent};
use lattice_tui::lattice::subjects::Subjects;
use lattice_tui::ui::Tab;
use lattice_tui::ui::rows::Rows;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const ALPHA_HOST: &str = "NALPHAHOST";
const BETA_HOST: &str = "NBETAHOST";
const GAMMA_HOST: &str = "NGAMMAHOST";

fn heartbeat(host: &str, name: &str, echo: u64) -> Bytes {
    let ev = LatticeEvent::new(
        format!("hb-{host}"),
        host,
        Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        EventData::HostHeartbeat(HostHeartbeat {
            actors: HeartbeatActors::Counts([("MECHO".to_string(), echo)].into()),
            providers: vec![],
            labels: Default::default(),
            friendly_name: name.into(),
            version: None,
            uptime_seconds: Some(1),
            uptime_human: None,
        }),
    );
    Bytes::from(ev.to_json().expect("event json"))
}

/// The console's App fed by the monitor of every lattice, as the run loop feeds it.
struct Console {
    app: App,
    rx: mpsc::Receiver<MonitorMsg>,
    cancel: CancellationToken,
    /// The monitor's subscription is in place.
    subscribed: bool,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Console {
    fn start(bus: Bus) -> Self {
        let mut cfg = MonitorConfig::new(Subjects::new("*"));
        cfg.ping_timeout = common::scaled(Duration::from_millis(800));
        let (tx, rx) = mpsc::channel(1024);
        let cancel = CancellationToken::new();
        tokio::spawn(multi::run(bus, cfg, tx, cancel.clone()));
        let app = App::new(
            &ConsoleConfig {
                no_color: true,
                ..ConsoleConfig::new("*")
            },
            "test".into(),
        );
        Self {
            app,
            rx,
            cancel,
            subscribed: false,
        }
    }

    /// Applies monitor messages until `done` holds on the settled App.
    async fn until(&mut self, what: &str, done: impl Fn(&Console) -> bool) {
        within(common::scaled(Duration::from_secs(15)), what, async {
            loop {
                self.app.settle();
                if done(self) {
                    return;
                }
                let m = self.rx.recv().await.expect("the monitor runs");
                self.subscribed |= matches!(m, MonitorMsg::Subscribed);
                self.app.update(Msg::Monitor(m), Utc::now());
            }
        })
        .await;
    }

    fn key(&mut self, code: KeyCode) {
        self.app.update(
            Msg::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))),
            Utc::now(),
        );
    }

    fn line(&mut self, line: &str) {
        self.key(KeyCode::Char(':'));
        for c in line.chars() {
            self.key(KeyCode::Char(c));
        }
        self.key(KeyCode::Enter);
    }

    fn status(&self) -> String {
        self.app.view.status().unwrap_or_default().to_owned()
    }

    fn subjects_sent(&mut self) -> Vec<String> {
        self.app
            .actions
            .effects
            .drain(..)
            .map(|e| match e {
                Effect::Request { request, .. } | Effect::Auction { request, .. } => {
                    request.subject
                }
            })
            .collect()
    }
}

async fn lattices_kept_apart(bus: Bus, gamma_by_bucket: bool) {
    let mut alpha = FakeState::new(ALPHA_HOST, "alpha-1", &[("MECHO", 2)]);
    alpha.add_link("MECHO", "8080");
    let mut beta = FakeState::new(BETA_HOST, "beta-1", &[("MECHO", 5)]);
    beta.add_link("MECHO", "9090");
    let _a = FakeHost::start(bus.clone(), "alpha", alpha).await;
    let _b = FakeHost::start(bus.clone(), "beta", beta).await;
    let _g = FakeHost::start(
        bus.clone(),
        "gamma",
        FakeState::new(GAMMA_HOST, "gamma-1", &[("MECHO", 1)]),
    )
    .await;
    let mut c = Console::start(bus.clone());
    c.until("subscribed", |c| c.subscribed).await;
    // Lattices appear with their first event; gamma (over NATS) from its bucket alone.
    bus.publish(
        &Subjects::new("alpha").events(),
        heartbeat(ALPHA_HOST, "alpha-1", 2),
    )
    .await
    .expect("publish");
    bus.publish(
        &Subjects::new("beta").events(),
        heartbeat(BETA_HOST, "beta-1", 5),
    )
    .await
    .expect("publish");
    if !gamma_by_bucket {
        bus.publish(
            &Subjects::new("gamma").events(),
            heartbeat(GAMMA_HOST, "gamma-1", 1),
        )
        .await
        .expect("publish");
    }
    // Resynced, each lattice on its own: the links (only queries carry them) of all three.
    c.until("every lattice resynced", |c| {
        let all = c.app.lattices.as_ref().expect("every lattice");
        ["alpha", "beta", "gamma"]
            .iter()
            .all(|l| all.model(l).is_some_and(|m| m.connection.resyncs >= 1))
    })
    .await;
    let m = &c.app.model;
    assert_eq!(m.hosts[ALPHA_HOST].lattice, "alpha");
    assert_eq!(m.hosts[BETA_HOST].lattice, "beta");
    assert_eq!(m.hosts[ALPHA_HOST].actors["MECHO"].count(), 2);
    assert_eq!(m.hosts[BETA_HOST].actors["MECHO"].count(), 5);
    let links: Vec<&String> = m.links.keys().collect();
    assert!(
        links[0].starts_with("alpha/") && links[1].starts_with("beta/"),
        "the same link in two lattices is two rows: {links:?}"
    );
    assert_eq!(
        m.links[links[1].as_str()]
            .values
            .get("PORT")
            .map(String::as_str),
        Some("9090")
    );

    // Each table says which lattice a row is in.
    for (tab, key) in [
        ('1', "● live"),
        ('2', "mecho"),
        ('3', "HTTP Server"),
        ('4', "mecho"),
    ] {
        c.key(KeyCode::Char(tab));
        let mut term =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 30)).expect("terminal");
        term.draw(|f| lattice_tui::ui::render(f, &c.app.model, &mut c.app.view, Utc::now()))
            .expect("draw");
        let screen = format!("{:?}", term.backend());
        let header = screen
            .lines()
            .find(|l| l.contains("LATTICE"))
            .unwrap_or_else(|| panic!("tab {tab}: no LATTICE column:\n{screen}"));
        assert!(header.contains("LATTICE"), "{header}");
        assert!(
            screen
                .lines()
                .any(|l| l.contains(key) && l.contains("alpha"))
                && screen
                    .lines()
                    .any(|l| l.contains(key) && l.contains("beta")),
            "tab {tab}: rows of both lattices, each saying which:\n{screen}"
        );
    }
    c.key(KeyCode::Char('1'));

    // Live rates of a lattice-tui host reach the shown model too, under their lattice.
    for (n, at) in [
        (10u64, "2024-05-01T12:00:00Z"),
        (30, "2024-05-01T12:00:01Z"),
    ] {
        let sample = format!(
            r#"{{"host_id":"{BETA_HOST}","at":"{at}","actors":[{{"public_key":"MECHO","requests":{n},"errors":0}}]}}"#
        );
        bus.publish(
            &format!("lattice-tui.rates.beta.{BETA_HOST}"),
            Bytes::from(sample),
        )
        .await
        .expect("publish");
    }
    c.until("beta's rates", |c| {
        c.app.model.rates.hosts.get(BETA_HOST).is_some_and(|h| {
            h.actors
                .get("MECHO")
                .is_some_and(|a| a.requests == 30 && a.requests_milli == Some(20_000))
        })
    })
    .await;
    assert!(!c.app.model.rates.hosts.contains_key(ALPHA_HOST));

    // An action whose names resolve in several lattices must say which.
    c.line("scale mecho 3");
    assert!(c.subjects_sent().is_empty());
    assert!(
        c.status()
            .contains("it could go to 3 lattices (alpha, beta, gamma)"),
        "{}",
        c.status()
    );
    // Naming the host is enough: only beta has it.
    c.line("scale mecho 3 --host beta-1");
    assert_eq!(
        c.subjects_sent(),
        [format!("wasmbus.ctl.beta.cmd.{BETA_HOST}.scale")]
    );
    // Focused, the same line goes to the focused lattice, and only its rows show.
    c.line("lattice alpha");
    assert_eq!(
        c.status(),
        "showing lattice alpha (:lattice shows every lattice)"
    );
    c.line("scale mecho 4");
    assert_eq!(
        c.subjects_sent(),
        [format!("wasmbus.ctl.alpha.cmd.{ALPHA_HOST}.scale")]
    );
    let rows = Rows::build(Tab::Hosts, &c.app.model, c.app.view.row_filter(Tab::Hosts));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows.host_of(0), Some(ALPHA_HOST));
    c.line("lattice nope");
    assert!(
        c.status()
            .starts_with(":lattice nope: no lattice nope (known: alpha, beta, gamma)"),
        "{}",
        c.status()
    );
    c.line("lattice");
    assert_eq!(c.status(), "showing every lattice");
    let rows = Rows::build(Tab::Hosts, &c.app.model, c.app.view.row_filter(Tab::Hosts));
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn every_lattice_on_the_in_process_bus_is_found_and_kept_apart() {
    lattices_kept_apart(Bus::local(), false).await;
}

#[tokio::test]
async fn every_lattice_on_nats_is_found_and_kept_apart_a_quiet_one_by_its_bucket() {
    let nats = NatsServer::start();
    let bus = common::connect_bus(&nats.url()).await;
    // Lattice gamma sends no event: only its metadata bucket's stream says it exists.
    let create = br#"{"name":"KV_LATTICEDATA_gamma","subjects":["$KV.LATTICEDATA_gamma.>"],"max_msgs_per_subject":1,"storage":"memory"}"#;
    let reply = bus
        .request(
            "$JS.API.STREAM.CREATE.KV_LATTICEDATA_gamma",
            Bytes::from_static(create),
            Duration::from_secs(5),
        )
        .await
        .expect("JetStream creates the bucket stream");
    assert!(
        !String::from_utf8_lossy(&reply.payload).contains("\"error\""),
        "{}",
        String::from_utf8_lossy(&reply.payload)
    );
    lattices_kept_apart(bus, true).await;
}

/// The monitor of every lattice with lattice `x` (one scripted host) in the middle of its
/// first round: its ping was seen, so the round now waits out its ping window.
struct XRound {
    bus: Bus,
    rx: mpsc::Receiver<MonitorMsg>,
    cancel: CancellationToken,
    _host: FakeHost,
}

async fn x_round_in_flight(cfg: MonitorConfig) -> XRound {
    let bus = Bus::local();
    let host = FakeHost::start(
        bus.clone(),
        "x",
        FakeState::new("NXHOST", "x-1", &[("MECHO", 1)]),
    )
    .await;
    // Sees x's round start: its ping.
    let mut ping = bus
        .subscribe(&Subjects::new("x").ping_hosts())
        .await
        .expect("subscribe");
    let (tx, mut rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    tokio::spawn(multi::run(bus.clone(), cfg, tx, cancel.clone()));
    within(
        common::scaled(Duration::from_secs(10)),
        "subscribed",
        async {
            while let Some(m) = rx.recv().await {
                if matches!(m, MonitorMsg::Subscribed) {
                    return;
                }
            }
        },
    )
    .await;
    bus.publish(&Subjects::new("x").events(), heartbeat("NXHOST", "x-1", 1))
        .await
        .expect("publish");
    within(
        common::scaled(Duration::from_secs(10)),
        "x's round starts",
        ping.next(),
    )
    .await;
    XRound {
        bus,
        rx,
        cancel,
        _host: host,
    }
}

/// While a lattice's round is in flight, its own events wait for its snapshot (so the snapshot
/// cannot overwrite what they say) and the other lattices' events do not wait at all.
#[tokio::test]
async fn a_lattice_s_events_wait_for_its_round_and_no_other_lattice_does() {
    let mut cfg = MonitorConfig::new(Subjects::new("*"));
    cfg.ping_timeout = common::scaled(Duration::from_millis(1500));
    let XRound {
        bus,
        mut rx,
        cancel,
        _host,
    } = x_round_in_flight(cfg).await;
    let mut seen: Vec<String> = Vec::new();
    let label = |m: &MonitorMsg| -> Option<String> {
        match m {
            MonitorMsg::In(l, inner) => Some(match inner.as_ref() {
                MonitorMsg::Event(ev) => format!("{l}:{}", ev.id),
                MonitorMsg::Resynced(_) => format!("{l}:resynced"),
                other => format!("{l}:{other:?}"),
            }),
            _ => None,
        }
    };
    // x's round waits out its ping window now.
    let later = LatticeEvent::new(
        "x-later",
        "NXHOST",
        Utc::now(),
        EventData::HostHeartbeat(HostHeartbeat {
            actors: HeartbeatActors::Counts([("MECHO".to_string(), 4)].into()),
            providers: vec![],
            labels: Default::default(),
            friendly_name: "x-1".into(),
            version: None,
            uptime_seconds: Some(2),
            uptime_human: None,
        }),
    );
    bus.publish(
        &Subjects::new("x").events(),
        Bytes::from(later.to_json().expect("json")),
    )
    .await
    .expect("publish");
    bus.publish(&Subjects::new("y").events(), heartbeat("NYHOST", "y-1", 1))
        .await
        .expect("publish");
    within(
        common::scaled(Duration::from_secs(10)),
        "x's later event",
        async {
            while let Some(m) = rx.recv().await {
                if let Some(l) = label(&m) {
                    let last = l == "x:x-later";
                    seen.push(l);
                    if last {
                        return;
                    }
                }
            }
        },
    )
    .await;
    cancel.cancel();
    // y's own round (no hosts: over in no time) is not the subject here.
    seen.retain(|l| l != "y:resynced");
    assert_eq!(
        seen,
        ["x:hb-NXHOST", "y:hb-NYHOST", "x:resynced", "x:x-later"],
        "y's event while x's round ran went straight on; x's waited for x's snapshot"
    );
}

/// Events held for a lattice during its round are bounded: past `MAX_HELD` they are dropped,
/// and the lattice is resynced again after its round, so the model still ends at the truth.
#[tokio::test]
async fn held_events_are_bounded_and_an_overflow_is_answered_with_another_round() {
    let mut cfg = MonitorConfig::new(Subjects::new("*"));
    // x's round must outlast the monitor's reading of the whole burst (it decodes every
    // event): ~0.5 s idle, 2.6 s behind two busy loops, where a 2 s window failed.
    cfg.ping_timeout = common::scaled(Duration::from_secs(8));
    cfg.resync_min_interval = Duration::from_millis(10);
    let XRound {
        bus,
        mut rx,
        cancel,
        _host,
    } = x_round_in_flight(cfg).await;
    let burst = multi::MAX_HELD + 5_000;
    let body = heartbeat("NXHOST", "x-1", 1);
    for _ in 0..burst {
        bus.publish(&Subjects::new("x").events(), body.clone())
            .await
            .expect("publish");
    }
    // After x's snapshot: at most MAX_HELD of the burst, then another round of x.
    let (mut events_after, mut rounds) = (0usize, 0usize);
    within(
        common::scaled(Duration::from_secs(30)),
        "the second round",
        async {
            while let Some(m) = rx.recv().await {
                if let MonitorMsg::In(_, inner) = m {
                    match *inner {
                        MonitorMsg::Resynced(_) => {
                            rounds += 1;
                            if rounds == 2 {
                                return;
                            }
                        }
                        MonitorMsg::Event(_) if rounds == 1 => {
                            events_after += 1;
                            assert!(
                                events_after < burst,
                                "the whole burst passed after x's round without another: the \
                                 round ended before the monitor had read the burst"
                            );
                        }
                        _ => {}
                    }
                }
            }
        },
    )
    .await;
    cancel.cancel();
    // The second round comes only from the overflow (nothing else asks for one here); what
    // the bound held came after the snapshot, and not the whole burst.
    assert!(
        events_after >= multi::MAX_HELD && events_after < burst,
        "{events_after} events between the rounds, bound {}, burst {burst}",
        multi::MAX_HELD
    );
}
