//! The reducer: folds lattice events, resync answers and clock ticks into a [`Lattice`].
//!
//! Pure and deterministic: no I/O, no clock, no logging. `now` is always an argument.
//!
//! Rules (PROTOCOL.md §3):
//! - A heartbeat *replaces* the host's inventory. Instance events whose host-clock time is not
//!   newer than the last applied heartbeat are already reflected in it: they may name an
//!   instance the heartbeat only counted, but never change a count.
//! - Instance and provider ids that stopped are remembered (bounded), so late or repeated
//!   starts cannot resurrect them; a `host_stopped` host ignores its own older events.
//! - Link definitions are deduplicated lattice-wide by id (several hosts publish the same
//!   `linkdef_set`).
//! - An event whose id is still in the event log is a repeat and changes nothing.
//! - Counts come from other hosts: every sum and increment of them saturates, so a hostile or
//!   broken heartbeat can make a number large but never wrap it or panic the console.
//!
//! Layout: this file dispatches events and keeps the log; [`hosts`] applies what hosts say
//! about themselves (heartbeats, actors, providers), [`claims`] the claims events carry,
//! [`resync`] the answers of a resync, [`local`] the console-only facts (the embedded host's
//! counters, the dev build), [`rates`] the call-rate samples of lattice-tui hosts.

mod claims;
mod hosts;
mod local;
mod rates;
mod resync;

use std::sync::Arc;

use crate::lattice::protocol::{DecodeError, EventData, EventKind, LatticeEvent};

use super::model::{HostStatus, Lattice, LogEntry, LogLevel, Logged, ModelConfig, Timestamp};
use super::summary::level_of;

pub use local::{BuildUpdate, record_build, set_local};
pub use rates::{RatesApplied, age_rates, apply_rates, record_rates_malformed};
pub use resync::apply_resync;

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The lattice state changed.
    Changed,
    /// A valid event that changed nothing but the log (a known fact, a late event).
    Unchanged,
    /// The event id was applied before; nothing changed at all.
    Duplicate,
    /// An unknown event type; only logged.
    Ignored,
}

/// Applies one decoded event received at `now`. The log keeps the event itself: pass an
/// `Arc<LatticeEvent>` to share it without a copy (a `&LatticeEvent` is cloned once).
pub fn apply(m: &mut Lattice, ev: impl Into<Arc<LatticeEvent>>, now: Timestamp) -> Applied {
    let ev: Arc<LatticeEvent> = ev.into();
    if !ev.id.is_empty() && m.events.ids.contains(&id_hash(&ev.id)) {
        return Applied::Duplicate;
    }
    let applied = match &ev.data {
        EventData::Unknown { .. } => Applied::Ignored,
        EventData::LinkdefSet(link) => {
            let computed;
            let id = if link.id.is_empty() {
                computed = link.computed_id();
                &computed
            } else {
                &link.id
            };
            let same = m.links.get(id).is_some_and(|have| {
                have.actor_id == link.actor_id
                    && have.provider_id == link.provider_id
                    && have.contract_id == link.contract_id
                    && have.link_name == link.link_name
                    && have.values == link.values
            });
            if same {
                Applied::Unchanged
            } else {
                let link = link.clone().with_id();
                m.links.insert(link.id.clone(), link);
                Applied::Changed
            }
        }
        EventData::LinkdefDeleted(link) => {
            let id = if link.id.is_empty() {
                link.computed_id()
            } else {
                link.id.clone()
            };
            changed(m.links.remove(&id).is_some())
        }
        EventData::RefmapSet(r) => {
            if m.refmaps.get(&r.oci_url) == Some(&r.public_key) {
                Applied::Unchanged
            } else {
                m.refmaps.insert(r.oci_url.clone(), r.public_key.clone());
                Applied::Changed
            }
        }
        EventData::HostStopped(_) => hosts::host_stopped(m, &ev.source, ev.time),
        // Invocation results travel on `wasmbus.rpcevt`; fed here anyway, they are logged only.
        EventData::InvocationSucceeded(_) | EventData::InvocationFailed(_) => Applied::Unchanged,
        _ => hosts::apply_host_event(m, &ev, now),
    };
    match applied {
        Applied::Changed => m.stats.changed = m.stats.changed.saturating_add(1),
        Applied::Unchanged => m.stats.unchanged = m.stats.unchanged.saturating_add(1),
        Applied::Ignored => m.stats.unknown = m.stats.unknown.saturating_add(1),
        Applied::Duplicate => {}
    }
    let level = level_of(&ev.data);
    push_log(m, now, level, Logged::Event(ev));
    applied
}

/// Records a message that could not be decoded, so the console can show it.
pub fn record_malformed(m: &mut Lattice, err: &DecodeError, now: Timestamp) {
    m.stats.malformed = m.stats.malformed.saturating_add(1);
    let (source, kind) = match err {
        DecodeError::Envelope(_) => (String::new(), EventKind::Unknown),
        DecodeError::Data {
            kind, source_id, ..
        } => (source_id.clone(), *kind),
    };
    push_log(
        m,
        now,
        LogLevel::Error,
        Logged::Malformed {
            source,
            kind,
            reason: err.to_string(),
        },
    );
}

/// Recomputes host liveness at `now` and ages out silent hosts' rates. Returns whether
/// anything changed.
pub fn tick(m: &mut Lattice, now: Timestamp) -> bool {
    let cfg = m.config.clone();
    let mut any = age_rates(m, now);
    for h in m.hosts.values_mut() {
        let s = status_at(&cfg, h.last_seen, now);
        if s != h.status {
            h.status = s;
            any = true;
        }
    }
    any
}

/// Liveness of a host last heard of at `last_seen`.
pub fn status_at(cfg: &ModelConfig, last_seen: Timestamp, now: Timestamp) -> HostStatus {
    let silent = (now - last_seen).num_milliseconds().max(0) as u64;
    let interval = cfg.heartbeat_interval_secs.saturating_mul(1000);
    if silent > interval.saturating_mul(cfg.lost_after_intervals.into()) {
        HostStatus::Lost
    } else if silent > interval.saturating_mul(cfg.stale_after_intervals.into()) {
        HostStatus::Stale
    } else {
        HostStatus::Live
    }
}

fn changed(yes: bool) -> Applied {
    if yes {
        Applied::Changed
    } else {
        Applied::Unchanged
    }
}

/// `t` is known to be no later than `reference` (both host-clock times).
fn not_newer(t: Option<Timestamp>, reference: Option<Timestamp>) -> bool {
    matches!((t, reference), (Some(t), Some(r)) if t <= r)
}

/// Logs a step of an action the console took (its status line) in the Events tab: an error
/// when it `failed`, else info.
pub fn record_action(m: &mut Lattice, line: String, failed: bool, now: Timestamp) {
    let level = if failed {
        LogLevel::Error
    } else {
        LogLevel::Info
    };
    push_log(m, now, level, Logged::Action { line });
}

pub(crate) fn push_log(m: &mut Lattice, now: Timestamp, level: LogLevel, what: Logged) {
    let log = &mut m.events;
    let capacity = log.capacity.max(1);
    while log.entries.len() >= capacity {
        if let Some(old) = log.entries.pop_front() {
            log.ids.remove(&id_hash(old.id()));
        }
    }
    let entry = LogEntry {
        seq: log.total,
        received: now,
        level,
        what,
    };
    if !entry.id().is_empty() {
        log.ids.insert(id_hash(entry.id()));
    }
    log.entries.push_back(entry);
    log.total = log.total.saturating_add(1);
}

/// 64-bit hash of an event id for the repeat check. A false "repeat" needs a 64-bit collision
/// among the ~1000 ids in the log window: about 1 in 10^16 per event.
fn id_hash(id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x6c61_7474_6963_6521).hash_one(id)
}
