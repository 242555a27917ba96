//! The control-interface scenario over the in-process lattice, driven through the bus API the
//! way a client would: hosts, inventory, start from a file, scale 3 → 1, links through the
//! lattice data, HTTP through the built-in provider, claims, stop actor, stop host. Plus the
//! refusals: malformed requests, OCI references, unknown hosts.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::actors::actor_wasm;
use common::{free_port, http_get, within};
use futures::FutureExt as _;
use lattice_tui::host::{self, builtin_http_key};
use lattice_tui::lattice::bus::{Bus, Subscription};
use lattice_tui::lattice::protocol::{
    CtlOperationAck, EventData, GetClaimsResponse, Host, HostInventory, LatticeEvent,
    LinkDefinitionList,
};
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(10);

async fn ask(bus: &Bus, subject: &str, body: Value) -> Bytes {
    bus.request(
        subject,
        Bytes::from(body.to_string()),
        Duration::from_secs(5),
    )
    .await
    .unwrap_or_else(|e| panic!("{subject}: {e}"))
    .payload
}

async fn ack(bus: &Bus, subject: &str, body: Value) -> CtlOperationAck {
    let raw = ask(bus, subject, body).await;
    serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{subject}: not an ack: {e}"))
}

/// Waits for the next event matching `pred`, skipping others.
async fn event(
    sub: &mut Subscription,
    what: &str,
    pred: impl Fn(&LatticeEvent) -> bool,
) -> LatticeEvent {
    within(T, what, async {
        loop {
            let msg = sub.next().await.expect("event subscription open");
            let ev =
                LatticeEvent::from_json(&msg.payload).expect("the host publishes valid events");
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
}

async fn inventory(bus: &Bus, s: &Subjects, host: &str) -> HostInventory {
    serde_json::from_slice(&ask(bus, &s.host_inventory(host), json!({})).await).expect("inventory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_interface_scenario_over_the_in_process_lattice() {
    let hello = actor_wasm("hello");
    let hello_ref = hello.to_string_lossy().into_owned();
    let bus = Bus::local();
    let s = Subjects::new("default");
    let mut events = bus.subscribe(&s.events()).await.unwrap();
    let host = within(
        T,
        "host start",
        host::start(
            bus.clone(),
            common::lattice::config_allowing_test_actors("default"),
        ),
    )
    .await
    .expect("host starts");
    let id = host.id();
    event(&mut events, "host_started", |e| {
        e.source == id && matches!(e.data, EventData::HostStarted(_))
    })
    .await;

    // Hosts.
    let replies = bus
        .scatter_gather(&s.ping_hosts(), Bytes::new(), Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(replies.len(), 1);
    let h: Host = serde_json::from_slice(&replies[0].payload).unwrap();
    assert_eq!(h.id, id);
    assert_eq!(h.issuer.as_deref(), Some(host.cluster_key().as_str()));
    assert!(h.labels.contains_key("hostcore.os"));
    assert_eq!(h.lattice_prefix.as_deref(), Some("default"));
    event(&mut events, "heartbeat after ping", |e| {
        matches!(e.data, EventData::HostHeartbeat(_))
    })
    .await;
    assert!(inventory(&bus, &s, &id).await.actors.is_empty());

    // Start from a file: actor_started carries the ref exactly as given.
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::LaunchActor),
        json!({"actor_ref": hello_ref, "count": 1, "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    let started = event(&mut events, "actor_started", |e| {
        matches!(e.data, EventData::ActorStarted(_))
    })
    .await;
    let EventData::ActorStarted(st) = started.data else {
        unreachable!()
    };
    assert_eq!(st.image_ref.as_deref(), Some(hello_ref.as_str()));
    assert_eq!(started.source, id);
    let pk = st.public_key.clone();
    assert!(pk.starts_with('M') && pk.len() == 56);

    // Scale to 3 and back to 1.
    for (count, what) in [(3, "scaled up to 3"), (1, "scaled down to 1")] {
        let a = ack(
            &bus,
            &s.host_command(&id, CmdVerb::Scale),
            json!({"actor_id": pk, "actor_ref": hello_ref, "count": count, "host_id": id, "annotations": {}}),
        )
        .await;
        assert!(a.accepted, "{a:?}");
        within(T, what, async {
            loop {
                let inv = inventory(&bus, &s, &id).await;
                if inv
                    .actors
                    .iter()
                    .any(|a| a.id == pk && a.instances.len() == count)
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }

    // A link through linkdefs.put, served by the built-in provider.
    let port = free_port();
    let a = ack(
        &bus,
        &s.linkdefs_put(),
        json!({"actor_id": pk, "provider_id": builtin_http_key(), "contract_id": "wasmcloud:httpserver",
               "link_name": "default", "values": {"address": format!("127.0.0.1:{port}")}}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    event(&mut events, "linkdef_set", |e| {
        matches!(e.data, EventData::LinkdefSet(_))
    })
    .await;
    let links: LinkDefinitionList =
        serde_json::from_slice(&ask(&bus, &s.get_links(), json!({})).await).unwrap();
    assert_eq!(links.links.len(), 1);
    assert_eq!(links.links[0].actor_id, pk);
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::LaunchProvider),
        json!({"provider_ref": "builtin:httpserver", "link_name": "default", "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    event(&mut events, "provider_started", |e| {
        matches!(&e.data, EventData::ProviderStarted(p) if p.public_key == builtin_http_key()
            && p.contract_id == "wasmcloud:httpserver" && p.image_ref.as_deref() == Some("builtin:httpserver"))
    })
    .await;
    let (status, body) = within(T, "HTTP through the link", async {
        loop {
            if let Ok(r) = http_get(port, "/").await {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(status, 200);
    assert!(body.to_lowercase().contains("hello"), "{body}");
    // Starting it twice is refused at once (OTP), with the failure event.
    let again = ack(
        &bus,
        &s.host_command(&id, CmdVerb::LaunchProvider),
        json!({"provider_ref": "builtin:httpserver", "link_name": "default", "host_id": id}),
    )
    .await;
    assert!(!again.accepted);
    event(&mut events, "provider_start_failed", |e| {
        matches!(e.data, EventData::ProviderStartFailed(_))
    })
    .await;

    // Claims: every value a string.
    let claims: Value =
        serde_json::from_slice(&ask(&bus, &s.get_claims(), json!({})).await).unwrap();
    let list = claims["claims"].as_array().unwrap();
    assert!(
        list.iter()
            .all(|c| c.as_object().unwrap().values().all(Value::is_string))
    );
    let typed: GetClaimsResponse = serde_json::from_value(claims.clone()).unwrap();
    assert!(
        typed
            .claims
            .iter()
            .any(|c| c["sub"] == pk && c["name"] == "hello")
    );
    assert!(typed.claims.iter().any(|c| c["sub"] == builtin_http_key()));

    // Delete the link: the route goes away.
    let a = ack(
        &bus,
        &s.linkdefs_del(),
        json!({"actor_id": pk, "contract_id": "wasmcloud:httpserver", "link_name": "default"}),
    )
    .await;
    assert!(a.accepted);
    event(&mut events, "linkdef_deleted", |e| {
        matches!(e.data, EventData::LinkdefDeleted(_))
    })
    .await;
    within(T, "listener closed", async {
        while http_get(port, "/").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let links: LinkDefinitionList =
        serde_json::from_slice(&ask(&bus, &s.get_links(), json!({})).await).unwrap();
    assert!(links.links.is_empty());

    // Refusals change nothing.
    for (subject, body) in [
        (
            s.host_command(&id, CmdVerb::LaunchActor),
            json!({"count": 1}),
        ),
        (s.host_command(&id, CmdVerb::Scale), json!("nope")),
        (
            s.host_command(&id, CmdVerb::Update),
            json!({"new_actor_ref": hello_ref}),
        ),
        (s.linkdefs_put(), json!({"actor_id": pk})),
        (
            s.host_command(&id, CmdVerb::StopActor),
            json!({"actor_ref": "MNOTRUNNING", "count": 1}),
        ),
    ] {
        let a = ack(&bus, &subject, body).await;
        assert!(!a.accepted && !a.error.is_empty(), "{subject}: {a:?}");
    }
    // Not JSON at all: a failure ack, not silence.
    let raw = bus
        .request(
            &s.host_command(&id, CmdVerb::LaunchActor),
            Bytes::from_static(b"{not json"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let a: CtlOperationAck = serde_json::from_slice(&raw.payload).unwrap();
    assert!(
        !a.accepted && a.error.contains("invalid cmd.la request"),
        "{a:?}"
    );
    assert_eq!(inventory(&bus, &s, &id).await.actors.len(), 1);
    // An OCI reference fails with a clear reason, as an event.
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::LaunchActor),
        json!({"actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "count": 1}),
    )
    .await;
    assert!(a.accepted, "accepted, then failed as an event");
    let failed = event(&mut events, "actor_start_failed", |e| {
        matches!(e.data, EventData::ActorStartFailed(_))
    })
    .await;
    let EventData::ActorStartFailed(f) = failed.data else {
        unreachable!()
    };
    assert_eq!(f.actor_ref, "wasmcloud.azurecr.io/echo:0.3.4");
    assert!(f.error.contains("not supported yet"), "{}", f.error);

    // Stop the actor, then the host.
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::StopActor),
        json!({"actor_ref": pk, "count": 0, "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    event(
        &mut events,
        "actor_stopped",
        |e| matches!(&e.data, EventData::ActorStopped(s) if s.public_key == pk),
    )
    .await;
    assert!(inventory(&bus, &s, &id).await.actors.is_empty());
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::StopHost),
        json!({"host_id": id, "timeout": 2000}),
    )
    .await;
    assert!(a.accepted);
    event(&mut events, "host_stopped", |e| {
        e.source == id && matches!(e.data, EventData::HostStopped(_))
    })
    .await;
    within(T, "host stopped", host.stopped()).await;
}

/// The late actor-era dialect (control-interface 0.30 / wash 0.21): `scale` without
/// `actor_id` starts an actor, `count: null` keeps at least one, `sa` without `count` stops
/// all. And a failed live update leaves the actor running and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_dialect_and_failed_updates() {
    let hello = actor_wasm("hello");
    let hello_ref = hello.to_string_lossy().into_owned();
    let bus = Bus::local();
    let s = Subjects::new("default");
    let mut events = bus.subscribe(&s.events()).await.unwrap();
    let host = within(
        T,
        "host start",
        host::start(
            bus.clone(),
            common::lattice::config_allowing_test_actors("default"),
        ),
    )
    .await
    .expect("host starts");
    let id = host.id();

    // scale without actor_id = start.
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::Scale),
        json!({"actor_ref": hello_ref, "count": 1, "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    let started = event(&mut events, "actor_started", |e| {
        matches!(e.data, EventData::ActorStarted(_))
    })
    .await;
    let EventData::ActorStarted(st) = started.data else {
        unreachable!()
    };
    let pk = st.public_key;
    // The start's summary follows its per-instance events; after it the start is done.
    event(&mut events, "actors_started", |e| {
        matches!(e.data, EventData::ActorsStarted(_))
    })
    .await;
    // count: null keeps what runs (at least one).
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::Scale),
        json!({"actor_ref": hello_ref, "count": null, "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    // Only a sleep can show that nothing happens: a scale that changes nothing publishes
    // nothing to wait for. Give the spawned scale task time to act (scaled for slow machines),
    // then check that it neither changed the inventory nor started or stopped anything.
    tokio::time::sleep(common::scaled(Duration::from_millis(200))).await;
    let inv = inventory(&bus, &s, &id).await;
    assert_eq!(inv.actors.len(), 1);
    assert_eq!(inv.actors[0].instances.len(), 1);
    while let Some(Some(msg)) = events.next().now_or_never() {
        let ev = LatticeEvent::from_json(&msg.payload).expect("valid event");
        assert!(
            !matches!(
                ev.data,
                EventData::ActorStarted(_)
                    | EventData::ActorsStarted(_)
                    | EventData::ActorStopped(_)
                    | EventData::ActorsStopped(_)
            ),
            "count: null with one running changes nothing, got {:?}",
            ev.data
        );
    }
    // Empty actor_id (washboard) scales the actor found by its reference.
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::Scale),
        json!({"actor_id": "", "actor_ref": hello_ref, "count": 2, "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    within(T, "two instances", async {
        while inventory(&bus, &s, &id).await.actors[0].instances.len() != 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // A live update from garbage fails, says why, and leaves the actor serving as before.
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm").unwrap();
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::Update),
        json!({"actor_id": pk, "new_actor_ref": garbage.to_string_lossy(), "host_id": id}),
    )
    .await;
    assert!(!a.accepted && !a.error.is_empty(), "{a:?}");
    let failed = event(&mut events, "actor_update_failed", |e| {
        matches!(e.data, EventData::ActorUpdateFailed(_))
    })
    .await;
    let EventData::ActorUpdateFailed(f) = failed.data else {
        unreachable!()
    };
    assert_eq!(f.public_key, pk);
    assert!(!f.reason.is_empty());
    let inv = inventory(&bus, &s, &id).await;
    assert_eq!(inv.actors[0].image_ref.as_deref(), Some(hello_ref.as_str()));

    // sa without count stops all.
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::StopActor),
        json!({"actor_ref": pk, "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    let stopped = event(&mut events, "actors_stopped", |e| {
        matches!(e.data, EventData::ActorsStopped(_))
    })
    .await;
    let EventData::ActorsStopped(st) = stopped.data else {
        unreachable!()
    };
    assert_eq!((st.count, st.remaining), (2, 0));
    assert!(inventory(&bus, &s, &id).await.actors.is_empty());
    host.stop();
    within(T, "host stopped", host.stopped()).await;
}
