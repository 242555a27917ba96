//! HTTP through a remote actor against the same actor local to the HTTP server, on a local
//! nats-server with two headless hosts (the release binary, each its own process):
//!
//! - **local**: host A runs `era-hello` (signed with the `wasmcloud:httpserver` cap) and the
//!   built-in HTTP server, linked on one port;
//! - **remote**: host B runs the same module under another key (signed again), linked on a
//!   second port of A's HTTP server: each request goes A → B as `HttpServer.HandleRequest`
//!   over lattice RPC and back;
//! - **NATS**: a raw `async-nats` 64-byte request/reply round trip on the same server, between
//!   two connections of this process (the responder echoes).
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
use lattice_tui::lattice::bus::Bus;
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

fn main() {
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

        // The raw NATS round trip: an echo responder on its own connection.
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
        let nats_rt = |requester: async_nats::Client, payload: Bytes| async move {
            let t = Instant::now();
            requester
                .request("bench.echo", payload)
                .await
                .expect("echo reply");
            t.elapsed()
        };

        let mut local = connect(local_port).await;
        let mut remote = connect(remote_port).await;
        // Warm-up: instances, connections, caches.
        for _ in 0..200 {
            get(&mut local).await;
            get(&mut remote).await;
            nats_rt(requester.clone(), payload.clone()).await;
        }
        let (mut l, mut r, mut n) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            for _ in 0..seq {
                l.push(get(&mut local).await);
            }
            for _ in 0..seq {
                r.push(get(&mut remote).await);
            }
            for _ in 0..seq {
                n.push(nats_rt(requester.clone(), payload.clone()).await);
            }
        }
        for v in [&mut l, &mut r, &mut n] {
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
            "  local  (A runs the actor)        {:>8} / {:>8}",
            us(lp),
            us(percentile(&l, 0.99))
        );
        println!(
            "  remote (A -> B over lattice RPC) {:>8} / {:>8}",
            us(rp),
            us(percentile(&r, 0.99))
        );
        println!(
            "  NATS request/reply, 64 B         {:>8} / {:>8}",
            us(np),
            us(percentile(&n, 0.99))
        );
        println!(
            "  added by the remote hop: {} (target <= NATS p50 + 100 µs = {}): {:.2}x the budget; remote/local p50 {:.2}x",
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
