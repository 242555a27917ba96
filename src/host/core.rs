//! The host's state and the operations on it: actors (start, stop, scale, live update),
//! the built-in HTTP server provider, links turned into HTTP routes, heartbeats, inventory.
//!
//! Owns the actor and provider tables (behind short `std::sync::Mutex` sections, never held
//! across an await) and the reconciliation of lattice links into routes of the HTTP provider.
//! Every outcome is published as a lattice event (PROTOCOL.md §3, 0.63 shapes); the control
//! interface in `ctl.rs` only parses, acks and calls in here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::claims::{self, ActorIdentity, ClaimsPolicy};
use super::events::EventPublisher;
use super::http::{ActorTarget, CallStats, HttpProvider};
use super::identity::HostIdentity;
use super::lattice_data::{LatticeData, LinkChange};
use super::runtime::{Loaded, Runtime};
use crate::lattice::bus::Bus;
use crate::lattice::protocol::{
    ActorDescription, ActorInstance, ActorStartFailed, ActorStarted, ActorStopped,
    ActorUpdateFailed, ActorUpdated, ActorsStartFailed, ActorsStarted, ActorsStopped, ClaimsMap,
    EventData, HealthCheck, HeartbeatActors, HeartbeatProvider, Host, HostHeartbeat, HostInventory,
    HostStarted, HostStopped, LinkDefinition, ProviderDescription, ProviderEventClaims,
    ProviderStartFailed, ProviderStarted, ProviderStopped, RegistryCredentialMap, StringMap,
};
use crate::lattice::subjects::Subjects;

/// Reference that starts the built-in HTTP server provider with `cmd.{host}.lp`.
pub const BUILTIN_HTTP_REF: &str = "builtin:httpserver";
/// Contract of the built-in HTTP server provider.
pub const HTTP_CONTRACT: &str = "wasmcloud:httpserver";
/// Name in the built-in provider's claims.
pub const BUILTIN_HTTP_NAME: &str = "HTTP Server (built-in)";

/// The built-in HTTP server provider's public key: a service key (`V…`) derived from a fixed
/// seed, the same on every lattice-tui host, so one link serves on whichever hosts run it.
pub fn builtin_http_key() -> String {
    use sha2::{Digest, Sha256};
    let seed: [u8; 32] = Sha256::digest(b"lattice-tui/builtin/httpserver/v1").into();
    nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::Service, seed)
        .map(|kp| kp.public_key())
        .unwrap_or_else(|_| format!("V{}", hex::encode_upper(&seed[..27])))
}

/// Settings the core needs at run time.
#[derive(Debug, Clone)]
pub(crate) struct CoreSettings {
    pub policy: ClaimsPolicy,
    /// Hot-reload every actor started from a file.
    pub watch_all: bool,
}

/// One running instance of an actor.
#[derive(Debug, Clone)]
pub(crate) struct InstanceInfo {
    pub annotations: StringMap,
}

/// An actor running on this host.
pub(crate) struct ActorEntry {
    pub identity: ActorIdentity,
    /// The reference exactly as the client gave it.
    pub image_ref: String,
    /// The file it was loaded from.
    pub source: PathBuf,
    /// The current version; routes read it per request, updates swap it.
    pub live: watch::Sender<Arc<Loaded>>,
    pub stats: Arc<CallStats>,
    pub instances: BTreeMap<String, InstanceInfo>,
    /// Whether the file is watched for hot reload.
    pub watched: bool,
    /// The last successful hot reload.
    pub last_reload: Option<super::ReloadInfo>,
    /// The last failed update or reload, cleared by the next good one.
    pub last_error: Option<String>,
}

impl ActorEntry {
    fn revision(&self) -> i64 {
        self.live.borrow().revision
    }
}

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

/// A running instance of the built-in HTTP server provider (keyed by link name).
#[derive(Debug, Clone)]
pub(crate) struct ProviderEntry {
    pub image_ref: String,
    pub instance_id: String,
    pub annotations: StringMap,
    /// Last health published: `None` until the first check.
    pub healthy: Option<bool>,
}

/// A route currently applied to the HTTP provider, by link id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AppliedRoute {
    actor_id: String,
    values: StringMap,
}

/// Why an operation failed, as the text that goes into failure events and acks.
pub(crate) type OpError = String;

/// What a start-provider request turned into.
pub(crate) enum ProviderStart {
    /// Started (events published).
    Started,
    /// The same provider and link name already run here: a failure ack at once (OTP).
    AlreadyRunning(String),
    /// Accepted, but it failed (a `provider_start_failed` was published).
    Failed,
}

/// The host.
pub(crate) struct HostInner {
    pub identity: HostIdentity,
    pub subjects: Subjects,
    pub bus: Bus,
    pub events: EventPublisher,
    pub runtime: Runtime,
    pub http: HttpProvider,
    pub data: LatticeData,
    pub settings: CoreSettings,
    pub started: Instant,
    pub builtin_http_key: String,
    pub actors: Mutex<BTreeMap<String, ActorEntry>>,
    pub providers: Mutex<BTreeMap<String, ProviderEntry>>,
    /// Every link of the lattice, as last seen in the lattice data.
    pub links: Mutex<BTreeMap<String, LinkDefinition>>,
    routes: Mutex<BTreeMap<String, AppliedRoute>>,
    route_errors: Mutex<BTreeMap<String, String>>,
    /// Serialises route reconciliation (which awaits the HTTP provider).
    reconcile_lock: tokio::sync::Mutex<()>,
    pub registries: Mutex<RegistryCredentialMap>,
    /// Ask for a heartbeat now (after `ping.hosts`).
    pub heartbeat_now: Notify,
    /// Fires when the host must stop (signal, `cmd.{host}.stop`, the handle).
    pub shutdown: CancellationToken,
    /// Every task the host spawns.
    pub tasks: TaskTracker,
    /// Follows watched actors' files (hot reload).
    pub watcher: Mutex<Option<crate::watch::FileWatcher>>,
}

/// Locks a table. A poisoned lock means a panic elsewhere already; the data is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `5 minutes, 12 seconds`.
pub fn uptime_human(secs: u64) -> String {
    let units = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let mut left = secs;
    let mut parts = Vec::new();
    for (size, name) in units {
        let n = left / size;
        left %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        "0 seconds".to_string()
    } else {
        parts.join(", ")
    }
}

/// A new version checked and compiled ahead of time by [`HostInner::speculate`].
pub struct Speculation {
    /// The running revision it was prepared against.
    base_revision: i64,
    result: Result<PreparedUpdate, (i64, OpError)>,
    /// When it was ready.
    compiled: Instant,
}

/// Where an actor reference points. Only files are supported; OCI and bindle references get
/// a clear refusal instead of a long timeout.
pub fn resolve_actor_ref(actor_ref: &str) -> Result<PathBuf, OpError> {
    if let Some(rest) = actor_ref.strip_prefix("file://") {
        return Ok(PathBuf::from(rest));
    }
    if actor_ref.starts_with("bindle://") {
        return Err(format!(
            "bindle references are not supported: {actor_ref} (start actors from a file path or file:// URL)"
        ));
    }
    let path = Path::new(actor_ref);
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    let looks_oci = actor_ref.starts_with("oci://")
        || actor_ref
            .split_once('/')
            .is_some_and(|(registry, _)| registry.contains('.') || registry.contains(':'))
        || (!actor_ref.contains('/') && actor_ref.contains(':'));
    if looks_oci && !actor_ref.starts_with('/') && !actor_ref.starts_with('.') {
        return Err(format!(
            "OCI references are not supported yet: {actor_ref} (start actors from a file path or file:// URL)"
        ));
    }
    Err(format!("no such file: {actor_ref}"))
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "actor".to_string())
}

fn new_instance_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Whether `have` carries every pair of `filter`.
fn annotations_match(have: &StringMap, filter: &StringMap) -> bool {
    filter.iter().all(|(k, v)| have.get(k) == Some(v))
}

impl HostInner {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        identity: HostIdentity,
        subjects: Subjects,
        bus: Bus,
        runtime: Runtime,
        http: HttpProvider,
        data: LatticeData,
        settings: CoreSettings,
    ) -> Self {
        let events = EventPublisher::new(bus.clone(), subjects.events(), identity.host_id());
        Self {
            identity,
            subjects,
            bus,
            events,
            runtime,
            http,
            data,
            settings,
            started: Instant::now(),
            builtin_http_key: builtin_http_key(),
            actors: Mutex::new(BTreeMap::new()),
            providers: Mutex::new(BTreeMap::new()),
            links: Mutex::new(BTreeMap::new()),
            routes: Mutex::new(BTreeMap::new()),
            route_errors: Mutex::new(BTreeMap::new()),
            reconcile_lock: tokio::sync::Mutex::new(()),
            registries: Mutex::new(RegistryCredentialMap::new()),
            heartbeat_now: Notify::new(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            watcher: Mutex::new(None),
        }
    }

    pub fn host_id(&self) -> String {
        self.identity.host_id()
    }

    fn uptime(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    // ---- queries -------------------------------------------------------------------------

    /// The `ping.hosts` reply.
    pub fn ping_reply(&self) -> Host {
        let uptime = self.uptime();
        Host {
            id: self.host_id(),
            issuer: Some(self.identity.cluster_public_key()),
            labels: self.identity.labels.clone(),
            friendly_name: self.identity.friendly_name.clone(),
            uptime_seconds: uptime,
            uptime_human: Some(uptime_human(uptime)),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            cluster_issuers: Some(self.identity.cluster_issuers.join(",")),
            js_domain: None,
            ctl_host: Some(self.bus.transport().to_string()),
            prov_rpc_host: Some(self.bus.transport().to_string()),
            rpc_host: Some(self.bus.transport().to_string()),
            lattice_prefix: Some(self.subjects.lattice().to_string()),
        }
    }

    /// The `get.{host}.inv` reply.
    pub fn inventory(&self) -> HostInventory {
        let actors = lock(&self.actors)
            .values()
            .map(|a| {
                let revision = a.revision();
                ActorDescription {
                    id: a.identity.public_key.clone(),
                    image_ref: Some(a.image_ref.clone()),
                    name: a.identity.name.clone(),
                    instances: a
                        .instances
                        .iter()
                        .map(|(id, i)| ActorInstance {
                            instance_id: id.clone(),
                            annotations: Some(i.annotations.clone()),
                            revision,
                            max_concurrent: 1,
                        })
                        .collect(),
                }
            })
            .collect();
        let providers = lock(&self.providers)
            .iter()
            .map(|(link, p)| ProviderDescription {
                id: self.builtin_http_key.clone(),
                image_ref: Some(p.image_ref.clone()),
                contract_id: HTTP_CONTRACT.to_string(),
                link_name: link.clone(),
                name: Some(BUILTIN_HTTP_NAME.to_string()),
                instance_id: p.instance_id.clone(),
                annotations: Some(p.annotations.clone()),
                revision: 0,
            })
            .collect();
        HostInventory {
            host_id: self.host_id(),
            issuer: Some(self.identity.cluster_public_key()),
            friendly_name: self.identity.friendly_name.clone(),
            labels: self.identity.labels.clone(),
            actors,
            providers,
        }
    }

    /// The heartbeat data (0.60+ shape: actor counts).
    pub fn heartbeat(&self) -> HostHeartbeat {
        let uptime = self.uptime();
        let actors = lock(&self.actors)
            .values()
            .map(|a| (a.identity.public_key.clone(), a.instances.len() as u64))
            .collect();
        let providers = lock(&self.providers)
            .keys()
            .map(|link| HeartbeatProvider {
                public_key: self.builtin_http_key.clone(),
                link_name: link.clone(),
                contract_id: HTTP_CONTRACT.to_string(),
                instance_id: None,
            })
            .collect();
        HostHeartbeat {
            actors: HeartbeatActors::Counts(actors),
            providers,
            labels: self.identity.labels.clone(),
            friendly_name: self.identity.friendly_name.clone(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            uptime_seconds: Some(uptime),
            uptime_human: Some(uptime_human(uptime)),
        }
    }

    /// `host_started` data.
    pub fn host_started(&self) -> EventData {
        EventData::HostStarted(HostStarted {
            labels: self.identity.labels.clone(),
            friendly_name: self.identity.friendly_name.clone(),
            uptime_seconds: Some(self.uptime()),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        })
    }

    /// `host_stopped` data.
    pub fn host_stopped(&self) -> EventData {
        EventData::HostStopped(HostStopped {
            labels: self.identity.labels.clone(),
        })
    }

    /// Per-actor call counters and notes, for the console.
    pub fn actor_stats(&self) -> Vec<super::ActorStats> {
        lock(&self.actors)
            .values()
            .map(|a| {
                let live = a.live.borrow().clone();
                super::ActorStats {
                    public_key: a.identity.public_key.clone(),
                    name: a.identity.name.clone(),
                    calls: a.stats.snapshot(),
                    revision: live.revision,
                    digest: live.digest.clone(),
                    note: live.no_http_reason.clone(),
                    source: a.source.clone(),
                    watched: a.watched,
                    last_reload: a.last_reload.clone(),
                    last_error: a.last_error.clone(),
                }
            })
            .collect()
    }

    // ---- actors ----------------------------------------------------------------------------

    /// Starts `count` instances of the actor at `actor_ref`. Publishes `actor_started` per
    /// instance and `actors_started`, or `actor_start_failed` + `actors_start_failed`.
    pub async fn start_actor(
        self: &Arc<Self>,
        actor_ref: &str,
        count: u16,
        annotations: StringMap,
    ) {
        if let Err((public_key, error)) = self.try_start_actor(actor_ref, count, &annotations).await
        {
            tracing::warn!(actor_ref, %error, "actor start failed");
            self.events
                .publish(EventData::ActorStartFailed(ActorStartFailed {
                    actor_ref: actor_ref.to_string(),
                    error: error.clone(),
                }))
                .await;
            self.events
                .publish(EventData::ActorsStartFailed(ActorsStartFailed {
                    public_key: public_key.unwrap_or_default(),
                    image_ref: Some(actor_ref.to_string()),
                    annotations,
                    host_id: self.host_id(),
                    error,
                }))
                .await;
        }
    }

    /// The running actor started from exactly `actor_ref`, if any.
    pub fn actor_by_ref(&self, actor_ref: &str) -> Option<String> {
        lock(&self.actors)
            .values()
            .find(|a| a.image_ref == actor_ref)
            .map(|a| a.identity.public_key.clone())
    }

    /// Instance count of a running actor.
    pub fn actor_count(&self, public_key: &str) -> Option<usize> {
        lock(&self.actors)
            .get(public_key)
            .map(|a| a.instances.len())
    }

    async fn try_start_actor(
        self: &Arc<Self>,
        actor_ref: &str,
        count: u16,
        annotations: &StringMap,
    ) -> Result<(), (Option<String>, OpError)> {
        let count = count.max(1);
        if let Some(pk) = self.actor_by_ref(actor_ref) {
            self.add_instances(&pk, count, annotations, actor_ref).await;
            return Ok(());
        }
        let path = resolve_actor_ref(actor_ref).map_err(|e| (None, e))?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| (None, format!("cannot read {}: {e}", path.display())))?;
        let source = tokio::fs::canonicalize(&path)
            .await
            .unwrap_or_else(|_| path.clone());
        let policy = self.settings.policy.clone();
        let stem = file_stem(&path);
        let source_text = source.to_string_lossy().into_owned();
        let (identity, bytes) = tokio::task::spawn_blocking(move || {
            claims::identify(&bytes, &source_text, &stem, &policy).map(|id| (id, bytes))
        })
        .await
        .map_err(|e| (None, format!("claims check failed: {e}")))?
        .map_err(|e| (None, e.to_string()))?;
        let pk = identity.public_key.clone();
        if lock(&self.actors).contains_key(&pk) {
            self.add_instances(&pk, count, annotations, actor_ref).await;
            return Ok(());
        }
        let loaded = self
            .runtime
            .load(bytes, i64::from(identity.rev.unwrap_or(0)))
            .await
            .map_err(|e| (Some(pk.clone()), e.to_string()))?;
        if let Some(reason) = &loaded.no_http_reason {
            tracing::info!(actor = %pk, %reason, "actor started without an HTTP handler");
        }
        let wants_watch = self.settings.watch_all
            || annotations
                .get(super::reload::WATCH_ANNOTATION)
                .is_some_and(|v| v == "true");
        let watched = wants_watch && super::reload::watch(&self.watcher, &source);
        {
            let mut actors = lock(&self.actors);
            if !actors.contains_key(&pk) {
                let (live, _) = watch::channel(loaded);
                actors.insert(
                    pk.clone(),
                    ActorEntry {
                        identity: identity.clone(),
                        image_ref: actor_ref.to_string(),
                        source,
                        live,
                        stats: Arc::new(CallStats::default()),
                        instances: BTreeMap::new(),
                        watched,
                        last_reload: None,
                        last_error: None,
                    },
                );
            }
        }
        if let Err(e) = self.data.put_claims(&identity.claims_map()).await {
            tracing::warn!(error = %e, actor = %pk, "could not write actor claims to the lattice data");
        }
        self.add_instances(&pk, count, annotations, actor_ref).await;
        self.reconcile_routes().await;
        Ok(())
    }

    async fn add_instances(&self, pk: &str, count: u16, annotations: &StringMap, actor_ref: &str) {
        let (ids, claims, image_ref) = {
            let mut actors = lock(&self.actors);
            let Some(a) = actors.get_mut(pk) else { return };
            let ids: Vec<String> = (0..count).map(|_| new_instance_id()).collect();
            for id in &ids {
                a.instances.insert(
                    id.clone(),
                    InstanceInfo {
                        annotations: annotations.clone(),
                    },
                );
            }
            (ids, a.identity.event_claims(), actor_ref.to_string())
        };
        for id in &ids {
            self.events
                .publish(EventData::ActorStarted(ActorStarted {
                    public_key: pk.to_string(),
                    image_ref: Some(image_ref.clone()),
                    api_version: Some("n/a".into()),
                    instance_id: id.clone(),
                    annotations: annotations.clone(),
                    claims: Some(claims.clone()),
                }))
                .await;
        }
        self.events
            .publish(EventData::ActorsStarted(ActorsStarted {
                public_key: pk.to_string(),
                image_ref: Some(image_ref),
                annotations: annotations.clone(),
                host_id: self.host_id(),
                claims: Some(claims),
                count: ids.len() as u64,
            }))
            .await;
    }

    /// Stops up to `count` instances (`None` or 0: all) of `public_key` carrying `filter`.
    ///
    /// # Errors
    /// The actor does not run here, or no instance matches.
    pub async fn stop_actor(
        self: &Arc<Self>,
        public_key: &str,
        count: Option<u16>,
        filter: &StringMap,
    ) -> Result<(), OpError> {
        let (stopped, remaining, gone) = {
            let mut actors = lock(&self.actors);
            let Some(a) = actors.get_mut(public_key) else {
                return Err(format!("actor {public_key} is not running on this host"));
            };
            let limit = match count {
                None | Some(0) => usize::MAX,
                Some(n) => usize::from(n),
            };
            let ids: Vec<String> = a
                .instances
                .iter()
                .filter(|(_, i)| annotations_match(&i.annotations, filter))
                .map(|(id, _)| id.clone())
                .take(limit)
                .collect();
            if ids.is_empty() {
                return Err(format!(
                    "no instance of actor {public_key} matches the given annotations"
                ));
            }
            let stopped: Vec<(String, InstanceInfo)> = ids
                .into_iter()
                .filter_map(|id| a.instances.remove(&id).map(|i| (id, i)))
                .collect();
            let remaining = a.instances.len();
            let gone = if remaining == 0 {
                actors
                    .remove(public_key)
                    .filter(|a| a.watched)
                    .map(|a| a.source)
            } else {
                None
            };
            (stopped, remaining, gone)
        };
        if let Some(source) = gone {
            super::reload::unwatch_if_unused(self, &source);
        }
        self.publish_stopped(public_key, &stopped, remaining, filter)
            .await;
        if remaining == 0 {
            self.reconcile_routes().await;
        }
        Ok(())
    }

    async fn publish_stopped(
        &self,
        public_key: &str,
        stopped: &[(String, InstanceInfo)],
        remaining: usize,
        filter: &StringMap,
    ) {
        for (id, info) in stopped {
            self.events
                .publish(EventData::ActorStopped(ActorStopped {
                    public_key: public_key.to_string(),
                    instance_id: id.clone(),
                    annotations: info.annotations.clone(),
                }))
                .await;
        }
        self.events
            .publish(EventData::ActorsStopped(ActorsStopped {
                host_id: self.host_id(),
                public_key: public_key.to_string(),
                count: stopped.len() as u64,
                remaining: remaining as u64,
                annotations: filter.clone(),
            }))
            .await;
    }

    /// Scales an actor to `count` instances (`None`: unbounded, i.e. at least one; 0: stop
    /// all). `actor_id` may be absent or empty (washboard, control-interface 0.30): the actor
    /// is then found by its reference.
    pub async fn scale_actor(
        self: &Arc<Self>,
        actor_id: Option<&str>,
        actor_ref: &str,
        count: Option<u16>,
        annotations: StringMap,
    ) {
        let pk = actor_id
            .filter(|id| !id.is_empty() && self.actor_count(id).is_some())
            .map(str::to_string)
            .or_else(|| self.actor_by_ref(actor_ref));
        let current = pk
            .as_deref()
            .and_then(|pk| self.actor_count(pk))
            .unwrap_or(0);
        let desired = match count {
            Some(n) => usize::from(n),
            None => current.max(1),
        };
        match pk {
            None if desired == 0 => {}
            None => {
                let n = u16::try_from(desired).unwrap_or(u16::MAX);
                self.start_actor(actor_ref, n, annotations).await;
            }
            Some(pk) if desired > current => {
                let n = u16::try_from(desired - current).unwrap_or(u16::MAX);
                let image_ref = lock(&self.actors)
                    .get(&pk)
                    .map(|a| a.image_ref.clone())
                    .unwrap_or_else(|| actor_ref.to_string());
                self.add_instances(&pk, n, &annotations, &image_ref).await;
            }
            Some(pk) if desired < current => {
                let n = u16::try_from(current - desired).unwrap_or(u16::MAX);
                if let Err(e) = self.stop_actor(&pk, Some(n), &StringMap::new()).await {
                    tracing::warn!(actor = %pk, error = %e, "scale down failed");
                }
            }
            Some(_) => {}
        }
    }

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
    ) -> Result<i64, OpError> {
        let current = self.current_version(actor_id)?;
        let next = current.revision + 1;
        let read = async {
            let path = resolve_actor_ref(new_ref)?;
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let source = tokio::fs::canonicalize(&path)
                .await
                .unwrap_or_else(|_| path.clone());
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
    ) -> Result<super::ReloadInfo, OpError> {
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
                let info = super::ReloadInfo {
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
        self.fail_update(actor_id, current.revision + 1, reason)
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
        let next = current.revision + 1;
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

    /// Stops every actor (shutdown), with their events.
    pub async fn stop_all_actors(self: &Arc<Self>) {
        let all: Vec<String> = lock(&self.actors).keys().cloned().collect();
        for pk in all {
            let _ = self.stop_actor(&pk, None, &StringMap::new()).await;
        }
    }

    // ---- providers ---------------------------------------------------------------------------

    fn provider_claims(&self) -> ProviderEventClaims {
        ProviderEventClaims {
            issuer: Some(String::new()),
            tags: Some(vec![]),
            name: Some(BUILTIN_HTTP_NAME.to_string()),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            not_before_human: Some("immediately".into()),
            expires_human: Some("never".into()),
        }
    }

    fn provider_claims_map(&self) -> ClaimsMap {
        [
            ("sub", self.builtin_http_key.clone()),
            ("iss", String::new()),
            ("name", BUILTIN_HTTP_NAME.to_string()),
            ("call_alias", String::new()),
            ("caps", String::new()),
            ("rev", "0".to_string()),
            ("tags", String::new()),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("contract_id", HTTP_CONTRACT.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Starts a provider. Only the built-in HTTP server (`builtin:httpserver`) runs here.
    pub async fn start_provider(
        self: &Arc<Self>,
        provider_ref: &str,
        link_name: &str,
        annotations: StringMap,
    ) -> ProviderStart {
        let failed = |error: String| {
            EventData::ProviderStartFailed(ProviderStartFailed {
                provider_ref: provider_ref.to_string(),
                link_name: link_name.to_string(),
                error,
            })
        };
        if provider_ref != BUILTIN_HTTP_REF {
            let error = format!(
                "only the built-in HTTP server provider ({BUILTIN_HTTP_REF}) runs on this host; {provider_ref} is not supported yet"
            );
            self.events.publish(failed(error)).await;
            return ProviderStart::Failed;
        }
        let instance_id = new_instance_id();
        let inserted = {
            let mut providers = lock(&self.providers);
            if providers.contains_key(link_name) {
                false
            } else {
                providers.insert(
                    link_name.to_string(),
                    ProviderEntry {
                        image_ref: provider_ref.to_string(),
                        instance_id: instance_id.clone(),
                        annotations: annotations.clone(),
                        healthy: None,
                    },
                );
                true
            }
        };
        if !inserted {
            let error = format!(
                "provider {BUILTIN_HTTP_REF} with link name {link_name} is already running on this host"
            );
            self.events.publish(failed(error.clone())).await;
            return ProviderStart::AlreadyRunning(error);
        }
        if let Err(e) = self.data.put_claims(&self.provider_claims_map()).await {
            tracing::warn!(error = %e, "could not write provider claims");
        }
        self.events
            .publish(EventData::ProviderStarted(ProviderStarted {
                public_key: self.builtin_http_key.clone(),
                image_ref: Some(provider_ref.to_string()),
                link_name: link_name.to_string(),
                contract_id: HTTP_CONTRACT.to_string(),
                instance_id,
                annotations,
                claims: Some(self.provider_claims()),
            }))
            .await;
        self.reconcile_routes().await;
        self.check_health().await;
        ProviderStart::Started
    }

    /// Stops the built-in provider running under `link_name`.
    ///
    /// # Errors
    /// It does not run here.
    pub async fn stop_provider(
        self: &Arc<Self>,
        public_key: &str,
        link_name: &str,
    ) -> Result<(), OpError> {
        if public_key != self.builtin_http_key {
            return Err(format!("provider {public_key} is not running on this host"));
        }
        let Some(entry) = lock(&self.providers).remove(link_name) else {
            return Err(format!(
                "provider {public_key} with link name {link_name} is not running on this host"
            ));
        };
        self.reconcile_routes().await;
        self.events
            .publish(EventData::ProviderStopped(ProviderStopped {
                public_key: public_key.to_string(),
                link_name: link_name.to_string(),
                contract_id: HTTP_CONTRACT.to_string(),
                instance_id: entry.instance_id,
                annotations: entry.annotations,
                reason: "normal".into(),
            }))
            .await;
        Ok(())
    }

    /// Stops every provider (shutdown), with their events.
    pub async fn stop_all_providers(self: &Arc<Self>) {
        let links: Vec<String> = lock(&self.providers).keys().cloned().collect();
        let key = self.builtin_http_key.clone();
        for link in links {
            let _ = self.stop_provider(&key, &link).await;
        }
    }

    /// Publishes provider health: `health_check_passed` / `_failed` on a change,
    /// `health_check_status` otherwise (OTP 0.62+).
    pub async fn check_health(&self) {
        let healthy = self.http.healthy() && lock(&self.route_errors).is_empty();
        let updates: Vec<(String, Option<bool>)> = {
            let mut providers = lock(&self.providers);
            providers
                .iter_mut()
                .map(|(link, p)| {
                    let before = p.healthy.replace(healthy);
                    (link.clone(), before)
                })
                .collect()
        };
        for (link, before) in updates {
            let hc = HealthCheck {
                public_key: self.builtin_http_key.clone(),
                contract_id: HTTP_CONTRACT.to_string(),
                link_name: link,
            };
            let data = match (before, healthy) {
                (Some(b), h) if b == h => EventData::HealthCheckStatus(hc),
                (_, true) => EventData::HealthCheckPassed(hc),
                (_, false) => EventData::HealthCheckFailed(hc),
            };
            self.events.publish(data).await;
        }
    }

    // ---- links -----------------------------------------------------------------------------

    /// Applies a change seen in the lattice data: publishes `linkdef_set` / `linkdef_deleted`
    /// and updates routes.
    pub async fn on_link_change(self: &Arc<Self>, change: LinkChange) {
        match change {
            LinkChange::Set(link) => {
                let link = link.with_id();
                lock(&self.links).insert(link.id.clone(), link.clone());
                self.events.publish(EventData::LinkdefSet(link)).await;
            }
            LinkChange::Deleted(link) => {
                let link = link.with_id();
                lock(&self.links).remove(&link.id);
                self.events.publish(EventData::LinkdefDeleted(link)).await;
            }
        }
        self.reconcile_routes().await;
    }

    /// Brings the HTTP provider's routes in line with the links, the running actors and the
    /// running provider link names.
    pub async fn reconcile_routes(&self) {
        let _serial = self.reconcile_lock.lock().await;
        let want: BTreeMap<String, (AppliedRoute, ActorTarget)> = {
            let links = lock(&self.links);
            let actors = lock(&self.actors);
            let providers = lock(&self.providers);
            links
                .values()
                .filter(|l| {
                    l.contract_id == HTTP_CONTRACT
                        && l.provider_id == self.builtin_http_key
                        && providers.contains_key(&l.link_name)
                })
                .filter_map(|l| {
                    let a = actors.get(&l.actor_id)?;
                    Some((
                        l.id.clone(),
                        (
                            AppliedRoute {
                                actor_id: l.actor_id.clone(),
                                values: l.values.clone(),
                            },
                            ActorTarget {
                                actor_id: l.actor_id.clone(),
                                live: a.live.subscribe(),
                                stats: a.stats.clone(),
                            },
                        ),
                    ))
                })
                .collect()
        };
        let have = lock(&self.routes).clone();
        for (id, applied) in &have {
            if want.get(id).map(|(a, _)| a) != Some(applied) {
                self.http.remove_route(id).await;
                lock(&self.routes).remove(id);
                lock(&self.route_errors).remove(id);
            }
        }
        let mut errors_changed = false;
        for (id, (applied, target)) in want {
            if lock(&self.routes).contains_key(&id) {
                continue;
            }
            match self.http.put_route(&id, target, &applied.values).await {
                Ok(addr) => {
                    tracing::info!(link = %id, actor = %applied.actor_id, %addr, "HTTP route up");
                    lock(&self.routes).insert(id.clone(), applied);
                    errors_changed |= lock(&self.route_errors).remove(&id).is_some();
                }
                Err(e) => {
                    tracing::warn!(link = %id, error = %e, "cannot serve HTTP for a link");
                    errors_changed |= lock(&self.route_errors)
                        .insert(id.clone(), e.to_string())
                        .is_none();
                }
            }
        }
        if errors_changed {
            self.check_health().await;
        }
    }

    /// Whether the route of link `id` is up (`Some(Ok)`), failed (`Some(Err(why))`), or not
    /// reconciled yet (`None`).
    pub fn route_state(&self, id: &str) -> Option<Result<(), String>> {
        if lock(&self.routes).contains_key(id) {
            return Some(Ok(()));
        }
        lock(&self.route_errors).get(id).cloned().map(Err)
    }

    /// Routes currently applied: link id → actor id.
    pub fn applied_routes(&self) -> BTreeSet<String> {
        lock(&self.routes).keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_like_the_otp_host() {
        assert_eq!(uptime_human(0), "0 seconds");
        assert_eq!(uptime_human(1), "1 second");
        assert_eq!(uptime_human(312), "5 minutes, 12 seconds");
        assert_eq!(uptime_human(90_061), "1 day, 1 hour, 1 minute, 1 second");
    }

    #[test]
    fn refs_resolve_to_files_or_a_clear_refusal() {
        let dir = std::env::temp_dir();
        let here = dir.to_string_lossy().into_owned();
        assert_eq!(resolve_actor_ref(&here).unwrap(), dir);
        assert_eq!(
            resolve_actor_ref("file:///tmp/x.wasm").unwrap(),
            PathBuf::from("/tmp/x.wasm")
        );
        for oci in [
            "wasmcloud.azurecr.io/echo:0.3.4",
            "ghcr.io/acme/x:1",
            "localhost:5000/echo:1",
            "oci://ghcr.io/x",
        ] {
            let e = resolve_actor_ref(oci).unwrap_err();
            assert!(
                e.contains("OCI references are not supported yet"),
                "{oci}: {e}"
            );
        }
        assert!(
            resolve_actor_ref("bindle://x/y")
                .unwrap_err()
                .contains("bindle")
        );
        assert!(
            resolve_actor_ref("./missing.wasm")
                .unwrap_err()
                .contains("no such file")
        );
    }

    #[test]
    fn the_builtin_provider_key_is_a_stable_service_key() {
        let k = builtin_http_key();
        assert_eq!(k, builtin_http_key());
        assert!(k.starts_with('V') && k.len() == 56);
        assert!(nkeys::KeyPair::from_public_key(&k).is_ok());
    }
}
