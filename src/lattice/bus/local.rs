//! In-process bus backend: NATS subject semantics without a server.
//!
//! Owns the subscription table, wildcard matching, queue-group selection and the overflow
//! policy of the in-process bus. It must not know about the UI, the state reducer or the
//! host, and it does not validate subjects (the parent module does that for both backends).
//!
//! # Routing
//! - `*` matches exactly one token, `>` (last token only) one or more trailing tokens.
//! - Every plain subscriber whose pattern matches gets the message.
//! - For queue subscribers, members are grouped by queue name (across subjects, as the NATS
//!   server does) and exactly one member per group gets the message, chosen round-robin.
//!
//! # Overflow policy
//! Each subscriber has a bounded queue ([`super::DEFAULT_SUBSCRIPTION_CAPACITY`] unless
//! [`super::Bus::local_with_capacity`] says otherwise). Publishing never waits for a
//! subscriber: if a plain subscriber's queue is full the message is dropped for that
//! subscriber; if the chosen queue-group member is full the next member is tried, and only
//! if every member is full is the message dropped (and counted on the member whose turn it
//! was). Every drop is counted exactly, on the subscription ([`super::Subscription::dropped`])
//! and bus-wide ([`super::BusStatus::dropped`]).
//!
//! The routing table sits behind a `std::sync::Mutex` that is held only while matching and
//! enqueueing (`try_send`), never across an `.await`. Subscribers whose receiver is gone are
//! pruned during routing; a dropped [`super::Subscription`] removes itself at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::{BusError, BusStatus, ConnectionState, Message, Subscription, SubscriptionInner};
use crate::sync::lock;

/// Prefix of reply inboxes, the same one NATS clients use.
const INBOX_PREFIX: &str = "_INBOX.";

/// A fresh unique inbox subject, `_INBOX.<uuid>`.
pub(crate) fn new_inbox() -> String {
    format!("{INBOX_PREFIX}{}", uuid::Uuid::new_v4().simple())
}

/// The in-process bus. Clones share one routing table; each handle has its own bound for the
/// subscriptions made through it ([`LocalBus::with_capacity`]).
#[derive(Debug, Clone)]
pub struct LocalBus {
    inner: Arc<Inner>,
    capacity: usize,
}

#[derive(Debug)]
struct Inner {
    table: Mutex<Table>,
    status: watch::Sender<BusStatus>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    subs: Vec<Entry>,
    /// Round-robin cursor per queue group name.
    cursors: HashMap<String, usize>,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    pattern: Vec<String>,
    queue: Option<String>,
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

/// Result of offering one message to one subscriber.
enum Offer {
    Delivered,
    Full,
    Gone,
}

impl Entry {
    fn offer(&self, msg: Message) -> Offer {
        match self.tx.try_send(msg) {
            Ok(()) => Offer::Delivered,
            Err(mpsc::error::TrySendError::Full(_)) => Offer::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }
}

/// Whether a subscription pattern (already split on `.`) matches a literal subject.
fn matches(pattern: &[String], subject: &[&str]) -> bool {
    for (i, p) in pattern.iter().enumerate() {
        if p == ">" {
            return subject.len() > i;
        }
        match subject.get(i) {
            Some(s) if p == "*" || p == s => {}
            _ => return false,
        }
    }
    pattern.len() == subject.len()
}

impl LocalBus {
    /// A bus whose subscriber queues hold `capacity` messages (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        let (status, _) = watch::channel(BusStatus::new(ConnectionState::Connected));
        Self {
            inner: Arc::new(Inner {
                table: Mutex::new(Table::default()),
                status,
            }),
            capacity: capacity.max(1),
        }
    }

    /// The same bus, whose new subscriptions hold at most `capacity` messages (at least 1).
    pub(crate) fn with_capacity(&self, capacity: usize) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            capacity: capacity.max(1),
        }
    }

    /// The bound of the subscriptions made through this handle.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Routing never panics while holding the lock, but a poisoned table is still
        // consistent (every mutation is a single push/retain), so keep going.
        lock(&self.inner.table)
    }

    pub(crate) fn status(&self) -> watch::Receiver<BusStatus> {
        self.inner.status.subscribe()
    }

    pub(crate) fn subscribe(&self, subject: &str, queue: Option<&str>) -> Subscription {
        let (tx, rx) = mpsc::channel(self.capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let id = {
            let mut table = self.table();
            let id = table.next_id;
            table.next_id += 1;
            table.subs.push(Entry {
                id,
                pattern: subject.split('.').map(str::to_owned).collect(),
                queue: queue.map(str::to_owned),
                tx,
                dropped: Arc::clone(&dropped),
            });
            id
        };
        Subscription::new(SubscriptionInner::Local(LocalSubscription {
            id,
            rx,
            dropped,
            bus: Arc::downgrade(&self.inner),
        }))
    }

    /// Delivers a message to every matching subscriber without waiting.
    pub(crate) fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        payload: Bytes,
    ) -> Result<(), BusError> {
        self.route(subject, reply, payload);
        Ok(())
    }

    /// Offers a message to every matching subscriber (one per queue group) and counts drops.
    ///
    /// Returns how many live subscribers matched (0 means "no responders").
    fn route(&self, subject: &str, reply: Option<&str>, payload: Bytes) -> usize {
        let msg = Message {
            subject: subject.to_owned(),
            reply: reply.map(str::to_owned),
            payload,
        };
        let tokens: Vec<&str> = subject.split('.').collect();
        let mut matched = 0usize;
        let mut drops = 0u64;
        let mut pruned = false;
        {
            let mut table = self.table();
            // Queue members by group name, in subscription order.
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            for (idx, entry) in table.subs.iter().enumerate() {
                if entry.tx.is_closed() {
                    pruned = true;
                    continue;
                }
                if !matches(&entry.pattern, &tokens) {
                    continue;
                }
                matched += 1;
                match &entry.queue {
                    None => match entry.offer(msg.clone()) {
                        Offer::Delivered => {}
                        Offer::Full => {
                            entry.dropped.fetch_add(1, Ordering::Relaxed);
                            drops += 1;
                        }
                        Offer::Gone => pruned = true,
                    },
                    Some(q) => match groups.iter_mut().find(|(name, _)| name == q) {
                        Some((_, members)) => members.push(idx),
                        None => groups.push((q.clone(), vec![idx])),
                    },
                }
            }
            for (name, members) in groups {
                let Table { subs, cursors, .. } = &mut *table;
                let cursor = cursors.entry(name).or_insert(0);
                let start = *cursor % members.len();
                let mut delivered = false;
                for k in 0..members.len() {
                    let pos = (start + k) % members.len();
                    match subs[members[pos]].offer(msg.clone()) {
                        Offer::Delivered => {
                            *cursor = pos + 1;
                            delivered = true;
                            break;
                        }
                        Offer::Full => {}
                        Offer::Gone => pruned = true,
                    }
                }
                if !delivered {
                    subs[members[start]].dropped.fetch_add(1, Ordering::Relaxed);
                    drops += 1;
                }
            }
            if pruned {
                table.subs.retain(|e| !e.tx.is_closed());
                table.prune_cursors();
            }
        }
        if drops > 0 {
            self.inner.status.send_modify(|s| s.dropped += drops);
        }
        matched
    }

    pub(crate) async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        let inbox = new_inbox();
        let mut sub = self.subscribe(&inbox, None);
        if self.route(subject, Some(&inbox), payload) == 0 {
            return Err(BusError::NoResponders {
                subject: subject.to_owned(),
            });
        }
        match tokio::time::timeout(timeout, sub.next()).await {
            Ok(Some(msg)) => Ok(msg),
            Ok(None) => Err(BusError::Closed),
            Err(_) => Err(BusError::Timeout {
                subject: subject.to_owned(),
                after: timeout,
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
        let inbox = new_inbox();
        let mut sub = self.subscribe(&inbox, None);
        let mut replies = Vec::new();
        if self.route(subject, Some(&inbox), payload) == 0 {
            return Ok(replies);
        }
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, sub.next()).await {
            replies.push(msg);
        }
        Ok(replies)
    }
}

impl Table {
    /// Forgets round-robin cursors of queue groups that have no members left.
    fn prune_cursors(&mut self) {
        let subs = &self.subs;
        self.cursors.retain(|name, _| {
            subs.iter()
                .any(|e| e.queue.as_deref() == Some(name.as_str()))
        });
    }
}

/// The receiving end of an in-process subscription.
#[derive(Debug)]
pub(crate) struct LocalSubscription {
    id: u64,
    rx: mpsc::Receiver<Message>,
    dropped: Arc<AtomicU64>,
    bus: Weak<Inner>,
}

impl LocalSubscription {
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for LocalSubscription {
    fn drop(&mut self) {
        self.rx.close();
        if let Some(inner) = self.bus.upgrade() {
            let mut table = lock(&inner.table);
            table.subs.retain(|e| e.id != self.id);
            table.prune_cursors();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(pattern: &str, subject: &str) -> bool {
        let p: Vec<String> = pattern.split('.').map(str::to_owned).collect();
        let s: Vec<&str> = subject.split('.').collect();
        matches(&p, &s)
    }

    #[test]
    fn wildcard_matching() {
        assert!(m("a.b", "a.b"));
        assert!(!m("a.b", "a.c"));
        assert!(!m("a.b", "a.b.c"));
        assert!(!m("a.b.c", "a.b"));
        assert!(m("a.*", "a.b"));
        assert!(!m("a.*", "a"));
        assert!(!m("a.*", "a.b.c"));
        assert!(m("*.b.*", "x.b.y"));
        assert!(m("a.>", "a.b"));
        assert!(m("a.>", "a.b.c.d"));
        assert!(!m("a.>", "a"));
        assert!(m(">", "a"));
        assert!(m("*.>", "a.b"));
        assert!(!m("*.>", "a"));
    }
}
