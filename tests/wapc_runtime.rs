//! The waPC runtime (host::runtime::wapc) against a hand-assembled guest that uses each host
//! function the way `wasmbus-rpc` guests do (PROTOCOL.md §13), and against hostile guests:
//! a loop, a trap, a pointer out of bounds, a length over the limit, a module of the wrong
//! shape. The real SDK's actors are tested in `tests/era_actors.rs`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::within;
use futures::future::BoxFuture;
use lattice_tui::host::runtime::{
    HostCall, HostCalls, LoadError, Runtime, RuntimeConfig, WapcError,
};

/// A guest: `Echo` answers its message, `Call` forwards it with `__host_call` (binding `kv`,
/// namespace `wasmcloud:keyvalue`, operation `KeyValue.Increment`) and answers the host's
/// reply or error, `Loop` never returns, `Trap` traps, `Bad` hands a pointer out of bounds,
/// `Huge` a length over the limit, `Log` logs, `Memory` reports and changes its memory, `Spin`
/// spins for tens of milliseconds, anything else fails with `unknown operation`.
const GUEST: &str = r#"
(module
  (import "wasmbus" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wasmbus" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wasmbus" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wasmbus" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasmbus" "__host_response_len" (func $host_response_len (result i32)))
  (import "wasmbus" "__host_response" (func $host_response (param i32)))
  (import "wasmbus" "__host_error_len" (func $host_error_len (result i32)))
  (import "wasmbus" "__host_error" (func $host_error (param i32)))
  (import "wasmbus" "__console_log" (func $console_log (param i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "kv")
  (data (i32.const 32) "wasmcloud:keyvalue")
  (data (i32.const 64) "KeyValue.Increment")
  (data (i32.const 96) "unknown operation")
  (data (i32.const 128) "a line from the guest")
  (func (export "__wasmbus_rpc_version") (result i32) i32.const 1)
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (local $op i32) (local $len i32)
    (call $guest_request (i32.const 256) (i32.const 4096))
    (local.set $op (i32.load8_u (i32.const 256)))
    ;; 'E'
    (if (i32.eq (local.get $op) (i32.const 69)) (then
      (call $guest_response (i32.const 4096) (local.get $msg_len))
      (return (i32.const 1))))
    ;; 'C'
    (if (i32.eq (local.get $op) (i32.const 67)) (then
      (if (call $host_call (i32.const 16) (i32.const 2) (i32.const 32) (i32.const 18)
                           (i32.const 64) (i32.const 18) (i32.const 4096) (local.get $msg_len))
        (then
          (local.set $len (call $host_response_len))
          (call $host_response (i32.const 65536))
          (call $guest_response (i32.const 65536) (local.get $len))
          (return (i32.const 1)))
        (else
          (local.set $len (call $host_error_len))
          (call $host_error (i32.const 65536))
          (call $guest_error (i32.const 65536) (local.get $len))
          (return (i32.const 0))))))
    ;; 'L'
    (if (i32.eq (local.get $op) (i32.const 76)) (then (loop $l (br $l))))
    ;; 'T'
    (if (i32.eq (local.get $op) (i32.const 84)) (then unreachable))
    ;; 'S' (Spin): 30 million turns of a loop (tens of ms, past several epoch ticks), then answer
    (if (i32.eq (local.get $op) (i32.const 83)) (then
      (local.set $len (i32.const 30000000))
      (loop $s (local.set $len (i32.sub (local.get $len) (i32.const 1))) (br_if $s (local.get $len)))
      (call $guest_response (i32.const 0) (i32.const 0))
      (return (i32.const 1))))
    ;; 'B'
    (if (i32.eq (local.get $op) (i32.const 66)) (then
      (call $guest_response (i32.const -16) (i32.const 100))
      (return (i32.const 1))))
    ;; 'H'
    (if (i32.eq (local.get $op) (i32.const 72)) (then
      (call $guest_response (i32.const 0) (i32.const 0x7fffffff))
      (return (i32.const 1))))
    ;; 'M' (Memory): bump a byte on the first page and one on the second, overwrite the data segment
    ;; at 16 ("kv"), answer [first byte, what was at 16, second byte]: [1, 'k', 1] from a
    ;; fresh instance, more from one that kept the last call's memory.
    (if (i32.eq (local.get $op) (i32.const 77)) (then
      (i32.store8 (i32.const 200) (i32.add (i32.load8_u (i32.const 200)) (i32.const 1)))
      (i32.store8 (i32.const 201) (i32.load8_u (i32.const 16)))
      (i32.store8 (i32.const 70000) (i32.add (i32.load8_u (i32.const 70000)) (i32.const 1)))
      (i32.store8 (i32.const 202) (i32.load8_u (i32.const 70000)))
      (i32.store8 (i32.const 16) (i32.const 90))
      (call $guest_response (i32.const 200) (i32.const 3))
      (return (i32.const 1))))
    ;; 'G' (Log)
    (if (i32.eq (local.get $op) (i32.const 71)) (then
      (call $console_log (i32.const 128) (i32.const 21))
      (call $guest_response (i32.const 0) (i32.const 0))
      (return (i32.const 1))))
    (call $guest_error (i32.const 96) (i32.const 17))
    (i32.const 0))
)
"#;

/// Records every host call and answers `reply` (or fails with `fail`).
struct Recorder {
    seen: Mutex<Vec<HostCall>>,
    fail: Option<String>,
}

impl HostCalls for Recorder {
    fn host_call(&self, call: HostCall) -> BoxFuture<'static, Result<Vec<u8>, String>> {
        let mut reply = b"reply to ".to_vec();
        reply.extend_from_slice(&call.payload);
        self.seen.lock().unwrap().push(call);
        let out = match &self.fail {
            Some(e) => Err(e.clone()),
            None => Ok(reply),
        };
        Box::pin(async move { out })
    }
}

fn runtime(budget: Duration) -> Runtime {
    Runtime::new(RuntimeConfig {
        max_execution_time: budget,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

const T: Duration = Duration::from_secs(20);

/// Every call starts from the module's initial memory, with the pooling allocator on (its
/// slots are reset by memset and reused, `engine.rs`) and off: a call sees neither the bytes
/// the last one wrote nor its change to a data segment, on either of the two pages touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_starts_from_the_module_s_initial_memory() {
    use lattice_tui::host::runtime::PoolingMode;
    for pooling in [PoolingMode::On, PoolingMode::Off] {
        let rt = Runtime::new(RuntimeConfig {
            pooling,
            ..RuntimeConfig::default()
        })
        .unwrap();
        assert_eq!(rt.pooling(), pooling == PoolingMode::On);
        let loaded = rt.load(wat::parse_str(GUEST).unwrap(), 1).await.unwrap();
        for i in 0..20 {
            let out = within(T, "Memory", rt.invoke(&loaded, "MACTOR", "Memory", vec![]))
                .await
                .unwrap();
            assert_eq!(out, [1, b'k', 1], "call {i} with {pooling:?}");
        }
    }
}

/// Waits until an instance of `loaded`, made after its last call, waits for the next one.
async fn ready(loaded: &lattice_tui::host::runtime::Loaded) {
    within(T, "an instance made ahead", async {
        while !loaded.has_ready_instance() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

/// A call that gets the instance made after the last one is that call's own: it starts from
/// the module's initial memory, sees its own actor, operation and message, and has the whole
/// budget from when it starts, not from when the instance was made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_made_ahead_is_fresh_and_takes_the_call_s_own_fields() {
    let budget = Duration::from_secs(1);
    let rt = runtime(budget);
    let rec = Arc::new(Recorder {
        seen: Mutex::new(vec![]),
        fail: None,
    });
    rt.set_host_calls(rec.clone());
    let loaded = rt.load(wat::parse_str(GUEST).unwrap(), 1).await.unwrap();
    assert!(!loaded.has_ready_instance(), "none before the first call");
    for i in 0..10 {
        let out = within(T, "Memory", rt.invoke(&loaded, "MACTOR", "Memory", vec![]))
            .await
            .unwrap();
        assert_eq!(out, [1, b'k', 1], "call {i}");
        ready(&loaded).await;
    }
    let out = within(
        T,
        "call",
        rt.invoke(&loaded, "MOTHER", "Call", b"xyz".to_vec()),
    )
    .await
    .unwrap();
    assert_eq!(out, b"reply to xyz");
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].actor.as_str(), seen[0].payload.as_slice()),
        ("MOTHER", &b"xyz"[..])
    );
    // Made more than a budget ago, the waiting instance still gets the whole budget: its
    // guest spins past several epoch ticks, each checking the deadline.
    ready(&loaded).await;
    tokio::time::sleep(budget + budget / 5).await;
    within(T, "spin", rt.invoke(&loaded, "MACTOR", "Spin", vec![]))
        .await
        .expect("a call that starts within its budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wapc_guest_gets_its_message_answers_and_calls_the_host() {
    let rt = runtime(Duration::from_secs(5));
    let rec = Arc::new(Recorder {
        seen: Mutex::new(vec![]),
        fail: None,
    });
    rt.set_host_calls(rec.clone());
    let loaded = rt.load(wat::parse_str(GUEST).unwrap(), 1).await.unwrap();
    assert!(loaded.is_wapc());
    assert!(loaded.serves_http());

    let out = within(
        T,
        "echo",
        rt.invoke(&loaded, "MACTOR", "Echo", b"ping".to_vec()),
    )
    .await
    .unwrap();
    assert_eq!(out, b"ping");

    let out = within(
        T,
        "call",
        rt.invoke(&loaded, "MACTOR", "Call", b"abc".to_vec()),
    )
    .await
    .unwrap();
    assert_eq!(out, b"reply to abc");
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![HostCall {
            actor: "MACTOR".into(),
            binding: "kv".into(),
            namespace: "wasmcloud:keyvalue".into(),
            operation: "KeyValue.Increment".into(),
            payload: b"abc".to_vec(),
        }]
    );

    let err = within(T, "unknown", rt.invoke(&loaded, "MACTOR", "Nope", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err, WapcError::Guest("unknown operation".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_host_call_reaches_the_guest_as_its_error() {
    let rt = runtime(Duration::from_secs(5));
    rt.set_host_calls(Arc::new(Recorder {
        seen: Mutex::new(vec![]),
        fail: Some("Invocation not authorized: missing link definition".into()),
    }));
    let loaded = rt.load(wat::parse_str(GUEST).unwrap(), 1).await.unwrap();
    let err = within(T, "call", rt.invoke(&loaded, "M1", "Call", b"x".to_vec()))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        WapcError::Guest("Invocation not authorized: missing link definition".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_guests_end_with_an_error_and_the_host_goes_on() {
    let rt = runtime(Duration::from_millis(300));
    let loaded = rt.load(wat::parse_str(GUEST).unwrap(), 1).await.unwrap();
    let err = within(T, "loop", rt.invoke(&loaded, "M1", "Loop", vec![]))
        .await
        .unwrap_err();
    assert_eq!(err, WapcError::Deadline(Duration::from_millis(300)));
    let err = within(T, "trap", rt.invoke(&loaded, "M1", "Trap", vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WapcError::Trap(t) if t.contains("unreachable")),
        "{err}"
    );
    let err = within(T, "bad pointer", rt.invoke(&loaded, "M1", "Bad", vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WapcError::Trap(t) if t.contains("out of bounds")),
        "{err}"
    );
    let err = within(T, "huge", rt.invoke(&loaded, "M1", "Huge", vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WapcError::Trap(t) if t.contains("more than")),
        "{err}"
    );
    // Without host calls set, a call fails with the host's text, not a trap.
    let err = within(T, "no routing", rt.invoke(&loaded, "M1", "Call", vec![]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WapcError::Guest(t) if t.contains("does not route")),
        "{err}"
    );
    // Still serving.
    let out = within(T, "echo", rt.invoke(&loaded, "M1", "Echo", b"ok".to_vec()))
        .await
        .unwrap();
    assert_eq!(out, b"ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_modules_of_the_wrong_shape_are_refused_with_the_reason() {
    let rt = runtime(Duration::from_secs(5));
    let cases = [
        ("(module)", "__guest_call"),
        (
            r#"(module (memory (export "memory") 1)
                 (func (export "__guest_call") (param i32) (result i32) i32.const 1))"#,
            "__guest_call",
        ),
        (
            r#"(module (func (export "__guest_call") (param i32 i32) (result i32) i32.const 1))"#,
            "exports no memory",
        ),
        (
            r#"(module (import "env" "abort" (func))
                 (memory (export "memory") 1)
                 (func (export "__guest_call") (param i32 i32) (result i32) i32.const 1))"#,
            "cannot link the module's imports",
        ),
    ];
    for (wat_text, want) in cases {
        let err = rt
            .load(wat::parse_str(wat_text).unwrap(), 1)
            .await
            .unwrap_err();
        assert!(matches!(err, LoadError::CoreModule(_)), "{wat_text}: {err}");
        assert!(err.to_string().contains(want), "{wat_text}: {err}");
    }
}
