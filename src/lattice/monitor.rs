//! The monitor task: follows `wasmbus.evt.{lattice}` and resyncs the lattice by query.
//!
//! Owns the event subscription and the query round of a resync (`ping.hosts` scatter-gather,
//! `get.{host}.inv` per host, `get.links`, `get.claims`). It decodes, never interprets: decoded
//! events, decode errors, resync answers and bus status go to the caller as [`MonitorMsg`]s,
//! and the caller (the console's App or the `snapshot` command) folds them into its model.
//! Must not touch the model, the UI or the host.
//!
//! When it resyncs: at start, after every reconnect (and once more
//! [`MonitorConfig::reconnect_settle`] later, because the lattice's hosts reconnect on their
//! own backoff and may not be back for the first round), and after the bus reports dropped
//! messages (at most once per [`MonitorConfig::resync_min_interval`]), so a console that
//! started late, lost its connection or could not keep up still shows the truth.
//!
//! Ordering: before a resync queries the lattice, the events already waiting in the
//! subscription are passed on first (at most as many as it can hold, so a publisher that keeps
//! it full cannot postpone the resync forever). They were published before the query, so the
//! snapshot must be folded in after them, not overwritten by them.
//!
//! Rates: it also follows `lattice-tui.rates.{lattice}.*` (lattice-tui hosts' cumulative call
//! counters, outside `wasmbus.*`) on a second subscription of the same bound, and passes the
//! decoded samples on as [`MonitorMsg::Rates`]. Samples are cumulative, so one dropped by a
//! full buffer costs resolution only. Rates are not part of a resync, and a rates subscription
//! that cannot be made or ends leaves the event stream running.
//!
//! Back-pressure: messages are sent with `send().await` into the caller's bounded channel;
//! when the caller is slow the event subscription's own bounded buffer fills, and what it
//! drops is counted by the bus and answered with a resync.

use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::bus::{Bus, BusError, BusStatus, ConnectionState, Subscription};
use super::protocol::{
    DecodeError, GetClaimsResponse, Host, HostInventory, LatticeEvent, LatticeSnapshot,
    LinkDefinitionList, RatesDecodeError, RatesSample,
};
use super::subjects::Subjects;
use crate::logging::{LogThrottle, WARN_INTERVAL};

/// What the monitor reports.
#[derive(Debug)]
pub enum MonitorMsg {
    /// The event subscription is in place; events published from now on will be seen.
    Subscribed,
    /// A decoded lattice event.
    Event(std::sync::Arc<LatticeEvent>),
    /// A message on the event subject that could not be decoded.
    Malformed(DecodeError),
    /// A resync round finished.
    Resynced(Box<LatticeSnapshot>),
    /// The bus status changed (connection state, drops, reconnects).
    Status(BusStatus),
    /// Something about one lattice, from the monitor of every lattice ([`super::multi`]):
    /// an event, a malformed message or a resync round of the lattice named.
    In(String, Box<MonitorMsg>),
    /// A host's call-counter sample (`lattice-tui.rates.{lattice}.{host}`).
    Rates(Box<RatesSample>),
    /// A message on the rates subject that could not be decoded.
    RatesMalformed(RatesDecodeError),
}

/// Monitor settings.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Subjects of the lattice to follow.
    pub subjects: Subjects,
    /// How long `ping.hosts` collects replies. Hosts reply within milliseconds on a LAN; one
    /// second leaves room for a loaded host without making start-up feel slow.
    pub ping_timeout: Duration,
    /// Timeout of each request/reply query (control-interface clients use 2 s).
    pub request_timeout: Duration,
    /// Minimum spacing of drop-triggered resyncs, so a sustained flood does not turn into a
    /// resync storm.
    pub resync_min_interval: Duration,
    /// Inventory queries in flight at once during a resync.
    pub inventory_concurrency: usize,
    /// Delay of the second resync after a reconnect. NATS clients reconnect with a backoff of
    /// up to 4 s, so hosts may still be away during the first round; without this they would
    /// be missing until their next heartbeat (30 s).
    pub reconnect_settle: Duration,
}

impl MonitorConfig {
    /// Defaults for `lattice`.
    pub fn new(subjects: Subjects) -> Self {
        Self {
            subjects,
            ping_timeout: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(2),
            resync_min_interval: Duration::from_secs(1),
            inventory_concurrency: 32,
            reconnect_settle: Duration::from_secs(5),
        }
    }
}

/// Why the monitor stopped.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The event subscription could not be made.
    #[error("cannot subscribe to {subject}: {source}")]
    Subscribe {
        /// The event subject.
        subject: String,
        /// The bus error.
        source: BusError,
    },
}

/// When a lattice's next resync rounds are due, shared by this monitor and the monitor of every
/// lattice ([`super::multi`]): one round at once (start, discovery), after a reconnect one at
/// once and one [`MonitorConfig::reconnect_settle`] later (kept apart, so an earlier
/// drop-triggered round does not use it up), and after drops at most one per
/// [`MonitorConfig::resync_min_interval`].
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    resync_due: Option<Instant>,
    settle_due: Option<Instant>,
    last_resync: Option<Instant>,
}

impl Schedule {
    /// A round due at `now`.
    pub(crate) fn due_at(now: Instant) -> Self {
        Self {
            resync_due: Some(now),
            ..Self::default()
        }
    }

    /// The connection came back: a round now and the follow-up after `settle`.
    pub(crate) fn reconnected(&mut self, now: Instant, settle: Duration) {
        self.resync_due = Some(now);
        self.settle_due = Some(now + settle);
    }

    /// Messages were dropped: a round as soon as `min_interval` since the last allows, unless
    /// one is due already.
    pub(crate) fn resync_soon(&mut self, now: Instant, min_interval: Duration) {
        if self.resync_due.is_none() {
            let earliest = self.last_resync.map_or(now, |t| t + min_interval);
            self.resync_due = Some(earliest.max(now));
        }
    }

    /// The earliest round due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.resync_due.into_iter().chain(self.settle_due).min()
    }

    /// Takes the due times that passed; whether a round is due now.
    pub(crate) fn take_due(&mut self, now: Instant) -> bool {
        let due = self.next_due().is_some_and(|d| d <= now);
        self.resync_due = self.resync_due.filter(|d| *d > now);
        self.settle_due = self.settle_due.filter(|d| *d > now);
        due
    }

    /// A round started at `at`.
    pub(crate) fn ran(&mut self, at: Instant) {
        self.last_resync = Some(at);
    }
}

/// What a bus status change means for resyncs: `(reconnected, dropped)`.
pub(crate) fn status_change(last: &BusStatus, status: &BusStatus) -> (bool, bool) {
    let reconnected = status.reconnects > last.reconnects
        || (status.state == ConnectionState::Connected && last.state != ConnectionState::Connected);
    (reconnected, status.dropped > last.dropped)
}

/// Runs until `cancel` fires, the receiver of `tx` is dropped, or the bus closes the
/// subscription.
///
/// # Errors
/// [`MonitorError::Subscribe`] if the event subscription cannot be made (without the rates
/// subscription it runs on, with a warning).
pub async fn run(
    bus: Bus,
    cfg: MonitorConfig,
    tx: mpsc::Sender<MonitorMsg>,
    cancel: CancellationToken,
) -> Result<(), MonitorError> {
    let subject = cfg.subjects.events();
    let mut sub = bus
        .subscribe(&subject)
        .await
        .map_err(|source| MonitorError::Subscribe {
            subject: subject.clone(),
            source,
        })?;
    // Rates are extra: without them (a server that refuses the subject) the console still
    // follows the lattice.
    let rates_subject = cfg.subjects.rates_all();
    let mut rates = match bus.subscribe(&rates_subject).await {
        Ok(sub) => Some(sub),
        Err(e) => {
            tracing::warn!(subject = rates_subject, error = %e, "no live rates: cannot subscribe");
            None
        }
    };
    if let Err(e) = bus.flush().await {
        tracing::warn!(error = %e, "flush after subscribing failed");
    }
    // Everything that can be waiting in the subscription when a resync starts.
    let drain_limit = bus.subscription_capacity().max(1);
    let mut status_rx = bus.status();
    let mut last_status = *status_rx.borrow_and_update();
    if tx.send(MonitorMsg::Status(last_status)).await.is_err()
        || tx.send(MonitorMsg::Subscribed).await.is_err()
    {
        return Ok(());
    }
    // Resync at once when connected; otherwise the first `Connected` status triggers it.
    let mut schedule = if last_status.state == ConnectionState::Connected {
        Schedule::due_at(Instant::now())
    } else {
        Schedule::default()
    };
    loop {
        let due = schedule.next_due();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            changed = status_rx.changed() => {
                if changed.is_err() {
                    // The bus is gone; nothing more will arrive.
                    return Ok(());
                }
                let status = *status_rx.borrow_and_update();
                let (reconnected, dropped) = status_change(&last_status, &status);
                if reconnected {
                    tracing::info!(state = %status.state, "lattice connection (re)established; resyncing");
                    schedule.reconnected(Instant::now(), cfg.reconnect_settle);
                } else if dropped {
                    tracing::warn!(dropped = status.dropped, "event subscriber dropped messages; resync scheduled");
                    schedule.resync_soon(Instant::now(), cfg.resync_min_interval);
                }
                last_status = status;
                if tx.send(MonitorMsg::Status(status)).await.is_err() {
                    return Ok(());
                }
            }
            _ = sleep_until_opt(due) => {
                schedule.take_due(Instant::now());
                if !drain(&mut sub, &tx, drain_limit).await {
                    return Ok(());
                }
                schedule.ran(Instant::now());
                let snap = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Ok(()),
                    snap = resync(&bus, &cfg) => snap,
                };
                if tx.send(MonitorMsg::Resynced(Box::new(snap))).await.is_err() {
                    return Ok(());
                }
            }
            msg = sub.next() => {
                let Some(msg) = msg else {
                    tracing::warn!(subject, "event subscription ended");
                    return Ok(());
                };
                if tx.send(decode(&msg.payload)).await.is_err() {
                    return Ok(());
                }
            }
            msg = next_opt(&mut rates) => {
                let Some(msg) = msg else {
                    tracing::warn!(subject = rates_subject, "rates subscription ended; no live rates");
                    rates = None;
                    continue;
                };
                if tx.send(decode_rates(&msg.payload)).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// One warning per interval for undecodable rates samples.
static UNDECODABLE_RATES: LogThrottle = LogThrottle::new(WARN_INTERVAL);

/// A rates sample, or why it is none (one warning per interval).
pub(crate) fn decode_rates(payload: &[u8]) -> MonitorMsg {
    match RatesSample::from_json(payload) {
        Ok(s) => MonitorMsg::Rates(Box::new(s)),
        Err(e) => {
            if let Some(suppressed) = UNDECODABLE_RATES.hit() {
                tracing::warn!(error = %e, suppressed, "undecodable message on the rates subject");
            }
            MonitorMsg::RatesMalformed(e)
        }
    }
}

/// Passes on the events already waiting in `sub`, at most `limit`; `false` once `tx`'s
/// receiver is gone.
///
/// Runs outside tokio's cooperative budget: a budget-limited receive reports "nothing ready"
/// after about a hundred messages even when thousands wait, and the events left behind
/// would be folded in *after* the snapshot the resync is about to take, undoing it.
async fn drain(sub: &mut Subscription, tx: &mpsc::Sender<MonitorMsg>, limit: usize) -> bool {
    tokio::task::unconstrained(async {
        for _ in 0..limit {
            let Some(Some(msg)) = sub.next().now_or_never() else {
                break;
            };
            if tx.send(decode(&msg.payload)).await.is_err() {
                return false;
            }
        }
        true
    })
    .await
}

/// One warning per interval for undecodable messages, however many arrive (each one still
/// reaches the caller, which counts and lists it).
static UNDECODABLE: LogThrottle = LogThrottle::new(WARN_INTERVAL);

fn decode(payload: &[u8]) -> MonitorMsg {
    match LatticeEvent::from_json(payload) {
        Ok(ev) => MonitorMsg::Event(std::sync::Arc::new(ev)),
        Err(e) => {
            match UNDECODABLE.hit() {
                Some(suppressed) => tracing::warn!(
                    error = %e,
                    suppressed,
                    "undecodable message on the event subject"
                ),
                None => tracing::debug!(error = %e, "undecodable message on the event subject"),
            }
            MonitorMsg::Malformed(e)
        }
    }
}

/// The next message of an optional subscription (pending forever without one).
pub(crate) async fn next_opt(sub: &mut Option<Subscription>) -> Option<super::bus::Message> {
    match sub {
        Some(sub) => sub.next().await,
        None => futures::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}

/// One full query round. Failures of single queries are recorded in
/// [`LatticeSnapshot::errors`]; a query nobody answered leaves its field `None` so the caller
/// keeps what it knows.
pub async fn resync(bus: &Bus, cfg: &MonitorConfig) -> LatticeSnapshot {
    let s = &cfg.subjects;
    let mut snap = LatticeSnapshot::default();
    match bus
        .scatter_gather(&s.ping_hosts(), Bytes::new(), cfg.ping_timeout)
        .await
    {
        Ok(replies) => {
            for r in replies {
                match serde_json::from_slice::<Host>(&r.payload) {
                    Ok(h) => snap.hosts.push(h),
                    Err(e) => snap.errors.push(format!("bad ping.hosts reply: {e}")),
                }
            }
        }
        Err(e) => snap.errors.push(format!("ping.hosts: {e}")),
    }
    snap.hosts.sort_by(|a, b| a.id.cmp(&b.id));
    snap.hosts.dedup_by(|a, b| a.id == b.id);

    let ids: Vec<String> = snap.hosts.iter().map(|h| h.id.clone()).collect();
    let inventories: Vec<Result<HostInventory, String>> = futures::stream::iter(ids)
        .map(|id| inventory(bus, cfg, id))
        .buffer_unordered(cfg.inventory_concurrency.max(1))
        .collect()
        .await;
    for inv in inventories {
        match inv {
            Ok(inv) => snap.inventories.push(inv),
            Err(e) => snap.errors.push(e),
        }
    }
    snap.inventories.sort_by(|a, b| a.host_id.cmp(&b.host_id));

    let no_hosts = snap.hosts.is_empty();
    snap.links = query(bus, &s.get_links(), cfg, no_hosts, &mut snap.errors)
        .await
        .map(|l: LinkDefinitionList| l.links);
    snap.claims = query(bus, &s.get_claims(), cfg, no_hosts, &mut snap.errors)
        .await
        .map(|c: GetClaimsResponse| c.claims);
    snap
}

async fn inventory(bus: &Bus, cfg: &MonitorConfig, id: String) -> Result<HostInventory, String> {
    let subject = cfg.subjects.host_inventory(&id);
    let reply = bus
        .request(&subject, Bytes::new(), cfg.request_timeout)
        .await
        .map_err(|e| format!("inventory of {id}: {e}"))?;
    serde_json::from_slice::<HostInventory>(&reply.payload)
        .map_err(|e| format!("inventory of {id}: bad reply: {e}"))
}

/// A lattice-wide query. With no hosts at all, "no responders" is the honest empty answer.
async fn query<T: serde::de::DeserializeOwned + Default>(
    bus: &Bus,
    subject: &str,
    cfg: &MonitorConfig,
    no_hosts: bool,
    errors: &mut Vec<String>,
) -> Option<T> {
    match bus
        .request(subject, Bytes::new(), cfg.request_timeout)
        .await
    {
        Ok(reply) => match serde_json::from_slice::<T>(&reply.payload) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(format!("{subject}: bad reply: {e}"));
                None
            }
        },
        Err(BusError::NoResponders { .. }) if no_hosts => Some(T::default()),
        Err(e) => {
            errors.push(e.to_string());
            None
        }
    }
}
