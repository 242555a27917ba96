//! The control-interface requests a client sends, built as `wasmcloud-control-interface` 0.28
//! builds them (PROTOCOL.md §2.4–2.5, checked against its recorded requests in
//! `tests/fixtures/peers/cic-0.28.1`). The console's actions leave through these: one subject
//! and one JSON body each, published on the bus by the caller.
//!
//! Pure: builds bytes, sends nothing.

use bytes::Bytes;
use serde::Serialize;

use super::protocol::{
    ActorAuctionRequest, ProviderAuctionRequest, ScaleActorCommand, StartActorCommand,
    StartProviderCommand, StopActorCommand, StopHostCommand, StopProviderCommand, StringMap,
    UpdateActorCommand,
};
use super::subjects::{CmdVerb, Subjects};

/// The annotation that asks the host to watch an actor's file for hot reload.
pub const WATCH_ANNOTATION: &str = "lattice-tui.dev/watch";

/// What a request asks for, for status lines and outcome tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `cmd.{host}.la`.
    StartActor,
    /// `cmd.{host}.scale`.
    Scale,
    /// `cmd.{host}.upd`.
    UpdateActor,
    /// `cmd.{host}.sa`.
    StopActor,
    /// `cmd.{host}.lp`.
    StartProvider,
    /// `cmd.{host}.sp`.
    StopProvider,
    /// `cmd.{host}.stop`.
    StopHost,
    /// `linkdefs.put`.
    PutLink,
    /// `linkdefs.del`.
    DeleteLink,
    /// `auction.actor`.
    ActorAuction,
    /// `auction.provider`.
    ProviderAuction,
}

/// One request: where it goes and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlRequest {
    /// What it asks for.
    pub verb: Verb,
    /// The subject to request on.
    pub subject: String,
    /// The JSON body.
    pub body: Bytes,
}

fn request(verb: Verb, subject: String, body: &impl Serialize) -> CtlRequest {
    // These bodies are plain structs of strings, numbers and string maps: serialising them
    // cannot fail; an empty body would be refused by the host with a clear error anyway.
    let body = serde_json::to_vec(body)
        .map(Bytes::from)
        .unwrap_or_default();
    CtlRequest {
        verb,
        subject,
        body,
    }
}

fn annotations(a: StringMap) -> Option<StringMap> {
    (!a.is_empty()).then_some(a)
}

/// `cmd.{host}.la`: start `count` instances of `actor_ref` on `host`.
#[must_use]
pub fn start_actor(
    s: &Subjects,
    host: &str,
    actor_ref: &str,
    count: u16,
    annotations_: StringMap,
) -> CtlRequest {
    request(
        Verb::StartActor,
        s.host_command(host, CmdVerb::LaunchActor),
        &StartActorCommand {
            actor_ref: actor_ref.to_owned(),
            count,
            annotations: annotations(annotations_),
            host_id: Some(host.to_owned()),
        },
    )
}

/// `cmd.{host}.scale`: run `count` instances of the actor on `host` (0 stops all).
#[must_use]
pub fn scale(s: &Subjects, host: &str, actor_id: &str, actor_ref: &str, count: u16) -> CtlRequest {
    request(
        Verb::Scale,
        s.host_command(host, CmdVerb::Scale),
        &ScaleActorCommand {
            actor_id: Some(actor_id.to_owned()),
            actor_ref: actor_ref.to_owned(),
            count: Some(count),
            annotations: None,
            host_id: Some(host.to_owned()),
        },
    )
}

/// `cmd.{host}.upd`: replace the actor's module on `host` with `new_actor_ref`.
#[must_use]
pub fn update_actor(s: &Subjects, host: &str, actor_id: &str, new_actor_ref: &str) -> CtlRequest {
    request(
        Verb::UpdateActor,
        s.host_command(host, CmdVerb::Update),
        &UpdateActorCommand {
            actor_id: Some(actor_id.to_owned()),
            new_actor_ref: new_actor_ref.to_owned(),
            annotations: None,
            host_id: Some(host.to_owned()),
        },
    )
}

/// `cmd.{host}.sa`: stop `count` instances of the actor on `host` (0: all).
#[must_use]
pub fn stop_actor(s: &Subjects, host: &str, actor_id: &str, count: u16) -> CtlRequest {
    request(
        Verb::StopActor,
        s.host_command(host, CmdVerb::StopActor),
        &StopActorCommand {
            actor_ref: actor_id.to_owned(),
            count: Some(count),
            annotations: None,
            host_id: Some(host.to_owned()),
        },
    )
}

/// `cmd.{host}.lp`: start a provider on `host` under `link_name`.
#[must_use]
pub fn start_provider(
    s: &Subjects,
    host: &str,
    provider_ref: &str,
    link_name: &str,
    configuration: Option<String>,
) -> CtlRequest {
    request(
        Verb::StartProvider,
        s.host_command(host, CmdVerb::LaunchProvider),
        &StartProviderCommand {
            provider_ref: provider_ref.to_owned(),
            link_name: link_name.to_owned(),
            configuration,
            annotations: None,
            host_id: Some(host.to_owned()),
        },
    )
}

/// `cmd.{host}.sp`: stop the provider running on `host` under `link_name`.
#[must_use]
pub fn stop_provider(
    s: &Subjects,
    host: &str,
    public_key: &str,
    link_name: &str,
    contract_id: &str,
) -> CtlRequest {
    request(
        Verb::StopProvider,
        s.host_command(host, CmdVerb::StopProvider),
        &StopProviderCommand {
            provider_ref: public_key.to_owned(),
            link_name: link_name.to_owned(),
            contract_id: Some(contract_id.to_owned()),
            annotations: None,
            host_id: Some(host.to_owned()),
        },
    )
}

/// `cmd.{host}.stop` with a grace period in milliseconds.
#[must_use]
pub fn stop_host(s: &Subjects, host: &str, timeout_ms: u64) -> CtlRequest {
    request(
        Verb::StopHost,
        s.host_command(host, CmdVerb::StopHost),
        &StopHostCommand {
            host_id: Some(host.to_owned()),
            timeout: Some(timeout_ms),
        },
    )
}

/// `linkdefs.put`.
#[must_use]
pub fn put_link(
    s: &Subjects,
    actor_id: &str,
    provider_id: &str,
    contract_id: &str,
    link_name: &str,
    values: StringMap,
) -> CtlRequest {
    request(
        Verb::PutLink,
        s.linkdefs_put(),
        &LinkBody {
            actor_id,
            provider_id,
            link_name,
            contract_id,
            values: &values,
        },
    )
}

/// `linkdefs.del` (the control interface sends the link's shape with an empty provider id and
/// no values).
#[must_use]
pub fn delete_link(s: &Subjects, actor_id: &str, contract_id: &str, link_name: &str) -> CtlRequest {
    request(
        Verb::DeleteLink,
        s.linkdefs_del(),
        &LinkBody {
            actor_id,
            provider_id: "",
            link_name,
            contract_id,
            values: &StringMap::new(),
        },
    )
}

/// A link body in the control interface's field order (no `id`: that is the host's to derive).
#[derive(Serialize)]
struct LinkBody<'a> {
    actor_id: &'a str,
    provider_id: &'a str,
    link_name: &'a str,
    contract_id: &'a str,
    values: &'a StringMap,
}

/// `auction.actor`: which hosts (carrying `constraints`) would run `actor_ref`.
#[must_use]
pub fn actor_auction(s: &Subjects, actor_ref: &str, constraints: StringMap) -> CtlRequest {
    request(
        Verb::ActorAuction,
        s.auction_actor(),
        &ActorAuctionRequest {
            actor_ref: actor_ref.to_owned(),
            constraints,
        },
    )
}

/// `auction.provider`: which hosts would run `provider_ref` under `link_name`.
#[must_use]
pub fn provider_auction(
    s: &Subjects,
    provider_ref: &str,
    link_name: &str,
    constraints: StringMap,
) -> CtlRequest {
    request(
        Verb::ProviderAuction,
        s.auction_provider(),
        &ProviderAuctionRequest {
            provider_ref: provider_ref.to_owned(),
            link_name: link_name.to_owned(),
            constraints,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::protocol::LinkDefinition;

    /// `LinkBody` and `LinkDefinition` stay in step: a link body decodes as the definition the
    /// host will store.
    #[test]
    fn a_link_body_is_a_link_definition() {
        let s = Subjects::new("default");
        let r = put_link(
            &s,
            "MA",
            "VB",
            "wasmcloud:httpserver",
            "web",
            [("PORT".to_string(), "8080".to_string())].into(),
        );
        assert_eq!(r.subject, "wasmbus.ctl.default.linkdefs.put");
        let l: LinkDefinition = serde_json::from_slice(&r.body).expect("decodes");
        assert_eq!(
            (
                l.actor_id.as_str(),
                l.provider_id.as_str(),
                l.link_name.as_str()
            ),
            ("MA", "VB", "web")
        );
        assert_eq!(l.values["PORT"], "8080");
    }
}
