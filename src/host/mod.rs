//! The embedded host: a lattice member that runs WebAssembly actors (components, WASI 0.2)
//! with wasmtime, answers the control interface, publishes events and heartbeats, keeps the
//! lattice's shared data, and serves HTTP to actors through a built-in provider.
//!
//! Layout: [`identity`] (keys, labels), [`claims`] (wascap), [`files`] (actor references, the
//! file-load policy, bounded reads), [`runtime`] (wasmtime engine, compile, per-request
//! stores), [`http`] (the `wasmcloud:httpserver` provider), [`guest_io`], [`lattice_data`]
//! (links and claims in JetStream KV or memory), [`events`], `core` (actor and provider
//! tables, routes, limits), `ctl` (the control interface), `lifecycle` (the background tasks
//! and the stop routine), `rates` (the call-counter samples), `reload` (hot reload), `handle`
//! ([`HostHandle`]: a host on a runtime of its own).
//!
//! Must not touch the console (`ui`, `state`, `app`, crossterm, ratatui). The host is just
//! another lattice member: the console sees it through the lattice like any remote host.
//! [`spawn`] runs it on a runtime of its own so guests never share workers with the console.

pub mod claims;
mod core;
mod ctl;
pub mod events;
pub mod files;
pub mod guest_io;
mod handle;
pub mod http;
pub mod identity;
pub mod lattice_data;
mod lifecycle;
pub mod providers;
mod rates;
mod reload;
pub mod rpc;
pub mod runtime;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use self::claims::ClaimsPolicy;
pub use self::core::{
    BUILTIN_HTTP_NAME, BUILTIN_HTTP_REF, DEFAULT_MAX_INSTANCES, DEFAULT_MAX_PENDING_OPS, Faults,
    HTTP_CONTRACT, HostLimits, builtin_http_key, uptime_human,
};
use self::core::{CoreParts, CoreSettings, HostInner, ProviderStart};
pub use self::ctl::MAX_CTL_INFLIGHT;
use self::files::FileLoadPolicy;
pub use self::files::{Origin, resolve_actor_ref};
pub use self::handle::{HostHandle, spawn};
pub use self::http::parse_link_values;
use self::http::{CallStatsSnapshot, FailureReports, HttpLimits, HttpProvider};
use self::identity::{HostIdentity, IdentityConfig, IdentityError};
use self::lattice_data::{DataError, LatticeData};
pub use self::lifecycle::STOP_ANNOUNCE_TIMEOUT;
pub use self::rates::RATES_INTERVAL;
pub use self::reload::WATCH_ANNOTATION;
use self::runtime::{Runtime, RuntimeConfig, RuntimeError};
use crate::lattice::bus::{Bus, BusError};
use crate::lattice::protocol::{LinkDefinition, StringMap};
use crate::lattice::subjects::Subjects;
use crate::watch::{FileWatcher, WatchConfig};

/// Heartbeat period of OTP hosts.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Provider health-check period of OTP hosts.
pub const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// How long a stopping host lets in-flight HTTP requests finish.
pub const DEFAULT_DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Messages each of the host's subscriptions buffers (the control subjects, the reply inbox,
/// the lattice-data watch). Control traffic is a few messages per client action; 4,096 rides
/// out a burst of thousands of pings while a flood of large messages cannot buffer more than
/// 4,096 × the server's max payload. Beyond it the bus drops and counts (NATS slow consumer):
/// the clients of dropped requests time out, nothing grows. The console's event stream has its
/// own connection and a far larger buffer ([`crate::lattice::bus::DEFAULT_SUBSCRIPTION_CAPACITY`]).
pub const HOST_SUBSCRIPTION_CAPACITY: usize = 4_096;

/// Failure reports of the HTTP provider waiting to be published as `invocation_failed`; a
/// flood beyond it is dropped (the counters and the log still have it).
const FAILURE_REPORTS: usize = 256;

/// Everything the host is made from.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Lattice prefix.
    pub lattice: String,
    /// Keys, labels, name.
    pub identity: IdentityConfig,
    /// Heartbeat period.
    pub heartbeat_interval: Duration,
    /// wasmtime limits.
    pub runtime: RuntimeConfig,
    /// HTTP provider limits.
    pub http: HttpLimits,
    /// Send the details of a failed guest call in its `500` body (`lattice-tui dev`); off:
    /// a plain body, the details go to the log and to `invocation_failed` events.
    pub http_error_details: bool,
    /// Who may start actors.
    pub policy: ClaimsPolicy,
    /// How much work lattice clients can make this host take on.
    pub limits: HostLimits,
    /// Directories under which lattice clients may name actor files (`--allow-file-load`);
    /// files the host is given directly (`--actor`, `dev`) are allowed anyway.
    pub allow_file_load: Vec<PathBuf>,
    /// Buffer of each of the host's subscriptions; see [`HOST_SUBSCRIPTION_CAPACITY`].
    pub subscription_capacity: usize,
    /// How long shutdown waits for in-flight HTTP requests.
    pub drain_grace: Duration,
    /// Shared lattice data to use instead of the bus's (in-process lattices with several
    /// hosts share one); `None`: JetStream KV on NATS, memory on the in-process bus.
    pub data: Option<LatticeData>,
    /// How watched actor files are followed for hot reload.
    pub hot_reload: WatchConfig,
    /// Watch every actor started from a file (`lattice-tui dev`); otherwise only those
    /// started with the annotation [`WATCH_ANNOTATION`]` = true`.
    pub watch_all: bool,
    /// Faults to inject (tests and fault drills); none by default.
    pub faults: Faults,
    /// Publish the actors' call counters on `lattice-tui.rates.{lattice}.{host}` every
    /// [`RATES_INTERVAL`] (`--no-rates` turns it off); outside `wasmbus.*`.
    pub rates: bool,
    /// How long an RPC call waits for its reply; default `WASMCLOUD_RPC_TIMEOUT_MS` or
    /// [`rpc::DEFAULT_RPC_TIMEOUT`] (2 s).
    pub rpc_timeout: Duration,
}

impl HostConfig {
    /// Defaults for `lattice`.
    pub fn new(lattice: &str) -> Self {
        Self {
            lattice: lattice.to_string(),
            identity: IdentityConfig::default(),
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            runtime: RuntimeConfig::default(),
            http: HttpLimits::default(),
            http_error_details: false,
            policy: ClaimsPolicy::default(),
            limits: HostLimits::default(),
            allow_file_load: Vec::new(),
            subscription_capacity: HOST_SUBSCRIPTION_CAPACITY,
            drain_grace: DEFAULT_DRAIN_GRACE,
            data: None,
            hot_reload: WatchConfig::default(),
            watch_all: false,
            faults: Faults::default(),
            rates: true,
            rpc_timeout: rpc::timeout_from_env().unwrap_or(rpc::DEFAULT_RPC_TIMEOUT),
        }
    }
}

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Bad seed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// wasmtime could not be set up.
    #[error("cannot set up the WebAssembly runtime: {0}")]
    Runtime(#[from] RuntimeError),
    /// The lattice data bucket could not be opened.
    #[error("cannot open the lattice data: {0}")]
    Data(#[from] DataError),
    /// The control interface could not subscribe.
    #[error("cannot serve the control interface: {0}")]
    Bus(#[from] BusError),
    /// The host's own runtime could not be created.
    #[error("cannot start the host runtime: {0}")]
    Thread(String),
    /// A start-up action failed.
    #[error("{0}")]
    Startup(String),
}

/// Call counters and the loaded version of one actor, for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorStats {
    /// Actor public key.
    pub public_key: String,
    /// Name from the claims.
    pub name: Option<String>,
    /// HTTP calls.
    pub calls: CallStatsSnapshot,
    /// Loaded revision.
    pub revision: i64,
    /// SHA-256 of the loaded file.
    pub digest: String,
    /// Why the actor cannot serve HTTP, if it cannot.
    pub note: Option<String>,
    /// The file it runs from.
    pub source: std::path::PathBuf,
    /// Whether that file is watched for hot reload.
    pub watched: bool,
    /// The last successful hot reload.
    pub last_reload: Option<ReloadInfo>,
    /// The last failed update or reload, cleared by the next good one.
    pub last_error: Option<String>,
    /// Why the last failed HTTP call failed (what the client did not see).
    pub last_call_failure: Option<String>,
}

/// One successful hot reload, with the time each step took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadInfo {
    /// When the new version started serving.
    pub at: std::time::SystemTime,
    /// Its revision.
    pub revision: i64,
    /// SHA-256 of the new file (hex).
    pub digest: String,
    /// First file-system event → file stable and read (includes the debounce).
    pub detect_to_stable: Duration,
    /// File read → compiled and pre-instantiated (claims check, compile, link).
    pub stable_to_compiled: Duration,
    /// wasmtime's compile time alone (part of `stable_to_compiled`).
    pub compile: Duration,
    /// Compiled → serving (the swap).
    pub swap: Duration,
    /// First file-system event → serving.
    pub total: Duration,
}

/// A running host, usable from the runtime it runs on.
#[derive(Clone)]
pub struct Host {
    inner: Arc<HostInner>,
    finished: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Starts a host on the current runtime: subscribes to the control interface, watches the
/// lattice data, then publishes `host_started` (so a client reacting to it is answered),
/// heartbeats and health checks. Stop it with [`Host::stop`] and wait for [`Host::stopped`];
/// it also stops on `cmd.{host}.stop`.
///
/// # Errors
/// [`HostError`] when something it needs cannot be set up.
pub async fn start(bus: Bus, cfg: HostConfig) -> Result<Host, HostError> {
    let identity = HostIdentity::new(&cfg.identity)?;
    let subjects = Subjects::new(&cfg.lattice);
    let files = FileLoadPolicy::new(&cfg.allow_file_load).map_err(HostError::Startup)?;
    let bus = bus
        .with_subscription_capacity(cfg.subscription_capacity)
        .await?;
    let runtime = Runtime::new(cfg.runtime.clone())?;
    let (failures_tx, failures_rx) = tokio::sync::mpsc::channel(FAILURE_REPORTS);
    let http = HttpProvider::with_reports(
        runtime.clone(),
        cfg.http.clone(),
        FailureReports {
            sink: Some(failures_tx),
            details_in_body: cfg.http_error_details,
        },
    );
    let data = match (cfg.data.clone(), bus.nats_client()) {
        (Some(d), _) => d,
        (None, Some(client)) => LatticeData::nats(client, &cfg.lattice).await?,
        (None, None) => LatticeData::memory(),
    };
    let rpc = rpc::RpcLink::new(
        bus.clone(),
        &cfg.lattice,
        &identity.host_id(),
        identity.cluster_key_pair(),
        identity.cluster_issuers.clone(),
        cfg.rpc_timeout,
    );
    let inner = Arc::new(HostInner::new(CoreParts {
        identity,
        subjects,
        rpc,
        bus,
        runtime,
        http,
        data,
        settings: CoreSettings {
            policy: cfg.policy.clone(),
            watch_all: cfg.watch_all,
            limits: cfg.limits,
            files,
        },
        faults: cfg.faults,
    }));
    inner
        .runtime
        .set_host_calls(Arc::new(core::CoreCalls(Arc::downgrade(&inner))));
    // The file watcher for hot reload; without it (no inotify, say) the host runs without.
    // Candidates let a reload compile while the watcher confirms the file is stable.
    let watch_cfg = crate::watch::WatchConfig {
        candidates: true,
        ..cfg.hot_reload.clone()
    };
    match FileWatcher::new(watch_cfg) {
        Ok((watcher, rx)) => {
            *crate::sync::lock(&inner.watcher) = Some(watcher);
            inner.tasks.spawn(reload::run(inner.clone(), rx));
        }
        Err(e) => tracing::warn!(error = %e, "no file watcher: hot reload is off"),
    }
    tracing::info!(
        host_id = %inner.host_id(),
        name = %inner.identity.friendly_name,
        lattice = %cfg.lattice,
        transport = %inner.bus.transport(),
        pooling = inner.runtime.pooling(),
        max_instances = cfg.limits.max_instances,
        allow_file_load = ?inner.files().dirs(),
        "host starting"
    );
    // Subscribed and confirmed by the server before announcing, so a client reacting to
    // host_started is answered.
    let subs = ctl::subscribe(&inner).await?;
    inner.tasks.spawn(ctl::serve(inner.clone(), subs));
    let links = inner.data.watch_links().await?;
    inner.bus.flush().await?;
    inner.events.publish(inner.host_started()).await;
    inner
        .events
        .publish(lifecycle::heartbeat_event(&inner))
        .await;

    inner
        .tasks
        .spawn(lifecycle::follow_links(inner.clone(), links));
    inner
        .tasks
        .spawn(lifecycle::heartbeats(inner.clone(), cfg.heartbeat_interval));
    inner.tasks.spawn(lifecycle::health_checks(inner.clone()));
    inner
        .tasks
        .spawn(lifecycle::report_failures(inner.clone(), failures_rx));
    if cfg.rates {
        inner
            .tasks
            .spawn(rates::publish(inner.clone(), RATES_INTERVAL));
    }

    let (finished, _) = tokio::sync::watch::channel(false);
    let finished = Arc::new(finished);
    let host = Host {
        inner: inner.clone(),
        finished: finished.clone(),
    };
    let grace = cfg.drain_grace;
    // The stop routine: runs once, whoever asked for the stop.
    tokio::spawn(async move {
        inner.shutdown.cancelled().await;
        lifecycle::stop(&inner, grace).await;
        finished.send_replace(true);
    });
    Ok(host)
}

impl Host {
    /// The host id (`N…`).
    pub fn id(&self) -> String {
        self.inner.host_id()
    }

    /// The friendly name.
    pub fn friendly_name(&self) -> String {
        self.inner.identity.friendly_name.clone()
    }

    /// The cluster key (`C…`).
    pub fn cluster_key(&self) -> String {
        self.inner.identity.cluster_public_key()
    }

    /// Asks the host to stop (idempotent). Wait for [`Host::stopped`].
    pub fn stop(&self) {
        self.inner.shutdown.cancel();
    }

    /// Whether a stop was asked for (by [`Host::stop`], a signal or `cmd.{host}.stop`).
    pub fn stopping(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// Resolves once a stop has been asked for.
    pub async fn stop_requested(&self) {
        self.inner.shutdown.cancelled().await;
    }

    /// Resolves once the host has stopped (`host_stopped` flushed, or given up on within
    /// [`STOP_ANNOUNCE_TIMEOUT`]).
    pub async fn stopped(&self) {
        let mut rx = self.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Per-actor call counters.
    pub fn actor_stats(&self) -> Vec<ActorStats> {
        self.inner.actor_stats()
    }

    /// Why the lattice-data watch is down, while it is (links may be stale meanwhile).
    pub fn data_watch_error(&self) -> Option<String> {
        self.inner.data_watch_error()
    }

    /// The shared lattice data this host uses.
    pub fn data(&self) -> LatticeData {
        self.inner.data.clone()
    }

    /// Actor instances running or being started, of at most [`HostLimits::max_instances`].
    pub fn instances_used(&self) -> usize {
        self.inner.instances_used()
    }

    /// Starts `count` instances of the actor at `actor_ref` (the operator's own file: the
    /// file-load policy does not apply, and lattice clients may name the file afterwards) and
    /// waits for the outcome.
    ///
    /// # Errors
    /// Why it could not start (the failure events are published too).
    pub async fn start_actor(
        &self,
        actor_ref: &str,
        count: u16,
        annotations: StringMap,
    ) -> Result<String, HostError> {
        self.inner
            .start_actor(actor_ref, count, annotations, Origin::Operator)
            .await
            .map_err(HostError::Startup)
    }

    /// Starts the built-in HTTP server provider under `link_name` and links `actor_id` to it
    /// on `address` (`IP:PORT`), through the lattice data like any client would.
    ///
    /// # Errors
    /// The link could not be stored.
    pub async fn serve_http(
        &self,
        actor_id: &str,
        address: &str,
        link_name: &str,
    ) -> Result<(), HostError> {
        match self
            .inner
            .start_provider(BUILTIN_HTTP_REF, link_name, StringMap::new(), None)
            .await
        {
            ProviderStart::Started | ProviderStart::AlreadyRunning(_) => {}
            ProviderStart::Failed => {
                return Err(HostError::Startup(
                    "the built-in HTTP provider did not start".into(),
                ));
            }
        }
        let link = LinkDefinition {
            id: String::new(),
            actor_id: actor_id.to_string(),
            provider_id: self.inner.builtin_http_key().to_string(),
            link_name: link_name.to_string(),
            contract_id: HTTP_CONTRACT.to_string(),
            values: [("address".to_string(), address.to_string())].into(),
        }
        .with_id();
        self.inner.data.put_link(&link).await?;
        // The link reaches the routes through the lattice data watch; answer once the
        // listener is bound (or failed to bind), so callers can connect right away.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.inner.route_state(&link.id) {
                Some(Ok(())) => return Ok(()),
                Some(Err(why)) => {
                    return Err(HostError::Startup(format!(
                        "cannot serve HTTP on {address}: {why}"
                    )));
                }
                None if tokio::time::Instant::now() >= deadline => {
                    return Err(HostError::Startup(format!(
                        "the HTTP route on {address} was not applied within 10 s"
                    )));
                }
                None => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    /// The built-in HTTP server's routes, ordered by address and path.
    pub fn http_routes(&self) -> Vec<http::RouteInfo> {
        self.inner.http.routes()
    }

    /// Link ids currently served over HTTP.
    pub fn served_links(&self) -> std::collections::BTreeSet<String> {
        self.inner.applied_routes()
    }

    /// Remote HTTP routes standing by because another process holds their address: link id
    /// → why (retried on every route change and health check).
    pub fn http_standby(&self) -> std::collections::BTreeMap<String, String> {
        self.inner.route_standby()
    }
}
