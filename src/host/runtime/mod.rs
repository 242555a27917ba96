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
//!
//! Layout: this file holds the configuration, the errors and [`Runtime`] itself; `engine`
//! builds the wasmtime engine and runs the epoch ticker, `component` compiles and prepares
//! components ([`Loaded`]), `invoke` runs one request in a store (fresh or reused), `bus` is
//! `wasmcloud:bus/host` (a component's calls to providers and actors).

mod bus;
mod component;
mod engine;
mod invoke;
mod seam;
mod wapc;
mod wapc_http;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;
use wasmtime_wasi_http::p2::add_only_http_to_linker_async;

pub use self::component::Loaded;
use self::engine::{EpochTicker, new_engine, pooling_probe};
pub use self::invoke::HostState;
pub use self::wapc::{
    HostCall, HostCalls, MAX_GUEST_BYTES, NoHostCalls, WapcError, WapcModule, WapcState,
};
pub use self::wapc_http::{HANDLE_REQUEST, http_request, http_response};
use crate::logging::LogThrottle;

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

/// Compilations that run at once. Each one uses every core (wasmtime compiles functions in
/// parallel) and memory in proportion to the module; two keep a second start from waiting
/// behind a long compile without letting a burst of starts take the machine's memory.
/// Further loads wait for a permit (how many may wait is bounded by the caller).
pub const MAX_CONCURRENT_COMPILES: usize = 2;

/// Resources (handles) one store may hold. The `wasi:http` handler needs a handful per
/// request; 10,000 leaves room for fields-heavy guests and stops a guest that leaks them in a
/// loop long before host memory matters.
const MAX_RESOURCES_PER_STORE: usize = 10_000;

/// Idle instances kept per component version when instance reuse is on. More concurrent
/// requests than this still work (instances are created on demand) but the surplus is
/// dropped after use instead of being parked.
const MAX_IDLE_INSTANCES: usize = 64;

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
    /// A core WebAssembly module that is no actor of the actor era (no waPC `__guest_call`,
    /// or imports this host does not offer); the text says which.
    #[error(
        "this is a core WebAssembly module, not a component, and no waPC actor either: {0}; \
         build for wasm32-wasip2, or with wasmbus-rpc for wasm32-unknown-unknown"
    )]
    CoreModule(String),
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
    /// The host side of waPC for the actor era's core modules.
    wapc_linker: wasmtime::Linker<WapcState>,
    /// Where waPC guests' `__host_call`s go; set once the host's routing exists.
    host_calls: std::sync::OnceLock<Arc<dyn HostCalls>>,
    cfg: RuntimeConfig,
    pooling: bool,
    next_request_id: AtomicU64,
    /// waPC instances made ahead of their call, across modules (see `wapc`).
    ready_instances: Arc<std::sync::atomic::AtomicUsize>,
    /// Permits for [`Runtime::load`]; see [`MAX_CONCURRENT_COMPILES`].
    compiles: Arc<Semaphore>,
    /// One warning per interval for failed guest calls, however many fail.
    failures: LogThrottle,
    /// Joined when the last `Runtime` clone goes away.
    _ticker: EpochTicker,
}

impl Runtime {
    /// Creates the engine (probing for the pooling allocator under [`PoolingMode::Auto`]),
    /// the linker with WASI p2 (`wasi:cli` included, as Rust std guests need),
    /// `wasi:http` and `wasmcloud:bus/host`, and starts the epoch ticker.
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
        add_only_http_to_linker_async(&mut linker)
            .map_err(|e| RuntimeError::Linker(format!("{e:#}")))?;
        bus::add_to_linker(&mut linker).map_err(|e| RuntimeError::Linker(format!("{e:#}")))?;
        let mut wapc_linker = wasmtime::Linker::new(&engine);
        wapc::add_to_linker(&mut wapc_linker)
            .map_err(|e| RuntimeError::Linker(format!("{e:#}")))?;
        let ticker = EpochTicker::spawn(engine.clone())?;
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                wapc_linker,
                host_calls: std::sync::OnceLock::new(),
                cfg,
                pooling,
                next_request_id: AtomicU64::new(1),
                ready_instances: Arc::default(),
                compiles: Arc::new(Semaphore::new(MAX_CONCURRENT_COMPILES)),
                failures: LogThrottle::new(crate::logging::WARN_INTERVAL),
                _ticker: ticker,
            }),
        })
    }

    /// Sets where waPC guests' outgoing calls go (once; later calls are ignored with a
    /// warning). Until then every `__host_call` fails with [`NoHostCalls`]' text.
    pub fn set_host_calls(&self, calls: Arc<dyn HostCalls>) {
        if self.inner.host_calls.set(calls).is_err() {
            tracing::warn!("the runtime's host calls were already set");
        }
    }

    fn host_calls(&self) -> Arc<dyn HostCalls> {
        match self.inner.host_calls.get() {
            Some(c) => Arc::clone(c),
            None => Arc::new(NoHostCalls),
        }
    }

    /// Whether the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The configuration this runtime was built with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.cfg
    }
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

#[cfg(test)]
mod tests {
    use super::component::check_header;
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
        assert!(check_header(b"\0asm\x01\0\0\0").is_ok());
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
