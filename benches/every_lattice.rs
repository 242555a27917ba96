//! `--lattice '*'` with 20 lattices × 50 hosts (5 actors each, 1,000 hosts in all). Targets
//! (issue 8): the resync of every lattice ≤ 2 s; a frame ≤ 5 ms.
//!
//! - `resync_all`: scripted hosts answer the control queries on the in-process bus; from the
//!   monitor's start (each lattice announced by one heartbeat) until every lattice's round has
//!   reached the console with all 50 of its hosts. A round waits out the `ping.hosts` window
//!   (the product's 1 s), so this is about one window when the rounds run side by side and 20
//!   windows when they do not.
//! - `frame_after_one_lattice_changed`: what the console does per frame after events in one
//!   lattice: merge that lattice into the shown model, then draw 200×60.
//! - `frame_unchanged`: drawing alone, for comparison.

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use common::fake_lattice::{FakeHost, FakeState};
use criterion::{Criterion, criterion_group, criterion_main};
use lattice_tui::app::{App, ConsoleConfig, Msg};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::monitor::{MonitorConfig, MonitorMsg};
use lattice_tui::lattice::multi;
use lattice_tui::lattice::protocol::{
    EventData, HeartbeatActors, HostHeartbeat, LatticeEvent, LatticeSnapshot,
};
use lattice_tui::lattice::subjects::Subjects;
use lattice_tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const LATTICES: usize = 20;
const HOSTS: usize = 50;
const ACTORS: usize = 5;

fn host_id(l: usize, h: usize) -> String {
    format!("NL{l:02}H{h:03}")
        .chars()
        .chain(std::iter::repeat('A'))
        .take(56)
        .collect()
}

fn state(l: usize, h: usize) -> FakeState {
    let actors: Vec<(String, usize)> = (0..ACTORS).map(|a| (format!("MACTOR{a}"), 2)).collect();
    let refs: Vec<(&str, usize)> = actors.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    FakeState::new(&host_id(l, h), &format!("l{l}-h{h}"), &refs)
}

fn heartbeat(host: &str) -> Bytes {
    let ev = LatticeEvent::new(
        format!("hb-{host}"),
        host,
        Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
        EventData::HostHeartbeat(HostHeartbeat {
            actors: HeartbeatActors::Counts(Default::default()),
            providers: vec![],
            labels: Default::default(),
            friendly_name: String::new(),
            version: None,
            uptime_seconds: Some(1),
            uptime_human: None,
        }),
    );
    Bytes::from(ev.to_json().expect("json"))
}

fn resync_all(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let bus = Bus::local();
    let _hosts: Vec<FakeHost> = rt.block_on(async {
        let mut hosts = Vec::new();
        for l in 0..LATTICES {
            for h in 0..HOSTS {
                hosts.push(FakeHost::start(bus.clone(), &format!("lat{l}"), state(l, h)).await);
            }
        }
        hosts
    });
    let mut g = c.benchmark_group("every_lattice");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("resync_all_20x50", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += one_resync(&bus).await;
                }
                total
            })
        });
    });
    g.finish();
}

/// Monitor start → every lattice's round with all its hosts received.
async fn one_resync(bus: &Bus) -> Duration {
    let (tx, mut rx) = mpsc::channel(4096);
    let cancel = CancellationToken::new();
    let start = Instant::now();
    tokio::spawn(multi::run(
        bus.clone(),
        MonitorConfig::new(Subjects::new("*")),
        tx,
        cancel.clone(),
    ));
    let mut announced = false;
    let mut done = 0;
    while let Some(m) = rx.recv().await {
        match m {
            MonitorMsg::Subscribed if !announced => {
                announced = true;
                for l in 0..LATTICES {
                    let subject = Subjects::new(&format!("lat{l}")).events();
                    let _ = bus.publish(&subject, heartbeat(&host_id(l, 0))).await;
                }
            }
            MonitorMsg::In(_, inner) => {
                if let MonitorMsg::Resynced(snap) = *inner {
                    assert_eq!(snap.hosts.len(), HOSTS, "{:?}", snap.errors);
                    done += 1;
                    if done == LATTICES {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let took = start.elapsed();
    cancel.cancel();
    took
}

/// An App following every lattice, each resynced from a snapshot of its 50 scripted hosts.
fn every_lattice_app() -> App {
    let mut app = App::new(&ConsoleConfig::new("*"), "bench".into());
    for l in 0..LATTICES {
        let mut snap = LatticeSnapshot::default();
        for h in 0..HOSTS {
            let s = state(l, h);
            snap.hosts.push(s.host);
            snap.inventories.push(s.inventory);
        }
        snap.links = Some(Vec::new());
        snap.claims = Some(Vec::new());
        app.update(
            Msg::Monitor(MonitorMsg::In(
                format!("lat{l}"),
                Box::new(MonitorMsg::Resynced(Box::new(snap))),
            )),
            Utc::now(),
        );
    }
    app.settle();
    assert_eq!(app.model.hosts.len(), LATTICES * HOSTS);
    app
}

fn frames(c: &mut Criterion) {
    let mut app = every_lattice_app();
    let mut term = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let now = Utc::now();
    let mut g = c.benchmark_group("every_lattice");
    g.bench_function("frame_unchanged_20x50", |b| {
        b.iter(|| {
            term.draw(|f| ui::render(f, &app.model, &mut app.view, now))
                .expect("draw");
        });
    });
    let mut n = 0u64;
    g.bench_function("frame_after_one_lattice_changed_20x50", |b| {
        b.iter(|| {
            n += 1;
            let ev = LatticeEvent::new(
                format!("bench-{n}"),
                host_id(3, 7),
                now,
                EventData::HostHeartbeat(HostHeartbeat {
                    actors: HeartbeatActors::Counts([("MACTOR0".to_string(), 2 + n % 3)].into()),
                    providers: vec![],
                    labels: Default::default(),
                    friendly_name: "l3-h7".into(),
                    version: None,
                    uptime_seconds: Some(n),
                    uptime_human: None,
                }),
            );
            app.update(
                Msg::Monitor(MonitorMsg::In(
                    "lat3".into(),
                    Box::new(MonitorMsg::Event(std::sync::Arc::new(ev))),
                )),
                now,
            );
            app.settle();
            term.draw(|f| ui::render(f, black_box(&app.model), &mut app.view, now))
                .expect("draw");
        });
    });
    g.finish();
}

criterion_group!(benches, frames, resync_all);
criterion_main!(benches);
