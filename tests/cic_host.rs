//! The real client nobody here wrote — `wasmcloud-control-interface` 0.28.1 — against the
//! embedded host over a real nats-server with JetStream: hosts, inventory, start from a file,
//! scale 3 → 1, links through the KV bucket (the client writes it itself), claims, live
//! update, auction, stop actor, stop host. Every call succeeds, the replies match, and
//! `actor_started` carries the reference exactly as given.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::actors::actor_wasm;
use common::{NatsServer, connect_bus, free_port, http_get, within};
use lattice_tui::host::{self, builtin_http_key};
use lattice_tui::lattice::bus::Subscription;
use lattice_tui::lattice::protocol::{EventData, LatticeEvent};
use lattice_tui::lattice::subjects::Subjects;
use wasmcloud_control_interface::{Client, ClientBuilder};

const STEP: Duration = Duration::from_secs(15);

async fn cic(server: &NatsServer) -> (Client, cic_async_nats::Client) {
    let nc = within(
        STEP,
        "connect async-nats 0.31",
        cic_async_nats::connect(server.url()),
    )
    .await
    .expect("connect");
    let client = within(
        STEP,
        "build the 0.28 client",
        ClientBuilder::new(nc.clone())
            .lattice_prefix("default")
            .rpc_timeout(Duration::from_secs(3))
            .auction_timeout(Duration::from_millis(700))
            .build(),
    )
    .await
    .expect("build");
    (client, nc)
}

async fn event(
    sub: &mut Subscription,
    what: &str,
    pred: impl Fn(&LatticeEvent) -> bool,
) -> LatticeEvent {
    within(STEP, what, async {
        loop {
            let msg = sub.next().await.expect("subscription open");
            let ev = LatticeEvent::from_json(&msg.payload).expect("valid event");
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmcloud_control_interface_0_28_drives_the_host() {
    let hello = actor_wasm("hello");
    let echo = actor_wasm("echo");
    let hello_ref = hello.to_string_lossy().into_owned();
    let echo_ref = echo.to_string_lossy().into_owned();
    let nats = NatsServer::start();
    let bus = connect_bus(&nats.url()).await;
    let mut events = bus
        .subscribe(&Subjects::new("default").events())
        .await
        .unwrap();
    bus.flush().await.unwrap();
    // The host creates LATTICEDATA_default before clients come (0.28 checks it once, in build()).
    let host = within(
        STEP,
        "host start",
        host::start(
            bus.clone(),
            common::lattice::config_allowing_test_actors("default"),
        ),
    )
    .await
    .expect("host starts");
    let id = host.id();
    let (cic, _nc) = cic(&nats).await;

    // get_hosts / get_host_inventory.
    let hosts = within(STEP, "get_hosts", cic.get_hosts())
        .await
        .expect("get_hosts");
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].id, id);
    assert!(
        hosts[0]
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("hostcore.arch"))
    );
    let inv = within(STEP, "inventory", cic.get_host_inventory(&id))
        .await
        .expect("inventory");
    assert_eq!(inv.host_id, id);
    assert!(inv.actors.is_empty());

    // start_actor from a file: actor_started carries the ref exactly as given.
    let ack = within(
        STEP,
        "start_actor",
        cic.start_actor(&id, &hello_ref, 1, None),
    )
    .await
    .expect("start_actor");
    assert!(ack.accepted, "{}", ack.error);
    let started = event(&mut events, "actor_started", |e| {
        matches!(e.data, EventData::ActorStarted(_))
    })
    .await;
    assert_eq!(started.source, id);
    let EventData::ActorStarted(st) = started.data else {
        unreachable!()
    };
    assert_eq!(
        st.image_ref.as_deref(),
        Some(hello_ref.as_str()),
        "the ref exactly as given"
    );
    let pk = st.public_key;

    // scale to 3 and back to 1.
    for count in [3u16, 1] {
        let ack = within(
            STEP,
            "scale_actor",
            cic.scale_actor(&id, &hello_ref, &pk, count, None),
        )
        .await
        .expect("scale_actor");
        assert!(ack.accepted, "{}", ack.error);
        within(STEP, "inventory reaches the count", async {
            loop {
                let inv = cic.get_host_inventory(&id).await.expect("inventory");
                if inv
                    .actors
                    .iter()
                    .any(|a| a.id == pk && a.instances.len() == usize::from(count))
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }

    // The built-in HTTP provider and a link the client writes into the KV bucket itself.
    let ack = within(
        STEP,
        "start_provider",
        cic.start_provider(
            &id,
            "builtin:httpserver",
            Some("default".into()),
            None,
            None,
        ),
    )
    .await
    .expect("start_provider");
    assert!(ack.accepted, "{}", ack.error);
    let port = free_port();
    let values: HashMap<String, String> =
        [("address".to_string(), format!("127.0.0.1:{port}"))].into();
    let ack = within(
        STEP,
        "advertise_link",
        cic.advertise_link(
            &pk,
            &builtin_http_key(),
            "wasmcloud:httpserver",
            "default",
            values,
        ),
    )
    .await
    .expect("advertise_link");
    assert!(ack.accepted, "{}", ack.error);
    event(
        &mut events,
        "linkdef_set from the KV watch",
        |e| matches!(&e.data, EventData::LinkdefSet(l) if l.actor_id == pk),
    )
    .await;
    let links = within(STEP, "query_links", cic.query_links())
        .await
        .expect("query_links");
    assert_eq!(links.links.len(), 1);
    assert_eq!(links.links[0].actor_id, pk);
    let (status, body) = within(STEP, "HTTP through the link", async {
        loop {
            if let Ok(r) = http_get(port, "/").await {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(status, 200, "{body}");

    // get_claims reads CLAIMS_* (strict string maps).
    let claims = within(STEP, "get_claims", cic.get_claims())
        .await
        .expect("get_claims");
    assert!(
        claims.claims.iter().any(|c| c.get("sub") == Some(&pk)),
        "{:?}",
        claims.claims
    );

    // auction: this host is eligible.
    let bids = within(
        STEP,
        "auction",
        cic.perform_actor_auction(&hello_ref, HashMap::new()),
    )
    .await
    .expect("auction");
    assert!(bids.iter().any(|b| b.host_id == id));

    // update_actor: swap in another module (unsigned: the actor keeps its id).
    let ack = within(
        STEP,
        "update_actor",
        cic.update_actor(&id, &pk, &echo_ref, None),
    )
    .await
    .expect("update_actor");
    assert!(ack.accepted, "{}", ack.error);
    event(
        &mut events,
        "actor_updated",
        |e| matches!(&e.data, EventData::ActorUpdated(u) if u.public_key == pk && u.revision == 1),
    )
    .await;

    // remove_link: the client deletes the KV key; the route goes away.
    let ack = within(
        STEP,
        "remove_link",
        cic.remove_link(&pk, "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("remove_link");
    assert!(ack.accepted, "{}", ack.error);
    event(&mut events, "linkdef_deleted", |e| {
        matches!(&e.data, EventData::LinkdefDeleted(l) if l.actor_id == pk && l.values.contains_key("address"))
    })
    .await;
    let links = within(STEP, "query_links", cic.query_links())
        .await
        .expect("query_links");
    assert!(links.links.is_empty());

    // stop_actor, then stop_host.
    let ack = within(STEP, "stop_actor", cic.stop_actor(&id, &pk, 0, None))
        .await
        .expect("stop_actor");
    assert!(ack.accepted, "{}", ack.error);
    event(
        &mut events,
        "actor_stopped",
        |e| matches!(&e.data, EventData::ActorStopped(s) if s.public_key == pk),
    )
    .await;
    let inv = within(STEP, "inventory", cic.get_host_inventory(&id))
        .await
        .expect("inventory");
    assert!(inv.actors.is_empty());
    let ack = within(STEP, "stop_host", cic.stop_host(&id, Some(2000)))
        .await
        .expect("stop_host");
    assert!(ack.accepted, "{}", ack.error);
    event(&mut events, "host_stopped", |e| {
        e.source == id && matches!(e.data, EventData::HostStopped(_))
    })
    .await;
    within(STEP, "host stopped", host.stopped()).await;
}
