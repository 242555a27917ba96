//! The pure timers, on tokio's paused clock (no real waiting, exact instants): host liveness
//! (`stale` just after 3 heartbeat intervals, `lost` just after 10) and the console's 1 Hz
//! clock that drives it, and the monitor's resync schedule over the in-process bus (the first
//! resync at start, drop-triggered resyncs at most once per `resync_min_interval`).
//!
//! Not covered here: the follow-up resync `reconnect_settle` after a reconnect. The in-process
//! bus is always `Connected` and has no public way to report a disconnect or a reconnect, so
//! the monitor's reconnect branch cannot be reached without NATS; `tests/monitor.rs` checks
//! the follow-up round against a restarted nats-server in real time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use common::fake_lattice::{FakeHost, FakeState};
use lattice_tui::app::{App, CLOCK_INTERVAL, ConsoleConfig, Msg};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::monitor::{self, MonitorConfig, MonitorMsg};
use lattice_tui::lattice::protocol::{EventData, HeartbeatActors, HostHeartbeat, LatticeEvent};
use lattice_tui::lattice::subjects::Subjects;
use lattice_tui::state::{self, HostStatus, Lattice, ModelConfig, Timestamp};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

const HOST: &str = "NBTIMERHOST";

fn t0() -> Timestamp {
    Utc.timestamp_opt(1_700_000_000, 0).unwrap()
}

fn ms(n: i64) -> chrono::Duration {
    chrono::Duration::milliseconds(n)
}

fn heartbeat_event(id: &str) -> LatticeEvent {
    LatticeEvent::new(
        id,
        HOST,
        t0(),
        EventData::HostHeartbeat(HostHeartbeat {
            actors: HeartbeatActors::Counts(Default::default()),
            providers: vec![],
            labels: Default::default(),
            friendly_name: "timer".into(),
            version: Some("0.63.2".into()),
            uptime_seconds: Some(1),
            uptime_human: None,
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Host liveness

#[test]
fn the_default_liveness_thresholds_are_three_and_ten_thirty_second_intervals() {
    let cfg = ModelConfig::default();
    assert_eq!(
        (
            cfg.heartbeat_interval_secs,
            cfg.stale_after_intervals,
            cfg.lost_after_intervals
        ),
        (30, 3, 10)
    );
}

#[test]
fn a_host_goes_stale_just_after_90_s_and_lost_just_after_300_s() {
    let cfg = ModelConfig::default();
    let seen = t0();
    let at = |silent_ms: i64| state::status_at(&cfg, seen, seen + ms(silent_ms));
    assert_eq!(at(0), HostStatus::Live);
    assert_eq!(
        at(90_000),
        HostStatus::Live,
        "exactly 3 intervals: still live"
    );
    assert_eq!(at(90_001), HostStatus::Stale, "just after 3 intervals");
    assert_eq!(
        at(300_000),
        HostStatus::Stale,
        "exactly 10 intervals: still stale"
    );
    assert_eq!(at(300_001), HostStatus::Lost, "just after 10 intervals");
    // A clock step backwards (last_seen in the future) is not silence.
    assert_eq!(at(-60_000), HostStatus::Live);
}

#[test]
fn the_thresholds_follow_the_model_config() {
    let cfg = ModelConfig {
        heartbeat_interval_secs: 5,
        stale_after_intervals: 2,
        lost_after_intervals: 4,
        ..ModelConfig::default()
    };
    let seen = t0();
    let at = |silent_ms: i64| state::status_at(&cfg, seen, seen + ms(silent_ms));
    assert_eq!(at(10_000), HostStatus::Live);
    assert_eq!(at(10_001), HostStatus::Stale);
    assert_eq!(at(20_000), HostStatus::Stale);
    assert_eq!(at(20_001), HostStatus::Lost);
}

#[test]
fn tick_changes_a_hosts_status_only_at_the_boundaries_and_says_so() {
    let mut m = Lattice::new("default", ModelConfig::default());
    state::apply(&mut m, heartbeat_event("hb-1"), t0());
    assert_eq!(m.hosts[HOST].status, HostStatus::Live);
    let steps = [
        (90_000, HostStatus::Live, false),
        (90_001, HostStatus::Stale, true),
        (200_000, HostStatus::Stale, false),
        (300_000, HostStatus::Stale, false),
        (300_001, HostStatus::Lost, true),
        (400_000, HostStatus::Lost, false),
    ];
    for (at, want, changed) in steps {
        assert_eq!(
            state::tick(&mut m, t0() + ms(at)),
            changed,
            "tick at +{at} ms reports a change"
        );
        assert_eq!(m.hosts[HOST].status, want, "status at +{at} ms");
    }
    // Heard of again: live at the next tick.
    state::apply(&mut m, heartbeat_event("hb-2"), t0() + ms(400_000));
    state::tick(&mut m, t0() + ms(400_001));
    assert_eq!(m.hosts[HOST].status, HostStatus::Live);
}

fn console_config() -> ConsoleConfig {
    ConsoleConfig {
        no_color: true,
        ..ConsoleConfig::new("default")
    }
}

/// Drives `App::update(Msg::Tick, now)` from a `tokio::time::interval(CLOCK_INTERVAL)` set up
/// as the console's run loop sets up its clock, with `now` = `heard` + the paused clock's
/// elapsed time. Returns when the host was first shown stale and lost, as elapsed clock time.
async fn ticks_until_lost(heard_after: Duration) -> (Duration, Duration) {
    let start = Instant::now();
    let mut app = App::new(&console_config(), "in-process".into());
    let mut clock = tokio::time::interval(CLOCK_INTERVAL);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let wall = |at: Instant| t0() + chrono::Duration::from_std(at - start).unwrap();
    // The first tick completes at once, as in the console's loop.
    let first = clock.tick().await;
    app.update(Msg::Tick, wall(first));
    // Positions the paused clock between two ticks; no real time passes.
    tokio::time::sleep(heard_after).await;
    app.update(
        Msg::Monitor(MonitorMsg::Event(Arc::new(heartbeat_event("hb-1")))),
        wall(Instant::now()),
    );
    let (mut stale, mut lost) = (None, None);
    while lost.is_none() {
        let at = clock.tick().await;
        assert!(
            at - start < Duration::from_secs(400),
            "the host was never shown lost"
        );
        app.dirty = false;
        app.update(Msg::Tick, wall(at));
        assert!(app.dirty, "every tick redraws (relative times move)");
        match app.model.hosts[HOST].status {
            HostStatus::Stale if stale.is_none() => stale = Some(at - start),
            HostStatus::Lost => lost = Some(at - start),
            _ => {}
        }
    }
    (stale.expect("shown stale before lost"), lost.unwrap())
}

#[tokio::test(start_paused = true)]
async fn the_console_clock_shows_a_silent_host_stale_and_lost_within_one_tick() {
    // Heard of on a tick: the first tick past 90 s is at 91 s, past 300 s at 301 s.
    let (stale, lost) = ticks_until_lost(Duration::ZERO).await;
    assert_eq!(stale, Duration::from_secs(91));
    assert_eq!(lost, Duration::from_secs(301));
    assert_eq!(CLOCK_INTERVAL, Duration::from_secs(1), "the clock is 1 Hz");
}

#[tokio::test(start_paused = true)]
async fn between_ticks_the_console_shows_the_change_at_the_next_tick() {
    // Heard of 400 ms after a tick: stale from 90.4 s, shown at the 91 s tick; lost from
    // 300.4 s, shown at 301 s. At most one clock interval late.
    let (stale, lost) = ticks_until_lost(Duration::from_millis(400)).await;
    assert_eq!(stale, Duration::from_secs(91));
    assert_eq!(lost, Duration::from_secs(301));
    assert!(stale - Duration::from_millis(90_400) <= CLOCK_INTERVAL);
    assert!(lost - Duration::from_millis(300_400) <= CLOCK_INTERVAL);
}

// ---------------------------------------------------------------------------------------------
// The monitor's resync schedule

/// A monitor over `bus` whose messages are stamped with the paused clock's elapsed time.
struct Monitor {
    rx: mpsc::Receiver<MonitorMsg>,
    start: Instant,
    cancel: CancellationToken,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Monitor {
    fn start(bus: Bus, cfg: MonitorConfig) -> Monitor {
        let cancel = CancellationToken::new();
        // Far more room than any test fills: the monitor never waits for us.
        let (tx, rx) = mpsc::channel(100_000);
        let start = Instant::now();
        tokio::spawn(monitor::run(bus, cfg, tx, cancel.clone()));
        Monitor { rx, start, cancel }
    }

    /// The next resync's arrival, as time since the monitor started; events and status
    /// messages on the way are skipped. Panics if none comes before `limit` (paused clock).
    async fn next_resync(&mut self, limit: Duration) -> Duration {
        let deadline = self.start + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(MonitorMsg::Resynced(snap))) => {
                    assert!(snap.errors.is_empty(), "resync errors: {:?}", snap.errors);
                    return self.start.elapsed();
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("the monitor stopped"),
                Err(_) => panic!("no resync within {limit:?} of the start"),
            }
        }
    }

    /// Asserts that no resync arrives before `until` (time since start); consumes what comes.
    async fn no_resync_before(&mut self, until: Duration, what: &str) {
        let deadline = self.start + until;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(MonitorMsg::Resynced(_))) => panic!(
                    "{what}: a resync at {:?}, expected none before {until:?}",
                    self.start.elapsed()
                ),
                Ok(Some(_)) => {}
                Ok(None) => panic!("the monitor stopped"),
                Err(_) => return,
            }
        }
    }

    /// Moves the paused clock to `at` (time since start), consuming messages meanwhile.
    async fn advance_to(&mut self, at: Duration, what: &str) {
        self.no_resync_before(at, what).await;
        assert_eq!(self.start.elapsed(), at);
    }
}

fn config(min_interval: Duration) -> MonitorConfig {
    let mut cfg = MonitorConfig::new(Subjects::new("default"));
    cfg.resync_min_interval = min_interval;
    cfg
}

/// Publishes three events into a bus whose subscriber queues hold one message, without
/// yielding: the monitor cannot read in between, so two of them are dropped.
async fn three_events_two_dropped(bus: &Bus) {
    let subject = Subjects::new("default").events();
    let before = bus.status().borrow().dropped;
    for i in 0..3 {
        bus.publish(
            &subject,
            Bytes::from(heartbeat_event(&format!("e{i}")).to_json().unwrap()),
        )
        .await
        .unwrap();
    }
    assert_eq!(bus.status().borrow().dropped, before + 2, "two dropped");
}

#[tokio::test(start_paused = true)]
async fn the_first_resync_runs_at_start_and_lasts_the_ping_window() {
    let bus = Bus::local();
    let _host = FakeHost::start(bus.clone(), "default", FakeState::new(HOST, "fake", &[])).await;
    let cfg = config(Duration::from_secs(1));
    let ping = cfg.ping_timeout;
    let mut mon = Monitor::start(bus, cfg);
    // The round starts at once; `ping.hosts` collects replies for the whole window, and the
    // inventory, links and claims queries are answered without the clock moving.
    assert_eq!(mon.next_resync(Duration::from_secs(60)).await, ping);
    assert_eq!(ping, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn with_no_hosts_the_first_resync_is_immediate_and_no_other_follows() {
    let mut mon = Monitor::start(Bus::local(), config(Duration::from_secs(1)));
    // Nobody subscribed to ping.hosts: the round ends at once.
    assert_eq!(
        mon.next_resync(Duration::from_secs(60)).await,
        Duration::ZERO
    );
    // Without drops or reconnects there is no other resync, however long it runs.
    mon.no_resync_before(Duration::from_secs(3600), "an idle monitor")
        .await;
}

#[tokio::test(start_paused = true)]
async fn drop_triggered_resyncs_come_at_most_once_per_min_interval() {
    // A spacing unlike any other timer of the monitor, so a wrong one cannot pass by chance.
    let min = Duration::from_millis(1500);
    let bus = Bus::local_with_capacity(1);
    let mut mon = Monitor::start(bus.clone(), config(min));
    assert_eq!(
        mon.next_resync(Duration::from_secs(60)).await,
        Duration::ZERO
    );

    // Drops 100 ms after the first resync: the next one waits for the spacing, 1.5 s after
    // the first, and not a moment earlier.
    mon.advance_to(Duration::from_millis(100), "before the drops")
        .await;
    three_events_two_dropped(&bus).await;
    mon.no_resync_before(min, "drops right after a resync")
        .await;
    assert_eq!(mon.next_resync(Duration::from_secs(60)).await, min);

    // A sustained flood: drops every few hundred ms give one resync per spacing, 3 s.
    for at in [1_600, 2_000, 2_500, 2_900] {
        mon.advance_to(Duration::from_millis(at), "inside the spacing")
            .await;
        three_events_two_dropped(&bus).await;
    }
    mon.no_resync_before(2 * min, "a flood inside the spacing")
        .await;
    assert_eq!(mon.next_resync(Duration::from_secs(60)).await, 2 * min);
    // The flood's drops after the resync started were answered by it: nothing more.
    mon.advance_to(Duration::from_secs(10), "after the flood")
        .await;

    // Drops long after the last resync: resynced at once.
    three_events_two_dropped(&bus).await;
    assert_eq!(
        mon.next_resync(Duration::from_secs(60)).await,
        Duration::from_secs(10)
    );
}
