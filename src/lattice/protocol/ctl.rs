//! Control-interface request and reply documents (PROTOCOL.md §2), field for field as the OTP
//! host and `wasmcloud-control-interface` 0.28 / 0.30 write them.
//!
//! Pure serde types: no I/O. Requests are decoded leniently (optional fields default, both
//! command dialects of §12 are accepted); replies are encoded with every field the clients parse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// String-to-string map used for labels, annotations and link values.
pub type StringMap = BTreeMap<String, String>;

/// One entry of `get.claims`: a flat map whose values are all strings (PROTOCOL.md §2.3).
pub type ClaimsMap = BTreeMap<String, String>;

/// Reply to every command (PROTOCOL.md §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtlOperationAck {
    /// Whether the command was accepted. A reply without it reads as rejected.
    #[serde(default)]
    pub accepted: bool,
    /// Reason of a rejection; empty on success.
    #[serde(default)]
    pub error: String,
}

impl CtlOperationAck {
    /// `{"accepted":true,"error":""}`.
    pub fn ok() -> Self {
        Self {
            accepted: true,
            error: String::new(),
        }
    }

    /// `{"accepted":false,"error":…}`.
    pub fn fail(error: impl Into<String>) -> Self {
        Self {
            accepted: false,
            error: error.into(),
        }
    }
}

/// Reply of one host to `ping.hosts` (PROTOCOL.md §2.3). Every field but `id` is optional on
/// decode because hosts ≤0.54 sent only `{id, friendly_name, uptime_seconds}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// Host public key (`N…`).
    pub id: String,
    /// Cluster key that signed this host (`C…`), 0.58+.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Host labels.
    #[serde(default)]
    pub labels: StringMap,
    /// Human-friendly name.
    #[serde(default)]
    pub friendly_name: String,
    /// Seconds since start.
    #[serde(default)]
    pub uptime_seconds: u64,
    /// Uptime as text.
    #[serde(default)]
    pub uptime_human: Option<String>,
    /// Host software version.
    #[serde(default)]
    pub version: Option<String>,
    /// Comma-joined list of trusted cluster issuers.
    #[serde(default)]
    pub cluster_issuers: Option<String>,
    /// JetStream domain, if any.
    #[serde(default)]
    pub js_domain: Option<String>,
    /// Control NATS host.
    #[serde(default)]
    pub ctl_host: Option<String>,
    /// Provider RPC NATS host.
    #[serde(default)]
    pub prov_rpc_host: Option<String>,
    /// RPC NATS host.
    #[serde(default)]
    pub rpc_host: Option<String>,
    /// Lattice prefix.
    #[serde(default)]
    pub lattice_prefix: Option<String>,
}

/// Reply to `get.{host}.inv` (PROTOCOL.md §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInventory {
    /// Host public key.
    pub host_id: String,
    /// Cluster issuer of the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Friendly name.
    #[serde(default)]
    pub friendly_name: String,
    /// Labels (required by the clients).
    #[serde(default)]
    pub labels: StringMap,
    /// Actors running on the host (required by the clients).
    #[serde(default)]
    pub actors: Vec<ActorDescription>,
    /// Providers running on the host (required by the clients).
    #[serde(default)]
    pub providers: Vec<ProviderDescription>,
}

/// An actor in a host inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorDescription {
    /// Actor public key (`M…`).
    pub id: String,
    /// Reference it was started from; `null` for actors started from a file by some hosts.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// Name from the claims.
    #[serde(default)]
    pub name: Option<String>,
    /// Running instances (may be empty, never absent).
    #[serde(default)]
    pub instances: Vec<ActorInstance>,
}

/// One running instance of an actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorInstance {
    /// Instance id (UUID).
    pub instance_id: String,
    /// Annotations given at start.
    #[serde(default)]
    pub annotations: Option<StringMap>,
    /// Claims revision of the running module.
    #[serde(default)]
    pub revision: i64,
    /// Concurrency limit; parsed by control-interface 0.30 (u16).
    #[serde(default = "one")]
    pub max_concurrent: u16,
}

fn one() -> u16 {
    1
}

/// A provider in a host inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderDescription {
    /// Provider public key (`V…`).
    pub id: String,
    /// Reference it was started from.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// Contract id (absent in ≤0.59; defaults to `""`).
    #[serde(default)]
    pub contract_id: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Name from the claims.
    #[serde(default)]
    pub name: Option<String>,
    /// Instance id.
    #[serde(default)]
    pub instance_id: String,
    /// Annotations given at start.
    #[serde(default)]
    pub annotations: Option<StringMap>,
    /// Claims revision.
    #[serde(default)]
    pub revision: i64,
}

/// `"default"`, the link name when none is given.
pub fn default_link_name() -> String {
    "default".to_string()
}

/// A link definition (PROTOCOL.md §2.3), unique per (actor, contract, link name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkDefinition {
    /// Uppercase hex SHA-256 of `actor_id ‖ contract_id ‖ link_name` (see [`linkdef_hash`]).
    #[serde(default)]
    pub id: String,
    /// Actor public key.
    pub actor_id: String,
    /// Provider public key.
    #[serde(default)]
    pub provider_id: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Contract id.
    pub contract_id: String,
    /// Link values.
    #[serde(default)]
    pub values: StringMap,
}

impl LinkDefinition {
    /// The id of this link computed from its key fields (ignores the stored `id`).
    pub fn computed_id(&self) -> String {
        linkdef_hash(&self.actor_id, &self.contract_id, &self.link_name)
    }

    /// This link with `id` filled in when it was empty.
    pub fn with_id(mut self) -> Self {
        if self.id.is_empty() {
            self.id = self.computed_id();
        }
        self
    }
}

/// Uppercase hex SHA-256 of `actor_id ‖ contract_id ‖ link_name`: the link id and the suffix of
/// its `LINKDEF_` KV key (OTP `linkdef_hash`, CIC `ld_hash_raw`).
pub fn linkdef_hash(actor_id: &str, contract_id: &str, link_name: &str) -> String {
    let mut h = Sha256::new();
    h.update(actor_id.as_bytes());
    h.update(contract_id.as_bytes());
    h.update(link_name.as_bytes());
    hex::encode_upper(h.finalize())
}

/// Reply to `get.links`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinkDefinitionList {
    /// All link definitions.
    #[serde(default)]
    pub links: Vec<LinkDefinition>,
}

/// Reply to `get.claims`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetClaimsResponse {
    /// One flat string map per actor or provider.
    #[serde(default)]
    pub claims: Vec<ClaimsMap>,
}

/// Body of `linkdefs.del`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveLinkDefinitionRequest {
    /// Actor public key.
    pub actor_id: String,
    /// Contract id.
    pub contract_id: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
}

/// `cmd.{host}.la` (PROTOCOL.md §2.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartActorCommand {
    /// OCI reference, `bindle://…`, `file://…` or a path.
    pub actor_ref: String,
    /// Instances to start (default 1).
    #[serde(default = "one")]
    pub count: u16,
    /// Annotations attached to the instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
    /// Target host (ignored by hosts; sent by clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

/// `cmd.{host}.sa`. `count` is absent in the 0.30 dialect, meaning "all" (as does 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopActorCommand {
    /// The actor's public key.
    pub actor_ref: String,
    /// Instances to stop; `None` or `0` = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u16>,
    /// Only instances carrying these annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
    /// Target host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

/// `cmd.{host}.scale`. `actor_id` may be absent (0.30 dialect) or empty (washboard); `count`
/// may be `null` (unbounded in 0.30) and `0` stops all instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleActorCommand {
    /// Actor public key, if the client knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Reference to start new instances from.
    pub actor_ref: String,
    /// Desired total; `None` = unbounded.
    #[serde(default)]
    pub count: Option<u16>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
    /// Target host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

/// `cmd.{host}.upd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateActorCommand {
    /// Actor public key (sent by clients, unused by the OTP host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Reference of the new module; must carry the same public key.
    pub new_actor_ref: String,
    /// Annotations (unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
    /// Target host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

/// `cmd.{host}.lp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartProviderCommand {
    /// Provider reference.
    pub provider_ref: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Raw configuration text passed to the provider as `config_json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
    /// Target host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

/// `cmd.{host}.sp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopProviderCommand {
    /// Provider public key.
    pub provider_ref: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Contract id (sent by clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
    /// Target host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

/// `cmd.{host}.stop`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StopHostCommand {
    /// Target host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Grace period in milliseconds (OTP default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

/// Body of `auction.actor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorAuctionRequest {
    /// Reference to place.
    pub actor_ref: String,
    /// Labels the host must carry.
    #[serde(default)]
    pub constraints: StringMap,
}

/// Reply of an eligible host to `auction.actor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorAuctionAck {
    /// Echo of the request.
    pub actor_ref: String,
    /// Echo of the request.
    #[serde(default)]
    pub constraints: StringMap,
    /// The replying host.
    pub host_id: String,
}

/// Body of `auction.provider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAuctionRequest {
    /// Reference to place.
    pub provider_ref: String,
    /// Link name (default `default`).
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Labels the host must carry.
    #[serde(default)]
    pub constraints: StringMap,
}

/// Reply of an eligible host to `auction.provider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAuctionAck {
    /// Echo of the request.
    pub provider_ref: String,
    /// Echo of the request.
    pub link_name: String,
    /// Echo of the request.
    #[serde(default)]
    pub constraints: StringMap,
    /// The replying host.
    pub host_id: String,
}

/// One registry credential of `registries.put`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegistryCredential {
    /// `oci` or `bindle`.
    #[serde(rename = "registryType", default = "oci")]
    pub registry_type: String,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Token (alternative to username/password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn oci() -> String {
    "oci".to_string()
}

/// Body of `registries.put`: registry host → credential.
pub type RegistryCredentialMap = BTreeMap<String, RegistryCredential>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ack_shapes() {
        assert_eq!(
            serde_json::to_value(CtlOperationAck::ok()).unwrap(),
            json!({"accepted": true, "error": ""})
        );
        let empty: CtlOperationAck = serde_json::from_str("{}").unwrap();
        assert!(!empty.accepted, "an empty ack reads as rejected");
    }

    #[test]
    fn linkdef_hash_is_uppercase_sha256_of_the_concatenation() {
        // sha256("MBECHO" "wasmcloud:httpserver" "default")
        let h = linkdef_hash("MBECHO", "wasmcloud:httpserver", "default");
        let mut d = Sha256::new();
        d.update(b"MBECHOwasmcloud:httpserverdefault");
        assert_eq!(h, hex::encode_upper(d.finalize()));
        assert_eq!(h.len(), 64);
        assert_eq!(h, h.to_uppercase());
        // sha256("") is a known value: a check independent of the sha2 crate's own use above.
        assert_eq!(
            linkdef_hash("", "", ""),
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        );
    }

    #[test]
    fn both_scale_dialects_decode() {
        let otp: ScaleActorCommand = serde_json::from_value(json!({
            "actor_id": "MB", "actor_ref": "r", "annotations": {}, "count": 3, "host_id": "NB"
        }))
        .unwrap();
        assert_eq!(otp.actor_id.as_deref(), Some("MB"));
        assert_eq!(otp.count, Some(3));
        let late: ScaleActorCommand =
            serde_json::from_value(json!({"actor_ref": "r", "count": null, "host_id": "NB"}))
                .unwrap();
        assert_eq!(late.actor_id, None);
        assert_eq!(late.count, None);
        let sa: StopActorCommand =
            serde_json::from_value(json!({"actor_ref": "MB", "host_id": "NB"})).unwrap();
        assert_eq!(sa.count, None);
        let la: StartActorCommand =
            serde_json::from_value(json!({"actor_ref": "r", "host_id": "NB"})).unwrap();
        assert_eq!(la.count, 1);
    }

    #[test]
    fn registry_credentials_use_camel_case_type() {
        let m: RegistryCredentialMap = serde_json::from_value(
            json!({"ghcr.io": {"registryType": "oci", "username": "u", "password": "p"}}),
        )
        .unwrap();
        assert_eq!(m["ghcr.io"].registry_type, "oci");
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"ghcr.io": {"registryType": "oci", "username": "u", "password": "p"}})
        );
    }

    #[test]
    fn old_hosts_ping_reply_decodes() {
        let h: Host =
            serde_json::from_value(json!({"id": "NB", "friendly_name": "x", "uptime_seconds": 4}))
                .unwrap();
        assert_eq!(h.uptime_seconds, 4);
        assert!(h.labels.is_empty());
    }

    #[test]
    fn inventory_instance_carries_max_concurrent() {
        let i = ActorInstance {
            instance_id: "i".into(),
            annotations: Some(StringMap::new()),
            revision: 2,
            max_concurrent: 1,
        };
        assert_eq!(
            serde_json::to_value(&i).unwrap(),
            json!({"instance_id": "i", "annotations": {}, "revision": 2, "max_concurrent": 1})
        );
    }
}
