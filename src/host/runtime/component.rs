//! Loading a component: cheap header checks, compilation on a blocking thread (bounded by the
//! runtime's compile permits), pre-linking the `wasi:http` entry point, and the [`Loaded`]
//! version that requests share.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sha2::Digest;
use wasmtime::component::Component;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::super::guest_io::OutputBudget;
use super::invoke::{HostState, Reusable};
use super::{LoadError, MAX_COMPONENT_BYTES, Runtime, one_line};

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
    /// The actor era's waPC module, when these bytes are one (then `proxy` is `None`).
    pub wapc: Option<super::WapcModule>,
    /// Why `proxy` is `None`, in words fit for a 503 body.
    pub no_http_reason: Option<String>,
    /// The component's export names (e.g. `wasi:http/incoming-handler@0.2.6`).
    pub exports: Vec<String>,
    /// The component's import names.
    pub imports: Vec<String>,
    /// Idle instances kept for reuse (only with [`RuntimeConfig::instance_reuse`]).
    pub(super) idle: Mutex<Vec<Reusable>>,
    /// The line budget of this version's guest output, shared by all its stores.
    pub(super) output: Arc<OutputBudget>,
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
        self.proxy.is_some() || self.wapc.is_some()
    }

    /// Whether this is an actor-era waPC module.
    pub fn is_wapc(&self) -> bool {
        self.wapc.is_some()
    }

    /// Whether an instance of this waPC module, made after the last call, waits for the
    /// next one (see `wapc`).
    pub fn has_ready_instance(&self) -> bool {
        self.wapc.as_ref().is_some_and(super::WapcModule::has_ready)
    }
}

impl Runtime {
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
        let _permit = Arc::clone(&self.inner.compiles)
            .acquire_owned()
            .await
            .map_err(|e| LoadError::Internal(e.to_string()))?;
        let runtime = self.clone();
        tokio::task::spawn_blocking(move || runtime.load_blocking(&bytes, revision))
            .await
            .map_err(|e| LoadError::Internal(e.to_string()))?
    }

    fn load_blocking(&self, bytes: &[u8], revision: i64) -> Result<Arc<Loaded>, LoadError> {
        if super::wapc::is_core_module(bytes) {
            return self.load_wapc(bytes, revision);
        }
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
            wapc: None,
            no_http_reason,
            exports,
            imports,
            idle: Mutex::new(Vec::new()),
            output: Arc::new(OutputBudget::new()),
        }))
    }
}

/// Cheap checks before compiling, for clear messages.
pub(super) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    /// `\0asm`.
    const MAGIC: &[u8; 4] = b"\0asm";
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Err(LoadError::TooLarge {
            size: bytes.len(),
            max: MAX_COMPONENT_BYTES,
        });
    }
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm { size: bytes.len() });
    }
    // A core module (version 1, layer 0) is checked for the waPC shape when it is compiled.
    Ok(())
}

impl Runtime {
    /// Loads an actor-era waPC module (see `wapc`).
    fn load_wapc(&self, bytes: &[u8], revision: i64) -> Result<Arc<Loaded>, LoadError> {
        let started = Instant::now();
        let module = self
            .load_wapc_blocking(bytes)
            .map_err(LoadError::CoreModule)?;
        let compile_time = started.elapsed();
        let digest = hex::encode(sha2::Sha256::digest(bytes));
        tracing::info!(
            revision,
            %digest,
            size = bytes.len(),
            compile_ms = compile_time.as_secs_f64() * 1e3,
            "waPC module loaded"
        );
        Ok(Arc::new(Loaded {
            revision,
            digest,
            size: bytes.len(),
            compile_time,
            loaded_at: SystemTime::now(),
            proxy: None,
            wapc: Some(module),
            no_http_reason: None,
            exports: vec!["__guest_call".into()],
            imports: vec![],
            idle: Mutex::new(Vec::new()),
            output: Arc::new(OutputBudget::new()),
        }))
    }
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
