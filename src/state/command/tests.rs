//! Resolution against a hand-built model.

use chrono::{TimeZone, Utc};

use super::ResolveError;
use super::resolve::{self, Target, Unnamed};
use crate::state::model::{
    ActorState, HostState, InstanceState, Lattice, ModelConfig, ProviderState, provider_key,
};

pub(crate) const ECHO: &str = "MBECHOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub(crate) const EVER: &str = "MBEVERAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub(crate) const HELLO: &str = "MCHELLOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub(crate) const LINKED: &str = "MDLINKEDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub(crate) const HTTP: &str = "VAHTTPAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub(crate) const H1: &str = "NAONEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub(crate) const H2: &str = "NATWOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn actor(id: &str, name: &str, reference: &str, instances: usize) -> ActorState {
    let mut a = ActorState::new(id);
    a.name = Some(name.to_owned());
    a.image_ref = Some(reference.to_owned());
    for i in 0..instances {
        a.instances
            .insert(format!("{id}-{i}"), InstanceState::default());
    }
    a
}

/// Two hosts: `one` runs echo ×2 and hello, `two` runs echo and the HTTP provider under two
/// link names; `ever` shares echo's id prefix `MBE`; `linked` is known only from claims.
pub(crate) fn model() -> Lattice {
    let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let mut m = Lattice::new("default", ModelConfig::default());
    let mut one = HostState::new(H1, now);
    one.friendly_name = "one".into();
    one.actors
        .insert(ECHO.into(), actor(ECHO, "echo", "./echo.wasm", 2));
    one.actors
        .insert(HELLO.into(), actor(HELLO, "hello", "ghcr.io/x/hello:1", 1));
    one.actors
        .insert(EVER.into(), actor(EVER, "ever", "./ever.wasm", 1));
    let mut two = HostState::new(H2, now);
    two.friendly_name = "two".into();
    two.actors
        .insert(ECHO.into(), actor(ECHO, "echo", "./echo.wasm", 1));
    for link in ["default", "web"] {
        let mut p = ProviderState::new(HTTP, link);
        p.contract_id = "wasmcloud:httpserver".into();
        p.name = Some("HTTP Server".into());
        p.image_ref = Some("builtin:httpserver".into());
        two.providers.insert(provider_key(HTTP, link), p);
    }
    m.hosts.insert(H1.into(), one);
    m.hosts.insert(H2.into(), two);
    m.claims.insert(
        LINKED.into(),
        [
            ("sub".to_string(), LINKED.to_string()),
            ("name".to_string(), "linked".to_string()),
        ]
        .into_iter()
        .collect(),
    );
    m
}

#[test]
fn an_actor_is_found_by_id_reference_name_or_unique_prefix() {
    let m = model();
    for q in [ECHO, "./echo.wasm", "echo", "MBEC", "mbec"] {
        assert_eq!(
            resolve::actor(&m, q).map(|a| a.id),
            Ok(ECHO.to_owned()),
            "{q}"
        );
    }
    let echo = resolve::actor(&m, "echo").unwrap();
    assert_eq!(
        echo.hosts,
        [(H1.to_string(), 2), (H2.to_string(), 1)].into()
    );
    assert_eq!(resolve::actor(&m, "ghcr.io/x/hello:1").unwrap().id, HELLO);
    // Known only from claims: linkable, runs nowhere.
    let linked = resolve::actor(&m, "linked").unwrap();
    assert_eq!(linked.id, LINKED);
    assert!(linked.hosts.is_empty());
}

#[test]
fn an_ambiguous_or_unknown_actor_lists_the_candidates() {
    let m = model();
    assert_eq!(
        resolve::actor(&m, "MBE").unwrap_err().to_string(),
        "`MBE` is ambiguous: echo (MBECHOAAAA), ever (MBEVERAAAA)"
    );
    assert_eq!(
        resolve::actor(&m, "nope").unwrap_err().to_string(),
        "no actor `nope`; known: echo (MBECHOAAAA), ever (MBEVERAAAA), hello (MCHELLOAAA), \
         linked (MDLINKEDAA)"
    );
    let empty = Lattice::new("default", ModelConfig::default());
    assert_eq!(
        resolve::actor(&empty, "echo").unwrap_err().to_string(),
        "no actor `echo` (the lattice shows no actors)"
    );
    // A prefix shared by several ids is ambiguous.
    assert!(matches!(
        resolve::actor(&m, "M"),
        Err(ResolveError::Ambiguous { .. })
    ));
}

#[test]
fn a_provider_under_several_link_names_needs_one() {
    let m = model();
    assert_eq!(
        resolve::provider(&m, "HTTP Server", None)
            .unwrap_err()
            .to_string(),
        "`HTTP Server` is ambiguous: HTTP Server (VAHTTPAAAA) --link-name default, \
         HTTP Server (VAHTTPAAAA) --link-name web"
    );
    let web = resolve::provider(&m, "VAH", Some("web")).unwrap();
    assert_eq!(
        (web.public_key.as_str(), web.link_name.as_str()),
        (HTTP, "web")
    );
    assert_eq!(web.hosts, [H2.to_string()]);
    assert_eq!(web.contract_id, "wasmcloud:httpserver");
    assert_eq!(
        resolve::provider(&m, HTTP, Some("other"))
            .unwrap_err()
            .to_string(),
        format!(
            "no provider `{HTTP} --link-name other`; known: HTTP Server (VAHTTPAAAA) \
             --link-name default, HTTP Server (VAHTTPAAAA) --link-name web"
        )
    );
}

/// Found by the e2e test (`:link … builtin:httpserver …` said `no provider`): the issue's
/// grammar takes a provider's reference too, as it does an actor's.
#[test]
fn a_provider_is_found_by_the_reference_it_was_started_from() {
    let m = model();
    let p = resolve::provider(&m, "builtin:httpserver", Some("web")).unwrap();
    assert_eq!((p.public_key.as_str(), p.link_name.as_str()), (HTTP, "web"));
}

#[test]
fn hosts_by_id_prefix_or_friendly_name() {
    let m = model();
    assert_eq!(resolve::host(&m, "two"), Ok(H2.to_owned()));
    assert_eq!(resolve::host(&m, "NAO"), Ok(H1.to_owned()));
    assert_eq!(
        resolve::host(&m, "NA").unwrap_err().to_string(),
        "`NA` is ambiguous: one (NAONEAAAAA), two (NATWOAAAAA)"
    );
}

#[test]
fn the_target_host_follows_where_the_thing_runs() {
    let m = model();
    let echo = resolve::actor(&m, "echo").unwrap();
    let on: Vec<String> = echo.hosts.keys().cloned().collect();
    let hello = resolve::actor(&m, "hello").unwrap();
    let hello_on: Vec<String> = hello.hosts.keys().cloned().collect();
    let linked_on: Vec<String> = Vec::new();

    // Runs on one host: that host, whatever the action.
    for unnamed in [Unnamed::Ask, Unnamed::Auction] {
        assert_eq!(
            resolve::target(&m, "hello", None, &hello_on, unnamed, true),
            Ok(Target::Host(H1.into()))
        );
    }
    // On several: scale and stop ask, start auctions.
    assert_eq!(
        resolve::target(&m, "echo", None, &on, Unnamed::Ask, true),
        Ok(Target::Ask(vec![H1.into(), H2.into()]))
    );
    assert_eq!(
        resolve::target(&m, "echo", None, &on, Unnamed::Auction, false),
        Ok(Target::Auction)
    );
    // Nowhere: start auctions, the others have nothing to act on.
    assert_eq!(
        resolve::target(&m, "linked", None, &linked_on, Unnamed::Auction, false),
        Ok(Target::Auction)
    );
    assert_eq!(
        resolve::target(&m, "linked", None, &linked_on, Unnamed::Ask, true)
            .unwrap_err()
            .to_string(),
        "linked runs on no host"
    );
    // Named: that host; one that does not run it is an error only where it must.
    assert_eq!(
        resolve::target(&m, "hello", Some("two"), &hello_on, Unnamed::Ask, false),
        Ok(Target::Host(H2.into()))
    );
    assert_eq!(
        resolve::target(&m, "hello", Some("two"), &hello_on, Unnamed::Ask, true)
            .unwrap_err()
            .to_string(),
        "hello does not run on two (NATWOAAAAA) (it runs on one (NAONEAAAAA))"
    );
    assert!(matches!(
        resolve::target(&m, "hello", Some("three"), &hello_on, Unnamed::Ask, false),
        Err(ResolveError::Unknown { .. })
    ));
}
