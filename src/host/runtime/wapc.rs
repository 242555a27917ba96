//! The actor era's actors: core wasm modules speaking waPC as `wasmbus-rpc` builds them
//! (PROTOCOL.md §13). Compiling a module, checking its shape, and running one operation in a
//! fresh store (`Runtime::invoke_wapc`, reached through [`Runtime::invoke`]).
//!
//! Every call gets an instance no call has used before, as with components. The work around
//! the call is kept off its path: after a call, a task of its own drops the spent store (the
//! pooling allocator resets its slot then) and instantiates the module's next instance, which
//! waits, never called, for the next call ([`MAX_READY_INSTANCES`] per runtime at most). A
//! call that finds none instantiates one itself.
//!
//! The host side of the protocol is linked under both module names the OTP host offered,
//! `wasmbus` and `wapc`: `__guest_request`, `__guest_response`, `__guest_error`, `__host_call`,
//! `__host_response(_len)`, `__host_error(_len)`, `__console_log`. The guest exports
//! `__guest_call(op_len, msg_len) -> i32` (1 ok, 0 error). A `__host_call` is handed to the
//! host's [`HostCalls`] (routing and RPC live in `core`/`rpc`, not here) and awaited: the guest
//! is suspended meanwhile, not a worker thread.
//!
//! Every length a guest gives is checked against its memory (an out-of-bounds pointer is a
//! trap, not a panic) and against [`MAX_GUEST_BYTES`]; the deadline and memory limits are the
//! runtime's, as for components.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use wasmtime::{
    Caller, Extern, InstancePre, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, TypedFunc,
    UpdateDeadline,
};
use wasmtime_wasi::cli::StdoutStream as _;

use super::super::guest_io::{GuestLog, GuestStream};
use super::{DEADLINE_GRACE, Loaded, Runtime, one_line};
use crate::sync::lock;

/// Largest message, operation name or reply a guest or a host call may hand over: 16 MiB.
pub const MAX_GUEST_BYTES: usize = 16 * 1024 * 1024;

/// Instances made ahead of their call that one runtime keeps at once (one per module at
/// most). Each holds a pool slot while it waits; the pool has 1,000.
pub const MAX_READY_INSTANCES: usize = 64;

/// The module names the host functions are linked under.
const HOST_MODULES: [&str; 2] = ["wasmbus", "wapc"];

/// One outgoing call of a guest (`__host_call`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCall {
    /// The calling actor's public key.
    pub actor: String,
    /// The binding (link name; empty for an actor).
    pub binding: String,
    /// The namespace: a contract id, an actor key or a call alias.
    pub namespace: String,
    /// `Interface.Method`.
    pub operation: String,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Where guests' outgoing calls go (the host's routing and RPC).
pub trait HostCalls: Send + Sync {
    /// Performs `call`; `Err` is the text the guest gets from `__host_error`.
    fn host_call(&self, call: HostCall) -> BoxFuture<'static, Result<Vec<u8>, String>>;
}

/// Host calls when nothing routes them: each fails with a clear text.
pub struct NoHostCalls;

impl HostCalls for NoHostCalls {
    fn host_call(&self, call: HostCall) -> BoxFuture<'static, Result<Vec<u8>, String>> {
        Box::pin(async move {
            Err(format!(
                "this host does not route calls ({} {} on {:?})",
                call.namespace, call.operation, call.binding
            ))
        })
    }
}

/// Per-store state of a waPC guest.
pub struct WapcState {
    limits: StoreLimits,
    deadline: Instant,
    actor: String,
    operation: Vec<u8>,
    msg: Vec<u8>,
    guest_response: Option<Vec<u8>>,
    guest_error: Option<String>,
    host_response: Option<Vec<u8>>,
    host_error: Option<String>,
    calls: Arc<dyn HostCalls>,
    log: GuestLog,
}

/// A compiled waPC module, ready to instantiate.
pub struct WapcModule {
    pre: InstancePre<WapcState>,
    /// The `__wasmbus_rpc_version` the module reports, if it exports one.
    pub rpc_version: Option<i32>,
    /// The instance the next call gets, made after the last call; never called.
    ready: Mutex<Option<ReadyInstance>>,
}

impl WapcModule {
    /// Whether an instance made ahead waits for the next call.
    pub fn has_ready(&self) -> bool {
        lock(&self.ready).is_some()
    }
}

/// A fresh instance and its `__guest_call`, counted in the runtime's ready instances.
struct ReadyInstance {
    store: Store<WapcState>,
    call: TypedFunc<(i32, i32), i32>,
    _counted: ReadyCount,
}

/// One of the runtime's [`MAX_READY_INSTANCES`]; given back on drop.
struct ReadyCount(Arc<AtomicUsize>);

impl ReadyCount {
    fn take(count: &Arc<AtomicUsize>) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_READY_INSTANCES).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(Arc::clone(count)))
    }
}

impl Drop for ReadyCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for WapcModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WapcModule")
            .field("rpc_version", &self.rpc_version)
            .finish_non_exhaustive()
    }
}

/// Why a waPC call did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WapcError {
    /// The guest reported an error (`__guest_error`), or returned 0.
    #[error("{0}")]
    Guest(String),
    /// The guest trapped.
    #[error("the actor failed: {0}")]
    Trap(String),
    /// Past the deadline.
    #[error("the actor did not answer within {0:?}")]
    Deadline(Duration),
    /// Instantiation failed.
    #[error("cannot instantiate the actor: {0}")]
    Instantiate(String),
}

/// The deadline error raised by the epoch callback.
#[derive(Debug, thiserror::Error)]
#[error("the guest ran past its {0:?} deadline")]
struct DeadlineExceeded(Duration);

fn memory(caller: &mut Caller<'_, WapcState>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(wasmtime::Error::msg("the module exports no memory")),
    }
}

fn read(caller: &mut Caller<'_, WapcState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| wasmtime::Error::msg("negative length"))?;
    if len > MAX_GUEST_BYTES {
        return Err(wasmtime::Error::msg(format!(
            "the guest handed over {len} bytes, more than {MAX_GUEST_BYTES}"
        )));
    }
    let ptr = usize::try_from(ptr.cast_unsigned()).unwrap_or(usize::MAX);
    let mem = memory(caller)?;
    let mut buf = vec![0; len];
    mem.read(&*caller, ptr, &mut buf)
        .map_err(|e| wasmtime::Error::msg(format!("guest pointer out of bounds: {e}")))?;
    Ok(buf)
}

fn write(caller: &mut Caller<'_, WapcState>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let ptr = usize::try_from(ptr.cast_unsigned()).unwrap_or(usize::MAX);
    let mem = memory(caller)?;
    mem.write(&mut *caller, ptr, bytes)
        .map_err(|e| wasmtime::Error::msg(format!("guest pointer out of bounds: {e}")))
}

fn len32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Links the host side of waPC under `wasmbus` and `wapc`.
pub(super) fn add_to_linker(linker: &mut Linker<WapcState>) -> wasmtime::Result<()> {
    for m in HOST_MODULES {
        linker.func_wrap(
            m,
            "__guest_request",
            |mut c: Caller<'_, WapcState>, op_ptr: i32, msg_ptr: i32| {
                let op = std::mem::take(&mut c.data_mut().operation);
                let msg = std::mem::take(&mut c.data_mut().msg);
                let r = write(&mut c, op_ptr, &op).and_then(|()| write(&mut c, msg_ptr, &msg));
                c.data_mut().operation = op;
                c.data_mut().msg = msg;
                r
            },
        )?;
        linker.func_wrap(
            m,
            "__guest_response",
            |mut c: Caller<'_, WapcState>, ptr: i32, len: i32| {
                let bytes = read(&mut c, ptr, len)?;
                c.data_mut().guest_response = Some(bytes);
                Ok(())
            },
        )?;
        linker.func_wrap(
            m,
            "__guest_error",
            |mut c: Caller<'_, WapcState>, ptr: i32, len: i32| {
                let bytes = read(&mut c, ptr, len)?;
                c.data_mut().guest_error = Some(String::from_utf8_lossy(&bytes).into_owned());
                Ok(())
            },
        )?;
        linker.func_wrap_async(
            m,
            "__host_call",
            |mut c: Caller<'_, WapcState>,
             (bd_ptr, bd_len, ns_ptr, ns_len, op_ptr, op_len, ptr, len): (
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
                i32,
            )| {
                Box::new(async move {
                    let binding = read(&mut c, bd_ptr, bd_len)?;
                    let namespace = read(&mut c, ns_ptr, ns_len)?;
                    let operation = read(&mut c, op_ptr, op_len)?;
                    let payload = read(&mut c, ptr, len)?;
                    let call = HostCall {
                        actor: c.data().actor.clone(),
                        binding: String::from_utf8_lossy(&binding).into_owned(),
                        namespace: String::from_utf8_lossy(&namespace).into_owned(),
                        operation: String::from_utf8_lossy(&operation).into_owned(),
                        payload,
                    };
                    let calls = Arc::clone(&c.data().calls);
                    let out = calls.host_call(call).await;
                    let s = c.data_mut();
                    s.host_response = None;
                    s.host_error = None;
                    Ok(match out {
                        Ok(bytes) if bytes.len() <= MAX_GUEST_BYTES => {
                            s.host_response = Some(bytes);
                            1
                        }
                        Ok(bytes) => {
                            s.host_error = Some(format!(
                                "the reply is {} bytes, more than {MAX_GUEST_BYTES}",
                                bytes.len()
                            ));
                            0
                        }
                        Err(e) => {
                            s.host_error = Some(e);
                            0
                        }
                    })
                })
            },
        )?;
        linker.func_wrap(m, "__host_response_len", |c: Caller<'_, WapcState>| {
            len32(c.data().host_response.as_ref().map_or(0, Vec::len))
        })?;
        linker.func_wrap(
            m,
            "__host_response",
            |mut c: Caller<'_, WapcState>, ptr: i32| {
                let bytes = c.data_mut().host_response.take().unwrap_or_default();
                let r = write(&mut c, ptr, &bytes);
                c.data_mut().host_response = Some(bytes);
                r
            },
        )?;
        linker.func_wrap(m, "__host_error_len", |c: Caller<'_, WapcState>| {
            len32(c.data().host_error.as_ref().map_or(0, String::len))
        })?;
        linker.func_wrap(
            m,
            "__host_error",
            |mut c: Caller<'_, WapcState>, ptr: i32| {
                let text = c.data_mut().host_error.take().unwrap_or_default();
                let r = write(&mut c, ptr, text.as_bytes());
                c.data_mut().host_error = Some(text);
                r
            },
        )?;
        linker.func_wrap(
            m,
            "__console_log",
            |mut c: Caller<'_, WapcState>, ptr: i32, len: i32| {
                let mut bytes = read(&mut c, ptr, len)?;
                bytes.push(b'\n');
                let mut out = c.data().log.stream(GuestStream::Stdout).p2_stream();
                // The guest log never refuses a write; lines over budget are counted there.
                let _ = out.write(bytes.into());
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// Whether `bytes` are a core module (not a component).
pub(super) fn is_core_module(bytes: &[u8]) -> bool {
    // `\0asm`, version 1, layer 0 (a component is layer 1).
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

impl Runtime {
    /// Compiles a waPC module and checks its shape: it must export `memory` and
    /// `__guest_call(i32, i32) -> i32`, and import nothing this host does not offer.
    pub(super) fn load_wapc_blocking(&self, bytes: &[u8]) -> Result<WapcModule, String> {
        let engine = &self.inner.engine;
        let module = Module::new(engine, bytes).map_err(|e| one_line(&format!("{e:#}")))?;
        let call_ok = module.get_export("__guest_call").is_some_and(|e| {
            e.func().is_some_and(|f| {
                f.params().len() == 2
                    && f.params().all(|p| p.matches(&wasmtime::ValType::I32))
                    && f.results().len() == 1
            })
        });
        if !call_ok {
            return Err(
                "this core module is no actor of the actor era: it does not export \
                 `__guest_call(i32, i32) -> i32` (build it with wasmbus-rpc for wasm32-unknown-unknown)"
                    .into(),
            );
        }
        if module
            .get_export("memory")
            .is_none_or(|e| e.memory().is_none())
        {
            return Err("this core module exports no memory".into());
        }
        let pre = self
            .inner
            .wapc_linker
            .instantiate_pre(&module)
            .map_err(|e| {
                format!(
                    "this host cannot link the module's imports (it offers the waPC functions of \
                     `wasmbus` and `wapc`): {}",
                    one_line(&format!("{e:#}"))
                )
            })?;
        Ok(WapcModule {
            pre,
            rpc_version: None,
            ready: Mutex::new(None),
        })
    }

    /// A store for one call of `actor`'s module (its per-call fields are set again when a
    /// ready instance takes a call).
    fn wapc_store(
        &self,
        loaded: &Loaded,
        actor: &str,
        request_id: u64,
        operation: &str,
        msg: Vec<u8>,
    ) -> Store<WapcState> {
        let budget = self.inner.cfg.max_execution_time;
        let memory = usize::try_from(self.inner.cfg.max_linear_memory).unwrap_or(usize::MAX);
        let state = WapcState {
            limits: StoreLimitsBuilder::new().memory_size(memory).build(),
            deadline: Instant::now() + budget,
            actor: actor.to_string(),
            operation: operation.as_bytes().to_vec(),
            msg,
            guest_response: None,
            guest_error: None,
            host_response: None,
            host_error: None,
            calls: self.host_calls(),
            log: GuestLog::with_budget(actor, request_id, Arc::clone(&loaded.output)),
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_callback(move |ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(wasmtime::Error::new(DeadlineExceeded(budget)))
            } else {
                Ok(UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        store.set_epoch_deadline(1);
        store
    }

    /// Instantiates `module` in `store` and finds its `__guest_call`.
    async fn wapc_instance(
        module: &WapcModule,
        store: &mut Store<WapcState>,
    ) -> Result<TypedFunc<(i32, i32), i32>, WapcError> {
        let instance = module
            .pre
            .instantiate_async(&mut *store)
            .await
            .map_err(|e| WapcError::Instantiate(one_line(&format!("{e:#}"))))?;
        instance
            .get_typed_func::<(i32, i32), i32>(&mut *store, "__guest_call")
            .map_err(|e| WapcError::Instantiate(one_line(&format!("{e:#}"))))
    }

    /// After a call: drops its spent store and makes the module's next instance, in a task
    /// of its own so that neither delays the call's reply.
    fn after_wapc_call(&self, loaded: &Arc<Loaded>, spent: Option<Store<WapcState>>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let runtime = self.clone();
        let loaded = Arc::clone(loaded);
        rt.spawn(async move {
            drop(spent);
            let Some(module) = loaded.wapc.as_ref() else {
                return;
            };
            if lock(&module.ready).is_some() {
                return;
            }
            let Some(counted) = ReadyCount::take(&runtime.inner.ready_instances) else {
                return;
            };
            let mut store = runtime.wapc_store(&loaded, "", 0, "", Vec::new());
            match Self::wapc_instance(module, &mut store).await {
                Ok(call) => {
                    let mut ready = lock(&module.ready);
                    if ready.is_none() {
                        *ready = Some(ReadyInstance {
                            store,
                            call,
                            _counted: counted,
                        });
                    }
                }
                Err(e) => tracing::debug!(error = %e, "no instance made ahead of the next call"),
            }
        });
    }

    /// Runs `operation` with `msg` in a fresh instance of `loaded`'s `module` (the one made
    /// ahead of the call, else a new one), for `actor`.
    ///
    /// # Errors
    /// [`WapcError`]: the guest's error, a trap, the deadline, an instantiation failure.
    pub(super) async fn invoke_wapc(
        &self,
        loaded: &Arc<Loaded>,
        module: &WapcModule,
        actor: &str,
        operation: &str,
        msg: Vec<u8>,
    ) -> Result<Vec<u8>, WapcError> {
        let budget = self.inner.cfg.max_execution_time;
        let request_id = self.inner.next_request_id.fetch_add(1, Ordering::Relaxed);
        let op_len = len32(operation.len());
        let msg_len = len32(msg.len());
        let ready = lock(&module.ready).take();
        let run = async move {
            let (mut store, call) = match ready {
                Some(r) => {
                    let ReadyInstance {
                        mut store, call, ..
                    } = r;
                    let s = store.data_mut();
                    s.deadline = Instant::now() + budget;
                    s.actor = actor.to_string();
                    s.operation = operation.as_bytes().to_vec();
                    s.msg = msg;
                    s.calls = self.host_calls();
                    s.log = GuestLog::with_budget(actor, request_id, Arc::clone(&loaded.output));
                    store.set_epoch_deadline(1);
                    (store, call)
                }
                None => {
                    let mut store = self.wapc_store(loaded, actor, request_id, operation, msg);
                    match Self::wapc_instance(module, &mut store).await {
                        Ok(call) => (store, call),
                        Err(e) => return (Err(e), None),
                    }
                }
            };
            let rc = match call.call_async(&mut store, (op_len, msg_len)).await {
                Ok(rc) => rc,
                Err(e) => {
                    let e = if e.chain().any(|c| c.is::<DeadlineExceeded>()) {
                        WapcError::Deadline(budget)
                    } else if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
                        // "wasm trap: wasm `unreachable` instruction executed".
                        WapcError::Trap(trap.to_string())
                    } else {
                        // A host function refused (a bad pointer, a length over the limit):
                        // its own words, not wasmtime's backtrace header.
                        WapcError::Trap(one_line(&e.root_cause().to_string()))
                    };
                    return (Err(e), Some(store));
                }
            };
            let s = store.data_mut();
            let out = if rc == 1 {
                Ok(s.guest_response.take().unwrap_or_default())
            } else {
                Err(WapcError::Guest(s.guest_error.take().unwrap_or_else(
                    || format!("the actor returned {rc} from __guest_call without an error"),
                )))
            };
            (out, Some(store))
        };
        // A guest blocked in a host call never reaches the epoch callback: the host-side
        // timer ends it too.
        let result = match tokio::time::timeout(budget + DEADLINE_GRACE, run).await {
            Ok((r, spent)) => {
                self.after_wapc_call(loaded, spent);
                r
            }
            Err(_) => Err(WapcError::Deadline(budget)),
        };
        if let Err(e) = &result {
            // One warning per interval however many fail, as for components.
            match self.inner.failures.hit() {
                Some(suppressed) => {
                    tracing::warn!(actor, request_id, operation, error = %e, suppressed, "guest call failed")
                }
                None => {
                    tracing::debug!(actor, request_id, operation, error = %e, "guest call failed")
                }
            }
        }
        result
    }
}
