//! Claims carried by start events, kept in the `get.claims` shape (every value a string).
//! Pure.

use crate::lattice::protocol::{ActorEventClaims, ClaimsMap, ProviderEventClaims};

use super::super::model::Lattice;

/// Claims an event carries, applied after the host borrow ends.
pub(super) enum ClaimsUpdate<'a> {
    Actor(&'a str, &'a ActorEventClaims),
    Provider(&'a str, &'a str, &'a ProviderEventClaims),
}

fn claims_digest(c: &ActorEventClaims) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x636c_6169_6d73).hash_one(c)
}

/// Records what a start event's claims say. Returns whether the claims changed.
pub(super) fn apply_claims(m: &mut Lattice, c: ClaimsUpdate<'_>) -> bool {
    match c {
        ClaimsUpdate::Actor(pk, c) => {
            let digest = claims_digest(c);
            if m.claims_digest.get(pk) == Some(&digest) && m.claims.contains_key(pk) {
                return false;
            }
            let same = m
                .claims
                .get(pk)
                .is_some_and(|have| actor_claims_match(have, c));
            if !same {
                m.claims.insert(pk.to_string(), actor_claims(pk, c));
            }
            m.claims_digest.insert(pk.to_string(), digest);
            !same
        }
        ClaimsUpdate::Provider(pk, contract, c) => {
            let known = m.claims.contains_key(pk);
            if !known {
                m.claims
                    .insert(pk.to_string(), provider_claims(pk, contract, c));
            }
            !known
        }
    }
}

/// Whether `have` already says what the event's claims say. Walks `have` in key order against
/// the expected values instead of building a map or looking keys up one by one.
fn actor_claims_match(have: &ClaimsMap, c: &ActorEventClaims) -> bool {
    fn list_eq(have: &str, want: &Option<Vec<String>>) -> bool {
        match want.as_deref() {
            None | Some([]) => have.is_empty(),
            Some(want) => have.split(',').eq(want.iter().map(String::as_str)),
        }
    }
    fn s(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
    // Keys in BTreeMap order: call_alias, caps, contract_id, iss, name, rev, sub, tags, version.
    let mut it = have.iter();
    let mut next = |key: &str| {
        it.next()
            .filter(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.as_str())
    };
    next("call_alias") == Some(s(&c.call_alias))
        && next("caps").is_some_and(|v| list_eq(v, &c.caps))
        && next("contract_id") == Some("")
        && next("iss") == Some(s(&c.issuer))
        && next("name") == Some(s(&c.name))
        && next("rev").and_then(|r| r.parse::<i64>().ok()) == Some(c.revision.unwrap_or(0))
        && next("sub").is_some()
        && next("tags").is_some_and(|v| list_eq(v, &c.tags))
        && next("version") == Some(s(&c.version))
        && it.next().is_none()
}

fn join(v: &Option<Vec<String>>) -> String {
    v.as_deref().map(|v| v.join(",")).unwrap_or_default()
}

/// Claims of an actor event in the `get.claims` shape (all values strings).
fn actor_claims(public_key: &str, c: &ActorEventClaims) -> ClaimsMap {
    let mut m = ClaimsMap::new();
    m.insert("sub".into(), public_key.to_string());
    m.insert("iss".into(), c.issuer.clone().unwrap_or_default());
    m.insert("name".into(), c.name.clone().unwrap_or_default());
    m.insert(
        "call_alias".into(),
        c.call_alias.clone().unwrap_or_default(),
    );
    m.insert("caps".into(), join(&c.caps));
    m.insert("rev".into(), c.revision.unwrap_or(0).to_string());
    m.insert("tags".into(), join(&c.tags));
    m.insert("version".into(), c.version.clone().unwrap_or_default());
    m.insert("contract_id".into(), String::new());
    m
}

/// Claims of a provider event in the `get.claims` shape.
fn provider_claims(public_key: &str, contract_id: &str, c: &ProviderEventClaims) -> ClaimsMap {
    let mut m = ClaimsMap::new();
    m.insert("sub".into(), public_key.to_string());
    m.insert("iss".into(), c.issuer.clone().unwrap_or_default());
    m.insert("name".into(), c.name.clone().unwrap_or_default());
    m.insert("call_alias".into(), String::new());
    m.insert("caps".into(), String::new());
    m.insert("rev".into(), "0".into());
    m.insert("tags".into(), join(&c.tags));
    m.insert("version".into(), c.version.clone().unwrap_or_default());
    m.insert("contract_id".into(), contract_id.to_string());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_built_from_an_event_match_that_event() {
        let c = ActorEventClaims {
            name: Some("echo".into()),
            revision: Some(3),
            caps: Some(vec![
                "wasmcloud:httpserver".into(),
                "wasmcloud:keyvalue".into(),
            ]),
            tags: Some(vec![]),
            issuer: Some("AC".into()),
            ..ActorEventClaims::default()
        };
        assert!(actor_claims_match(&actor_claims("MB", &c), &c));
        let other = ActorEventClaims {
            revision: Some(4),
            ..c.clone()
        };
        assert!(!actor_claims_match(&actor_claims("MB", &c), &other));
        assert!(actor_claims_match(
            &actor_claims("MB", &ActorEventClaims::default()),
            &ActorEventClaims::default()
        ));
    }
}
