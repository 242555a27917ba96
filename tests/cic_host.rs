//! The real client nobody here wrote — `wasmcloud-control-interface` 0.28.1 — against the
//! embedded host over a real nats-server with JetStream: hosts, inventory, start from a file,
//! scale 3 → 1, links through the KV bucket (the client writes it itself), claims, live
//! update, auction, stop actor, stop host. Every call succeeds, the replies match, and
//! `actor_started` carries the reference exactly as given. And the live-rates samples
//! (`lattice-tui.rates.*`) change nothing the client reads: the same host with rates on and off
//! gives the same answers, event stream and `wasmbus.>` traffic.

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

/// What the 0.28 client reads of one host run, with what differs between any two runs
/// (uptimes, instance ids, ports) masked; and what crossed the server meanwhile.
struct ClientView {
    /// `get_hosts`, `get_host_inventory`, `query_links`, `get_claims`, as JSON.
    queries: serde_json::Value,
    /// Event types the client's `events_receiver` got, sorted (the timer-driven
    /// `health_check_*` left out: their count follows only the elapsed time).
    events: Vec<String>,
    /// Subjects of every message seen on `wasmbus.>` (sorted, inbox tokens masked).
    wasmbus_subjects: Vec<String>,
    /// Payloads on `wasmbus.>` that decode as a rates sample or mention the rates subject.
    rates_on_wasmbus: usize,
    /// Rates samples on `lattice-tui.rates.>` with a non-zero request count.
    busy_samples: usize,
}

fn mask(v: &mut serde_json::Value, ports: &[u16]) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if matches!(
                    k.as_str(),
                    "uptime_seconds" | "uptime_human" | "instance_id"
                ) {
                    *v = Value::String("MASKED".into());
                } else {
                    mask(v, ports);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, ports)),
        Value::String(s) => {
            for p in ports {
                *s = s.replace(&p.to_string(), "PORT");
            }
        }
        _ => {}
    }
}

/// One run: a host (fixed keys and name) serving `hello` over HTTP with `requests` calls of
/// traffic, rates on or off, read by the real 0.28 client.
async fn client_view(rates: bool, host_seed: &str, cluster_seed: &str) -> ClientView {
    use futures::{FutureExt, StreamExt};
    let nats = NatsServer::start();
    // The taps come first, so they see everything the host publishes.
    let nc = within(STEP, "connect tap", cic_async_nats::connect(nats.url()))
        .await
        .expect("connect");
    let mut wasmbus = nc.subscribe("wasmbus.>".to_string()).await.expect("tap");
    let mut rates_tap = nc
        .subscribe("lattice-tui.rates.>".to_string())
        .await
        .expect("tap");
    nc.flush().await.expect("flush");
    let bus = connect_bus(&nats.url()).await;
    let mut cfg = common::lattice::config_allowing_test_actors("default");
    cfg.rates = rates;
    cfg.identity.host_seed = Some(host_seed.to_string());
    cfg.identity.cluster_seed = Some(cluster_seed.to_string());
    cfg.identity.friendly_name = Some("compat-host".into());
    let host = within(STEP, "host start", host::start(bus.clone(), cfg))
        .await
        .expect("host starts");
    let id = host.id();
    let (cic, _nc) = cic(&nats).await;
    let mut events = cic.events_receiver().await.expect("events receiver");

    let hello = actor_wasm("hello").to_string_lossy().into_owned();
    let pk = within(
        STEP,
        "start actor",
        host.start_actor(&hello, 1, Default::default()),
    )
    .await
    .expect("actor starts");
    let port = free_port();
    within(
        STEP,
        "serve http",
        host.serve_http(&pk, &format!("127.0.0.1:{port}"), "default"),
    )
    .await
    .expect("serves http");
    for _ in 0..5 {
        let (status, body) = within(STEP, "http", http_get(port, "/"))
            .await
            .expect("http");
        assert_eq!(status, 200, "{body}");
    }

    // With rates on, wait until a sample counting the traffic went out, so every query below
    // runs while the publisher is live with non-zero counters.
    let mut busy_samples = 0;
    if rates {
        within(STEP, "a rates sample counting the traffic", async {
            while let Some(msg) = rates_tap.next().await {
                let s = lattice_tui::lattice::protocol::RatesSample::from_json(&msg.payload)
                    .expect("valid sample");
                if s.actors
                    .iter()
                    .any(|a| a.public_key == pk && a.requests == 5)
                {
                    busy_samples += 1;
                    return;
                }
            }
        })
        .await;
    }

    let hosts = within(STEP, "get_hosts", cic.get_hosts())
        .await
        .expect("get_hosts");
    let inv = within(STEP, "inventory", cic.get_host_inventory(&id))
        .await
        .expect("inventory");
    let links = within(STEP, "query_links", cic.query_links())
        .await
        .expect("query_links");
    let claims = within(STEP, "get_claims", cic.get_claims())
        .await
        .expect("get_claims");
    let mut queries = serde_json::json!({
        "hosts": hosts,
        "inventory": inv,
        "links": links,
        "claims": claims,
    });
    mask(&mut queries, &[port, nats.port()]);

    host.stop();
    within(STEP, "host stopped", host.stopped()).await;
    // The client's event stream up to and including host_stopped.
    let mut types = Vec::new();
    within(STEP, "host_stopped on the client's stream", async {
        while let Some(ev) = events.recv().await {
            let ev = serde_json::to_value(&ev).expect("event as JSON");
            let ty = ev["type"].as_str().unwrap_or_default().to_string();
            if !ty.contains("health_check") {
                types.push(ty.clone());
            }
            if ty.ends_with("host_stopped") {
                return;
            }
        }
    })
    .await;
    types.sort();

    // Everything on wasmbus.> up to host_stopped, the host's last message (the client's
    // requests, the host's replies and events).
    let mut wasmbus_subjects = Vec::new();
    let mut rates_on_wasmbus = 0;
    let mut seen = Vec::new();
    within(STEP, "host_stopped on the wasmbus tap", async {
        while let Some(msg) = wasmbus.next().await {
            let last = String::from_utf8_lossy(&msg.payload).contains("host_stopped");
            seen.push(msg);
            if last {
                return;
            }
        }
    })
    .await;
    for msg in seen {
        let subject = msg.subject.to_string();
        if subject.contains("health_check") {
            continue;
        }
        let text = String::from_utf8_lossy(&msg.payload);
        if lattice_tui::lattice::protocol::RatesSample::from_json(&msg.payload).is_ok()
            || text.contains("lattice-tui.rates")
        {
            rates_on_wasmbus += 1;
        }
        wasmbus_subjects.push(subject);
    }
    wasmbus_subjects.sort();
    while let Some(Some(msg)) = rates_tap.next().now_or_never() {
        let s = lattice_tui::lattice::protocol::RatesSample::from_json(&msg.payload)
            .expect("valid sample");
        if s.actors.iter().any(|a| a.requests > 0) {
            busy_samples += 1;
        }
    }
    ClientView {
        queries,
        events: types,
        wasmbus_subjects,
        rates_on_wasmbus,
        busy_samples,
    }
}

/// PROTOCOL.md §12: the rates samples change nothing a wasmCloud client reads. The same host
/// (same keys, name, actor, traffic) is run with rates on and off; the 0.28 client's answers,
/// its event stream and everything on `wasmbus.>` are the same, and no sample reached
/// `wasmbus.>`, while with rates on samples counting the traffic were flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_change_nothing_the_0_28_client_reads() {
    let host_seed = String::from_utf8(
        nkeys::KeyPair::new_server()
            .seed()
            .expect("seed")
            .into_bytes(),
    )
    .expect("utf-8");
    let cluster_seed = nkeys::KeyPair::new_cluster().seed().expect("seed");
    let on = client_view(true, &host_seed, &cluster_seed).await;
    let off = client_view(false, &host_seed, &cluster_seed).await;
    assert!(on.busy_samples >= 1, "rates were flowing in the first run");
    assert_eq!(off.busy_samples, 0, "no samples with rates off");
    assert_eq!(on.rates_on_wasmbus, 0);
    assert_eq!(off.rates_on_wasmbus, 0);
    assert_eq!(
        serde_json::to_string_pretty(&on.queries).unwrap(),
        serde_json::to_string_pretty(&off.queries).unwrap(),
        "get_hosts / get_host_inventory / query_links / get_claims"
    );
    assert!(
        on.queries["inventory"]["actors"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    );
    assert_eq!(on.events, off.events, "the client's event stream");
    assert!(on.events.iter().any(|t| t.ends_with("actor_started")));
    let mask_inbox = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|s| {
                s.split('.')
                    .map(|t| if t.len() > 20 { "ID" } else { t })
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    };
    assert_eq!(
        mask_inbox(&on.wasmbus_subjects),
        mask_inbox(&off.wasmbus_subjects),
        "every subject under wasmbus.>"
    );
}
