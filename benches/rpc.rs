//! Lattice RPC and the actor era's actors, over a local nats-server (prints medians; run with
//! `cargo bench --bench rpc`):
//!
//! - **echo RPC** (64 B): a signed `HttpServer.HandleRequest` invocation (`RpcLink::call`, what
//!   a host does for an actor's `__host_call`) to the waPC actor `era-echo` on a lattice-tui
//!   host — sign, publish, the host's validation, a fresh instance, `__guest_call`, the reply —
//!   against a raw async-nats request/reply of 64 B to a task that answers at once, on the
//!   same server, in turns. Target ≤ 1.5× at p50. The host runs on a runtime of its own with
//!   one worker and its own connection (`host::spawn`), as the binary runs it.
//! - **waPC vs component over HTTP**: `era-hello` (waPC, `HttpServer.HandleRequest`) and the
//!   `hello` component (`wasi:http`) each behind the built-in HTTP server; requests/s of each
//!   with `wrk` (2 threads, 16 connections, 5 s), and the p50 of single requests.

use std::time::{Duration, Instant};

use bytes::Bytes;
use lattice_tui::host::rpc::RpcLink;
use lattice_tui::host::rpc::wire::{WasmCloudEntity, to_msgpack};
use lattice_tui::host::{self, HostConfig};
use lattice_tui::lattice::bus::{Bus, BusOptions};
use lattice_tui::lattice::protocol::StringMap;
use lattice_tui::lattice::protocol::interfaces::HttpRequest;
use nkeys::KeyPair;

#[path = "../tests/common/mod.rs"]
mod common;

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs this as a smoke test
/// (fewer rounds, a 1 s wrk).
fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn rounds() -> (usize, usize) {
    if full() { (2_000, 200) } else { (50, 10) }
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() * 99 / 100]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn bus(url: &str) -> Bus {
    Bus::connect(BusOptions::new(url)).await.expect("connect")
}

/// `wrk -t2 -c16 -d5s URL`: requests/s.
fn wrk(url: &str) -> f64 {
    let duration = if full() { "-d5s" } else { "-d1s" };
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c16", duration, url])
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

async fn http_p50(port: u16) -> Duration {
    let mut v = Vec::with_capacity(500);
    let (n, warm) = if full() { (600, 100) } else { (30, 5) };
    for i in 0..n {
        let t = Instant::now();
        let (status, _) = common::http_get(port, "/bench").await.expect("GET");
        assert_eq!(status, 200);
        if i >= warm {
            v.push(t.elapsed());
        }
    }
    p50(v)
}

/// Where an echo RPC's time goes, each part alone (no NATS): signing an invocation, a
/// receiver's validation, and the guest call in a fresh instance.
async fn breakdown(seed: &str, echo_pk: &str, req: &[u8], rounds: usize) {
    use lattice_tui::host::rpc::antiforgery;
    use lattice_tui::host::runtime::{Runtime, RuntimeConfig};
    let key = KeyPair::from_seed(seed).unwrap();
    let issuers = vec![key.public_key()];
    let host_id = KeyPair::new_server().public_key();
    let origin = WasmCloudEntity::actor(KeyPair::new_module().public_key());
    let target = WasmCloudEntity::actor(echo_pk);
    let (mut sign, mut check, mut codec) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let inv = antiforgery::sign(
            &key,
            &host_id,
            origin.clone(),
            target.clone(),
            "HttpServer.HandleRequest",
            req.to_vec(),
        )
        .unwrap();
        sign.push(t.elapsed());
        let t = Instant::now();
        let bytes = inv.encode().unwrap();
        let back = lattice_tui::host::rpc::wire::Invocation::decode(&bytes).unwrap();
        codec.push(t.elapsed());
        let t = Instant::now();
        antiforgery::validate(&back, None, &issuers).unwrap();
        check.push(t.elapsed());
    }
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let loaded = rt
        .load(common::era::era_module("era-echo"), 1)
        .await
        .unwrap();
    let mut guest = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        rt.invoke(&loaded, echo_pk, "HttpServer.HandleRequest", req.to_vec())
            .await
            .unwrap();
        guest.push(t.elapsed());
    }
    println!(
        "  its parts alone (p50): sign {:.1} µs, encode+decode {:.1} µs, validate {:.1} µs, guest call in a fresh instance {:.1} µs",
        us(p50(sign)),
        us(p50(codec)),
        us(p50(check)),
        us(p50(guest))
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let nats = common::NatsServer::start();
    let url = nats.url();
    let seed = KeyPair::new_cluster().seed().unwrap();
    let mut cfg = HostConfig::new("default");
    cfg.identity.cluster_seed = Some(seed.clone());
    // The host on a runtime of its own with one worker, as the binary runs it (`--host-threads`
    // 1): sharing the bench's two workers, its tasks would hop between threads.
    let h = host::spawn(bus(&url).await, cfg, 1).await.expect("host");
    let dir = tempfile::tempdir().unwrap();
    let (echo, echo_pk) =
        common::era::signed_file(dir.path(), "era-echo", &["wasmcloud:httpserver"], None);
    let (hello, hello_pk) =
        common::era::signed_file(dir.path(), "era-hello", &["wasmcloud:httpserver"], None);
    for f in [&echo, &hello] {
        let f = f.to_string_lossy().into_owned();
        h.run(move |h| async move { h.start_actor(&f, 1, StringMap::new()).await })
            .await
            .expect("host runtime")
            .expect("start");
    }
    let component = common::actors::actor_wasm("hello")
        .to_string_lossy()
        .into_owned();
    let component_pk = h
        .run(move |h| async move { h.start_actor(&component, 1, StringMap::new()).await })
        .await
        .expect("host runtime")
        .expect("start hello component");

    // Echo RPC vs raw request/reply, in turns.
    let client = bus(&url).await;
    let responder = bus(&url).await;
    let mut sub = responder.subscribe("bench.raw.echo").await.unwrap();
    let r2 = responder.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            if let Some(reply) = m.reply {
                let _ = r2.publish(&reply, m.payload).await;
            }
        }
    });
    responder.flush().await.unwrap();
    let link = RpcLink::new(
        client.clone(),
        "default",
        &KeyPair::new_server().public_key(),
        KeyPair::from_seed(&seed).unwrap(),
        vec![],
        Duration::from_secs(5),
    );
    let payload = vec![7u8; 64];
    let req = to_msgpack(&HttpRequest {
        method: "POST".into(),
        path: "/echo".into(),
        body: payload.clone(),
        ..HttpRequest::default()
    })
    .unwrap();
    let origin = WasmCloudEntity::actor(KeyPair::new_module().public_key());
    let target = WasmCloudEntity::actor(echo_pk.clone());
    let (rounds, warmup) = rounds();
    let (mut raw, mut rpc) = (Vec::new(), Vec::new());
    for i in 0..(rounds + warmup) {
        let t = Instant::now();
        let m = client
            .request(
                "bench.raw.echo",
                Bytes::from(payload.clone()),
                Duration::from_secs(5),
            )
            .await
            .expect("raw echo");
        assert_eq!(m.payload.len(), 64);
        let raw_t = t.elapsed();
        let t = Instant::now();
        link.call(
            origin.clone(),
            target.clone(),
            "HttpServer.HandleRequest",
            req.clone(),
        )
        .await
        .expect("rpc echo");
        let rpc_t = t.elapsed();
        if i >= warmup {
            raw.push(raw_t);
            rpc.push(rpc_t);
        }
    }
    let (raw50, rpc50) = (p50(raw.clone()), p50(rpc.clone()));
    println!("rpc over nats-server, {rounds} rounds each, in turns (after {warmup} warm-up):");
    println!(
        "  raw async-nats request/reply 64 B: p50 {:.1} µs, p99 {:.1} µs",
        us(raw50),
        us(p99(raw))
    );
    println!(
        "  echo RPC to era-echo (signed, validated, fresh instance) 64 B: p50 {:.1} µs, p99 {:.1} µs",
        us(rpc50),
        us(p99(rpc))
    );
    println!(
        "  ratio at p50: {:.2}x (target <= 1.5x)",
        rpc50.as_secs_f64() / raw50.as_secs_f64()
    );
    breakdown(&seed, &echo_pk, &req, rounds).await;

    // waPC vs component behind the built-in HTTP server.
    let p_wapc = common::free_port();
    let p_comp = common::free_port();
    for (pk, port, name) in [
        (hello_pk.clone(), p_wapc, "wapc"),
        (component_pk.clone(), p_comp, "component"),
    ] {
        h.run(move |h| async move { h.serve_http(&pk, &format!("127.0.0.1:{port}"), name).await })
            .await
            .expect("host runtime")
            .expect("http");
    }
    let (w50, c50) = (http_p50(p_wapc).await, http_p50(p_comp).await);
    let w_rps = wrk(&format!("http://127.0.0.1:{p_wapc}/bench"));
    let c_rps = wrk(&format!("http://127.0.0.1:{p_comp}/bench"));
    println!("built-in HTTP server, same host:");
    println!(
        "  era-hello (waPC): {w_rps:.0} req/s (wrk -t2 -c16 -d5s), single GET p50 {:.1} µs",
        us(w50)
    );
    println!(
        "  hello (component): {c_rps:.0} req/s, single GET p50 {:.1} µs",
        us(c50)
    );
    println!("  waPC / component req/s: {:.2}", w_rps / c_rps);
    h.shutdown().await;
}
