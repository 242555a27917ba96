//! Live update (`cmd.{host}.upd`) and hot reload: a new version is read, its claims checked
//! against the running actor's, compiled and pre-instantiated before anything running is
//! touched; then one atomic swap (requests in flight finish on the old version). Any failure
//! keeps the old version serving and is published as `actor_update_failed`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::super::claims::{self, ActorIdentity};
use super::super::files::{Origin, read_regular_file, resolve_actor_ref};
use super::super::runtime::{Loaded, MAX_COMPONENT_BYTES};
use super::{HostInner, OpError, file_stem};
use crate::lattice::protocol::{ActorUpdateFailed, ActorUpdated, EventData};
use crate::sync::lock;

/// What an update swaps against.
struct CurrentVersion {
    signed: bool,
    revision: i64,
    serves_http: bool,
}

/// A new version, checked and compiled, not yet serving.
struct PreparedUpdate {
    identity: ActorIdentity,
    loaded: Arc<Loaded>,
    source: PathBuf,
}

/// What a swap did.
struct Committed {
    revision: i64,
    digest: String,
    compile_time: std::time::Duration,
    swapped: Instant,
}

/// A new version checked and compiled ahead of time by [`HostInner::speculate`].
pub(crate) struct Speculation {
    /// The running revision it was prepared against.
    base_revision: i64,
    result: Result<PreparedUpdate, (i64, OpError)>,
    /// When it was ready.
    compiled: Instant,
}

impl HostInner {
    /// Swaps a running actor's module for the one at `new_ref` (PROTOCOL.md §2.5 `upd`):
    /// compiled and checked first, then swapped atomically; requests in flight finish on the
    /// old version. A signed module must carry the same public key; an unsigned module may
    /// replace an unsigned actor (its id is the slot's). Publishes `actor_updated` per
    /// instance, or `actor_update_failed` per instance with the reason.
    ///
    /// # Errors
    /// The reason of a failed update (also published).
    pub async fn update_actor(
        self: &Arc<Self>,
        actor_id: &str,
        new_ref: &str,
        origin: Origin,
    ) -> Result<i64, OpError> {
        let current = self.current_version(actor_id)?;
        let next = current.revision.saturating_add(1);
        let read = async {
            let path = resolve_actor_ref(new_ref)?;
            let source = self.settings.files.check(&path, origin)?;
            let limit = u64::try_from(MAX_COMPONENT_BYTES).unwrap_or(u64::MAX);
            let bytes = read_regular_file(&source, limit).await?;
            Ok::<_, OpError>((Arc::<[u8]>::from(bytes), source))
        };
        let prepared = match read.await {
            Ok((bytes, source)) => self.prepare_update(actor_id, bytes, source, &current).await,
            Err(reason) => Err((next, reason)),
        };
        match prepared {
            Ok(p) => Ok(self
                .commit_update(actor_id, p, Some(new_ref))
                .await
                .revision),
            Err((revision, reason)) => {
                tracing::warn!(actor = actor_id, new_ref, %reason, "live update failed");
                self.fail_update(actor_id, revision, &reason).await;
                Err(reason)
            }
        }
    }

    /// Hot reload: swaps in `bytes` (just read from `source` by the file watcher) through the
    /// same checks and swap as `upd`, and records the timing of each step for the console.
    ///
    /// # Errors
    /// The reason of a failed reload (also published as `actor_update_failed`).
    ///
    /// `early` is the outcome of [`HostInner::speculate`] on the same bytes; it is used when the
    /// running revision has not changed since, and the bytes are prepared afresh otherwise.
    pub async fn reload_actor(
        self: &Arc<Self>,
        actor_id: &str,
        bytes: Arc<[u8]>,
        source: PathBuf,
        detected: Instant,
        stable: Instant,
        early: Option<Speculation>,
    ) -> Result<super::super::ReloadInfo, OpError> {
        let current = self.current_version(actor_id)?;
        let Speculation {
            result, compiled, ..
        } = match early {
            Some(s) if s.base_revision == current.revision => s,
            _ => {
                self.prepare_against(actor_id, bytes, source, &current)
                    .await
            }
        };
        match result {
            Ok(p) => {
                let done = self.commit_update(actor_id, p, None).await;
                let info = super::super::ReloadInfo {
                    at: std::time::SystemTime::now(),
                    revision: done.revision,
                    digest: done.digest,
                    detect_to_stable: stable.saturating_duration_since(detected),
                    stable_to_compiled: compiled.saturating_duration_since(stable),
                    compile: done.compile_time,
                    swap: done.swapped.saturating_duration_since(compiled),
                    total: done.swapped.saturating_duration_since(detected),
                };
                if let Some(a) = lock(&self.actors).get_mut(actor_id) {
                    a.last_reload = Some(info.clone());
                    a.last_error = None;
                }
                tracing::info!(
                    actor = actor_id,
                    revision = info.revision,
                    digest = %&info.digest[..info.digest.len().min(12)],
                    detect_to_stable_ms = info.detect_to_stable.as_secs_f64() * 1e3,
                    compile_ms = info.compile.as_secs_f64() * 1e3,
                    swap_ms = info.swap.as_secs_f64() * 1e3,
                    total_ms = info.total.as_secs_f64() * 1e3,
                    "actor reloaded"
                );
                Ok(info)
            }
            Err((revision, reason)) => {
                tracing::warn!(actor = actor_id, %reason, "hot reload failed; the running version keeps serving");
                self.fail_update(actor_id, revision, &reason).await;
                Err(reason)
            }
        }
    }

    /// Checks and compiles `bytes` for `actor_id` ahead of the watcher's confirmation that the
    /// file is stable (see `WatchEvent::Candidate`); touches nothing that runs. `None` when the
    /// actor is gone.
    pub async fn speculate(
        self: &Arc<Self>,
        actor_id: &str,
        bytes: Arc<[u8]>,
        source: PathBuf,
    ) -> Option<Speculation> {
        let current = self.current_version(actor_id).ok()?;
        Some(
            self.prepare_against(actor_id, bytes, source, &current)
                .await,
        )
    }

    /// [`HostInner::prepare_update`] against `current`, noting when it was done.
    async fn prepare_against(
        &self,
        actor_id: &str,
        bytes: Arc<[u8]>,
        source: PathBuf,
        current: &CurrentVersion,
    ) -> Speculation {
        let result = self.prepare_update(actor_id, bytes, source, current).await;
        Speculation {
            base_revision: current.revision,
            result,
            compiled: Instant::now(),
        }
    }

    /// Records a reload that could not even be attempted (the watcher found no usable file).
    pub async fn reload_refused(self: &Arc<Self>, actor_id: &str, reason: &str) {
        let Ok(current) = self.current_version(actor_id) else {
            return;
        };
        tracing::warn!(actor = actor_id, %reason, "hot reload refused; the running version keeps serving");
        self.fail_update(actor_id, current.revision.saturating_add(1), reason)
            .await;
    }

    fn current_version(&self, actor_id: &str) -> Result<CurrentVersion, OpError> {
        let actors = lock(&self.actors);
        let a = actors
            .get(actor_id)
            .ok_or_else(|| format!("actor {actor_id} is not running on this host"))?;
        let live = a.live.borrow();
        Ok(CurrentVersion {
            signed: a.identity.signed,
            revision: live.revision,
            serves_http: live.serves_http(),
        })
    }

    /// Checks the claims and compiles the new version; touches nothing that runs.
    async fn prepare_update(
        &self,
        actor_id: &str,
        bytes: Arc<[u8]>,
        source: PathBuf,
        current: &CurrentVersion,
    ) -> Result<PreparedUpdate, (i64, OpError)> {
        let next = current.revision.saturating_add(1);
        let policy = self.settings.policy.clone();
        let stem = file_stem(&source);
        let source_text = source.to_string_lossy().into_owned();
        let (identity, bytes) = tokio::task::spawn_blocking(move || {
            claims::identify(&bytes, &source_text, &stem, &policy).map(|id| (id, bytes))
        })
        .await
        .map_err(|e| (next, format!("claims check failed: {e}")))?
        .map_err(|e| (next, e.to_string()))?;
        if identity.signed != current.signed {
            return Err((
                next,
                if current.signed {
                    "the new module is not signed; a signed actor can only be replaced by a module signed with the same key".to_string()
                } else {
                    "the new module is signed; an unsigned actor can only be replaced by an unsigned module".to_string()
                },
            ));
        }
        if current.signed && identity.public_key != actor_id {
            return Err((
                next,
                format!(
                    "the new module's public key {} differs from the running actor {actor_id}",
                    identity.public_key
                ),
            ));
        }
        let revision = if current.signed {
            i64::from(identity.rev.unwrap_or(0))
        } else {
            next
        };
        let loaded = self
            .runtime
            .load(bytes, revision)
            .await
            .map_err(|e| (revision, e.to_string()))?;
        if current.serves_http && !loaded.serves_http() {
            // Swapping would turn a working HTTP actor into 503s: keep the old version.
            return Err((
                revision,
                format!(
                    "the new version cannot serve HTTP ({}); revision {} keeps serving",
                    loaded
                        .no_http_reason
                        .as_deref()
                        .unwrap_or("no wasi:http/incoming-handler export"),
                    current.revision
                ),
            ));
        }
        Ok(PreparedUpdate {
            identity,
            loaded,
            source,
        })
    }

    /// Swaps the prepared version in (atomically: the next request sees it, requests in
    /// flight finish on the old one), then publishes `actor_updated` per instance.
    async fn commit_update(
        &self,
        actor_id: &str,
        p: PreparedUpdate,
        new_ref: Option<&str>,
    ) -> Committed {
        let revision = p.loaded.revision;
        let digest = p.loaded.digest.clone();
        let compile_time = p.loaded.compile_time;
        let identity = ActorIdentity {
            public_key: actor_id.to_string(),
            ..p.identity
        };
        let (instances, swapped) = {
            let mut actors = lock(&self.actors);
            match actors.get_mut(actor_id) {
                Some(a) => {
                    a.live.send_replace(p.loaded);
                    let swapped = Instant::now();
                    a.identity = identity.clone();
                    if let Some(r) = new_ref {
                        a.image_ref = r.to_string();
                    }
                    a.source = p.source;
                    (a.instances.keys().cloned().collect::<Vec<_>>(), swapped)
                }
                None => (Vec::new(), Instant::now()),
            }
        };
        if let Err(e) = self.data.put_claims(&identity.claims_map()).await {
            tracing::warn!(error = %e, "could not write updated claims");
        }
        for id in instances {
            self.events
                .publish(EventData::ActorUpdated(ActorUpdated {
                    public_key: actor_id.to_string(),
                    revision,
                    instance_id: id,
                }))
                .await;
        }
        Committed {
            revision,
            digest,
            compile_time,
            swapped,
        }
    }

    async fn fail_update(&self, actor_id: &str, revision: i64, reason: &str) {
        let instances: Vec<String> = {
            let mut actors = lock(&self.actors);
            match actors.get_mut(actor_id) {
                Some(a) => {
                    a.last_error = Some(reason.to_string());
                    a.instances.keys().cloned().collect()
                }
                None => Vec::new(),
            }
        };
        for id in instances {
            self.events
                .publish(EventData::ActorUpdateFailed(ActorUpdateFailed {
                    public_key: actor_id.to_string(),
                    revision,
                    instance_id: id,
                    reason: reason.to_string(),
                }))
                .await;
        }
    }
}
