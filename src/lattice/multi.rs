//! The monitor for `--lattice '*'`: follows `wasmbus.evt.*` and resyncs each lattice it finds
//! on its own, with the query round of the one-lattice monitor ([`monitor::resync`]).
//!
//! Lattices are discovered from the subjects events arrive on and, at start and after a
//! reconnect, from the server's JetStream streams named `KV_LATTICEDATA_{lattice}` (every
//! OTP host and lattice-tui host of a lattice keeps that bucket), so a quiet lattice shows up
//! without waiting for its next heartbeat. A new lattice is resynced at once; after a reconnect
//! every known lattice is resynced (and again [`MonitorConfig::reconnect_settle`] later), and
//! dropped messages resync every lattice, each at most once per
//! [`MonitorConfig::resync_min_interval`]. Rounds of several lattices run side by side
//! ([`RESYNC_CONCURRENCY`]).
//!
//! The live rates of every lattice's lattice-tui hosts (`lattice-tui.rates.*.*`) are followed
//! too, for the lattices followed, and never held (they are no part of a resync).
//!
//! Everything about one lattice reaches the caller as [`MonitorMsg::In`]; the bus status and
//! [`MonitorMsg::Subscribed`] are the connection's, untagged. Ordering per lattice is the
//! one-lattice monitor's: events waiting when a round starts are passed on before its snapshot.
//!
//! Bounded: at most [`MAX_LATTICES`] lattices are followed; events of further lattices are
//! dropped with one warning per interval (a publisher inventing subjects cannot grow the
//! console's memory). Must not touch the model, the UI or the host.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::bus::{Bus, ConnectionState, Message, Subscription};
use super::monitor::{self, MonitorConfig, MonitorError, MonitorMsg, Schedule};
use super::protocol::{LatticeEvent, LatticeSnapshot};
use super::subjects::{
    ALL_EVENTS, ALL_RATES, Subjects, lattice_of_event_subject, lattice_of_rates_subject,
};
use crate::logging::{LogThrottle, WARN_INTERVAL};

/// Lattices followed at once.
pub const MAX_LATTICES: usize = 1_000;
/// Resync rounds of different lattices in flight at once. Each round mostly waits (the
/// `ping.hosts` window), so 32 lattices resync in about the time of one.
pub const RESYNC_CONCURRENCY: usize = 32;
/// Events held for one lattice while its round is in flight (at most the subscription's own
/// bound). A round takes about a ping window, so this is room for 64k events/s into one
/// lattice for a second; past it they are dropped and the lattice is resynced again, so the
/// memory of held events stays bounded however many rounds are in flight.
pub const MAX_HELD: usize = 65_536;
/// How long the JetStream stream listing may take before discovery goes on without it.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);
/// The stream of lattice `L`'s metadata bucket is `KV_LATTICEDATA_L`.
const KV_STREAM_PREFIX: &str = "KV_LATTICEDATA_";

static TOO_MANY: LogThrottle = LogThrottle::new(WARN_INTERVAL);
static UNDECODABLE: LogThrottle = LogThrottle::new(WARN_INTERVAL);
static HELD_FULL: LogThrottle = LogThrottle::new(WARN_INTERVAL);

#[derive(Debug, Default)]
struct Followed {
    /// When its rounds are due (the one-lattice monitor's schedule).
    schedule: Schedule,
    /// While its round is in flight: the messages that arrived meanwhile.
    held: Option<Vec<MonitorMsg>>,
}

/// A resync round in flight.
type Round = Pin<Box<dyn Future<Output = (String, LatticeSnapshot)> + Send>>;

/// Runs until `cancel` fires, the receiver of `tx` is dropped, or the bus closes the
/// subscription. `cfg` gives the timeouts; its subjects are ignored (each lattice gets its
/// own).
///
/// While a lattice's round is in flight its events are held back (at most [`MAX_HELD`], or the
/// subscription's bound if smaller; past that they are dropped and the lattice is resynced
/// again) and
/// passed on after its snapshot, so a snapshot never overwrites what newer events said; the
/// other lattices' events and rounds go on meanwhile.
///
/// # Errors
/// [`MonitorError::Subscribe`] if the event subscription cannot be made.
pub async fn run(
    bus: Bus,
    cfg: MonitorConfig,
    tx: mpsc::Sender<MonitorMsg>,
    cancel: CancellationToken,
) -> Result<(), MonitorError> {
    let mut sub = bus
        .subscribe(ALL_EVENTS)
        .await
        .map_err(|source| MonitorError::Subscribe {
            subject: ALL_EVENTS.to_owned(),
            source,
        })?;
    if let Err(e) = bus.flush().await {
        tracing::warn!(error = %e, "flush after subscribing failed");
    }
    // Live rates of every lattice's lattice-tui hosts; without them the events go on.
    let mut rates = match bus.subscribe(ALL_RATES).await {
        Ok(sub) => Some(sub),
        Err(e) => {
            tracing::warn!(subject = ALL_RATES, error = %e, "no live rates: cannot subscribe");
            None
        }
    };
    // Everything that can be waiting when rounds start is passed on first (as the one-lattice
    // monitor does); what arrives during a round is held, up to MAX_HELD per lattice.
    let drain_limit = bus.subscription_capacity().max(1);
    let hold_limit = drain_limit.min(MAX_HELD);
    let mut status_rx = bus.status();
    let mut last_status = *status_rx.borrow_and_update();
    if tx.send(MonitorMsg::Status(last_status)).await.is_err()
        || tx.send(MonitorMsg::Subscribed).await.is_err()
    {
        return Ok(());
    }
    let mut lattices: BTreeMap<String, Followed> = BTreeMap::new();
    let mut rounds: FuturesUnordered<Round> = FuturesUnordered::new();
    let mut discover_due: Option<Instant> =
        (last_status.state == ConnectionState::Connected).then(Instant::now);
    loop {
        // Lattices with a round in flight wait for it; at most RESYNC_CONCURRENCY at once.
        let room = rounds.len() < RESYNC_CONCURRENCY;
        let due = lattices
            .values()
            .filter(|f| room && f.held.is_none())
            .filter_map(|f| f.schedule.next_due())
            .chain(discover_due)
            .min();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            changed = status_rx.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let status = *status_rx.borrow_and_update();
                let (reconnected, dropped) = monitor::status_change(&last_status, &status);
                let now = Instant::now();
                if reconnected {
                    tracing::info!(lattices = lattices.len(), "lattice connection (re)established; resyncing every lattice");
                    discover_due = Some(now);
                    for f in lattices.values_mut() {
                        f.schedule.reconnected(now, cfg.reconnect_settle);
                    }
                } else if dropped {
                    tracing::warn!(dropped = status.dropped, "event subscriber dropped messages; resyncing every lattice");
                    for f in lattices.values_mut() {
                        f.schedule.resync_soon(now, cfg.resync_min_interval);
                    }
                }
                last_status = status;
                if tx.send(MonitorMsg::Status(status)).await.is_err() {
                    return Ok(());
                }
            }
            Some((name, snap)) = rounds.next(), if !rounds.is_empty() => {
                let msg = MonitorMsg::In(name.clone(), Box::new(MonitorMsg::Resynced(Box::new(snap))));
                if tx.send(msg).await.is_err() {
                    return Ok(());
                }
                // Then what arrived for it meanwhile, in order.
                let held = lattices.get_mut(&name).and_then(|f| f.held.take()).unwrap_or_default();
                for m in held {
                    if tx.send(m).await.is_err() {
                        return Ok(());
                    }
                }
            }
            _ = sleep_until_opt(due) => {
                let now = Instant::now();
                if discover_due.is_some_and(|d| d <= now) {
                    discover_due = None;
                    for name in discover(&bus).await {
                        follow(&mut lattices, &name, now);
                    }
                }
                // Pass on what waits first: its lattices' rounds come after it, and the
                // lattices it finds are due now and start in this same turn.
                if !drain(&mut sub, &tx, drain_limit, hold_limit, &mut lattices, &cfg).await {
                    return Ok(());
                }
                let now = Instant::now();
                for (name, f) in &mut lattices {
                    if rounds.len() >= RESYNC_CONCURRENCY {
                        break;
                    }
                    if f.held.is_some() || !f.schedule.take_due(now) {
                        continue;
                    }
                    f.schedule.ran(now);
                    f.held = Some(Vec::new());
                    let cfg = MonitorConfig { subjects: Subjects::new(name), ..cfg.clone() };
                    let bus = bus.clone();
                    let name = name.clone();
                    rounds.push(Box::pin(async move {
                        let snap = monitor::resync(&bus, &cfg).await;
                        (name, snap)
                    }));
                }
            }
            msg = monitor::next_opt(&mut rates) => {
                let Some(msg) = msg else {
                    tracing::warn!(subject = ALL_RATES, "rates subscription ended; no live rates");
                    rates = None;
                    continue;
                };
                // Rates are no part of a resync: never held. Only for lattices followed.
                if let Some(name) = lattice_of_rates_subject(&msg.subject)
                    && lattices.contains_key(name)
                {
                    let out = MonitorMsg::In(name.to_owned(), Box::new(monitor::decode_rates(&msg.payload)));
                    if tx.send(out).await.is_err() {
                        return Ok(());
                    }
                }
            }
            msg = sub.next() => {
                let Some(msg) = msg else {
                    tracing::warn!(subject = ALL_EVENTS, "event subscription ended");
                    return Ok(());
                };
                if !pass(&msg, &tx, hold_limit, &mut lattices, &cfg).await {
                    return Ok(());
                }
            }
        }
    }
}

/// Passes `msg` on as its lattice's, or holds it while that lattice's round is in flight;
/// `false` once `tx`'s receiver is gone.
async fn pass(
    msg: &Message,
    tx: &mpsc::Sender<MonitorMsg>,
    hold_limit: usize,
    lattices: &mut BTreeMap<String, Followed>,
    cfg: &MonitorConfig,
) -> bool {
    let Some((name, out)) = tagged(msg, lattices) else {
        return true;
    };
    let Some(f) = lattices.get_mut(&name) else {
        return true;
    };
    match &mut f.held {
        None => tx.send(out).await.is_ok(),
        Some(held) if held.len() < hold_limit => {
            held.push(out);
            true
        }
        Some(_) => {
            if let Some(suppressed) = HELD_FULL.hit() {
                tracing::warn!(
                    lattice = name,
                    suppressed,
                    "events arrived faster than a resync round; dropping them and resyncing again"
                );
            }
            f.schedule
                .resync_soon(Instant::now(), cfg.resync_min_interval);
            true
        }
    }
}

/// Starts following `name` (a round is due now) unless it is followed already or the bound
/// is reached; whether it is followed.
fn follow(lattices: &mut BTreeMap<String, Followed>, name: &str, now: Instant) -> bool {
    if lattices.contains_key(name) {
        return true;
    }
    if lattices.len() >= MAX_LATTICES {
        if let Some(suppressed) = TOO_MANY.hit() {
            tracing::warn!(
                lattice = name,
                suppressed,
                "already following {MAX_LATTICES} lattices; ignoring the events of more"
            );
        }
        return false;
    }
    tracing::info!(lattice = name, "found a lattice; resyncing it");
    lattices.insert(
        name.to_owned(),
        Followed {
            schedule: Schedule::due_at(now),
            held: None,
        },
    );
    true
}

/// The message as its lattice's [`MonitorMsg::In`], with the lattice; a new lattice is
/// followed first. `None` for a lattice past the bound (or a subject that names none).
fn tagged(
    msg: &Message,
    lattices: &mut BTreeMap<String, Followed>,
) -> Option<(String, MonitorMsg)> {
    let name = lattice_of_event_subject(&msg.subject)?;
    if !follow(lattices, name, Instant::now()) {
        return None;
    }
    let inner = match LatticeEvent::from_json(&msg.payload) {
        Ok(ev) => MonitorMsg::Event(Arc::new(ev)),
        Err(e) => {
            if let Some(suppressed) = UNDECODABLE.hit() {
                tracing::warn!(error = %e, lattice = name, suppressed, "undecodable message on an event subject");
            }
            MonitorMsg::Malformed(e)
        }
    };
    Some((
        name.to_owned(),
        MonitorMsg::In(name.to_owned(), Box::new(inner)),
    ))
}

/// Passes on (or holds) the events waiting in `sub` (at most `limit`) before rounds start,
/// outside tokio's cooperative budget (see the one-lattice monitor); `false` once `tx`'s
/// receiver is gone.
async fn drain(
    sub: &mut Subscription,
    tx: &mpsc::Sender<MonitorMsg>,
    limit: usize,
    hold_limit: usize,
    lattices: &mut BTreeMap<String, Followed>,
    cfg: &MonitorConfig,
) -> bool {
    tokio::task::unconstrained(async {
        for _ in 0..limit {
            let Some(Some(msg)) = sub.next().now_or_never() else {
                break;
            };
            if !pass(&msg, tx, hold_limit, lattices, cfg).await {
                return false;
            }
        }
        true
    })
    .await
}

/// The lattices whose metadata buckets the server's JetStream holds. Empty when JetStream is
/// off or does not answer (discovery then waits for events).
async fn discover(bus: &Bus) -> Vec<String> {
    // Stream subjects filter on whole tokens: every KV stream, then the names tell.
    let body = Bytes::from_static(br#"{"subject":"$KV.>"}"#);
    match bus
        .request("$JS.API.STREAM.NAMES", body, DISCOVERY_TIMEOUT)
        .await
    {
        Ok(reply) => lattices_of_stream_names(&reply.payload),
        Err(e) => {
            tracing::debug!(error = %e, "no JetStream stream list; lattices are found from events");
            Vec::new()
        }
    }
}

/// The lattice names in a `$JS.API.STREAM.NAMES` reply (`{"streams":[…]}`); streams other
/// than `KV_LATTICEDATA_{lattice}` and lattice names that are no subject token are skipped.
#[must_use]
pub fn lattices_of_stream_names(payload: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Names {
        #[serde(default)]
        streams: Option<Vec<String>>,
    }
    let Ok(names) = serde_json::from_slice::<Names>(payload) else {
        return Vec::new();
    };
    names
        .streams
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| s.strip_prefix(KV_STREAM_PREFIX).map(str::to_owned))
        .filter(|l| lattice_of_event_subject(&format!("wasmbus.evt.{l}")).is_some())
        .take(MAX_LATTICES)
        .collect()
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_give_the_lattices_of_metadata_buckets_only() {
        let reply = br#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":4,"offset":0,"limit":1024,"streams":["KV_LATTICEDATA_default","KV_LATTICEDATA_prod-1","KV_other","KV_LATTICEDATA_a.b"]}"#;
        assert_eq!(lattices_of_stream_names(reply), ["default", "prod-1"]);
        assert!(lattices_of_stream_names(br#"{"streams":null}"#).is_empty());
        assert!(lattices_of_stream_names(b"not json").is_empty());
    }

    #[test]
    fn following_is_bounded() {
        let mut l = BTreeMap::new();
        let now = Instant::now();
        for i in 0..MAX_LATTICES {
            assert!(follow(&mut l, &format!("l{i}"), now));
        }
        assert!(!follow(&mut l, "one-more", now));
        assert!(
            follow(&mut l, "l0", now),
            "a followed lattice stays followed"
        );
        assert_eq!(l.len(), MAX_LATTICES);
    }
}
