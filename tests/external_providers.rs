//! External capability providers as the OTP host ran them, with a real provider written on
//! `wasmbus-rpc` 0.15's provider SDK (`assets/providers/kv-memory`, packed into a `.par.gz`
//! by provider-archive 0.8 as wash 0.20 did): `cmd.{host}.lp` with the archive starts it with
//! the host data line, it is told the links, an era actor calls it over lattice RPC, its
//! health is checked, a crash is reported and it is restarted, and `cmd.{host}.sp` stops it
//! with `shutdown`. Refusals: no archive, a plain executable without a contract, a file the
//! policy does not allow, an in-process lattice.

mod common;

use std::time::Duration;

use common::era::{era_providers_dir, signed_file};
use common::lattice::{T, ack, event};
use common::{NatsServer, connect_bus, free_port, http_get, scaled, within};
use lattice_tui::host::rpc::RpcLink;
use lattice_tui::host::rpc::wire::{WasmCloudEntity, from_msgpack, to_msgpack};
use lattice_tui::host::{self, HostConfig};
use lattice_tui::lattice::bus::Bus;
use lattice_tui::lattice::protocol::interfaces::{GetResponse, SetRequest};
use lattice_tui::lattice::protocol::{EventData, LinkDefinition, StringMap};
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use nkeys::KeyPair;
use serde_json::json;

const HTTP: &str = "wasmcloud:httpserver";
const KV: &str = "wasmcloud:keyvalue";

fn config(allow: std::path::PathBuf) -> HostConfig {
    config_with(allow, &KeyPair::new_cluster().seed().unwrap())
}

fn config_with(allow: std::path::PathBuf, cluster_seed: &str) -> HostConfig {
    let mut cfg = HostConfig::new("default");
    cfg.identity.cluster_seed = Some(cluster_seed.to_string());
    cfg.allow_file_load = vec![allow];
    cfg
}

async fn get_when(port: u16, path: &str, want: impl Fn(u16, &str) -> bool) -> (u16, String) {
    common::era::get_until(port, path, scaled(Duration::from_secs(30)), want).await
}

/// Kills every process whose command line contains `needle` with SIGKILL; how many.
fn kill9(needle: &str) -> usize {
    let out = std::process::Command::new("pkill")
        .args(["-9", "-f", needle])
        .status()
        .expect("pkill");
    usize::from(out.success())
}

fn running(needle: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", needle])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_provider_from_an_archive_serves_an_era_actor_is_restarted_and_stopped() {
    let dir = era_providers_dir();
    let par = dir.join("kv-memory.par.gz");
    let nats = NatsServer::start();
    let bus = connect_bus(&nats.url()).await;
    let s = Subjects::new("default");
    let mut events = bus.subscribe(&s.events()).await.unwrap();
    let seed = KeyPair::new_cluster().seed().unwrap();
    let h = host::start(
        connect_bus(&nats.url()).await,
        config_with(dir.clone(), &seed),
    )
    .await
    .unwrap();
    let id = h.id();

    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::LaunchProvider),
        json!({"provider_ref": par.to_string_lossy(), "link_name": "default", "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    let started = event(
        &mut events,
        "provider_started",
        |e| matches!(&e.data, EventData::ProviderStarted(p) if p.contract_id == KV),
    )
    .await;
    let EventData::ProviderStarted(p) = started.data else {
        unreachable!()
    };
    let provider_pk = p.public_key.clone();
    assert!(provider_pk.starts_with('V') && provider_pk.len() == 56);
    assert_eq!(p.link_name, "default");
    let inv = common::lattice::inventory(&bus, &s, &id).await;
    assert!(
        inv.providers
            .iter()
            .any(|d| d.id == provider_pk && d.contract_id == KV),
        "{inv:?}"
    );

    // An era counter linked to it counts through the SDK's provider.
    let actors = tempfile::tempdir().unwrap();
    let (counter, counter_pk) = signed_file(actors.path(), "era-counter", &[HTTP, KV], None);
    h.start_actor(&counter.to_string_lossy(), 1, StringMap::new())
        .await
        .unwrap();
    let port = free_port();
    h.serve_http(&counter_pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .unwrap();
    let link = LinkDefinition {
        id: String::new(),
        actor_id: counter_pk.clone(),
        provider_id: provider_pk.clone(),
        link_name: "default".into(),
        contract_id: KV.into(),
        values: StringMap::new(),
    }
    .with_id();
    h.data().put_link(&link).await.unwrap();
    // The provider learns the link from linkdefs.put (it refuses unlinked actors otherwise).
    let (_, body) = get_when(port, "/c", |s, _| s == 200).await;
    assert_eq!(body, "1");
    for want in 2..=3 {
        assert_eq!(http_get(port, "/c").await.unwrap(), (200, want.to_string()));
    }

    // 1 MiB in and out: the request and the SDK's reply both go through the lattice's object
    // store (§4.4), and the SDK provider reads ours and we read its.
    let link_rpc = RpcLink::new(
        bus.clone(),
        "default",
        &id,
        KeyPair::from_seed(&seed).unwrap(),
        vec![KeyPair::from_seed(&seed).unwrap().public_key()],
        scaled(Duration::from_secs(10)),
    );
    let value: String = (0..1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let set = SetRequest {
        key: "big".into(),
        value: value.clone(),
        expires: 0,
    };
    let kv = WasmCloudEntity::provider(provider_pk.clone(), KV, "default");
    within(
        T,
        "a chunked Set",
        link_rpc.call(
            WasmCloudEntity::actor(counter_pk.clone()),
            kv.clone(),
            "KeyValue.Set",
            to_msgpack(&set).unwrap(),
        ),
    )
    .await
    .expect("the SDK provider took a chunked Set");
    let out = within(
        T,
        "a chunked Get",
        link_rpc.call(
            WasmCloudEntity::actor(counter_pk.clone()),
            kv,
            "KeyValue.Get",
            to_msgpack(&"big").unwrap(),
        ),
    )
    .await
    .expect("the SDK provider answered a Get");
    let got: GetResponse = from_msgpack(&out).unwrap();
    assert!(
        got.exists && got.value == value,
        "the 1 MiB value came back changed"
    );

    // Its health is checked 5 s after the start.
    event(
        &mut events,
        "health_check_passed",
        |e| matches!(&e.data, EventData::HealthCheckPassed(hc) if hc.public_key == provider_pk),
    )
    .await;

    // A crash: reported with its reason, restarted, serving again (its memory is new).
    let binary = format!("{provider_pk}-x86_64-linux");
    assert!(running(&binary), "the provider's process runs");
    assert_eq!(kill9(&binary), 1);
    let stopped = event(
        &mut events,
        "provider_stopped after a crash",
        |e| matches!(&e.data, EventData::ProviderStopped(p) if p.public_key == provider_pk),
    )
    .await;
    let EventData::ProviderStopped(p) = stopped.data else {
        unreachable!()
    };
    assert!(
        p.reason.contains("exited unexpectedly") && p.reason.contains("signal: 9"),
        "{}",
        p.reason
    );
    event(
        &mut events,
        "provider_started again",
        |e| matches!(&e.data, EventData::ProviderStarted(p) if p.public_key == provider_pk),
    )
    .await;
    let (_, body) = get_when(port, "/c", |s, _| s == 200).await;
    assert_eq!(
        body, "1",
        "a restarted in-memory provider starts from nothing"
    );

    // Stop: shutdown, the process exits, provider_stopped "normal".
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::StopProvider),
        json!({"provider_ref": provider_pk, "link_name": "default", "host_id": id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    let stopped = event(
        &mut events,
        "provider_stopped normal",
        |e| matches!(&e.data, EventData::ProviderStopped(p) if p.public_key == provider_pk),
    )
    .await;
    let EventData::ProviderStopped(p) = stopped.data else {
        unreachable!()
    };
    assert_eq!(p.reason, "normal");
    within(T, "the process exits", async {
        while running(&binary) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    h.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_that_cannot_run_are_refused_with_the_reason() {
    let dir = era_providers_dir();
    let nats = NatsServer::start();
    let bus = connect_bus(&nats.url()).await;
    let s = Subjects::new("default");
    let mut events = bus.subscribe(&s.events()).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let h = host::start(
        connect_bus(&nats.url()).await,
        config(scratch.path().to_path_buf()),
    )
    .await
    .unwrap();
    let id = h.id();
    let junk = scratch.path().join("junk.par.gz");
    std::fs::write(&junk, b"not an archive at all").unwrap();
    let plain = scratch.path().join("plain-provider");
    std::fs::copy(dir.join("kv-memory"), &plain).unwrap();
    let cases = [
        (
            junk.to_string_lossy().into_owned(),
            "neither a provider archive",
        ),
        (
            plain.to_string_lossy().into_owned(),
            "lattice-tui.dev/contract-id",
        ),
        (
            dir.join("kv-memory.par.gz").to_string_lossy().into_owned(),
            "not allowed",
        ),
    ];
    for (reference, want) in cases {
        let a = ack(
            &bus,
            &s.host_command(&id, CmdVerb::LaunchProvider),
            json!({"provider_ref": reference, "link_name": "default", "host_id": id}),
        )
        .await;
        assert!(a.accepted, "{a:?}");
        let failed = event(
            &mut events,
            "provider_start_failed",
            |e| matches!(&e.data, EventData::ProviderStartFailed(p) if p.provider_ref == reference),
        )
        .await;
        let EventData::ProviderStartFailed(p) = failed.data else {
            unreachable!()
        };
        assert!(p.error.contains(want), "{reference}: {}", p.error);
    }
    h.stop();

    // On the in-process lattice there is no NATS to give a provider.
    let bus = Bus::local();
    let mut events = bus.subscribe(&s.events()).await.unwrap();
    let h = host::start(bus.clone(), config(dir.clone())).await.unwrap();
    let id = h.id();
    let reference = dir.join("kv-memory.par.gz").to_string_lossy().into_owned();
    let a = ack(
        &bus,
        &s.host_command(&id, CmdVerb::LaunchProvider),
        json!({"provider_ref": reference, "link_name": "default", "host_id": id}),
    )
    .await;
    assert!(a.accepted);
    let failed = event(&mut events, "provider_start_failed (in-process)", |e| {
        matches!(&e.data, EventData::ProviderStartFailed(_))
    })
    .await;
    let EventData::ProviderStartFailed(p) = failed.data else {
        unreachable!()
    };
    assert!(p.error.contains("only on a NATS lattice"), "{}", p.error);
    h.stop();
}
