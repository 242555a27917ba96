//! HTTP through a remote actor against the same actor local to the HTTP server, on a local
//! nats-server with two headless hosts (the release binary, each its own process):
//!
//! - **local**: host A runs `era-hello` (signed with the `wasmcloud:httpserver` cap) and the
//!   built-in HTTP server, linked on one port;
//! - **remote**: host B runs the same module under another key (signed again), linked on a
//!   second port of A's HTTP server: each request goes A → B as `HttpServer.HandleRequest`
//!   over lattice RPC and back;
//! - **NATS**: a raw `async-nats` 64-byte request/reply round trip on the same server: to an
//!   echo responder in another process (this bench binary run again as one, on a current-thread
//!   runtime), as A's request to B crosses processes; and to a responder on this process's own
//!   thread, the floor (no other process has to wake up).
//!
//! To see where the remote hop's time goes, also: **RPC only** — the same signed
//! `HttpServer.HandleRequest` sent from this process straight to the actor on B (B's side and
//! the round trip, without A and HTTP); the same call to a host in this process over the
//! in-process bus (the serving path's CPU without NATS and without other processes); and the
//! CPU of the envelope — sign and encode an invocation (what A does per request), decode and
//! validate it (what B does).
//!
//! Latency: one keep-alive connection per kind, sequential GETs, rounds alternating the three
//! kinds so each sees the same machine; p50 and p99 of all samples. Throughput: `CONNS`
//! keep-alive connections for `SECS` seconds per round, local and remote alternating; the
//! median of the rounds. The target (issue 9): remote p50 − local p50 ≤ NATS p50 + 100 µs.
//!
//! The load generator (a current-thread tokio runtime here), both hosts (one host runtime
//! worker each, their default) and nats-server share the machine's CPUs.
//!
//! Run: `cargo bench --bench http_remote`. Environment: ROUNDS (5), SEQ (500 requests per
//! kind and round), CONNS (16), SECS (3).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lattice_tui::host::builtin_http_key;
use lattice_tui::host::rpc::wire::{Invocation, WasmCloudEntity, to_msgpack};
use lattice_tui::host::rpc::{RpcLink, antiforgery};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::protocol::interfaces::HttpRequest;
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use nkeys::KeyPair;
use serde_json::json;

#[path = "../tests/common/mod.rs"]
mod common;

use common::e2e::{HeadlessHost, actor_count, host_id, snapshot, wait_snapshot};

const LATTICE: &str = "bench-http";
const HTTP: &str = "wasmcloud:httpserver";
const WAIT: Duration = Duration::from_secs(30);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

async fn ack(bus: &Bus, subject: &str, body: serde_json::Value) {
    let reply = bus
        .request(subject, Bytes::from(body.to_string()), WAIT)
        .await
        .unwrap_or_else(|e| panic!("{subject}: {e}"));
    let ack: serde_json::Value = serde_json::from_slice(&reply.payload).expect("an ack");
    assert_eq!(ack["accepted"], true, "{subject}: {ack}");
}

/// A keep-alive HTTP/1.1 connection to 127.0.0.1:`port`.
async fn connect(port: u16) -> SendRequest<Empty<Bytes>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// One `GET /`; panics unless it answers 200 with the hello body.
async fn get(sender: &mut SendRequest<Empty<Bytes>>) -> Duration {
    sender.ready().await.expect("connection ready");
    let req = hyper::Request::get("/")
        .header("host", "bench")
        .body(Empty::new())
        .expect("request");
    let t = Instant::now();
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let took = t.elapsed();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        body.starts_with(b"hello from an actor-era actor"),
        "{body:?}"
    );
    took
}

/// Waits until `GET /` on `port` answers 200 (the route reaches A through the lattice data).
async fn wait_served(port: u16) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(Ok((200, _))) =
                tokio::time::timeout(Duration::from_secs(5), common::http_get(port, "/")).await
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("port {port} never served the actor"));
}

/// Requests per second over `conns` connections for `secs`.
async fn throughput(port: u16, conns: usize, secs: u64) -> f64 {
    let until = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(port).await;
            let mut n = 0u64;
            while Instant::now() < until {
                get(&mut sender).await;
                n += 1;
            }
            n
        }));
    }
    let start = Instant::now();
    let mut total = 0u64;
    for t in tasks {
        total += t.await.expect("load task");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Set in the environment of the echo responder this bench runs as a child: the server URL.
const ECHO_ENV: &str = "LATTICE_BENCH_ECHO_NATS";
/// The subject the child's responder echoes on.
const ECHO_SUBJECT: &str = "bench.echo.process";

/// The child: echo every request on [`ECHO_SUBJECT`] until killed.
fn echo_responder(url: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use futures::StreamExt;
        let client = async_nats::connect(url).await.expect("connect");
        let mut sub = client.subscribe(ECHO_SUBJECT).await.expect("subscribe");
        client.flush().await.expect("flush");
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let _ = client.publish(reply, msg.payload).await;
            }
        }
    });
}

/// Kills the echo responder when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if let Ok(url) = std::env::var(ECHO_ENV) {
        echo_responder(&url);
        return;
    }
    let rounds = env_usize("ROUNDS", 5);
    let seq = env_usize("SEQ", 500);
    let conns = env_usize("CONNS", 16);
    let secs = env_usize("SECS", 3) as u64;

    let nats = common::NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical dir");
    for sub in ["local", "remote"] {
        std::fs::create_dir(root.join(sub)).expect("dir");
    }
    let (local_file, local_pk) =
        common::era::signed_file(&root.join("local"), "era-hello", &[HTTP], None);
    let (remote_file, remote_pk) =
        common::era::signed_file(&root.join("remote"), "era-hello", &[HTTP], None);
    let seed = KeyPair::new_cluster().seed().expect("seed");
    let a = HeadlessHost::start(&url, LATTICE, "a", &root, &["--cluster-seed", &seed]);
    let b = HeadlessHost::start(&url, LATTICE, "b", &root, &["--cluster-seed", &seed]);
    let m = snapshot(&url, LATTICE);
    let id_a = host_id(&m, "a").expect("host a");
    let id_b = host_id(&m, "b").expect("host b");
    let local_port = common::free_port();
    let remote_port = common::free_port();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let bus = common::connect_bus(&url).await;
        let s = Subjects::new(LATTICE);
        ack(
            &bus,
            &s.host_command(&id_a, CmdVerb::LaunchProvider),
            json!({"provider_ref": "builtin:httpserver", "link_name": "default"}),
        )
        .await;
        for (host, file) in [(&id_a, &local_file), (&id_b, &remote_file)] {
            ack(
                &bus,
                &s.host_command(host, CmdVerb::LaunchActor),
                json!({"actor_ref": file.display().to_string(), "count": 1}),
            )
            .await;
        }
        wait_snapshot(&url, LATTICE, "era-hello on A and on B", |m| {
            actor_count(m, "a", "era-hello") == 1 && actor_count(m, "b", "era-hello") == 1
        });
        for (pk, port) in [(&local_pk, local_port), (&remote_pk, remote_port)] {
            ack(
                &bus,
                &s.linkdefs_put(),
                json!({"actor_id": pk, "provider_id": builtin_http_key(), "contract_id": HTTP,
                       "link_name": "default", "values": {"address": format!("127.0.0.1:{port}")}}),
            )
            .await;
        }
        wait_served(local_port).await;
        wait_served(remote_port).await;

        // The raw NATS round trips: an echo responder in another process, and one here.
        let _echo = Child(
            std::process::Command::new(std::env::current_exe().expect("this bench"))
                .env(ECHO_ENV, &url)
                .stdin(std::process::Stdio::null())
                .spawn()
                .expect("start the echo responder"),
        );
        let responder = async_nats::connect(&url).await.expect("responder");
        let requester = async_nats::connect(&url).await.expect("requester");
        let mut echo = responder.subscribe("bench.echo").await.expect("subscribe");
        responder.flush().await.expect("flush");
        tokio::spawn(async move {
            use futures::StreamExt;
            while let Some(msg) = echo.next().await {
                if let Some(reply) = msg.reply {
                    let _ = responder.publish(reply, msg.payload).await;
                }
            }
        });
        let payload = Bytes::from(vec![7u8; 64]);
        let nats_rt = |requester: async_nats::Client, payload: Bytes, subject: &'static str| async move {
            let t = Instant::now();
            requester
                .request(subject, payload)
                .await
                .expect("echo reply");
            t.elapsed()
        };
        tokio::time::timeout(WAIT, async {
            while requester
                .request(ECHO_SUBJECT, payload.clone())
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the echo process answers");

        // The RPC alone, signed here as A would sign it.
        let cluster = KeyPair::from_seed(&seed).expect("cluster key");
        let issuers = vec![cluster.public_key()];
        let link = RpcLink::new(
            bus.clone(),
            LATTICE,
            &KeyPair::new_server().public_key(),
            KeyPair::from_seed(&seed).expect("cluster key"),
            issuers.clone(),
            WAIT,
        );
        let origin = WasmCloudEntity::provider(builtin_http_key(), HTTP, "default");
        let target = WasmCloudEntity::actor(remote_pk.clone());
        let request = to_msgpack(&HttpRequest {
            method: "GET".into(),
            path: "/".into(),
            ..HttpRequest::default()
        })
        .expect("msgpack");
        let rpc_only = || {
            let (link, origin, target, request) =
                (link.clone(), origin.clone(), target.clone(), request.clone());
            async move {
                let t = Instant::now();
                link.call(origin, target, "HttpServer.HandleRequest", request)
                    .await
                    .expect("the actor on B answers");
                t.elapsed()
            }
        };

        let mut local = connect(local_port).await;
        let mut remote = connect(remote_port).await;
        // Warm-up: instances, connections, caches.
        for _ in 0..200 {
            get(&mut local).await;
            get(&mut remote).await;
            nats_rt(requester.clone(), payload.clone(), ECHO_SUBJECT).await;
            nats_rt(requester.clone(), payload.clone(), "bench.echo").await;
            rpc_only().await;
        }
        let (mut l, mut r, mut n, mut f, mut o) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            for _ in 0..seq {
                l.push(get(&mut local).await);
            }
            for _ in 0..seq {
                r.push(get(&mut remote).await);
            }
            for _ in 0..seq {
                n.push(nats_rt(requester.clone(), payload.clone(), ECHO_SUBJECT).await);
            }
            for _ in 0..seq {
                f.push(nats_rt(requester.clone(), payload.clone(), "bench.echo").await);
            }
            for _ in 0..seq {
                o.push(rpc_only().await);
            }
        }
        // The same RPC to the same module on a host in this process, over the in-process
        // bus: the serving path's CPU (sign, validate, run the guest, codec) without NATS.
        let local_bus = Bus::local();
        let mut cfg = lattice_tui::host::HostConfig::new(LATTICE);
        cfg.identity.cluster_seed = Some(seed.clone());
        let inproc = lattice_tui::host::start(local_bus.clone(), cfg)
            .await
            .expect("an in-process host");
        let inproc_pk = inproc
            .start_actor(&remote_file.display().to_string(), 1, Default::default())
            .await
            .expect("the actor in-process");
        let inproc_link = RpcLink::new(
            local_bus,
            LATTICE,
            &KeyPair::new_server().public_key(),
            KeyPair::from_seed(&seed).expect("cluster key"),
            issuers.clone(),
            WAIT,
        );
        let mut p = Vec::new();
        for i in 0..(200 + rounds * seq) {
            let t = Instant::now();
            inproc_link
                .call(
                    origin.clone(),
                    WasmCloudEntity::actor(inproc_pk.clone()),
                    "HttpServer.HandleRequest",
                    request.clone(),
                )
                .await
                .expect("the in-process actor answers");
            if i >= 200 {
                p.push(t.elapsed());
            }
        }
        inproc.stop();
        // The envelope's CPU, in this process.
        let (mut signing, mut checking) = (Vec::new(), Vec::new());
        for _ in 0..rounds * seq {
            let t = Instant::now();
            let inv = link
                .invocation(origin.clone(), target.clone(), "HttpServer.HandleRequest", request.clone())
                .expect("sign");
            let bytes = inv.encode().expect("encode");
            signing.push(t.elapsed());
            let t = Instant::now();
            let back = Invocation::decode(&bytes).expect("decode");
            antiforgery::validate(&back, None, &issuers).expect("valid");
            checking.push(t.elapsed());
        }
        for v in [&mut l, &mut r, &mut n, &mut f, &mut o, &mut p, &mut signing, &mut checking] {
            v.sort();
        }
        let (lp, rp, np) = (
            percentile(&l, 0.5),
            percentile(&r, 0.5),
            percentile(&n, 0.5),
        );
        let added = rp.saturating_sub(lp);
        let budget = np + Duration::from_micros(100);
        println!(
            "Sequential GET, one keep-alive connection, {rounds} rounds x {seq} per kind (p50 / p99):"
        );
        println!(
            "  local  (A runs the actor)                     {:>8} / {:>8}",
            us(lp),
            us(percentile(&l, 0.99))
        );
        println!(
            "  remote (A -> B over lattice RPC)              {:>8} / {:>8}",
            us(rp),
            us(percentile(&r, 0.99))
        );
        println!(
            "  NATS request/reply, 64 B, to another process {:>8} / {:>8}",
            us(np),
            us(percentile(&n, 0.99))
        );
        println!(
            "  NATS request/reply, 64 B, same thread (floor) {:>8} / {:>8}",
            us(percentile(&f, 0.5)),
            us(percentile(&f, 0.99))
        );
        println!(
            "  RPC only (this process -> B, signed here)     {:>8} / {:>8}",
            us(percentile(&o, 0.5)),
            us(percentile(&o, 0.99))
        );
        println!(
            "  RPC in this process (in-process bus, no NATS) {:>8} / {:>8}",
            us(percentile(&p, 0.5)),
            us(percentile(&p, 0.99))
        );
        println!(
            "  envelope CPU: sign + encode {} p50, decode + validate {} p50",
            us(percentile(&signing, 0.5)),
            us(percentile(&checking, 0.5))
        );
        println!(
            "  added by the remote hop: {} (target <= NATS p50 to another process + 100 µs = {}): {:.2}x the budget; remote/local p50 {:.2}x",
            us(added),
            us(budget),
            added.as_secs_f64() / budget.as_secs_f64(),
            rp.as_secs_f64() / lp.as_secs_f64()
        );
        drop(local);
        drop(remote);

        let (mut lt, mut rt_) = (Vec::new(), Vec::new());
        for _ in 0..rounds.min(3) {
            lt.push(throughput(local_port, conns, secs).await);
            rt_.push(throughput(remote_port, conns, secs).await);
        }
        let (lm, rm) = (median(lt.clone()), median(rt_.clone()));
        println!(
            "Throughput, {conns} keep-alive connections, {secs} s per round, median of {}:",
            lt.len()
        );
        println!("  local  {lm:>9.0} req/s   (rounds {lt:.0?})");
        println!("  remote {rm:>9.0} req/s   (rounds {rt_:.0?})");
        println!("  remote/local {:.2}x", rm / lm);
    });
    drop(a);
    drop(b);
}
