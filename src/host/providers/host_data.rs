//! The host data line an external provider reads on its stdin at start (PROTOCOL.md §4.5): base64
//! of one JSON document, `wasmbus-rpc`'s `HostData`, fields in its order so what this host writes
//! is what the era's hosts wrote. `env_values`, `link_definitions` and `cluster_issuers` are
//! always written: `wasmbus-rpc` 0.12–0.15 has no serde default for them and a provider exits
//! without them.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::lattice::protocol::LinkDefinition;

/// What a provider is told about its host and lattice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostData {
    /// The host's id (`N…`).
    #[serde(default)]
    pub host_id: String,
    /// The lattice prefix.
    #[serde(default)]
    pub lattice_rpc_prefix: String,
    /// The provider's link name.
    #[serde(default)]
    pub link_name: String,
    /// NATS credentials (JWT), empty for none.
    #[serde(default)]
    pub lattice_rpc_user_jwt: String,
    /// NATS credentials (seed), empty for none.
    #[serde(default)]
    pub lattice_rpc_user_seed: String,
    /// The NATS server.
    #[serde(default)]
    pub lattice_rpc_url: String,
    /// The provider's public key (`V…`).
    #[serde(default)]
    pub provider_key: String,
    /// The seed the provider signs its invocations with (the cluster seed).
    #[serde(default)]
    pub invocation_seed: String,
    /// Environment values for the provider.
    pub env_values: BTreeMap<String, String>,
    /// The provider's instance id.
    #[serde(default)]
    pub instance_id: String,
    /// The links to this provider that exist now.
    pub link_definitions: Vec<LinkDefinition>,
    /// The trusted cluster issuers (`C…`).
    pub cluster_issuers: Vec<String>,
    /// Configuration for this link name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_json: Option<String>,
    /// The RPC timeout in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_rpc_timeout_ms: Option<u64>,
    /// Whether the host logs structured (JSON).
    #[serde(default)]
    pub structured_logging: bool,
    /// The level the provider should log at (`info`, `debug`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

/// Why a host data line is unusable.
#[derive(Debug, thiserror::Error)]
pub enum HostDataError {
    /// Not base64.
    #[error("the host data is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not the JSON document.
    #[error("the host data is not a HostData document: {0}")]
    Json(#[from] serde_json::Error),
}

impl HostData {
    /// The line written to the provider's stdin (no newline).
    pub fn to_line(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a line as the provider SDK does.
    ///
    /// # Errors
    /// Not base64 of a HostData document.
    pub fn from_line(line: &str) -> Result<Self, HostDataError> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(line.trim())?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}
