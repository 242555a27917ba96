//! Cost of the console's logs: (a) pushing lines into the log ring from two threads — bare
//! `LogRing::push`, and a whole guest-output `tracing` event through `RingLayer` — and (b) one
//! frame of the logs view at 100,000 lines a second: each frame takes the 3,334 lines that
//! arrived in its 1/30 s from the ring into a full 10,000-line view and draws it into a
//! 200×60 `TestBackend`. Targets: the ring keeps up with well over 100,000 lines/s from two
//! writers; a frame ≤ 5 ms.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lattice_tui::logging::ring::{LogRing, RingLayer};
use lattice_tui::state::logs::{DEFAULT_CAPACITY, LogLevel, LogLine, LogStream};
use lattice_tui::state::{Lattice, ModelConfig};
use lattice_tui::ui::{self, Action, ViewState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tracing_subscriber::layer::SubscriberExt as _;

/// Lines per measured batch of the push benches (two writers × half).
const BATCH: u64 = 100_000;
/// Lines arriving per frame at 100,000 lines/s and 30 frames/s.
const PER_FRAME: usize = 3_334;
const ACTORS: usize = 20;

fn actor(n: usize) -> String {
    format!("MACTOR{n:0>6}")
        .chars()
        .chain(std::iter::repeat('A'))
        .take(56)
        .collect()
}

fn guest_line(i: usize, actors: &[String]) -> LogLine {
    LogLine::new(
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
        if i.is_multiple_of(10) {
            LogLevel::Warn
        } else {
            LogLevel::Info
        },
        "guest",
        Some(LogStream::Stdout),
        Some(&actors[i % actors.len()]),
        &format!("echo: GET /items/{i}?page=3 handled in 120us"),
    )
}

/// Runs `per_thread` on two threads, each `BATCH / 2` times, and returns the wall time.
fn two_writers(iters: u64, per_thread: impl Fn(u64) + Sync) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..2 {
                let f = &per_thread;
                s.spawn(move || {
                    for i in 0..BATCH / 2 {
                        f(t * BATCH + i);
                    }
                });
            }
        });
        total += start.elapsed();
    }
    total
}

fn push(c: &mut Criterion) {
    let actors: Vec<String> = (0..ACTORS).map(actor).collect();
    let mut group = c.benchmark_group("log_ring_two_writers");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);

    let ring = LogRing::new(DEFAULT_CAPACITY);
    group.bench_function("push_line", |b| {
        b.iter_custom(|iters| two_writers(iters, |i| ring.push(guest_line(i as usize, &actors))))
    });

    // What a guest's println costs the host: the `tracing` event guest_io emits, through
    // the ring layer (filter and file writer left out: they were paid before the ring).
    let ring = LogRing::new(DEFAULT_CAPACITY);
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(RingLayer::new(Arc::clone(&ring))),
    );
    group.bench_function("tracing_event_through_layer", |b| {
        b.iter_custom(|iters| {
            two_writers(iters, |i| {
                tracing::dispatcher::with_default(&dispatch, || {
                    let actor = actors[i as usize % ACTORS].as_str();
                    let text = format!("echo: GET /items/{i}");
                    tracing::info!(
                        target: "guest",
                        actor,
                        request_id = i,
                        stream = "stdout",
                        truncated = 0usize,
                        "{text}"
                    );
                })
            })
        })
    });
    group.finish();
    eprintln!(
        "(ring dropped {} lines: a full ring overwrites)",
        ring.dropped()
    );
}

fn frame(c: &mut Criterion) {
    let actors: Vec<String> = (0..ACTORS).map(actor).collect();
    let model = Lattice::new("default", ModelConfig::default());
    let ring = LogRing::new(DEFAULT_CAPACITY);
    let mut view = ViewState::new(false);
    let _ = view.apply(Action::OpenLogs, &model);
    // A full view to start with.
    for i in 0..DEFAULT_CAPACITY {
        ring.push(guest_line(i, &actors));
    }
    let mut spare = std::collections::VecDeque::new();
    ring.take(&mut spare);
    view.logs_mut().append(spare.drain(..));
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 1).unwrap();
    let mut next = DEFAULT_CAPACITY;

    let mut group = c.benchmark_group("logs_view_200x60_full_10000_lines");
    for (name, keys) in [
        ("following", ""),
        ("following_wrap_search", "w/items/12\n"),
        ("actor_filter_warn", "l l l"),
    ] {
        let mut v = view.clone();
        for k in keys.chars() {
            let a = match k {
                'w' => Action::Logs(lattice_tui::state::logs::LogsAction::ToggleWrap),
                '/' => Action::Logs(lattice_tui::state::logs::LogsAction::StartSearch),
                '\n' => Action::Logs(lattice_tui::state::logs::LogsAction::SearchKeep),
                'l' => Action::Logs(lattice_tui::state::logs::LogsAction::CycleLevel),
                ' ' => continue,
                c => Action::Logs(lattice_tui::state::logs::LogsAction::SearchInput(c)),
            };
            let _ = v.apply(a, &model);
        }
        if name == "actor_filter_warn" {
            v.open_logs(Some(actors[3].clone()), Some(LogLevel::Warn));
        }
        if name.starts_with("following_wrap") {
            // Searching pauses; follow again so every frame shows the newest lines.
            let _ = v.apply(
                Action::Logs(lattice_tui::state::logs::LogsAction::Newest),
                &model,
            );
        }
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    // The lines of one frame at 100,000 lines/s arrive (not measured).
                    for _ in 0..PER_FRAME {
                        ring.push(guest_line(next, &actors));
                        next += 1;
                    }
                },
                |()| {
                    // What the App does each frame: take from the ring, append, draw.
                    ring.take(&mut spare);
                    v.logs_mut().append(spare.drain(..));
                    term.draw(|f| ui::render(f, black_box(&model), &mut v, now))
                        .unwrap();
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, push, frame);
criterion_main!(benches);
