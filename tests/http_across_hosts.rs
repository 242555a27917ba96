//! HTTP routes to actors on other hosts, on the in-process lattice (the same RPC code path as
//! over NATS): two hosts share one bus and one lattice data; A runs the built-in HTTP server,
//! B the actor-era actor. A's route calls it as `HttpServer.HandleRequest` over lattice RPC;
//! no instance → 503 at once, no reply → 503 after the RPC timeout, a failing actor → 500;
//! body limits as for a local actor; the route turns local in place when the actor starts on
//! A (an open connection keeps working).

mod common;

use std::time::Duration;

use common::era::signed_file;
use common::lattice::{T, ack};
use common::{free_port, http_get, within};
use lattice_tui::host::builtin_http_key;
use lattice_tui::host::lattice_data::LatticeData;
use lattice_tui::host::rpc::wire::{Invocation, WasmCloudEntity, from_msgpack};
use lattice_tui::host::{self, Host, HostConfig};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::protocol::interfaces::HttpRequest;
use lattice_tui::lattice::protocol::{LinkDefinition, StringMap};
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use nkeys::KeyPair;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HTTP: &str = "wasmcloud:httpserver";

/// Two hosts of one cluster on one in-process lattice; `tune` adjusts each config (0 = A).
async fn two_hosts(tune: impl Fn(usize, &mut HostConfig)) -> (Bus, Host, Host) {
    let bus = Bus::local();
    let data = LatticeData::memory();
    let seed = KeyPair::new_cluster().seed().unwrap();
    let mut hosts = Vec::new();
    for i in 0..2 {
        let mut cfg = HostConfig::new("default");
        cfg.identity.cluster_seed = Some(seed.clone());
        cfg.data = Some(data.clone());
        tune(i, &mut cfg);
        hosts.push(host::start(bus.clone(), cfg).await.unwrap());
    }
    let b = hosts.pop().unwrap();
    let a = hosts.pop().unwrap();
    (bus, a, b)
}

/// Sends `raw` on a new connection and reads the whole answer (the request closes it).
async fn exchange(port: u16, raw: &[u8]) -> String {
    within(T, "an HTTP exchange", async {
        let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        c.write_all(raw).await.unwrap();
        let mut out = Vec::new();
        c.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
}

/// Reads one HTTP/1.1 response with a `content-length` from `c`: (head, body).
async fn read_response(c: &mut TcpStream) -> (String, String) {
    within(T, "a response on a kept-alive connection", async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = c.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "the connection closed: {}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .expect("content-length");
                if body.len() >= len {
                    return (head.to_string(), body[..len].to_string());
                }
            }
        }
    })
    .await
}

fn route(a: &Host) -> lattice_tui::host::http::RouteInfo {
    let routes = a.http_routes();
    assert_eq!(routes.len(), 1, "{routes:?}");
    routes.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_on_one_host_serves_an_actor_on_another_and_turns_local_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (file, pk) = signed_file(dir.path(), "era-hello", &[HTTP], None);
    let (bus, a, b) = two_hosts(|i, cfg| {
        if i == 0 {
            cfg.http.max_request_body = 1024;
        }
    })
    .await;
    assert_eq!(
        b.start_actor(&file.to_string_lossy(), 1, StringMap::new())
            .await
            .unwrap(),
        pk
    );
    let port = free_port();
    a.serve_http(&pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .unwrap();
    let r = route(&a);
    assert!(r.remote, "{r:?}");
    assert_eq!((r.revision, r.serves_http), (None, None));

    // Served on B, counted on both sides.
    let (status, body) = http_get(port, "/remote/path?q=1").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "hello from an actor-era actor: GET /remote/path")
    );
    let stats = route(&a).stats;
    assert_eq!((stats.calls, stats.errors, stats.in_flight), (1, 0, 0));
    let on_b = b.actor_stats();
    assert_eq!(on_b.len(), 1);
    assert_eq!(
        on_b[0].calls.calls, 1,
        "B counts the RPC call for its actor"
    );
    assert!(a.actor_stats().is_empty(), "A runs no actor");

    // The body limit holds as for a local actor: declared or streamed.
    let big = vec![b'x'; 2000];
    let mut declared = format!(
        "POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    declared.extend_from_slice(&big);
    let out = exchange(port, &declared).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    let mut streamed =
        b"POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..4 {
        streamed.extend_from_slice(format!("{:x}\r\n", 600).as_bytes());
        streamed.extend_from_slice(&[b'y'; 600]);
        streamed.extend_from_slice(b"\r\n");
    }
    streamed.extend_from_slice(b"0\r\n\r\n");
    let out = exchange(port, &streamed).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");

    // No instance anywhere: 503 at once (nothing serves the subject), with retry-after.
    let s = Subjects::new("default");
    let stop = ack(
        &bus,
        &s.host_command(&b.id(), CmdVerb::StopActor),
        json!({"actor_ref": pk, "count": 0}),
    )
    .await;
    assert!(stop.accepted, "{stop:?}");
    within(T, "503 once the actor is gone", async {
        while http_get(port, "/").await.unwrap().0 != 503 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let out = exchange(
        port,
        b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
    assert!(
        out.to_lowercase().contains("\r\nretry-after: 1\r\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "503 Service Unavailable: no instance of actor {pk} answers in the lattice"
        )),
        "{out}"
    );

    // A keep-alive connection stays open while the actor starts on A: the route turns local
    // in place.
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    c.write_all(b"GET /before HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_response(&mut c).await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    a.start_actor(&file.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap();
    within(T, "the route turns local", async {
        while route(&a).remote {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    c.write_all(b"GET /after HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(&mut c).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "hello from an actor-era actor: GET /after");
    let r = route(&a);
    assert_eq!((r.revision, r.serves_http), (Some(1), Some(true)), "{r:?}");
    a.stop();
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_actor_without_a_reply_is_a_503_after_the_rpc_timeout_and_a_trap_a_500() {
    let dir = tempfile::tempdir().unwrap();
    let (lp, loop_pk) = signed_file(dir.path(), "era-loop", &[HTTP], None);
    let (tp, trap_pk) = signed_file(dir.path(), "era-trap", &[HTTP], None);
    let (bus, a, b) = two_hosts(|i, cfg| {
        if i == 0 {
            cfg.rpc_timeout = Duration::from_millis(300);
        } else {
            cfg.runtime.max_execution_time = Duration::from_secs(2);
        }
    })
    .await;
    for f in [&lp, &tp] {
        b.start_actor(&f.to_string_lossy(), 1, StringMap::new())
            .await
            .unwrap();
    }
    let (p_loop, p_trap) = (free_port(), free_port());
    a.serve_http(&loop_pk, &format!("127.0.0.1:{p_loop}"), "default")
        .await
        .unwrap();
    a.serve_http(&trap_pk, &format!("127.0.0.1:{p_trap}"), "default")
        .await
        .unwrap();

    // What A sends: HandleRequest from the HTTP provider's entity, signed by A.
    let mut tap = bus
        .subscribe(&format!("wasmbus.rpc.default.{trap_pk}"))
        .await
        .unwrap();

    // The looping actor never answers within A's RPC timeout: 503, not a hang.
    let (status, body) = within(T, "GET the looping actor", http_get(p_loop, "/"))
        .await
        .unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        format!(
            "503 Service Unavailable: the host of actor {loop_pk} gave no reply within 300 ms\n"
        )
    );

    // The trapping actor's host answers with the trap: a plain 500, the details recorded.
    let (status, body) = within(T, "GET the trapping actor", http_get(p_trap, "/"))
        .await
        .unwrap();
    assert_eq!(
        (status, body.as_str()),
        (500, "500 Internal Server Error\n")
    );
    let msg = within(T, "the invocation on the wire", tap.next())
        .await
        .unwrap();
    let inv = Invocation::decode(&msg.payload).unwrap();
    assert_eq!(inv.operation, "HttpServer.HandleRequest");
    assert_eq!(
        inv.origin,
        WasmCloudEntity::provider(builtin_http_key(), HTTP, "default")
    );
    assert_eq!(inv.target, WasmCloudEntity::actor(trap_pk.clone()));
    assert_eq!(inv.host_id, a.id());
    let req: HttpRequest = from_msgpack(&inv.msg).unwrap();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/"));
    let routes = a.http_routes();
    let trap = routes.iter().find(|r| r.actor_id == trap_pk).unwrap();
    assert!(trap.remote);
    assert_eq!((trap.stats.calls, trap.stats.errors), (1, 1));
    let looping = routes.iter().find(|r| r.actor_id == loop_pk).unwrap();
    assert_eq!((looping.stats.calls, looping.stats.errors), (1, 1));
    a.stop();
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_route_whose_address_is_taken_stands_by_without_failing_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    let (file, pk) = signed_file(dir.path(), "era-hello", &[HTTP], None);
    let (_bus, a, b) = two_hosts(|_, _| {}).await;
    b.start_actor(&file.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap();
    // Another process's socket (here: the test's) holds the address.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    // The HTTP server on A on another link name first (serve_http waits for its own route).
    let other = free_port();
    a.serve_http(&pk, &format!("127.0.0.1:{other}"), "other")
        .await
        .unwrap();
    let http = builtin_http_key();
    let link = |name: &str, port: u16| {
        LinkDefinition {
            id: String::new(),
            actor_id: pk.clone(),
            provider_id: http.clone(),
            link_name: name.into(),
            contract_id: HTTP.into(),
            values: [("address".to_string(), format!("127.0.0.1:{port}"))].into(),
        }
        .with_id()
    };
    let ld = link("other", port);
    // Replace the link on "other" by one on the held address.
    a.data().put_link(&ld).await.unwrap();
    within(T, "the route stands by", async {
        while !a.http_standby().contains_key(&ld.id) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        a.http_standby()[&ld.id].contains("in use"),
        "{:?}",
        a.http_standby()
    );
    // Not a failure (which would turn the provider unhealthy): it stands by, unapplied.
    assert!(a.served_links().is_empty(), "no route is applied");
    assert!(a.http_routes().is_empty());
    // The address is free again; the next reconciliation (here: another link) takes it.
    drop(held);
    a.serve_http(&pk, &format!("127.0.0.1:{other}"), "default")
        .await
        .unwrap();
    within(T, "the route is up on the freed address", async {
        while !a.served_links().contains(&ld.id) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(a.http_standby().is_empty());
    let (status, body) = http_get(port, "/freed").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "hello from an actor-era actor: GET /freed")
    );
    a.stop();
    b.stop();
}
