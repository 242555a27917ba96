//! The JetStream backend of the lattice data: the `LATTICEDATA_{lattice}` KV bucket, opened or
//! created with the OTP host's settings, and its watches (an ordered consumer from the
//! revision read at a sync; on failure, re-sync with backoff).
//!
//! Owns the bucket handle and the NATS watch tasks.

use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::cache::{LinkCache, RawEntry, Stop, send_all};
use super::{DataError, LinkChange, RESYNC_MAX_DELAY, RESYNC_MIN_DELAY};
use crate::lattice::subjects::{KV_LINKDEF_PREFIX, Subjects};

/// A watcher that lived this long before failing starts the next backoff from the minimum.
const STABLE_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// KV reads in flight while listing one key prefix.
const LIST_CONCURRENCY: usize = 16;

/// JetStream KV backend of [`super::LatticeData`].
#[derive(Debug, Clone)]
pub struct NatsData {
    // Boxed behind an `Arc`: a `Store` carries the whole stream info.
    store: Arc<kv::Store>,
}

impl NatsData {
    pub(super) async fn open(client: async_nats::Client, lattice: &str) -> Result<Self, DataError> {
        let js = jetstream::new(client);
        let bucket = Subjects::new(lattice).kv_bucket();
        let store = match js.get_key_value(bucket.clone()).await {
            Ok(store) => store,
            Err(get_err) => {
                tracing::debug!(%bucket, error = %get_err, "bucket not opened; creating it");
                // `create_key_value` applies allow_rollup, deny_delete, allow_direct and
                // discard-new itself (async-nats `kv_to_stream_config`).
                let config = kv::Config {
                    bucket: bucket.clone(),
                    history: 1,
                    storage: jetstream::stream::StorageType::File,
                    ..Default::default()
                };
                match js.create_key_value(config).await {
                    Ok(store) => {
                        tracing::info!(%bucket, "created the lattice data bucket");
                        store
                    }
                    // Another host may have created it in between.
                    Err(create_err) => {
                        js.get_key_value(bucket.clone())
                            .await
                            .map_err(|_| DataError::Open {
                                bucket: bucket.clone(),
                                source: create_err.into(),
                            })?
                    }
                }
            }
        };
        Ok(Self {
            store: Arc::new(store),
        })
    }

    pub(super) async fn put(&self, key: String, value: Bytes) -> Result<(), DataError> {
        match self.store.put(&key, value).await {
            Ok(_) => Ok(()),
            Err(e) => Err(DataError::Write {
                key,
                source: e.into(),
            }),
        }
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<Bytes>, DataError> {
        self.store.get(key).await.map_err(|e| DataError::Read {
            what: format!("`{key}`"),
            source: e.into(),
        })
    }

    pub(super) async fn purge(&self, key: &str) -> Result<(), DataError> {
        self.store.purge(key).await.map_err(|e| DataError::Write {
            key: key.to_string(),
            source: e.into(),
        })
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<RawEntry>, DataError> {
        nats_list(&self.store, prefix).await
    }

    /// Syncs once (so a failure to start is reported to the caller), then starts the watch
    /// task sending link changes to `tx`.
    pub(super) async fn spawn_watch(
        &self,
        tx: mpsc::Sender<LinkChange>,
    ) -> Result<JoinHandle<()>, DataError> {
        let mut cache = LinkCache::default();
        let (initial, watch) = nats_sync(&self.store, &mut cache).await?;
        let store = self.store.clone();
        Ok(tokio::spawn(run_nats_watch(
            store, cache, initial, watch, tx,
        )))
    }
}

async fn nats_list(store: &kv::Store, prefix: &str) -> Result<Vec<RawEntry>, DataError> {
    let read_err = |source: async_nats::Error| DataError::Read {
        what: format!("the `{prefix}*` keys"),
        source,
    };
    let keys: Vec<String> = store
        .keys()
        .await
        .map_err(|e| read_err(e.into()))?
        .try_filter(|k| futures::future::ready(k.starts_with(prefix)))
        .try_collect()
        .await
        .map_err(|e| read_err(e.into()))?;
    let entries: Vec<Option<kv::Entry>> = futures::stream::iter(keys)
        .map(|key| async move { store.entry(key).await })
        .buffer_unordered(LIST_CONCURRENCY)
        .try_collect()
        .await
        .map_err(|e| read_err(e.into()))?;
    Ok(entries
        .into_iter()
        .flatten()
        // Removed between listing and reading.
        .filter(|e| e.operation == kv::Operation::Put)
        .map(|e| RawEntry {
            key: e.key,
            revision: e.revision,
            value: e.value,
        })
        .collect())
}

/// Reads the current links into `cache` and starts a watcher from the revision read before
/// them, so no change can fall between the two (repeats are filtered by [`LinkCache::apply`]).
async fn nats_sync(
    store: &kv::Store,
    cache: &mut LinkCache,
) -> Result<(Vec<LinkChange>, kv::Watch), DataError> {
    let last = store
        .stream
        .get_info()
        .await
        .map_err(|e| DataError::Read {
            what: "the stream info".to_string(),
            source: e.into(),
        })?
        .state
        .last_sequence;
    let current = nats_list(store, KV_LINKDEF_PREFIX).await?;
    let watch = store
        .watch_all_from_revision(last + 1)
        .await
        .map_err(|e| DataError::Watch { source: e.into() })?;
    Ok((cache.resync(current), watch))
}

async fn run_nats_watch(
    store: Arc<kv::Store>,
    mut cache: LinkCache,
    initial: Vec<LinkChange>,
    watch: kv::Watch,
    tx: mpsc::Sender<LinkChange>,
) {
    if send_all(&tx, initial).await.is_err() {
        return;
    }
    let mut watch = watch;
    let mut delay = RESYNC_MIN_DELAY;
    loop {
        let started = Instant::now();
        let reason = match follow_nats(&mut watch, &mut cache, &tx).await {
            Stop::ReceiverGone => return,
            Stop::Failed(reason) => reason,
        };
        if started.elapsed() >= STABLE_AFTER {
            delay = RESYNC_MIN_DELAY;
        }
        tracing::warn!(bucket = %store.name, %reason, "link watcher stopped; re-syncing");
        // Re-sync until it works; each failure doubles the delay.
        watch = loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RESYNC_MAX_DELAY);
            match nats_sync(&store, &mut cache).await {
                Ok((changes, watch)) => {
                    tracing::info!(bucket = %store.name, changes = changes.len(), "link watch re-synced");
                    if send_all(&tx, changes).await.is_err() {
                        return;
                    }
                    break watch;
                }
                Err(e) => {
                    tracing::warn!(bucket = %store.name, error = %e, retry_in = ?delay, "link watch re-sync failed");
                }
            }
        };
    }
}

async fn follow_nats(
    watch: &mut kv::Watch,
    cache: &mut LinkCache,
    tx: &mpsc::Sender<LinkChange>,
) -> Stop {
    while let Some(item) = watch.next().await {
        let entry = match item {
            Ok(entry) => entry,
            Err(e) => return Stop::Failed(e.to_string()),
        };
        let value = match entry.operation {
            kv::Operation::Put => Some(&entry.value[..]),
            kv::Operation::Delete | kv::Operation::Purge => None,
        };
        if let Some(change) = cache.apply(&entry.key, entry.revision, value)
            && tx.send(change).await.is_err()
        {
            return Stop::ReceiverGone;
        }
    }
    Stop::Failed("the JetStream watcher ended".to_string())
}
