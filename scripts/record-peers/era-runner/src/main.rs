//! era-runner: runs the actor-era test actors (assets/actors-era, built by
//! scripts/build-era-actors.sh) under a minimal waPC host that implements the `wasmbus` imports of
//! PROTOCOL.md §13, and records what they do.
//!
//! Usage: era-runner <modules-dir> <fixtures-dir>
//!
//! For every module it prints the imports and exports (with types), the custom sections and the
//! wasm features the module needs; then it calls `__guest_call("HttpServer.HandleRequest", …)` on
//! each actor with a fixed msgpack `HttpRequest`, answers the actors' `__host_call`s (a msgpack
//! i32 for `KeyValue.Increment`; the real era-echo module for era-relay's actor-to-actor call) and
//! writes the payloads it sent and received to `<fixtures-dir>/*.msgpack`. The report on stdout
//! is the body of tests/fixtures/era-actors/observed.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use wasmtime::{Caller, Config, Engine, ExternType, Linker, Module, Store, Trap};

/// `wasmcloud-interface-httpserver` 0.12 `HttpRequest`, the same serde shape (rmp-serde named map).
/// Headers are a `BTreeMap` here so that requests with several headers encode deterministically.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct HttpRequest {
    method: String,
    path: String,
    #[serde(rename = "queryString")]
    query_string: String,
    header: BTreeMap<String, Vec<String>>,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

/// `wasmcloud-interface-httpserver` 0.12 `HttpResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct HttpResponse {
    #[serde(rename = "statusCode")]
    status_code: u16,
    header: BTreeMap<String, Vec<String>>,
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
}

/// `wasmcloud-interface-keyvalue` 0.12 `IncrementRequest`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct IncrementRequest {
    key: String,
    value: i32,
}

/// One `__host_call` as the guest made it.
#[derive(Debug, Clone)]
struct HostCall {
    binding: String,
    namespace: String,
    operation: String,
    payload: Vec<u8>,
}

type Handler = Box<dyn FnMut(&HostCall) -> Result<Vec<u8>, String>>;

/// The per-call host state behind the `wasmbus` imports.
struct Host {
    op: String,
    msg: Vec<u8>,
    guest_response: Option<Vec<u8>>,
    guest_error: Option<String>,
    host_response: Vec<u8>,
    host_error: Vec<u8>,
    calls: Vec<HostCall>,
    logs: Vec<String>,
    handler: Handler,
}

/// How a `__guest_call` ended.
#[derive(Debug)]
enum Outcome {
    /// Returned 1 after `__guest_response`.
    Ok(Vec<u8>),
    /// Returned 0 after `__guest_error`.
    Err(String),
    /// Trapped (or was interrupted): the trap code and the full error text.
    Trap(Option<Trap>, String),
    /// Returned something that doesn't fit the protocol (shown through `Debug`).
    #[allow(dead_code)]
    Odd(String),
}

struct Run {
    outcome: Outcome,
    calls: Vec<HostCall>,
    logs: Vec<String>,
    millis: u128,
}

fn memory(caller: &mut Caller<'_, Host>) -> wasmtime::Memory {
    caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .expect("the guest exports `memory`")
}

fn read(caller: &mut Caller<'_, Host>, ptr: i32, len: i32) -> Vec<u8> {
    let mem = memory(caller);
    let mut buf = vec![0; len as u32 as usize];
    mem.read(&*caller, ptr as u32 as usize, &mut buf)
        .expect("guest pointer in bounds");
    buf
}

fn write(caller: &mut Caller<'_, Host>, ptr: i32, data: &[u8]) {
    let mem = memory(caller);
    mem.write(&mut *caller, ptr as u32 as usize, data)
        .expect("guest pointer in bounds");
}

fn linker(engine: &Engine) -> Result<Linker<Host>> {
    let mut l = Linker::new(engine);
    let m = "wasmbus";
    l.func_wrap(
        m,
        "__guest_request",
        |mut c: Caller<'_, Host>, op_ptr: i32, msg_ptr: i32| {
            let op = c.data().op.clone().into_bytes();
            let msg = c.data().msg.clone();
            write(&mut c, op_ptr, &op);
            write(&mut c, msg_ptr, &msg);
        },
    )?;
    l.func_wrap(
        m,
        "__guest_response",
        |mut c: Caller<'_, Host>, ptr: i32, len: i32| {
            let b = read(&mut c, ptr, len);
            c.data_mut().guest_response = Some(b);
        },
    )?;
    l.func_wrap(
        m,
        "__guest_error",
        |mut c: Caller<'_, Host>, ptr: i32, len: i32| {
            let b = read(&mut c, ptr, len);
            c.data_mut().guest_error = Some(String::from_utf8_lossy(&b).into_owned());
        },
    )?;
    l.func_wrap(
        m,
        "__host_call",
        |mut c: Caller<'_, Host>,
         bd_ptr: i32,
         bd_len: i32,
         ns_ptr: i32,
         ns_len: i32,
         op_ptr: i32,
         op_len: i32,
         ptr: i32,
         len: i32|
         -> i32 {
            let call = HostCall {
                binding: String::from_utf8_lossy(&read(&mut c, bd_ptr, bd_len)).into_owned(),
                namespace: String::from_utf8_lossy(&read(&mut c, ns_ptr, ns_len)).into_owned(),
                operation: String::from_utf8_lossy(&read(&mut c, op_ptr, op_len)).into_owned(),
                payload: read(&mut c, ptr, len),
            };
            let mut handler: Handler =
                std::mem::replace(&mut c.data_mut().handler, Box::new(|_| unreachable!()));
            let result = handler(&call);
            let h = c.data_mut();
            h.handler = handler;
            h.calls.push(call);
            match result {
                Ok(reply) => {
                    h.host_response = reply;
                    h.host_error.clear();
                    1
                }
                Err(text) => {
                    h.host_response.clear();
                    h.host_error = text.into_bytes();
                    0
                }
            }
        },
    )?;
    l.func_wrap(m, "__host_response_len", |c: Caller<'_, Host>| -> i32 {
        c.data().host_response.len() as i32
    })?;
    l.func_wrap(m, "__host_response", |mut c: Caller<'_, Host>, ptr: i32| {
        let b = c.data().host_response.clone();
        write(&mut c, ptr, &b);
    })?;
    l.func_wrap(m, "__host_error_len", |c: Caller<'_, Host>| -> i32 {
        c.data().host_error.len() as i32
    })?;
    l.func_wrap(m, "__host_error", |mut c: Caller<'_, Host>, ptr: i32| {
        let b = c.data().host_error.clone();
        write(&mut c, ptr, &b);
    })?;
    l.func_wrap(
        m,
        "__console_log",
        |mut c: Caller<'_, Host>, ptr: i32, len: i32| {
            let b = read(&mut c, ptr, len);
            c.data_mut()
                .logs
                .push(String::from_utf8_lossy(&b).into_owned());
        },
    )?;
    Ok(l)
}

/// Instantiates `module` in a fresh store and calls `__guest_call(op, msg)` once.
/// With `interrupt_after`, the epoch is bumped after that long, so a guest that never returns is
/// interrupted.
fn guest_call(
    engine: &Engine,
    module: &Module,
    op: &str,
    msg: &[u8],
    handler: Handler,
    interrupt_after: Option<Duration>,
) -> Result<Run> {
    let host = Host {
        op: op.to_owned(),
        msg: msg.to_vec(),
        guest_response: None,
        guest_error: None,
        host_response: Vec::new(),
        host_error: Vec::new(),
        calls: Vec::new(),
        logs: Vec::new(),
        handler,
    };
    let mut store = Store::new(engine, host);
    store.set_epoch_deadline(if interrupt_after.is_some() {
        1
    } else {
        u64::MAX / 2
    });
    let instance = linker(engine)?.instantiate(&mut store, module)?;
    let call = instance.get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")?;
    let ticker = interrupt_after.map(|d| {
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(d);
            engine.increment_epoch();
        })
    });
    let started = std::time::Instant::now();
    let result = call.call(&mut store, (op.len() as i32, msg.len() as i32));
    let millis = started.elapsed().as_millis();
    if let Some(t) = ticker {
        t.join().expect("ticker thread");
    }
    let h = store.data_mut();
    let outcome = match result {
        Ok(1) => match h.guest_response.take() {
            Some(b) => Outcome::Ok(b),
            None => Outcome::Odd("returned 1 without __guest_response".into()),
        },
        Ok(0) => match h.guest_error.take() {
            Some(e) => Outcome::Err(e),
            None => Outcome::Odd("returned 0 without __guest_error".into()),
        },
        Ok(n) => Outcome::Odd(format!("returned {n}")),
        Err(e) => Outcome::Trap(e.downcast_ref::<Trap>().copied(), format!("{e:?}")),
    };
    Ok(Run {
        outcome,
        calls: std::mem::take(&mut h.calls),
        logs: std::mem::take(&mut h.logs),
        millis,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The msgpack value as rmpv shows it (str vs bin, map order, integer widths folded).
fn shape(b: &[u8]) -> String {
    let mut r = b;
    match rmpv::decode::read_value(&mut r) {
        Ok(v) if r.is_empty() => v.to_string(),
        Ok(v) => format!("{v} (+{} trailing bytes)", r.len()),
        Err(e) => format!("(not msgpack: {e})"),
    }
}

struct Recorder {
    dir: PathBuf,
    out: String,
}

impl Recorder {
    fn line(&mut self, s: impl AsRef<str>) {
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }

    /// Writes `<dir>/<name>.msgpack` and reports its size, hex and decoded shape.
    fn payload(&mut self, name: &str, what: &str, bytes: &[u8]) -> Result<()> {
        let file = format!("{name}.msgpack");
        std::fs::write(self.dir.join(&file), bytes).with_context(|| file.clone())?;
        self.line(format!("- {what}: `{file}`, {} bytes", bytes.len()));
        self.line(format!("  - hex: `{}`", hex(bytes)));
        self.line(format!("  - msgpack: `{}`", shape(bytes)));
        Ok(())
    }

    fn host_call(&mut self, i: usize, c: &HostCall) {
        self.line(format!("- `__host_call` #{i}:"));
        self.line(format!("  - binding: `{:?}`", c.binding));
        self.line(format!("  - namespace: `{:?}`", c.namespace));
        self.line(format!("  - operation: `{:?}`", c.operation));
        self.line(format!(
            "  - payload ({} bytes): `{}`",
            c.payload.len(),
            hex(&c.payload)
        ));
        self.line(format!("  - payload msgpack: `{}`", shape(&c.payload)));
    }

    /// Reports an outcome that must be an HttpResponse; returns its bytes.
    fn response(&mut self, name: &str, run: &Run) -> Result<Vec<u8>> {
        for l in &run.logs {
            self.line(format!("- `__console_log`: `{l:?}`"));
        }
        match &run.outcome {
            Outcome::Ok(b) => {
                self.payload(name, "`__guest_call` returned 1; HttpResponse", b)?;
                let r: HttpResponse = rmp_serde::from_slice(b).context("decode HttpResponse")?;
                self.line(format!(
                    "  - decoded: statusCode {}, header {:?}, body {:?} ({} bytes)",
                    r.status_code,
                    r.header,
                    String::from_utf8_lossy(&r.body),
                    r.body.len()
                ));
                Ok(b.clone())
            }
            other => bail!("{name}: expected a response, got {other:?}"),
        }
    }
}

fn inspect(r: &mut Recorder, name: &str, bytes: &[u8], module: &Module) -> Result<()> {
    r.line(format!("### {name}.wasm ({} bytes)", bytes.len()));
    r.line("");
    r.line("Imports:");
    for i in module.imports() {
        r.line(format!(
            "- `{}` `{}`: {}",
            i.module(),
            i.name(),
            ty(&i.ty())
        ));
    }
    r.line("");
    r.line("Exports:");
    for e in module.exports() {
        r.line(format!("- `{}`: {}", e.name(), ty(&e.ty())));
    }
    let mut customs = Vec::new();
    let mut start = false;
    let mut data_bytes = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            wasmparser::Payload::CustomSection(c) => {
                customs.push(format!("`{}` ({} bytes)", c.name(), c.data().len()))
            }
            wasmparser::Payload::StartSection { .. } => start = true,
            wasmparser::Payload::DataSection(d) => {
                for seg in d {
                    data_bytes += seg?.data.len();
                }
            }
            _ => {}
        }
    }
    r.line("");
    r.line(format!(
        "Custom sections: {}. Start function: {}. Data segments: {data_bytes} bytes.",
        if customs.is_empty() {
            "none".to_owned()
        } else {
            customs.join(", ")
        },
        if start { "yes" } else { "none" }
    ));
    // Which post-MVP features does validation need? Remove one at a time from the defaults.
    use wasmparser::WasmFeatures as F;
    let mut needs = Vec::new();
    for (fname, f) in [
        ("mutable-global", F::MUTABLE_GLOBAL),
        ("sign-extension", F::SIGN_EXTENSION),
        ("saturating-float-to-int", F::SATURATING_FLOAT_TO_INT),
        ("multi-value", F::MULTI_VALUE),
        ("bulk-memory", F::BULK_MEMORY),
        ("reference-types", F::REFERENCE_TYPES),
        ("simd", F::SIMD),
    ] {
        let mut features = F::default();
        features.remove(f);
        if wasmparser::Validator::new_with_features(features)
            .validate_all(bytes)
            .is_err()
        {
            needs.push(fname);
        }
    }
    r.line(format!(
        "Post-MVP features validation needs: {}.",
        if needs.is_empty() {
            "none".to_owned()
        } else {
            needs.join(", ")
        }
    ));
    r.line("");
    Ok(())
}

fn ty(t: &ExternType) -> String {
    match t {
        ExternType::Func(f) => {
            let p: Vec<String> = f.params().map(|v| v.to_string()).collect();
            let res: Vec<String> = f.results().map(|v| v.to_string()).collect();
            format!("func ({}) -> ({})", p.join(", "), res.join(", "))
        }
        ExternType::Memory(m) => format!("memory {:?}..{:?} pages", m.minimum(), m.maximum()),
        ExternType::Global(g) => format!("global {} {:?}", g.content(), g.mutability()),
        ExternType::Table(t) => format!("table {:?}..{:?}", t.minimum(), t.maximum()),
        other => format!("{other:?}"),
    }
}

/// Fails unless `bytes` is the HttpResponse the actors' README promises.
fn check(bytes: &[u8], status: u16, content_type: &str, body: &[u8]) -> Result<()> {
    let r: HttpResponse = rmp_serde::from_slice(bytes)?;
    let want = HttpResponse {
        status_code: status,
        header: BTreeMap::from([("content-type".to_owned(), vec![content_type.to_owned()])]),
        body: body.to_vec(),
    };
    ensure!(r == want, "got {r:?}, want {want:?}");
    Ok(())
}

/// Fails unless the guest made exactly one host call, to `(binding, namespace, operation)`.
fn one_call<'a>(run: &'a Run, to: (&str, &str, &str)) -> Result<&'a HostCall> {
    let [c] = run.calls.as_slice() else {
        bail!("{} host calls, want 1", run.calls.len());
    };
    let got = (
        c.binding.as_str(),
        c.namespace.as_str(),
        c.operation.as_str(),
    );
    ensure!(got == to, "host call to {got:?}, want {to:?}");
    Ok(c)
}

fn no_calls() -> Handler {
    Box::new(|c| Err(format!("era-runner: unexpected host call {c:?}")))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, modules, fixtures] = args.as_slice() else {
        bail!("usage: era-runner <modules-dir> <fixtures-dir>");
    };
    let modules = Path::new(modules);
    std::fs::create_dir_all(fixtures)?;
    let mut r = Recorder {
        dir: PathBuf::from(fixtures),
        out: String::new(),
    };

    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config)?;

    let names = [
        "era-hello",
        "era-counter",
        "era-echo",
        "era-relay",
        "era-loop",
        "era-trap",
    ];
    let mut loaded = BTreeMap::new();
    r.line("## Module shapes");
    r.line("");
    for name in names {
        let path = modules.join(format!("{name}.wasm"));
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        let module = Module::new(&engine, &bytes)?;
        inspect(&mut r, name, &bytes, &module)?;
        // __wasmbus_rpc_version
        let mut store = Store::new(
            &engine,
            Host {
                op: String::new(),
                msg: Vec::new(),
                guest_response: None,
                guest_error: None,
                host_response: Vec::new(),
                host_error: Vec::new(),
                calls: Vec::new(),
                logs: Vec::new(),
                handler: no_calls(),
            },
        );
        store.set_epoch_deadline(u64::MAX / 2);
        let inst = linker(&engine)?.instantiate(&mut store, &module)?;
        let v = inst
            .get_typed_func::<(), i32>(&mut store, "__wasmbus_rpc_version")?
            .call(&mut store, ())?;
        r.line(format!("`__wasmbus_rpc_version()` = {v}"));
        r.line("");
        loaded.insert(name, module);
    }
    let m = |n: &str| loaded[n].clone();
    let handle = "HttpServer.HandleRequest";

    // era-hello -------------------------------------------------------------------------------
    r.line("## era-hello");
    r.line("");
    let req = HttpRequest {
        method: "GET".into(),
        path: "/hello".into(),
        query_string: "name=era".into(),
        header: BTreeMap::from([("accept".into(), vec!["text/plain".into()])]),
        body: Vec::new(),
    };
    let req_b = rmp_serde::to_vec_named(&req)?;
    r.payload("hello-request", "sent HttpRequest", &req_b)?;
    let run = guest_call(&engine, &m("era-hello"), handle, &req_b, no_calls(), None)?;
    let resp = r.response("hello-response", &run)?;
    r.line(format!("- host calls: {}", run.calls.len()));
    check(
        &resp,
        200,
        "text/plain",
        b"hello from an actor-era actor: GET /hello",
    )?;
    ensure!(run.calls.is_empty());
    // Health and an unknown operation, on the same actor.
    let health_req = rmp_serde::to_vec_named(&BTreeMap::<String, bool>::new())?;
    r.payload(
        "health-request",
        "sent `Actor.HealthRequest` (HealthCheckRequest {})",
        &health_req,
    )?;
    let run = guest_call(
        &engine,
        &m("era-hello"),
        "Actor.HealthRequest",
        &health_req,
        no_calls(),
        None,
    )?;
    match &run.outcome {
        Outcome::Ok(b) => r.payload(
            "health-response",
            "`Actor.HealthRequest` returned 1; HealthCheckResponse",
            b,
        )?,
        o => bail!("health: {o:?}"),
    }
    ensure!(matches!(&run.outcome, Outcome::Ok(b) if b == b"\x81\xa7healthy\xc3"));
    let run = guest_call(
        &engine,
        &m("era-hello"),
        "Nope.Nothing",
        &[],
        no_calls(),
        None,
    )?;
    r.line(format!(
        "- `__guest_call(\"Nope.Nothing\", <empty>)`: {:?}",
        run.outcome
    ));
    ensure!(
        matches!(&run.outcome, Outcome::Err(e) if e == "Guest call failed for method \
        Nope.Nothing: method not handled Nope.Nothing - unknown method")
    );
    // A request that isn't an HttpRequest (no `header` field: it has no serde default).
    let bad = rmp_serde::to_vec_named(&BTreeMap::from([("method", "GET"), ("path", "/")]))?;
    let run = guest_call(&engine, &m("era-hello"), handle, &bad, no_calls(), None)?;
    r.line(format!(
        "- `__guest_call(\"{handle}\", {})` (no `header`): {:?}",
        shape(&bad),
        run.outcome
    ));
    ensure!(matches!(&run.outcome, Outcome::Err(_)));
    r.line("");

    // era-echo --------------------------------------------------------------------------------
    r.line("## era-echo");
    r.line("");
    let body64: Vec<u8> = (0u8..64).collect();
    let req = HttpRequest {
        method: "POST".into(),
        path: "/echo".into(),
        query_string: String::new(),
        header: BTreeMap::from([(
            "content-type".into(),
            vec!["application/octet-stream".into()],
        )]),
        body: body64.clone(),
    };
    let req_b = rmp_serde::to_vec_named(&req)?;
    r.payload(
        "echo-request",
        "sent HttpRequest (64-byte body 00..3f)",
        &req_b,
    )?;
    let run = guest_call(&engine, &m("era-echo"), handle, &req_b, no_calls(), None)?;
    let resp = r.response("echo-response", &run)?;
    check(&resp, 200, "application/octet-stream", &body64)?;
    let decoded: HttpResponse = rmp_serde::from_slice(&resp)?;
    r.line(format!(
        "- body equals the request body: {}",
        decoded.body == body64
    ));
    r.line("");

    // era-counter -----------------------------------------------------------------------------
    r.line("## era-counter");
    r.line("");
    let req = HttpRequest {
        method: "GET".into(),
        path: "/count".into(),
        query_string: String::new(),
        header: BTreeMap::new(),
        body: Vec::new(),
    };
    let req_b = rmp_serde::to_vec_named(&req)?;
    r.payload("counter-request", "sent HttpRequest", &req_b)?;
    let kv = ("default", "wasmcloud:keyvalue", "KeyValue.Increment");
    let increment = IncrementRequest {
        key: "counter:/count".into(),
        value: 1,
    };
    for (label, reply, file, count) in [
        (
            "msgpack i32 1 as rmp-serde writes it",
            rmp_serde::to_vec(&1i32)?,
            "counter-response",
            "1",
        ),
        (
            "msgpack i32 1000",
            rmp_serde::to_vec(&1000i32)?,
            "counter-response-1000",
            "1000",
        ),
        // The same value in the widest int32 form: any msgpack integer width is accepted.
        (
            "msgpack int32 7, 0xd2 form",
            vec![0xd2, 0, 0, 0, 7],
            "counter-response-7-wide",
            "7",
        ),
    ] {
        r.line(format!("### `KeyValue.Increment` answered with {label}"));
        r.line("");
        let reply2 = reply.clone();
        let run = guest_call(
            &engine,
            &m("era-counter"),
            handle,
            &req_b,
            Box::new(move |_| Ok(reply2.clone())),
            None,
        )?;
        for (i, c) in run.calls.iter().enumerate() {
            r.host_call(i, c);
        }
        if file == "counter-response" {
            r.payload(
                "counter-kv-increment",
                "the KeyValue.Increment payload era-counter sent",
                &run.calls[0].payload,
            )?;
            let inc: IncrementRequest = rmp_serde::from_slice(&run.calls[0].payload)?;
            r.line(format!("  - decoded: {inc:?}"));
            r.payload("counter-kv-reply", "what the runner answered", &reply)?;
        }
        let resp = r.response(file, &run)?;
        r.line("");
        check(&resp, 200, "text/plain", count.as_bytes())?;
        let c = one_call(&run, kv)?;
        ensure!(rmp_serde::from_slice::<IncrementRequest>(&c.payload)? == increment);
    }
    r.line("### `__host_call` returns 0 (host error)");
    r.line("");
    let err_text = "era-runner: no keyvalue provider linked on \"default\"";
    r.line(format!("- `__host_error` text: `{err_text:?}`"));
    let run = guest_call(
        &engine,
        &m("era-counter"),
        handle,
        &req_b,
        Box::new(move |_| Err(err_text.to_owned())),
        None,
    )?;
    r.line(format!("- host calls: {}", run.calls.len()));
    let resp = r.response("counter-error-response", &run)?;
    one_call(&run, kv)?;
    let want = format!("Host send error {err_text}");
    check(&resp, 500, "text/plain", want.as_bytes())?;
    r.line("");
    r.line("### `KeyValue.Increment` answered with msgpack nil (not an i32)");
    r.line("");
    let run = guest_call(
        &engine,
        &m("era-counter"),
        handle,
        &req_b,
        Box::new(|_| Ok(vec![0xc0])),
        None,
    )?;
    let resp = r.response("counter-bad-reply-response", &run)?;
    ensure!(rmp_serde::from_slice::<HttpResponse>(&resp)?.status_code == 500);
    r.line("");

    // era-relay -------------------------------------------------------------------------------
    r.line("## era-relay");
    r.line("");
    let req = HttpRequest {
        method: "PUT".into(),
        path: "/relay/x".into(),
        query_string: "a=1&b=2".into(),
        header: BTreeMap::from([("content-type".into(), vec!["text/plain".into()])]),
        body: b"ping through the relay".to_vec(),
    };
    let req_b = rmp_serde::to_vec_named(&req)?;
    r.payload("relay-request", "sent HttpRequest", &req_b)?;
    r.line("");
    r.line("### the call answered by running era-echo on the forwarded payload");
    r.line("");
    let echo = m("era-echo");
    let engine2 = engine.clone();
    let run = guest_call(
        &engine,
        &m("era-relay"),
        handle,
        &req_b,
        Box::new(move |c| {
            if c.binding.is_empty() && c.namespace == "lattice-tui/echo" {
                let inner = guest_call(&engine2, &echo, &c.operation, &c.payload, no_calls(), None)
                    .map_err(|e| e.to_string())?;
                match inner.outcome {
                    Outcome::Ok(b) => Ok(b),
                    Outcome::Err(e) => Err(e),
                    o => Err(format!("{o:?}")),
                }
            } else {
                Err(format!(
                    "era-runner: no actor for {:?}/{:?}",
                    c.binding, c.namespace
                ))
            }
        }),
        None,
    )?;
    for (i, c) in run.calls.iter().enumerate() {
        r.host_call(i, c);
    }
    r.payload(
        "relay-forwarded",
        "the HandleRequest payload era-relay forwarded",
        &run.calls[0].payload,
    )?;
    r.line(format!(
        "  - byte-for-byte equal to the request era-relay got: {}",
        run.calls[0].payload == req_b
    ));
    let resp = r.response("relay-response", &run)?;
    check(
        &resp,
        200,
        "application/octet-stream",
        b"ping through the relay",
    )?;
    let relay = ("", "lattice-tui/echo", "HttpServer.HandleRequest");
    let c = one_call(&run, relay)?;
    ensure!(rmp_serde::from_slice::<HttpRequest>(&c.payload)? == req);
    r.line("");
    r.line("### `__host_call` returns 0 (no such actor)");
    r.line("");
    let err_text = "era-runner: no actor with call alias lattice-tui/echo";
    r.line(format!("- `__host_error` text: `{err_text:?}`"));
    let run = guest_call(
        &engine,
        &m("era-relay"),
        handle,
        &req_b,
        Box::new(move |_| Err(err_text.to_owned())),
        None,
    )?;
    let resp = r.response("relay-error-response", &run)?;
    one_call(&run, relay)?;
    let want = format!("Host send error {err_text}");
    check(&resp, 502, "text/plain", want.as_bytes())?;
    r.line("");

    // Hostile guests --------------------------------------------------------------------------
    r.line("## era-loop and era-trap");
    r.line("");
    let req = HttpRequest {
        method: "GET".into(),
        path: "/hostile".into(),
        query_string: String::new(),
        header: BTreeMap::new(),
        body: Vec::new(),
    };
    let req_b = rmp_serde::to_vec_named(&req)?;
    r.payload("hostile-request", "sent HttpRequest", &req_b)?;
    let run = guest_call(
        &engine,
        &m("era-loop"),
        handle,
        &req_b,
        no_calls(),
        Some(Duration::from_millis(500)),
    )?;
    match &run.outcome {
        Outcome::Trap(code @ Some(Trap::Interrupt), text) if run.millis >= 500 => r.line(format!(
            "- era-loop: still running after 500 ms, interrupted by an epoch deadline (store \
             deadline 1 tick, the epoch bumped after 500 ms): trap {code:?}; error `{}`",
            text.lines().next().unwrap_or("")
        )),
        o => bail!("era-loop after {} ms: {o:?}", run.millis),
    }
    let run = guest_call(
        &engine,
        &m("era-loop"),
        "Actor.HealthRequest",
        &health_req,
        no_calls(),
        None,
    )?;
    r.line(format!(
        "- era-loop `Actor.HealthRequest`: {}",
        match &run.outcome {
            Outcome::Ok(b) => format!("returned 1, `{}`", shape(b)),
            o => format!("{o:?}"),
        }
    ));
    let run = guest_call(&engine, &m("era-trap"), handle, &req_b, no_calls(), None)?;
    match &run.outcome {
        Outcome::Trap(code @ Some(Trap::UnreachableCodeReached), text) => {
            r.line(format!("- era-trap: trap {code:?}; error:"));
            r.line("");
            r.line("```");
            for l in text.lines() {
                r.line(l);
            }
            r.line("```");
        }
        o => bail!("era-trap: {o:?}"),
    }
    for l in &run.logs {
        r.line(format!("- era-trap `__console_log`: `{l:?}`"));
    }

    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "rustc (unknown)".to_owned());
    let mut s = String::new();
    let _ = write!(
        s,
        "# Actor-era test actors, observed (generated: do not edit)\n\
         \n\
         Written by `scripts/record-peers/era-runner` (`era-runner target/era-actors\n\
         tests/fixtures/era-actors`) from the unsigned modules `scripts/build-era-actors.sh` built from\n\
         `assets/actors-era/` (wasmbus-rpc 0.15.0, wasmcloud-interface-httpserver 0.12.0,\n\
         wasmcloud-interface-keyvalue 0.12.0). The rustc on the PATH when recording:\n\
         `{rustc}`. To change this file, re-run the runner (see its README). What it\n\
         means for a host: `assets/actors-era/README.md`.\n\
         \n\
         The runner is a minimal waPC host on wasmtime 48 implementing the `wasmbus` imports of\n\
         PROTOCOL.md §13. Every `*.msgpack` file here is bytes that crossed the guest boundary: what the\n\
         runner handed the guest through `__guest_request` (the `*-request` files) or `__host_response`\n\
         (`counter-kv-reply`), what the guest handed back through `__guest_response` (`*-response*`)\n\
         and what it passed to `__host_call` (`counter-kv-increment`, `relay-forwarded`). The runner\n\
         encodes its side with rmp-serde 1.3 `to_vec_named` from structs of the SDK's serde shape; the\n\
         rest was encoded by the SDK inside the guest. In the `msgpack:` lines, `bin` shows as a list of\n\
         numbers and `str` as a quoted string.\n\
         \n{}",
        r.out
    );
    std::fs::write(r.dir.join("observed.md"), &s)?;
    print!("{s}");
    Ok(())
}
