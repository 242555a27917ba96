//! Reducer throughput on a realistic mixed stream: heartbeats from 50 hosts with 10 actors
//! each, actors scaling up and down, provider health flapping, links set and deleted, refmaps.
//! Target: ≥ 1,000,000 events/s. Run: `cargo bench --bench reducer`.

use std::hint::black_box;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lattice_tui::lattice::protocol::{
    ActorEventClaims, ActorStarted, ActorStopped, EventData, HealthCheck, HeartbeatActors,
    HeartbeatProvider, HostHeartbeat, LatticeEvent, LinkDefinition, RefmapSet, StringMap,
};
use lattice_tui::state::{Lattice, ModelConfig, apply};

const HOSTS: usize = 50;
const ACTORS: usize = 10;
const EVENTS: usize = 100_000;

/// A 56-character key shaped like an nkey: a prefix letter and 55 base32 characters that
/// differ early, as real keys do.
fn key(prefix: char, i: usize) -> String {
    const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (prefix as u64) << 56;
    let mut k = String::with_capacity(56);
    k.push(prefix);
    for _ in 0..55 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        k.push(B32[(x % 32) as usize] as char);
    }
    k
}

fn stream() -> Vec<Arc<LatticeEvent>> {
    let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let mut out = Vec::with_capacity(EVENTS);
    let mut n = 0usize;
    while out.len() < EVENTS {
        let h = n % HOSTS;
        let host = key('N', h);
        let a = (n / HOSTS) % ACTORS;
        let actor = key('M', a);
        let provider = key('V', h % 5);
        let t = t0 + Duration::milliseconds(n as i64);
        let data = match n % 10 {
            0 | 1 => EventData::HostHeartbeat(HostHeartbeat {
                actors: HeartbeatActors::Counts(
                    (0..ACTORS)
                        .map(|i| (key('M', i), (n % 4 + 1) as u64))
                        .collect(),
                ),
                providers: vec![HeartbeatProvider {
                    public_key: provider.clone(),
                    link_name: "default".into(),
                    contract_id: "wasmcloud:httpserver".into(),
                    instance_id: None,
                }],
                labels: [("hostcore.os".to_string(), "linux".to_string())].into(),
                friendly_name: format!("host-{h}"),
                version: Some("0.63.2".into()),
                uptime_seconds: Some(n as u64),
                uptime_human: None,
            }),
            2..=4 => EventData::ActorStarted(ActorStarted {
                public_key: actor.clone(),
                image_ref: Some(format!("registry.example/a{a}:1")),
                api_version: Some("n/a".into()),
                instance_id: format!("inst-{n}"),
                annotations: StringMap::new(),
                claims: Some(ActorEventClaims {
                    name: Some(format!("actor-{a}")),
                    revision: Some(1),
                    ..ActorEventClaims::default()
                }),
            }),
            5 | 6 => EventData::ActorStopped(ActorStopped {
                public_key: actor.clone(),
                instance_id: format!("inst-{}", n.saturating_sub(3)),
                annotations: StringMap::new(),
            }),
            7 => {
                let hc = HealthCheck {
                    public_key: provider.clone(),
                    contract_id: "wasmcloud:httpserver".into(),
                    link_name: "default".into(),
                };
                if n % 20 == 7 {
                    EventData::HealthCheckFailed(hc)
                } else {
                    EventData::HealthCheckPassed(hc)
                }
            }
            8 => EventData::LinkdefSet(
                LinkDefinition {
                    id: String::new(),
                    actor_id: actor.clone(),
                    provider_id: provider.clone(),
                    link_name: "default".into(),
                    contract_id: "wasmcloud:httpserver".into(),
                    values: [("PORT".to_string(), format!("{}", 8000 + a))].into(),
                }
                .with_id(),
            ),
            _ => EventData::RefmapSet(RefmapSet {
                oci_url: format!("registry.example/a{a}:1"),
                public_key: actor.clone(),
            }),
        };
        let source = if matches!(data, EventData::LinkdefSet(_)) {
            "n/a".to_string()
        } else {
            host
        };
        out.push(Arc::new(LatticeEvent::new(
            format!("{n:08x}-ev"),
            source,
            t,
            data,
        )));
        n += 1;
    }
    out
}

fn reducer(c: &mut Criterion) {
    let events = stream();
    let now = Utc.timestamp_opt(1_700_000_100, 0).unwrap();
    let fresh = Lattice::new("default", ModelConfig::default());
    let mut g = c.benchmark_group("reducer");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(20);
    g.bench_function("mixed_stream_100k", |b| {
        b.iter_batched(
            || fresh.clone(),
            |mut m| {
                for ev in &events {
                    // As the console does: the event arrives shared, the log keeps it.
                    black_box(apply(&mut m, Arc::clone(ev), now));
                }
                m
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, reducer);
criterion_main!(benches);
