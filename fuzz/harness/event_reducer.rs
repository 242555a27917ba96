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
//! 3. every actor's `count()` equals `instances.len() + unidentified`, saturated at `u64::MAX`
//!    (counts come from the network: a heartbeat may say `u64::MAX` and an instance start after
//!    it; the model saturates instead of wrapping);
//! 4. the header totals compute and saturate: `model.actor_instances()` is at least every
//!    host's total, which is at least every actor's count, and `model.provider_count()` computes
//!    (with debug assertions on, an overflowing sum panics, which counts);
//! 5. right after a `host_stopped` that was not a duplicate, its source is not in `hosts`;
//! 6. applying the same decoded event again (same non-empty id) answers `Applied::Duplicate`
//!    and leaves the model equal (`Lattice: PartialEq`) to what it was;
//! 7. `state::tick(now)` then `ui::render` of every tab into an 80×24 ratatui `TestBackend`
//!    does not panic. After the last line every tab is also drawn with the second row
//!    selected and Enter pressed (detail pane, host filter), and at a few tiny sizes.
//!
//! The crashes it found are fixed; their minimised inputs stay in `fuzz/regressions/`, which the
//! replay test runs.

use std::sync::Arc;

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
    let total = model.actor_instances();
    for host in model.hosts.values() {
        let host_total = host.actor_instances();
        assert!(
            total >= host_total,
            "lattice total {total} < host {} total {host_total}",
            host.id
        );
        for actor in host.actors.values() {
            let sum = u64::try_from(actor.instances.len())
                .unwrap_or(u64::MAX)
                .saturating_add(actor.unidentified);
            assert_eq!(actor.count(), sum, "actor {} count()", actor.id);
            assert!(
                host_total >= sum,
                "host {} total {host_total} < actor {} count {sum}",
                host.id,
                actor.id
            );
        }
    }
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
