//! One request in a store: a fresh `Store` from the component's `ProxyPre` (or a parked one
//! with instance reuse), WASI without files, network or inherited stdio, the deadline (epoch
//! callback + host-side timer), the `response-outparam` hand-off, and the body guard that
//! turns a guest failure mid-body into an error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::Proxy;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::super::guest_io::{GuestLog, GuestStream};
use super::{
    BoxError, DEADLINE_GRACE, HandleError, HostCalls, Loaded, MAX_IDLE_INSTANCES,
    MAX_RESOURCES_PER_STORE, ResponseBody, Runtime, one_line,
};
use crate::sync::lock;

/// Per-store host state: WASI, `wasi:http`, limits, the request's deadline, and who the
/// actor is with where its `wasmcloud:bus` calls go.
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: DenyOutgoingHttp,
    limits: StoreLimits,
    /// When the current request's guest call must end.
    deadline: Instant,
    log: GuestLog,
    /// The actor's public key: the origin of its calls.
    actor: Arc<str>,
    /// Where its `wasmcloud:bus/host` calls go (the runtime's [`HostCalls`]).
    calls: Arc<dyn HostCalls>,
}

impl HostState {
    /// The public key of the actor this store runs.
    pub(super) fn actor(&self) -> &str {
        &self.actor
    }

    /// Where the actor's outgoing calls go.
    pub(super) fn calls(&self) -> &Arc<dyn HostCalls> {
        &self.calls
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// `wasi:http` hooks that refuse outgoing requests (see the module docs).
struct DenyOutgoingHttp;

type OutgoingResult = wasmtime_wasi_http::Result<(
    http::Response<wasmtime_wasi_http::WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for DenyOutgoingHttp {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = OutgoingResult> + Send> {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// The error the epoch callback raises when a request's deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("the guest ran past its {0:?} deadline")]
struct DeadlineExceeded(Duration);

/// An instance parked for reuse.
pub(super) struct Reusable {
    store: Store<HostState>,
    proxy: Proxy,
    served: u32,
}

/// What the guest task reports when it ends, before its store is dropped.
type Outcome = Result<(), HandleError>;

impl Runtime {
    /// Serves one HTTP request with `loaded`, logging guest output under `actor`.
    ///
    /// Returns once the guest has set the response head; the body then streams from the
    /// guest task. A guest that fails after the head was sent ends the body with an error
    /// (the client sees a truncated response, never a silently short one).
    ///
    /// # Errors
    /// [`HandleError`] when there is no response to give: the component serves no HTTP, the
    /// request is unusable, the guest trapped, missed its deadline or returned no response.
    pub async fn handle<B>(
        &self,
        loaded: &Arc<Loaded>,
        actor: &str,
        req: hyper::Request<B>,
    ) -> Result<hyper::Response<ResponseBody>, HandleError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        if loaded.is_wapc() {
            return self.handle_wapc(loaded, actor, req).await;
        }
        let Some(pre) = loaded.proxy.clone() else {
            return Err(HandleError::NoHttp(
                loaded
                    .no_http_reason
                    .clone()
                    .unwrap_or_else(|| "the component does not serve HTTP".into()),
            ));
        };
        let request_id = self.inner.next_request_id.fetch_add(1, Ordering::Relaxed);
        let budget = self.inner.cfg.max_execution_time;
        let deadline = Instant::now() + budget;

        let mut store = match self.take_idle(loaded) {
            Some(mut reused) => {
                reused.store.data().log.begin_request(request_id);
                reused.store.data_mut().deadline = deadline;
                Instance::Reused(reused)
            }
            None => Instance::Fresh(self.new_store(loaded, actor, request_id, deadline)),
        };
        let fresh = matches!(store, Instance::Fresh(_));

        let (resp_tx, resp_rx) = oneshot::channel();
        let (incoming, outparam) = {
            let s = store.store_mut();
            let mut view = s.data_mut().http();
            let incoming = view
                .new_incoming_request(Scheme::Http, req)
                .map_err(|e| HandleError::BadRequest(one_line(&format!("{e:#}"))))?;
            let outparam = view
                .new_response_outparam(resp_tx)
                .map_err(|e| HandleError::Instantiate(format!("{e:#}")))?;
            (incoming, outparam)
        };
        // The epoch deadline counts from now: one tick, then the callback decides.
        store.store_mut().set_epoch_deadline(1);

        let (done_tx, done_rx) = oneshot::channel::<Outcome>();
        let reuse_limit = self.inner.cfg.instance_reuse;
        let loaded_for_task = Arc::clone(loaded);
        let runtime = self.clone();
        let actor_for_task: Arc<str> = actor.into();
        let abort_at = tokio::time::Instant::from_std(deadline + DEADLINE_GRACE);
        let task = tokio::spawn(async move {
            let run = async {
                match &mut store {
                    Instance::Reused(r) => {
                        r.proxy
                            .wasi_http_incoming_handler()
                            .call_handle(&mut r.store, incoming, outparam)
                            .await
                            .map_err(|e| classify_failure(e, budget, false))?;
                        Ok(None)
                    }
                    Instance::Fresh(s) => {
                        let proxy = pre
                            .instantiate_async(&mut *s)
                            .await
                            .map_err(|e| classify_failure(e, budget, true))?;
                        proxy
                            .wasi_http_incoming_handler()
                            .call_handle(&mut *s, incoming, outparam)
                            .await
                            .map_err(|e| classify_failure(e, budget, false))?;
                        Ok::<Option<Proxy>, HandleError>(Some(proxy))
                    }
                }
            };
            let result = match tokio::time::timeout_at(abort_at, run).await {
                Ok(r) => r,
                Err(_) => Err(HandleError::Deadline(budget)),
            };
            let outcome: Outcome = result.as_ref().map(|_| ()).map_err(Clone::clone);
            if let Err(e) = &outcome {
                // A client hammering a failing actor must not flood the log: one warning per
                // interval (with how many were folded into it), the rest at debug level.
                match runtime.inner.failures.hit() {
                    Some(suppressed) => tracing::warn!(
                        actor = %actor_for_task,
                        request_id,
                        error = %e,
                        suppressed,
                        "guest call failed"
                    ),
                    None => tracing::debug!(
                        actor = %actor_for_task,
                        request_id,
                        error = %e,
                        "guest call failed"
                    ),
                }
            }
            // Report before the store (and with it the body's sender) is dropped, so a body
            // that ends now can tell a failure from a finished response.
            let _ = done_tx.send(outcome.clone());
            if let (Ok(fresh_proxy), Some(limit)) = (result, reuse_limit) {
                let parked = match (store, fresh_proxy) {
                    (Instance::Reused(mut r), _) => {
                        r.served += 1;
                        Some(r)
                    }
                    (Instance::Fresh(store), Some(proxy)) => Some(Reusable {
                        store,
                        proxy,
                        served: 1,
                    }),
                    (Instance::Fresh(_), None) => None,
                };
                if let Some(r) = parked.filter(|r| r.served < limit) {
                    park_idle(&loaded_for_task, r);
                }
            }
            outcome
        });
        tracing::trace!(request_id, fresh, "guest call started");

        let response = match tokio::time::timeout_at(
            tokio::time::Instant::from_std(deadline),
            resp_rx,
        )
        .await
        {
            Ok(Ok(Ok(resp))) => resp,
            Ok(Ok(Err(code))) => {
                return Err(HandleError::GuestError(describe_error_code(&code)));
            }
            Ok(Err(_closed)) => {
                // The outparam is gone: the task ended (or is ending) without a response.
                let ended = tokio::time::timeout_at(abort_at, task).await;
                return Err(match ended {
                    Ok(Ok(Err(e))) => e,
                    Ok(Ok(Ok(()))) => HandleError::NoResponse,
                    Ok(Err(join)) => HandleError::Trap(format!("guest task failed: {join}")),
                    Err(_) => HandleError::Deadline(budget),
                });
            }
            Err(_elapsed) => {
                task.abort();
                return Err(HandleError::Deadline(budget));
            }
        };
        Ok(response.map(|body| {
            GuardedBody {
                inner: body,
                outcome: Some(done_rx),
            }
            .boxed_unsync()
        }))
    }

    fn new_store(
        &self,
        loaded: &Loaded,
        actor: &str,
        request_id: u64,
        deadline: Instant,
    ) -> Store<HostState> {
        let log = GuestLog::with_budget(actor, request_id, Arc::clone(&loaded.output));
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(log.stream(GuestStream::Stdout))
            .stderr(log.stream(GuestStream::Stderr));
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES_PER_STORE);
        // The value fits: Runtime::new checked it converts to usize.
        let memory = usize::try_from(self.inner.cfg.max_linear_memory).unwrap_or(usize::MAX);
        let state = HostState {
            table,
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: DenyOutgoingHttp,
            limits: StoreLimitsBuilder::new().memory_size(memory).build(),
            deadline,
            log,
            actor: actor.into(),
            calls: self.host_calls(),
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limits);
        let budget = self.inner.cfg.max_execution_time;
        store.epoch_deadline_callback(move |ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(wasmtime::Error::new(DeadlineExceeded(budget)))
            } else {
                // tokio's yield_now (not a bare self-wake) lets the worker poll its I/O and
                // timer drivers before the guest resumes; with a plain yield a worker kept
                // busy by a looping guest would poll them only every ~61 polls (0.6 s).
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        store.set_epoch_deadline(1);
        store
    }

    fn take_idle(&self, loaded: &Loaded) -> Option<Reusable> {
        self.inner.cfg.instance_reuse?;
        lock(&loaded.idle).pop()
    }
}

fn park_idle(loaded: &Loaded, r: Reusable) {
    let mut idle = lock(&loaded.idle);
    if idle.len() < MAX_IDLE_INSTANCES {
        idle.push(r);
    }
}

/// The store a request runs in: a fresh one or a parked instance.
enum Instance {
    Fresh(Store<HostState>),
    Reused(Reusable),
}

impl Instance {
    fn store_mut(&mut self) -> &mut Store<HostState> {
        match self {
            Instance::Fresh(s) => s,
            Instance::Reused(r) => &mut r.store,
        }
    }
}

/// Turns a guest-call error into a [`HandleError`], spotting the deadline.
fn classify_failure(e: wasmtime::Error, budget: Duration, instantiating: bool) -> HandleError {
    if e.chain().any(|c| c.is::<DeadlineExceeded>()) {
        return HandleError::Deadline(budget);
    }
    let short = match e.downcast_ref::<wasmtime::Trap>() {
        // Display reads "wasm trap: wasm `unreachable` instruction executed".
        Some(trap) => trap.to_string(),
        None => one_line(&format!("{e:#}")),
    };
    tracing::debug!(error = ?e, "guest call error");
    if instantiating {
        HandleError::Instantiate(short)
    } else {
        HandleError::Trap(short)
    }
}

fn describe_error_code(code: &ErrorCode) -> String {
    format!("{code:?}")
}

/// The guest's response body, which turns "the guest's store went away without finishing
/// the body" into an error instead of a clean end of stream.
///
/// wasmtime ends a response body cleanly when the store that writes it is dropped, so a guest
/// that traps half way through a chunked body would look like a complete response. The guest
/// task reports its outcome before dropping the store; at end of stream this body checks it.
struct GuardedBody {
    inner: HyperOutgoingBody,
    outcome: Option<oneshot::Receiver<Outcome>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the actor failed while sending its response body: {0}")]
struct BodyAborted(String);

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => {
                let Some(mut rx) = self.outcome.take() else {
                    return Poll::Ready(None);
                };
                match rx.try_recv() {
                    // Still running (it called finish and is doing something else) or done.
                    Err(oneshot::error::TryRecvError::Empty) | Ok(Ok(())) => Poll::Ready(None),
                    Ok(Err(e)) => Poll::Ready(Some(Err(Box::new(BodyAborted(e.to_string()))))),
                    Err(oneshot::error::TryRecvError::Closed) => Poll::Ready(Some(Err(Box::new(
                        BodyAborted("the guest task was stopped".into()),
                    )))),
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.outcome.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
