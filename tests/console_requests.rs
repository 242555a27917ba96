//! The console's control-interface requests against the requests the real
//! `wasmcloud-control-interface` 0.28.1 client sent (recorded in
//! `tests/fixtures/peers/cic-0.28.1/capture.jsonl` by `scripts/record-peers/`): for every
//! command the client sent, our builder given the same arguments produces the same subject
//! and the same JSON.

use std::collections::BTreeSet;

use lattice_tui::lattice::protocol::StringMap;
use lattice_tui::lattice::requests::{self, CtlRequest, Verb};
use lattice_tui::lattice::subjects::Subjects;
use serde_json::Value;

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/peers/cic-0.28.1/capture.jsonl"
);

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

fn map(v: &Value, k: &str) -> StringMap {
    serde_json::from_value(v[k].clone()).unwrap_or_default()
}

fn count(v: &Value, k: &str) -> u16 {
    v[k].as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .unwrap_or(0)
}

/// Our request for what the client sent on `subject` with `body`, if it is one the console
/// sends.
fn ours(subject: &str, body: &Value) -> Option<CtlRequest> {
    let sub = Subjects::new("default");
    let rest = subject.strip_prefix("wasmbus.ctl.default.")?;
    let parts: Vec<&str> = rest.split('.').collect();
    Some(match parts.as_slice() {
        ["cmd", host, "la"] => requests::start_actor(
            &sub,
            host,
            &s(body, "actor_ref"),
            count(body, "count"),
            map(body, "annotations"),
        ),
        ["cmd", host, "scale"] => requests::scale(
            &sub,
            host,
            &s(body, "actor_id"),
            &s(body, "actor_ref"),
            count(body, "count"),
        ),
        ["cmd", host, "upd"] => {
            requests::update_actor(&sub, host, &s(body, "actor_id"), &s(body, "new_actor_ref"))
        }
        ["cmd", host, "sa"] => {
            requests::stop_actor(&sub, host, &s(body, "actor_ref"), count(body, "count"))
        }
        ["cmd", host, "lp"] => requests::start_provider(
            &sub,
            host,
            &s(body, "provider_ref"),
            &s(body, "link_name"),
            body["configuration"].as_str().map(str::to_owned),
        ),
        ["cmd", host, "sp"] => requests::stop_provider(
            &sub,
            host,
            &s(body, "provider_ref"),
            &s(body, "link_name"),
            &s(body, "contract_id"),
        ),
        ["cmd", host, "stop"] => {
            requests::stop_host(&sub, host, body["timeout"].as_u64().unwrap_or(0))
        }
        ["linkdefs", "put"] => requests::put_link(
            &sub,
            &s(body, "actor_id"),
            &s(body, "provider_id"),
            &s(body, "contract_id"),
            &s(body, "link_name"),
            map(body, "values"),
        ),
        ["linkdefs", "del"] => requests::delete_link(
            &sub,
            &s(body, "actor_id"),
            &s(body, "contract_id"),
            &s(body, "link_name"),
        ),
        ["auction", "actor"] => {
            requests::actor_auction(&sub, &s(body, "actor_ref"), map(body, "constraints"))
        }
        ["auction", "provider"] => requests::provider_auction(
            &sub,
            &s(body, "provider_ref"),
            &s(body, "link_name"),
            map(body, "constraints"),
        ),
        _ => return None,
    })
}

#[test]
fn every_request_the_console_sends_matches_the_real_clients() {
    let text = std::fs::read_to_string(CAPTURE).expect("the recorded session");
    let mut verbs = BTreeSet::new();
    let mut compared = 0;
    for line in text.lines() {
        let msg: Value = serde_json::from_str(line).expect("a capture line");
        let subject = msg["subject"].as_str().unwrap_or_default();
        let payload = msg["payload"].as_str().unwrap_or_default();
        let Ok(body) = serde_json::from_str::<Value>(payload) else {
            continue;
        };
        let Some(req) = ours(subject, &body) else {
            continue;
        };
        assert_eq!(req.subject, subject);
        let mine: Value = serde_json::from_slice(&req.body).expect("our body is JSON");
        assert_eq!(mine, body, "{subject}: ours {mine} vs the client's {body}");
        verbs.insert(format!("{:?}", req.verb));
        compared += 1;
    }
    let all = [
        Verb::StartActor,
        Verb::Scale,
        Verb::UpdateActor,
        Verb::StopActor,
        Verb::StartProvider,
        Verb::StopProvider,
        Verb::StopHost,
        Verb::PutLink,
        Verb::DeleteLink,
        Verb::ActorAuction,
        Verb::ProviderAuction,
    ]
    .map(|v| format!("{v:?}"));
    let missing: Vec<_> = all.iter().filter(|v| !verbs.contains(*v)).collect();
    assert!(
        missing.is_empty(),
        "the recording has no request for {missing:?} ({compared} compared)"
    );
}
