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
//! # Local and remote routes ([`RouteTarget`])
//! A route leads either to an actor running in this process ([`ActorTarget`]: the guest is
//! called here) or to one running on another host of the lattice ([`RemoteTarget`]: the
//! request becomes `HttpServer.HandleRequest` over lattice RPC, from this provider's entity,
//! and the reply's `HttpResponse` becomes the response; the actor's queue group picks the
//! instance). The same limits apply to both; a remote call that gets no answer — nothing
//! serves the actor (at once), or no reply within the RPC timeout (its host died) — is
//! answered `503` with `retry-after: 1`, never left hanging. See `remote`.
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
//!
//! # Failures and what clients see
//! A guest that traps, misses its deadline or gives no response is answered `500` with a
//! plain body (`500 Internal Server Error`): the details (trap text, backtrace lines) stay in
//! the log, in the actor's counters ([`CallStats::last_failure`]) and in the failure reports
//! handed to [`FailureReports::sink`] (the host publishes them as `invocation_failed`). Only
//! with [`FailureReports::details_in_body`] (`lattice-tui dev`, where the developer is the
//! client) does the body carry them.
//!
//! Layout: this file is the provider's API, state and route table; [`routes`] parses link
//! values and matches paths, `target` says what a route leads to and how it is described,
//! `listener` binds and serves connections, `remote` calls actors on other hosts, `body`
//! holds the response helpers and the body wrappers that keep counters right.

mod body;
mod listener;
mod remote;
pub mod routes;
mod target;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::listener::{ListenerCtx, accept_loop, bind};
pub use self::remote::RemoteTarget;
pub use self::routes::parse_link_values;
use self::target::route_info;
pub use self::target::{ActorTarget, RouteInfo, RouteTarget};
use super::runtime::Runtime;
use crate::sync::{lock, read, write};

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
    /// Why the last failed call failed (trap text, deadline, no response), for the console.
    last_failure: Mutex<Option<String>>,
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

    /// Why the last failed call failed, if one did.
    pub fn last_failure(&self) -> Option<String> {
        lock(&self.last_failure).clone()
    }

    fn record_failure(&self, reason: &str) {
        *lock(&self.last_failure) = Some(reason.to_owned());
    }

    /// Counts one call that did not come through this provider (lattice RPC): a call, and an
    /// error with its reason when it failed.
    pub fn record_rpc_call(&self, failure: Option<&str>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(reason) = failure {
            self.errors.fetch_add(1, Ordering::Relaxed);
            self.record_failure(reason);
        }
    }

    /// An RPC call started (it counts as in flight until [`CallStats::rpc_call_done`]).
    pub fn rpc_call_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// An RPC call ended.
    pub fn rpc_call_done(&self) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// A guest call that failed, as [`FailureReports::sink`] receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFailure {
    /// The actor that failed.
    pub actor_id: String,
    /// The link whose route led to it.
    pub link_id: String,
    /// The status the client got.
    pub status: u16,
    /// What happened, in full (never sent to the client unless
    /// [`FailureReports::details_in_body`]).
    pub reason: String,
    /// The request body size the client declared (0 when it declared none).
    pub request_bytes: u64,
}

/// Where the details of failed guest calls go besides the log.
#[derive(Clone, Debug, Default)]
pub struct FailureReports {
    /// Receives one [`CallFailure`] per failed call. Bounded by the caller; the provider never
    /// waits on it: a full channel drops the report (the log line and the counters remain).
    pub sink: Option<mpsc::Sender<CallFailure>>,
    /// Put the details in the `500` body too. For `lattice-tui dev`, where the developer is
    /// the client; off everywhere else, so clients never see trap text.
    pub details_in_body: bool,
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

impl HttpError {
    /// Whether this is a bind that failed because another socket holds the address (another
    /// process, e.g. a second host on the same machine serving the same link).
    pub fn is_address_in_use(&self) -> bool {
        matches!(self, Self::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse)
    }
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
    /// Where failures are reported.
    reports: FailureReports,
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
    target: RouteTarget,
}

impl HttpProvider {
    /// A provider with no listeners yet.
    pub fn new(runtime: Runtime, limits: HttpLimits) -> Self {
        Self::with_reports(runtime, limits, FailureReports::default())
    }

    /// A provider with no listeners yet that reports failed guest calls to `reports`.
    pub fn with_reports(runtime: Runtime, limits: HttpLimits, reports: FailureReports) -> Self {
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
            reports,
        });
        Self {
            _guard: Arc::new(DropGuard {
                shared: Arc::clone(&shared),
            }),
            shared,
        }
    }

    /// Adds (or replaces) the route of link `link_id` from its link values, binding a
    /// listener if the address has none yet. Returns the listener's bound address. Replacing
    /// a route on the same address swaps it in place: the listener and its connections stay
    /// (requests in flight finish on the target they started with).
    ///
    /// # Errors
    /// [`HttpError::InvalidValue`] for bad values, [`HttpError::RouteTaken`] when another
    /// link has the same address and path, [`HttpError::Bind`] when the address cannot be
    /// bound, [`HttpError::Draining`] after [`HttpProvider::drain`].
    pub async fn put_route(
        &self,
        link_id: &str,
        target: impl Into<RouteTarget>,
        values: &BTreeMap<String, String>,
    ) -> Result<SocketAddr, HttpError> {
        let target = target.into();
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
                let mut routes = write(&entry.routes);
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
                let routes = read(&entry.routes);
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
        let mut routes = write(&entry.routes);
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
