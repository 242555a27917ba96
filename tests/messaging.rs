//! `builtin:messaging`: a link's `SUBSCRIPTION` delivers messages to an actor-era
//! `MessageSubscriber` (`assets/actors-era/era-subscriber`, built with `wasmbus-rpc` 0.15 and
//! `wasmcloud-interface-messaging` 0.11), which answers through `Messaging.Publish`; on the
//! in-process lattice and across two hosts on NATS, where each message is delivered once.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::era::{config_with_cluster, put_link, signed_file, start_builtin};
use common::lattice::T;
use common::{NatsServer, connect_bus, scaled, within};
use lattice_tui::host;
use lattice_tui::host::providers::MESSAGING;
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::protocol::StringMap;
use nkeys::KeyPair;

async fn link(h: &host::Host, actor: &str, subscription: &str) {
    let values = [("SUBSCRIPTION".to_string(), subscription.to_string())].into();
    put_link(
        h,
        actor,
        &MESSAGING.public_key(),
        MESSAGING.contract,
        values,
    )
    .await;
}

/// Requests on `subject` until the subscriber answers (the link reaches the host through the
/// lattice data).
async fn ask_until_answered(bus: &Bus, subject: &str, body: &'static [u8]) -> Bytes {
    within(T, &format!("an answer on {subject}"), async {
        loop {
            if let Ok(m) = bus
                .request(
                    subject,
                    Bytes::from_static(body),
                    Duration::from_millis(300),
                )
                .await
            {
                return m.payload;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_link_delivers_messages_to_an_era_subscriber_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let (file, pk) = signed_file(dir.path(), "era-subscriber", &[MESSAGING.contract], None);
    let bus = Bus::local();
    let h = host::start(
        bus.clone(),
        config_with_cluster(&KeyPair::new_cluster().seed().unwrap()),
    )
    .await
    .unwrap();
    h.start_actor(&file.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap();
    start_builtin(&bus, &h.id(), MESSAGING.reference).await;
    link(&h, &pk, "demo.upper, demo.other").await;
    assert_eq!(
        &ask_until_answered(&bus, "demo.upper", b"hello").await[..],
        b"HELLO"
    );
    assert_eq!(
        &ask_until_answered(&bus, "demo.other", b"x y").await[..],
        b"X Y"
    );
    // A subject outside the subscription: nobody answers.
    assert!(
        bus.request("demo.elsewhere", Bytes::new(), Duration::from_millis(200))
            .await
            .is_err()
    );
    h.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_running_builtin_messaging_deliver_each_message_once() {
    let nats = NatsServer::start();
    let seed = KeyPair::new_cluster().seed().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (file, pk) = signed_file(dir.path(), "era-subscriber", &[MESSAGING.contract], None);
    let control = connect_bus(&nats.url()).await;
    let a = host::start(connect_bus(&nats.url()).await, config_with_cluster(&seed))
        .await
        .unwrap();
    let b = host::start(connect_bus(&nats.url()).await, config_with_cluster(&seed))
        .await
        .unwrap();
    // The actor runs on A only; both hosts run the provider.
    a.start_actor(&file.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap();
    start_builtin(&control, &a.id(), MESSAGING.reference).await;
    start_builtin(&control, &b.id(), MESSAGING.reference).await;
    link(&a, &pk, "demo.once").await;
    ask_until_answered(&control, "demo.once", b"warm").await;

    let inbox = control.new_inbox();
    let mut replies = control.subscribe(&inbox).await.unwrap();
    control.flush().await.unwrap();
    for i in 0..10u8 {
        control
            .publish_with_reply("demo.once", &inbox, Bytes::from(vec![b'a' + i]))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 10 {
        let m = within(T, "ten answers", replies.next())
            .await
            .expect("open");
        got.push(m.payload[0]);
    }
    got.sort_unstable();
    assert_eq!(got, (0..10u8).map(|i| b'A' + i).collect::<Vec<_>>());
    // None twice: nothing more arrives.
    let extra = tokio::time::timeout(scaled(Duration::from_millis(500)), replies.next()).await;
    assert!(extra.is_err(), "a message was delivered twice: {extra:?}");
    a.stop();
    b.stop();
}
