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
//! - The watch ends only when the [`LinkWatch`] is dropped (which stops its task), or when the
//!   watch task itself dies (a fault; [`MemoryData::interrupt_watches`] simulates one for
//!   tests): its consumer sees `None` and must start a new watch, whose replay brings it back
//!   in line (the host's supervisor does).
//! - Not handled: if the bucket itself is deleted and re-created while a watch runs, the ordered
//!   consumer resumes at its old stream sequence in the new stream and can miss entries below
//!   it. Nothing in the protocol deletes the bucket.
//!
//! Layout: this file is the API and its errors; [`memory`] and [`nats`] are the two backends;
//! `cache` holds the key layout, value decoding and the link cache every watch keeps.

mod cache;
mod memory;
mod nats;

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use crate::lattice::protocol::ctl::{ClaimsMap, LinkDefinition};
use crate::lattice::subjects::{KV_CLAIMS_PREFIX, KV_LINKDEF_PREFIX, KV_REFMAP_PREFIX};

use self::cache::{RawEntry, decode_claims, decode_link, link_key, refmap_key, warn_malformed};
pub use self::memory::MemoryData;
pub use self::nats::NatsData;

/// Capacity of the channel between a watch task and its [`LinkWatch`]. When full, the task
/// awaits (no change is dropped).
pub const WATCH_CAPACITY: usize = 64;

/// First delay before a watch re-syncs after its watcher ended or failed.
pub const RESYNC_MIN_DELAY: Duration = Duration::from_millis(250);

/// Longest delay between two re-sync attempts.
pub const RESYNC_MAX_DELAY: Duration = Duration::from_secs(5);

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

impl LatticeData {
    /// Data kept in this process only.
    pub fn memory() -> Self {
        LatticeData::Memory(MemoryData::new())
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
        NatsData::open(client, lattice).await.map(LatticeData::Nats)
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
            LatticeData::Memory(m) => m.spawn_watch(tx),
            LatticeData::Nats(n) => n.spawn_watch(tx).await?,
        };
        Ok(LinkWatch {
            rx,
            _task: AbortOnDropHandle::new(task),
        })
    }

    async fn put_raw(&self, key: String, value: Bytes) -> Result<(), DataError> {
        match self {
            LatticeData::Memory(m) => {
                m.put(key, value);
                Ok(())
            }
            LatticeData::Nats(n) => n.put(key, value).await,
        }
    }

    async fn get_raw(&self, key: &str) -> Result<Option<Bytes>, DataError> {
        match self {
            LatticeData::Memory(m) => Ok(m.get(key)),
            LatticeData::Nats(n) => n.get(key).await,
        }
    }

    async fn remove_raw(&self, key: &str) -> Result<(), DataError> {
        match self {
            LatticeData::Memory(m) => {
                m.remove(key);
                Ok(())
            }
            LatticeData::Nats(n) => n.purge(key).await,
        }
    }

    async fn list_raw(&self, prefix: &str) -> Result<Vec<RawEntry>, DataError> {
        match self {
            LatticeData::Memory(m) => Ok(m.list(prefix)),
            LatticeData::Nats(n) => n.list(prefix).await,
        }
    }
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
