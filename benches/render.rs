//! Cost of one console frame: `ui::render` into a 200×60 `TestBackend` for a lattice of 1,000
//! hosts × 10 actors (2 providers each, 20 links, a full 1,000-entry event log), built by
//! replaying heartbeats through the reducer. Target: ≤ 5 ms per frame. Also the Actors tab
//! with live rates: every host × actor with five minutes of one-second samples.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use lattice_tui::lattice::protocol::{
    ActorEventClaims, ActorStarted, EventData, HeartbeatActors, HeartbeatProvider, HostHeartbeat,
    LatticeEvent, LinkDefinition, StringMap,
};
use lattice_tui::state::{self, Lattice, ModelConfig};
use lattice_tui::ui::{self, Action, Tab, ViewState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const HOSTS: usize = 1_000;
const ACTORS_PER_HOST: usize = 10;
const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

fn key(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:0>6}")
        .chars()
        .chain(std::iter::repeat('A'))
        .take(56)
        .collect()
}

fn lattice() -> Lattice {
    let mut m = Lattice::new("default", ModelConfig::default());
    let mut seq = 0;
    let mut apply = |m: &mut Lattice, source: String, secs: i64, data: EventData| {
        seq += 1;
        let at = t0() + Duration::milliseconds(secs);
        let ev = LatticeEvent::new(format!("ev-{seq}"), source, at, data);
        state::apply(m, &ev, at);
    };
    // Claims (names) for the ten actors, from their start events on the first host.
    for a in 0..ACTORS_PER_HOST {
        apply(
            &mut m,
            key("NHOST", 0),
            a as i64,
            EventData::ActorStarted(ActorStarted {
                public_key: key("MACTOR", a),
                image_ref: Some(format!("registry.example.com/actor-{a}:1.0.0")),
                api_version: None,
                instance_id: format!("i-{a}"),
                annotations: StringMap::new(),
                claims: Some(ActorEventClaims {
                    name: Some(format!("actor-{a}")),
                    revision: Some(1),
                    ..ActorEventClaims::default()
                }),
            }),
        );
    }
    for h in 0..HOSTS {
        let actors: BTreeMap<String, u64> = (0..ACTORS_PER_HOST)
            .map(|a| (key("MACTOR", a), 1 + ((h + a) % 3) as u64))
            .collect();
        let providers = ["VHTTP", "VKV"]
            .iter()
            .map(|p| HeartbeatProvider {
                public_key: key(p, 0),
                link_name: "default".into(),
                contract_id: format!("wasmcloud:{}", p[1..].to_lowercase()),
                instance_id: None,
            })
            .collect();
        apply(
            &mut m,
            key("NHOST", h),
            1_000 + h as i64,
            EventData::HostHeartbeat(HostHeartbeat {
                actors: HeartbeatActors::Counts(actors),
                providers,
                labels: [("zone".to_string(), format!("z{}", h % 4))].into(),
                friendly_name: format!("host-{h:04}"),
                version: Some("0.82.0".into()),
                uptime_seconds: Some(3_600 + h as u64),
                uptime_human: None,
            }),
        );
    }
    for a in 0..ACTORS_PER_HOST {
        for p in ["VHTTP", "VKV"] {
            apply(
                &mut m,
                "n/a".into(),
                10_000,
                EventData::LinkdefSet(LinkDefinition {
                    id: String::new(),
                    actor_id: key("MACTOR", a),
                    provider_id: key(p, 0),
                    link_name: "default".into(),
                    contract_id: format!("wasmcloud:{}", p[1..].to_lowercase()),
                    values: [("PORT".to_string(), (8000 + a).to_string())].into(),
                }),
            );
        }
    }
    m.connection.transport = "nats://127.0.0.1:4222".into();
    m.connection.state = "connected".into();
    m
}

fn frame(c: &mut Criterion) {
    let model = lattice();
    assert_eq!(model.hosts.len(), HOSTS);
    let actor_rows: usize = model.hosts.values().map(|h| h.actors.len()).sum();
    assert_eq!(actor_rows, HOSTS * ACTORS_PER_HOST);
    let now = t0() + Duration::seconds(30);
    let mut group = c.benchmark_group("render_200x60_1000_hosts");
    for (name, tab, filter) in [
        ("hosts", Tab::Hosts, ""),
        ("actors", Tab::Actors, ""),
        ("providers", Tab::Providers, ""),
        ("links", Tab::Links, ""),
        ("events", Tab::Events, ""),
        ("actors_text_filter", Tab::Actors, "host-09"),
    ] {
        let mut view = ViewState::new(false);
        let _ = view.apply(Action::GoTab(tab), &model);
        if !filter.is_empty() {
            let _ = view.apply(Action::StartFilter, &model);
            for ch in filter.chars() {
                let _ = view.apply(Action::FilterInput(ch), &model);
            }
            let _ = view.apply(Action::FilterKeep, &model);
        }
        let mut term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
        // Mid-list selection, so the window is not simply the first page.
        term.draw(|f| ui::render(f, &model, &mut view, now))
            .unwrap();
        for _ in 0..500 {
            let _ = view.apply(Action::Down, &model);
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                term.draw(|f| ui::render(f, black_box(&model), &mut view, now))
                    .unwrap();
            })
        });
    }
    // Sorted by a column (`o` then `O`: NAME descending): every frame sorts the 10,000 rows.
    let mut view = ViewState::new(false);
    let _ = view.apply(Action::GoTab(Tab::Actors), &model);
    let _ = view.apply(Action::SortNext, &model);
    let _ = view.apply(Action::SortReverse, &model);
    let mut term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    term.draw(|f| ui::render(f, &model, &mut view, now))
        .unwrap();
    for _ in 0..500 {
        let _ = view.apply(Action::Down, &model);
    }
    group.bench_function("actors_sorted_name_desc", |b| {
        b.iter(|| {
            term.draw(|f| ui::render(f, black_box(&model), &mut view, now))
                .unwrap();
        })
    });
    group.finish();

    // A key press: the row list is rebuilt to move the selection.
    let mut view = ViewState::new(false);
    let _ = view.apply(Action::GoTab(Tab::Actors), &model);
    c.bench_function("key_down_actors_10000_rows", |b| {
        b.iter(|| view.apply(black_box(Action::Down), &model))
    });
    let _ = view.apply(Action::SortNext, &model);
    c.bench_function("key_down_actors_10000_rows_sorted", |b| {
        b.iter(|| view.apply(black_box(Action::Down), &model))
    });
}

/// The same lattice with rates: every host publishes a sample a second for five minutes, so
/// each of the 10,000 host × actor rows has a full ring.
fn with_rates(mut m: Lattice) -> Lattice {
    use lattice_tui::lattice::protocol::{ActorCounters, RatesSample};
    for s in 0..=300i64 {
        let at = t0() + Duration::seconds(s);
        for h in 0..HOSTS {
            let sample = RatesSample {
                host_id: key("NHOST", h),
                at,
                actors: (0..ACTORS_PER_HOST)
                    .map(|a| ActorCounters {
                        public_key: key("MACTOR", a),
                        requests: (s as u64) * (1 + ((h + a) % 7) as u64) * (1 + (s % 5) as u64),
                        errors: (s as u64) / 10,
                    })
                    .collect(),
            };
            state::apply_rates(&mut m, &sample, at);
        }
    }
    m
}

fn rates_frame(c: &mut Criterion) {
    let model = with_rates(lattice());
    assert_eq!(model.rates.series(), HOSTS * ACTORS_PER_HOST);
    let now = t0() + Duration::seconds(300);
    let mut view = ViewState::new(false);
    let _ = view.apply(Action::GoTab(Tab::Actors), &model);
    let mut term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    term.draw(|f| ui::render(f, &model, &mut view, now))
        .unwrap();
    for _ in 0..500 {
        let _ = view.apply(Action::Down, &model);
    }
    c.bench_function("render_200x60_1000_hosts/actors_with_rates", |b| {
        b.iter(|| {
            term.draw(|f| ui::render(f, black_box(&model), &mut view, now))
                .unwrap();
        })
    });
}

criterion_group!(benches, frame, rates_frame);
criterion_main!(benches);
