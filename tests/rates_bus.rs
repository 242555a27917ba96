//! Live rates end to end: a lattice-tui host serving HTTP publishes its actors' cumulative
//! counters on `lattice-tui.rates.{lattice}.{host}`, and a console (monitor → bounded channel
//! → `ingest`, as the App does) turns them into per-actor rates — over the in-process bus
//! (the embedded host's path) and over a real nats-server (a remote host's).
//! `--no-rates` (`HostConfig::rates = false`) publishes nothing on that subject.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::actors::actor_wasm;
use common::{NatsServer, connect_bus, free_port, http_get, within};
use lattice_tui::host::{self, Host, HostConfig};
use lattice_tui::ingest::ingest;
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::monitor::{self, MonitorConfig, MonitorMsg};
use lattice_tui::lattice::protocol::{RatesSample, StringMap};
use lattice_tui::lattice::subjects::Subjects;
use lattice_tui::state::{Lattice, ModelConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LATTICE: &str = "rates";
const STEP: Duration = Duration::from_secs(20);

/// A host running `hello` and `trap`, each served over HTTP on its own port.
async fn host_with_traffic_targets(bus: Bus, rates: bool) -> (Host, [(String, u16); 2]) {
    let mut cfg = HostConfig::new(LATTICE);
    cfg.rates = rates;
    let host = within(STEP, "host start", host::start(bus, cfg))
        .await
        .expect("host starts");
    let mut served = Vec::new();
    for (name, link) in [("hello", "default"), ("trap", "trap")] {
        let path = actor_wasm(name).to_string_lossy().into_owned();
        let id = within(
            STEP,
            "start actor",
            host.start_actor(&path, 1, StringMap::new()),
        )
        .await
        .expect("actor starts");
        let port = free_port();
        within(
            STEP,
            "serve http",
            host.serve_http(&id, &format!("127.0.0.1:{port}"), link),
        )
        .await
        .expect("serves http");
        served.push((id, port));
    }
    let [hello, trap]: [(String, u16); 2] = served.try_into().expect("two actors");
    (host, [hello, trap])
}

async fn requests(port: u16, n: usize, want_status: u16) {
    for _ in 0..n {
        let (status, body) = within(STEP, "http request", http_get(port, "/"))
            .await
            .expect("http answers");
        assert_eq!(status, want_status, "{body}");
    }
}

/// Monitor → channel → reducer, sharing the model.
fn console(bus: Bus) -> (Arc<Mutex<Lattice>>, CancellationToken) {
    let model = Arc::new(Mutex::new(Lattice::new(LATTICE, ModelConfig::default())));
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<MonitorMsg>(1024);
    tokio::spawn(monitor::run(
        bus,
        MonitorConfig::new(Subjects::new(LATTICE)),
        tx,
        cancel.clone(),
    ));
    let m = model.clone();
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let mut model = m.lock().unwrap();
            ingest(&mut model, msg, chrono::Utc::now());
        }
    });
    (model, cancel)
}

async fn wait_for(model: &Mutex<Lattice>, what: &str, pred: impl Fn(&Lattice) -> bool) {
    within(STEP, what, async {
        loop {
            if pred(&model.lock().unwrap()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

async fn rates_reach_the_console(host_bus: Bus, console_bus: Bus) {
    let (model, cancel) = console(console_bus);
    let (host, [(hello, hello_port), (trap, trap_port)]) =
        host_with_traffic_targets(host_bus, true).await;
    let id = host.id();
    // The console has both actors' baselines before any traffic.
    wait_for(&model, "both actors' baselines", |m| {
        m.rates.on_host(&id, &hello).is_some() && m.rates.on_host(&id, &trap).is_some()
    })
    .await;
    requests(hello_port, 5, 200).await;
    requests(trap_port, 3, 500).await;
    // Only the counts of exactly this traffic, with a rate over two samples, satisfy this.
    wait_for(&model, "the host's counters and rates in the model", |m| {
        let (Some(h), Some(t)) = (m.rates.on_host(&id, &hello), m.rates.on_host(&id, &trap)) else {
            return false;
        };
        (h.requests, h.errors, t.requests, t.errors) == (5, 0, 3, 3)
            && h.requests_milli.is_some()
            && t.errors_milli.is_some()
    })
    .await;
    {
        let m = model.lock().unwrap();
        let all = m.rates.lattice_wide(&trap).expect("lattice-wide view");
        assert_eq!(all.hosts, 1);
        assert_eq!(
            all.buckets.iter().map(|b| b.errors).sum::<u64>(),
            3,
            "{all:?}"
        );
        assert_eq!(all.buckets.iter().map(|b| b.requests).sum::<u64>(), 3);
    }
    cancel.cancel();
    host.stop();
    within(STEP, "host stops", host.stopped()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_host_rates_reach_the_console() {
    let bus = Bus::local();
    rates_reach_the_console(bus.clone(), bus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_host_rates_reach_the_console_over_nats() {
    let nats = NatsServer::start();
    let host_bus = connect_bus(&nats.url()).await;
    let console_bus = connect_bus(&nats.url()).await;
    rates_reach_the_console(host_bus, console_bus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_publishes_cumulative_samples_once_a_second_and_none_with_no_rates() {
    let bus = Bus::local();
    let s = Subjects::new(LATTICE);
    let mut sub = bus.subscribe(&s.rates_all()).await.unwrap();
    // A host with rates off first (its publisher, were it on, would send at once)...
    let (quiet, [(_, quiet_port), _]) = host_with_traffic_targets(bus.clone(), false).await;
    requests(quiet_port, 2, 200).await;
    // ...then one with rates on, whose samples measure the time that passes.
    let (host, [(hello, port), _]) = host_with_traffic_targets(bus.clone(), true).await;
    requests(port, 2, 200).await;
    let mut seen = Vec::new();
    let sample = within(STEP, "a sample counting both requests", async {
        loop {
            let msg = sub.next().await.expect("subscription open");
            seen.push(msg.subject.clone());
            let sample = RatesSample::from_json(&msg.payload).expect("a valid sample");
            if sample
                .actors
                .iter()
                .any(|a| a.public_key == hello && a.requests == 2)
            {
                return sample;
            }
        }
    })
    .await;
    assert_eq!(sample.host_id, host.id());
    let next = within(STEP, "the next sample", sub.next()).await.unwrap();
    seen.push(next.subject.clone());
    let next = RatesSample::from_json(&next.payload).unwrap();
    let gap = next.at - sample.at;
    assert!(
        gap >= chrono::Duration::milliseconds(500),
        "samples are about a second apart, got {gap}"
    );
    // Every sample came from the host with rates on, on its own subject.
    assert!(seen.len() >= 2);
    assert!(
        seen.iter().all(|subject| *subject == s.rates(&host.id())),
        "{seen:?} (the host with rates off is {})",
        quiet.id()
    );
    for h in [host, quiet] {
        h.stop();
        within(STEP, "host stops", h.stopped()).await;
    }
}
