//! The actor era's actors, built from source with `wasmbus-rpc` 0.15 (`assets/actors-era/`) and
//! signed here with wascap claims, run by this host: HTTP through the built-in server
//! (`HttpServer.HandleRequest`), a counter calling `KeyValue.Increment` on `builtin:keyvalue`
//! over lattice RPC, the capability check (a link and the `caps` claim), and actors reached
//! over RPC by signed invocations — refused when forged, tampered or foreign.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::era::{
    Signing, config_with_cluster, era_module, get_when, put_link, sign, signed_file, start_builtin,
};
use common::lattice::T;
use common::{NatsServer, connect_bus, free_port, http_get, scaled, within};
use lattice_tui::host;
use lattice_tui::host::providers::KEYVALUE;
use lattice_tui::host::rpc::RpcLink;
use lattice_tui::host::rpc::wire::{Invocation, InvocationResponse, WasmCloudEntity, to_msgpack};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::protocol::StringMap;
use lattice_tui::lattice::protocol::interfaces::{HttpRequest, HttpResponse};
use nkeys::KeyPair;

const HTTP: &str = "wasmcloud:httpserver";
const KV: &str = "wasmcloud:keyvalue";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_era_http_actor_answers_through_the_built_in_server() {
    let dir = tempfile::tempdir().unwrap();
    let (file, pk) = signed_file(dir.path(), "era-hello", &[HTTP], None);
    let bus = Bus::local();
    let h = host::start(
        bus,
        config_with_cluster(&KeyPair::new_cluster().seed().unwrap()),
    )
    .await
    .unwrap();
    let started = h
        .start_actor(&file.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap();
    assert_eq!(started, pk);
    let port = free_port();
    h.serve_http(&pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .unwrap();
    let body = get_when(port, "/some/path?x=1", 200).await;
    assert_eq!(body, "hello from an actor-era actor: GET /some/path");
    h.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_increments_through_builtin_keyvalue_only_when_linked_and_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let (counter, counter_pk) = signed_file(dir.path(), "era-counter", &[HTTP, KV], None);
    let nocaps_dir = tempfile::tempdir().unwrap();
    let (nocaps, nocaps_pk) = signed_file(nocaps_dir.path(), "era-counter", &[HTTP], None);
    let bus = Bus::local();
    let h = host::start(
        bus.clone(),
        config_with_cluster(&KeyPair::new_cluster().seed().unwrap()),
    )
    .await
    .unwrap();
    for f in [&counter, &nocaps] {
        h.start_actor(&f.to_string_lossy(), 1, StringMap::new())
            .await
            .unwrap();
    }
    let port = free_port();
    let port2 = free_port();
    h.serve_http(&counter_pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .unwrap();
    h.serve_http(&nocaps_pk, &format!("127.0.0.1:{port2}"), "default")
        .await
        .unwrap();
    start_builtin(&bus, &h.id(), KEYVALUE.reference).await;

    // Linked to nothing yet: the SDK's actor answers 500 with the host's refusal.
    let body = get_when(port, "/a", 500).await;
    assert!(
        body.contains("Invocation not authorized: missing link definition"),
        "{body}"
    );

    let kv = KEYVALUE.public_key();
    put_link(&h, &counter_pk, &kv, KV, StringMap::new()).await;
    put_link(&h, &nocaps_pk, &kv, KV, StringMap::new()).await;
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
    h.stop();
}

/// A signed `HttpServer.HandleRequest` invocation of `actor` from a provider entity.
fn handle_request(link: &RpcLink, actor: &str, body: &[u8]) -> Invocation {
    let req = HttpRequest {
        method: "POST".into(),
        path: "/echo".into(),
        body: body.to_vec(),
        ..HttpRequest::default()
    };
    link.invocation(
        WasmCloudEntity::provider(lattice_tui::host::builtin_http_key(), HTTP, "default"),
        WasmCloudEntity::actor(actor),
        "HttpServer.HandleRequest",
        to_msgpack(&req).unwrap(),
    )
    .unwrap()
}

async fn send_raw(bus: &Bus, inv: &Invocation) -> InvocationResponse {
    let subject = inv.target.rpc_subject("default");
    let reply = bus
        .request(
            &subject,
            Bytes::from(inv.encode().unwrap()),
            scaled(Duration::from_secs(5)),
        )
        .await
        .expect("a reply");
    InvocationResponse::decode(&reply.payload).expect("an invocation response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_over_nats_are_served_by_another_host_and_forgeries_are_refused() {
    let nats = NatsServer::start();
    let cluster = KeyPair::new_cluster();
    let seed = cluster.seed().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (echo, echo_pk) = signed_file(dir.path(), "era-echo", &[HTTP], Some("lattice-tui/echo"));
    let host_b = host::start(connect_bus(&nats.url()).await, config_with_cluster(&seed))
        .await
        .unwrap();
    host_b
        .start_actor(&echo.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap();

    // A client of the same cluster: its signed call is served.
    let client = connect_bus(&nats.url()).await;
    let link = RpcLink::new(
        client.clone(),
        "default",
        &KeyPair::new_server().public_key(),
        KeyPair::from_seed(&seed).unwrap(),
        vec![cluster.public_key()],
        scaled(Duration::from_secs(5)),
    );
    let payload = [7u8; 64];
    let out = within(
        T,
        "echo call",
        link.send(&handle_request(&link, &echo_pk, &payload)),
    )
    .await
    .expect("served");
    let resp: HttpResponse = lattice_tui::host::rpc::wire::from_msgpack(&out).unwrap();
    assert_eq!(resp.status_code, 200);
    assert_eq!(resp.body, payload);

    // 1 MiB: over the SDK's 900 KiB threshold, so the request and the reply both go through
    // the lattice's object store (§4.4); both objects are deleted once read.
    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let out = within(
        T,
        "chunked echo",
        link.send(&handle_request(&link, &echo_pk, &big)),
    )
    .await
    .expect("served");
    let resp: HttpResponse = lattice_tui::host::rpc::wire::from_msgpack(&out).unwrap();
    assert_eq!(resp.body.len(), big.len());
    assert!(resp.body == big, "the chunked echo came back changed");
    let js = async_nats::jetstream::new(client.nats_client().unwrap());
    let store = js
        .get_object_store("default")
        .await
        .expect("the lattice's object store");
    let left: Vec<_> = {
        use futures::StreamExt;
        store.list().await.unwrap().collect().await
    };
    assert!(left.is_empty(), "objects left behind: {}", left.len());

    // Tampered payload.
    let mut inv = handle_request(&link, &echo_pk, b"abc");
    inv.msg.push(0);
    let r = send_raw(&client, &inv).await;
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.starts_with("Invocation hash does not match signed claims hash")),
        "{r:?}"
    );
    assert_eq!(r.invocation_id, inv.id);
    // Signed by a cluster the host does not trust.
    let foreign = RpcLink::new(
        client.clone(),
        "default",
        &KeyPair::new_server().public_key(),
        KeyPair::new_cluster(),
        vec![],
        scaled(Duration::from_secs(5)),
    );
    let r = send_raw(&client, &handle_request(&foreign, &echo_pk, b"abc")).await;
    assert_eq!(
        r.error.as_deref(),
        Some("Issuer of this invocation is not in list of cluster issuers")
    );
    // Claims of another invocation grafted on (target URL differs → hash differs first; a
    // graft with a recomputed hash is a signature failure).
    let mut inv = handle_request(&link, &echo_pk, b"abc");
    inv.encoded_claims = handle_request(&link, &echo_pk, b"xyz").encoded_claims;
    let r = send_raw(&client, &inv).await;
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("hash does not match")),
        "{r:?}"
    );
    // Not msgpack at all: an error reply, not silence.
    let reply = client
        .request(
            &format!("wasmbus.rpc.default.{echo_pk}"),
            Bytes::from_static(b"\xc1garbage"),
            scaled(Duration::from_secs(5)),
        )
        .await
        .expect("a reply to garbage");
    let r = InvocationResponse::decode(&reply.payload).unwrap();
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("malformed msgpack invocation")),
        "{r:?}"
    );

    // The console sees RPC calls like HTTP requests: host B's rates samples (what the console
    // turns into the Actors table's rates) count the two served echoes, not the refused calls.
    let rates = lattice_tui::lattice::subjects::Subjects::new("default").rates(&host_b.id());
    let mut samples = client.subscribe(&rates).await.unwrap();
    within(T, "a rates sample counting the RPC calls", async {
        loop {
            let m = samples.next().await.expect("rates subscription open");
            let s = lattice_tui::lattice::protocol::RatesSample::from_json(&m.payload).unwrap();
            if let Some(a) = s.actors.iter().find(|a| a.public_key == echo_pk) {
                assert!(a.requests <= 2, "refused invocations were counted: {a:?}");
                if a.requests == 2 {
                    assert_eq!(a.errors, 0);
                    return;
                }
            }
        }
    })
    .await;

    // An actor on host A calls the echo actor on host B by its call alias.
    let host_a = host::start(connect_bus(&nats.url()).await, config_with_cluster(&seed))
        .await
        .unwrap();
    let (relay, relay_pk) = signed_file(dir.path(), "era-relay", &[HTTP], None);
    host_a
        .start_actor(&relay.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap();
    let port = free_port();
    host_a
        .serve_http(&relay_pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .unwrap();
    let body = get_when(port, "/relayed", 200).await;
    // era-echo answers the request's body: a GET has none.
    assert_eq!(body, "");
    host_a.stop();
    host_b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_signed_for_another_module_is_refused() {
    // The claims hash covers the module: claims of era-hello grafted on era-echo fail.
    let account = KeyPair::new_account();
    let module = KeyPair::new_module();
    let s = Signing {
        caps: &[HTTP],
        call_alias: None,
        account: &account,
        module: &module,
    };
    let hello = sign(&era_module("era-hello"), "era-hello", &s);
    let echo = era_module("era-echo");
    let section = &hello[era_module("era-hello").len()..];
    let mut graft = echo.clone();
    graft.extend_from_slice(section);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graft.wasm");
    std::fs::write(&path, graft).unwrap();
    let h = host::start(
        Bus::local(),
        config_with_cluster(&KeyPair::new_cluster().seed().unwrap()),
    )
    .await
    .unwrap();
    let err = h
        .start_actor(&path.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap_err();
    assert!(err.to_string().to_lowercase().contains("hash"), "{err}");
    h.stop();
}
