//! The RPC messages on the wire (PROTOCOL.md §4.1–4.2): [`Invocation`], [`InvocationResponse`]
//! and [`WasmCloudEntity`] as msgpack named-field maps (`rmp_serde::to_vec_named`, the shape
//! `wasmbus-rpc`'s `common::serialize` writes), the entities' URLs and the RPC subjects.
//!
//! Pure: no I/O, no keys, no clock. Decoding accepts what the era's peers send (`msg` as msgpack
//! bin *or* str, as OTP's `Msgpax` writes it; missing optional fields); encoding writes exactly
//! what `wasmbus-rpc` 0.15 writes (field order, `msg` as bin, `None` fields left out).

use serde::{Deserialize, Serialize};

/// Largest RPC message this host decodes: a chunked payload travels in the object store, so an
/// inline one is under the threshold (900 KB in WELD); 4 MiB leaves room for headers of any
/// peer and still refuses a flood.
pub const MAX_RPC_MESSAGE: usize = 4 * 1024 * 1024;

/// The URL scheme of entities (`wasmbus://…`).
pub const URL_SCHEME: &str = "wasmbus";

/// An actor or a provider, as an invocation names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasmCloudEntity {
    /// `M…` (actor) or `V…` (provider).
    #[serde(default)]
    pub public_key: String,
    /// The provider's link name; empty for an actor.
    #[serde(default)]
    pub link_name: String,
    /// The provider's contract (`wasmcloud:keyvalue`); empty for an actor.
    #[serde(default)]
    pub contract_id: String,
}

impl WasmCloudEntity {
    /// An actor (empty link name and contract).
    pub fn actor(public_key: impl Into<String>) -> Self {
        Self {
            public_key: public_key.into(),
            ..Self::default()
        }
    }

    /// A provider reached on `link_name` for `contract_id`.
    pub fn provider(
        public_key: impl Into<String>,
        contract_id: impl Into<String>,
        link_name: impl Into<String>,
    ) -> Self {
        Self {
            public_key: public_key.into(),
            link_name: link_name.into(),
            contract_id: contract_id.into(),
        }
    }

    /// Whether this names an actor: `wasmbus-rpc` treats an entity with an empty link name or
    /// contract as one.
    pub fn is_actor(&self) -> bool {
        self.link_name.is_empty() || self.contract_id.is_empty()
    }

    /// The entity's URL (§4.3): `wasmbus://{M…}` for an actor key,
    /// `wasmbus://{contract, ':'→'/', ' '→'_', lowercase}/{link name, ' '→'_', lowercase}/{key}`
    /// otherwise (`wasmbus-rpc` `WasmCloudEntity::url`; the test is the key's first letter).
    pub fn url(&self) -> String {
        if self.public_key.to_uppercase().starts_with('M') {
            format!("{URL_SCHEME}://{}", self.public_key)
        } else {
            format!(
                "{URL_SCHEME}://{}/{}/{}",
                self.contract_id
                    .replace(':', "/")
                    .replace(' ', "_")
                    .to_lowercase(),
                self.link_name.replace(' ', "_").to_lowercase(),
                self.public_key
            )
        }
    }

    /// The subject an invocation for this entity is sent on: `wasmbus.rpc.{prefix}.{key}` for
    /// an actor, `wasmbus.rpc.{prefix}.{key}.{link_name}` for a provider (`rpc_topic`).
    pub fn rpc_subject(&self, prefix: &str) -> String {
        if self.link_name.is_empty() {
            actor_subject(prefix, &self.public_key)
        } else {
            provider_subject(prefix, &self.public_key, &self.link_name)
        }
    }
}

/// `wasmbus.rpc.{prefix}.{actor}`: also the queue group of the actor's subscribers.
pub fn actor_subject(prefix: &str, actor: &str) -> String {
    format!("wasmbus.rpc.{prefix}.{actor}")
}

/// `wasmbus.rpc.{prefix}.{provider}.{link_name}`.
pub fn provider_subject(prefix: &str, provider: &str, link_name: &str) -> String {
    format!("wasmbus.rpc.{prefix}.{provider}.{link_name}")
}

/// One call from an actor or provider to another (§4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// Who calls.
    pub origin: WasmCloudEntity,
    /// Who is called.
    pub target: WasmCloudEntity,
    /// `Interface.Method`, e.g. `HttpServer.HandleRequest`.
    #[serde(default)]
    pub operation: String,
    /// The operation's payload (bin on the wire; str accepted). Empty when chunked.
    #[serde(with = "serde_bytes", default)]
    pub msg: Vec<u8>,
    /// UUID v4; the claims' `sub`.
    #[serde(default)]
    pub id: String,
    /// The anti-forgery JWT (see [`super::antiforgery`]).
    #[serde(default)]
    pub encoded_claims: String,
    /// The sending host (`N…`).
    #[serde(default)]
    pub host_id: String,
    /// The real payload size; larger than `msg.len()` when the payload is in the object store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
    /// OpenTelemetry context (WELD peers); kept and passed on, never interpreted.
    #[serde(
        rename = "traceContext",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub trace_context: Option<std::collections::HashMap<String, String>>,
}

impl Invocation {
    /// Whether the payload is in the object store (`content_length` > what `msg` holds).
    pub fn is_chunked(&self) -> bool {
        self.content_length
            .is_some_and(|n| n > u64::try_from(self.msg.len()).unwrap_or(u64::MAX))
    }

    /// The target URL the claims sign: the target's URL, `/`, the operation.
    pub fn target_url(&self) -> String {
        format!("{}/{}", self.target.url(), self.operation)
    }
}

/// The reply to an [`Invocation`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationResponse {
    /// The reply payload (bin on the wire; str accepted).
    #[serde(with = "serde_bytes", default)]
    pub msg: Vec<u8>,
    /// The invocation's id.
    #[serde(default)]
    pub invocation_id: String,
    /// Why the call failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The real reply size (larger than `msg` when chunked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
    /// Sent by OTP's actor side; absent from `wasmbus-rpc`'s replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

impl InvocationResponse {
    /// A successful reply carrying `msg`.
    pub fn ok(invocation_id: &str, msg: Vec<u8>) -> Self {
        Self {
            content_length: Some(u64::try_from(msg.len()).unwrap_or(u64::MAX)),
            msg,
            invocation_id: invocation_id.to_string(),
            ..Self::default()
        }
    }

    /// A failed reply (`content_length` 0, as `wasmbus-rpc` writes it).
    pub fn error(invocation_id: &str, error: impl Into<String>) -> Self {
        Self {
            invocation_id: invocation_id.to_string(),
            error: Some(error.into()),
            content_length: Some(0),
            ..Self::default()
        }
    }
}

/// A provider's health check request (`….health`): msgpack `{"placeholder": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckRequest {
    /// Always `true`.
    #[serde(default)]
    pub placeholder: bool,
}

/// A provider's health check reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckResponse {
    /// Whether it is healthy.
    #[serde(default)]
    pub healthy: bool,
    /// Why not, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Why bytes are not an RPC message.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Over [`MAX_RPC_MESSAGE`].
    #[error("RPC message too large: {0} bytes (at most {MAX_RPC_MESSAGE})")]
    TooLarge(usize),
    /// Not the expected msgpack shape.
    #[error("malformed msgpack {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's words.
        reason: String,
    },
    /// Serialisation failed.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's words.
        reason: String,
    },
}

fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_RPC_MESSAGE {
        return Err(WireError::TooLarge(bytes.len()));
    }
    rmp_serde::from_slice(bytes).map_err(|e| WireError::Malformed {
        what,
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, WireError> {
    rmp_serde::to_vec_named(value).map_err(|e| WireError::Encode {
        what,
        reason: e.to_string(),
    })
}

impl Invocation {
    /// Decodes an invocation.
    ///
    /// # Errors
    /// Too large or not an invocation map.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode("invocation", bytes)
    }

    /// Encodes as `wasmbus-rpc` does.
    ///
    /// # Errors
    /// Only if serialisation itself fails (it does not for these types).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode("invocation", self)
    }
}

impl InvocationResponse {
    /// Decodes a reply.
    ///
    /// # Errors
    /// Too large or not a reply map.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode("invocation response", bytes)
    }

    /// Encodes as `wasmbus-rpc` does.
    ///
    /// # Errors
    /// Only if serialisation itself fails.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode("invocation response", self)
    }
}

/// Encodes any payload as a msgpack named map (the Smithy interfaces' payloads).
///
/// # Errors
/// Serialisation failed.
pub fn to_msgpack<T: Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    encode("payload", value)
}

/// Decodes a msgpack payload.
///
/// # Errors
/// Too large or not the expected shape.
pub fn from_msgpack<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
    decode("payload", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_sdk() {
        let a = WasmCloudEntity::actor("MABC");
        assert_eq!(a.url(), "wasmbus://MABC");
        let p = WasmCloudEntity::provider("VXYZ", "wasmcloud:Key Value", "My Link");
        assert_eq!(p.url(), "wasmbus://wasmcloud/key_value/my_link/VXYZ");
        assert_eq!(p.rpc_subject("default"), "wasmbus.rpc.default.VXYZ.My Link");
        assert_eq!(a.rpc_subject("default"), "wasmbus.rpc.default.MABC");
    }

    #[test]
    fn msg_is_accepted_as_str_and_written_as_bin() {
        // {"msg": "hi", "invocation_id": "x"} with msg as a msgpack str (OTP's Msgpax).
        let mut bytes = vec![0x82, 0xa3];
        bytes.extend_from_slice(b"msg");
        bytes.extend_from_slice(&[0xa2, b'h', b'i', 0xad]);
        bytes.extend_from_slice(b"invocation_id");
        bytes.extend_from_slice(&[0xa1, b'x']);
        let r = InvocationResponse::decode(&bytes).unwrap();
        assert_eq!(r.msg, b"hi");
        assert_eq!(r.invocation_id, "x");
        let out = r.encode().unwrap();
        // bin 8 marker for msg
        assert_eq!(&out[5..8], &[0xc4, 2, b'h']);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\xc1",
            b"\x81\xa3msg\x81",
            b"\xdf\xff\xff\xff\xff",
        ] {
            assert!(Invocation::decode(bytes).is_err());
        }
        assert!(matches!(
            Invocation::decode(&vec![0; MAX_RPC_MESSAGE + 1]),
            Err(WireError::TooLarge(_))
        ));
    }
}
