//! Control plane: time from sending `cmd.{host}.la` with `count: 100` until all 100
//! `actor_started` events have arrived, on the in-process lattice and over a real nats-server
//! (`nats-server` from PATH or NATS_SERVER_BIN; missing, the benchmark fails), both started with
//! the tests' helpers (`tests/common`). The actor is the example `hello` (built by
//! `scripts/build-actors.sh`). Between iterations the instances are
//! stopped with `cmd.{host}.sa` (not timed).
//!
//! Run: `cargo bench --bench control_plane`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use lattice_tui::host;
use lattice_tui::lattice::bus::{Bus, BusOptions, Subscription};
use lattice_tui::lattice::protocol::{EventData, LatticeEvent};
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use serde_json::json;

#[path = "../tests/common/mod.rs"]
mod common;

const INSTANCES: usize = 100;

async fn count_events(sub: &mut Subscription, n: usize, pred: impl Fn(&EventData) -> bool) {
    let mut seen = 0;
    while seen < n {
        let msg = tokio::time::timeout(Duration::from_secs(30), sub.next())
            .await
            .expect("events keep coming")
            .expect("subscription open");
        if let Ok(ev) = LatticeEvent::from_json(&msg.payload)
            && pred(&ev.data)
        {
            seen += 1;
        }
    }
}

/// One host on `bus`; returns the time of each `la` round.
fn bench_on(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, bus: Bus) {
    let wasm = common::actors::actor_wasm("hello")
        .to_string_lossy()
        .into_owned();
    let s = Subjects::new("bench");
    let (host, mut events) = rt.block_on(async {
        let events = bus.subscribe(&s.events()).await.expect("subscribe");
        let host = host::start(
            bus.clone(),
            common::lattice::config_allowing_test_actors("bench"),
        )
        .await
        .expect("host");
        (host, events)
    });
    let id = host.id();
    let la = s.host_command(&id, CmdVerb::LaunchActor);
    let sa = s.host_command(&id, CmdVerb::StopActor);
    let mut g = c.benchmark_group("control_plane");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function(format!("la_100_instances_{name}"), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let body = json!({"actor_ref": wasm, "count": INSTANCES, "host_id": id});
                    let t = Instant::now();
                    bus.request(&la, Bytes::from(body.to_string()), Duration::from_secs(5))
                        .await
                        .expect("ack");
                    count_events(&mut events, INSTANCES, |d| {
                        matches!(d, EventData::ActorStarted(_))
                    })
                    .await;
                    total += t.elapsed();
                    // Not timed: stop them all for the next round.
                    let pk = host
                        .actor_stats()
                        .first()
                        .map(|a| a.public_key.clone())
                        .expect("running");
                    let body = json!({"actor_ref": pk, "count": 0, "host_id": id});
                    bus.request(&sa, Bytes::from(body.to_string()), Duration::from_secs(5))
                        .await
                        .expect("ack");
                    count_events(&mut events, 1, |d| matches!(d, EventData::ActorsStopped(_)))
                        .await;
                }
                total
            })
        })
    });
    g.finish();
    host.stop();
    rt.block_on(host.stopped());
}

fn control_plane(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    bench_on(c, "in_process", &rt, Bus::local());
    // Panics with install instructions when nats-server is missing.
    let nats = common::NatsServer::start();
    let bus = rt
        .block_on(Bus::connect(BusOptions::new(nats.url())))
        .expect("connect");
    bench_on(c, "nats", &rt, bus);
}

criterion_group!(benches, control_plane);
criterion_main!(benches);
