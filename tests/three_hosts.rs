//! Three hosts as separate processes (the real binary, headless) on one nats-server, as a
//! lattice scales out: host A runs only the built-in HTTP server, host B the actor-era
//! counter (`era-counter`, signed with the `wasmcloud:httpserver` and `wasmcloud:keyvalue`
//! caps), host C `builtin:keyvalue`. A GET on A is served by the counter on B over lattice RPC,
//! which increments through the provider on C; B scales, and an auction with a label
//! constraint puts a second instance on C. `kill -9` of B while concurrent GETs run: the
//! requests that cannot be served are answered 503 — none hangs past the RPC timeout — and
//! once the instance on C exists they succeed again, the count going on from the JetStream
//! bucket behind C's provider.
//!
//! Which host did what is read off the wire: a subscriber on the provider's RPC subject sees
//! each `KeyValue.Increment` and the host that signed it (`host_id`), and B's rates samples
//! count the counter's calls there. (Nothing listens on the actor's subject besides its
//! hosts: a subscriber there would be interest enough for the server never to answer
//! "no responders".)

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::e2e::{
    HeadlessHost, actor_count, host_id, provider_link_names, snapshot, wait_snapshot,
};
use common::era::signed_file;
use common::lattice::{T, ack};
use common::{NatsServer, connect_bus, free_port, http_get, round_trip, scaled, within};
use lattice_tui::host::builtin_http_key;
use lattice_tui::host::providers::KEYVALUE;
use lattice_tui::host::rpc::wire::{Invocation, provider_subject};
use lattice_tui::host::rpc::{self, DEFAULT_RPC_TIMEOUT};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::protocol::rates::RatesSample;
use lattice_tui::lattice::subjects::{CmdVerb, RATES_PREFIX, Subjects};
use nkeys::KeyPair;
use serde_json::{Value, json};

const LATTICE: &str = "three";
const HTTP: &str = "wasmcloud:httpserver";
const KV: &str = "wasmcloud:keyvalue";
const COUNTER: &str = "era-counter";
/// What a request may take beyond the RPC timeout: HTTP and NATS on a busy machine (scaled).
const SLACK: Duration = Duration::from_secs(3);
/// Concurrent GET loops while B is killed.
const WORKERS: usize = 6;
/// Pause between one loop's requests (keeps two shared cores responsive); five times as long
/// after a failure.
const PAUSE: Duration = Duration::from_millis(10);
/// Successes wanted before the kill and after the recovery.
const ENOUGH: usize = 20;

/// The hosts' RPC timeout: theirs is read from the same environment.
fn rpc_timeout() -> Duration {
    rpc::timeout_from_env().unwrap_or(DEFAULT_RPC_TIMEOUT)
}

/// Every invocation on one RPC subject, in arrival order.
type Tap = Arc<Mutex<Vec<Invocation>>>;

async fn tap(bus: &Bus, subject: &str) -> Tap {
    let mut sub = bus
        .subscribe(subject)
        .await
        .expect("subscribe to an RPC subject");
    round_trip(bus, "the tap reaches the server").await;
    let seen: Tap = Arc::default();
    let out = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            if let Ok(inv) = Invocation::decode(&m.payload) {
                out.lock().unwrap().push(inv);
            }
        }
    });
    seen
}

/// Waits until the tap has seen an invocation matching `pred`.
async fn seen(tap: &Tap, what: &str, pred: impl Fn(&Invocation) -> bool) {
    within(T, what, async {
        while !tap.lock().unwrap().iter().any(&pred) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

async fn command(bus: &Bus, s: &Subjects, host: &str, verb: CmdVerb, body: Value) {
    let a = ack(bus, &s.host_command(host, verb), body).await;
    assert!(a.accepted, "{verb} on {host}: {a:?}");
}

async fn link(bus: &Bus, s: &Subjects, actor: &str, provider: &str, contract: &str, values: Value) {
    let a = ack(
        bus,
        &s.linkdefs_put(),
        json!({"actor_id": actor, "provider_id": provider, "contract_id": contract,
               "link_name": "default", "values": values}),
    )
    .await;
    assert!(a.accepted, "link {contract}: {a:?}");
}

/// `GET /` on A until it answers 200 (links and routes reach every host through the lattice
/// data a moment apart); the body.
async fn first_success(port: u16) -> String {
    within(T, "GET / on A → 200", async {
        loop {
            if let Ok((200, body)) = http_get(port, "/").await {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

async fn get(port: u16) -> (u16, String) {
    within(T, "GET / on A", http_get(port, "/"))
        .await
        .expect("A answers")
}

/// A's route, from its info endpoint.
async fn route_info(port: u16) -> Value {
    let (status, body) = get_path(port, "/.well-known/lattice/info").await;
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).expect("info is JSON");
    doc["routes"][0].clone()
}

async fn get_path(port: u16, path: &str) -> (u16, String) {
    within(T, path, http_get(port, path))
        .await
        .expect("A answers")
}

/// One request of a load loop.
#[derive(Debug, Clone)]
struct Outcome {
    worker: usize,
    started: Instant,
    elapsed: Duration,
    /// The status, or `None` when the request did not finish within the bound or failed on
    /// the connection.
    status: Option<u16>,
    body: String,
}

/// `WORKERS` loops of `GET /` on `port` until `stop`; each request bounded by `bound`.
fn load(
    port: u16,
    bound: Duration,
    stop: &Arc<AtomicBool>,
    out: &Arc<Mutex<Vec<Outcome>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WORKERS)
        .map(|worker| {
            let stop = Arc::clone(stop);
            let out = Arc::clone(out);
            tokio::spawn(async move {
                while !stop.load(Ordering::Acquire) {
                    let started = Instant::now();
                    let r = tokio::time::timeout(bound, http_get(port, "/")).await;
                    let (status, body) = match r {
                        Ok(Ok((status, body))) => (Some(status), body),
                        Ok(Err(e)) => (None, format!("connection failed: {e}")),
                        Err(_) => (None, format!("no answer within {bound:?}")),
                    };
                    let pause = scaled(if status == Some(200) {
                        PAUSE
                    } else {
                        PAUSE * 5
                    });
                    out.lock().unwrap().push(Outcome {
                        worker,
                        started,
                        elapsed: started.elapsed(),
                        status,
                        body,
                    });
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect()
}

/// Waits until `pred` holds for the outcomes so far.
async fn outcomes_until(
    out: &Arc<Mutex<Vec<Outcome>>>,
    what: &str,
    pred: impl Fn(&[Outcome]) -> bool,
) {
    within(Duration::from_secs(30), what, async {
        while !pred(&out.lock().unwrap()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn successes_after(o: &[Outcome], t: Instant) -> usize {
    o.iter()
        .filter(|o| o.started > t && o.status == Some(200))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_on_a_is_served_on_b_through_c_and_survives_kill_9_of_b() {
    let nats = NatsServer::start();
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let (file, counter) = signed_file(&root, COUNTER, &[HTTP, KV], None);
    let file = file.display().to_string();
    let seed = KeyPair::new_cluster().seed().unwrap();
    let start = |name: &str| {
        let zone = format!("zone={name}");
        HeadlessHost::start(
            &url,
            LATTICE,
            name,
            &root,
            &["--cluster-seed", &seed, "--label", &zone],
        )
    };
    let a = start("a");
    let mut b = start("b");
    let c = start("c");
    let m = snapshot(&url, LATTICE);
    let [id_a, id_b, id_c] = ["a", "b", "c"].map(|n| host_id(&m, n).expect("host id"));
    let bus = connect_bus(&url).await;
    let s = Subjects::new(LATTICE);
    let kv_key = KEYVALUE.public_key();
    let wire = tap(&bus, &provider_subject(LATTICE, &kv_key, "default")).await;
    let mut rates_of_b = bus
        .subscribe(&format!("{RATES_PREFIX}.{LATTICE}.{id_b}"))
        .await
        .expect("subscribe to B's rates");

    // A: the HTTP server only; C: the key-value provider; B: the counter.
    command(
        &bus,
        &s,
        &id_a,
        CmdVerb::LaunchProvider,
        json!({"provider_ref": "builtin:httpserver", "link_name": "default"}),
    )
    .await;
    command(
        &bus,
        &s,
        &id_c,
        CmdVerb::LaunchProvider,
        json!({"provider_ref": KEYVALUE.reference, "link_name": "default"}),
    )
    .await;
    command(
        &bus,
        &s,
        &id_b,
        CmdVerb::LaunchActor,
        json!({"actor_ref": file, "count": 1}),
    )
    .await;
    wait_snapshot(&url, LATTICE, "the counter on B and the providers", |m| {
        actor_count(m, "b", COUNTER) == 1
            && provider_link_names(m, "a", "builtin:httpserver") == ["default"]
            && provider_link_names(m, "c", KEYVALUE.reference) == ["default"]
    });
    let port = free_port();
    link(&bus, &s, &counter, &KEYVALUE.public_key(), KV, json!({})).await;
    link(
        &bus,
        &s,
        &counter,
        &builtin_http_key(),
        HTTP,
        json!({"address": format!("127.0.0.1:{port}")}),
    )
    .await;

    // 1, 2, 3: answered on A by the counter on B, which increments through C.
    assert_eq!(first_success(port).await, "1");
    assert_eq!(get(port).await, (200, "2".to_string()));
    assert_eq!(get(port).await, (200, "3".to_string()));
    let m = snapshot(&url, LATTICE);
    assert_eq!(actor_count(&m, "a", COUNTER), 0, "A runs no actor");
    assert_eq!(actor_count(&m, "c", COUNTER), 0, "C runs no actor");
    // B counted every call A made for its actor (over RPC: B runs no HTTP server).
    let route = route_info(port).await;
    assert_eq!(route["remote"], true, "{route}");
    assert_eq!(route["actor_id"], counter.as_str(), "{route}");
    let made = route["stats"]["calls"].as_u64().unwrap();
    assert!(made >= 3, "{route}");
    within(T, "B's rates count the calls A made", async {
        loop {
            let m = rates_of_b.next().await.expect("rates subscription open");
            let sample: RatesSample = serde_json::from_slice(&m.payload).expect("a sample");
            if sample
                .actors
                .iter()
                .any(|a| a.public_key == counter && a.requests == made)
            {
                return;
            }
        }
    })
    .await;
    drop(rates_of_b);
    let increment_from = |host: &str| {
        let host = host.to_string();
        let (counter, kv_key) = (counter.clone(), kv_key.clone());
        move |inv: &Invocation| {
            inv.operation == "KeyValue.Increment"
                && inv.host_id == host
                && inv.origin.public_key == counter
                && inv.target.public_key == kv_key
        }
    };
    seen(
        &wire,
        "B's KeyValue.Increment to C's provider",
        increment_from(&id_b),
    )
    .await;

    // Scale on B: two instances there, the count goes on.
    command(
        &bus,
        &s,
        &id_b,
        CmdVerb::Scale,
        json!({"actor_id": counter, "actor_ref": file, "count": 2}),
    )
    .await;
    wait_snapshot(&url, LATTICE, "two counters on B", |m| {
        actor_count(m, "b", COUNTER) == 2
    });
    assert_eq!(get(port).await, (200, "4".to_string()));

    // kill -9 of B while concurrent GETs run.
    let bound = rpc_timeout() + scaled(SLACK);
    let stop = Arc::new(AtomicBool::new(false));
    let out: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let loaded_at = Instant::now();
    let workers = load(port, bound, &stop, &out);
    outcomes_until(&out, "successes before the kill", |o| {
        successes_after(o, loaded_at) >= ENOUGH
    })
    .await;
    b.kill_hard();
    let killed_at = Instant::now();
    outcomes_until(&out, "a 503 after the kill", |o| {
        o.iter()
            .any(|o| o.started > killed_at && o.status == Some(503))
    })
    .await;

    // Another instance, on C, by auction: only C has zone=c (A could run it too).
    let bids = within(
        T,
        "auction",
        bus.scatter_gather(
            &s.auction_actor(),
            Bytes::from(json!({"actor_ref": file, "constraints": {"zone": "c"}}).to_string()),
            scaled(Duration::from_secs(2)),
        ),
    )
    .await
    .expect("auction");
    let bidders: Vec<String> = bids
        .iter()
        .map(|m| {
            let bid: Value = serde_json::from_slice(&m.payload).expect("a bid is JSON");
            bid["host_id"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(bidders, std::slice::from_ref(&id_c), "only C bids");
    command(
        &bus,
        &s,
        &id_c,
        CmdVerb::LaunchActor,
        json!({"actor_ref": file, "count": 1}),
    )
    .await;
    let relaunched_at = Instant::now();
    outcomes_until(&out, "successes again, served on C", |o| {
        successes_after(o, relaunched_at) >= ENOUGH
    })
    .await;
    stop.store(true, Ordering::Release);
    for w in workers {
        within(bound + scaled(SLACK), "a load loop ends", w)
            .await
            .unwrap();
    }
    let outcomes = out.lock().unwrap().clone();

    // Every request finished in time, as 200 or 503.
    let worst = outcomes.iter().map(|o| o.elapsed).max().unwrap_or_default();
    assert!(worst <= bound, "a request took {worst:?} (bound {bound:?})");
    for o in &outcomes {
        match o.status {
            Some(200) => {}
            Some(503) => assert!(o.body.starts_with("503 Service Unavailable: "), "{o:?}"),
            _ => panic!(
                "{o:?}\nA's log:\n{}\nC's log:\n{}",
                a.log_tail(40),
                c.log_tail(40)
            ),
        }
    }
    let unavailable = outcomes.iter().filter(|o| o.status == Some(503)).count();
    let timed_out = outcomes
        .iter()
        .filter(|o| o.status == Some(503) && o.body.contains("gave no reply"))
        .count();
    let none_there = outcomes
        .iter()
        .filter(|o| o.status == Some(503) && o.body.contains("no instance of actor"))
        .count();
    println!(
        "{} requests under load: {unavailable} answered 503 ({timed_out} after the RPC timeout, {none_there} at once: no instance), slowest {worst:?}",
        outcomes.len(),
    );
    assert!(
        none_there > 0,
        "with B gone and no instance yet, 503s come at once"
    );
    // The count went on: every success a different number past 4, rising in each loop.
    let mut counts: Vec<u64> = Vec::new();
    for w in 0..WORKERS {
        let mine: Vec<u64> = outcomes
            .iter()
            .filter(|o| o.worker == w && o.status == Some(200))
            .map(|o| o.body.parse().unwrap_or_else(|_| panic!("a count: {o:?}")))
            .collect();
        assert!(mine.windows(2).all(|p| p[0] < p[1]), "worker {w}: {mine:?}");
        counts.extend(mine);
    }
    counts.sort_unstable();
    let total = counts.len();
    counts.dedup();
    assert_eq!(counts.len(), total, "no count was given twice");
    assert!(counts.first().is_some_and(|&n| n > 4), "{counts:?}");
    let last = *counts.last().expect("successes");
    let (status, body) = get(port).await;
    assert_eq!(status, 200, "{body}");
    let next: u64 = body.parse().expect("a count");
    assert!(next > last, "the count goes on: {next} after {last}");
    // The instance on C served, through C's provider.
    seen(&wire, "C's KeyValue.Increment", increment_from(&id_c)).await;
    let m = snapshot(&url, LATTICE);
    assert_eq!(actor_count(&m, "c", COUNTER), 1);

    // A counted every call it made; the successes exactly.
    let route = route_info(port).await;
    let calls = route["stats"]["calls"].as_u64().unwrap();
    let errors = route["stats"]["errors"].as_u64().unwrap();
    let ok = u64::try_from(total).unwrap() + 5;
    assert_eq!(calls - errors, ok, "{route}");
    assert!(
        errors >= u64::try_from(unavailable).unwrap(),
        "{route}: {unavailable} answered 503"
    );
}
