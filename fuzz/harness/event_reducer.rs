//! Fuzz body of `event_reducer`: lattice events from the wire, through the reducer, into the
//! console.
//!
//! Input: bytes split into lines (`\n`); each non-blank line (at most [`MAX_LINES`]) is one
//! message received on `wasmbus.evt.{lattice}`. It goes through
//! `LatticeEvent::from_json`; `Ok` → `state::apply`, `Err` → `state::record_malformed`. The
//! receive clock `now` starts at 2024-05-01T12:00:00Z and advances [`STEP_SECS`] per line
//! (several heartbeat periods, so `state::tick` moves hosts through live → stale → lost within
//! one input). The model's event log holds [`LOG_CAPACITY`] entries, so eviction is reached.
//!
//! After **every** line these invariants are checked (a failed check panics):
//! 1. the event log holds at most its capacity, and its `total` counts every entry appended;
//! 2. the `stats` counters add up: `changed + unchanged + unknown + malformed` equals the lines
//!    fed minus those answered `Applied::Duplicate`, and `malformed` equals the decode errors;
//! 3. every actor's `count()` equals `instances.len() + unidentified`, and that sum does not
//!    wrap (checked with `checked_add` first, so a wrap is reported as such);
//! 4. the header totals compute: `model.actor_instances()` and `model.provider_count()` (they
//!    sum over hosts; with debug assertions on, an overflowing sum panics, which counts);
//! 5. right after a `host_stopped` that was not a duplicate, its source is not in `hosts`;
//! 6. applying the same decoded event again (same non-empty id) answers `Applied::Duplicate`
//!    and leaves the model equal (`Lattice: PartialEq`) to what it was;
//! 7. `state::tick(now)` then `ui::render` of every tab into an 80×24 ratatui `TestBackend`
//!    does not panic. After the last line every tab is also drawn with the second row
//!    selected and Enter pressed (detail pane, host filter), and at a few tiny sizes.
//!
//! Known crashes: the fuzz target sets [`SKIP_KNOWN_CRASHES`], and then an input stops (without
//! failing) as soon as the model reaches a state that [`known_crash`] names, so the fuzzer can
//! look past bugs already reported (their minimised inputs are in `fuzz/regressions/`). The
//! replay test leaves it off, so those inputs fail there until the bug is fixed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{Duration, TimeZone, Utc};
use lattice_tui::lattice::protocol::{EventData, LatticeEvent};
use lattice_tui::state::{self, Applied, Lattice, ModelConfig, Timestamp};
use lattice_tui::ui::{self, Action, Tab, ViewState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Lines of one input that are looked at; the rest is ignored (keeps one run short).
pub const MAX_LINES: usize = 64;
/// Receive-clock step per line, in seconds.
pub const STEP_SECS: i64 = 37;
/// Event log capacity of the fuzzed model: small, so eviction (and forgetting ids) happens.
pub const LOG_CAPACITY: usize = 8;

/// Set by the fuzz target: stop an input at a state of [`known_crash`] instead of crashing.
pub static SKIP_KNOWN_CRASHES: AtomicBool = AtomicBool::new(false);

/// Model states that crash for a reason already reported (see `fuzz/README.md`).
pub fn known_crash(model: &Lattice, now: Timestamp) -> Option<&'static str> {
    // Finding 2: reported uptime + time since the report passes u64::MAX
    // (HostState::uptime_at, drawn by the Hosts tab and the detail pane).
    let uptime_wraps = model.hosts.values().any(|h| {
        h.uptime_seconds
            .zip(h.uptime_at)
            .is_some_and(|(reported, at)| {
                let since = (now - at).num_seconds().max(0) as u64;
                reported.checked_add(since).is_none()
            })
    });
    if uptime_wraps {
        return Some("host uptime plus time since the report wraps");
    }
    // Finding 1: a host's actor instance counts sum past u64::MAX (HostState::actor_instances).
    let wraps = model.hosts.values().any(|h| {
        h.actors
            .values()
            .try_fold(0u64, |acc, a| {
                acc.checked_add(a.instances.len() as u64)?
                    .checked_add(a.unidentified)
            })
            .is_none()
    });
    wraps.then_some("host actor instance count sum wraps")
}

/// Runs one input. Panics when an invariant of the module docs does not hold.
pub fn run(data: &[u8]) {
    let t0 = Utc
        .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
        .single()
        .expect("fixed start time");
    let config = ModelConfig {
        event_log_capacity: LOG_CAPACITY,
        ..ModelConfig::default()
    };
    let mut model = Lattice::new("default", config);
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    let mut counted: u64 = 0;
    let mut malformed: u64 = 0;
    let mut now = t0;
    let lines = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(MAX_LINES);
    for (i, line) in lines.enumerate() {
        now = t0 + Duration::seconds(STEP_SECS * i as i64);
        match LatticeEvent::from_json(line) {
            Ok(ev) => {
                let ev = Arc::new(ev);
                let applied = state::apply(&mut model, Arc::clone(&ev), now);
                if applied != Applied::Duplicate {
                    counted += 1;
                }
                if applied != Applied::Duplicate && matches!(ev.data, EventData::HostStopped(_)) {
                    assert!(
                        !model.hosts.contains_key(&ev.source),
                        "host {:?} said host_stopped ({applied:?}) but is still in hosts",
                        ev.source
                    );
                }
                if !ev.id.is_empty() {
                    let before = model.clone();
                    let again = state::apply(&mut model, Arc::clone(&ev), now);
                    assert_eq!(
                        again,
                        Applied::Duplicate,
                        "event id {:?} applied twice",
                        ev.id
                    );
                    assert!(
                        model == before,
                        "a duplicate of {:?} changed the model",
                        ev.id
                    );
                }
            }
            Err(err) => {
                state::record_malformed(&mut model, &err, now);
                counted += 1;
                malformed += 1;
            }
        }
        if SKIP_KNOWN_CRASHES.load(Ordering::Relaxed) && known_crash(&model, now).is_some() {
            return;
        }
        check_model(&model, counted, malformed);
        let _ = state::tick(&mut model, now);
        check_model(&model, counted, malformed);
        render_tabs(&mut term, &model, now, false);
    }
    render_tabs(&mut term, &model, now, true);
    for (w, h) in [(1, 1), (20, 4), (40, 10)] {
        let mut small = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        render_tabs(&mut small, &model, now, true);
    }
}

/// Invariants 1–4 of the module docs.
fn check_model(model: &Lattice, counted: u64, malformed: u64) {
    let capacity = model.config.event_log_capacity.max(1);
    assert!(
        model.events.entries.len() <= capacity,
        "event log holds {} entries, capacity {capacity}",
        model.events.entries.len()
    );
    assert_eq!(model.events.total, counted, "log total vs entries appended");
    let s = &model.stats;
    assert_eq!(
        s.changed + s.unchanged + s.unknown + s.malformed,
        counted,
        "stats {s:?} do not add up to the {counted} non-duplicate lines fed"
    );
    assert_eq!(s.malformed, malformed, "malformed counter");
    for host in model.hosts.values() {
        for actor in host.actors.values() {
            let sum = (actor.instances.len() as u64).checked_add(actor.unidentified);
            assert!(
                sum.is_some(),
                "actor {} on {}: {} instances + {} unidentified wraps",
                actor.id,
                host.id,
                actor.instances.len(),
                actor.unidentified
            );
            assert_eq!(Some(actor.count()), sum, "actor {} count()", actor.id);
        }
    }
    let _ = model.actor_instances();
    let _ = model.provider_count();
}

/// Invariant 7: one frame of every tab; with `select`, a second one with a row selected and
/// Enter pressed.
fn render_tabs(term: &mut Terminal<TestBackend>, model: &Lattice, now: Timestamp, select: bool) {
    for tab in Tab::ALL {
        let mut view = ViewState::new(false);
        let _ = view.apply(Action::GoTab(tab), model);
        term.draw(|f| ui::render(f, model, &mut view, now))
            .expect("draw");
        if !select {
            continue;
        }
        for action in [Action::Down, Action::Enter] {
            let _ = view.apply(action, model);
        }
        term.draw(|f| ui::render(f, model, &mut view, now))
            .expect("draw");
    }
}
