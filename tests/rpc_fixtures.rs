//! Lattice RPC against bytes recorded from the real SDK (`tests/fixtures/rpc/`, made by
//! `scripts/record-peers/rpc-0.15/` with `wasmbus-rpc` 0.15's `RpcClient`, a provider on its
//! `provider_main`, and its `HostData`; `tests/fixtures/era-actors/`, payloads that crossed the
//! guest boundary of actors built with the SDK). Our decoder reads them, our encoder writes
//! them back byte for byte, our signer reproduces the SDK's invocations from the same keys, and
//! our validator refuses the forged ones with the SDK's words.

use std::path::{Path, PathBuf};

use lattice_tui::host::providers::host_data::HostData;
use lattice_tui::host::rpc::antiforgery::{self, Forgery, Stamp};
use lattice_tui::host::rpc::wire::{
    HealthCheckRequest, HealthCheckResponse, Invocation, InvocationResponse, from_msgpack,
    to_msgpack,
};
use lattice_tui::lattice::protocol::LinkDefinition;
use lattice_tui::lattice::protocol::interfaces::{
    GetResponse, HttpRequest, HttpResponse, IncrementRequest, SetRequest,
};
use nkeys::KeyPair;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rpc")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn keys() -> Value {
    serde_json::from_slice(&read("keys.json")).unwrap()
}

fn key(k: &str) -> String {
    keys()[k].as_str().unwrap().to_string()
}

/// Every recorded invocation file (`*.inv.msgpack`, `*.signed.msgpack`).
fn invocation_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".inv.msgpack") || n.ends_with(".signed.msgpack"))
        .collect();
    v.sort();
    assert!(v.len() >= 19, "fixtures missing: {v:?}");
    v
}

#[test]
fn every_recorded_invocation_and_reply_decodes_and_reencodes_byte_for_byte() {
    for name in invocation_files() {
        let bytes = read(&name);
        let inv = Invocation::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(inv.encode().unwrap(), bytes, "{name}");
        let stem = name.trim_end_matches(".msgpack");
        let jwt = String::from_utf8(read(&format!("{stem}.jwt"))).unwrap();
        assert_eq!(inv.encoded_claims, jwt.trim(), "{name}");
        assert_eq!(inv.id.len(), 32, "{name}: the SDK's ids are 32 hex digits");
        let resp_name = name
            .replace(".inv.msgpack", ".resp.msgpack")
            .replace(".signed.msgpack", ".resp.msgpack");
        if dir().join(&resp_name).is_file() {
            let bytes = read(&resp_name);
            let r =
                InvocationResponse::decode(&bytes).unwrap_or_else(|e| panic!("{resp_name}: {e}"));
            assert_eq!(r.encode().unwrap(), bytes, "{resp_name}");
        }
    }
}

#[test]
fn our_signer_reproduces_the_sdk_s_invocations_from_the_same_keys() {
    let cluster = KeyPair::from_seed(&key("cluster_seed")).unwrap();
    let mut n = 0;
    for name in [
        "kv_set.inv",
        "kv_get.inv",
        "kv_increment.inv",
        "to_actor.inv",
        "err_unlinked.inv",
    ] {
        let bytes = read(&format!("{name}.msgpack"));
        let sdk = Invocation::decode(&bytes).unwrap();
        let claims: Value = serde_json::from_slice(&read(&format!("{name}.claims.json"))).unwrap();
        let ours = antiforgery::sign_with(
            &cluster,
            &sdk.host_id,
            Stamp {
                id: sdk.id.clone(),
                jti: Some(claims["jti"].as_str().unwrap().to_string()),
                iat: Some(claims["iat"].as_u64().unwrap()),
            },
            sdk.origin.clone(),
            sdk.target.clone(),
            &sdk.operation,
            sdk.msg.clone(),
        )
        .unwrap();
        assert_eq!(ours.encoded_claims, sdk.encoded_claims, "{name}: the JWT");
        assert_eq!(
            ours.encode().unwrap(),
            bytes,
            "{name}: the whole invocation"
        );
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn our_validator_accepts_the_good_ones_and_refuses_the_rest_with_the_sdk_s_words() {
    let issuers = vec![key("cluster_public_key")];
    for name in [
        "kv_set",
        "kv_get",
        "kv_increment",
        "to_actor",
        "err_unlinked",
        "err_after_linkdel",
    ] {
        let inv = Invocation::decode(&read(&format!("{name}.inv.msgpack"))).unwrap();
        assert_eq!(
            antiforgery::validate(&inv, None, &issuers),
            Ok(()),
            "{name}"
        );
    }
    let manifest: Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    let texts = &manifest["error_texts"];
    type Kind = fn(&Forgery) -> bool;
    let cases: [(&str, Kind); 5] = [
        ("err_foreign_issuer", |f| {
            matches!(f, Forgery::ForeignIssuer)
        }),
        ("err_tampered", |f| {
            matches!(f, Forgery::HashMismatch { .. })
        }),
        ("err_forged", |f| matches!(f, Forgery::BadSignature)),
        ("err_expired", |f| matches!(f, Forgery::Expired)),
        ("err_not_yet_valid", |f| matches!(f, Forgery::TooEarly)),
    ];
    for (name, kind) in cases {
        let inv = Invocation::decode(&read(&format!("{name}.inv.msgpack"))).unwrap();
        // Checked as of when it was sent (its `iat`): `nbf` was an hour after that, so today
        // it would be valid.
        let claims: Value =
            serde_json::from_slice(&read(&format!("{name}.inv.claims.json"))).unwrap();
        let sent = claims["iat"].as_u64().unwrap();
        let err = antiforgery::validate_at(&inv, None, &issuers, sent).unwrap_err();
        assert!(kind(&err), "{name}: {err:?}");
        assert_eq!(
            err.to_string(),
            texts[name].as_str().unwrap(),
            "{name}: the provider SDK's refusal text"
        );
        // What the SDK sent before the change validates.
        let signed = format!("{name}.signed.msgpack");
        if dir().join(&signed).is_file() {
            let inv = Invocation::decode(&read(&signed)).unwrap();
            assert_eq!(
                antiforgery::validate(&inv, None, &issuers),
                Ok(()),
                "{signed}"
            );
        }
    }
    // The SDK reads a shortened payload from the object store first (and fails there); this
    // host validates first and calls it what it is.
    let inv = Invocation::decode(&read("err_tampered_shorter.inv.msgpack")).unwrap();
    assert!(matches!(
        antiforgery::validate(&inv, None, &issuers),
        Err(Forgery::HashMismatch { .. })
    ));
}

#[test]
fn the_payloads_decode_with_our_interface_types() {
    let inc: IncrementRequest = from_msgpack(&read("kv_increment.inv.msg.msgpack")).unwrap();
    assert_eq!(
        to_msgpack(&inc).unwrap(),
        read("kv_increment.inv.msg.msgpack")
    );
    let n: i32 = from_msgpack(&read("kv_increment.resp.msg.msgpack")).unwrap();
    assert!(n > 0);
    let set: SetRequest = from_msgpack(&read("kv_set.inv.msg.msgpack")).unwrap();
    assert_eq!(to_msgpack(&set).unwrap(), read("kv_set.inv.msg.msgpack"));
    let get_key: String = from_msgpack(&read("kv_get.inv.msg.msgpack")).unwrap();
    assert_eq!(get_key, set.key);
    let got: GetResponse = from_msgpack(&read("kv_get.resp.msg.msgpack")).unwrap();
    assert_eq!(
        got,
        GetResponse {
            value: set.value.clone(),
            exists: true
        }
    );
    assert_eq!(to_msgpack(&got).unwrap(), read("kv_get.resp.msg.msgpack"));

    let hreq: HealthCheckRequest = from_msgpack(&read("health_request.msgpack")).unwrap();
    assert!(hreq.placeholder);
    assert_eq!(to_msgpack(&hreq).unwrap(), read("health_request.msgpack"));
    let hresp: HealthCheckResponse = from_msgpack(&read("health_reply.msgpack")).unwrap();
    assert!(hresp.healthy);
    assert_eq!(to_msgpack(&hresp).unwrap(), read("health_reply.msgpack"));

    for f in ["linkdefs_put.msgpack", "linkdefs_del.msgpack"] {
        let l: LinkDefinition = from_msgpack(&read(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(l.actor_id, key("actor_public_key"), "{f}");
        assert_eq!(l.provider_id, key("provider_public_key"), "{f}");
        assert_eq!(l.contract_id, "wasmcloud:keyvalue", "{f}");
    }

    // Provider → actor: the SDK's HttpServer.HandleRequest payload.
    let inv = Invocation::decode(&read("to_actor.inv.msgpack")).unwrap();
    assert_eq!(inv.operation, "HttpServer.HandleRequest");
    let req: HttpRequest = from_msgpack(&inv.msg).unwrap();
    assert_eq!(to_msgpack(&req).unwrap(), inv.msg);
}

#[test]
fn the_host_data_line_reads_and_writes_back_exactly() {
    let line = String::from_utf8(read("host_data.b64")).unwrap();
    let hd = HostData::from_line(&line).unwrap();
    assert_eq!(hd.host_id, key("host_id"));
    assert_eq!(hd.provider_key, key("provider_public_key"));
    assert_eq!(hd.cluster_issuers, vec![key("cluster_public_key")]);
    assert_eq!(hd.to_line(), line.trim());
}

#[test]
fn the_era_actors_payloads_decode_and_reencode() {
    let era = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/era-actors");
    let mut n = 0;
    for e in std::fs::read_dir(&era).unwrap().filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(e.path()).unwrap();
        // `health-*` are `Actor.HealthRequest` payloads; `hostile-request` is one the SDK
        // refuses (no `header`), which this host reads with an empty header map.
        if name.starts_with("health-") || name.starts_with("hostile-") {
            continue;
        }
        if name.ends_with("-request.msgpack") || name.ends_with("-forwarded.msgpack") {
            let r: HttpRequest = from_msgpack(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            if r.header.len() <= 1 {
                assert_eq!(to_msgpack(&r).unwrap(), bytes, "{name}");
            }
            n += 1;
        } else if name.ends_with("-response.msgpack") {
            let r: HttpResponse = from_msgpack(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            if r.header.len() <= 1 {
                assert_eq!(to_msgpack(&r).unwrap(), bytes, "{name}");
            }
            n += 1;
        }
    }
    assert!(n >= 6, "only {n} era payloads");
}
