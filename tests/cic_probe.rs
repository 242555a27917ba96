//! The real client, `wasmcloud-control-interface` 0.28.1, against a real nats-server:
//! - with the `LATTICEDATA_default` bucket present it reads and writes links and claims in the
//!   bucket itself, and `LatticeData` sees its writes (and it sees ours);
//! - every command and query it sends, captured on the wire (subject, headers, JSON), answered
//!   with this crate's `lattice::protocol` documents, which it must parse. These captures are
//!   the reference for the host's control interface.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use common::{NatsServer, connect_bus, within};
use futures::StreamExt as _;
use lattice_tui::host::lattice_data::{LatticeData, LinkChange, LinkWatch};
use lattice_tui::lattice::protocol::{
    ActorAuctionAck, ActorAuctionRequest, ActorDescription, ActorInstance, ActorStarted, ClaimsMap,
    CtlOperationAck, EventData, GetClaimsResponse, Host, HostInventory, LatticeEvent,
    LinkDefinition, LinkDefinitionList, ProviderAuctionAck, ProviderAuctionRequest,
    ProviderDescription, RegistryCredentialMap, RemoveLinkDefinitionRequest, ScaleActorCommand,
    StartActorCommand, StartProviderCommand, StopActorCommand, StopHostCommand,
    StopProviderCommand, UpdateActorCommand, linkdef_hash,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wasmcloud_control_interface::{Client, ClientBuilder};

const STEP: Duration = Duration::from_secs(10);
/// How long the client collects `ping.hosts` and auction replies.
const AUCTION: Duration = Duration::from_millis(700);

const HOST: &str = "NBHOSTAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const ACTOR: &str = "MBECHOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const PROVIDER: &str = "VAHTTPAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// A 0.28 client on its own async-nats 0.31 connection; also returns that connection (for
/// flushing).
async fn cic_client(server: &NatsServer, lattice: &str) -> (Client, cic_async_nats::Client) {
    let nc = within(
        STEP,
        "connect async-nats 0.31",
        cic_async_nats::connect(server.url()),
    )
    .await
    .expect("connect async-nats 0.31");
    let client = within(
        STEP,
        "build control-interface client",
        ClientBuilder::new(nc.clone())
            .lattice_prefix(lattice)
            .rpc_timeout(Duration::from_secs(3))
            .auction_timeout(AUCTION)
            .build(),
    )
    .await
    .expect("build control-interface client");
    (client, nc)
}

/// A round trip on `client`'s connection. The server handles one connection's protocol in
/// order, so every SUB sent on it before is in place once the reply is here (a `flush` only
/// empties the write buffer).
async fn round_trip(client: &async_nats::Client) {
    within(
        STEP,
        "round trip",
        client.request("$JS.API.INFO", Bytes::new()),
    )
    .await
    .expect("JetStream account info");
}

/// [`round_trip`] on a control-interface client's async-nats 0.31 connection.
async fn round_trip_031(nc: &cic_async_nats::Client) {
    within(
        STEP,
        "round trip 0.31",
        nc.request("$JS.API.INFO".to_string(), Bytes::new()),
    )
    .await
    .expect("JetStream account info");
}

fn string_map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn claims(sub: &str, name: &str, contract_id: &str) -> ClaimsMap {
    [
        ("sub", sub),
        ("iss", "ACACCOUNT"),
        ("name", name),
        ("call_alias", ""),
        ("caps", ""),
        ("rev", "0"),
        ("tags", ""),
        ("version", "0.17.0"),
        ("contract_id", contract_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn next_change(w: &mut LinkWatch) -> LinkChange {
    within(STEP, "link change", w.next())
        .await
        .expect("watch alive")
}

/// The fields control-interface's `LinkDefinition` has (it has no `id`).
fn cic_fields(
    l: &wasmcloud_control_interface::LinkDefinition,
) -> (String, String, String, String, BTreeMap<String, String>) {
    (
        l.actor_id.clone(),
        l.provider_id.clone(),
        l.contract_id.clone(),
        l.link_name.clone(),
        l.values.clone().into_iter().collect(),
    )
}

fn our_fields(l: &LinkDefinition) -> (String, String, String, String, BTreeMap<String, String>) {
    (
        l.actor_id.clone(),
        l.provider_id.clone(),
        l.contract_id.clone(),
        l.link_name.clone(),
        l.values.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cic_reads_and_writes_links_and_claims_in_the_bucket() {
    let server = NatsServer::start();
    let bus = connect_bus(&server.url()).await;
    let data = within(
        STEP,
        "open bucket",
        LatticeData::nats(bus.nats_client().expect("client"), "default"),
    )
    .await
    .expect("create LATTICEDATA_default");
    // With the bucket present nothing of this goes over the control subjects.
    let mut ctl = within(STEP, "subscribe ctl", bus.subscribe("wasmbus.ctl.>"))
        .await
        .expect("subscribe");
    round_trip(&bus.nats_client().expect("client")).await;
    let mut watch = within(STEP, "watch", data.watch_links())
        .await
        .expect("watch");

    let (cic, _nc) = cic_client(&server, "default").await;

    // advertise_link writes LINKDEF_{hash} itself; our watch and links() see it with `id`.
    let ack = within(
        STEP,
        "advertise_link",
        cic.advertise_link(
            ACTOR,
            PROVIDER,
            "wasmcloud:httpserver",
            "default",
            string_map(&[("PORT", "8080")]),
        ),
    )
    .await
    .expect("advertise_link");
    assert!(ack.accepted, "{ack:?}");
    let expected = LinkDefinition {
        id: linkdef_hash(ACTOR, "wasmcloud:httpserver", "default"),
        actor_id: ACTOR.into(),
        provider_id: PROVIDER.into(),
        link_name: "default".into(),
        contract_id: "wasmcloud:httpserver".into(),
        values: [("PORT".to_string(), "8080".to_string())].into(),
    };
    assert_eq!(
        next_change(&mut watch).await,
        LinkChange::Set(expected.clone())
    );
    let ours = within(STEP, "links", data.links()).await.expect("links");
    assert_eq!(ours, vec![expected.clone()]);

    // query_links reads the bucket, including what we wrote (our JSON carries `id`, which it
    // ignores).
    let second = LinkDefinition {
        id: String::new(),
        actor_id: ACTOR.into(),
        provider_id: "VAKVREDIS".into(),
        link_name: "default".into(),
        contract_id: "wasmcloud:keyvalue".into(),
        values: BTreeMap::new(),
    };
    within(STEP, "put_link", data.put_link(&second))
        .await
        .expect("put_link");
    assert_eq!(
        next_change(&mut watch).await,
        LinkChange::Set(second.clone().with_id())
    );
    let listed = within(STEP, "query_links", cic.query_links())
        .await
        .expect("query_links");
    let mut got: Vec<_> = listed.links.iter().map(cic_fields).collect();
    got.sort();
    let mut want = vec![our_fields(&expected), our_fields(&second)];
    want.sort();
    assert_eq!(got, want);

    // remove_link deletes the key (KV-Operation: DEL); our watch reports the full link.
    let ack = within(
        STEP,
        "remove_link",
        cic.remove_link(ACTOR, "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("remove_link");
    assert!(ack.accepted, "{ack:?}");
    let removed = next_change(&mut watch).await;
    assert_eq!(removed, LinkChange::Deleted(expected.clone()));
    assert_eq!(removed.link().values["PORT"], "8080");
    assert_eq!(removed.link().provider_id, PROVIDER);
    let ours = within(STEP, "links", data.links()).await.expect("links");
    assert_eq!(ours, vec![second.clone().with_id()]);
    let listed = within(STEP, "query_links", cic.query_links())
        .await
        .expect("query_links");
    assert_eq!(
        listed.links.iter().map(cic_fields).collect::<Vec<_>>(),
        vec![our_fields(&second)]
    );

    // get_claims reads CLAIMS_* (strict string maps).
    let actor_claims = claims(ACTOR, "echo", "");
    let provider_claims = claims(PROVIDER, "HTTP Server", "wasmcloud:httpserver");
    for c in [&actor_claims, &provider_claims] {
        within(STEP, "put_claims", data.put_claims(c))
            .await
            .expect("put_claims");
    }
    let got = within(STEP, "get_claims", cic.get_claims())
        .await
        .expect("get_claims");
    let mut got: Vec<ClaimsMap> = got
        .claims
        .into_iter()
        .map(|m| m.into_iter().collect())
        .collect();
    got.sort_by(|a, b| a["sub"].cmp(&b["sub"]));
    assert_eq!(got, vec![actor_claims, provider_claims]);

    // Nothing was sent on wasmbus.ctl.
    if let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(300), ctl.next()).await {
        panic!("unexpected control message on {}", msg.subject);
    }
}

// ---------------------------------------------------------------------------------------
// the wire

/// One request the client sent.
#[derive(Debug)]
struct Captured {
    subject: String,
    /// Number of NATS headers (`None`: a plain PUB).
    headers: Option<usize>,
    body: Value,
}

fn host_doc() -> Host {
    Host {
        id: HOST.into(),
        issuer: Some("CDCLUSTER".into()),
        labels: [("hostcore.os".to_string(), "linux".to_string())].into(),
        friendly_name: "silent-breeze-1234".into(),
        uptime_seconds: 312,
        uptime_human: Some("5 minutes, 12 seconds".into()),
        version: Some("0.63.2".into()),
        cluster_issuers: Some("CDCLUSTER".into()),
        js_domain: None,
        ctl_host: Some("127.0.0.1".into()),
        prov_rpc_host: Some("127.0.0.1".into()),
        rpc_host: Some("127.0.0.1".into()),
        lattice_prefix: Some("default".into()),
    }
}

fn inventory_doc() -> HostInventory {
    HostInventory {
        host_id: HOST.into(),
        issuer: Some("CDCLUSTER".into()),
        friendly_name: "silent-breeze-1234".into(),
        labels: [("hostcore.os".to_string(), "linux".to_string())].into(),
        actors: vec![ActorDescription {
            id: ACTOR.into(),
            image_ref: Some("wasmcloud.azurecr.io/echo:0.3.4".into()),
            name: Some("echo".into()),
            instances: vec![ActorInstance {
                instance_id: "6d1c0000-0000-4000-8000-000000000000".into(),
                annotations: Some([("app".to_string(), "demo".to_string())].into()),
                revision: 4,
                max_concurrent: 1,
            }],
        }],
        providers: vec![ProviderDescription {
            id: PROVIDER.into(),
            image_ref: Some("wasmcloud.azurecr.io/httpserver:0.17.0".into()),
            contract_id: "wasmcloud:httpserver".into(),
            link_name: "default".into(),
            name: Some("HTTP Server".into()),
            instance_id: "1a2b0000-0000-4000-8000-000000000000".into(),
            annotations: None,
            revision: 0,
        }],
    }
}

/// What a host answers on `subject` (`None`: no reply).
fn reply_for(subject: &str, body: &[u8]) -> Option<Vec<u8>> {
    let tail = subject.splitn(4, '.').nth(3).unwrap_or_default();
    let doc = if tail == "ping.hosts" {
        serde_json::to_vec(&host_doc())
    } else if tail.starts_with("get.") && tail.ends_with(".inv") {
        serde_json::to_vec(&inventory_doc())
    } else if tail.starts_with("cmd.") || tail.starts_with("linkdefs.") {
        serde_json::to_vec(&CtlOperationAck::ok())
    } else if tail == "auction.actor" {
        let req: ActorAuctionRequest = serde_json::from_slice(body).expect("actor auction");
        serde_json::to_vec(&ActorAuctionAck {
            actor_ref: req.actor_ref,
            constraints: req.constraints,
            host_id: HOST.into(),
        })
    } else if tail == "auction.provider" {
        let req: ProviderAuctionRequest = serde_json::from_slice(body).expect("provider auction");
        serde_json::to_vec(&ProviderAuctionAck {
            provider_ref: req.provider_ref,
            link_name: req.link_name,
            constraints: req.constraints,
            host_id: HOST.into(),
        })
    } else if tail == "get.links" {
        serde_json::to_vec(&LinkDefinitionList {
            links: vec![
                LinkDefinition {
                    id: String::new(),
                    actor_id: ACTOR.into(),
                    provider_id: PROVIDER.into(),
                    link_name: "default".into(),
                    contract_id: "wasmcloud:httpserver".into(),
                    values: [("PORT".to_string(), "8080".to_string())].into(),
                }
                .with_id(),
            ],
        })
    } else if tail == "get.claims" {
        serde_json::to_vec(&GetClaimsResponse {
            claims: vec![claims(ACTOR, "echo", "")],
        })
    } else {
        return None;
    };
    Some(doc.expect("encode reply"))
}

/// A stand-in host that records every control request and answers with this crate's
/// protocol documents.
async fn spawn_recorder(client: async_nats::Client) -> mpsc::Receiver<Captured> {
    let mut sub = within(STEP, "subscribe", client.subscribe("wasmbus.ctl.>"))
        .await
        .expect("subscribe");
    round_trip(&client).await;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let body = if msg.payload.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&msg.payload).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&msg.payload).into_owned())
                })
            };
            if let (Some(reply), Some(doc)) = (&msg.reply, reply_for(&msg.subject, &msg.payload)) {
                let _ = client.publish(reply.clone(), Bytes::from(doc)).await;
            }
            let captured = Captured {
                subject: msg.subject.to_string(),
                headers: msg.headers.as_ref().map(|h| h.iter().count()),
                body,
            };
            if tx.send(captured).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// The next captured request; asserts its subject and that it carried no headers.
async fn expect_request(rx: &mut mpsc::Receiver<Captured>, subject: &str) -> Value {
    let got = within(STEP, subject, rx.recv())
        .await
        .expect("recorder alive");
    assert_eq!(got.subject, subject, "{got:?}");
    assert!(
        got.headers.unwrap_or(0) == 0,
        "control-interface 0.28 sent headers: {got:?}"
    );
    got.body
}

fn decode<T: serde::de::DeserializeOwned>(v: &Value) -> T {
    serde_json::from_value(v.clone()).expect("our ctl types decode the client's request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cic_commands_and_queries_on_the_wire() {
    let server = NatsServer::start();
    let bus = connect_bus(&server.url()).await;
    let nc51 = bus.nats_client().expect("client");
    within(
        STEP,
        "open bucket",
        LatticeData::nats(nc51.clone(), "default"),
    )
    .await
    .expect("bucket");
    let mut rx = spawn_recorder(nc51.clone()).await;
    let (cic, nc031) = cic_client(&server, "default").await;
    let ctl = |rest: &str| format!("wasmbus.ctl.default.{rest}");

    // get_hosts: publish with a reply inbox, collect replies for the whole auction timeout.
    let hosts = within(STEP, "get_hosts", cic.get_hosts())
        .await
        .expect("get_hosts");
    assert_eq!(
        expect_request(&mut rx, &ctl("ping.hosts")).await,
        Value::Null
    );
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].id, HOST);
    assert_eq!(hosts[0].uptime_seconds, 312);
    assert_eq!(
        hosts[0].labels.as_ref().map(|l| l["hostcore.os"].as_str()),
        Some("linux")
    );

    // get_host_inventory: request, empty body.
    let inv = within(STEP, "inventory", cic.get_host_inventory(HOST))
        .await
        .expect("get_host_inventory");
    assert_eq!(
        expect_request(&mut rx, &ctl(&format!("get.{HOST}.inv"))).await,
        Value::Null
    );
    assert_eq!(inv.host_id, HOST);
    assert_eq!(inv.issuer, "CDCLUSTER");
    assert_eq!(inv.actors[0].instances[0].revision, 4);
    assert_eq!(inv.providers[0].contract_id, "wasmcloud:httpserver");

    // start_actor → cmd.{h}.la
    let ack = within(
        STEP,
        "start_actor",
        cic.start_actor(
            HOST,
            "wasmcloud.azurecr.io/echo:0.3.4",
            2,
            Some(string_map(&[("app", "demo")])),
        ),
    )
    .await
    .expect("start_actor");
    assert!(ack.accepted);
    let body = expect_request(&mut rx, &ctl(&format!("cmd.{HOST}.la"))).await;
    assert_eq!(
        body,
        json!({"actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "annotations": {"app": "demo"},
               "count": 2, "host_id": HOST})
    );
    let la: StartActorCommand = decode(&body);
    assert_eq!(la.count, 2);

    // scale_actor → cmd.{h}.scale (annotations omitted when None)
    within(
        STEP,
        "scale_actor",
        cic.scale_actor(HOST, "wasmcloud.azurecr.io/echo:0.3.4", ACTOR, 5, None),
    )
    .await
    .expect("scale_actor");
    let body = expect_request(&mut rx, &ctl(&format!("cmd.{HOST}.scale"))).await;
    assert_eq!(
        body,
        json!({"actor_id": ACTOR, "actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "count": 5,
               "host_id": HOST})
    );
    let scale: ScaleActorCommand = decode(&body);
    assert_eq!(scale.count, Some(5));

    // stop_actor → cmd.{h}.sa (count 0 = all)
    within(STEP, "stop_actor", cic.stop_actor(HOST, ACTOR, 0, None))
        .await
        .expect("stop_actor");
    let body = expect_request(&mut rx, &ctl(&format!("cmd.{HOST}.sa"))).await;
    assert_eq!(
        body,
        json!({"actor_ref": ACTOR, "count": 0, "host_id": HOST})
    );
    let sa: StopActorCommand = decode(&body);
    assert_eq!(sa.count, Some(0));

    // update_actor → cmd.{h}.upd
    within(
        STEP,
        "update_actor",
        cic.update_actor(HOST, ACTOR, "wasmcloud.azurecr.io/echo:0.3.5", None),
    )
    .await
    .expect("update_actor");
    let body = expect_request(&mut rx, &ctl(&format!("cmd.{HOST}.upd"))).await;
    assert_eq!(
        body,
        json!({"actor_id": ACTOR, "host_id": HOST,
               "new_actor_ref": "wasmcloud.azurecr.io/echo:0.3.5"})
    );
    let _: UpdateActorCommand = decode(&body);

    // start_provider with a host → cmd.{h}.lp (configuration: raw text)
    within(
        STEP,
        "start_provider",
        cic.start_provider(
            HOST,
            "wasmcloud.azurecr.io/httpserver:0.17.0",
            Some("default".into()),
            None,
            Some("{\"a\":1}".into()),
        ),
    )
    .await
    .expect("start_provider");
    let body = expect_request(&mut rx, &ctl(&format!("cmd.{HOST}.lp"))).await;
    assert_eq!(
        body,
        json!({"configuration": "{\"a\":1}", "host_id": HOST, "link_name": "default",
               "provider_ref": "wasmcloud.azurecr.io/httpserver:0.17.0"})
    );
    let lp: StartProviderCommand = decode(&body);
    assert_eq!(lp.configuration.as_deref(), Some("{\"a\":1}"));

    // start_provider without a host: ping.hosts first, an immediate accepted ack, then the
    // lp to the first host that answered, sent in the background.
    let ack = within(
        STEP,
        "start_provider no host",
        cic.start_provider(
            "",
            "wasmcloud.azurecr.io/httpserver:0.17.0",
            None,
            None,
            None,
        ),
    )
    .await
    .expect("start_provider");
    assert!(ack.accepted && ack.error.is_empty(), "{ack:?}");
    expect_request(&mut rx, &ctl("ping.hosts")).await;
    let body = expect_request(&mut rx, &ctl(&format!("cmd.{HOST}.lp"))).await;
    assert_eq!(
        body,
        json!({"host_id": HOST, "link_name": "default",
               "provider_ref": "wasmcloud.azurecr.io/httpserver:0.17.0"})
    );

    // stop_provider → cmd.{h}.sp
    within(
        STEP,
        "stop_provider",
        cic.stop_provider(HOST, PROVIDER, "default", "wasmcloud:httpserver", None),
    )
    .await
    .expect("stop_provider");
    let body = expect_request(&mut rx, &ctl(&format!("cmd.{HOST}.sp"))).await;
    assert_eq!(
        body,
        json!({"contract_id": "wasmcloud:httpserver", "host_id": HOST, "link_name": "default",
               "provider_ref": PROVIDER})
    );
    let _: StopProviderCommand = decode(&body);

    // stop_host → cmd.{h}.stop
    within(STEP, "stop_host", cic.stop_host(HOST, Some(2000)))
        .await
        .expect("stop_host");
    let body = expect_request(&mut rx, &ctl(&format!("cmd.{HOST}.stop"))).await;
    assert_eq!(body, json!({"host_id": HOST, "timeout": 2000}));
    let stop: StopHostCommand = decode(&body);
    assert_eq!(stop.timeout, Some(2000));

    // Auctions: scatter/gather for the whole auction timeout.
    let acks = within(
        STEP,
        "actor auction",
        cic.perform_actor_auction(
            "wasmcloud.azurecr.io/echo:0.3.4",
            string_map(&[("region", "eu")]),
        ),
    )
    .await
    .expect("actor auction");
    let body = expect_request(&mut rx, &ctl("auction.actor")).await;
    assert_eq!(
        body,
        json!({"actor_ref": "wasmcloud.azurecr.io/echo:0.3.4", "constraints": {"region": "eu"}})
    );
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].host_id, HOST);
    let acks = within(
        STEP,
        "provider auction",
        cic.perform_provider_auction(
            "wasmcloud.azurecr.io/httpserver:0.17.0",
            "default",
            HashMap::new(),
        ),
    )
    .await
    .expect("provider auction");
    let body = expect_request(&mut rx, &ctl("auction.provider")).await;
    assert_eq!(
        body,
        json!({"constraints": {}, "link_name": "default",
               "provider_ref": "wasmcloud.azurecr.io/httpserver:0.17.0"})
    );
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].host_id, HOST);
    assert_eq!(acks[0].link_name, "default");

    // put_registries: a plain publish, no reply expected.
    let mut creds = HashMap::new();
    creds.insert(
        "ghcr.io".to_string(),
        wasmcloud_control_interface::RegistryCredential {
            username: Some("u".into()),
            password: Some("p".into()),
            token: None,
            registry_type: "oci".into(),
        },
    );
    within(STEP, "put_registries", cic.put_registries(creds))
        .await
        .expect("put_registries");
    within(STEP, "flush 0.31", nc031.flush())
        .await
        .expect("flush");
    let body = expect_request(&mut rx, &ctl("registries.put")).await;
    assert_eq!(
        body,
        json!({"ghcr.io": {"password": "p", "username": "u", "registryType": "oci"}})
    );
    let _: RegistryCredentialMap = decode(&body);

    // events_receiver: a subscription to wasmbus.evt.{lattice}, CloudEvents parsed into
    // cloudevents-sdk 0.7 `Event`s and handed over through an mpsc of 5000.
    let mut events = within(STEP, "events_receiver", cic.events_receiver())
        .await
        .expect("events_receiver");
    round_trip_031(&nc031).await;
    let event = LatticeEvent::new(
        "8b7a0000-0000-4000-8000-000000000000",
        HOST,
        chrono::Utc::now(),
        EventData::ActorStarted(ActorStarted {
            public_key: ACTOR.into(),
            image_ref: Some("wasmcloud.azurecr.io/echo:0.3.4".into()),
            api_version: Some("n/a".into()),
            instance_id: "6d1c0000-0000-4000-8000-000000000000".into(),
            annotations: BTreeMap::new(),
            claims: None,
        }),
    );
    // Not a CloudEvent: logged and skipped by the client.
    within(
        STEP,
        "publish junk",
        bus.publish("wasmbus.evt.default", Bytes::from_static(b"{\"x\":1}")),
    )
    .await
    .expect("publish");
    within(
        STEP,
        "publish event",
        bus.publish(
            "wasmbus.evt.default",
            Bytes::from(event.to_json().expect("encode")),
        ),
    )
    .await
    .expect("publish");
    let got = within(STEP, "event", events.recv())
        .await
        .expect("event channel open");
    let got = serde_json::to_value(&got).expect("event as json");
    assert_eq!(got["type"], "com.wasmcloud.lattice.actor_started");
    assert_eq!(got["source"], HOST);
    assert_eq!(got["data"]["public_key"], ACTOR);

    // Nothing else was sent.
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected request: {extra:?}");
    }
}

/// Without the bucket, 0.28 falls back to the deprecated request/reply subjects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cic_without_the_bucket_uses_the_legacy_subjects() {
    let server = NatsServer::start();
    let bus = connect_bus(&server.url()).await;
    let mut rx = spawn_recorder(bus.nats_client().expect("client")).await;
    let (cic, _nc) = cic_client(&server, "legacy").await;
    let ctl = |rest: &str| format!("wasmbus.ctl.legacy.{rest}");

    let links = within(STEP, "query_links", cic.query_links())
        .await
        .expect("query_links");
    assert_eq!(
        expect_request(&mut rx, &ctl("get.links")).await,
        Value::Null
    );
    assert_eq!(links.links.len(), 1);
    assert_eq!(links.links[0].values["PORT"], "8080");

    let claims = within(STEP, "get_claims", cic.get_claims())
        .await
        .expect("get_claims");
    assert_eq!(
        expect_request(&mut rx, &ctl("get.claims")).await,
        Value::Null
    );
    assert_eq!(claims.claims[0]["sub"], ACTOR);

    let ack = within(
        STEP,
        "advertise_link",
        cic.advertise_link(
            ACTOR,
            PROVIDER,
            "wasmcloud:httpserver",
            "default",
            string_map(&[("PORT", "8080")]),
        ),
    )
    .await
    .expect("advertise_link");
    assert!(ack.accepted);
    let body = expect_request(&mut rx, &ctl("linkdefs.put")).await;
    assert_eq!(
        body,
        json!({"actor_id": ACTOR, "provider_id": PROVIDER, "link_name": "default",
               "contract_id": "wasmcloud:httpserver", "values": {"PORT": "8080"}})
    );
    let put: LinkDefinition = decode(&body);
    assert_eq!(put.id, "");

    // The removal request is a whole LinkDefinition with empty provider and values.
    let ack = within(
        STEP,
        "remove_link",
        cic.remove_link(ACTOR, "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("remove_link");
    assert!(ack.accepted);
    let body = expect_request(&mut rx, &ctl("linkdefs.del")).await;
    assert_eq!(
        body,
        json!({"actor_id": ACTOR, "provider_id": "", "link_name": "default",
               "contract_id": "wasmcloud:httpserver", "values": {}})
    );
    let del: RemoveLinkDefinitionRequest = decode(&body);
    assert_eq!(del.contract_id, "wasmcloud:httpserver");
}
