//! Regression tests for the console against hostile or broken input (the hardening issue): a
//! monitor that ends must not make the loop spin, a lattice prefix that is no subject token is
//! a usage error, and counts from the network never wrap or panic, whatever their size.

mod common;

use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::scaled;
use lattice_tui::app::{self, App, ConsoleConfig, Inputs};
use lattice_tui::lattice::protocol::{
    ActorDescription, ActorInstance, Host, HostInventory, LatticeEvent, LatticeSnapshot,
};
use lattice_tui::state::{self, Lattice, ModelConfig};
use lattice_tui::ui::{self, Action, Tab, ViewState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");
const HOST: &str = "NBSSBPBAAGQF5WVVQKHF2WIECPOVAKZD7WQWDUXQCGDLXH6SXHD7T6UL";
const MA: &str = "MB7UJNCX5UXXKVS5CA5YNEN3M63G5E5LGO62VLOSGROGHZJDBPIXQ5XG";
const MB: &str = "MCU4A3H6GSTVPCRQ6ZJGNOD67ZULYMDKTGAJYGRIYM6UDU73EZTGV5AP";
const HOST2: &str = "NCR3PIEXZULSRE25UO6UWZUQR4MQG5XH3VE65YNMAZ7Z5OGXDQ44A4MT";

fn console() -> ConsoleConfig {
    ConsoleConfig {
        no_color: true,
        ..ConsoleConfig::new("default")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_monitor_channel_does_not_spin_the_console_loop() {
    let mut app = App::new(&console(), "in-process".into());
    let mut term = Terminal::new(TestBackend::new(200, 30)).expect("terminal");
    let (_keys, input) = mpsc::channel(1);
    // The monitor has ended: its channel is closed, and it said why.
    let (monitor_tx, monitor) = mpsc::channel(1);
    drop(monitor_tx);
    let (stopped_tx, stopped) = mpsc::channel(1);
    stopped_tx.send("gone".to_string()).await.expect("send");
    drop(stopped_tx);
    let run_for = scaled(Duration::from_secs(1));
    let inputs = Inputs {
        input,
        monitor: Some(monitor),
        monitor_stopped: Some(stopped),
        build: None,
        host: None,
        subscribed: None,
        stop: Box::pin(tokio::time::sleep(run_for)),
        bus: None,
    };
    app::run_loop(&mut app, &mut term, inputs)
        .await
        .expect("the loop ends cleanly");
    // Waiting, the loop turns for a clock tick and a frame or so per second; spinning on a
    // closed channel, it turns millions of times.
    let per_second = app.turns as f64 / run_for.as_secs_f64();
    assert!(
        per_second < 100.0,
        "{} loop turns in {run_for:?}: the loop spins on a closed channel",
        app.turns
    );
    let screen = format!("{:?}", term.backend().buffer());
    assert!(
        screen.contains("event monitor stopped: gone"),
        "the header says why: {screen}"
    );
}

#[test]
fn a_lattice_prefix_that_is_no_subject_token_is_a_usage_error() {
    for args in [
        vec!["--no-host", "--lattice", "a b"],
        vec!["--no-ui", "--lattice", "a.b"],
        vec!["snapshot", "--lattice", "a*"],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .env_remove("WASMCLOUD_LATTICE_PREFIX")
            .output()
            .expect("run lattice-tui");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("is not a lattice prefix"),
            "{args:?}: {stderr}"
        );
    }
    // `*` (every lattice) is only for a console without a host.
    let out = Command::new(BIN)
        .args(["snapshot", "--lattice", "*"])
        .env_remove("WASMCLOUD_LATTICE_PREFIX")
        .output()
        .expect("run lattice-tui");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--lattice '*'"), "{stderr}");
    let out = Command::new(BIN)
        .arg("--no-host")
        .env("WASMCLOUD_LATTICE_PREFIX", "x y")
        .output()
        .expect("run lattice-tui");
    assert_eq!(out.status.code(), Some(2), "from the environment too");
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("time")
}

fn event(id: &str, kind: &str, time: DateTime<Utc>, data: Value) -> LatticeEvent {
    event_from(HOST, id, kind, time, data)
}

fn event_from(
    source: &str,
    id: &str,
    kind: &str,
    time: DateTime<Utc>,
    data: Value,
) -> LatticeEvent {
    let doc = json!({
        "specversion": "1.0", "id": id, "type": format!("com.wasmcloud.lattice.{kind}"),
        "source": source, "time": time.to_rfc3339(), "datacontenttype": "application/json",
        "data": data,
    });
    LatticeEvent::from_json(doc.to_string().as_bytes()).expect("a valid event")
}

/// Every tab and the header drawn, so every number of the model is formatted once.
fn render_all(model: &Lattice, now: DateTime<Utc>) -> String {
    let mut screens = String::new();
    for tab in Tab::ALL {
        let mut view = ViewState::new(true);
        let _ = view.apply(Action::GoTab(tab), model);
        let mut term = Terminal::new(TestBackend::new(160, 40)).expect("terminal");
        term.draw(|f| ui::render(f, model, &mut view, now))
            .expect("draw");
        screens.push_str(&format!("{:?}", term.backend().buffer()));
    }
    screens
}

#[test]
fn counts_from_the_network_saturate_instead_of_wrapping() {
    let mut m = Lattice::new("default", ModelConfig::default());
    let max = u64::MAX;
    let events = [
        event(
            "e1",
            "host_started",
            t(0),
            json!({"labels": {}, "friendly_name": "h", "uptime_seconds": max, "version": "x"}),
        ),
        event(
            "e2",
            "host_heartbeat",
            t(1),
            json!({"actors": {MA: max, MB: 1}, "providers": [], "labels": {},
                   "friendly_name": "h", "uptime_seconds": max}),
        ),
        event(
            "e3",
            "actor_started",
            t(2),
            json!({"public_key": MA, "instance_id": "i1", "image_ref": "r",
                   "claims": {"revision": i64::MAX, "name": "a"}}),
        ),
        event(
            "e4",
            "actors_started",
            t(3),
            json!({"public_key": MA, "image_ref": "r", "host_id": HOST, "count": max}),
        ),
        event(
            "e5",
            "actor_updated",
            t(4),
            json!({"public_key": MA, "instance_id": "i1", "revision": i64::MIN}),
        ),
        event(
            "e6",
            "actors_stopped",
            t(5),
            json!({"public_key": MB, "host_id": HOST, "count": max, "remaining": max}),
        ),
        event(
            "e7",
            "actor_stopped",
            t(6),
            json!({"public_key": MA, "instance_id": "i1"}),
        ),
    ];
    for (i, ev) in events.iter().enumerate() {
        state::apply(&mut m, ev, t(10));
        // From the heartbeat on, the total is u64::MAX + 1, saturated.
        if i >= 1 {
            assert_eq!(m.actor_instances(), max, "after {:?}", ev.kind());
        }
    }
    // Two hosts, each reporting the maximum: the lattice total saturates too.
    let big_host = |id: &str| HostInventory {
        host_id: id.into(),
        issuer: None,
        friendly_name: String::new(),
        labels: Default::default(),
        actors: vec![ActorDescription {
            id: MA.into(),
            image_ref: None,
            name: None,
            instances: vec![ActorInstance {
                instance_id: "x".into(),
                annotations: None,
                revision: i64::MAX,
                max_concurrent: u16::MAX,
            }],
        }],
        providers: vec![],
    };
    let mut snap = LatticeSnapshot::default();
    for id in [HOST, HOST2] {
        snap.hosts.push(Host {
            id: id.into(),
            issuer: None,
            labels: Default::default(),
            friendly_name: String::new(),
            uptime_seconds: max,
            uptime_human: None,
            version: None,
            cluster_issuers: None,
            js_domain: None,
            ctl_host: None,
            prov_rpc_host: None,
            rpc_host: None,
            lattice_prefix: None,
        });
        snap.inventories.push(big_host(id));
    }
    let mut both = m.clone();
    state::apply_resync(&mut both, &snap, t(20));
    for (n, host) in [HOST, HOST2].into_iter().enumerate() {
        let hb = event_from(
            host,
            &format!("hb{n}"),
            "host_heartbeat",
            t(21),
            json!({"actors": {MA: max}, "providers": [], "labels": {}, "uptime_seconds": max}),
        );
        state::apply(&mut both, &hb, t(21));
    }
    assert_eq!(both.hosts.len(), 2);
    assert_eq!(both.actor_instances(), max);
    // Time passes: uptime keeps saturating, liveness is computed, every screen renders.
    let later = t(1_000_000);
    state::tick(&mut both, later);
    assert_eq!(
        both.hosts.values().find_map(|h| h.uptime_at(later)),
        Some(max)
    );
    let screens = render_all(&both, later);
    assert!(
        screens.contains("18446744073709551615 instances"),
        "the header shows the saturated total"
    );
    render_all(&m, later);
}
