//! The in-process backend of the lattice data: a revisioned map in this process, with watches
//! fed by a broadcast of every change (same semantics as the KV bucket, this process only).
//!
//! Owns the map and its memory watches. A watch that falls more than the broadcast's
//! capacity behind re-syncs from a snapshot; [`MemoryData::interrupt_watches`] ends every
//! watch task at once (a fault drill: consumers see their watch end and must start a new one).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use super::LinkChange;
use super::cache::{LinkCache, RawEntry, send_all};
use crate::lattice::subjects::KV_LINKDEF_PREFIX;
use crate::sync::lock;

/// Changes a memory watcher may fall behind before it re-syncs.
const MEMORY_BROADCAST_CAPACITY: usize = 256;

/// In-process backend of [`super::LatticeData`].
#[derive(Debug, Clone)]
pub struct MemoryData {
    inner: Arc<MemInner>,
}

/// One key's change: `value` is `None` for a removal.
#[derive(Debug, Clone)]
struct RawChange {
    key: String,
    revision: u64,
    value: Option<Bytes>,
}

#[derive(Debug)]
struct MemInner {
    state: Mutex<MemState>,
    changes: broadcast::Sender<RawChange>,
    /// Bumped by [`MemoryData::interrupt_watches`]; every watch task ends when it changes.
    interrupts: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct MemState {
    revision: u64,
    entries: BTreeMap<String, (u64, Bytes)>,
}

impl MemoryData {
    /// An empty store.
    pub(super) fn new() -> Self {
        let (changes, _) = broadcast::channel(MEMORY_BROADCAST_CAPACITY);
        let (interrupts, _) = watch::channel(0);
        Self {
            inner: Arc::new(MemInner {
                state: Mutex::new(MemState::default()),
                changes,
                interrupts,
            }),
        }
    }

    /// Ends every running watch task at once, as if it had died: its [`super::LinkWatch`]
    /// returns `None`. For tests and fault drills of the watch's consumers.
    pub fn interrupt_watches(&self) {
        self.inner
            .interrupts
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) fn put(&self, key: String, value: Bytes) {
        let mut state = lock(&self.inner.state);
        state.revision += 1;
        let revision = state.revision;
        state.entries.insert(key.clone(), (revision, value.clone()));
        // Sent under the lock so every watcher sees changes in revision order. No receiver
        // is not an error.
        let _ = self.inner.changes.send(RawChange {
            key,
            revision,
            value: Some(value),
        });
    }

    pub(super) fn remove(&self, key: &str) {
        let mut state = lock(&self.inner.state);
        if state.entries.remove(key).is_none() {
            return;
        }
        state.revision += 1;
        let revision = state.revision;
        let _ = self.inner.changes.send(RawChange {
            key: key.to_string(),
            revision,
            value: None,
        });
    }

    pub(super) fn get(&self, key: &str) -> Option<Bytes> {
        lock(&self.inner.state)
            .entries
            .get(key)
            .map(|(_, v)| v.clone())
    }

    /// The entries under `prefix`.
    pub(super) fn list(&self, prefix: &str) -> Vec<RawEntry> {
        list(&lock(&self.inner.state), prefix)
    }

    /// Starts a watch task sending link changes to `tx`.
    pub(super) fn spawn_watch(&self, tx: mpsc::Sender<LinkChange>) -> JoinHandle<()> {
        tokio::spawn(run_memory_watch(self.inner.clone(), tx))
    }
}

impl MemInner {
    /// The entries under `prefix` and the revision they are current at.
    fn snapshot(&self, prefix: &str) -> (u64, Vec<RawEntry>) {
        let state = lock(&self.state);
        (state.revision, list(&state, prefix))
    }

    /// A snapshot and a receiver of every later change, taken atomically.
    fn subscribe(&self, prefix: &str) -> (broadcast::Receiver<RawChange>, u64, Vec<RawEntry>) {
        let state = lock(&self.state);
        let rx = self.changes.subscribe();
        (rx, state.revision, list(&state, prefix))
    }
}

fn list(state: &MemState, prefix: &str) -> Vec<RawEntry> {
    state
        .entries
        .range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, (rev, v))| RawEntry {
            key: k.clone(),
            revision: *rev,
            value: v.clone(),
        })
        .collect()
}

async fn run_memory_watch(inner: Arc<MemInner>, tx: mpsc::Sender<LinkChange>) {
    let mut cache = LinkCache::default();
    let mut interrupts = inner.interrupts.subscribe();
    let (mut rx, mut floor, current) = inner.subscribe(KV_LINKDEF_PREFIX);
    if send_all(&tx, cache.resync(current)).await.is_err() {
        return;
    }
    loop {
        let received = tokio::select! {
            biased;
            _ = interrupts.changed() => {
                tracing::warn!("memory link watch interrupted");
                return;
            }
            r = rx.recv() => r,
        };
        match received {
            Ok(change) => {
                // Already part of the last snapshot.
                if change.revision <= floor {
                    continue;
                }
                if let Some(change) =
                    cache.apply(&change.key, change.revision, change.value.as_deref())
                    && tx.send(change).await.is_err()
                {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "memory link watch fell behind; re-syncing");
                let (revision, current) = inner.snapshot(KV_LINKDEF_PREFIX);
                floor = revision;
                if send_all(&tx, cache.resync(current)).await.is_err() {
                    return;
                }
            }
            // The sender lives in `inner`, which this task holds.
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
