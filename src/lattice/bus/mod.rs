//! One async message-bus API with two backends: an in-process bus ([`local`]) and a NATS
//! connection ([`nats`]).
//!
//! This module owns the transport only: subjects, payload bytes, request/reply, queue groups,
//! connection status and the per-subscriber overflow policy. It must not know about the UI,
//! the state reducer, the WebAssembly host or any lattice protocol types; callers build
//! subjects and payloads themselves.
//!
//! Dispatch is a plain enum ([`Bus`]) rather than a trait object, so every call is a `match`
//! and no `async-trait` boxing is involved. [`Bus`] is cheap to clone (both variants are an
//! `Arc` or a handle around one).
//!
//! Subjects follow NATS rules for both backends and are validated here before dispatch, so
//! the two backends reject the same inputs:
//! - tokens are separated by `.`; no token may be empty; no whitespace anywhere;
//! - `*` (a whole token) matches exactly one token, `>` (a whole token, only the last one)
//!   matches one or more trailing tokens; `a.>` does not match `a`;
//! - wildcards are only allowed in subscriptions, never in publish or reply subjects.

pub mod local;
pub mod nats;

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::watch;

/// Default bound of every subscriber's queue, for both backends.
///
/// With NATS this is passed to async-nats' `subscription_capacity`. Its default of 65,536
/// silently dropped 10–30 % of a 1 M-message burst (the socket reader outruns a consumer
/// that does real work per message, and async-nats drops on a full queue); a bound of
/// 4 Mi lost nothing. 1 Mi (1,048,576) holds a whole 1 M-message burst even if the consumer
/// reads nothing meanwhile, at a quarter of the worst-case memory of the tested 4 Mi for a
/// stuck subscriber. Tokio's bounded channel allocates lazily in small blocks, so an idle
/// subscriber does not pay for the bound.
///
/// The in-process backend ([`Bus::local`]) uses the same bound so that code tested against
/// the local bus sees the same drop threshold it will see in production.
pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 1 << 20;

/// Default time allowed for the TCP + TLS + NATS handshake of one connection attempt.
///
/// Five seconds is long enough for a remote server over TLS and short enough that a CLI
/// command against an unreachable server fails promptly.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A message received from the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Subject the message was published to.
    pub subject: String,
    /// Reply subject, if the publisher expects an answer.
    pub reply: Option<String>,
    /// Payload bytes, passed through unchanged.
    pub payload: Bytes,
}

/// Connection state of a bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// No connection has been established yet.
    Connecting,
    /// Connected; messages flow.
    Connected,
    /// The connection was lost and the client is trying to get it back.
    Reconnecting,
    /// The connection is closed for good.
    Closed,
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
        })
    }
}

/// Health counters of a bus, published through [`Bus::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusStatus {
    /// Current connection state.
    pub state: ConnectionState,
    /// Messages dropped because a subscriber's queue was full. Exact for the in-process
    /// backend; for NATS one per slow-consumer event (a lower bound).
    pub dropped: u64,
    /// Successful re-connections after the first connect.
    pub reconnects: u64,
    /// Slow-consumer events reported by the client library (always 0 in-process).
    pub slow_consumer_events: u64,
}

impl BusStatus {
    /// A status with all counters at zero in the given state.
    #[must_use]
    pub fn new(state: ConnectionState) -> Self {
        Self {
            state,
            dropped: 0,
            reconnects: 0,
            slow_consumer_events: 0,
        }
    }
}

/// Which backend a bus uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// The in-process bus.
    InProcess,
    /// A NATS server.
    Nats {
        /// Server URL as given in [`BusOptions::url`].
        url: String,
    },
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InProcess => f.write_str("in-process"),
            Self::Nats { url } => f.write_str(url),
        }
    }
}

/// How to connect to NATS.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// Server URL, e.g. `nats://127.0.0.1:4222` or `tls://host:4222`.
    pub url: String,
    /// A `.creds` file (user JWT + nkey seed).
    pub creds_file: Option<PathBuf>,
    /// An nkey seed (`SU…`). Alone it authenticates as that nkey user; together with
    /// [`BusOptions::jwt`] it signs the server nonce for the user JWT.
    pub nkey_seed: Option<String>,
    /// A user JWT; requires [`BusOptions::nkey_seed`] to sign the server nonce.
    pub jwt: Option<String>,
    /// A PEM file with extra root certificates to trust for TLS.
    pub tls_ca: Option<PathBuf>,
    /// Refuse to talk to the server without TLS.
    pub tls_required: bool,
    /// Connection name shown by the server (`connz`).
    pub name: String,
    /// Return from [`Bus::connect`] at once and keep trying in the background instead of
    /// failing when the server is unreachable.
    pub retry_initial_connect: bool,
    /// Bound of every subscriber's queue; see [`DEFAULT_SUBSCRIPTION_CAPACITY`].
    pub subscription_capacity: usize,
    /// Time allowed for one connection attempt.
    pub connect_timeout: Duration,
}

impl BusOptions {
    /// Options for `url` with everything else at its default.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

impl Default for BusOptions {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            creds_file: None,
            nkey_seed: None,
            jwt: None,
            tls_ca: None,
            tls_required: false,
            name: "lattice-tui".to_owned(),
            retry_initial_connect: false,
            subscription_capacity: DEFAULT_SUBSCRIPTION_CAPACITY,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Everything that can go wrong on the bus. Messages are meant to be shown to a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// The connection could not be established.
    #[error("connect to {url} failed: {reason}")]
    Connect {
        /// Server URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A request found no subscriber on its subject.
    #[error("no responders on {subject}")]
    NoResponders {
        /// Request subject.
        subject: String,
    },
    /// A request got no reply in time.
    #[error("request on {subject} timed out after {after:?}")]
    Timeout {
        /// Request subject.
        subject: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The bus is closed.
    #[error("bus connection is closed")]
    Closed,
    /// Publishing failed.
    #[error("publish failed: {0}")]
    Publish(String),
    /// Subscribing failed.
    #[error("subscribe failed: {0}")]
    Subscribe(String),
    /// A request failed for another reason than no responders or timeout.
    #[error("request failed: {0}")]
    Request(String),
    /// A subject or queue group name breaks the subject rules (see the module docs).
    #[error("invalid subject: {0}")]
    InvalidSubject(String),
}

/// A message bus: in-process or NATS. Cheap to clone; clones share the connection.
#[derive(Debug, Clone)]
pub enum Bus {
    /// In-process bus.
    Local(local::LocalBus),
    /// NATS connection.
    Nats(nats::NatsBus),
}

impl Bus {
    /// An in-process bus with [`DEFAULT_SUBSCRIPTION_CAPACITY`] per subscriber.
    #[must_use]
    pub fn local() -> Bus {
        Bus::Local(local::LocalBus::new(DEFAULT_SUBSCRIPTION_CAPACITY))
    }

    /// An in-process bus whose subscriber queues hold at most `cap` messages (at least 1).
    #[must_use]
    pub fn local_with_capacity(cap: usize) -> Bus {
        Bus::Local(local::LocalBus::new(cap))
    }

    /// Connects to NATS.
    ///
    /// # Errors
    /// [`BusError::Connect`] if the options are unusable (unreadable creds file, JWT without
    /// seed, bad seed) or, unless [`BusOptions::retry_initial_connect`] is set, if the server
    /// cannot be reached within [`BusOptions::connect_timeout`].
    pub async fn connect(opts: BusOptions) -> Result<Bus, BusError> {
        nats::NatsBus::connect(opts).await.map(Bus::Nats)
    }

    /// This bus, with `capacity` as the bound of the subscriptions made through the returned
    /// handle: in-process, a handle on the same bus; on NATS, this connection if it has that
    /// bound already, else a sibling connection with the same options (async-nats bounds
    /// subscriptions per connection). Lets each user size its subscriptions for their purpose:
    /// the console's event stream holds a burst of a million events, a host's control
    /// subscriptions a few thousand requests.
    ///
    /// # Errors
    /// [`BusError::Connect`] if the sibling connection cannot be made.
    pub async fn with_subscription_capacity(&self, capacity: usize) -> Result<Bus, BusError> {
        Ok(match self {
            Bus::Local(l) => Bus::Local(l.with_capacity(capacity)),
            Bus::Nats(n) => Bus::Nats(n.with_subscription_capacity(capacity).await?),
        })
    }

    /// A bus like this one whose work happens on the calling runtime, with `capacity` as the
    /// bound of its subscriptions: on NATS always a new connection with the same options
    /// (async-nats runs a connection's I/O on the runtime that made it, so a connection made
    /// on another runtime costs a cross-thread wake-up per message each way); in-process, a
    /// handle on the same bus.
    ///
    /// # Errors
    /// [`BusError::Connect`] if the new connection cannot be made.
    pub async fn sibling(&self, capacity: usize) -> Result<Bus, BusError> {
        Ok(match self {
            Bus::Local(l) => Bus::Local(l.with_capacity(capacity)),
            Bus::Nats(n) => Bus::Nats(n.sibling(capacity).await?),
        })
    }

    /// How many messages each subscription made through this handle can hold before it
    /// drops (and counts) what arrives.
    #[must_use]
    pub fn subscription_capacity(&self) -> usize {
        match self {
            Bus::Local(l) => l.capacity(),
            Bus::Nats(n) => n.subscription_capacity(),
        }
    }

    /// Which backend this bus uses.
    #[must_use]
    pub fn transport(&self) -> Transport {
        match self {
            Bus::Local(_) => Transport::InProcess,
            Bus::Nats(n) => Transport::Nats {
                url: n.url().to_owned(),
            },
        }
    }

    /// Publishes `payload` on `subject`. The in-process backend never waits for a slow
    /// subscriber (see [`local`] for the overflow policy).
    ///
    /// # Errors
    /// [`BusError::InvalidSubject`] for a bad or wildcard subject, [`BusError::Closed`] if
    /// the NATS client is gone, [`BusError::Publish`] for other client errors.
    pub async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        validate_publish_subject(subject)?;
        match self {
            Bus::Local(l) => l.publish(subject, None, payload),
            Bus::Nats(n) => n.publish(subject, payload).await,
        }
    }

    /// Publishes `payload` on `subject` asking for answers on `reply`.
    ///
    /// # Errors
    /// As [`Bus::publish`]; `reply` must be a valid subject without wildcards.
    pub async fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        payload: Bytes,
    ) -> Result<(), BusError> {
        validate_publish_subject(subject)?;
        validate_publish_subject(reply)?;
        match self {
            Bus::Local(l) => l.publish(subject, Some(reply), payload),
            Bus::Nats(n) => n.publish_with_reply(subject, reply, payload).await,
        }
    }

    /// Subscribes to `subject`, which may contain `*` and `>` wildcards. Every plain
    /// subscriber gets every matching message. Dropping the [`Subscription`] unsubscribes.
    ///
    /// # Errors
    /// [`BusError::InvalidSubject`] for a bad subject, [`BusError::Subscribe`] if the NATS
    /// client rejects it.
    pub async fn subscribe(&self, subject: &str) -> Result<Subscription, BusError> {
        validate_subscribe_subject(subject)?;
        match self {
            Bus::Local(l) => Ok(l.subscribe(subject, None)),
            Bus::Nats(n) => n.subscribe(subject).await,
        }
    }

    /// Joins queue group `queue` on `subject`: of all members of a group, exactly one gets
    /// each matching message.
    ///
    /// # Errors
    /// As [`Bus::subscribe`]; also [`BusError::InvalidSubject`] for an empty queue name or
    /// one with whitespace.
    pub async fn queue_subscribe(
        &self,
        subject: &str,
        queue: &str,
    ) -> Result<Subscription, BusError> {
        validate_subscribe_subject(subject)?;
        validate_queue(queue)?;
        match self {
            Bus::Local(l) => Ok(l.subscribe(subject, Some(queue))),
            Bus::Nats(n) => n.queue_subscribe(subject, queue).await,
        }
    }

    /// Sends a request and returns the first reply.
    ///
    /// # Errors
    /// [`BusError::NoResponders`] at once if nobody is subscribed to `subject`,
    /// [`BusError::Timeout`] if no reply came within `timeout`,
    /// [`BusError::InvalidSubject`] for a bad subject, [`BusError::Request`] otherwise.
    pub async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        validate_publish_subject(subject)?;
        match self {
            Bus::Local(l) => l.request(subject, payload, timeout).await,
            Bus::Nats(n) => n.request(subject, payload, timeout).await,
        }
    }

    /// Sends a request and collects every reply that arrives within `timeout`.
    /// Returns an empty vector if nobody answered; if nobody is subscribed to `subject` at
    /// all it returns at once (NATS tells the client via a "no responders" status).
    ///
    /// # Errors
    /// [`BusError::InvalidSubject`] for a bad subject; publish/subscribe failures of the
    /// NATS client.
    pub async fn scatter_gather(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Vec<Message>, BusError> {
        validate_publish_subject(subject)?;
        match self {
            Bus::Local(l) => l.scatter_gather(subject, payload, timeout).await,
            Bus::Nats(n) => n.scatter_gather(subject, payload, timeout).await,
        }
    }

    /// Waits until the server has processed everything sent so far: subscriptions are in place
    /// and publishes routed (a no-op in-process, where both take effect at once). On NATS it is
    /// a round trip (the client's flush, then a request nobody answers).
    ///
    /// # Errors
    /// [`BusError::Publish`] if the NATS client cannot flush, [`BusError::Timeout`] if the
    /// server does not confirm within 10 s (the connection is down).
    pub async fn flush(&self) -> Result<(), BusError> {
        match self {
            Bus::Local(_) => Ok(()),
            Bus::Nats(n) => n.flush().await,
        }
    }

    /// A receiver of the bus' connection state and counters.
    #[must_use]
    pub fn status(&self) -> watch::Receiver<BusStatus> {
        match self {
            Bus::Local(l) => l.status(),
            Bus::Nats(n) => n.status(),
        }
    }

    /// A fresh unique subject suitable as a reply inbox.
    #[must_use]
    pub fn new_inbox(&self) -> String {
        match self {
            Bus::Local(_) => local::new_inbox(),
            Bus::Nats(n) => n.new_inbox(),
        }
    }

    /// The NATS server's URL; `None` for the in-process bus. External providers connect to it.
    #[must_use]
    pub fn nats_url(&self) -> Option<String> {
        match self {
            Bus::Local(_) => None,
            Bus::Nats(n) => Some(n.url().to_string()),
        }
    }

    /// The underlying NATS client (e.g. for JetStream); `None` for the in-process bus.
    #[must_use]
    pub fn nats_client(&self) -> Option<async_nats::Client> {
        match self {
            Bus::Local(_) => None,
            Bus::Nats(n) => Some(n.client().clone()),
        }
    }
}

/// A stream of messages for one subscription. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    inner: SubscriptionInner,
}

#[derive(Debug)]
enum SubscriptionInner {
    Local(local::LocalSubscription),
    Nats(nats::NatsSubscription),
}

impl Subscription {
    fn new(inner: SubscriptionInner) -> Self {
        Self { inner }
    }

    /// The next message, or `None` once the subscription is closed.
    pub async fn next(&mut self) -> Option<Message> {
        futures::StreamExt::next(self).await
    }

    /// Messages dropped for this subscriber because its queue was full. Exact for the
    /// in-process backend; always 0 for NATS, where drops are only visible bus-wide as
    /// slow-consumer events in [`BusStatus`].
    #[must_use]
    pub fn dropped(&self) -> u64 {
        match &self.inner {
            SubscriptionInner::Local(l) => l.dropped(),
            SubscriptionInner::Nats(_) => 0,
        }
    }
}

impl Stream for Subscription {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        match &mut self.get_mut().inner {
            SubscriptionInner::Local(l) => l.poll_recv(cx),
            SubscriptionInner::Nats(n) => n.poll_recv(cx),
        }
    }
}

/// Characters that would break NATS protocol framing.
fn has_whitespace(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

fn invalid(subject: &str) -> BusError {
    BusError::InvalidSubject(subject.to_owned())
}

/// A subject that may be published to: non-empty tokens, no whitespace, no wildcards.
fn validate_publish_subject(subject: &str) -> Result<(), BusError> {
    if subject.is_empty() || has_whitespace(subject) {
        return Err(invalid(subject));
    }
    for token in subject.split('.') {
        if token.is_empty() || token == "*" || token == ">" {
            return Err(invalid(subject));
        }
    }
    Ok(())
}

/// A subject that may be subscribed to: like a publish subject, but `*` tokens are allowed
/// and a `>` token is allowed as the last token.
fn validate_subscribe_subject(subject: &str) -> Result<(), BusError> {
    if subject.is_empty() || has_whitespace(subject) {
        return Err(invalid(subject));
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(token) = tokens.next() {
        let last = tokens.peek().is_none();
        if token.is_empty() || (token == ">" && !last) {
            return Err(invalid(subject));
        }
    }
    Ok(())
}

/// A queue group name: non-empty, no whitespace.
fn validate_queue(queue: &str) -> Result<(), BusError> {
    if queue.is_empty() || has_whitespace(queue) {
        return Err(BusError::InvalidSubject(format!("queue group {queue:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_subject_rules() {
        for ok in ["a", "a.b.c", "_INBOX.x1", "a.b*", "a.>b"] {
            assert!(validate_publish_subject(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", ".", "a.", ".a", "a..b", "a.*", "a.>", "*", "a b", "a\tb", "a\n",
        ] {
            assert!(validate_publish_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subscribe_subject_rules() {
        for ok in ["a", "a.*", "*.b", ">", "a.>", "*.*.>"] {
            assert!(validate_subscribe_subject(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a.", ".a", "a..b", ">.a", "a.>.b", "a b"] {
            assert!(validate_subscribe_subject(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn queue_rules() {
        assert!(validate_queue("workers").is_ok());
        assert!(validate_queue("").is_err());
        assert!(validate_queue("a b").is_err());
    }

    #[test]
    fn displays() {
        assert_eq!(ConnectionState::Reconnecting.to_string(), "reconnecting");
        assert_eq!(Transport::InProcess.to_string(), "in-process");
        let t = Transport::Nats {
            url: "nats://127.0.0.1:4222".into(),
        };
        assert_eq!(t.to_string(), "nats://127.0.0.1:4222");
        let e = BusError::NoResponders {
            subject: "wasmbus.ctl.default.get.links".into(),
        };
        assert_eq!(
            e.to_string(),
            "no responders on wasmbus.ctl.default.get.links"
        );
    }
}
