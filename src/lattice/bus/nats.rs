//! NATS bus backend on top of `async-nats`.
//!
//! Owns the translation between [`super::BusOptions`] and `async_nats::ConnectOptions`
//! (authentication, TLS, reconnect policy, queue bounds), the mapping of client events to
//! [`super::BusStatus`], and the mapping of client errors to [`super::BusError`]. Subject
//! matching is left to the server. It must not know about the UI, the state reducer or the
//! host; JetStream users take the raw client from [`super::Bus::nats_client`].
//!
//! Reconnect policy: reconnect forever with async-nats' default backoff (0 ms, then
//! doubling from 2 ms up to 4 s). Subscriptions survive a reconnect; the client re-sends
//! them to the server. Unlike the in-process bus, `publish` may wait while the client's
//! outgoing command queue is full (e.g. during a long outage), and `flush` is a round trip to
//! the server (at most 10 s: during an outage it fails with a timeout).
//!
//! Status-only messages from the server (e.g. "no responders" sent to the reply subject of a
//! message nobody was subscribed to) are not passed to [`super::Subscription`]s;
//! `scatter_gather` uses the "no responders" one to return early.
//!
//! Overflow: async-nats drops messages for a subscriber whose queue is full and reports a
//! slow-consumer event per dropped message; each one is counted in
//! [`super::BusStatus::slow_consumer_events`] and [`super::BusStatus::dropped`], and logged at
//! most once per [`WARN_INTERVAL`] with the count. The bound is per connection in async-nats,
//! so a subscription that needs another bound gets a sibling connection
//! ([`super::Bus::with_subscription_capacity`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{
    ConnectOptions, Event, PublishErrorKind, RequestErrorKind, StatusCode, SubscribeErrorKind,
};
use bytes::Bytes;
use futures::Stream;
use tokio::sync::watch;

use super::{
    BusError, BusOptions, BusStatus, ConnectionState, Message, Subscription, SubscriptionInner,
};
use crate::logging::{LogThrottle, WARN_INTERVAL};

/// A NATS connection. Clones share the connection.
#[derive(Debug, Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    url: String,
    status: Arc<watch::Sender<BusStatus>>,
    /// What it was connected with, to open a sibling connection with another bound.
    opts: Arc<BusOptions>,
}

impl NatsBus {
    pub(crate) async fn connect(opts: BusOptions) -> Result<Self, BusError> {
        let url = opts.url.clone();
        let connect_err = |reason: String| BusError::Connect {
            url: url.clone(),
            reason,
        };

        let (status, _) = watch::channel(BusStatus::new(ConnectionState::Connecting));
        let status = Arc::new(status);

        let mut options = ConnectOptions::new()
            .name(&opts.name)
            .subscription_capacity(opts.subscription_capacity.max(1))
            .max_reconnects(None)
            .connection_timeout(opts.connect_timeout)
            .require_tls(opts.tls_required)
            .event_callback(event_callback(Arc::clone(&status)));
        if opts.retry_initial_connect {
            options = options.retry_on_initial_connect();
        }
        if let Some(path) = &opts.creds_file {
            options = options.credentials_file(path).await.map_err(|e| {
                connect_err(format!(
                    "cannot read credentials file {}: {e}",
                    path.display()
                ))
            })?;
        }
        match (&opts.jwt, &opts.nkey_seed) {
            (Some(jwt), Some(seed)) => {
                let key_pair = Arc::new(
                    nkeys::KeyPair::from_seed(seed)
                        .map_err(|e| connect_err(format!("invalid nkey seed: {e}")))?,
                );
                options = options.jwt(jwt.clone(), move |nonce| {
                    let key_pair = Arc::clone(&key_pair);
                    async move { key_pair.sign(&nonce).map_err(async_nats::AuthError::new) }
                });
            }
            (None, Some(seed)) => {
                nkeys::KeyPair::from_seed(seed)
                    .map_err(|e| connect_err(format!("invalid nkey seed: {e}")))?;
                options = options.nkey(seed.clone());
            }
            (Some(_), None) => {
                return Err(connect_err(
                    "a user JWT needs an nkey seed to sign the server nonce".to_owned(),
                ));
            }
            (None, None) => {}
        }
        if let Some(ca) = &opts.tls_ca {
            options = options.add_root_certificates(ca.clone());
        }

        let client = options
            .connect(opts.url.as_str())
            .await
            .map_err(|e| connect_err(e.to_string()))?;

        // The client queues a `Connected` event for the first connect, but the callback runs
        // on another task; report the connection now so callers see it on return. Only a
        // still-`Connecting` status is touched, so an outage seen meanwhile is not masked.
        if client.connection_state() == State::Connected {
            status.send_if_modified(|s| {
                let first = s.state == ConnectionState::Connecting;
                if first {
                    s.state = ConnectionState::Connected;
                }
                first
            });
        }

        Ok(Self {
            client,
            url: opts.url.clone(),
            status,
            opts: Arc::new(opts),
        })
    }

    /// A connection like this one whose subscriptions buffer `capacity` messages: this one if
    /// it has that bound already, else a new connection with the same options (async-nats
    /// bounds subscriptions per connection).
    pub(crate) async fn with_subscription_capacity(
        &self,
        capacity: usize,
    ) -> Result<Self, BusError> {
        if capacity.max(1) == self.opts.subscription_capacity.max(1) {
            return Ok(self.clone());
        }
        self.sibling(capacity).await
    }

    /// A new connection with this one's options and `capacity`; async-nats runs its I/O on
    /// the runtime this is called on.
    pub(crate) async fn sibling(&self, capacity: usize) -> Result<Self, BusError> {
        let mut opts = (*self.opts).clone();
        opts.subscription_capacity = capacity;
        Self::connect(opts).await
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The bound of this connection's subscriptions.
    pub(crate) fn subscription_capacity(&self) -> usize {
        self.opts.subscription_capacity
    }

    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub(crate) fn status(&self) -> watch::Receiver<BusStatus> {
        self.status.subscribe()
    }

    pub(crate) fn new_inbox(&self) -> String {
        self.client.new_inbox()
    }

    pub(crate) async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        self.client
            .publish(subject.to_owned(), payload)
            .await
            .map_err(|e| publish_error(subject, &e))
    }

    pub(crate) async fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        payload: Bytes,
    ) -> Result<(), BusError> {
        self.client
            .publish_with_reply(subject.to_owned(), reply.to_owned(), payload)
            .await
            .map_err(|e| publish_error(subject, &e))
    }

    pub(crate) async fn subscribe(&self, subject: &str) -> Result<Subscription, BusError> {
        self.client
            .subscribe(subject.to_owned())
            .await
            .map(NatsSubscription::wrap)
            .map_err(|e| subscribe_error(subject, &e))
    }

    pub(crate) async fn queue_subscribe(
        &self,
        subject: &str,
        queue: &str,
    ) -> Result<Subscription, BusError> {
        self.client
            .queue_subscribe(subject.to_owned(), queue.to_owned())
            .await
            .map(NatsSubscription::wrap)
            .map_err(|e| subscribe_error(subject, &e))
    }

    pub(crate) async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        let request = async_nats::Request::new()
            .payload(payload)
            .timeout(Some(timeout));
        match self.client.send_request(subject.to_owned(), request).await {
            Ok(msg) => Ok(convert(msg)),
            Err(e) => Err(match e.kind() {
                RequestErrorKind::NoResponders => BusError::NoResponders {
                    subject: subject.to_owned(),
                },
                RequestErrorKind::TimedOut => BusError::Timeout {
                    subject: subject.to_owned(),
                    after: timeout,
                },
                RequestErrorKind::InvalidSubject => BusError::InvalidSubject(subject.to_owned()),
                RequestErrorKind::MaxPayloadExceeded | RequestErrorKind::Other => {
                    BusError::Request(e.to_string())
                }
            }),
        }
    }

    pub(crate) async fn scatter_gather(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Vec<Message>, BusError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let inbox = self.client.new_inbox();
        let mut sub = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| subscribe_error(&inbox, &e))?;
        self.publish_with_reply(subject, &inbox, payload).await?;
        let mut replies = Vec::new();
        // During an outage flush waits for the reconnect; never past the deadline.
        match tokio::time::timeout_at(deadline, self.client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(BusError::Publish(e.to_string())),
            Err(_) => return Ok(replies),
        }
        while let Ok(Some(msg)) =
            tokio::time::timeout_at(deadline, futures::StreamExt::next(&mut sub)).await
        {
            match msg.status {
                // The server answers a message with a reply subject and no interest with a
                // "no responders" status: nobody will answer, stop waiting.
                Some(StatusCode::NO_RESPONDERS) => break,
                Some(other) => tracing::debug!(status = %other, "ignoring status message"),
                None => replies.push(convert(msg)),
            }
        }
        Ok(replies)
    }

    pub(crate) async fn flush(&self) -> Result<(), BusError> {
        self.client
            .flush()
            .await
            .map_err(|e| BusError::Publish(e.to_string()))?;
        // async-nats' flush only writes the socket. A request nobody listens to comes back
        // ("no responders") only after the server has processed everything sent before it:
        // subscriptions are in place, publishes routed.
        let subject = format!("{}.sync", self.client.new_inbox());
        let request = async_nats::Request::new().timeout(Some(SYNC_TIMEOUT));
        match self.client.send_request(subject.clone(), request).await {
            Ok(_) => Ok(()),
            Err(e) => match e.kind() {
                RequestErrorKind::NoResponders => Ok(()),
                RequestErrorKind::TimedOut => Err(BusError::Timeout {
                    subject,
                    after: SYNC_TIMEOUT,
                }),
                _ => Err(BusError::Publish(e.to_string())),
            },
        }
    }
}

/// Longest wait for the server to confirm a flush (the round trip after it); a connection
/// that is down stays down longer than this, and the caller hears so.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// One slow-consumer warning per interval for the whole process.
static SLOW_CONSUMER: LogThrottle = LogThrottle::new(WARN_INTERVAL);

/// Builds the event callback that keeps the status watch up to date.
fn event_callback(
    status: Arc<watch::Sender<BusStatus>>,
) -> impl Fn(Event) -> std::future::Ready<()> + Send + Sync + 'static {
    let connected_before = AtomicBool::new(false);
    move |event| {
        apply_event(&status, &connected_before, event);
        std::future::ready(())
    }
}

fn apply_event(status: &watch::Sender<BusStatus>, connected_before: &AtomicBool, event: Event) {
    match event {
        Event::Connected => {
            let reconnect = connected_before.swap(true, Ordering::SeqCst);
            if reconnect {
                tracing::info!("bus reconnected");
            }
            status.send_modify(|s| {
                s.state = ConnectionState::Connected;
                if reconnect {
                    s.reconnects += 1;
                }
            });
        }
        Event::Disconnected => {
            tracing::warn!("bus disconnected; reconnecting");
            status.send_modify(|s| s.state = ConnectionState::Reconnecting);
        }
        Event::Closed => {
            tracing::info!("bus connection closed");
            status.send_modify(|s| s.state = ConnectionState::Closed);
        }
        Event::SlowConsumer(sid) => {
            // One line per interval, however fast messages are dropped (a flood would
            // otherwise log one line per dropped message).
            if let Some(suppressed) = SLOW_CONSUMER.hit() {
                tracing::warn!(
                    sid,
                    suppressed,
                    "slow consumer: a subscriber queue was full, messages dropped"
                );
            }
            status.send_modify(|s| {
                s.slow_consumer_events = s.slow_consumer_events.saturating_add(1);
                s.dropped = s.dropped.saturating_add(1);
            });
        }
        Event::LameDuckMode => tracing::warn!("server entered lame duck mode"),
        Event::Draining => tracing::info!("bus connection draining"),
        Event::ServerError(e) => tracing::warn!(error = %e, "nats server error"),
        Event::ClientError(e) => tracing::warn!(error = %e, "nats client error"),
    }
}

fn publish_error(subject: &str, e: &async_nats::PublishError) -> BusError {
    match e.kind() {
        PublishErrorKind::InvalidSubject => BusError::InvalidSubject(subject.to_owned()),
        // The command channel to the connection task is gone: the client is closed.
        PublishErrorKind::Send => BusError::Closed,
        PublishErrorKind::MaxPayloadExceeded => BusError::Publish(e.to_string()),
    }
}

fn subscribe_error(subject: &str, e: &async_nats::SubscribeError) -> BusError {
    match e.kind() {
        SubscribeErrorKind::InvalidSubject | SubscribeErrorKind::InvalidQueueName => {
            BusError::InvalidSubject(subject.to_owned())
        }
        SubscribeErrorKind::Other => BusError::Subscribe(e.to_string()),
    }
}

fn convert(msg: async_nats::Message) -> Message {
    Message {
        subject: msg.subject.into_string(),
        reply: msg.reply.map(async_nats::Subject::into_string),
        payload: msg.payload,
    }
}

/// The receiving end of a NATS subscription; async-nats unsubscribes when it is dropped.
#[derive(Debug)]
pub(crate) struct NatsSubscription {
    sub: async_nats::Subscriber,
}

impl NatsSubscription {
    fn wrap(sub: async_nats::Subscriber) -> Subscription {
        Subscription::new(SubscriptionInner::Nats(Self { sub }))
    }

    /// Next message; status-only messages (e.g. the server's "no responders" answer to a
    /// `publish_with_reply` nobody listened to) are skipped, as the in-process bus has none.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        loop {
            match Pin::new(&mut self.sub).poll_next(cx) {
                Poll::Ready(Some(msg)) if msg.status.is_some() => {
                    tracing::debug!(subject = %msg.subject, status = ?msg.status, "skipping status message");
                }
                other => return other.map(|msg| msg.map(convert)),
            }
        }
    }
}
