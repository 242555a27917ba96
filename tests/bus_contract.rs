//! Bus contract: the same cases run against the in-process bus and a real NATS server, plus
//! backend-specific tests (local overflow policy; NATS connect failure and reconnect).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use common::{NatsServer, connect_bus, free_port, scaled, within};
use lattice_tui::lattice::bus::{
    Bus, BusError, BusOptions, BusStatus, ConnectionState, Subscription, Transport,
};
use tokio::task::JoinHandle;

/// Generous bound for a single step that should take milliseconds.
const STEP: Duration = Duration::from_secs(5);

/// Generates `local_backend::<case>` and `nats_backend::<case>` tests for every case.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod local_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(lattice_tui::lattice::bus::Bus::local()).await;
                }
            )*
        }
        mod nats_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let server = crate::common::NatsServer::start();
                    let bus = crate::common::connect_bus(&server.url()).await;
                    super::$case(bus).await;
                    drop(server);
                }
            )*
        }
    };
}

contract!(
    case_transport_and_status,
    case_pubsub_exact,
    case_star_wildcard,
    case_gt_wildcard,
    case_queue_group,
    case_request_reply_first,
    case_request_no_responders,
    case_request_timeout,
    case_scatter_gather_three,
    case_scatter_gather_none,
    case_manual_inbox_sees_no_status_messages,
    case_unsubscribe_on_drop,
    case_ordering,
    case_payload_bytes,
    case_invalid_subjects,
);

// ---------------------------------------------------------------------------------------
// helpers

async fn sub(bus: &Bus, subject: &str) -> Subscription {
    within(STEP, "subscribe", bus.subscribe(subject))
        .await
        .expect("subscribe")
}

async fn publish(bus: &Bus, subject: &str, payload: impl Into<Bytes>) {
    within(STEP, "publish", bus.publish(subject, payload.into()))
        .await
        .expect("publish");
}

async fn flush(bus: &Bus) {
    within(STEP, "flush", bus.flush()).await.expect("flush");
}

async fn recv(sub: &mut Subscription) -> lattice_tui::lattice::bus::Message {
    within(STEP, "receive", sub.next())
        .await
        .expect("subscription closed")
}

/// Receives subjects until one equals `sentinel`; returns the subjects before it.
async fn subjects_until(sub: &mut Subscription, sentinel: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let msg = recv(sub).await;
        if msg.subject == sentinel {
            return seen;
        }
        seen.push(msg.subject);
    }
}

/// Asserts that nothing arrives on `sub` for a short while.
async fn assert_quiet(sub: &mut Subscription) {
    let extra = tokio::time::timeout(scaled(Duration::from_millis(200)), sub.next()).await;
    if let Ok(Some(msg)) = extra {
        panic!("unexpected message on {}", msg.subject);
    }
}

/// Subscribes to `subject` and answers every request with `answer` after `delay`.
async fn responder(bus: &Bus, subject: &str, delay: Duration, answer: &str) -> JoinHandle<()> {
    let mut s = sub(bus, subject).await;
    let bus = bus.clone();
    let answer = Bytes::copy_from_slice(answer.as_bytes());
    tokio::spawn(async move {
        while let Some(msg) = s.next().await {
            tokio::time::sleep(delay).await;
            let mut reply = answer.to_vec();
            reply.extend_from_slice(&msg.payload);
            if let Some(to) = msg.reply {
                bus.publish(&to, reply.into()).await.expect("reply");
            }
        }
    })
}

async fn wait_status(
    rx: &mut tokio::sync::watch::Receiver<BusStatus>,
    limit: Duration,
    what: &str,
    pred: impl FnMut(&BusStatus) -> bool,
) -> BusStatus {
    *within(limit, what, rx.wait_for(pred))
        .await
        .expect("status sender dropped")
}

// ---------------------------------------------------------------------------------------
// contract cases

async fn case_transport_and_status(bus: Bus) {
    let status = *bus.status().borrow();
    assert_eq!(status.state, ConnectionState::Connected);
    assert_eq!(status.dropped, 0);
    assert_eq!(status.reconnects, 0);
    match bus.transport() {
        Transport::InProcess => {
            assert_eq!(bus.transport().to_string(), "in-process");
            assert!(bus.nats_client().is_none());
        }
        Transport::Nats { url } => {
            assert!(url.starts_with("nats://127.0.0.1:"), "{url}");
            assert_eq!(bus.transport().to_string(), url);
            assert!(bus.nats_client().is_some());
        }
    }
    let a = bus.new_inbox();
    let b = bus.new_inbox();
    assert!(a.starts_with("_INBOX."), "{a}");
    assert_ne!(a, b);
}

async fn case_pubsub_exact(bus: Bus) {
    let mut exact = sub(&bus, "demo.exact").await;
    let mut other = sub(&bus, "demo.other").await;
    publish(&bus, "demo.exact.more", "no").await;
    publish(&bus, "demo", "no").await;
    publish(&bus, "demo.exact", "hi").await;
    publish(&bus, "demo.other", "end").await;

    let msg = recv(&mut exact).await;
    assert_eq!(msg.subject, "demo.exact");
    assert_eq!(msg.reply, None);
    assert_eq!(&msg.payload[..], b"hi");
    // "demo.other" was published after everything else: once it arrives, the others have too.
    assert_eq!(recv(&mut other).await.payload, Bytes::from_static(b"end"));
    assert_quiet(&mut exact).await;

    within(
        STEP,
        "publish_with_reply",
        bus.publish_with_reply("demo.exact", "demo.answer", Bytes::from_static(b"q")),
    )
    .await
    .expect("publish_with_reply");
    let msg = recv(&mut exact).await;
    assert_eq!(msg.reply.as_deref(), Some("demo.answer"));
}

async fn case_star_wildcard(bus: Bus) {
    let mut s = sub(&bus, "w.*.end").await;
    for subject in [
        "w.a.end",
        "w.a.b.end",
        "w.end",
        "w.b.end",
        "x.a.end",
        "w.c.end.x",
    ] {
        publish(&bus, subject, "").await;
    }
    publish(&bus, "w.sentinel.end", "").await;
    assert_eq!(
        subjects_until(&mut s, "w.sentinel.end").await,
        ["w.a.end", "w.b.end"]
    );
}

async fn case_gt_wildcard(bus: Bus) {
    let mut s = sub(&bus, "g.>").await;
    for subject in ["g", "g.a", "h.a", "g.a.b.c", "gg.a"] {
        publish(&bus, subject, "").await;
    }
    publish(&bus, "g.sentinel", "").await;
    assert_eq!(
        subjects_until(&mut s, "g.sentinel").await,
        ["g.a", "g.a.b.c"]
    );

    let mut all = sub(&bus, ">").await;
    publish(&bus, "anything.at.all", "").await;
    assert_eq!(recv(&mut all).await.subject, "anything.at.all");
}

async fn case_queue_group(bus: Bus) {
    const N: u32 = 100;
    let mut q1 = within(
        STEP,
        "queue_subscribe",
        bus.queue_subscribe("q.work", "workers"),
    )
    .await
    .expect("queue_subscribe");
    let mut q2 = within(
        STEP,
        "queue_subscribe",
        bus.queue_subscribe("q.work", "workers"),
    )
    .await
    .expect("queue_subscribe");
    let mut plain = sub(&bus, "q.work").await;
    for i in 0..N {
        publish(&bus, "q.work", i.to_string()).await;
    }
    flush(&bus).await;

    let mut plain_seen = Vec::new();
    for _ in 0..N {
        plain_seen.push(String::from_utf8(recv(&mut plain).await.payload.to_vec()).expect("utf8"));
    }
    let expected: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(
        plain_seen, expected,
        "plain subscriber gets every message in order"
    );

    let mut by_member = [0u32; 2];
    let mut seen = BTreeSet::new();
    let mut total = 0;
    while total < N {
        let (member, msg) = within(STEP, "queue member receive", async {
            tokio::select! {
                m = q1.next() => (0, m),
                m = q2.next() => (1, m),
            }
        })
        .await;
        let msg = msg.expect("queue subscription closed");
        by_member[member] += 1;
        total += 1;
        let payload = String::from_utf8(msg.payload.to_vec()).expect("utf8");
        assert!(
            seen.insert(payload.clone()),
            "message {payload} delivered twice"
        );
    }
    assert_eq!(seen.len(), N as usize);
    assert!(
        by_member[0] > 0 && by_member[1] > 0,
        "load spread: {by_member:?}"
    );
    assert_quiet(&mut q1).await;
    assert_quiet(&mut q2).await;
}

async fn case_request_reply_first(bus: Bus) {
    let fast = responder(&bus, "svc.echo", Duration::ZERO, "fast:").await;
    let slow = responder(
        &bus,
        "svc.echo",
        scaled(Duration::from_millis(300)),
        "slow:",
    )
    .await;
    let reply = within(
        STEP,
        "request",
        bus.request("svc.echo", Bytes::from_static(b"ping"), scaled(STEP)),
    )
    .await
    .expect("request");
    assert_eq!(&reply.payload[..], b"fast:ping");
    assert!(reply.subject.starts_with("_INBOX."), "{}", reply.subject);
    fast.abort();
    slow.abort();
}

async fn case_request_no_responders(bus: Bus) {
    let started = tokio::time::Instant::now();
    let timeout = scaled(STEP);
    let err = within(
        STEP * 2,
        "request",
        bus.request("nobody.home", Bytes::from_static(b"?"), timeout),
    )
    .await
    .expect_err("nobody is subscribed");
    assert_eq!(
        err,
        BusError::NoResponders {
            subject: "nobody.home".into()
        }
    );
    assert_eq!(err.to_string(), "no responders on nobody.home");
    assert!(
        started.elapsed() < timeout / 2,
        "no-responders must not wait for the timeout"
    );
}

async fn case_request_timeout(bus: Bus) {
    let mut silent = sub(&bus, "svc.silent").await;
    let timeout = scaled(Duration::from_millis(300));
    let started = tokio::time::Instant::now();
    let err = within(
        STEP,
        "request",
        bus.request("svc.silent", Bytes::from_static(b"?"), timeout),
    )
    .await
    .expect_err("nobody answers");
    assert_eq!(
        err,
        BusError::Timeout {
            subject: "svc.silent".into(),
            after: timeout
        }
    );
    assert!(started.elapsed() >= timeout);
    // The request did reach the silent subscriber.
    let msg = recv(&mut silent).await;
    assert!(msg.reply.is_some());
}

async fn case_scatter_gather_three(bus: Bus) {
    let mut tasks = Vec::new();
    for name in ["r0:", "r1:", "r2:"] {
        tasks.push(responder(&bus, "svc.census", Duration::ZERO, name).await);
    }
    let timeout = scaled(Duration::from_millis(500));
    let started = tokio::time::Instant::now();
    let replies = within(
        STEP,
        "scatter_gather",
        bus.scatter_gather("svc.census", Bytes::from_static(b"x"), timeout),
    )
    .await
    .expect("scatter_gather");
    assert!(started.elapsed() >= timeout, "collects until the timeout");
    let got: BTreeSet<Vec<u8>> = replies.iter().map(|m| m.payload.to_vec()).collect();
    assert_eq!(replies.len(), 3, "{got:?}");
    let expected: BTreeSet<Vec<u8>> = [b"r0:x", b"r1:x", b"r2:x"]
        .iter()
        .map(|p| p.to_vec())
        .collect();
    assert_eq!(got, expected);
    for t in tasks {
        t.abort();
    }
}

async fn case_scatter_gather_none(bus: Bus) {
    let timeout = scaled(STEP);
    let started = tokio::time::Instant::now();
    let replies = within(
        STEP * 2,
        "scatter_gather",
        bus.scatter_gather("svc.empty", Bytes::new(), timeout),
    )
    .await
    .expect("scatter_gather");
    assert!(replies.is_empty(), "{replies:?}");
    assert!(
        started.elapsed() < timeout / 2,
        "with nobody subscribed it returns without waiting for the timeout"
    );
}

async fn case_manual_inbox_sees_no_status_messages(bus: Bus) {
    let inbox = bus.new_inbox();
    let mut replies = sub(&bus, &inbox).await;
    within(
        STEP,
        "publish_with_reply",
        bus.publish_with_reply("nobody.listens", &inbox, Bytes::from_static(b"?")),
    )
    .await
    .expect("publish_with_reply");
    flush(&bus).await;
    publish(&bus, &inbox, "sentinel").await;
    let msg = recv(&mut replies).await;
    assert_eq!(&msg.payload[..], b"sentinel", "got {msg:?}");
}

async fn case_unsubscribe_on_drop(bus: Bus) {
    let mut s = sub(&bus, "drop.me").await;
    let mut watcher = sub(&bus, "drop.*").await;
    publish(&bus, "drop.me", "1").await;
    assert_eq!(recv(&mut s).await.payload, Bytes::from_static(b"1"));
    assert_eq!(recv(&mut watcher).await.payload, Bytes::from_static(b"1"));
    drop(watcher);
    drop(s);
    flush(&bus).await;
    let err = within(
        STEP,
        "request",
        bus.request("drop.me", Bytes::new(), scaled(STEP)),
    )
    .await
    .expect_err("both subscriptions are gone");
    assert!(matches!(err, BusError::NoResponders { .. }), "{err:?}");

    let q = within(STEP, "queue_subscribe", bus.queue_subscribe("drop.q", "g"))
        .await
        .expect("queue_subscribe");
    drop(q);
    flush(&bus).await;
    let err = within(
        STEP,
        "request",
        bus.request("drop.q", Bytes::new(), scaled(STEP)),
    )
    .await
    .expect_err("queue member is gone");
    assert!(matches!(err, BusError::NoResponders { .. }), "{err:?}");
}

async fn case_ordering(bus: Bus) {
    const N: u32 = 1_000;
    let mut s = sub(&bus, "order.test").await;
    for i in 0..N {
        publish(&bus, "order.test", Bytes::copy_from_slice(&i.to_be_bytes())).await;
    }
    for i in 0..N {
        let msg = recv(&mut s).await;
        let got = u32::from_be_bytes(msg.payload[..].try_into().expect("4 bytes"));
        assert_eq!(got, i, "message order");
    }
}

async fn case_payload_bytes(bus: Bus) {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..512 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let payloads = [Vec::new(), all_bytes, big];
    let mut s = sub(&bus, "bytes.test").await;
    for p in &payloads {
        publish(&bus, "bytes.test", p.clone()).await;
    }
    for p in &payloads {
        let msg = recv(&mut s).await;
        assert_eq!(msg.payload.len(), p.len());
        assert!(
            msg.payload[..] == p[..],
            "payload of {} bytes altered",
            p.len()
        );
    }
}

async fn case_invalid_subjects(bus: Bus) {
    fn invalid<T: std::fmt::Debug>(r: Result<T, BusError>, what: &str) {
        match r {
            Err(BusError::InvalidSubject(_)) => {}
            other => panic!("{what}: expected InvalidSubject, got {other:?}"),
        }
    }
    for subject in ["", "a..b", ".a", "a.", "a.*", "a.>", "a b"] {
        invalid(bus.publish(subject, Bytes::new()).await, subject);
        invalid(
            bus.request(subject, Bytes::new(), Duration::from_millis(10))
                .await,
            subject,
        );
        invalid(
            bus.scatter_gather(subject, Bytes::new(), Duration::from_millis(10))
                .await,
            subject,
        );
    }
    invalid(
        bus.publish_with_reply("ok.subject", "reply.*", Bytes::new())
            .await,
        "wildcard reply",
    );
    for subject in ["", "a..b", "a.>.b", ">.a", "a\tb"] {
        invalid(bus.subscribe(subject).await, subject);
    }
    invalid(bus.queue_subscribe("ok.subject", "").await, "empty queue");
    invalid(
        bus.queue_subscribe("ok.subject", "a b").await,
        "queue with space",
    );
    // The bus still works afterwards.
    let mut s = sub(&bus, "ok.subject").await;
    publish(&bus, "ok.subject", "fine").await;
    assert_eq!(recv(&mut s).await.payload, Bytes::from_static(b"fine"));
}

// ---------------------------------------------------------------------------------------
// in-process only: overflow policy

#[tokio::test]
async fn local_slow_subscriber_drops_are_counted_exactly() {
    let bus = Bus::local_with_capacity(8);
    let mut status = bus.status();
    let mut s = sub(&bus, "burst").await;
    within(
        Duration::from_secs(2),
        "publish burst never blocks",
        async {
            for i in 0..1_000u32 {
                bus.publish("burst", Bytes::copy_from_slice(&i.to_be_bytes()))
                    .await
                    .expect("publish");
            }
        },
    )
    .await;
    let mut received = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(50), s.next()).await {
        received.push(u32::from_be_bytes(
            msg.payload[..].try_into().expect("4 bytes"),
        ));
    }
    assert_eq!(
        received,
        (0..8).collect::<Vec<_>>(),
        "the first 8 fit the queue"
    );
    assert_eq!(s.dropped(), 992);
    assert_eq!(received.len() as u64 + s.dropped(), 1_000);
    let st = wait_status(&mut status, STEP, "status.dropped", |st| st.dropped > 0).await;
    assert_eq!(st.dropped, 992);
    assert_eq!(st.state, ConnectionState::Connected);

    // The queue drained, so delivery resumes.
    publish(&bus, "burst", "again").await;
    assert_eq!(recv(&mut s).await.payload, Bytes::from_static(b"again"));
    assert_eq!(s.dropped(), 992);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_concurrent_slow_consumer_loses_only_what_it_counts() {
    let bus = Bus::local_with_capacity(8);
    let mut s = sub(&bus, "burst").await;
    let idle = sub(&bus, "burst").await; // a second subscriber that never reads
    let consumer = tokio::spawn(async move {
        let mut got = 0u64;
        while let Ok(Some(_)) =
            tokio::time::timeout(scaled(Duration::from_millis(300)), s.next()).await
        {
            got += 1;
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        (got, s.dropped())
    });
    within(
        Duration::from_secs(2),
        "publish burst never blocks",
        async {
            for i in 0..1_000u32 {
                bus.publish("burst", Bytes::copy_from_slice(&i.to_be_bytes()))
                    .await
                    .expect("publish");
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        },
    )
    .await;
    let (got, dropped) = within(STEP, "consumer", consumer).await.expect("join");
    assert!(
        dropped > 0,
        "a slow subscriber with room for 8 must lose some of 1,000"
    );
    assert_eq!(got + dropped, 1_000);
    assert_eq!(
        idle.dropped(),
        992,
        "`idle` kept its first 8 and dropped the rest"
    );
    assert_eq!(bus.status().borrow().dropped, dropped + 992);
}

#[tokio::test]
async fn local_queue_group_tries_next_member_before_dropping() {
    let bus = Bus::local_with_capacity(8);
    let mut a = bus
        .queue_subscribe("jobs", "w")
        .await
        .expect("queue_subscribe");
    let mut b = bus
        .queue_subscribe("jobs", "w")
        .await
        .expect("queue_subscribe");
    for i in 0..100u32 {
        publish(&bus, "jobs", i.to_string()).await;
    }
    let mut got = 0u64;
    for s in [&mut a, &mut b] {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), s.next()).await {
            got += 1;
        }
    }
    assert_eq!(got, 16, "both queues filled before anything was dropped");
    assert_eq!(a.dropped() + b.dropped(), 84);
    assert_eq!(bus.status().borrow().dropped, 84);
}

#[tokio::test]
async fn local_dropped_subscription_costs_nothing() {
    let bus = Bus::local_with_capacity(1);
    let s = sub(&bus, "gone").await;
    drop(s);
    for _ in 0..10 {
        publish(&bus, "gone", "x").await;
    }
    assert_eq!(
        bus.status().borrow().dropped,
        0,
        "no drops counted for a removed subscriber"
    );
    let err = bus
        .request("gone", Bytes::new(), Duration::from_secs(1))
        .await
        .expect_err("no subscriber");
    assert!(matches!(err, BusError::NoResponders { .. }));
}

// ---------------------------------------------------------------------------------------
// NATS only: connection handling

#[tokio::test]
async fn nats_connect_to_closed_port_fails_fast() {
    let url = format!("nats://127.0.0.1:{}", free_port());
    let started = std::time::Instant::now();
    let result = within(
        Duration::from_secs(10),
        "connect",
        Bus::connect(BusOptions::new(&url)),
    )
    .await;
    let err = result.expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    match &err {
        BusError::Connect { url: u, .. } => assert_eq!(u, &url),
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("connect to {url} failed: ")),
        "{err}"
    );
}

#[tokio::test]
async fn nats_bad_credentials_options_are_rejected() {
    let mut opts = BusOptions::new("nats://127.0.0.1:1");
    opts.jwt = Some("eyJ0eXAiOiJKV1QifQ.e30.x".into());
    let err = Bus::connect(opts).await.expect_err("jwt without seed");
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");

    let mut opts = BusOptions::new("nats://127.0.0.1:1");
    opts.nkey_seed = Some("not-a-seed".into());
    let err = Bus::connect(opts).await.expect_err("bad seed");
    assert!(err.to_string().contains("invalid nkey seed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_retry_initial_connect_waits_for_server() {
    let port = free_port();
    let mut opts = BusOptions::new(format!("nats://127.0.0.1:{port}"));
    opts.retry_initial_connect = true;
    let bus = within(STEP, "connect with retry", Bus::connect(opts))
        .await
        .expect("returns at once");
    let mut status = bus.status();
    assert_eq!(status.borrow().state, ConnectionState::Connecting);

    let _server = NatsServer::start_on(port);
    let st = wait_status(&mut status, Duration::from_secs(20), "first connect", |s| {
        s.state == ConnectionState::Connected
    })
    .await;
    assert_eq!(st.reconnects, 0, "the first connect is not a reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_reconnects_and_keeps_subscriptions() {
    let mut server = NatsServer::start();
    let bus = connect_bus(&server.url()).await;
    let mut status = bus.status();
    assert_eq!(status.borrow().state, ConnectionState::Connected);
    let mut s = sub(&bus, "survive.outage").await;
    publish(&bus, "survive.outage", "before").await;
    assert_eq!(recv(&mut s).await.payload, Bytes::from_static(b"before"));

    server.kill();
    wait_status(
        &mut status,
        Duration::from_secs(10),
        "disconnect noticed",
        |s| s.state == ConnectionState::Reconnecting,
    )
    .await;

    server.restart();
    let st = wait_status(&mut status, Duration::from_secs(20), "reconnected", |s| {
        s.state == ConnectionState::Connected
    })
    .await;
    assert_eq!(st.reconnects, 1);

    publish(&bus, "survive.outage", "after").await;
    flush(&bus).await;
    assert_eq!(recv(&mut s).await.payload, Bytes::from_static(b"after"));
}
