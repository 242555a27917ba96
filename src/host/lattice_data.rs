//! The lattice's shared metadata: link definitions, claims and OCI reference maps
//! (PROTOCOL.md §5, §12).
//!
//! Owns the `LATTICEDATA_{lattice}` JetStream KV bucket as the OTP host (0.60–0.63) lays it out:
//! - `LINKDEF_{linkdef_hash(actor, contract, link name)}` → [`LinkDefinition`] JSON with `id`;
//! - `CLAIMS_{public key}` → a flat JSON object whose values are all strings ([`ClaimsMap`]);
//! - `REFMAP_{base64url-no-pad(oci url)}` → `{"oci_url", "public_key"}` ([`RefMap`]).
//!
//! [`LatticeData`] is one cheap-to-clone handle with two backends: [`LatticeData::nats`] (the
//! bucket, shared with OTP hosts and with `wasmcloud-control-interface` clients, which read and
//! write it directly) and [`LatticeData::memory`] (this process only, same semantics).
//!
//! [`LatticeData::watch_links`] follows link changes from *every* writer. Its guarantees:
//! - **Replay, then live.** It first delivers one [`LinkChange::Set`] per existing link (like the
//!   OTP host's `last_per_subject` consumer), then every later put and removal in bucket order.
//! - **Full deletions.** A KV delete (`KV-Operation: DEL` or `PURGE`) carries no value; the watch
//!   keeps the links it has seen by key and delivers [`LinkChange::Deleted`] with the full link.
//!   Removing a key the watch never saw as a valid link delivers nothing.
//! - **Malformed values** (not JSON, wrong shape) are logged with `tracing::warn!` and skipped:
//!   the watch goes on, and whatever it knew about that key stays as it was.
//! - **Bounded, lossless hand-off.** Changes reach the [`LinkWatch`] through a channel of
//!   [`WATCH_CAPACITY`]. When it is full the watch task awaits; it never drops a change. Upstream,
//!   JetStream keeps the messages (NATS) and writers never wait for watchers (memory).
//! - **Re-sync instead of silent death.** async-nats' ordered consumer already survives
//!   reconnects: it re-creates itself from the last delivered sequence. If the underlying watcher
//!   still ends or fails (or a memory watcher lags behind its broadcast buffer), the watch
//!   re-syncs: it reads the current links again, emits only the *differences* to what it has
//!   delivered (`Set` for new or changed links, `Deleted` for vanished ones) and follows again
//!   from the revision it read. Retries back off from [`RESYNC_MIN_DELAY`] to
//!   [`RESYNC_MAX_DELAY`]; every failure is logged. So after any outage the consumer's view
//!   converges to the bucket's content; intermediate values of one link that were overwritten
//!   during the outage are coalesced, exactly as a KV bucket with history 1 does for any reader.
//! - The watch ends only when the [`LinkWatch`] is dropped (which stops its task).
//! - Not handled: if the bucket itself is deleted and re-created while a watch runs, the ordered
//!   consumer resumes at its old stream sequence in the new stream and can miss entries below
//!   it. Nothing in the protocol deletes the bucket.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use base64::Engine as _;
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_util::task::AbortOnDropHandle;

use crate::lattice::protocol::ctl::{ClaimsMap, LinkDefinition, linkdef_hash};
use crate::lattice::subjects::{KV_CLAIMS_PREFIX, KV_LINKDEF_PREFIX, KV_REFMAP_PREFIX, Subjects};

/// Capacity of the channel between a watch task and its [`LinkWatch`]. When full, the task
/// awaits (no change is dropped).
pub const WATCH_CAPACITY: usize = 64;

/// First delay before a watch re-syncs after its watcher ended or failed.
pub const RESYNC_MIN_DELAY: Duration = Duration::from_millis(250);

/// Longest delay between two re-sync attempts.
pub const RESYNC_MAX_DELAY: Duration = Duration::from_secs(5);

/// A watcher that lived this long before failing starts the next backoff from the minimum.
const STABLE_AFTER: Duration = Duration::from_secs(10);

/// Changes a memory watcher may fall behind before it re-syncs.
const MEMORY_BROADCAST_CAPACITY: usize = 256;

/// KV reads in flight while listing one key prefix.
const LIST_CONCURRENCY: usize = 16;

/// Errors of [`LatticeData`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The bucket could neither be opened nor created (JetStream off, no permission, timeout,
    /// invalid lattice name for a bucket…).
    #[error("cannot open or create the JetStream KV bucket `{bucket}`")]
    Open {
        /// Bucket name.
        bucket: String,
        /// Cause.
        #[source]
        source: async_nats::Error,
    },
    /// Writing (or removing) a key failed.
    #[error("cannot write `{key}` in the lattice data bucket")]
    Write {
        /// The KV key.
        key: String,
        /// Cause.
        #[source]
        source: async_nats::Error,
    },
    /// Reading the bucket failed.
    #[error("cannot read {what} from the lattice data bucket")]
    Read {
        /// What was being read (a key or a key prefix).
        what: String,
        /// Cause.
        #[source]
        source: async_nats::Error,
    },
    /// Starting a watch failed.
    #[error("cannot watch the lattice data bucket")]
    Watch {
        /// Cause.
        #[source]
        source: async_nats::Error,
    },
    /// Claims without a non-empty `sub` have no key.
    #[error("claims have no `sub` (the public key they describe)")]
    MissingSubject,
    /// A value could not be encoded as JSON.
    #[error("cannot encode {what} as JSON")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// A change to the lattice's links, as seen by [`LatticeData::watch_links`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    /// A link was put (new, or new values for the same actor/contract/link name).
    Set(LinkDefinition),
    /// A link was removed; carries the link as it was last seen.
    Deleted(LinkDefinition),
}

impl LinkChange {
    /// The link this change is about.
    pub fn link(&self) -> &LinkDefinition {
        match self {
            LinkChange::Set(link) | LinkChange::Deleted(link) => link,
        }
    }
}

/// Value of a `REFMAP_` key: which public key an OCI reference resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefMap {
    /// The OCI reference as given.
    pub oci_url: String,
    /// The actor or provider public key it resolved to.
    pub public_key: String,
}

/// The lattice's shared data: a cheap-to-clone handle on one of two backends.
#[derive(Debug, Clone)]
pub enum LatticeData {
    /// In-process data; watches see this process's writes only.
    Memory(MemoryData),
    /// The `LATTICEDATA_{lattice}` JetStream KV bucket.
    Nats(NatsData),
}

/// In-process backend of [`LatticeData`].
#[derive(Debug, Clone)]
pub struct MemoryData {
    inner: Arc<MemInner>,
}

/// JetStream KV backend of [`LatticeData`].
#[derive(Debug, Clone)]
pub struct NatsData {
    // Boxed behind an `Arc`: a `Store` carries the whole stream info.
    store: Arc<kv::Store>,
}

/// One key's change in a backend: `value` is `None` for a delete or purge.
#[derive(Debug, Clone)]
struct RawChange {
    key: String,
    revision: u64,
    value: Option<Bytes>,
}

/// A key's current value and the revision that wrote it.
#[derive(Debug, Clone)]
struct RawEntry {
    key: String,
    revision: u64,
    value: Bytes,
}

#[derive(Debug)]
struct MemInner {
    state: Mutex<MemState>,
    changes: broadcast::Sender<RawChange>,
}

#[derive(Debug, Default)]
struct MemState {
    revision: u64,
    entries: BTreeMap<String, (u64, Bytes)>,
}

impl MemInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemState> {
        // The state is a plain map: a panic elsewhere cannot leave it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put(&self, key: String, value: Bytes) {
        let mut state = self.lock();
        state.revision += 1;
        let revision = state.revision;
        state.entries.insert(key.clone(), (revision, value.clone()));
        // Sent under the lock so every watcher sees changes in revision order. No receiver
        // is not an error.
        let _ = self.changes.send(RawChange {
            key,
            revision,
            value: Some(value),
        });
    }

    fn remove(&self, key: &str) {
        let mut state = self.lock();
        if state.entries.remove(key).is_none() {
            return;
        }
        state.revision += 1;
        let revision = state.revision;
        let _ = self.changes.send(RawChange {
            key: key.to_string(),
            revision,
            value: None,
        });
    }

    fn get(&self, key: &str) -> Option<Bytes> {
        self.lock().entries.get(key).map(|(_, v)| v.clone())
    }

    /// The entries under `prefix` and the revision they are current at.
    fn snapshot(&self, prefix: &str) -> (u64, Vec<RawEntry>) {
        let state = self.lock();
        (state.revision, Self::list(&state, prefix))
    }

    /// A snapshot and a receiver of every later change, taken atomically.
    fn subscribe(&self, prefix: &str) -> (broadcast::Receiver<RawChange>, u64, Vec<RawEntry>) {
        let state = self.lock();
        let rx = self.changes.subscribe();
        (rx, state.revision, Self::list(&state, prefix))
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
}

/// `LINKDEF_{hash}` for a link's key fields.
fn link_key(actor_id: &str, contract_id: &str, link_name: &str) -> String {
    format!(
        "{KV_LINKDEF_PREFIX}{}",
        linkdef_hash(actor_id, contract_id, link_name)
    )
}

/// `REFMAP_{base64url-no-pad(oci_url)}`.
fn refmap_key(oci_url: &str) -> String {
    format!(
        "{KV_REFMAP_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(oci_url)
    )
}

/// Decodes a `LINKDEF_` value; an empty `id` is filled from the key fields.
fn decode_link(value: &[u8]) -> Result<LinkDefinition, serde_json::Error> {
    serde_json::from_slice::<LinkDefinition>(value).map(LinkDefinition::with_id)
}

/// Decodes a `CLAIMS_` value leniently: numbers and booleans become their text, `null` becomes
/// `""` (as control-interface 0.2x does); nested arrays or objects make the value malformed.
fn decode_claims(value: &[u8]) -> Result<ClaimsMap, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(value).map_err(|e| e.to_string())?;
    map.into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    return Err(format!("`{k}` is not a string"));
                }
            };
            Ok((k, text))
        })
        .collect()
}

fn warn_malformed(key: &str, error: &dyn std::fmt::Display) {
    tracing::warn!(%key, %error, "skipping malformed value in the lattice data bucket");
}

impl LatticeData {
    /// Data kept in this process only.
    pub fn memory() -> Self {
        let (changes, _) = broadcast::channel(MEMORY_BROADCAST_CAPACITY);
        LatticeData::Memory(MemoryData {
            inner: Arc::new(MemInner {
                state: Mutex::new(MemState::default()),
                changes,
            }),
        })
    }

    /// Opens `LATTICEDATA_{lattice}`, creating it if missing with the OTP host's settings
    /// (file storage, max 1 msg per subject / history 1, allow_direct, deny_delete,
    /// allow_rollup_hdrs).
    ///
    /// An existing bucket is used as it is, whoever created it and with whatever settings.
    ///
    /// # Errors
    /// [`DataError::Open`] if the bucket can be neither opened nor created.
    pub async fn nats(client: async_nats::Client, lattice: &str) -> Result<Self, DataError> {
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
        Ok(LatticeData::Nats(NatsData {
            store: Arc::new(store),
        }))
    }

    /// Puts a link under `LINKDEF_{linkdef_hash(actor_id, contract_id, link_name)}`; the stored
    /// JSON carries `id` set to that hash.
    ///
    /// # Errors
    /// [`DataError::Write`] if the bucket refuses the write.
    pub async fn put_link(&self, link: &LinkDefinition) -> Result<(), DataError> {
        let mut link = link.clone();
        link.id = link.computed_id();
        let key = format!("{KV_LINKDEF_PREFIX}{}", link.id);
        let value = serde_json::to_vec(&link).map_err(|source| DataError::Encode {
            what: "a link definition",
            source,
        })?;
        self.put_raw(key, value.into()).await
    }

    /// Removes the link of (actor, contract, link name) with a KV purge, as the OTP host does.
    /// Returns the removed link if the bucket held a valid one; a missing link is `Ok(None)`
    /// and writes nothing.
    ///
    /// # Errors
    /// [`DataError::Read`] / [`DataError::Write`] if the bucket cannot be read or written.
    pub async fn delete_link(
        &self,
        actor_id: &str,
        contract_id: &str,
        link_name: &str,
    ) -> Result<Option<LinkDefinition>, DataError> {
        let key = link_key(actor_id, contract_id, link_name);
        let Some(value) = self.get_raw(&key).await? else {
            return Ok(None);
        };
        self.remove_raw(&key).await?;
        match decode_link(&value) {
            Ok(link) => Ok(Some(link)),
            Err(e) => {
                warn_malformed(&key, &e);
                Ok(None)
            }
        }
    }

    /// Every valid link in the bucket, ordered by (actor, contract, link name). Malformed values
    /// are logged and skipped.
    ///
    /// # Errors
    /// [`DataError::Read`] if the bucket cannot be read.
    pub async fn links(&self) -> Result<Vec<LinkDefinition>, DataError> {
        let mut links: Vec<LinkDefinition> = self
            .list_raw(KV_LINKDEF_PREFIX)
            .await?
            .into_iter()
            .filter_map(|e| {
                decode_link(&e.value)
                    .inspect_err(|err| warn_malformed(&e.key, err))
                    .ok()
            })
            .collect();
        links.sort_by(|a, b| {
            (&a.actor_id, &a.contract_id, &a.link_name).cmp(&(
                &b.actor_id,
                &b.contract_id,
                &b.link_name,
            ))
        });
        Ok(links)
    }

    /// Puts claims under `CLAIMS_{sub}`; every value is a string.
    ///
    /// # Errors
    /// [`DataError::MissingSubject`] without a non-empty `sub`; [`DataError::Write`] if the
    /// bucket refuses the write.
    pub async fn put_claims(&self, claims: &ClaimsMap) -> Result<(), DataError> {
        let sub = claims
            .get("sub")
            .filter(|s| !s.is_empty())
            .ok_or(DataError::MissingSubject)?;
        let key = format!("{KV_CLAIMS_PREFIX}{sub}");
        let value = serde_json::to_vec(claims).map_err(|source| DataError::Encode {
            what: "claims",
            source,
        })?;
        self.put_raw(key, value.into()).await
    }

    /// Every claims entry in the bucket, ordered by key. Non-string scalars are turned into
    /// strings; malformed values are logged and skipped.
    ///
    /// # Errors
    /// [`DataError::Read`] if the bucket cannot be read.
    pub async fn claims(&self) -> Result<Vec<ClaimsMap>, DataError> {
        let mut entries = self.list_raw(KV_CLAIMS_PREFIX).await?;
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries
            .into_iter()
            .filter_map(|e| {
                decode_claims(&e.value)
                    .inspect_err(|err| warn_malformed(&e.key, err))
                    .ok()
            })
            .collect())
    }

    /// Records that `oci_url` resolved to `public_key`: `REFMAP_{base64url-no-pad(oci_url)}` →
    /// `{"oci_url", "public_key"}`.
    ///
    /// # Errors
    /// [`DataError::Write`] if the bucket refuses the write.
    pub async fn put_refmap(&self, oci_url: &str, public_key: &str) -> Result<(), DataError> {
        let value = serde_json::to_vec(&RefMap {
            oci_url: oci_url.to_string(),
            public_key: public_key.to_string(),
        })
        .map_err(|source| DataError::Encode {
            what: "a reference map",
            source,
        })?;
        self.put_raw(refmap_key(oci_url), value.into()).await
    }

    /// Every reference map in the bucket, ordered by OCI reference; malformed values are logged
    /// and skipped.
    ///
    /// # Errors
    /// [`DataError::Read`] if the bucket cannot be read.
    pub async fn refmaps(&self) -> Result<Vec<RefMap>, DataError> {
        let mut maps: Vec<RefMap> = self
            .list_raw(KV_REFMAP_PREFIX)
            .await?
            .into_iter()
            .filter_map(|e| {
                serde_json::from_slice::<RefMap>(&e.value)
                    .inspect_err(|err| warn_malformed(&e.key, err))
                    .ok()
            })
            .collect();
        maps.sort_by(|a, b| a.oci_url.cmp(&b.oci_url));
        Ok(maps)
    }

    /// Changes to links, including the ones written directly into the bucket by other hosts
    /// and by clients (control-interface ≥0.2x writes `$KV.LATTICEDATA_{L}.LINKDEF_{HASH}`
    /// itself and deletes with a `KV-Operation: DEL`/`PURGE` header). Starts with a replay of
    /// the existing links (like OTP's last_per_subject consumer), then follows live. See the
    /// module documentation for re-syncs, bounds and malformed values.
    ///
    /// # Errors
    /// [`DataError::Read`] / [`DataError::Watch`] if the first read of the bucket or the first
    /// watcher fails (later failures are retried inside the watch).
    pub async fn watch_links(&self) -> Result<LinkWatch, DataError> {
        let (tx, rx) = mpsc::channel(WATCH_CAPACITY);
        let task = match self {
            LatticeData::Memory(m) => {
                let inner = m.inner.clone();
                tokio::spawn(run_memory_watch(inner, tx))
            }
            LatticeData::Nats(n) => {
                let mut cache = LinkCache::default();
                let (initial, watch) = nats_sync(&n.store, &mut cache).await?;
                let store = n.store.clone();
                tokio::spawn(run_nats_watch(store, cache, initial, watch, tx))
            }
        };
        Ok(LinkWatch {
            rx,
            _task: AbortOnDropHandle::new(task),
        })
    }

    async fn put_raw(&self, key: String, value: Bytes) -> Result<(), DataError> {
        match self {
            LatticeData::Memory(m) => {
                m.inner.put(key, value);
                Ok(())
            }
            LatticeData::Nats(n) => match n.store.put(&key, value).await {
                Ok(_) => Ok(()),
                Err(e) => Err(DataError::Write {
                    key,
                    source: e.into(),
                }),
            },
        }
    }

    async fn get_raw(&self, key: &str) -> Result<Option<Bytes>, DataError> {
        match self {
            LatticeData::Memory(m) => Ok(m.inner.get(key)),
            LatticeData::Nats(n) => n.store.get(key).await.map_err(|e| DataError::Read {
                what: format!("`{key}`"),
                source: e.into(),
            }),
        }
    }

    async fn remove_raw(&self, key: &str) -> Result<(), DataError> {
        match self {
            LatticeData::Memory(m) => {
                m.inner.remove(key);
                Ok(())
            }
            LatticeData::Nats(n) => n.store.purge(key).await.map_err(|e| DataError::Write {
                key: key.to_string(),
                source: e.into(),
            }),
        }
    }

    async fn list_raw(&self, prefix: &str) -> Result<Vec<RawEntry>, DataError> {
        match self {
            LatticeData::Memory(m) => Ok(m.inner.snapshot(prefix).1),
            LatticeData::Nats(n) => nats_list(&n.store, prefix).await,
        }
    }
}

/// The current values under `prefix` in the bucket (keys whose last operation is a put).
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

/// A stream of [`LinkChange`]s from [`LatticeData::watch_links`]. Dropping it stops the watch.
#[derive(Debug)]
pub struct LinkWatch {
    rx: mpsc::Receiver<LinkChange>,
    _task: AbortOnDropHandle<()>,
}

impl LinkWatch {
    /// The next change. `None` only if the watch task is gone, which does not happen while
    /// this value is alive unless the task panicked.
    pub async fn next(&mut self) -> Option<LinkChange> {
        self.rx.recv().await
    }
}

/// The links a watch has delivered, by KV key, with the revision that wrote them.
#[derive(Debug, Default)]
struct LinkCache {
    links: HashMap<String, (u64, LinkDefinition)>,
}

impl LinkCache {
    /// One live change. Changes not newer than what the cache holds for the key are repeats
    /// (an ordered consumer that restarted from the beginning, or an entry already read by
    /// the last re-sync) and are ignored.
    fn apply(&mut self, key: &str, revision: u64, value: Option<&[u8]>) -> Option<LinkChange> {
        if !key.starts_with(KV_LINKDEF_PREFIX) {
            return None;
        }
        if self
            .links
            .get(key)
            .is_some_and(|(known, _)| revision <= *known)
        {
            return None;
        }
        match value {
            None => {
                let removed = self.links.remove(key).map(|(_, l)| l);
                if removed.is_none() {
                    tracing::debug!(%key, "removal of a link this watch never saw");
                }
                removed.map(LinkChange::Deleted)
            }
            Some(bytes) => match decode_link(bytes) {
                Ok(link) => {
                    self.links.insert(key.to_string(), (revision, link.clone()));
                    Some(LinkChange::Set(link))
                }
                Err(e) => {
                    warn_malformed(key, &e);
                    None
                }
            },
        }
    }

    /// Brings the cache to `current` (every `LINKDEF_` entry now in the bucket) and returns
    /// the differences: `Set` for new or changed links, `Deleted` for links no longer there.
    /// Entries with malformed values count as present and leave the cache as it was.
    fn resync(&mut self, mut current: Vec<RawEntry>) -> Vec<LinkChange> {
        let mut changes = Vec::new();
        let mut present = HashSet::with_capacity(current.len());
        current.sort_by(|a, b| a.key.cmp(&b.key));
        for entry in current {
            present.insert(entry.key.clone());
            match decode_link(&entry.value) {
                Ok(link) => {
                    let changed = self
                        .links
                        .get(&entry.key)
                        .is_none_or(|(_, known)| *known != link);
                    self.links.insert(entry.key, (entry.revision, link.clone()));
                    if changed {
                        changes.push(LinkChange::Set(link));
                    }
                }
                Err(e) => warn_malformed(&entry.key, &e),
            }
        }
        let mut gone: Vec<String> = self
            .links
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        gone.sort();
        for key in gone {
            if let Some((_, link)) = self.links.remove(&key) {
                changes.push(LinkChange::Deleted(link));
            }
        }
        changes
    }
}

/// Why following a watcher stopped.
enum Stop {
    /// The [`LinkWatch`] was dropped.
    ReceiverGone,
    /// The watcher ended or failed; re-sync.
    Failed(String),
}

async fn send_all(tx: &mpsc::Sender<LinkChange>, changes: Vec<LinkChange>) -> Result<(), Stop> {
    for change in changes {
        tx.send(change).await.map_err(|_| Stop::ReceiverGone)?;
    }
    Ok(())
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

async fn run_memory_watch(inner: Arc<MemInner>, tx: mpsc::Sender<LinkChange>) {
    let mut cache = LinkCache::default();
    let (mut rx, mut floor, current) = inner.subscribe(KV_LINKDEF_PREFIX);
    if send_all(&tx, cache.resync(current)).await.is_err() {
        return;
    }
    loop {
        match rx.recv().await {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn link(actor: &str, values: &[(&str, &str)]) -> LinkDefinition {
        LinkDefinition {
            id: String::new(),
            actor_id: actor.to_string(),
            provider_id: "VPROV".to_string(),
            link_name: "default".to_string(),
            contract_id: "wasmcloud:httpserver".to_string(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn raw(l: &LinkDefinition, revision: u64) -> RawEntry {
        RawEntry {
            key: link_key(&l.actor_id, &l.contract_id, &l.link_name),
            revision,
            value: serde_json::to_vec(l).expect("encode").into(),
        }
    }

    #[test]
    fn refmap_key_is_base64url_without_padding() {
        assert_eq!(refmap_key("a?"), "REFMAP_YT8");
        assert_eq!(
            refmap_key("wasmcloud.azurecr.io/echo:0.3.4"),
            "REFMAP_d2FzbWNsb3VkLmF6dXJlY3IuaW8vZWNobzowLjMuNA"
        );
    }

    #[test]
    fn link_key_uses_the_otp_hash() {
        // The Elixir hash quoted by control-interface's `test_hash_compatibility`.
        assert_eq!(
            link_key("Mbob", "wasmcloud:testy", "default"),
            "LINKDEF_B40411AD09B70A2C83D59923584F66BA2C5A3C274DC4F19416DA49CCD6531F9C"
        );
    }

    #[test]
    fn claims_decode_turns_scalars_into_strings() {
        let c = decode_claims(br#"{"sub":"MX","rev":4,"prov":false,"x":null}"#).expect("ok");
        assert_eq!(c["rev"], "4");
        assert_eq!(c["prov"], "false");
        assert_eq!(c["x"], "");
        assert!(decode_claims(br#"{"sub":"MX","caps":["a"]}"#).is_err());
        assert!(decode_claims(b"[1]").is_err());
    }

    #[test]
    fn cache_delivers_full_deletes_and_ignores_repeats() {
        let mut cache = LinkCache::default();
        let a = link("MA", &[("PORT", "8080")]);
        let entry = raw(&a, 3);
        let set = cache.apply(&entry.key, 3, Some(&entry.value));
        assert_eq!(set, Some(LinkChange::Set(a.clone().with_id())));
        assert_eq!(cache.apply(&entry.key, 3, Some(&entry.value)), None);
        assert_eq!(cache.apply(&entry.key, 2, None), None);
        assert_eq!(cache.apply(&entry.key, 4, Some(b"not json")), None);
        assert_eq!(
            cache.apply(&entry.key, 5, None),
            Some(LinkChange::Deleted(a.with_id()))
        );
        assert_eq!(cache.apply(&entry.key, 6, None), None);
        assert_eq!(cache.apply("CLAIMS_MA", 7, Some(b"{}")), None);
    }

    #[test]
    fn resync_emits_only_differences() {
        let mut cache = LinkCache::default();
        let a = link("MA", &[]);
        let b = link("MB", &[]);
        let b2 = link("MB", &[("K", "V")]);
        let c = link("MC", &[]);
        assert_eq!(cache.resync(vec![raw(&a, 1), raw(&b, 2)]).len(), 2);
        let changes = cache.resync(vec![raw(&b2, 4), raw(&c, 5)]);
        assert!(changes.contains(&LinkChange::Set(b2.with_id())));
        assert!(changes.contains(&LinkChange::Set(c.clone().with_id())));
        assert!(changes.contains(&LinkChange::Deleted(a.with_id())));
        assert_eq!(changes.len(), 3);
        assert!(
            cache
                .resync(vec![raw(&link("MB", &[("K", "V")]), 4), raw(&c, 5)])
                .is_empty()
        );
    }
}
