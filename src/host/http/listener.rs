//! Listening and serving: binding a listener (with `SO_REUSEADDR` on Unix), the accept loop
//! (connection permits taken before `accept`, backoff on accept errors), one hyper task per
//! connection, and dispatch: well-known endpoints, routing, the guest call and its answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::body::{InFlight, LimitedBody, TrackedBody, full, status_reason, text};
use super::routes::{is_well_known, prefix_matches};
use super::{
    ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN, ActorTarget, CallFailure, CallStats, HEALTH_PATH,
    HttpError, INFO_PATH, LISTEN_BACKLOG, Route, RouteInfo, RouteTarget, Shared, route_info,
};
use crate::host::runtime::{HandleError, Loaded, ResponseBody};
use crate::sync::read;

/// What connection tasks of one listener share.
pub(super) struct ListenerCtx {
    pub(super) shared: Arc<Shared>,
    pub(super) address: SocketAddr,
    pub(super) routes: Arc<RwLock<Vec<Arc<Route>>>>,
}

pub(super) fn bind(addr: SocketAddr) -> Result<TcpListener, HttpError> {
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

pub(super) async fn accept_loop(
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
            let routes = read(&self.routes);
            routes
                .iter()
                .find(|r| prefix_matches(&r.path, path))
                .cloned()
        };
        let Some(route) = route else {
            return self.not_found(path);
        };
        match &route.target {
            RouteTarget::Local(target) => self.call_actor(&route, target, req).await,
            RouteTarget::Remote(target) => self.call_remote(&route, target, req).await,
        }
    }

    /// Takes a guest-call permit and counts the call; `None` when
    /// [`super::HttpLimits::max_in_flight`] calls are in flight already (answer [`busy`]).
    pub(super) fn admit(&self, stats: &Arc<CallStats>) -> Option<InFlight> {
        let permit = Arc::clone(&self.shared.in_flight)
            .try_acquire_owned()
            .ok()?;
        stats.calls.fetch_add(1, Ordering::Relaxed);
        Some(InFlight::new(
            Arc::clone(&self.shared),
            Arc::clone(stats),
            permit,
        ))
    }

    /// Counts a failed call as an error, records its reason and reports it.
    pub(super) fn count_failure(
        &self,
        route: &Route,
        status: StatusCode,
        reason: &str,
        request_bytes: u64,
    ) {
        let stats = route.target.stats();
        stats.errors.fetch_add(1, Ordering::Relaxed);
        stats.record_failure(reason);
        self.report_failure(route, status, reason, request_bytes);
    }

    /// A failed call's answer ([`Self::count_failure`]); the body carries the reason only
    /// with [`super::FailureReports::details_in_body`].
    pub(super) fn failed(
        &self,
        route: &Route,
        status: StatusCode,
        reason: &str,
        request_bytes: u64,
    ) -> Response<ResponseBody> {
        self.count_failure(route, status, reason, request_bytes);
        if self.shared.reports.details_in_body {
            text(
                status,
                format!("{} {}: {reason}\n", status.as_u16(), status_reason(status)),
            )
        } else {
            text(
                status,
                format!("{} {}\n", status.as_u16(), status_reason(status)),
            )
        }
    }

    async fn call_actor(
        &self,
        route: &Route,
        target: &ActorTarget,
        req: Request<Incoming>,
    ) -> Response<ResponseBody> {
        let stats = &target.stats;
        let Some(guard) = self.admit(stats) else {
            return busy();
        };
        // Clone the Arc and drop the watch borrow at once: never hold it across an await.
        let loaded: Arc<Loaded> = target.live.borrow().clone();

        let limit = self.shared.limits.max_request_body;
        let declared = declared_length(&req);
        if declared.is_some_and(|n| n > limit) {
            return too_large(limit);
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
            Ok(resp) => tracked(resp, stats, guard),
            Err(e) => {
                if exceeded.load(Ordering::Acquire) {
                    return too_large(limit);
                }
                let status = match &e {
                    HandleError::NoHttp(_) => StatusCode::SERVICE_UNAVAILABLE,
                    HandleError::BadRequest(_) => StatusCode::BAD_REQUEST,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                match &e {
                    HandleError::NoHttp(_) | HandleError::BadRequest(_) => {
                        tracing::debug!(actor = %target.actor_id, error = %e, "request refused");
                    }
                    // Traps, deadlines and instantiation failures are logged by the runtime
                    // with the request id; these two are the provider's to log.
                    HandleError::NoResponse | HandleError::GuestError(_) => {
                        tracing::debug!(actor = %target.actor_id, error = %e, "actor gave no response");
                    }
                    _ => {}
                }
                if !status.is_server_error() {
                    return text(
                        status,
                        format!("{} {}: {e}\n", status.as_u16(), status_reason(status)),
                    );
                }
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    // The host's own reason (the component lacks the export): no guest text.
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    return text(
                        status,
                        format!("{} {}: {e}\n", status.as_u16(), status_reason(status)),
                    );
                }
                self.failed(route, status, &e.to_string(), declared.unwrap_or(0))
            }
        }
    }

    /// Hands a failure to the report sink without waiting (a full sink drops the report).
    fn report_failure(&self, route: &Route, status: StatusCode, reason: &str, request_bytes: u64) {
        let Some(sink) = &self.shared.reports.sink else {
            return;
        };
        let report = CallFailure {
            actor_id: route.target.actor_id().to_owned(),
            link_id: route.link_id.clone(),
            status: status.as_u16(),
            reason: reason.to_owned(),
            request_bytes,
        };
        if sink.try_send(report).is_err() {
            tracing::debug!(actor = %route.target.actor_id(), "failure report dropped (sink full or gone)");
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
                let routes = read(&self.routes);
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
            let routes = read(&self.routes);
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

/// `503` with `retry-after: 1`: too many calls in flight.
pub(super) fn busy() -> Response<ResponseBody> {
    let mut resp = text(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many requests in flight; retry shortly\n",
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

/// The request body size the client declared, if it declared one.
pub(super) fn declared_length<B>(req: &Request<B>) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// `413` for a body over `limit` bytes.
pub(super) fn too_large(limit: u64) -> Response<ResponseBody> {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than the {limit} byte limit\n"),
    )
}

/// The actor's response on its way out: a 5xx the actor chose to send is its answer, not a
/// host failure — counted as an error, passed through as it is; the guard keeps the call in
/// flight until the body is done.
pub(super) fn tracked(
    resp: Response<ResponseBody>,
    stats: &Arc<CallStats>,
    guard: InFlight,
) -> Response<ResponseBody> {
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
