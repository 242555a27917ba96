//! The host's state and the operations on it.
//!
//! Owns the actor and provider tables, the links seen in the lattice data, the routes applied
//! to the HTTP provider and the host's limits. The tables sit behind short `std::sync::Mutex`
//! sections, never held across an await, and are private to this module: the control
//! interface (`ctl.rs`), the reload loop (`reload.rs`) and the lifecycle tasks only call the
//! functions here. Every outcome is published as a lattice event (PROTOCOL.md §3, 0.63
//! shapes).
//!
//! Layout: [`queries`] (ping reply, inventory, heartbeat, console facts), [`actors`] (start,
//! stop, scale; the instance budget), [`update`] (live update and hot reload), [`providers`]
//! (the built-in HTTP server provider and its health), [`routes`] (links → HTTP routes, the
//! data watch's state).
//!
//! # Limits (what a lattice client can make this host do)
//! - at most [`HostLimits::max_instances`] actor instances in all; a start or scale beyond is
//!   refused (a failure ack when it is plain at once, an `actor_start_failed` always);
//! - at most [`HostLimits::max_pending_ops`] accepted start / scale / provider operations in
//!   progress; more are refused with a failure ack (`cmd.{host}.upd` runs while its request
//!   waits, under the control interface's own bound);
//! - compilations are bounded by the runtime (`runtime::MAX_CONCURRENT_COMPILES`);
//! - files only as the file-load policy allows (`files.rs`).

mod actors;
mod calls;
mod external;
mod providers;
mod queries;
mod routes;
mod update;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::claims::{ActorIdentity, ClaimsPolicy};
use super::events::EventPublisher;
use super::files::FileLoadPolicy;
use super::http::{CallStats, HttpProvider};
use super::identity::HostIdentity;
use super::lattice_data::LatticeData;
use super::rpc::RpcLink;
use super::runtime::{Loaded, Runtime};
use crate::lattice::bus::Bus;
use crate::lattice::protocol::{LinkDefinition, RegistryCredentialMap, StringMap};
use crate::lattice::subjects::Subjects;
use crate::sync::lock;

pub(crate) use self::calls::CoreCalls;
pub use self::queries::uptime_human;
pub(crate) use self::update::Speculation;

/// Reference that starts the built-in HTTP server provider with `cmd.{host}.lp`.
pub const BUILTIN_HTTP_REF: &str = "builtin:httpserver";
/// Contract of the built-in HTTP server provider.
pub const HTTP_CONTRACT: &str = "wasmcloud:httpserver";
/// Name in the built-in provider's claims.
pub const BUILTIN_HTTP_NAME: &str = "HTTP Server (built-in)";

/// Default [`HostLimits::max_instances`]: 1,000 actor instances per host, the pooling
/// allocator's instance count (each HTTP request runs in an instance of its own, so more
/// instances than that cannot all serve at once anyway) and far above what a developer host
/// runs. `la` takes up to 65,535 per request; this is what stops repeats from adding up.
pub const DEFAULT_MAX_INSTANCES: usize = 1_000;

/// Default [`HostLimits::max_pending_ops`]: start, scale and provider operations accepted but
/// not finished. Each may compile (bounded separately) and holds its request; 64 is far more
/// than a person or a deployment tool sends at once and keeps a flood from queueing work
/// without bound.
pub const DEFAULT_MAX_PENDING_OPS: usize = 64;

/// The built-in HTTP server provider's public key: a service key (`V…`) derived from a fixed
/// seed, the same on every lattice-tui host, so one link serves on whichever hosts run it.
pub fn builtin_http_key() -> String {
    super::providers::HTTPSERVER.public_key()
}

/// How much work lattice clients can make this host take on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Actor instances on this host, all actors together.
    pub max_instances: usize,
    /// Start / scale / provider operations accepted and not finished.
    pub max_pending_ops: usize,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            max_instances: DEFAULT_MAX_INSTANCES,
            max_pending_ops: DEFAULT_MAX_PENDING_OPS,
        }
    }
}

/// Settings the core needs at run time.
#[derive(Debug)]
pub(crate) struct CoreSettings {
    pub policy: ClaimsPolicy,
    /// Hot-reload every actor started from a file.
    pub watch_all: bool,
    pub limits: HostLimits,
    pub files: FileLoadPolicy,
}

/// One running instance of an actor.
#[derive(Debug, Clone)]
struct InstanceInfo {
    annotations: StringMap,
}

/// An actor running on this host.
struct ActorEntry {
    identity: ActorIdentity,
    /// The reference exactly as the client gave it.
    image_ref: String,
    /// The file it was loaded from.
    source: PathBuf,
    /// The current version; routes read it per request, updates swap it.
    live: watch::Sender<Arc<Loaded>>,
    stats: Arc<CallStats>,
    instances: BTreeMap<String, InstanceInfo>,
    /// Whether the file is watched for hot reload.
    watched: bool,
    /// The last successful hot reload.
    last_reload: Option<super::ReloadInfo>,
    /// The last failed update or reload, cleared by the next good one.
    last_error: Option<String>,
    /// The actor's RPC subscriber; dropping the entry stops it.
    _rpc: calls::RpcServing,
}

impl ActorEntry {
    fn revision(&self) -> i64 {
        self.live.borrow().revision
    }
}

/// A running provider, keyed by (public key, link name).
struct ProviderEntry {
    /// Which built-in provider this is; `None` for an external one.
    builtin: Option<super::providers::Builtin>,
    contract_id: String,
    name: String,
    image_ref: String,
    instance_id: String,
    annotations: StringMap,
    /// Last health published: `None` until the first check.
    healthy: Option<bool>,
    /// Its RPC subscriber (built-in) or its process' supervisor (external); dropping the
    /// entry stops it.
    _serving: Option<calls::RpcServing>,
}

/// A route currently applied to the HTTP provider, by link id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AppliedRoute {
    actor_id: String,
    values: StringMap,
    /// The actor does not run here: the route calls it over lattice RPC.
    remote: bool,
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

/// Faults injected on purpose, for tests and fault drills: each stretches a moment that is
/// normally too short to observe, so a test can show the host is right whatever the timing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Wait this long before making the control subscriptions (a slow scheduler or server).
    pub ctl_subscribe_delay: Option<Duration>,
    /// Wait this long before sending each control reply.
    pub ctl_reply_delay: Option<Duration>,
}

/// The host.
pub(crate) struct HostInner {
    pub identity: HostIdentity,
    pub subjects: Subjects,
    /// This host's side of lattice RPC (signing, timeouts).
    pub rpc: RpcLink,
    pub bus: Bus,
    pub events: EventPublisher,
    pub runtime: Runtime,
    pub http: HttpProvider,
    pub data: LatticeData,
    pub faults: Faults,
    settings: CoreSettings,
    started: Instant,
    builtin_http_key: String,
    actors: Mutex<BTreeMap<String, ActorEntry>>,
    providers: Mutex<BTreeMap<(String, String), ProviderEntry>>,
    /// Every link of the lattice, as last seen in the lattice data.
    links: Mutex<BTreeMap<String, LinkDefinition>>,
    routes: Mutex<BTreeMap<String, AppliedRoute>>,
    /// `builtin:messaging`'s deliveries, by link id: the link's values and the subscriptions'
    /// guard.
    message_subs: Mutex<BTreeMap<String, (StringMap, calls::RpcServing)>>,
    route_errors: Mutex<BTreeMap<String, String>>,
    /// Remote routes waiting for their address, which another process holds (say a second
    /// host on this machine serving the same link): link id → why. Not a failure; retried.
    route_standby: Mutex<BTreeMap<String, String>>,
    /// The counters of remote routes, by link id: kept while the link is, so a route that
    /// is re-applied keeps counting.
    remote_stats: Mutex<BTreeMap<String, Arc<CallStats>>>,
    /// Serialises route reconciliation (which awaits the HTTP provider).
    reconcile_lock: tokio::sync::Mutex<()>,
    /// Why the lattice-data watch is down, while it is (routes may be stale meanwhile).
    data_watch_error: Mutex<Option<String>>,
    registries: Mutex<RegistryCredentialMap>,
    /// Instances running or reserved for a start in progress (see [`HostLimits`]).
    instances_used: Arc<AtomicUsize>,
    /// Permits of [`HostLimits::max_pending_ops`].
    pending_ops: Arc<Semaphore>,
    /// Ask for a heartbeat now (after `ping.hosts`).
    pub heartbeat_now: Notify,
    /// Fires when the host must stop (signal, `cmd.{host}.stop`, the handle).
    pub shutdown: CancellationToken,
    /// Every task the host spawns.
    pub tasks: TaskTracker,
    /// Follows watched actors' files (hot reload).
    pub watcher: Mutex<Option<crate::watch::FileWatcher>>,
}

/// Everything [`HostInner::new`] is made from.
pub(crate) struct CoreParts {
    pub identity: HostIdentity,
    pub subjects: Subjects,
    pub rpc: RpcLink,
    pub bus: Bus,
    pub runtime: Runtime,
    pub http: HttpProvider,
    pub data: LatticeData,
    pub settings: CoreSettings,
    pub faults: Faults,
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
    pub fn new(parts: CoreParts) -> Self {
        let CoreParts {
            identity,
            subjects,
            rpc,
            bus,
            runtime,
            http,
            data,
            settings,
            faults,
        } = parts;
        let events = EventPublisher::new(bus.clone(), &subjects, identity.host_id());
        let pending_ops = Arc::new(Semaphore::new(settings.limits.max_pending_ops.max(1)));
        Self {
            identity,
            subjects,
            rpc,
            bus,
            events,
            runtime,
            http,
            data,
            faults,
            settings,
            started: Instant::now(),
            builtin_http_key: builtin_http_key(),
            actors: Mutex::new(BTreeMap::new()),
            providers: Mutex::new(BTreeMap::new()),
            links: Mutex::new(BTreeMap::new()),
            routes: Mutex::new(BTreeMap::new()),
            message_subs: Mutex::new(BTreeMap::new()),
            route_errors: Mutex::new(BTreeMap::new()),
            route_standby: Mutex::new(BTreeMap::new()),
            remote_stats: Mutex::new(BTreeMap::new()),
            reconcile_lock: tokio::sync::Mutex::new(()),
            data_watch_error: Mutex::new(None),
            registries: Mutex::new(RegistryCredentialMap::new()),
            instances_used: Arc::new(AtomicUsize::new(0)),
            pending_ops,
            heartbeat_now: Notify::new(),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            watcher: Mutex::new(None),
        }
    }

    pub fn host_id(&self) -> String {
        self.identity.host_id()
    }

    /// The built-in HTTP provider's public key.
    pub fn builtin_http_key(&self) -> &str {
        &self.builtin_http_key
    }

    fn uptime(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The file-load policy.
    pub fn files(&self) -> &FileLoadPolicy {
        &self.settings.files
    }

    /// Replaces the registry credentials (`registries.put`).
    pub fn set_registries(&self, creds: RegistryCredentialMap) {
        tracing::info!(registries = creds.len(), "registry credentials replaced");
        *lock(&self.registries) = creds;
    }

    /// A permit for one more start / scale / provider operation, if fewer than
    /// [`HostLimits::max_pending_ops`] are in progress.
    ///
    /// # Errors
    /// The limit is reached; the text says so.
    pub fn pending_op(&self) -> Result<OwnedSemaphorePermit, OpError> {
        Arc::clone(&self.pending_ops)
            .try_acquire_owned()
            .map_err(|_| {
                format!(
                    "this host is busy: {} start, scale and provider operations are already in progress; try again when they finish",
                    self.settings.limits.max_pending_ops
                )
            })
    }

    /// Instances running or reserved now.
    pub fn instances_used(&self) -> usize {
        self.instances_used.load(Ordering::Acquire)
    }
}
