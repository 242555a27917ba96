//! Regression tests for log floods and buffer sizes (the hardening issue): a flood of
//! undecodable events or of dropped NATS messages logs one line per interval with a count, not
//! one per message; the host's control subscriptions have a buffer sized for control traffic,
//! so a flood is dropped and counted instead of queued by the million.
//!
//! Logs are captured with a thread-local subscriber on a current-thread runtime, so every task
//! of a test (the NATS client's included) logs into that test's buffer.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::lattice::T;
use common::{NatsServer, scaled, within};
use lattice_tui::host::guest_io::{GUEST_LINE_BURST, GUEST_LINES_PER_SEC};
use lattice_tui::host::{self, HostConfig};
use lattice_tui::lattice::bus::{Bus, BusOptions};
use lattice_tui::lattice::monitor::{self, MonitorConfig, MonitorMsg};
use lattice_tui::lattice::subjects::Subjects;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A log sink the test can read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines_with(&self, what: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer"))
            .lines()
            .filter(|l| l.contains(what))
            .map(str::to_string)
            .collect()
    }

    fn install(&self) -> tracing::subscriber::DefaultGuard {
        self.install_at(tracing::Level::WARN)
    }

    fn install_at(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
        // tracing caches each callsite's interest once, process-wide: a sibling test's thread
        // (no subscriber) that logs a callsite first would cache `never` for it, and this
        // test's lines would be dropped (tokio-rs/tracing#3611). A do-nothing global
        // subscriber next to the scoped one makes every registration consult both.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_undecodable_events_logs_one_line_per_interval() {
    let logs = Captured::default();
    let _guard = logs.install();
    let bus = Bus::local();
    let s = Subjects::new("garbage");
    let (tx, mut rx) = mpsc::channel(1 << 16);
    let cancel = CancellationToken::new();
    let monitor = tokio::spawn(monitor::run(
        bus.clone(),
        MonitorConfig::new(s.clone()),
        tx,
        cancel.clone(),
    ));
    within(T, "subscribed", async {
        while !matches!(rx.recv().await, Some(MonitorMsg::Subscribed)) {}
    })
    .await;
    const N: usize = 10_000;
    for i in 0..N {
        bus.publish(&s.events(), Bytes::from(format!("not json {i}")))
            .await
            .expect("publish");
    }
    let mut malformed = 0;
    within(T, "every undecodable message reported", async {
        while malformed < N {
            if let Some(MonitorMsg::Malformed(_)) = rx.recv().await {
                malformed += 1;
            }
        }
    })
    .await;
    cancel.cancel();
    let _ = monitor.await;
    let warned = logs.lines_with("undecodable message on the event subject");
    assert!(
        !warned.is_empty() && warned.len() <= 2,
        "{} warnings for {N} undecodable messages",
        warned.len()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_dropped_nats_messages_logs_one_line_per_interval() {
    let logs = Captured::default();
    let _guard = logs.install();
    let nats = NatsServer::start();
    let mut opts = BusOptions::new(nats.url());
    opts.subscription_capacity = 8;
    let slow = Bus::connect(opts).await.expect("connect");
    let publisher = common::connect_bus(&nats.url()).await;
    let _never_read = slow.subscribe("flood").await.expect("subscribe");
    slow.flush().await.expect("flush");
    let mut status = slow.status();
    const N: usize = 20_000;
    for _ in 0..N {
        publisher
            .publish("flood", Bytes::from_static(b"x"))
            .await
            .expect("publish");
    }
    publisher.flush().await.expect("flush");
    within(T, "the drops counted", async {
        // async-nats reports drops through a small event queue of its own, so fewer drops
        // are reported than happen; a hundred is plenty for the point.
        while status.borrow_and_update().dropped < 100 {
            let _ = status.changed().await;
        }
    })
    .await;
    let warned = logs.lines_with("slow consumer");
    assert!(
        !warned.is_empty() && warned.len() <= 2,
        "{} slow-consumer warnings for {} dropped messages",
        warned.len(),
        status.borrow().dropped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_flood_is_dropped_not_buffered_by_the_million() {
    let bus = Bus::local();
    let s = Subjects::new("flood");
    let handle = Arc::new(
        host::spawn(bus.clone(), HostConfig::new("flood"), 1)
            .await
            .expect("host"),
    );
    // Hold the host's only worker, so nothing is consumed while the flood arrives.
    let (blocked_tx, blocked_rx) = tokio::sync::oneshot::channel();
    let hold = scaled(Duration::from_millis(500));
    let blocker = {
        let handle = handle.clone();
        tokio::spawn(async move {
            handle
                .run(move |_| async move {
                    let _ = blocked_tx.send(());
                    std::thread::sleep(hold);
                })
                .await
        })
    };
    within(T, "the host worker held", blocked_rx)
        .await
        .expect("held");
    const N: u64 = 20_000;
    for _ in 0..N {
        bus.publish(&s.registries_put(), Bytes::from_static(b"{}"))
            .await
            .expect("publish");
    }
    let dropped = bus.status().borrow().dropped;
    assert!(
        dropped >= N - u64::try_from(host::HOST_SUBSCRIPTION_CAPACITY).expect("fits") - 100,
        "{dropped} of {N} control messages dropped: the control subscription buffers far more than {}",
        host::HOST_SUBSCRIPTION_CAPACITY
    );
    blocker.await.expect("join").expect("run");
    // And the host is fine afterwards.
    let pings = bus
        .scatter_gather(
            &s.ping_hosts(),
            Bytes::new(),
            scaled(Duration::from_secs(1)),
        )
        .await
        .expect("ping");
    assert_eq!(pings.len(), 1);
    let handle = Arc::try_unwrap(handle).unwrap_or_else(|_| panic!("one handle left"));
    within(Duration::from_secs(30), "host stop", handle.shutdown()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_guest_printing_on_every_request_cannot_flood_the_log() {
    let logs = Captured::default();
    let _guard = logs.install_at(tracing::Level::INFO);
    let h = host::start(Bus::local(), HostConfig::new("chatty"))
        .await
        .expect("host");
    let echo = common::actors::actor_wasm("echo");
    let pk = h
        .start_actor(&echo.to_string_lossy(), 1, Default::default())
        .await
        .expect("start");
    let port = common::free_port();
    h.serve_http(&pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .expect("serve");
    let started = std::time::Instant::now();
    const N: u32 = 6_000;
    for i in 0..N {
        let (status, _) = common::http_get(port, &format!("/r{i}"))
            .await
            .expect("GET");
        assert_eq!(status, 200);
    }
    let secs = started.elapsed().as_secs_f64();
    let printed = logs.lines_with("echo: GET /r").len();
    let allowed = f64::from(GUEST_LINE_BURST) + f64::from(GUEST_LINES_PER_SEC) * (secs + 1.0);
    assert!(
        (printed as f64) <= allowed,
        "{printed} guest lines logged for {N} requests in {secs:.1} s (budget {allowed:.0})"
    );
    assert!(
        printed >= usize::try_from(GUEST_LINE_BURST).expect("fits"),
        "{printed}"
    );
    assert!(
        !logs.lines_with("lines a second: lines dropped").is_empty(),
        "the drop is reported"
    );
    h.stop();
    within(T, "host stop", h.stopped()).await;
}
