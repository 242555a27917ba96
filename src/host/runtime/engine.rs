//! The wasmtime engine: its configuration (component model, epoch interruption, the pooling
//! allocator when a probe shows it fits) and the epoch ticker thread that drives deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store,
};

use super::{EPOCH_TICK, RuntimeConfig, RuntimeError};

/// Component instances in the pooling allocator (wasmtime's default). Each request holds one
/// while its guest runs, so this is also the ceiling for concurrent guest calls; the HTTP
/// provider's in-flight limit stays below it.
const POOL_COMPONENT_INSTANCES: u32 = 1_000;

/// Core instances in the pool: a Rust `wasi:http` component instantiates up to four core
/// modules (its code plus the adapter shims), so 4 per component instance.
const POOL_CORE_INSTANCES: u32 = 4 * POOL_COMPONENT_INSTANCES;

/// Bytes of a pooled memory or table reset by memset rather than released on deallocation.
const KEEP_RESIDENT: usize = 1 << 20;

/// Bits of virtual address space the pooling allocator needs with the default pool
/// (1,000 memory slots of several GiB each): 42 bits, as `wasmtime serve` probes.
const POOLING_PROBE_BITS: u32 = 42;

/// Advances the engine's epoch every [`EPOCH_TICK`] on a plain thread (never a tokio worker:
/// it must tick even when every worker is busy). Stopped and joined on drop.
pub(super) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(super) fn spawn(engine: Engine) -> Result<Self, RuntimeError> {
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
pub(super) fn pooling_probe() -> Result<(), String> {
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
        // Where PAGEMAP_SCAN exists (Linux 6.7+), a slot's dirty pages are found with it and
        // reset to the module's original contents with memset, up to this many bytes, instead
        // of madvise: the next instance in the slot takes no page faults, and no TLB
        // shoot-down interrupts the other CPUs. Each instance still starts from the module's
        // initial state. Without it wasmtime would memset the whole low 1 MiB on every
        // deallocation, dirty or not, so the defaults (madvise) stay.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(KEEP_RESIDENT)
                .pagemap_scan(Enabled::Yes);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(config)
}

pub(super) fn new_engine(cfg: &RuntimeConfig, pooling: bool) -> Result<Engine, RuntimeError> {
    let config = engine_config(cfg, pooling)?;
    Engine::new(&config).map_err(|e| RuntimeError::Engine(format!("{e:#}")))
}
