//! The monitor against a scripted lattice member: resync at start, events on top, resync after
//! a NATS outage, and a 100,000-event burst on each of two paths, each made the only possible
//! one by the test: with room for the whole burst and a console that keeps up it is applied in
//! full; into a stalled console with small queues it is dropped, counted and resynced.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use common::fake_lattice::{FakeHost, FakeState};
use common::{NatsServer, within};
use lattice_tui::ingest::ingest;
use lattice_tui::lattice::bus::{Bus, BusOptions};
use lattice_tui::lattice::monitor::{self, MonitorConfig, MonitorMsg};
use lattice_tui::lattice::protocol::{
    EventData, HeartbeatActors, HeartbeatProvider, HostHeartbeat, LatticeEvent, LatticeSnapshot,
};
use lattice_tui::lattice::subjects::Subjects;
use lattice_tui::state::{self, Lattice, ModelConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const HOST: &str = "NBFAKEHOST";

/// The console's channel from the monitor (the App's `MONITOR_QUEUE`).
const MONITOR_QUEUE: usize = 1024;

/// The monitor's settings with a ping window longer than the product's 1 s: these tests run
/// next to 100,000-event bursts on two cores, where a reply can take more than a second, and a
/// host missing from the first round would stay missing (the fake hosts send no heartbeats).
fn monitor_config(lattice: &str) -> MonitorConfig {
    let mut cfg = MonitorConfig::new(Subjects::new(lattice));
    cfg.ping_timeout = Duration::from_secs(3);
    cfg
}

/// A console-like consumer: monitor → bounded channel → reducer, sharing the model.
struct Console {
    model: Arc<Mutex<Lattice>>,
    cancel: CancellationToken,
    /// While `true` the consumer applies nothing (beyond the batch it may hold), so the
    /// monitor's channel and then the event subscription's queue fill up.
    stall: tokio::sync::watch::Sender<bool>,
    /// Set by a test once every event it published so far has reached the console: from the
    /// next resync on, `late` counts the events applied after it.
    armed: Arc<AtomicBool>,
    /// Events applied after the first resync since `armed` was set.
    late: Arc<AtomicU64>,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Console {
    fn start(bus: Bus, lattice: &str) -> Console {
        let cfg = monitor_config(lattice);
        let model = Arc::new(Mutex::new(Lattice::new(lattice, ModelConfig::default())));
        model.lock().unwrap().connection.transport = bus.transport().to_string();
        let cancel = CancellationToken::new();
        let (stall, mut stalled) = tokio::sync::watch::channel(false);
        let (tx, mut rx) = mpsc::channel::<MonitorMsg>(MONITOR_QUEUE);
        tokio::spawn(monitor::run(bus, cfg, tx, cancel.clone()));
        let m = model.clone();
        let armed = Arc::new(AtomicBool::new(false));
        let late = Arc::new(AtomicU64::new(0));
        let (arm, count_late) = (armed.clone(), late.clone());
        let mut resynced_since_armed = false;
        tokio::spawn(async move {
            let mut batch = Vec::new();
            loop {
                if stalled.wait_for(|s| !*s).await.is_err()
                    || rx.recv_many(&mut batch, 256).await == 0
                {
                    return;
                }
                for msg in batch.drain(..) {
                    match &msg {
                        MonitorMsg::Resynced(_) if arm.load(Ordering::Relaxed) => {
                            resynced_since_armed = true;
                        }
                        MonitorMsg::Event(_) if resynced_since_armed => {
                            count_late.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                    ingest(&mut m.lock().unwrap(), msg, Utc::now());
                }
            }
        });
        Console {
            model,
            cancel,
            stall,
            armed,
            late,
        }
    }

    async fn first_resync(&self) {
        self.wait_for("first resync", Duration::from_secs(10), |m| {
            m.connection.resyncs == 1
        })
        .await;
    }

    async fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&Lattice) -> bool) {
        within(limit, what, async {
            loop {
                if pred(&self.model.lock().unwrap()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }
}

/// What "the model shows" means for comparing with a fresh query.
type Projection = (
    BTreeMap<String, (String, BTreeMap<String, u64>, BTreeSet<String>)>,
    BTreeSet<String>,
    BTreeSet<String>,
);

fn project(m: &Lattice) -> Projection {
    (
        m.hosts
            .values()
            .map(|h| {
                (
                    h.id.clone(),
                    (
                        h.friendly_name.clone(),
                        h.actors
                            .values()
                            .map(|a| (a.id.clone(), a.count()))
                            .collect(),
                        h.providers.keys().cloned().collect(),
                    ),
                )
            })
            .collect(),
        m.links.keys().cloned().collect(),
        m.claims.keys().cloned().collect(),
    )
}

async fn fresh_query(bus: &Bus, lattice: &str) -> Projection {
    let snap = monitor::resync(bus, &monitor_config(lattice)).await;
    project_snapshot(&snap, lattice)
}

/// What the model would show after folding in `snap` alone.
fn project_snapshot(snap: &LatticeSnapshot, lattice: &str) -> Projection {
    assert!(
        snap.errors.is_empty(),
        "fresh query failed: {:?}",
        snap.errors
    );
    let mut m = Lattice::new(lattice, ModelConfig::default());
    state::apply_resync(&mut m, snap, Utc::now());
    project(&m)
}

fn heartbeat(seq: u64, echo_count: u64) -> Bytes {
    let ev = LatticeEvent::new(
        format!("hb-{seq}"),
        HOST,
        Utc.timestamp_opt(1_700_000_000, 0).unwrap() + chrono::Duration::microseconds(seq as i64),
        EventData::HostHeartbeat(HostHeartbeat {
            actors: HeartbeatActors::Counts([("MECHO".to_string(), echo_count)].into()),
            providers: vec![HeartbeatProvider {
                public_key: "VHTTP".into(),
                link_name: "default".into(),
                contract_id: "wasmcloud:httpserver".into(),
                instance_id: None,
            }],
            labels: [("hostcore.os".to_string(), "linux".to_string())].into(),
            friendly_name: "fake".into(),
            version: Some("0.63.2".into()),
            uptime_seconds: Some(seq),
            uptime_human: None,
        }),
    );
    Bytes::from(ev.to_json().unwrap())
}

async fn resync_then_events(bus: Bus) {
    let mut st = FakeState::new(HOST, "fake", &[("MECHO", 2)]);
    st.add_link("MECHO", "8080");
    let _host = FakeHost::start(bus.clone(), "default", st).await;
    let console = Console::start(bus.clone(), "default");
    console.first_resync().await;
    {
        let m = console.model.lock().unwrap();
        assert_eq!(m.hosts[HOST].friendly_name, "fake");
        assert_eq!(m.hosts[HOST].actors["MECHO"].count(), 2);
        assert_eq!(m.links.len(), 1);
        assert_eq!(m.actor_name("MECHO"), Some("mecho"));
        assert_eq!(m.connection.last_error, None);
    }
    bus.publish(&Subjects::new("default").events(), heartbeat(1, 5))
        .await
        .unwrap();
    bus.publish(
        &Subjects::new("default").events(),
        Bytes::from_static(b"{not json"),
    )
    .await
    .unwrap();
    console
        .wait_for("heartbeat applied", Duration::from_secs(5), |m| {
            m.hosts[HOST].actors["MECHO"].count() == 5 && m.stats.malformed == 1
        })
        .await;
}

#[tokio::test]
async fn local_resync_then_events() {
    resync_then_events(Bus::local()).await;
}

#[tokio::test]
async fn nats_resync_then_events() {
    let nats = NatsServer::start();
    resync_then_events(common::connect_bus(&nats.url()).await).await;
}

#[tokio::test]
async fn empty_lattice_resyncs_without_errors() {
    let console = Console::start(Bus::local(), "empty");
    console.first_resync().await;
    let m = console.model.lock().unwrap();
    assert!(m.hosts.is_empty());
    assert_eq!(m.connection.last_error, None, "no hosts is not an error");
}

fn retrying(url: &str) -> BusOptions {
    let mut o = BusOptions::new(url);
    o.retry_initial_connect = true;
    o
}

#[tokio::test]
async fn nats_restart_triggers_resync_to_the_fresh_truth() {
    let mut nats = NatsServer::start();
    let host_bus = Bus::connect(retrying(&nats.url())).await.unwrap();
    let console_bus = Bus::connect(retrying(&nats.url())).await.unwrap();
    let mut st = FakeState::new(HOST, "fake", &[("MECHO", 2), ("MKV", 1)]);
    st.add_link("MECHO", "8080");
    let host = FakeHost::start(host_bus.clone(), "default", st).await;
    let console = Console::start(console_bus.clone(), "default");
    console.first_resync().await;
    let fresh = fresh_query(&host_bus, "default").await;
    assert_eq!(project(&console.model.lock().unwrap()), fresh);

    nats.kill();
    console
        .wait_for("disconnect noticed", Duration::from_secs(10), |m| {
            m.connection.state != "connected"
        })
        .await;
    // The lattice changes while the console is cut off: events about it are lost.
    {
        let mut st = host.state.lock().unwrap();
        st.set_actor("MECHO", 4);
        st.set_actor("MKV", 0);
        st.add_link("MNEW", "9090");
        st.set_actor("MNEW", 1);
    }
    nats.restart();
    console
        .wait_for("resync after reconnect", Duration::from_secs(20), |m| {
            m.connection.resyncs >= 2 && m.connection.state == "connected"
        })
        .await;
    // Wait until the fake host is reachable again too, then compare with a fresh query.
    let fresh = within(Duration::from_secs(20), "fresh query", async {
        loop {
            let snap = monitor::resync(&host_bus, &monitor_config("default")).await;
            if !snap.hosts.is_empty() {
                return project_snapshot(&snap, "default");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    // The console's resync may have raced the fake host's own reconnect; a later resync
    // (each reconnect triggers one) must converge on the truth.
    console
        .wait_for(
            "model equals the fresh query",
            Duration::from_secs(20),
            |m| project(m) == fresh,
        )
        .await;
    let m = console.model.lock().unwrap();
    assert_eq!(m.hosts[HOST].actors["MECHO"].count(), 4);
    assert!(!m.hosts[HOST].actors.contains_key("MKV"));
    assert_eq!(m.links.len(), 2);
}

/// A host that is back on NATS only after the console's reconnect resync (hosts reconnect on
/// their own backoff) is found by the follow-up round, without waiting for a heartbeat.
#[tokio::test]
async fn host_back_after_the_reconnect_resync_is_found_by_the_follow_up() {
    let mut nats = NatsServer::start();
    let console_bus = Bus::connect(retrying(&nats.url())).await.unwrap();
    let console = Console::start(console_bus, "default");
    console.first_resync().await;
    nats.restart();
    console
        .wait_for("resync after reconnect", Duration::from_secs(20), |m| {
            m.connection.resyncs >= 2 && m.connection.state == "connected"
        })
        .await;
    let resyncs = console.model.lock().unwrap().connection.resyncs;
    assert!(console.model.lock().unwrap().hosts.is_empty());
    // The host joins now and publishes nothing: only a query can find it.
    let host_bus = common::connect_bus(&nats.url()).await;
    let _host = FakeHost::start(host_bus, "default", FakeState::new(HOST, "fake", &[])).await;
    console
        .wait_for(
            "host found by the follow-up resync",
            Duration::from_secs(15),
            |m| m.hosts.contains_key(HOST),
        )
        .await;
    assert_eq!(
        console.model.lock().unwrap().connection.resyncs,
        resyncs + 1,
        "one follow-up round"
    );
}

/// Waits until `pred` holds for the console's model; on timeout, panics with `what` and what
/// `explain` says about the model.
async fn wait_or_explain(
    console: &Console,
    what: &str,
    pred: impl Fn(&Lattice) -> bool,
    explain: &dyn Fn(&Lattice) -> String,
) {
    let limit = common::scaled(Duration::from_secs(30));
    let deadline = tokio::time::Instant::now() + limit;
    while !pred(&console.model.lock().unwrap()) {
        if tokio::time::Instant::now() >= deadline {
            let m = console.model.lock().unwrap();
            panic!("{what}: not within {limit:?}; {}", explain(&m));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Heartbeats in a burst.
const N: u64 = 100_000;

/// The way a burst goes. Each test sets up its side so that only one way is possible, and the
/// outcome is checked against that way only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// The console's queues hold the whole burst and the console keeps up: nothing may be
    /// dropped, every event is applied, and no resync follows the first one.
    AppliedInFull,
    /// The console is stalled until the whole burst has reached its connection, and its
    /// queues are far smaller than the burst: events must be dropped, counted, and answered
    /// with a resync that shows the truth.
    DroppedAndResynced,
}

/// What a burst did, for the test's log line.
struct Outcome {
    applied: u64,
    dropped: u64,
    resyncs: u64,
}

impl Outcome {
    fn log(&self, what: &str) {
        eprintln!(
            "{what}: {} applied, {} dropped, {} resyncs",
            self.applied, self.dropped, self.resyncs
        );
    }
}

/// Publishes `N` heartbeats as fast as possible; the fake host's truth is the last one. On the
/// drop path the fake host also gains a link while the console is stalled; no event tells of
/// it, so only a resync after the drops can show it.
async fn burst(publisher: Bus, console_bus: Bus, path: Path) -> Outcome {
    let truth = N % 7 + 1;
    let st = FakeState::new(HOST, "fake", &[("MECHO", truth as usize)]);
    let host = FakeHost::start(publisher.clone(), "default", st).await;
    let console = Console::start(console_bus.clone(), "default");
    console.first_resync().await;
    let before = console.model.lock().unwrap().events.total;
    if path == Path::DroppedAndResynced {
        console.stall.send_replace(true);
        host.state.lock().unwrap().add_link("MECHO", "8080");
    }
    let subject = Subjects::new("default").events();
    for seq in 1..=N {
        // The last heartbeat carries the truth the fake host also answers with.
        publisher
            .publish(&subject, heartbeat(seq, seq % 7 + 1))
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    let bus_status = console_bus.status();
    // In-process every drop is counted; NATS counts slow-consumer events, a lower bound.
    let exact_drops = matches!(console_bus, Bus::Local(_));
    match path {
        Path::AppliedInFull => {
            // Also stop at the first sign of the other path, to fail on it at once.
            console
                .wait_for(
                    "applied-in-full path: all events applied",
                    Duration::from_secs(60),
                    |m| m.events.total - before >= N || m.connection.dropped > 0,
                )
                .await;
            let m = console.model.lock().unwrap();
            assert_eq!(
                bus_status.borrow().dropped,
                0,
                "applied-in-full path: the bus dropped nothing"
            );
            assert_eq!(
                m.connection.dropped, 0,
                "applied-in-full path: the console saw no drops"
            );
            assert_eq!(
                m.events.total - before,
                N,
                "applied-in-full path: every event applied exactly once"
            );
            assert_eq!(
                m.connection.resyncs, 1,
                "applied-in-full path: no resync after the first one (none was triggered by drops)"
            );
            assert_eq!(
                m.hosts[HOST].actors["MECHO"].count(),
                truth,
                "applied-in-full path: the last heartbeat's count is shown"
            );
            Outcome {
                applied: m.events.total - before,
                dropped: m.connection.dropped,
                resyncs: m.connection.resyncs,
            }
        }
        Path::DroppedAndResynced => {
            within(
                Duration::from_secs(10),
                "dropped path: the bus counts drops while the console is stalled",
                async {
                    let mut status = bus_status.clone();
                    status.wait_for(|s| s.dropped > 0).await.unwrap();
                },
            )
            .await;
            let fresh = fresh_query(&publisher, "default").await;
            // The drop-triggered resync comes at once, or `resync_min_interval` after the one
            // before. Let that interval pass while stalled, so it always comes as soon as the
            // console reads again, before the events still queued in the subscription are
            // passed on: those were published before its queries and must not be applied after
            // its answers. (A clock condition: the model's stamp of the first resync is later
            // than the monitor's start of it.)
            let spacing =
                chrono::Duration::from_std(monitor_config("default").resync_min_interval).unwrap();
            let first = console
                .model
                .lock()
                .unwrap()
                .connection
                .last_resync
                .unwrap();
            within(
                Duration::from_secs(10),
                "dropped path: the resync spacing passes while stalled",
                async {
                    while Utc::now() < first + spacing {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
            )
            .await;
            console.armed.store(true, Ordering::Relaxed);
            console.stall.send_replace(false);
            let diagnose = |m: &Lattice| {
                format!(
                    "console: {} dropped (bus {:?}), {} resyncs, last drop {:?}, last resync \
                     {:?}, last error {:?}, state {}, {} burst events applied after the first \
                     resync since resuming; model {:?}, fresh query {:?}",
                    m.connection.dropped,
                    *bus_status.borrow(),
                    m.connection.resyncs,
                    m.connection.last_drop,
                    m.connection.last_resync,
                    m.connection.last_error,
                    m.connection.state,
                    console.late.load(Ordering::Relaxed),
                    project(m),
                    fresh,
                )
            };
            // The end of the burst: a marker from the same publisher comes after every burst
            // message (NATS keeps one publisher's order). It is malformed, so it changes no
            // host, and it may be dropped too while the console catches up: send one every
            // 50 ms until one is applied. From then on no burst message is still on its way.
            let malformed = console.model.lock().unwrap().stats.malformed;
            let applied_marker = |m: &Lattice| m.stats.malformed > malformed;
            let markers_dropped = within(
                Duration::from_secs(30),
                "dropped path: a marker sent after the burst reaches the console",
                async {
                    let mut lost = 0u64;
                    loop {
                        let before_send = bus_status.borrow().dropped;
                        publisher
                            .publish(&subject, Bytes::from_static(b"{a marker, not json"))
                            .await
                            .unwrap();
                        publisher.flush().await.unwrap();
                        // In-process a publish is delivered or dropped (and counted) at once:
                        // after one delivered marker, send no more.
                        let delivered = exact_drops && bus_status.borrow().dropped == before_send;
                        if exact_drops && !delivered {
                            lost += 1;
                        }
                        loop {
                            if applied_marker(&console.model.lock().unwrap()) {
                                return lost;
                            }
                            if !delivered {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            )
            .await;
            wait_or_explain(
                &console,
                "dropped path: the console counts the drops and a resync after them shows the \
                 truth",
                |m| {
                    m.connection.dropped > 0
                        && m.connection.dropped == bus_status.borrow().dropped
                        && m.connection.resyncs >= 2
                        && m.connection.last_resync >= m.connection.last_drop
                        && project(m) == fresh
                },
                &diagnose,
            )
            .await;
            let m = console.model.lock().unwrap();
            // The event log counts the markers applied; in-process the drop count also counts
            // the markers dropped.
            let applied = m.events.total - before - (m.stats.malformed - malformed);
            let dropped = m.connection.dropped;
            assert!(
                applied < N,
                "dropped path: not every event can have been applied ({applied} were)"
            );
            if exact_drops {
                assert_eq!(
                    applied + dropped,
                    N + markers_dropped,
                    "dropped path: in-process, every event is either applied or counted as dropped"
                );
            } else {
                assert!(
                    applied + dropped <= N,
                    "dropped path: {applied} applied + {dropped} dropped is more than the burst"
                );
            }
            assert_eq!(
                m.links.len(),
                1,
                "dropped path: the link added during the stall is shown, so a resync ran after the drops"
            );
            assert_eq!(
                m.hosts[HOST].actors["MECHO"].count(),
                truth,
                "dropped path: the resync's count is shown"
            );
            Outcome {
                applied,
                dropped,
                resyncs: m.connection.resyncs,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_burst_with_room_for_it_is_applied_in_full() {
    let nats = NatsServer::start();
    let publisher = common::connect_bus(&nats.url()).await;
    // The default subscription capacity (1 Mi) holds the whole burst even if the console read
    // nothing meanwhile: a drop is impossible, not merely unlikely.
    let console_bus = common::connect_bus(&nats.url()).await;
    assert!(N < lattice_tui::lattice::bus::DEFAULT_SUBSCRIPTION_CAPACITY as u64);
    let out = burst(publisher, console_bus, Path::AppliedInFull).await;
    out.log("nats burst, applied in full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_burst_into_a_stalled_console_is_dropped_counted_and_resynced() {
    let nats = NatsServer::start();
    let publisher = common::connect_bus(&nats.url()).await;
    // 256 queued in the client plus the console's 1024-message channel: a small fraction of
    // the burst, so with the console stalled most of it must be dropped.
    let mut opts = BusOptions::new(nats.url());
    opts.subscription_capacity = 256;
    let console_bus = within(
        Duration::from_secs(10),
        "connect the console with small queues",
        Bus::connect(opts),
    )
    .await
    .unwrap();
    let out = burst(publisher, console_bus, Path::DroppedAndResynced).await;
    out.log("nats burst, dropped and resynced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_burst_into_a_stalled_console_is_dropped_counted_and_resynced() {
    let bus = Bus::local_with_capacity(1000);
    let out = burst(bus.clone(), bus, Path::DroppedAndResynced).await;
    out.log("local burst, dropped and resynced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_burst_into_a_fast_console_is_applied_in_full() {
    let bus = Bus::local();
    let out = burst(bus.clone(), bus, Path::AppliedInFull).await;
    out.log("local burst, applied in full");
}

/// Regression: every event waiting in the subscription when a resync starts is passed on
/// before the resync's snapshot. The drain used a receive limited by tokio's cooperative
/// budget, which reports "nothing ready" after about a hundred messages however many wait:
/// the rest were folded in after the snapshot and rolled the model back to older states
/// (seen as a churn instance left over in `tests/faults.rs`'s stopped-console burst).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_waiting_when_a_resync_starts_comes_before_its_snapshot() {
    const QUEUED: usize = 3_000;
    // As the console's: room for more than a cooperative budget of sends.
    const CHANNEL: usize = 1024;
    let bus = Bus::local_with_capacity(QUEUED);
    let mut cfg = MonitorConfig::new(Subjects::new("default"));
    cfg.ping_timeout = Duration::from_millis(100);
    cfg.resync_min_interval = Duration::ZERO;
    let (tx, mut rx) = mpsc::channel::<MonitorMsg>(CHANNEL);
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    tokio::spawn(monitor::run(bus.clone(), cfg, tx, cancel));
    while !matches!(next_msg(&mut rx).await, MonitorMsg::Resynced(_)) {}

    // Nobody reads the channel: the monitor blocks on it, the subscription fills, the rest is
    // dropped and counted, which schedules a resync.
    let events = Subjects::new("default").events();
    let published = QUEUED + CHANNEL + 100;
    for seq in 0..published as u64 {
        bus.publish(&events, heartbeat(seq, 1)).await.unwrap();
    }

    let mut before = 0usize;
    let mut dropped = 0u64;
    loop {
        match next_msg(&mut rx).await {
            MonitorMsg::Event(_) => before += 1,
            MonitorMsg::Status(s) => dropped = s.dropped,
            MonitorMsg::Resynced(_) => break,
            other => panic!("unexpected before the resync: {other:?}"),
        }
    }
    assert!(dropped > 0, "nothing was dropped, so no resync was due");
    assert_eq!(
        before as u64 + dropped,
        published as u64,
        "every event not dropped comes before the snapshot"
    );

    // Only the marker may follow the snapshot.
    bus.publish(&events, heartbeat(u64::MAX, 1)).await.unwrap();
    let mut after = 0usize;
    loop {
        match next_msg(&mut rx).await {
            MonitorMsg::Event(e) if e.id == format!("hb-{}", u64::MAX) => break,
            MonitorMsg::Event(_) => after += 1,
            _ => {}
        }
    }
    assert_eq!(
        after, 0,
        "events published before the resync came after its snapshot"
    );
}

async fn next_msg(rx: &mut mpsc::Receiver<MonitorMsg>) -> MonitorMsg {
    within(
        Duration::from_secs(10),
        "the next monitor message",
        rx.recv(),
    )
    .await
    .expect("the monitor ended")
}
