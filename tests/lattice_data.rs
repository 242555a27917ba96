//! `LatticeData` contract: the same cases run against the memory backend and the
//! `LATTICEDATA_{lattice}` bucket on a real nats-server, plus NATS-only cases (bucket settings,
//! raw writes like control-interface clients do them, malformed values, server restart) and a
//! memory-only case (a lagging watcher re-syncs).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::IntoFuture as _;
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use common::{NatsServer, connect_bus, within};
use futures::TryStreamExt as _;
use lattice_tui::host::lattice_data::{DataError, LatticeData, LinkChange, LinkWatch, RefMap};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::protocol::{ClaimsMap, LinkDefinition, linkdef_hash};

/// Generous bound for one step that should take milliseconds.
const STEP: Duration = Duration::from_secs(10);

/// Lattice used by every test (each NATS test has its own server).
const LATTICE: &str = "testlat";

/// Generates `memory_backend::<case>` and `nats_backend::<case>` for every case. Each case
/// gets two handles on the same data: for memory a clone, for NATS a second connection that
/// opens the existing bucket.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let data = lattice_tui::host::lattice_data::LatticeData::memory();
                    super::$case(data.clone(), data).await;
                }
            )*
        }
        mod nats_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let server = crate::common::NatsServer::start();
                    let (_bus1, data) = super::open_nats(&server).await;
                    let (_bus2, other) = super::open_nats(&server).await;
                    super::$case(data, other).await;
                    drop(server);
                }
            )*
        }
    };
}

contract!(
    case_put_and_list_links,
    case_put_same_key_replaces,
    case_delete_returns_the_link,
    case_delete_missing_is_none,
    case_claims_round_trip,
    case_claims_need_a_subject,
    case_refmaps_round_trip,
    case_watch_replays_then_follows,
    case_watch_sees_other_handles,
    case_dropping_one_watch_leaves_others,
);

// ---------------------------------------------------------------------------------------
// helpers

async fn open_nats(server: &NatsServer) -> (Bus, LatticeData) {
    let bus = connect_bus(&server.url()).await;
    let client = bus.nats_client().expect("a NATS bus has a client");
    let data = within(STEP, "open bucket", LatticeData::nats(client, LATTICE))
        .await
        .expect("open or create the bucket");
    (bus, data)
}

fn link(actor: &str, contract: &str, link_name: &str, values: &[(&str, &str)]) -> LinkDefinition {
    LinkDefinition {
        id: String::new(),
        actor_id: actor.to_string(),
        provider_id: format!("V{}", actor.trim_start_matches('M')),
        link_name: link_name.to_string(),
        contract_id: contract.to_string(),
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// `l` as it must come back: `id` = the real hash of its key fields.
fn stored(l: &LinkDefinition) -> LinkDefinition {
    LinkDefinition {
        id: linkdef_hash(&l.actor_id, &l.contract_id, &l.link_name),
        ..l.clone()
    }
}

fn claims(sub: &str, name: &str) -> ClaimsMap {
    [
        ("sub", sub),
        ("iss", "ACACCOUNT"),
        ("name", name),
        ("call_alias", ""),
        ("caps", "wasmcloud:httpserver,wasmcloud:builtin:logging"),
        ("rev", "4"),
        ("tags", ""),
        ("version", "0.3.4"),
        ("contract_id", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn put(data: &LatticeData, l: &LinkDefinition) {
    within(STEP, "put_link", data.put_link(l))
        .await
        .expect("put_link");
}

async fn links(data: &LatticeData) -> Vec<LinkDefinition> {
    within(STEP, "links", data.links()).await.expect("links")
}

async fn watch(data: &LatticeData) -> LinkWatch {
    within(STEP, "watch_links", data.watch_links())
        .await
        .expect("watch_links")
}

async fn next(w: &mut LinkWatch) -> LinkChange {
    within(STEP, "next link change", w.next())
        .await
        .expect("the watch never ends while held")
}

/// The next `n` changes, order-free (a replay has no defined order).
async fn next_n(w: &mut LinkWatch, n: usize) -> Vec<LinkChange> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(next(w).await);
    }
    out.sort_by(|a, b| a.link().actor_id.cmp(&b.link().actor_id));
    out
}

/// Asserts that nothing arrives on the watch for a short while.
async fn assert_quiet(w: &mut LinkWatch) {
    if let Ok(change) = tokio::time::timeout(Duration::from_millis(300), w.next()).await {
        panic!("unexpected change: {change:?}");
    }
}

// ---------------------------------------------------------------------------------------
// contract cases

async fn case_put_and_list_links(data: LatticeData, other: LatticeData) {
    let b = link(
        "MB",
        "wasmcloud:keyvalue",
        "default",
        &[("URL", "redis://x")],
    );
    let a = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "8080")]);
    let a2 = link("MA", "wasmcloud:httpserver", "other", &[]);
    put(&data, &b).await;
    put(&data, &a).await;
    put(&data, &a2).await;
    let got = links(&other).await;
    assert_eq!(got, vec![stored(&a), stored(&a2), stored(&b)]);
    // The id is the real hash, not whatever the caller put in.
    let mut wrong_id = a.clone();
    wrong_id.id = "bogus".into();
    put(&data, &wrong_id).await;
    assert_eq!(links(&other).await[0].id, stored(&a).id);
    // The hash the Elixir host computes for these fields (quoted by control-interface's
    // `test_hash_compatibility`), independent of our own hashing code.
    let elixir = link("Mbob", "wasmcloud:testy", "default", &[]);
    put(&data, &elixir).await;
    let got = links(&other).await;
    let bob = got
        .iter()
        .find(|l| l.actor_id == "Mbob")
        .expect("Mbob link");
    assert_eq!(
        bob.id,
        "B40411AD09B70A2C83D59923584F66BA2C5A3C274DC4F19416DA49CCD6531F9C"
    );
}

async fn case_put_same_key_replaces(data: LatticeData, other: LatticeData) {
    let a = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "8080")]);
    let a_new = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "9090")]);
    put(&data, &a).await;
    put(&other, &a_new).await;
    assert_eq!(links(&data).await, vec![stored(&a_new)]);
}

async fn case_delete_returns_the_link(data: LatticeData, other: LatticeData) {
    let a = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "8080")]);
    let b = link("MB", "wasmcloud:httpserver", "default", &[]);
    put(&data, &a).await;
    put(&data, &b).await;
    let removed = within(
        STEP,
        "delete_link",
        other.delete_link("MA", "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("delete_link");
    assert_eq!(removed, Some(stored(&a)));
    assert_eq!(links(&data).await, vec![stored(&b)]);
    // A second delete finds nothing.
    let again = within(
        STEP,
        "delete_link again",
        data.delete_link("MA", "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("delete_link again");
    assert_eq!(again, None);
    // Re-adding after a delete works.
    put(&data, &a).await;
    assert_eq!(links(&other).await, vec![stored(&a), stored(&b)]);
}

async fn case_delete_missing_is_none(data: LatticeData, _other: LatticeData) {
    let removed = within(
        STEP,
        "delete_link",
        data.delete_link("MNOPE", "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("deleting a missing link is not an error");
    assert_eq!(removed, None);
    assert!(links(&data).await.is_empty());
}

async fn case_claims_round_trip(data: LatticeData, other: LatticeData) {
    let actor = claims("MBECHO", "echo");
    let mut provider = claims("VAHTTP", "HTTP Server");
    provider.insert("contract_id".into(), "wasmcloud:httpserver".into());
    within(STEP, "put_claims", data.put_claims(&provider))
        .await
        .expect("put_claims");
    within(STEP, "put_claims", data.put_claims(&actor))
        .await
        .expect("put_claims");
    let got = within(STEP, "claims", other.claims())
        .await
        .expect("claims");
    assert_eq!(got, vec![actor.clone(), provider]);
    // Same key replaces.
    let mut actor2 = actor;
    actor2.insert("rev".into(), "5".into());
    within(STEP, "put_claims", other.put_claims(&actor2))
        .await
        .expect("put_claims");
    let got = within(STEP, "claims", data.claims()).await.expect("claims");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["rev"], "5");
    // Claims do not show up as links and vice versa.
    assert!(links(&data).await.is_empty());
}

async fn case_claims_need_a_subject(data: LatticeData, _other: LatticeData) {
    let mut c = claims("MX", "x");
    c.remove("sub");
    let err = within(STEP, "put_claims", data.put_claims(&c))
        .await
        .expect_err("claims without sub");
    assert!(matches!(err, DataError::MissingSubject), "{err:?}");
    c.insert("sub".into(), String::new());
    let err = within(STEP, "put_claims", data.put_claims(&c))
        .await
        .expect_err("claims with empty sub");
    assert!(matches!(err, DataError::MissingSubject), "{err:?}");
}

async fn case_refmaps_round_trip(data: LatticeData, other: LatticeData) {
    within(
        STEP,
        "put_refmap",
        data.put_refmap("wasmcloud.azurecr.io/echo:0.3.4", "MBECHO"),
    )
    .await
    .expect("put_refmap");
    within(
        STEP,
        "put_refmap",
        data.put_refmap("file:///tmp/a b?.wasm", "MBFILE"),
    )
    .await
    .expect("put_refmap with characters a key cannot hold");
    let got = within(STEP, "refmaps", other.refmaps())
        .await
        .expect("refmaps");
    assert_eq!(
        got,
        vec![
            RefMap {
                oci_url: "file:///tmp/a b?.wasm".into(),
                public_key: "MBFILE".into()
            },
            RefMap {
                oci_url: "wasmcloud.azurecr.io/echo:0.3.4".into(),
                public_key: "MBECHO".into()
            },
        ]
    );
}

async fn case_watch_replays_then_follows(data: LatticeData, other: LatticeData) {
    let a = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "8080")]);
    let b = link(
        "MB",
        "wasmcloud:keyvalue",
        "default",
        &[("URL", "redis://x")],
    );
    put(&data, &a).await;
    put(&data, &b).await;
    // A link put and removed before the watch starts is not replayed.
    let gone = link("MG", "wasmcloud:httpserver", "default", &[]);
    put(&data, &gone).await;
    within(
        STEP,
        "delete",
        data.delete_link("MG", "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("delete");
    // Claims are not links.
    within(STEP, "put_claims", data.put_claims(&claims("MA", "a")))
        .await
        .expect("put_claims");

    let mut w = watch(&other).await;
    assert_eq!(
        next_n(&mut w, 2).await,
        vec![LinkChange::Set(stored(&a)), LinkChange::Set(stored(&b))]
    );
    assert_quiet(&mut w).await;

    // Live: a new link, new values for an existing one, a removal with full fields.
    let c = link("MC", "wasmcloud:messaging", "backup", &[("SUB", "x.>")]);
    put(&data, &c).await;
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&c)));
    let a2 = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "9090")]);
    put(&data, &a2).await;
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&a2)));
    within(
        STEP,
        "delete",
        data.delete_link("MB", "wasmcloud:keyvalue", "default"),
    )
    .await
    .expect("delete");
    let deleted = next(&mut w).await;
    assert_eq!(deleted, LinkChange::Deleted(stored(&b)));
    let LinkChange::Deleted(full) = deleted else {
        unreachable!()
    };
    assert_eq!(full.provider_id, "VB");
    assert_eq!(full.values["URL"], "redis://x");
    // Deleting what is already gone is silent.
    within(
        STEP,
        "delete",
        data.delete_link("MB", "wasmcloud:keyvalue", "default"),
    )
    .await
    .expect("delete");
    within(STEP, "put_claims", data.put_claims(&claims("MZ", "z")))
        .await
        .expect("put_claims");
    assert_quiet(&mut w).await;
}

async fn case_watch_sees_other_handles(data: LatticeData, other: LatticeData) {
    let mut w = watch(&data).await;
    let a = link("MA", "wasmcloud:httpserver", "default", &[]);
    put(&other, &a).await;
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&a)));
    within(
        STEP,
        "delete",
        other.delete_link("MA", "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("delete");
    assert_eq!(next(&mut w).await, LinkChange::Deleted(stored(&a)));
}

async fn case_dropping_one_watch_leaves_others(data: LatticeData, _other: LatticeData) {
    let mut w1 = watch(&data).await;
    let w2 = watch(&data).await;
    drop(w2);
    for i in 0..5 {
        put(&data, &link(&format!("M{i}"), "c:x", "default", &[])).await;
    }
    let got: BTreeSet<String> = next_n(&mut w1, 5)
        .await
        .into_iter()
        .map(|c| c.link().actor_id.clone())
        .collect();
    assert_eq!(got.len(), 5);
}

// ---------------------------------------------------------------------------------------
// memory only

/// A watcher that is not read while many changes happen falls behind the memory broadcast
/// buffer; it re-syncs and still converges: every live link is Set, every removed one Deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_lagging_watch_resyncs_and_converges() {
    let data = LatticeData::memory();
    let mut w = watch(&data).await;
    const N: usize = 700;
    for i in 0..N {
        put(&data, &link(&format!("M{i:04}"), "c:x", "default", &[])).await;
    }
    // Writers never wait for watchers.
    let mut seen = BTreeSet::new();
    while seen.len() < N {
        match next(&mut w).await {
            LinkChange::Set(l) => {
                seen.insert(l.actor_id);
            }
            LinkChange::Deleted(l) => panic!("nothing was deleted: {l:?}"),
        }
    }
    for i in 0..N / 2 {
        within(
            STEP,
            "delete",
            data.delete_link(&format!("M{i:04}"), "c:x", "default"),
        )
        .await
        .expect("delete");
    }
    let mut deleted = BTreeSet::new();
    while deleted.len() < N / 2 {
        match next(&mut w).await {
            LinkChange::Deleted(l) => {
                deleted.insert(l.actor_id);
            }
            LinkChange::Set(l) => panic!("unexpected set: {l:?}"),
        }
    }
    assert_eq!(deleted.iter().next().map(String::as_str), Some("M0000"));
    assert_quiet(&mut w).await;
    assert_eq!(links(&data).await.len(), N - N / 2);
}

// ---------------------------------------------------------------------------------------
// NATS only

fn js(bus: &Bus) -> jetstream::Context {
    jetstream::new(bus.nats_client().expect("nats client"))
}

fn kv_subject(key: &str) -> String {
    format!("$KV.LATTICEDATA_{LATTICE}.{key}")
}

fn link_subject(l: &LinkDefinition) -> String {
    kv_subject(&format!(
        "LINKDEF_{}",
        linkdef_hash(&l.actor_id, &l.contract_id, &l.link_name)
    ))
}

/// A JetStream publish, acknowledged, as control-interface clients write the bucket.
async fn raw_publish(js: &jetstream::Context, subject: String, body: impl Into<Bytes>) {
    let ack = within(STEP, "js publish", js.publish(subject, body.into()))
        .await
        .expect("js publish");
    within(STEP, "js ack", ack.into_future())
        .await
        .expect("js ack");
}

/// A KV removal without a value: `KV-Operation: DEL` (control-interface) or `PURGE` with a
/// roll-up (OTP host, async-nats `purge`).
async fn raw_remove(js: &jetstream::Context, subject: String, op: &str) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("KV-Operation", op);
    if op == "PURGE" {
        headers.insert("Nats-Rollup", "sub");
    }
    let ack = within(
        STEP,
        "js publish with headers",
        js.publish_with_headers(subject, headers, Bytes::new()),
    )
    .await
    .expect("js publish with headers");
    within(STEP, "js ack", ack.into_future())
        .await
        .expect("js ack");
}

/// The JSON control-interface 0.28 writes for a link: no `id`.
fn cic_json(l: &LinkDefinition) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "actor_id": l.actor_id,
        "provider_id": l.provider_id,
        "link_name": l.link_name,
        "contract_id": l.contract_id,
        "values": l.values,
    }))
    .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_creates_the_bucket_with_otp_settings() {
    let server = NatsServer::start();
    let (bus, _data) = open_nats(&server).await;
    let mut stream = within(
        STEP,
        "get stream",
        js(&bus).get_stream(format!("KV_LATTICEDATA_{LATTICE}")),
    )
    .await
    .expect("the bucket's stream exists");
    let info = within(STEP, "stream info", stream.info())
        .await
        .expect("stream info");
    let c = &info.config;
    assert_eq!(c.max_messages_per_subject, 1);
    assert_eq!(c.storage, jetstream::stream::StorageType::File);
    assert!(c.allow_direct, "allow_direct");
    assert!(c.deny_delete, "deny_delete");
    assert!(c.allow_rollup, "allow_rollup_hdrs");
    assert_eq!(c.subjects, vec![format!("$KV.LATTICEDATA_{LATTICE}.>")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_opens_an_existing_bucket_as_it_is() {
    let server = NatsServer::start();
    let bus = connect_bus(&server.url()).await;
    // Someone else created it, with settings of their own (memory storage).
    let store = within(
        STEP,
        "create kv",
        js(&bus).create_key_value(jetstream::kv::Config {
            bucket: format!("LATTICEDATA_{LATTICE}"),
            history: 1,
            storage: jetstream::stream::StorageType::Memory,
            ..Default::default()
        }),
    )
    .await
    .expect("create kv");
    let a = link("MA", "wasmcloud:httpserver", "default", &[]);
    within(
        STEP,
        "kv put",
        store.put(
            format!("LINKDEF_{}", stored(&a).id),
            serde_json::to_vec(&stored(&a)).expect("json").into(),
        ),
    )
    .await
    .expect("kv put");

    let (_bus2, data) = open_nats(&server).await;
    assert_eq!(links(&data).await, vec![stored(&a)]);
    let info = within(
        STEP,
        "stream info",
        js(&bus).get_stream(format!("KV_LATTICEDATA_{LATTICE}")),
    )
    .await
    .expect("stream");
    assert_eq!(
        info.cached_info().config.storage,
        jetstream::stream::StorageType::Memory,
        "an existing bucket is not reconfigured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_invalid_lattice_name_is_an_open_error() {
    let server = NatsServer::start();
    let bus = connect_bus(&server.url()).await;
    let client = bus.nats_client().expect("client");
    let err = within(STEP, "open", LatticeData::nats(client, "bad.name"))
        .await
        .expect_err("a dot cannot be in a bucket name");
    assert!(
        matches!(&err, DataError::Open { bucket, .. } if bucket == "LATTICEDATA_bad.name"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_links_written_directly_by_clients_are_seen() {
    let server = NatsServer::start();
    let (bus, data) = open_nats(&server).await;
    let js = js(&bus);
    let before = link("MP", "wasmcloud:httpserver", "default", &[("PORT", "1")]);
    raw_publish(&js, link_subject(&before), cic_json(&before)).await;

    let mut w = watch(&data).await;
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&before)));

    let a = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "8080")]);
    let b = link(
        "MB",
        "wasmcloud:keyvalue",
        "default",
        &[("URL", "redis://x")],
    );
    raw_publish(&js, link_subject(&a), cic_json(&a)).await;
    raw_publish(&js, link_subject(&b), cic_json(&b)).await;
    // The id missing from the client's JSON is filled with the real hash.
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&a)));
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&b)));
    assert_eq!(
        links(&data).await,
        vec![stored(&a), stored(&b), stored(&before)]
    );

    // Client delete: `KV-Operation: DEL`, empty body: the watch still knows every field.
    raw_remove(&js, link_subject(&a), "DEL").await;
    let LinkChange::Deleted(full) = next(&mut w).await else {
        panic!("expected a deletion")
    };
    assert_eq!(full, stored(&a));
    assert_eq!(full.provider_id, "VA");
    assert_eq!(full.values["PORT"], "8080");
    // OTP delete: `KV-Operation: PURGE` with a roll-up.
    raw_remove(&js, link_subject(&b), "PURGE").await;
    assert_eq!(next(&mut w).await, LinkChange::Deleted(stored(&b)));
    raw_remove(&js, link_subject(&before), "DEL").await;
    assert_eq!(next(&mut w).await, LinkChange::Deleted(stored(&before)));
    assert!(links(&data).await.is_empty());

    // A watch started now replays nothing: removed keys leave only markers.
    let mut w2 = watch(&data).await;
    assert_quiet(&mut w2).await;
    // Our own delete_link is a purge the other watch sees as well.
    put(&data, &a).await;
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&a)));
    assert_eq!(next(&mut w2).await, LinkChange::Set(stored(&a)));
    within(
        STEP,
        "delete",
        data.delete_link("MA", "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("delete");
    assert_eq!(next(&mut w).await, LinkChange::Deleted(stored(&a)));
    assert_eq!(next(&mut w2).await, LinkChange::Deleted(stored(&a)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_malformed_values_are_skipped_and_the_watch_lives_on() {
    let server = NatsServer::start();
    let (bus, data) = open_nats(&server).await;
    let js = js(&bus);
    // Malformed before the watch starts (replay path)…
    raw_publish(&js, kv_subject("LINKDEF_GARBAGE1"), "not json").await;
    raw_publish(
        &js,
        kv_subject("CLAIMS_MBAD"),
        r#"{"sub":"MBAD","caps":["x"]}"#,
    )
    .await;
    let good = claims("MGOOD", "good");
    within(STEP, "put_claims", data.put_claims(&good))
        .await
        .expect("put_claims");
    let mut w = watch(&data).await;
    assert_quiet(&mut w).await;

    // …and after (live path): not JSON, JSON of the wrong shape, a non-object.
    raw_publish(&js, kv_subject("LINKDEF_GARBAGE2"), "{{{").await;
    raw_publish(&js, kv_subject("LINKDEF_GARBAGE3"), r#"{"actor":"MX"}"#).await;
    raw_publish(&js, kv_subject("LINKDEF_GARBAGE4"), "[1,2]").await;
    let a = link("MA", "wasmcloud:httpserver", "default", &[]);
    put(&data, &a).await;
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&a)));

    // A malformed overwrite of a known link is skipped too: the link stays known, and its
    // later removal still carries every field.
    raw_publish(&js, link_subject(&a), "garbage").await;
    raw_remove(&js, link_subject(&a), "DEL").await;
    assert_eq!(next(&mut w).await, LinkChange::Deleted(stored(&a)));

    assert!(links(&data).await.is_empty());
    let got = within(STEP, "claims", data.claims()).await.expect("claims");
    assert_eq!(got, vec![good]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_watch_survives_a_server_restart() {
    let mut server = NatsServer::start();
    let (_bus, data) = open_nats(&server).await;
    let a = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "8080")]);
    put(&data, &a).await;
    let mut w = watch(&data).await;
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&a)));

    server.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();

    // The client reconnects on its own; writes may fail until it has.
    let b = link(
        "MB",
        "wasmcloud:keyvalue",
        "default",
        &[("URL", "redis://x")],
    );
    within(Duration::from_secs(40), "put after restart", async {
        loop {
            match data.put_link(&b).await {
                Ok(()) => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    })
    .await;
    let change = within(Duration::from_secs(40), "change after restart", w.next())
        .await
        .expect("the watch did not end");
    assert_eq!(change, LinkChange::Set(stored(&b)));

    let removed = within(
        STEP,
        "delete after restart",
        data.delete_link("MA", "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("delete");
    assert_eq!(removed, Some(stored(&a)));
    assert_eq!(next(&mut w).await, LinkChange::Deleted(stored(&a)));
    assert_eq!(links(&data).await, vec![stored(&b)]);
    let values: BTreeMap<_, _> = stored(&b).values;
    assert_eq!(values["URL"], "redis://x");
}

/// Collects formatted tracing output of the current thread.
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

/// When the JetStream watcher under a watch fails (here: a message that is not a JetStream
/// delivery lands on its deliver subject), the watch re-syncs and follows again: no duplicate
/// replay of known links, later changes still arrive with full fields.
///
/// Current-thread runtime so that the thread-local log capture sees the watch task.
#[tokio::test(flavor = "current_thread")]
async fn nats_watch_resyncs_when_its_watcher_fails() {
    let logs = LogBuf::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = NatsServer::start();
    let (bus, data) = open_nats(&server).await;
    let a = link("MA", "wasmcloud:httpserver", "default", &[("PORT", "8080")]);
    let b = link(
        "MB",
        "wasmcloud:keyvalue",
        "default",
        &[("URL", "redis://x")],
    );
    put(&data, &a).await;
    put(&data, &b).await;
    let mut w = watch(&data).await;
    assert_eq!(
        next_n(&mut w, 2).await,
        vec![LinkChange::Set(stored(&a)), LinkChange::Set(stored(&b))]
    );

    // Break every push consumer's delivery with a message that has no JetStream metadata.
    let stream = within(
        STEP,
        "get stream",
        js(&bus).get_stream(format!("KV_LATTICEDATA_{LATTICE}")),
    )
    .await
    .expect("stream");
    let consumers: Vec<jetstream::consumer::Info> =
        within(STEP, "list consumers", stream.consumers().try_collect())
            .await
            .expect("consumers");
    let client = bus.nats_client().expect("client");
    let mut broken = 0;
    for c in consumers {
        if let Some(deliver) = c.config.deliver_subject {
            within(STEP, "publish", client.publish(deliver, "junk".into()))
                .await
                .expect("publish");
            broken += 1;
        }
    }
    assert!(broken >= 1, "the watch has a push consumer");
    within(STEP, "flush", client.flush()).await.expect("flush");

    // Changes during and after the re-sync arrive once, with full fields.
    within(
        STEP,
        "delete",
        data.delete_link("MA", "wasmcloud:httpserver", "default"),
    )
    .await
    .expect("delete");
    assert_eq!(next(&mut w).await, LinkChange::Deleted(stored(&a)));
    let c = link("MC", "wasmcloud:messaging", "default", &[]);
    put(&data, &c).await;
    assert_eq!(next(&mut w).await, LinkChange::Set(stored(&c)));
    within(Duration::from_secs(20), "re-sync logged", async {
        while !logs.text().contains("link watch re-synced") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let text = logs.text();
    assert!(text.contains("link watcher stopped; re-syncing"), "{text}");
    // After the re-sync the watch still follows live changes.
    within(
        STEP,
        "delete",
        data.delete_link("MB", "wasmcloud:keyvalue", "default"),
    )
    .await
    .expect("delete");
    assert_eq!(next(&mut w).await, LinkChange::Deleted(stored(&b)));
    assert_quiet(&mut w).await;
}
