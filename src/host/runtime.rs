//! The WebAssembly runtime: one wasmtime `Engine` and one `Linker` per process, component
//! loading ([`Runtime::load`] → [`Loaded`]) and the per-request guest call
//! ([`Runtime::handle`]).
//!
//! Owns every wasmtime object of the host: the engine configuration (component model, async,
//! epoch interruption, the pooling allocator when it fits), the epoch ticker thread, stores
//! and their limits, and the `wasi:http` glue. It must not touch the UI, the console state,
//! crossterm or ratatui, must not print, and does not listen on sockets (that is
//! [`super::http`]). Wasmtime types stay inside `host/`.
//!
//! # Requests
//! Each request gets a fresh `Store` from the component's `ProxyPre` (as `wasmtime serve`
//! does), with [`StoreLimits`] capping linear memory, a WASI context with no filesystem, no
//! network, no environment and no inherited stdio (guest output goes to [`super::guest_io`]),
//! and a deadline: the epoch callback yields to tokio on every tick (so a looping guest never
//! pins a worker thread) and traps once [`RuntimeConfig::max_execution_time`] has passed; a
//! host-side timer aborts a guest that is stuck inside a host call. The guest runs in a
//! spawned task; the response head arrives through the `response-outparam` oneshot and the
//! body streams from the guest while the task keeps running.
//!
//! # Outgoing HTTP
//! Guests get no outgoing HTTP from this host: `wasi:http/outgoing-handler` is linked (so
//! proxy-world components instantiate) but every request fails with `HTTP-request-denied`.
//! Outgoing calls belong to a capability provider, as in wasmCloud.
//!
//! # Instance reuse
//! [`RuntimeConfig::instance_reuse`] = `Some(n)` serves up to `n` requests, one after the
//! other, with the same instance (`wasmtime serve --max-instance-reuse-count`). It is faster
//! (no instantiation per request) but **trades isolation for speed**: globals, heap contents
//! and anything else the guest keeps in its linear memory leak from one request to the next
//! of the same instance, including between different clients. An instance that traps or
//! misses its deadline is discarded, never reused. Parked idle instances (at most 64 per
//! component version) keep their memory and, with the pooling allocator, their pool slots.
//! Off by default.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use sha2::Digest;
use tokio::sync::oneshot;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::guest_io::{GuestLog, GuestStream};

/// How often the epoch ticker advances the engine's epoch. Every running guest yields to the
/// tokio scheduler once per tick and the deadline is checked then, so a deadline is enforced
/// within about one tick; 10 ms keeps that error small while the ticker itself costs nothing
/// measurable (100 wake-ups a second).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How long after the deadline the host-side timer aborts a guest task that has not stopped
/// by itself (it is blocked in a host call, so the epoch callback never runs). Two ticks:
/// a computing guest has been trapped by then.
const DEADLINE_GRACE: Duration = Duration::from_millis(20);

/// Default [`RuntimeConfig::max_execution_time`]: 10 s, generous for a request handler and
/// short enough that a stuck actor frees its slot quickly.
pub const DEFAULT_MAX_EXECUTION_TIME: Duration = Duration::from_secs(10);

/// Default [`RuntimeConfig::max_linear_memory`]: 256 MiB per linear memory.
pub const DEFAULT_MAX_LINEAR_MEMORY: u64 = 256 * 1024 * 1024;

/// Largest component accepted by [`Runtime::load`]: 100 MiB. Real actors are well under
/// 10 MiB; this only stops a wrong file from being compiled.
pub const MAX_COMPONENT_BYTES: usize = 100 * 1024 * 1024;

/// Resources (handles) one store may hold. The `wasi:http` handler needs a handful per
/// request; 10,000 leaves room for fields-heavy guests and stops a guest that leaks them in a
/// loop long before host memory matters.
const MAX_RESOURCES_PER_STORE: usize = 10_000;

/// Component instances in the pooling allocator (wasmtime's default). Each request holds one
/// while its guest runs, so this is also the ceiling for concurrent guest calls; the HTTP
/// provider's in-flight limit stays below it.
const POOL_COMPONENT_INSTANCES: u32 = 1_000;

/// Core instances in the pool: a Rust `wasi:http` component instantiates up to four core
/// modules (its code plus the adapter shims), so 4 per component instance.
const POOL_CORE_INSTANCES: u32 = 4 * POOL_COMPONENT_INSTANCES;

/// Idle instances kept per component version when instance reuse is on. More concurrent
/// requests than this still work (instances are created on demand) but the surplus is
/// dropped after use instead of being parked.
const MAX_IDLE_INSTANCES: usize = 64;

/// Bits of virtual address space the pooling allocator needs with the default pool
/// (1,000 memory slots of several GiB each): 42 bits, as `wasmtime serve` probes.
const POOLING_PROBE_BITS: u32 = 42;

/// Whether to use wasmtime's pooling instance allocator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolingMode {
    /// Use it if a probe shows the process can reserve the virtual memory it needs
    /// (not always true on 39-bit address spaces or under container limits).
    #[default]
    Auto,
    /// Always use it; [`Runtime::new`] fails if the engine cannot be created with it.
    On,
    /// Never use it; every instance is allocated on demand.
    Off,
}

/// Settings for [`Runtime::new`].
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Wall-clock budget of one guest call, from the request's arrival to the end of the
    /// guest's work (including streaming its body). Default [`DEFAULT_MAX_EXECUTION_TIME`].
    pub max_execution_time: Duration,
    /// Largest linear memory a guest may grow to, in bytes. Default
    /// [`DEFAULT_MAX_LINEAR_MEMORY`]. A guest that asks for more sees `memory.grow` fail
    /// (Rust guests then abort, which is a trap).
    pub max_linear_memory: u64,
    /// Pooling allocator choice. Default [`PoolingMode::Auto`].
    pub pooling: PoolingMode,
    /// Serve up to `n` requests with one instance instead of a fresh instance per request.
    /// Default `None` (fresh instances). **Trades isolation for speed**: see the module docs.
    pub instance_reuse: Option<u32>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_execution_time: DEFAULT_MAX_EXECUTION_TIME,
            max_linear_memory: DEFAULT_MAX_LINEAR_MEMORY,
            pooling: PoolingMode::Auto,
            instance_reuse: None,
        }
    }
}

/// Why [`Runtime::new`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A setting is out of range.
    #[error("invalid runtime configuration: {0}")]
    Config(String),
    /// wasmtime rejected the engine configuration.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The WASI interfaces could not be added to the linker.
    #[error("cannot set up the WASI linker: {0}")]
    Linker(String),
    /// The epoch ticker thread could not be started.
    #[error("cannot start the epoch ticker thread: {0}")]
    EpochThread(#[source] std::io::Error),
}

/// Why [`Runtime::load`] refused some bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes do not start with the WebAssembly magic number.
    #[error("not a WebAssembly binary (no \\0asm header; {size} bytes)")]
    NotWasm {
        /// How many bytes were given.
        size: usize,
    },
    /// A core WebAssembly module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build for wasm32-wasip2 or wrap \
         it with `wasm-tools component new`"
    )]
    CoreModule,
    /// Larger than [`MAX_COMPONENT_BYTES`].
    #[error("component is {size} bytes, more than the {max} byte limit")]
    TooLarge {
        /// How many bytes were given.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// wasmtime could not validate or compile it (truncated, corrupt, unsupported features).
    #[error("cannot compile the component: {0}")]
    Compile(String),
    /// The compile task did not finish (it panicked or the runtime is shutting down).
    #[error("the compile task failed: {0}")]
    Internal(String),
}

/// Per-store host state: WASI, `wasi:http`, limits and the request's deadline.
pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: DenyOutgoingHttp,
    limits: StoreLimits,
    /// When the current request's guest call must end.
    deadline: Instant,
    log: GuestLog,
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

/// A compiled component version, ready to serve.
///
/// Shared as `Arc<Loaded>`; in-flight requests keep the version they started with.
pub struct Loaded {
    /// The revision the caller gave to [`Runtime::load`].
    pub revision: i64,
    /// Lowercase hex SHA-256 of the component bytes.
    pub digest: String,
    /// Size of the component bytes.
    pub size: usize,
    /// Time spent compiling (on a blocking thread).
    pub compile_time: Duration,
    /// When loading finished.
    pub loaded_at: SystemTime,
    /// Pre-linked HTTP entry point; `None` if the component cannot serve HTTP.
    pub proxy: Option<ProxyPre<HostState>>,
    /// Why `proxy` is `None`, in words fit for a 503 body.
    pub no_http_reason: Option<String>,
    /// The component's export names (e.g. `wasi:http/incoming-handler@0.2.6`).
    pub exports: Vec<String>,
    /// The component's import names.
    pub imports: Vec<String>,
    /// Idle instances kept for reuse (only with [`RuntimeConfig::instance_reuse`]).
    idle: Mutex<Vec<Reusable>>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("revision", &self.revision)
            .field("digest", &self.digest)
            .field("size", &self.size)
            .field("compile_time", &self.compile_time)
            .field("http", &self.proxy.is_some())
            .field("no_http_reason", &self.no_http_reason)
            .finish_non_exhaustive()
    }
}

impl Loaded {
    /// Whether this version can serve HTTP requests.
    pub fn serves_http(&self) -> bool {
        self.proxy.is_some()
    }
}

/// An instance parked for reuse.
struct Reusable {
    store: Store<HostState>,
    proxy: Proxy,
    served: u32,
}

/// The body type of every response the runtime and the HTTP provider produce.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// A boxed error, as hyper accepts from bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a request could not be answered by the guest. The HTTP provider maps these to status
/// codes; `Display` is a short sentence fit for a response body.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HandleError {
    /// The component does not serve HTTP (the reason from [`Loaded::no_http_reason`]).
    #[error("{0}")]
    NoHttp(String),
    /// The request could not be handed to the guest (e.g. no Host header).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Instantiation failed (e.g. the pooling allocator is exhausted, a start function trapped).
    #[error("cannot instantiate the actor: {0}")]
    Instantiate(String),
    /// The guest trapped or failed before answering.
    #[error("the actor failed: {0}")]
    Trap(String),
    /// The guest did not answer within [`RuntimeConfig::max_execution_time`].
    #[error("the actor did not answer within {0:?}")]
    Deadline(Duration),
    /// The guest returned without calling `response-outparam::set`.
    #[error("the actor returned without a response (guest never called response-outparam::set)")]
    NoResponse,
    /// The guest answered with a `wasi:http` error code instead of a response.
    #[error("the actor answered with an error: {0}")]
    GuestError(String),
}

/// What the guest task reports when it ends, before its store is dropped.
type Outcome = Result<(), HandleError>;

/// The engine, the linker and the epoch ticker; cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("pooling", &self.inner.pooling)
            .field("config", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

struct Inner {
    engine: Engine,
    linker: Linker<HostState>,
    cfg: RuntimeConfig,
    pooling: bool,
    next_request_id: AtomicU64,
    /// Joined when the last `Runtime` clone goes away.
    _ticker: EpochTicker,
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a plain thread (never a tokio worker:
/// it must tick even when every worker is busy). Stopped and joined on drop.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn spawn(engine: Engine) -> Result<Self, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(RuntimeError::EpochThread)?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            if thread.join().is_err() {
                tracing::error!("the epoch ticker thread panicked");
            }
        }
    }
}

/// Whether this process can reserve the address space the pooling allocator wants: reserve a
/// 2^42-byte 64-bit memory and see if it works (the probe `wasmtime serve` uses).
fn pooling_probe() -> Result<(), String> {
    let mut config = Config::new();
    config.wasm_memory64(true);
    config.memory_reservation(1 << POOLING_PROBE_BITS);
    let engine = Engine::new(&config).map_err(|e| e.to_string())?;
    let mut store = Store::new(&engine, ());
    let ty = wasmtime::MemoryType::new64(0, Some(1 << (POOLING_PROBE_BITS - 16)));
    wasmtime::Memory::new(&mut store, ty)
        .map(|_| ())
        .map_err(|e| format!("cannot reserve 2^{POOLING_PROBE_BITS} bytes: {e}"))
}

fn engine_config(cfg: &RuntimeConfig, pooling: bool) -> Result<Config, RuntimeError> {
    let max_memory = usize::try_from(cfg.max_linear_memory)
        .map_err(|_| RuntimeError::Config("max_linear_memory does not fit in usize".into()))?;
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_COMPONENT_INSTANCES)
            .total_core_instances(POOL_CORE_INSTANCES)
            .total_memories(POOL_COMPONENT_INSTANCES)
            .total_tables(POOL_COMPONENT_INSTANCES)
            .total_stacks(POOL_COMPONENT_INSTANCES)
            .max_memory_size(max_memory);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(config)
}

impl Runtime {
    /// Creates the engine (probing for the pooling allocator under [`PoolingMode::Auto`]),
    /// the linker with WASI p2 (`wasi:cli` included, as Rust std guests need) and
    /// `wasi:http`, and starts the epoch ticker.
    ///
    /// # Errors
    /// [`RuntimeError`] if a setting is out of range, the engine cannot be created (with
    /// [`PoolingMode::On`] when pooling does not fit) or the ticker thread cannot start.
    pub fn new(cfg: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        if cfg.max_execution_time.is_zero() {
            return Err(RuntimeError::Config(
                "max_execution_time must be more than zero".into(),
            ));
        }
        if cfg.max_linear_memory == 0 {
            return Err(RuntimeError::Config(
                "max_linear_memory must be more than zero".into(),
            ));
        }
        if cfg.instance_reuse == Some(0) {
            return Err(RuntimeError::Config(
                "instance_reuse must be at least 1 (or None)".into(),
            ));
        }
        let (engine, pooling) = match cfg.pooling {
            PoolingMode::Off => {
                tracing::info!("wasm instance allocator: on-demand (pooling off by configuration)");
                (new_engine(&cfg, false)?, false)
            }
            PoolingMode::On => {
                tracing::info!("wasm instance allocator: pooling (on by configuration)");
                (new_engine(&cfg, true)?, true)
            }
            PoolingMode::Auto => match pooling_probe() {
                Ok(()) => match new_engine(&cfg, true) {
                    Ok(engine) => {
                        tracing::info!("wasm instance allocator: pooling (probe succeeded)");
                        (engine, true)
                    }
                    Err(e) => {
                        tracing::info!(
                            error = %e,
                            "wasm instance allocator: on-demand (pooling engine failed)"
                        );
                        (new_engine(&cfg, false)?, false)
                    }
                },
                Err(reason) => {
                    tracing::info!(
                        %reason,
                        "wasm instance allocator: on-demand (pooling probe failed)"
                    );
                    (new_engine(&cfg, false)?, false)
                }
            },
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Linker(format!("{e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Linker(format!("{e:#}")))?;
        let ticker = EpochTicker::spawn(engine.clone())?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cfg,
                pooling,
                next_request_id: AtomicU64::new(1),
                _ticker: ticker,
            }),
        })
    }

    /// Whether the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The configuration this runtime was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.cfg
    }

    /// Compiles a component (on a blocking thread, never on an async worker) and prepares it
    /// for serving.
    ///
    /// A valid component that does not export `wasi:http/incoming-handler`, or whose imports
    /// this host cannot satisfy, still loads: [`Loaded::proxy`] is `None` and
    /// [`Loaded::no_http_reason`] says why; it fails only when asked to serve.
    ///
    /// # Errors
    /// [`LoadError`] for bytes that are not a component: not WebAssembly, a core module,
    /// too large, truncated or otherwise invalid.
    pub async fn load(
        &self,
        bytes: impl Into<Arc<[u8]>>,
        revision: i64,
    ) -> Result<Arc<Loaded>, LoadError> {
        let bytes: Arc<[u8]> = bytes.into();
        check_header(&bytes)?;
        let runtime = self.clone();
        tokio::task::spawn_blocking(move || runtime.load_blocking(&bytes, revision))
            .await
            .map_err(|e| LoadError::Internal(e.to_string()))?
    }

    fn load_blocking(&self, bytes: &[u8], revision: i64) -> Result<Arc<Loaded>, LoadError> {
        let engine = &self.inner.engine;
        let started = Instant::now();
        let component =
            Component::new(engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        let compile_time = started.elapsed();

        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();

        let (proxy, no_http_reason) = match self.inner.linker.instantiate_pre(&component) {
            Err(e) => (
                None,
                Some(format!(
                    "this host cannot link the component's imports: {}",
                    one_line(&format!("{e:#}"))
                )),
            ),
            Ok(pre) => match ProxyPre::new(pre) {
                Ok(proxy) => (Some(proxy), None),
                Err(e) => (None, Some(no_http_export_reason(&exports, &e))),
            },
        };
        let digest = hex::encode(sha2::Sha256::digest(bytes));
        tracing::info!(
            revision,
            %digest,
            size = bytes.len(),
            compile_ms = compile_time.as_secs_f64() * 1e3,
            http = proxy.is_some(),
            "component loaded"
        );
        Ok(Arc::new(Loaded {
            revision,
            digest,
            size: bytes.len(),
            compile_time,
            loaded_at: SystemTime::now(),
            proxy,
            no_http_reason,
            exports,
            imports,
            idle: Mutex::new(Vec::new()),
        }))
    }

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
            None => Instance::Fresh(self.new_store(actor, request_id, deadline)),
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
                tracing::warn!(
                    actor = %actor_for_task,
                    request_id,
                    error = %e,
                    "guest call failed"
                );
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

    fn new_store(&self, actor: &str, request_id: u64, deadline: Instant) -> Store<HostState> {
        let log = GuestLog::new(actor, request_id);
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
        loaded.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }
}

fn park_idle(loaded: &Loaded, r: Reusable) {
    let mut idle = loaded.idle.lock().unwrap_or_else(|e| e.into_inner());
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

fn new_engine(cfg: &RuntimeConfig, pooling: bool) -> Result<Engine, RuntimeError> {
    let config = engine_config(cfg, pooling)?;
    Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}

/// Cheap checks before compiling, for clear messages.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    /// `\0asm`.
    const MAGIC: &[u8; 4] = b"\0asm";
    /// Version 1, layer 0: a core module.
    const CORE_MODULE: [u8; 4] = [1, 0, 0, 0];
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Err(LoadError::TooLarge {
            size: bytes.len(),
            max: MAX_COMPONENT_BYTES,
        });
    }
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm { size: bytes.len() });
    }
    if bytes[4..8] == CORE_MODULE {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

fn no_http_export_reason(exports: &[String], err: &wasmtime::Error) -> String {
    let listed = if exports.is_empty() {
        "none".to_owned()
    } else {
        exports.join(", ")
    };
    if exports
        .iter()
        .any(|e| e.starts_with("wasi:http/incoming-handler@"))
    {
        format!(
            "the component's wasi:http/incoming-handler export does not match \
             wasi:http/incoming-handler@0.2.x: {}",
            one_line(&format!("{err:#}"))
        )
    } else {
        format!(
            "component does not export wasi:http/incoming-handler@0.2.x (its exports: {listed})"
        )
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

/// The first line of a message, at most 300 characters (for response bodies and reasons).
fn one_line(s: &str) -> String {
    /// Long enough for a wasmtime error chain, short enough for a status line or a table.
    const MAX_CHARS: usize = 300;
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() > MAX_CHARS {
        let mut cut: String = line.chars().take(MAX_CHARS).collect();
        cut.push('…');
        cut
    } else {
        line.to_owned()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks_name_the_problem() {
        assert!(matches!(
            check_header(b""),
            Err(LoadError::NotWasm { size: 0 })
        ));
        assert!(matches!(
            check_header(b"hello world, not wasm"),
            Err(LoadError::NotWasm { .. })
        ));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn one_line_cuts_long_and_multiline_messages() {
        assert_eq!(one_line("first\nsecond"), "first");
        let long = "x".repeat(1000);
        assert_eq!(one_line(&long).chars().count(), 301);
    }

    #[test]
    fn zero_settings_are_rejected() {
        let cfg = RuntimeConfig {
            max_execution_time: Duration::ZERO,
            ..RuntimeConfig::default()
        };
        assert!(matches!(Runtime::new(cfg), Err(RuntimeError::Config(_))));
        let cfg = RuntimeConfig {
            instance_reuse: Some(0),
            ..RuntimeConfig::default()
        };
        assert!(matches!(Runtime::new(cfg), Err(RuntimeError::Config(_))));
    }
}
