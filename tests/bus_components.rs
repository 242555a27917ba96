//! WASI 0.2 components on the lattice: `wasmcloud:bus/host.call-sync` from a component
//! (`assets/actors/bus-counter`, `assets/actors/bus-probe`) routed and checked as a waPC actor's
//! `__host_call` is (a link and the `caps` claim before a provider), and lattice RPC's
//! `HttpServer.HandleRequest` translated into `wasi:http` for a component that exports only that.
//!
//! Components are signed the way the actor-era actors are (tests/common/era.rs): a JWT with
//! `caps` in a `wasmcloud_jwt` custom section appended to the component.

mod common;

use std::time::Duration;

use common::actors::actor_wasm;
use common::era::{Signing, config_with_cluster, get_when, put_link, sign, start_builtin};
use common::lattice::T;
use common::{free_port, http_get, scaled, within};
use lattice_tui::host;
use lattice_tui::host::providers::KEYVALUE;
use lattice_tui::host::rpc::RpcLink;
use lattice_tui::host::rpc::wire::{WasmCloudEntity, from_msgpack, to_msgpack};
use lattice_tui::host::runtime::{Runtime, RuntimeConfig};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::protocol::StringMap;
use lattice_tui::lattice::protocol::interfaces::{HttpRequest, HttpResponse};
use nkeys::KeyPair;

const HTTP: &str = "wasmcloud:httpserver";
const KV: &str = "wasmcloud:keyvalue";

/// The built component `name`, signed with `caps` (and `call_alias`) under a fresh module key,
/// written into `dir` as `file`; returns the file and the actor's public key.
fn signed_component(
    dir: &std::path::Path,
    name: &str,
    file: &str,
    caps: &[&str],
    call_alias: Option<&str>,
) -> (String, String) {
    let bytes = std::fs::read(actor_wasm(name)).expect("read the built component");
    let account = KeyPair::new_account();
    let module = KeyPair::new_module();
    let signed = sign(
        &bytes,
        name,
        &Signing {
            caps,
            call_alias,
            account: &account,
            module: &module,
        },
    );
    let path = dir.join(file);
    std::fs::write(&path, signed).expect("write the signed component");
    (path.to_string_lossy().into_owned(), module.public_key())
}

/// Starts `file` on `h` and serves it over HTTP on a fresh port; returns the port.
async fn start_and_serve(h: &host::Host, file: &str, pk: &str) -> u16 {
    let started = h.start_actor(file, 1, StringMap::new()).await.unwrap();
    // The signed identity (not a derived one): the claims section of a component is accepted.
    assert_eq!(started, pk);
    let port = free_port();
    h.serve_http(pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .unwrap();
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_counts_through_builtin_keyvalue_only_when_linked_and_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let (counter, counter_pk) =
        signed_component(dir.path(), "bus-counter", "counter.wasm", &[HTTP, KV], None);
    let (nocaps, nocaps_pk) =
        signed_component(dir.path(), "bus-counter", "nocaps.wasm", &[HTTP], None);
    let bus = Bus::local();
    let h = host::start(
        bus.clone(),
        config_with_cluster(&KeyPair::new_cluster().seed().unwrap()),
    )
    .await
    .unwrap();
    let port = start_and_serve(&h, &counter, &counter_pk).await;
    let port2 = start_and_serve(&h, &nocaps, &nocaps_pk).await;
    start_builtin(&bus, &h.id(), KEYVALUE.reference).await;

    // Linked to nothing yet: the component answers 500 with the host's refusal.
    let body = get_when(port, "/a", 500).await;
    assert!(
        body.contains("Invocation not authorized: missing link definition"),
        "{body}"
    );

    put_link(
        &h,
        &counter_pk,
        &KEYVALUE.public_key(),
        KV,
        StringMap::new(),
    )
    .await;
    put_link(&h, &nocaps_pk, &KEYVALUE.public_key(), KV, StringMap::new()).await;
    let first: i32 = get_when(port, "/a", 200).await.parse().unwrap();
    assert_eq!(first, 1);
    for want in 2..=4 {
        let (status, body) = http_get(port, "/a").await.unwrap();
        assert_eq!((status, body), (200, want.to_string()));
    }
    let (status, body) = http_get(port, "/b").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "1"));

    // Linked but without the caps claim: refused before it reaches the provider.
    let body = get_when(port2, "/a", 500).await;
    assert!(
        body.contains("Invocation not authorized: missing capability claim for wasmcloud:keyvalue"),
        "{body}"
    );
    // The refused calls never counted: the key the counter uses is still at 4.
    let (status, body) = http_get(port, "/a").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "5"));
    h.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_handle_request_is_served_by_a_wasi_http_only_component() {
    let dir = tempfile::tempdir().unwrap();
    let (hello, hello_pk) = signed_component(dir.path(), "hello", "hello.wasm", &[HTTP], None);
    let cluster = KeyPair::new_cluster();
    let seed = cluster.seed().unwrap();
    let bus = Bus::local();
    let h = host::start(bus.clone(), config_with_cluster(&seed))
        .await
        .unwrap();
    assert_eq!(
        h.start_actor(&hello, 1, StringMap::new()).await.unwrap(),
        hello_pk
    );

    // A provider of the same cluster calls the actor on `wasmbus.rpc.default.{pk}`.
    let link = RpcLink::new(
        bus.clone(),
        "default",
        &KeyPair::new_server().public_key(),
        KeyPair::from_seed(&seed).unwrap(),
        vec![cluster.public_key()],
        scaled(Duration::from_secs(5)),
    );
    let from = WasmCloudEntity::provider(lattice_tui::host::builtin_http_key(), HTTP, "default");
    let req = HttpRequest {
        method: "GET".into(),
        path: "/over/rpc".into(),
        query_string: "x=1".into(),
        ..HttpRequest::default()
    };
    let inv = link
        .invocation(
            from.clone(),
            WasmCloudEntity::actor(&hello_pk),
            "HttpServer.HandleRequest",
            to_msgpack(&req).unwrap(),
        )
        .unwrap();
    assert_eq!(
        inv.target.rpc_subject("default"),
        format!("wasmbus.rpc.default.{hello_pk}")
    );
    let out = within(T, "HandleRequest over RPC", link.send(&inv))
        .await
        .expect("served");
    let resp: HttpResponse = from_msgpack(&out).expect("a msgpack HttpResponse");
    assert_eq!(resp.status_code, 200);
    assert_eq!(resp.body, b"Hello from lattice-tui!\n");
    assert_eq!(
        resp.header.get("content-type").map(Vec::as_slice),
        Some(&["text/plain; charset=utf-8".to_string()][..])
    );

    // Any other operation is refused in words, not by silence.
    let inv = link
        .invocation(
            from,
            WasmCloudEntity::actor(&hello_pk),
            "Message.HandleMessage",
            vec![],
        )
        .unwrap();
    let err = within(T, "another operation over RPC", link.send(&inv))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("serves only HttpServer.HandleRequest"),
        "{err}"
    );
    h.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bus_calls_get_error_strings_and_the_host_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (probe, probe_pk) =
        signed_component(dir.path(), "bus-probe", "probe.wasm", &[HTTP, KV], None);
    let (hello, hello_pk) = signed_component(
        dir.path(),
        "hello",
        "hello.wasm",
        &[HTTP],
        Some("lattice-tui/hello"),
    );
    let bus = Bus::local();
    let h = host::start(
        bus.clone(),
        config_with_cluster(&KeyPair::new_cluster().seed().unwrap()),
    )
    .await
    .unwrap();
    let port = start_and_serve(&h, &probe, &probe_pk).await;
    let hello_port = start_and_serve(&h, &hello, &hello_pk).await;
    start_builtin(&bus, &h.id(), KEYVALUE.reference).await;
    put_link(&h, &probe_pk, &KEYVALUE.public_key(), KV, StringMap::new()).await;

    // A payload over the host's limit: refused before routing, linked or not.
    let (status, body) = within(T, "GET /huge", http_get(port, "/huge"))
        .await
        .unwrap();
    assert_eq!(status, 500, "{body}");
    assert_eq!(body, "the payload is 16777217 bytes, more than 16777216");

    // A call to a link whose operation names no interface.
    let (status, body) = http_get(port, "/noslash").await.unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(
        body.starts_with("the operation 'KeyValue.Increment' names no interface"),
        "{body}"
    );

    // An actor key nobody runs, and an alias nobody has.
    let stranger = KeyPair::new_module().public_key();
    let (status, body) = within(
        T,
        "GET /actor/<stranger>",
        http_get(port, &format!("/actor/{stranger}")),
    )
    .await
    .unwrap();
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        body,
        format!("no one serves wasmbus.rpc.default.{stranger}")
    );
    let (status, body) = http_get(port, "/alias/nobody").await.unwrap();
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        body,
        "no actor with the public key or call alias 'nobody' is known in this lattice"
    );

    // A running component reached by key and by call alias: routed to it, which refuses an
    // operation other than HttpServer.HandleRequest with its own words.
    for path in [
        format!("/actor/{hello_pk}"),
        "/alias/lattice-tui/hello".to_string(),
    ] {
        let (status, body) = within(T, &path, http_get(port, &path)).await.unwrap();
        assert_eq!(status, 500, "{path}: {body}");
        assert!(
            body.contains("serves only HttpServer.HandleRequest") && body.contains("Pinger.Ping"),
            "{path}: {body}"
        );
    }

    // The host goes on: both actors still answer, the probe as before.
    let (status, body) = http_get(hello_port, "/").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "Hello from lattice-tui!\n"));
    let (status, body) = http_get(port, "/huge").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (500, "the payload is 16777217 bytes, more than 16777216")
    );
    assert!(!h.stopping());
    h.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_components_importing_the_bus_see_it() {
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let load = |name: &str| {
        let bytes = std::fs::read(actor_wasm(name)).expect("read the built component");
        let rt = rt.clone();
        async move { within(T, "load", rt.load(bytes, 1)).await.expect("loads") }
    };
    let counter = load("bus-counter").await;
    assert!(counter.serves_http(), "{:?}", counter.no_http_reason);
    for want in ["wasmcloud:bus/lattice", "wasmcloud:bus/host"] {
        assert!(
            counter.imports.iter().any(|i| i == want),
            "{:?}",
            counter.imports
        );
    }
    let hello = load("hello").await;
    assert!(hello.serves_http(), "{:?}", hello.no_http_reason);
    assert!(
        !hello.imports.iter().any(|i| i.starts_with("wasmcloud:")),
        "{:?}",
        hello.imports
    );

    // wasmCloud's streaming `call` is not offered: such a component loads, says why it
    // cannot serve, and nothing panics.
    let streaming = wat::parse_str(
        r#"(component
            (import "wasmcloud:bus/host" (instance
                (export "call" (func (param "operation" string) (result (result (error string)))))
            ))
        )"#,
    )
    .expect("valid component text");
    let loaded = within(T, "load", rt.load(streaming, 1))
        .await
        .expect("loads");
    let reason = loaded.no_http_reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("this host cannot link the component's imports")
            && reason.contains("call"),
        "{reason}"
    );
}
