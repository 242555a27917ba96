//! The embedded host: a lattice member that runs WebAssembly actors (components, WASI 0.2)
//! with wasmtime, answers the control interface, publishes events and heartbeats, keeps the
//! lattice's shared data, and serves HTTP to actors through a built-in provider.
//!
//! Layout: [`identity`] (keys, labels), [`claims`] (wascap), [`runtime`] (wasmtime engine,
//! compile, per-request stores), [`http`] (the `wasmcloud:httpserver` provider), [`guest_io`],
//! [`lattice_data`] (links and claims in JetStream KV or memory), [`events`], `core` (actor
//! and provider tables, routes), `ctl` (the control interface).
//!
//! Must not touch the console (`ui`, `state`, `app`, crossterm, ratatui). The host is just
//! another lattice member: the console sees it through the lattice like any remote host.
//! [`spawn`] runs it on a runtime of its own so guests never share workers with the console.

pub mod claims;
mod core;
mod ctl;
pub mod events;
pub mod guest_io;
pub mod http;
pub mod identity;
pub mod lattice_data;
mod reload;
pub mod runtime;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use self::claims::ClaimsPolicy;
pub use self::core::{
    BUILTIN_HTTP_NAME, BUILTIN_HTTP_REF, HTTP_CONTRACT, builtin_http_key, resolve_actor_ref,
    uptime_human,
};
use self::core::{CoreSettings, HostInner, ProviderStart};
pub use self::http::parse_link_values;
use self::http::{CallStatsSnapshot, HttpLimits, HttpProvider};
use self::identity::{HostIdentity, IdentityConfig, IdentityError};
use self::lattice_data::{DataError, LatticeData};
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
    /// Who may start actors.
    pub policy: ClaimsPolicy,
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
            policy: ClaimsPolicy::default(),
            drain_grace: DEFAULT_DRAIN_GRACE,
            data: None,
            hot_reload: WatchConfig::default(),
            watch_all: false,
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

/// Starts a host on the current runtime: publishes `host_started`, serves the control
/// interface, heartbeats, watches the lattice data. Stop it with [`Host::stop`] and wait for
/// [`Host::stopped`]; it also stops on `cmd.{host}.stop`.
///
/// # Errors
/// [`HostError`] when something it needs cannot be set up.
pub async fn start(bus: Bus, cfg: HostConfig) -> Result<Host, HostError> {
    let identity = HostIdentity::new(&cfg.identity)?;
    let subjects = Subjects::new(&cfg.lattice);
    let runtime = Runtime::new(cfg.runtime.clone())?;
    let http = HttpProvider::new(runtime.clone(), cfg.http.clone());
    let data = match (cfg.data.clone(), bus.nats_client()) {
        (Some(d), _) => d,
        (None, Some(client)) => LatticeData::nats(client, &cfg.lattice).await?,
        (None, None) => LatticeData::memory(),
    };
    let inner = Arc::new(HostInner::new(
        identity,
        subjects,
        bus,
        runtime,
        http,
        data,
        CoreSettings {
            policy: cfg.policy.clone(),
            watch_all: cfg.watch_all,
        },
    ));
    // The file watcher for hot reload; without it (no inotify, say) the host runs without.
    // Candidates let a reload compile while the watcher confirms the file is stable.
    let watch_cfg = crate::watch::WatchConfig {
        candidates: true,
        ..cfg.hot_reload.clone()
    };
    match FileWatcher::new(watch_cfg) {
        Ok((watcher, rx)) => {
            *core::lock(&inner.watcher) = Some(watcher);
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
        "host starting"
    );
    // Subscribe before announcing, so a client reacting to host_started is answered.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let ctl_inner = inner.clone();
    inner.tasks.spawn(async move {
        let _ = ready_tx.send(());
        if let Err(e) = ctl::serve(ctl_inner.clone()).await {
            tracing::error!(error = %e, "control interface stopped; stopping the host");
            ctl_inner.shutdown.cancel();
        }
    });
    let _ = ready_rx.await;
    let mut links = inner.data.watch_links().await?;
    inner.bus.flush().await?;
    inner.events.publish(inner.host_started()).await;
    inner.events.publish(heartbeat_event(&inner)).await;

    let li = inner.clone();
    inner.tasks.spawn(async move {
        loop {
            let change = tokio::select! {
                biased;
                _ = li.shutdown.cancelled() => return,
                c = links.next() => c,
            };
            match change {
                Some(c) => li.on_link_change(c).await,
                None => {
                    tracing::warn!("the lattice data watch ended; links will no longer update");
                    return;
                }
            }
        }
    });
    inner
        .tasks
        .spawn(heartbeats(inner.clone(), cfg.heartbeat_interval));
    inner.tasks.spawn(health_checks(inner.clone()));

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
        shutdown(&inner, grace).await;
        finished.send_replace(true);
    });
    Ok(host)
}

fn heartbeat_event(inner: &HostInner) -> crate::lattice::protocol::EventData {
    crate::lattice::protocol::EventData::HostHeartbeat(inner.heartbeat())
}

async fn heartbeats(inner: Arc<HostInner>, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            _ = tick.tick() => {}
            _ = inner.heartbeat_now.notified() => {}
        }
        inner.events.publish(heartbeat_event(&inner)).await;
    }
}

async fn health_checks(inner: Arc<HostInner>) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + HEALTH_CHECK_INTERVAL,
        HEALTH_CHECK_INTERVAL,
    );
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            _ = tick.tick() => inner.check_health().await,
        }
    }
}

/// Stop order: stop taking requests (control subscriptions end with the token), drain HTTP,
/// stop actors and providers with their events, `host_stopped`, flush.
async fn shutdown(inner: &Arc<HostInner>, grace: Duration) {
    tracing::info!("host stopping: draining HTTP requests");
    inner.http.drain(grace).await;
    inner.stop_all_actors().await;
    inner.stop_all_providers().await;
    inner.events.publish(inner.host_stopped()).await;
    if let Err(e) = inner.events.flush().await {
        tracing::warn!(error = %e, "could not flush host_stopped");
    }
    inner.tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), inner.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some host tasks did not finish within 5 s of stopping");
    }
    tracing::info!("host stopped");
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

    /// Resolves once the host has stopped and `host_stopped` was flushed.
    pub async fn stopped(&self) {
        let mut rx = self.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Per-actor call counters.
    pub fn actor_stats(&self) -> Vec<ActorStats> {
        self.inner.actor_stats()
    }

    /// The shared lattice data this host uses.
    pub fn data(&self) -> LatticeData {
        self.inner.data.clone()
    }

    /// Starts `count` instances of the actor at `actor_ref` and waits for the outcome.
    ///
    /// # Errors
    /// Why it could not start (the failure events are published too).
    pub async fn start_actor(
        &self,
        actor_ref: &str,
        count: u16,
        annotations: StringMap,
    ) -> Result<String, HostError> {
        self.inner.start_actor(actor_ref, count, annotations).await;
        self.inner.actor_by_ref(actor_ref).ok_or_else(|| {
            HostError::Startup(format!("actor {actor_ref} did not start (see the log)"))
        })
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
            .start_provider(BUILTIN_HTTP_REF, link_name, StringMap::new())
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
            provider_id: self.inner.builtin_http_key.clone(),
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
}

/// A host on a runtime (and threads) of its own, driven from any other runtime.
pub struct HostHandle {
    host: Host,
    rt: tokio::runtime::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a host on a dedicated multi-thread runtime with `worker_threads` workers, so guest
/// code never runs on the caller's (the console's) workers.
///
/// # Errors
/// The runtime or the host could not start.
pub async fn spawn(
    bus: Bus,
    cfg: HostConfig,
    worker_threads: usize,
) -> Result<HostHandle, HostError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads.max(1))
        .thread_name("lattice-host")
        .enable_all()
        .build()
        .map_err(|e| HostError::Thread(e.to_string()))?;
    let handle = rt.handle().clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("lattice-host-main".into())
        .spawn(move || {
            rt.block_on(async move {
                match start(bus, cfg).await {
                    Ok(host) => {
                        let _ = tx.send(Ok(host.clone()));
                        host.stopped().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
            // Give detached tasks (connections being closed) a moment, then drop the runtime.
            rt.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(|e| HostError::Thread(e.to_string()))?;
    let host = rx
        .await
        .map_err(|_| HostError::Thread("the host thread ended during start-up".into()))??;
    Ok(HostHandle {
        host,
        rt: handle,
        thread: Some(thread),
    })
}

impl HostHandle {
    /// The host (its async methods must run on the host's runtime: use [`HostHandle::run`]).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Runs `f(host)` on the host's runtime and returns its output.
    ///
    /// # Errors
    /// The host runtime is gone.
    pub async fn run<F, Fut, T>(&self, f: F) -> Result<T, HostError>
    where
        F: FnOnce(Host) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let host = self.host.clone();
        self.rt
            .spawn(async move { f(host).await })
            .await
            .map_err(|e| HostError::Thread(format!("host task failed: {e}")))
    }

    /// Stops the host and waits until `host_stopped` is flushed and its runtime is gone.
    pub async fn shutdown(mut self) {
        self.host.stop();
        let host = self.host.clone();
        let _ = self.rt.spawn(async move { host.stopped().await }).await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}
