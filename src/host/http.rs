//! The built-in `wasmcloud:httpserver` capability provider: HTTP/1.1 listeners whose routes
//! (one per link) lead to actors served by [`super::runtime`].
//!
//! Owns the listening sockets, the accept loops, the per-connection hyper tasks, routing,
//! the well-known endpoints, request limits, per-actor call counters and draining. It must
//! not touch the UI, the console state, crossterm or ratatui, must not print, and knows
//! nothing about links beyond the values handed to [`HttpProvider::put_route`] (the link
//! registry belongs to the host's control interface).
//!
//! # Link values (as wasmCloud's httpserver)
//! - `address=IP:PORT`: where to listen; or `PORT=NNNN` (alias `port`), which listens on
//!   **127.0.0.1**:NNNN. wasmCloud binds 0.0.0.0 there; this host runs inside a developer's
//!   console, so exposing actors on every interface needs an explicit `address=0.0.0.0:NNNN`.
//!   With neither, [`DEFAULT_ADDRESS`] (127.0.0.1:8000). Port 0 always binds a new listener
//!   on a free port; [`HttpProvider::put_route`] returns the bound address.
//! - `path=/prefix`: the route's path prefix, default `/`. The longest prefix wins, matched
//!   on segment boundaries (`/api` matches `/api` and `/api/x`, not `/apix`). The path the
//!   actor sees is the full request path. Other keys are ignored. Keys ignore case.
//!
//! A new address binds a listener; an address that already has one gains the route. Two links
//! on the same address and path are refused. Putting a link id again replaces its route.
//! A listener closes when its last route goes.
//!
//! # Before routing
//! `GET /.well-known/lattice/health` answers `200 ok` (`503 draining` while draining);
//! `GET /.well-known/lattice/info` answers JSON describing the listener's routes.
//! A path without a route answers 404 listing the routes' prefixes; an actor without the
//! HTTP export answers 503 with the reason.
//!
//! # Limits and overflow policy ([`HttpLimits`])
//! - connections per listener: a semaphore permit is taken *before* `accept`, so past the
//!   limit new connections wait in the kernel's backlog (mini-redis);
//! - requests in flight (provider-wide, guest calls only): past the limit a request is
//!   answered `503` with `retry-after: 1` at once, never queued;
//! - request headers must arrive within the header read timeout (it also closes idle
//!   keep-alive connections); otherwise hyper closes the connection;
//! - request bodies: a `content-length` over the limit answers `413` before the guest runs;
//!   a streamed body that grows past it fails the guest's read, and if the guest then gives
//!   no response the answer is `413`;
//! - every guest call has the runtime's deadline ([`super::runtime::RuntimeConfig`]).
//!
//! The accept loop never ends on a bad connection: connection errors are logged at DEBUG,
//! accept errors at WARN and retried with exponential backoff.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::runtime::{HandleError, Loaded, ResponseBody, Runtime};

/// Where a link without `address` or `PORT` listens: loopback (see the module docs) on
/// wasmCloud's default port 8000.
pub const DEFAULT_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);

/// Prefix of the host's own endpoints, answered before routing and never routable.
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/lattice";
/// Health endpoint: `200 ok`, or `503 draining`.
pub const HEALTH_PATH: &str = "/.well-known/lattice/health";
/// Info endpoint: JSON describing the listener's routes.
pub const INFO_PATH: &str = "/.well-known/lattice/info";

/// Default [`HttpLimits::max_connections_per_listener`]: 1,024 open connections per listener.
/// It bounds memory (tens of KiB per hyper connection) and file descriptors at a level no
/// local developer workload reaches; raise `ulimit -n` before raising it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1_024;
/// Default [`HttpLimits::max_in_flight`]: 256 concurrent guest calls. Each holds an instance
/// (up to the linear-memory limit); 256 stays below the pooling allocator's 1,000 instances.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// Default [`HttpLimits::header_read_timeout`]: 10 s to send a request head (also how long
/// an idle keep-alive connection stays open).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`HttpLimits::max_request_body`]: 16 MiB, enough for uploads an actor handles in
/// one request while bounding what one client can make a guest read.
pub const DEFAULT_MAX_REQUEST_BODY: u64 = 16 * 1024 * 1024;

/// Listen backlog: connections the kernel queues while every connection permit is taken.
const LISTEN_BACKLOG: u32 = 1_024;
/// First wait after a failed `accept` (EMFILE, ENOBUFS, …); doubled on each failure in a row.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(1);
/// Longest wait between `accept` retries.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// After draining, how long connections get to close gracefully before they are cut.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Limits of [`HttpProvider`]; see the module docs for what happens past each.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Open connections per listener. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections_per_listener: usize,
    /// Guest calls in flight across the provider. Default [`DEFAULT_MAX_IN_FLIGHT`].
    pub max_in_flight: usize,
    /// Time allowed to send a request head. Default [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// Largest request body, in bytes. Default [`DEFAULT_MAX_REQUEST_BODY`].
    pub max_request_body: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections_per_listener: DEFAULT_MAX_CONNECTIONS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
        }
    }
}

/// Per-actor call counters, shared between the provider and whoever shows them.
#[derive(Debug, Default)]
pub struct CallStats {
    calls: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicU64,
}

/// A copy of [`CallStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CallStatsSnapshot {
    /// Requests routed to the actor.
    pub calls: u64,
    /// Of those, how many got a 5xx answer or a response body cut by a guest failure.
    pub errors: u64,
    /// Requests whose response is not finished yet.
    pub in_flight: u64,
}

impl CallStats {
    /// The current counts.
    pub fn snapshot(&self) -> CallStatsSnapshot {
        CallStatsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }
}

/// What a route leads to.
#[derive(Clone, Debug)]
pub struct ActorTarget {
    /// The actor's id (its public key), used in logs and the info endpoint.
    pub actor_id: String,
    /// The actor's current version; the sender side swaps it on update or hot reload.
    /// Read per request; in-flight requests finish on the version they started with.
    pub live: watch::Receiver<Arc<Loaded>>,
    /// Counters this provider updates.
    pub stats: Arc<CallStats>,
}

/// One route, as [`HttpProvider::routes`] and the info endpoint describe it.
#[derive(Clone, Debug, Serialize)]
pub struct RouteInfo {
    /// The link that created the route.
    pub link_id: String,
    /// The listener's bound address.
    pub address: SocketAddr,
    /// The path prefix.
    pub path: String,
    /// The actor the route leads to.
    pub actor_id: String,
    /// The revision of the actor's current version.
    pub revision: i64,
    /// SHA-256 of the actor's current version.
    pub digest: String,
    /// Whether the current version serves HTTP.
    pub serves_http: bool,
    /// Why it does not, if it does not.
    pub no_http_reason: Option<String>,
    /// The actor's call counters.
    pub stats: CallStatsSnapshot,
}

/// Why a route operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// A link value is malformed.
    #[error("invalid link value {key}={value:?}: {reason}")]
    InvalidValue {
        /// The key as given.
        key: String,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another link already routes this address and path.
    #[error("{address}{path} is already routed by link {link_id}")]
    RouteTaken {
        /// The listener's address.
        address: SocketAddr,
        /// The path prefix.
        path: String,
        /// The link holding it.
        link_id: String,
    },
    /// The address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// [`HttpProvider::drain`] has started; no routes can be added.
    #[error("the HTTP server is draining and takes no new routes")]
    Draining,
}

/// The built-in HTTP server capability provider. Cheap to clone.
///
/// Dropping the last clone without [`HttpProvider::drain`] stops every listener and cuts
/// every connection at once.
#[derive(Clone)]
pub struct HttpProvider {
    shared: Arc<Shared>,
    _guard: Arc<DropGuard>,
}

/// Owned only by [`HttpProvider`] clones (tasks hold `Shared`, not this), so its `Drop` runs
/// when the last handle goes away: the tasks would otherwise serve forever (mini-redis'
/// `DbDropGuard`).
struct DropGuard {
    shared: Arc<Shared>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        for entry in state.listeners.values() {
            entry.stop_accept.cancel();
        }
        state.listeners.clear();
        state.links.clear();
        self.shared.force_close.cancel();
    }
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("limits", &self.shared.limits)
            .field("draining", &self.shared.draining.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

struct Shared {
    runtime: Runtime,
    limits: HttpLimits,
    state: Mutex<State>,
    draining: AtomicBool,
    in_flight: Arc<Semaphore>,
    in_flight_count: AtomicUsize,
    in_flight_idle: tokio::sync::Notify,
    /// Every connection task of every listener.
    connections: TaskTracker,
    /// Asks every connection to finish its current response and close (end of a drain).
    close_connections: CancellationToken,
    /// Cuts every connection at once (end of a drain's grace).
    force_close: CancellationToken,
}

#[derive(Default)]
struct State {
    listeners: BTreeMap<SocketAddr, ListenerEntry>,
    /// link id → (listener address, path).
    links: BTreeMap<String, (SocketAddr, String)>,
}

struct ListenerEntry {
    routes: Arc<RwLock<Vec<Arc<Route>>>>,
    /// Stops the accept loop.
    stop_accept: CancellationToken,
    /// Asks this listener's connections to close (its last route is gone).
    close: CancellationToken,
    task: Option<JoinHandle<()>>,
}

struct Route {
    link_id: String,
    path: String,
    target: ActorTarget,
}

/// What connection tasks of one listener share.
struct ListenerCtx {
    shared: Arc<Shared>,
    address: SocketAddr,
    routes: Arc<RwLock<Vec<Arc<Route>>>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // State is only changed in short, panic-free sections; a poisoned lock still holds a
    // consistent map.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn read_routes(
    routes: &RwLock<Vec<Arc<Route>>>,
) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Route>>> {
    routes.read().unwrap_or_else(|e| e.into_inner())
}

fn write_routes(
    routes: &RwLock<Vec<Arc<Route>>>,
) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Route>>> {
    routes.write().unwrap_or_else(|e| e.into_inner())
}

impl HttpProvider {
    /// A provider with no listeners yet.
    pub fn new(runtime: Runtime, limits: HttpLimits) -> Self {
        let in_flight = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
        let shared = Arc::new(Shared {
            runtime,
            limits,
            state: Mutex::new(State::default()),
            draining: AtomicBool::new(false),
            in_flight,
            in_flight_count: AtomicUsize::new(0),
            in_flight_idle: tokio::sync::Notify::new(),
            connections: TaskTracker::new(),
            close_connections: CancellationToken::new(),
            force_close: CancellationToken::new(),
        });
        Self {
            _guard: Arc::new(DropGuard {
                shared: Arc::clone(&shared),
            }),
            shared,
        }
    }

    /// Adds (or replaces) the route of link `link_id` from its link values, binding a
    /// listener if the address has none yet. Returns the listener's bound address.
    ///
    /// # Errors
    /// [`HttpError::InvalidValue`] for bad values, [`HttpError::RouteTaken`] when another
    /// link has the same address and path, [`HttpError::Bind`] when the address cannot be
    /// bound, [`HttpError::Draining`] after [`HttpProvider::drain`].
    pub async fn put_route(
        &self,
        link_id: &str,
        target: ActorTarget,
        values: &BTreeMap<String, String>,
    ) -> Result<SocketAddr, HttpError> {
        let (wanted, path) = parse_link_values(values)?;
        let mut old_task = None;
        let bound = {
            let mut state = lock(&self.shared.state);
            if self.shared.draining.load(Ordering::Acquire) {
                return Err(HttpError::Draining);
            }
            let previous = state.links.get(link_id).cloned();
            let existing = wanted.port() != 0 && state.listeners.contains_key(&wanted);
            let route = Arc::new(Route {
                link_id: link_id.to_owned(),
                path: path.clone(),
                target,
            });
            let bound = if existing {
                let entry = state
                    .listeners
                    .get(&wanted)
                    .ok_or_else(|| HttpError::Bind {
                        address: wanted,
                        source: std::io::Error::other("listener vanished"),
                    })?;
                let mut routes = write_routes(&entry.routes);
                if let Some(holder) = routes
                    .iter()
                    .find(|r| r.path == path && r.link_id != link_id)
                {
                    return Err(HttpError::RouteTaken {
                        address: wanted,
                        path,
                        link_id: holder.link_id.clone(),
                    });
                }
                routes.retain(|r| r.link_id != link_id);
                insert_route(&mut routes, route);
                wanted
            } else {
                let listener = bind(wanted)?;
                let bound = listener.local_addr().map_err(|source| HttpError::Bind {
                    address: wanted,
                    source,
                })?;
                let routes = Arc::new(RwLock::new(vec![route]));
                let stop_accept = CancellationToken::new();
                let close = CancellationToken::new();
                let ctx = Arc::new(ListenerCtx {
                    shared: Arc::clone(&self.shared),
                    address: bound,
                    routes: Arc::clone(&routes),
                });
                let task = tokio::spawn(accept_loop(
                    listener,
                    ctx,
                    stop_accept.clone(),
                    close.clone(),
                ));
                tracing::info!(address = %bound, "HTTP listener started");
                state.listeners.insert(
                    bound,
                    ListenerEntry {
                        routes,
                        stop_accept,
                        close,
                        task: Some(task),
                    },
                );
                bound
            };
            state
                .links
                .insert(link_id.to_owned(), (bound, path.clone()));
            // A replaced link that moved to another listener leaves its old route behind.
            if let Some((old_addr, _)) = previous
                && old_addr != bound
            {
                old_task = remove_from_listener(&mut state, old_addr, link_id);
            }
            bound
        };
        if let Some(task) = old_task {
            let _ = task.await;
        }
        tracing::info!(link_id, address = %bound, path, "HTTP route added");
        Ok(bound)
    }

    /// Removes link `link_id`'s route; closes its listener if that was the last route (and
    /// waits until the socket is closed, so the address can be bound again). Unknown ids are
    /// ignored.
    pub async fn remove_route(&self, link_id: &str) {
        let task = {
            let mut state = lock(&self.shared.state);
            let Some((addr, _)) = state.links.remove(link_id) else {
                return;
            };
            remove_from_listener(&mut state, addr, link_id)
        };
        tracing::info!(link_id, "HTTP route removed");
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Every route, ordered by address and path.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let state = lock(&self.shared.state);
        state
            .listeners
            .iter()
            .flat_map(|(addr, entry)| {
                let routes = read_routes(&entry.routes);
                let mut infos: Vec<RouteInfo> =
                    routes.iter().map(|r| route_info(*addr, r)).collect();
                infos.sort_by(|a, b| a.path.cmp(&b.path));
                infos
            })
            .collect()
    }

    /// Whether the provider serves normally (false once [`HttpProvider::drain`] started).
    pub fn healthy(&self) -> bool {
        !self.shared.draining.load(Ordering::Acquire)
    }

    /// Guest calls currently in flight (until their response bodies are sent).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight_count.load(Ordering::Acquire)
    }

    /// Stops serving: new connections are refused at once (listeners close), the health
    /// endpoint answers 503 and new requests on open connections get `503 draining`; then it
    /// waits up to `grace` for in-flight requests to finish, closes every connection
    /// (gracefully, then by force) and forgets every route. Idempotent.
    pub async fn drain(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        self.shared.draining.store(true, Ordering::Release);
        let tasks: Vec<JoinHandle<()>> = {
            let mut state = lock(&self.shared.state);
            state
                .listeners
                .values_mut()
                .filter_map(|entry| {
                    entry.stop_accept.cancel();
                    entry.task.take()
                })
                .collect()
        };
        for task in tasks {
            let _ = task.await;
        }
        tracing::info!(
            in_flight = self.in_flight(),
            grace_ms = grace.as_millis(),
            "HTTP server draining"
        );

        loop {
            let idle = self.shared.in_flight_idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.shared.in_flight_count.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                tracing::warn!(
                    in_flight = self.in_flight(),
                    "drain grace over; cutting in-flight requests"
                );
                break;
            }
        }

        self.shared.close_connections.cancel();
        self.shared.connections.close();
        let close_by = deadline.max(tokio::time::Instant::now() + CLOSE_GRACE);
        if tokio::time::timeout_at(close_by, self.shared.connections.wait())
            .await
            .is_err()
        {
            self.shared.force_close.cancel();
            let _ = tokio::time::timeout(CLOSE_GRACE, self.shared.connections.wait()).await;
        }
        let mut state = lock(&self.shared.state);
        state.links.clear();
        state.listeners.clear();
        tracing::info!("HTTP server drained");
    }
}

/// Removes `link_id`'s route from the listener at `addr`; if it was the last, stops the
/// listener and returns its accept task to await.
fn remove_from_listener(
    state: &mut State,
    addr: SocketAddr,
    link_id: &str,
) -> Option<JoinHandle<()>> {
    let entry = state.listeners.get(&addr)?;
    let empty = {
        let mut routes = write_routes(&entry.routes);
        routes.retain(|r| r.link_id != link_id);
        routes.is_empty()
    };
    if !empty {
        return None;
    }
    let mut entry = state.listeners.remove(&addr)?;
    entry.stop_accept.cancel();
    entry.close.cancel();
    tracing::info!(address = %addr, "HTTP listener closed (no routes left)");
    entry.task.take()
}

/// Keeps routes ordered longest path first, so the first match is the longest prefix.
fn insert_route(routes: &mut Vec<Arc<Route>>, route: Arc<Route>) {
    let at = routes
        .iter()
        .position(|r| r.path.len() < route.path.len())
        .unwrap_or(routes.len());
    routes.insert(at, route);
}

fn route_info(address: SocketAddr, r: &Route) -> RouteInfo {
    let loaded = r.target.live.borrow().clone();
    RouteInfo {
        link_id: r.link_id.clone(),
        address,
        path: r.path.clone(),
        actor_id: r.target.actor_id.clone(),
        revision: loaded.revision,
        digest: loaded.digest.clone(),
        serves_http: loaded.serves_http(),
        no_http_reason: loaded.no_http_reason.clone(),
        stats: r.target.stats.snapshot(),
    }
}

/// Parses wasmCloud httpserver link values into (address, path).
pub fn parse_link_values(
    values: &BTreeMap<String, String>,
) -> Result<(SocketAddr, String), HttpError> {
    let invalid = |key: &str, value: &str, reason: &str| HttpError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let mut address: Option<SocketAddr> = None;
    let mut port: Option<u16> = None;
    let mut path = "/".to_owned();
    for (key, value) in values {
        match key.to_ascii_lowercase().as_str() {
            "address" => {
                address =
                    Some(value.trim().parse().map_err(|_| {
                        invalid(key, value, "expected IP:PORT, e.g. 127.0.0.1:8080")
                    })?);
            }
            "port" => {
                port = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| invalid(key, value, "expected a port number 0-65535"))?,
                );
            }
            "path" => path = normalize_path(value).map_err(|r| invalid(key, value, r))?,
            _ => {}
        }
    }
    let addr = match (address, port) {
        (Some(a), Some(p)) if a.port() != p => {
            return Err(invalid(
                "PORT",
                &p.to_string(),
                "disagrees with the port in address",
            ));
        }
        (Some(a), _) => a,
        (None, Some(p)) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p),
        (None, None) => DEFAULT_ADDRESS,
    };
    Ok((addr, path))
}

fn normalize_path(raw: &str) -> Result<String, &'static str> {
    let p = raw.trim();
    if !p.starts_with('/') {
        return Err("a path must start with /");
    }
    if p.contains(['?', '#']) || p.chars().any(char::is_whitespace) {
        return Err("a path prefix has no query, fragment or spaces");
    }
    let trimmed = p.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/" } else { trimmed };
    if is_well_known(path) {
        return Err("paths under /.well-known/lattice are reserved for the host");
    }
    Ok(path.to_owned())
}

/// Whether `path` is [`WELL_KNOWN_PREFIX`] or under it (no allocation: this runs per request).
fn is_well_known(path: &str) -> bool {
    path.strip_prefix(WELL_KNOWN_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `path` falls under the route prefix `prefix` (segment-wise).
fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

fn bind(addr: SocketAddr) -> Result<TcpListener, HttpError> {
    let err = |source| HttpError::Bind {
        address: addr,
        source,
    };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(err)?;
    // On Unix, SO_REUSEADDR lets a listener rebind a port with connections in TIME_WAIT
    // (after a restart or a removed route). On Windows it would let two processes bind the
    // same port, so it stays off there (as in wasmtime serve).
    socket.set_reuseaddr(!cfg!(windows)).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(LISTEN_BACKLOG).map_err(err)
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ListenerCtx>,
    stop: CancellationToken,
    close: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(
        ctx.shared.limits.max_connections_per_listener.max(1),
    ));
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let permit = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, _peer)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    stream
                }
                Err(e) => {
                    tracing::warn!(
                        address = %ctx.address,
                        error = %e,
                        retry_in_ms = backoff.as_millis(),
                        "accept failed"
                    );
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            },
        };
        // Small response chunks (e.g. server-sent events) must not wait for Nagle.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        ctx.shared.connections.spawn(serve_connection(
            stream,
            Arc::clone(&ctx),
            close.clone(),
            permit,
        ));
    }
    tracing::debug!(address = %ctx.address, "accept loop stopped");
}

async fn serve_connection(
    stream: TcpStream,
    ctx: Arc<ListenerCtx>,
    close: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let shared = Arc::clone(&ctx.shared);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let ctx = Arc::clone(&ctx);
        async move { Ok::<_, Infallible>(ctx.dispatch(req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let finished = tokio::select! {
        r = conn.as_mut() => Some(r),
        _ = close.cancelled() => None,
        _ = shared.close_connections.cancelled() => None,
        _ = shared.force_close.cancelled() => return,
    };
    let result = match finished {
        Some(r) => r,
        None => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn.as_mut() => r,
                _ = shared.force_close.cancelled() => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "HTTP connection ended with an error");
    }
}

impl ListenerCtx {
    async fn dispatch(&self, req: Request<Incoming>) -> Response<ResponseBody> {
        let path = req.uri().path();
        if is_well_known(path) {
            return self.well_known(&req);
        }
        if self.shared.draining.load(Ordering::Acquire) {
            let mut resp = text(StatusCode::SERVICE_UNAVAILABLE, "draining\n");
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return resp;
        }
        let route = {
            let routes = read_routes(&self.routes);
            routes
                .iter()
                .find(|r| prefix_matches(&r.path, path))
                .cloned()
        };
        let Some(route) = route else {
            return self.not_found(path);
        };
        self.call_actor(&route, req).await
    }

    async fn call_actor(&self, route: &Route, req: Request<Incoming>) -> Response<ResponseBody> {
        let target = &route.target;
        let stats = &target.stats;
        let Ok(permit) = Arc::clone(&self.shared.in_flight).try_acquire_owned() else {
            let mut resp = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many requests in flight; retry shortly\n",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return resp;
        };
        stats.calls.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight::new(Arc::clone(&self.shared), Arc::clone(stats), permit);
        // Clone the Arc and drop the watch borrow at once: never hold it across an await.
        let loaded: Arc<Loaded> = target.live.borrow().clone();

        let limit = self.shared.limits.max_request_body;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than the {limit} byte limit\n"),
            );
        }
        let exceeded = Arc::new(AtomicBool::new(false));
        let req = req.map(|body| LimitedBody {
            inner: body,
            remaining: limit,
            limit,
            exceeded: Arc::clone(&exceeded),
        });

        match self
            .shared
            .runtime
            .handle(&loaded, &target.actor_id, req)
            .await
        {
            Ok(resp) => {
                let failed = resp.status().is_server_error();
                if failed {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
                resp.map(|body| {
                    TrackedBody {
                        inner: body,
                        stats: Arc::clone(stats),
                        counted: failed,
                        _guard: guard,
                    }
                    .boxed_unsync()
                })
            }
            Err(e) => {
                if exceeded.load(Ordering::Acquire) {
                    return text(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("request body is larger than the {limit} byte limit\n"),
                    );
                }
                let status = match &e {
                    HandleError::NoHttp(_) => StatusCode::SERVICE_UNAVAILABLE,
                    HandleError::BadRequest(_) => StatusCode::BAD_REQUEST,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                if status.is_server_error() {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
                match &e {
                    HandleError::NoHttp(_) | HandleError::BadRequest(_) => {
                        tracing::debug!(actor = %target.actor_id, error = %e, "request refused");
                    }
                    HandleError::NoResponse | HandleError::GuestError(_) => {
                        tracing::warn!(actor = %target.actor_id, error = %e, "actor gave no response");
                    }
                    // Traps, deadlines and instantiation failures are logged by the runtime
                    // with the request id.
                    _ => {}
                }
                text(
                    status,
                    format!("{} {}: {e}\n", status.as_u16(), status_reason(status)),
                )
            }
        }
    }

    fn well_known(&self, req: &Request<Incoming>) -> Response<ResponseBody> {
        let path = req.uri().path();
        let readable = req.method() == Method::GET || req.method() == Method::HEAD;
        if path == HEALTH_PATH && readable {
            return if self.shared.draining.load(Ordering::Acquire) {
                text(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
            } else {
                text(StatusCode::OK, "ok\n")
            };
        }
        if path == INFO_PATH && readable {
            let routes: Vec<RouteInfo> = {
                let routes = read_routes(&self.routes);
                routes.iter().map(|r| route_info(self.address, r)).collect()
            };
            let doc = serde_json::json!({
                "address": self.address,
                "draining": self.shared.draining.load(Ordering::Acquire),
                "pooling": self.shared.runtime.pooling(),
                "routes": routes,
            });
            let mut resp = Response::new(full(doc.to_string()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return resp;
        }
        text(
            StatusCode::NOT_FOUND,
            format!("unknown host endpoint; try GET {HEALTH_PATH} or GET {INFO_PATH}\n"),
        )
    }

    fn not_found(&self, path: &str) -> Response<ResponseBody> {
        let prefixes: Vec<String> = {
            let routes = read_routes(&self.routes);
            let mut p: Vec<String> = routes.iter().map(|r| r.path.clone()).collect();
            p.sort();
            p
        };
        let hint = if prefixes.is_empty() {
            "this listener has no routes".to_owned()
        } else {
            format!("routes on this listener: {}", prefixes.join(", "))
        };
        text(
            StatusCode::NOT_FOUND,
            format!("no route for {path} on {}; {hint}\n", self.address),
        )
    }
}

fn status_reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

fn full(body: impl Into<Bytes>) -> ResponseBody {
    Full::new(body.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// A `text/plain` response.
fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// One guest call in flight: holds the provider's permit and the counters until the
/// response body is done (or dropped).
struct InFlight {
    shared: Arc<Shared>,
    stats: Arc<CallStats>,
    _permit: OwnedSemaphorePermit,
}

impl InFlight {
    fn new(shared: Arc<Shared>, stats: Arc<CallStats>, permit: OwnedSemaphorePermit) -> Self {
        shared.in_flight_count.fetch_add(1, Ordering::AcqRel);
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            shared,
            stats,
            _permit: permit,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.shared.in_flight_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.in_flight_idle.notify_waiters();
        }
    }
}

/// The request body as the guest reads it, failing once it exceeds the size limit.
struct LimitedBody {
    inner: Incoming,
    remaining: u64,
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
                    if len > self.remaining {
                        self.exceeded.store(true, Ordering::Release);
                        let limit = self.limit;
                        return Poll::Ready(Some(Err(
                            wasmtime_wasi_http::Error::HttpRequestBodySize(Some(limit)),
                        )));
                    }
                    self.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body on its way to the client: keeps the request counted as in flight until
/// it is done and counts a failure mid-body as an error.
struct TrackedBody {
    inner: ResponseBody,
    stats: Arc<CallStats>,
    /// Whether this request is already counted in `errors`.
    counted: bool,
    _guard: InFlight,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = super::runtime::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(e))) = &polled {
            if !self.counted {
                self.counted = true;
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            tracing::warn!(error = %e, "response body failed");
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn link_values_follow_wasmcloud_httpserver() {
        assert_eq!(
            parse_link_values(&values(&[])).unwrap(),
            (DEFAULT_ADDRESS, "/".to_owned())
        );
        assert_eq!(
            parse_link_values(&values(&[("PORT", "8081")])).unwrap(),
            ("127.0.0.1:8081".parse().unwrap(), "/".to_owned())
        );
        assert_eq!(
            parse_link_values(&values(&[("address", "0.0.0.0:9000"), ("path", "/api/")])).unwrap(),
            ("0.0.0.0:9000".parse().unwrap(), "/api".to_owned())
        );
        assert_eq!(
            parse_link_values(&values(&[("ADDRESS", "[::1]:9000"), ("port", "9000")])).unwrap(),
            ("[::1]:9000".parse().unwrap(), "/".to_owned())
        );
        for bad in [
            values(&[("address", "localhost")]),
            values(&[("PORT", "70000")]),
            values(&[("address", "127.0.0.1:1"), ("PORT", "2")]),
            values(&[("path", "api")]),
            values(&[("path", "/a?b")]),
            values(&[("path", "/.well-known/lattice/x")]),
        ] {
            assert!(
                matches!(parse_link_values(&bad), Err(HttpError::InvalidValue { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/v1"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(!prefix_matches("/api/v1", "/api"));
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("//").unwrap(), "/");
        assert_eq!(normalize_path(" /a/b/ ").unwrap(), "/a/b");
        assert!(normalize_path("/.well-known/lattice").is_err());
        assert!(normalize_path("/.well-known/other").is_ok());
        assert!(is_well_known("/.well-known/lattice"));
        assert!(is_well_known("/.well-known/lattice/health"));
        assert!(!is_well_known("/.well-known/latticex"));
        assert!(!is_well_known("/"));
    }
}
