//! Folds what the monitor reports into the model: the one place that maps [`MonitorMsg`]s to
//! reducer calls, shared by the console and the `snapshot` command.

use crate::lattice::bus::BusStatus;
use crate::lattice::monitor::MonitorMsg;
use crate::state::lattices::Lattices;
use crate::state::{self, Lattice, Timestamp};

/// Applies one monitor message received at `now`. Returns whether the model changed in a way
/// the console should redraw.
pub fn ingest(model: &mut Lattice, msg: MonitorMsg, now: Timestamp) -> bool {
    match msg {
        MonitorMsg::Subscribed => false,
        // A repeat (an id still in the log) changes nothing at all, not even the log.
        MonitorMsg::Event(ev) => state::apply(model, ev, now) != state::Applied::Duplicate,
        MonitorMsg::Malformed(err) => {
            state::record_malformed(model, &err, now);
            true
        }
        MonitorMsg::Resynced(snap) => {
            state::apply_resync(model, &snap, now);
            true
        }
        MonitorMsg::Status(status) => set_status(model, &status, now),
        MonitorMsg::Rates(sample) => {
            state::apply_rates(model, &sample, now) == state::RatesApplied::Applied
        }
        MonitorMsg::RatesMalformed(err) => {
            state::record_rates_malformed(model, &err);
            false
        }
        // Only the monitor of every lattice tags its messages; one model takes them as its own.
        MonitorMsg::In(_, inner) => ingest(model, *inner, now),
    }
}

/// Applies one message of the monitor of every lattice: a lattice's message to that
/// lattice's model (merged into `shown` later, [`Lattices::merge_into`]), the connection's
/// status to `shown` at once. Returns whether anything changed.
pub fn ingest_every(
    lattices: &mut Lattices,
    shown: &mut Lattice,
    msg: MonitorMsg,
    now: Timestamp,
) -> bool {
    match msg {
        MonitorMsg::In(name, inner) => ingest(lattices.model_mut(&name), *inner, now),
        other => ingest(shown, other, now),
    }
}

/// Copies the bus status into the header facts of the model.
pub fn set_status(model: &mut Lattice, status: &BusStatus, now: Timestamp) -> bool {
    let c = &mut model.connection;
    if status.dropped > c.dropped {
        c.last_drop = Some(now);
    }
    let state = status.state.to_string();
    let changed = c.state != state || c.dropped != status.dropped;
    c.state = state;
    c.dropped = status.dropped;
    changed
}
