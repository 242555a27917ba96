//! The trailing-edge debounce's timers, with instants the test chooses (no real waiting).
//!
//! Why not the whole task on tokio's paused clock: the task sleeps on tokio timers but
//! reads the time with `std::time::Instant::now()` (`start_due_checks`, `Checked::at`, and
//! notify's thread stamps raw events the same way). Pausing tokio's clock does not stop
//! `std`'s, so under `start_paused` a check's timer fires while `start_due_checks` still
//! finds it not due, and the loop spins until real time catches up. So the deadlines are
//! checked here on the task's own bookkeeping (`mark`, `check_lead`, `start_due_checks`,
//! `on_checked`), and only the settle check, which does use tokio's clock, runs paused.

use std::time::Duration;

use super::*;
use crate::watch::Entry;

const DEBOUNCE: Duration = Duration::from_millis(100);
const STABLE: Duration = Duration::from_millis(20);

struct Fixture {
    task: Task,
    key: PathBuf,
    _dir: tempfile::TempDir,
    _raw_tx: mpsc::Sender<Raw>,
    _rx: mpsc::Receiver<WatchEvent>,
}

/// A task watching `a.wasm` (a complete, empty module) in a temp dir, fed by nothing.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let key = root.join("a.wasm");
    std::fs::write(&key, b"\0asm\x01\0\0\0").unwrap();
    let registry = Arc::new(Mutex::new(Registry::default()));
    {
        let mut reg = lock(&registry);
        reg.dirs.entry(root.clone()).or_default().files += 1;
        reg.files.insert(
            key.clone(),
            Entry {
                id: 1,
                given: key.clone(),
                dir: root,
                existed: true,
            },
        );
    }
    let notify = notify::recommended_watcher(|_: notify::Result<notify::Event>| {}).unwrap();
    let (raw_tx, raw_rx) = mpsc::channel(8);
    let (tx, rx) = mpsc::channel(8);
    let cfg = WatchConfig {
        debounce: DEBOUNCE,
        stable_interval: STABLE,
        ..WatchConfig::default()
    };
    let task = Task::new(
        cfg,
        registry,
        Arc::new(Mutex::new(notify)),
        raw_rx,
        Arc::new(Overflow::default()),
        tx,
    );
    Fixture {
        task,
        key,
        _dir: dir,
        _raw_tx: raw_tx,
        _rx: rx,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Fixture {
    fn tracked(&self) -> &Tracked {
        &self.task.files[&self.key]
    }
}

#[test]
fn a_burst_has_one_deadline_debounce_after_its_last_event() {
    let mut f = fixture();
    let t0 = Instant::now();
    let key = f.key.clone();
    for at in [0, 30, 70] {
        f.task.mark(&key, t0 + ms(at));
        assert_eq!(
            f.tracked().deadline,
            Some(t0 + ms(at) + DEBOUNCE),
            "each event pushes the deadline to debounce after it"
        );
    }
    // An event stamped earlier (notify's thread raced the task) never pulls it back.
    f.task.mark(&key, t0 + ms(40));
    let t = f.tracked();
    assert_eq!(
        t.deadline,
        Some(t0 + ms(170)),
        "debounce after the last event"
    );
    assert_eq!(
        t.burst_start,
        Some(t0),
        "the burst starts at its first event"
    );
    assert_eq!(t.last_event, Some(t0 + ms(70)));
}

#[test]
fn the_check_starts_one_stable_interval_before_the_deadline() {
    // The first stat is taken `lead` early, so the second one lands on the deadline.
    let f = fixture();
    assert_eq!(f.task.check_lead(), STABLE);
    // Never more than half the debounce: a long stable interval cannot start the check
    // before the burst has been quiet for half its period.
    let mut f = fixture();
    f.task.cfg.stable_interval = ms(80);
    assert_eq!(f.task.check_lead(), DEBOUNCE / 2);
}

#[tokio::test(start_paused = true)]
async fn a_check_is_due_only_within_its_lead_of_the_deadline() {
    let mut f = fixture();
    let key = f.key.clone();
    let lead = f.task.check_lead();
    // Deadline an hour ahead: not due, nothing starts.
    f.task
        .mark(&key, Instant::now() + Duration::from_secs(3600));
    f.task.start_due_checks();
    assert!(f.task.checks.is_empty(), "not due an hour before");
    assert!(!f.tracked().checking);

    // Deadline exactly `lead` ahead of the time the test took (the task's own reading
    // comes later, never earlier): due now.
    let mut f = fixture();
    let key = f.key.clone();
    let now = Instant::now();
    f.task.mark(&key, now + lead - DEBOUNCE);
    f.task.start_due_checks();
    assert_eq!(f.task.checks.len(), 1, "due once the lead is reached");
    let t = f.tracked();
    assert!(t.checking && t.deadline.is_none());
    // Starting again changes nothing: one check per quiet period.
    f.task.start_due_checks();
    assert_eq!(f.task.checks.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_settle_check_reads_one_stable_interval_after_its_first_look() {
    let f = fixture();
    let start = tokio::time::Instant::now();
    let reading = check(f.key.clone(), STABLE, u64::MAX, None).await;
    assert!(matches!(reading, Reading::Ready { .. }), "{reading:?}");
    assert_eq!(tokio::time::Instant::now() - start, STABLE);
}

#[tokio::test(start_paused = true)]
async fn an_event_during_the_check_discards_it_and_sets_a_new_quiet_period() {
    let mut f = fixture();
    let key = f.key.clone();
    let now = Instant::now();
    f.task.mark(&key, now - DEBOUNCE);
    f.task.start_due_checks();
    let checked = f.task.checks.join_next().await.unwrap().unwrap();
    // The burst goes on while the check looks.
    let late = Instant::now();
    f.task.mark(&key, late);
    assert!(f.tracked().stale);
    f.task.on_checked(checked);
    assert!(f.task.outbox.is_empty(), "a stale check sends nothing");
    let t = f.tracked();
    assert_eq!(
        t.deadline,
        Some(late + DEBOUNCE),
        "quiet again debounce after it"
    );
    assert!(!t.checking && !t.stale);

    // The next check (once due) sends the one Ready of the burst, detected at its start.
    f.task.files.get_mut(&key).unwrap().deadline = Some(now);
    f.task.start_due_checks();
    let checked = f.task.checks.join_next().await.unwrap().unwrap();
    f.task.on_checked(checked);
    assert_eq!(f.task.outbox.len(), 1);
    match &f.task.outbox[0].event {
        WatchEvent::Ready { path, timing, .. } => {
            assert_eq!(*path, key);
            assert_eq!(timing.detected, now - DEBOUNCE, "the burst's first event");
        }
        other => panic!("expected Ready, got {other:?}"),
    }
    assert_eq!(f.tracked().burst_start, None, "the burst is over");
}

#[tokio::test(start_paused = true)]
async fn an_unstable_reading_gets_another_full_debounce() {
    let mut f = fixture();
    let key = f.key.clone();
    f.task.mark(&key, Instant::now() - DEBOUNCE);
    f.task.start_due_checks();
    let mut checked = f.task.checks.join_next().await.unwrap().unwrap();
    checked.reading = Reading::Unstable;
    let at = checked.at;
    f.task.on_checked(checked);
    assert!(f.task.outbox.is_empty());
    assert_eq!(f.tracked().deadline, Some(at + DEBOUNCE));
}
