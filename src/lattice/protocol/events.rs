//! Lattice CloudEvents (PROTOCOL.md §3): the typed [`LatticeEvent`] and its JSON codec.
//!
//! Owns the mapping between CloudEvent `type` strings and [`EventKind`] (the only place that
//! spells `com.wasmcloud.lattice.*`), the `data` document of every event of §3.2, and decoding
//! that never panics: unknown types become [`EventData::Unknown`], missing optional fields take
//! defaults, both heartbeat shapes (≤0.59 instance list, 0.60+ count map) are accepted, and
//! anything else that is wrong is a [`DecodeError`]. Envelopes go through `cloudevents-sdk`.
//! Pure: no I/O, no clock (ids and times are passed in by the publisher).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::ctl::{LinkDefinition, StringMap, default_link_name};

/// Prefix of every lattice event type.
pub const EVENT_TYPE_PREFIX: &str = "com.wasmcloud.lattice.";

/// `source` used by 0.60+ hosts on `linkdef_set` / `linkdef_deleted`.
pub const NO_SOURCE: &str = "n/a";

/// Why bytes received on the event subject are not a usable lattice event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not a CloudEvents 1.0 envelope.
    #[error("not a CloudEvent: {0}")]
    Envelope(String),
    /// A known event type whose `data` does not have the documented shape.
    #[error("{kind} from {source_id}: invalid data: {reason}")]
    Data {
        /// The event type.
        kind: EventKind,
        /// The envelope's `source`.
        source_id: String,
        /// What serde reported.
        reason: String,
    },
}

/// Why an event could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Unknown events are only ever decoded, never published.
    #[error("cannot publish an event of unknown type {0}")]
    Unknown(String),
    /// The CloudEvents builder rejected the attributes.
    #[error("invalid CloudEvent: {0}")]
    Envelope(String),
    /// JSON serialisation failed.
    #[error("cannot serialise event data: {0}")]
    Data(String),
}

/// Deserialises `null` as the type's default (hosts send `"annotations": null`, `"tags": null`).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Accepts a list of strings, `null`, or one comma-joined string.
fn string_list<'de, D>(d: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Joined(String),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        None => None,
        Some(Either::List(l)) => Some(l),
        Some(Either::Joined(s)) => Some(
            s.split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        ),
    })
}

/// Claims carried by actor events (`actor_started`, `actors_started`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActorEventClaims {
    /// Call alias, `null` when unset.
    #[serde(default)]
    pub call_alias: Option<String>,
    /// Capability contract ids.
    #[serde(default, deserialize_with = "string_list")]
    pub caps: Option<Vec<String>>,
    /// Issuing account (`A…`).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "string_list")]
    pub tags: Option<Vec<String>>,
    /// Actor name.
    #[serde(default)]
    pub name: Option<String>,
    /// Version string.
    #[serde(default)]
    pub version: Option<String>,
    /// Revision number.
    #[serde(default)]
    pub revision: Option<i64>,
    /// Not-before, as text.
    #[serde(default)]
    pub not_before_human: Option<String>,
    /// Expiry, as text.
    #[serde(default)]
    pub expires_human: Option<String>,
}

/// Claims carried by `provider_started`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEventClaims {
    /// Issuing account.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "string_list")]
    pub tags: Option<Vec<String>>,
    /// Provider name.
    #[serde(default)]
    pub name: Option<String>,
    /// Version string.
    #[serde(default)]
    pub version: Option<String>,
    /// Not-before, as text.
    #[serde(default)]
    pub not_before_human: Option<String>,
    /// Expiry, as text.
    #[serde(default)]
    pub expires_human: Option<String>,
}

/// `host_started`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStarted {
    /// Labels.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: StringMap,
    /// Friendly name.
    #[serde(default, deserialize_with = "null_default")]
    pub friendly_name: String,
    /// Uptime (0.60+).
    #[serde(default)]
    pub uptime_seconds: Option<u64>,
    /// Version (0.60+).
    #[serde(default)]
    pub version: Option<String>,
}

/// `host_stopped`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostStopped {
    /// Labels.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: StringMap,
}

/// One actor instance in a ≤0.59 heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatActorInstance {
    /// Actor public key.
    pub public_key: String,
    /// Instance id.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
}

/// The `actors` field of a heartbeat, in either shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeartbeatActors {
    /// 0.60+: public key → instance count.
    Counts(BTreeMap<String, u64>),
    /// ≤0.59: one entry per instance.
    Instances(Vec<HeartbeatActorInstance>),
}

impl Default for HeartbeatActors {
    fn default() -> Self {
        HeartbeatActors::Counts(BTreeMap::new())
    }
}

/// One provider in a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatProvider {
    /// Provider public key.
    pub public_key: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Contract id.
    #[serde(default, deserialize_with = "null_default")]
    pub contract_id: String,
    /// Instance id (≤0.59 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// `host_heartbeat`: a full inventory summary, every 30 s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostHeartbeat {
    /// Running actors.
    #[serde(default, deserialize_with = "null_default")]
    pub actors: HeartbeatActors,
    /// Running providers.
    #[serde(default, deserialize_with = "null_default")]
    pub providers: Vec<HeartbeatProvider>,
    /// Labels.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: StringMap,
    /// Friendly name.
    #[serde(default, deserialize_with = "null_default")]
    pub friendly_name: String,
    /// Version.
    #[serde(default)]
    pub version: Option<String>,
    /// Uptime in seconds.
    #[serde(default)]
    pub uptime_seconds: Option<u64>,
    /// Uptime as text.
    #[serde(default)]
    pub uptime_human: Option<String>,
}

/// `actor_started`: once per instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorStarted {
    /// Actor public key.
    pub public_key: String,
    /// Reference exactly as given by the client.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// Always `"n/a"` in 0.6x.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Instance id.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
    /// Annotations.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: StringMap,
    /// Claims of the module.
    #[serde(default)]
    pub claims: Option<ActorEventClaims>,
}

/// `actors_started`: once per start request (0.63+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorsStarted {
    /// Actor public key.
    pub public_key: String,
    /// Reference.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// Annotations.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: StringMap,
    /// Host that started them.
    #[serde(default, deserialize_with = "null_default")]
    pub host_id: String,
    /// Claims.
    #[serde(default)]
    pub claims: Option<ActorEventClaims>,
    /// Instances started.
    #[serde(default)]
    pub count: u64,
}

/// `actor_start_failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorStartFailed {
    /// Reference that failed.
    #[serde(default, deserialize_with = "null_default")]
    pub actor_ref: String,
    /// Reason (free text).
    #[serde(default, deserialize_with = "null_default")]
    pub error: String,
}

/// `actors_start_failed` (0.63+).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorsStartFailed {
    /// Actor public key (may be empty when the module never loaded).
    #[serde(default, deserialize_with = "null_default")]
    pub public_key: String,
    /// Reference.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// Annotations.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: StringMap,
    /// Host.
    #[serde(default, deserialize_with = "null_default")]
    pub host_id: String,
    /// Reason.
    #[serde(default, deserialize_with = "null_default")]
    pub error: String,
}

/// `actor_stopped`: once per instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorStopped {
    /// Actor public key.
    pub public_key: String,
    /// Instance id.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
    /// Annotations.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: StringMap,
}

/// `actors_stopped` (0.63+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorsStopped {
    /// Host.
    #[serde(default, deserialize_with = "null_default")]
    pub host_id: String,
    /// Actor public key.
    pub public_key: String,
    /// Instances stopped.
    #[serde(default)]
    pub count: u64,
    /// Instances left running.
    #[serde(default)]
    pub remaining: u64,
    /// Annotations.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: StringMap,
}

/// `actor_updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorUpdated {
    /// Actor public key.
    pub public_key: String,
    /// New revision.
    #[serde(default)]
    pub revision: i64,
    /// Instance id.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
}

/// `actor_update_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorUpdateFailed {
    /// Actor public key.
    pub public_key: String,
    /// Revision that failed.
    #[serde(default)]
    pub revision: i64,
    /// Instance id.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
    /// Reason.
    #[serde(default, deserialize_with = "null_default")]
    pub reason: String,
}

/// `provider_started`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStarted {
    /// Provider public key.
    pub public_key: String,
    /// Reference.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Contract id.
    #[serde(default, deserialize_with = "null_default")]
    pub contract_id: String,
    /// Instance id.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
    /// Annotations.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: StringMap,
    /// Claims.
    #[serde(default)]
    pub claims: Option<ProviderEventClaims>,
}

/// `provider_start_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStartFailed {
    /// Reference that failed.
    #[serde(default, deserialize_with = "null_default")]
    pub provider_ref: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Reason.
    #[serde(default, deserialize_with = "null_default")]
    pub error: String,
}

/// `provider_stopped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStopped {
    /// Provider public key.
    pub public_key: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
    /// Contract id.
    #[serde(default, deserialize_with = "null_default")]
    pub contract_id: String,
    /// Instance id.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
    /// Annotations.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: StringMap,
    /// Reason (`normal`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub reason: String,
}

/// `health_check_passed` / `_failed` / `_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// Provider public key.
    pub public_key: String,
    /// Contract id (absent in ≤0.59).
    #[serde(default, deserialize_with = "null_default")]
    pub contract_id: String,
    /// Link name.
    #[serde(default = "default_link_name")]
    pub link_name: String,
}

/// `refmap_set`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefmapSet {
    /// OCI reference.
    pub oci_url: String,
    /// Public key it maps to.
    pub public_key: String,
}

/// One end of an invocation (`invocation_succeeded` / `invocation_failed`): an actor
/// (`public_key`, empty contract and link name) or a provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationEntity {
    /// Public key.
    #[serde(default, deserialize_with = "null_default")]
    pub public_key: String,
    /// Contract id (providers; empty for actors).
    #[serde(default, deserialize_with = "null_default")]
    pub contract_id: String,
    /// Link name (providers; empty for actors).
    #[serde(default, deserialize_with = "null_default")]
    pub link_name: String,
}

/// `invocation_succeeded` / `invocation_failed`, published on `wasmbus.rpcevt.{lattice}`
/// (not the event subject consoles follow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvocationResult {
    /// Who called.
    #[serde(default)]
    pub source: InvocationEntity,
    /// Who was called.
    #[serde(default)]
    pub dest: InvocationEntity,
    /// The operation, e.g. `HttpServer.HandleRequest`.
    #[serde(default, deserialize_with = "null_default")]
    pub operation: String,
    /// Payload size in bytes.
    #[serde(default)]
    pub bytes: u64,
    /// Why it failed. Not sent by OTP hosts (whose consumers ignore unknown fields); this host
    /// puts the failure's details here instead of into the answer the client got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

macro_rules! lattice_events {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal, )*) => {
        /// The type of a lattice event, without the `com.wasmcloud.lattice.` prefix.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum EventKind {
            $( $(#[$doc])* $variant, )*
            /// Any other type.
            Unknown,
        }

        impl EventKind {
            /// Every known kind (not `Unknown`).
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The type suffix, e.g. `host_heartbeat`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                    EventKind::Unknown => "unknown",
                }
            }

            /// Parses a type suffix.
            pub fn from_suffix(s: &str) -> EventKind {
                match s {
                    $($name => EventKind::$variant,)*
                    _ => EventKind::Unknown,
                }
            }
        }

        /// The `data` of a lattice event.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum EventData {
            $( $(#[$doc])* $variant($ty), )*
            /// An event type this protocol version does not define (kept for the log).
            Unknown {
                /// The full CloudEvent `type`.
                ty: String,
            },
        }

        impl EventData {
            /// The kind of this data.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(EventData::$variant(_) => EventKind::$variant,)*
                    EventData::Unknown { .. } => EventKind::Unknown,
                }
            }

            fn from_value(kind: EventKind, ty: &str, v: Value) -> Result<EventData, serde_json::Error> {
                Ok(match kind {
                    $(EventKind::$variant => EventData::$variant(from_value(v)?),)*
                    EventKind::Unknown => EventData::Unknown { ty: ty.to_string() },
                })
            }

            /// The `data` document as JSON.
            ///
            /// # Errors
            /// `EncodeError::Unknown` for unknown events.
            pub fn to_value(&self) -> Result<Value, EncodeError> {
                match self {
                    $(EventData::$variant(d) => serde_json::to_value(d).map_err(|e| EncodeError::Data(e.to_string())),)*
                    EventData::Unknown { ty } => Err(EncodeError::Unknown(ty.clone())),
                }
            }
        }
    };
}

fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(v)
}

lattice_events! {
    /// `host_started`.
    HostStarted(HostStarted) = "host_started",
    /// `host_stopped`.
    HostStopped(HostStopped) = "host_stopped",
    /// `host_heartbeat`.
    HostHeartbeat(HostHeartbeat) = "host_heartbeat",
    /// `actor_started`.
    ActorStarted(ActorStarted) = "actor_started",
    /// `actors_started`.
    ActorsStarted(ActorsStarted) = "actors_started",
    /// `actor_start_failed`.
    ActorStartFailed(ActorStartFailed) = "actor_start_failed",
    /// `actors_start_failed`.
    ActorsStartFailed(ActorsStartFailed) = "actors_start_failed",
    /// `actor_stopped`.
    ActorStopped(ActorStopped) = "actor_stopped",
    /// `actors_stopped`.
    ActorsStopped(ActorsStopped) = "actors_stopped",
    /// `actor_updated`.
    ActorUpdated(ActorUpdated) = "actor_updated",
    /// `actor_update_failed`.
    ActorUpdateFailed(ActorUpdateFailed) = "actor_update_failed",
    /// `provider_started`.
    ProviderStarted(ProviderStarted) = "provider_started",
    /// `provider_start_failed`.
    ProviderStartFailed(ProviderStartFailed) = "provider_start_failed",
    /// `provider_stopped`.
    ProviderStopped(ProviderStopped) = "provider_stopped",
    /// `health_check_passed`.
    HealthCheckPassed(HealthCheck) = "health_check_passed",
    /// `health_check_failed`.
    HealthCheckFailed(HealthCheck) = "health_check_failed",
    /// `health_check_status`.
    HealthCheckStatus(HealthCheck) = "health_check_status",
    /// `linkdef_set`.
    LinkdefSet(LinkDefinition) = "linkdef_set",
    /// `linkdef_deleted`.
    LinkdefDeleted(LinkDefinition) = "linkdef_deleted",
    /// `refmap_set`.
    RefmapSet(RefmapSet) = "refmap_set",
    /// `invocation_succeeded` (on `wasmbus.rpcevt.{lattice}`).
    InvocationSucceeded(InvocationResult) = "invocation_succeeded",
    /// `invocation_failed` (on `wasmbus.rpcevt.{lattice}`).
    InvocationFailed(InvocationResult) = "invocation_failed",
}

impl EventKind {
    /// The full CloudEvent type, e.g. `com.wasmcloud.lattice.host_heartbeat`.
    pub fn cloudevent_type(self) -> String {
        format!("{EVENT_TYPE_PREFIX}{}", self.as_str())
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded lattice event: envelope attributes plus typed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatticeEvent {
    /// CloudEvent `id` (UUID v4 from OTP hosts).
    pub id: String,
    /// CloudEvent `source`: the emitting host's public key (`n/a` for 0.60+ link events).
    pub source: String,
    /// CloudEvent `time`, if present.
    pub time: Option<DateTime<Utc>>,
    /// Typed data.
    pub data: EventData,
}

impl LatticeEvent {
    /// Builds an event to publish.
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        time: DateTime<Utc>,
        data: EventData,
    ) -> Self {
        Self {
            id: id.into(),
            source: source.into(),
            time: Some(time),
            data,
        }
    }

    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        self.data.kind()
    }

    /// Decodes one message received on `wasmbus.evt.{lattice}`.
    ///
    /// # Errors
    /// [`DecodeError::Envelope`] for anything that is not a CloudEvents 1.0 JSON envelope and
    /// [`DecodeError::Data`] for a known type whose data has the wrong shape. Never panics.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        let event: cloudevents::Event =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::Envelope(e.to_string()))?;
        Self::from_cloudevent(event)
    }

    /// Converts a parsed CloudEvent.
    ///
    /// # Errors
    /// As [`LatticeEvent::from_json`].
    pub fn from_cloudevent(mut event: cloudevents::Event) -> Result<Self, DecodeError> {
        let ty = event.ty().to_string();
        let source = event.source().to_string();
        let kind = ty
            .strip_prefix(EVENT_TYPE_PREFIX)
            .map_or(EventKind::Unknown, EventKind::from_suffix);
        let data_err = |reason: String| DecodeError::Data {
            kind,
            source_id: source.clone(),
            reason,
        };
        let value = match event.take_data().2 {
            None => Value::Object(serde_json::Map::new()),
            Some(d) if kind == EventKind::Unknown => {
                drop(d);
                Value::Null
            }
            Some(d) => Value::try_from(d).map_err(|e| data_err(e.to_string()))?,
        };
        let data = EventData::from_value(kind, &ty, value).map_err(|e| data_err(e.to_string()))?;
        Ok(Self {
            id: event.id().to_string(),
            time: event.time().copied(),
            source,
            data,
        })
    }

    /// The CloudEvents 1.0 envelope of this event.
    ///
    /// # Errors
    /// [`EncodeError`] for unknown events or attributes the builder rejects.
    pub fn to_cloudevent(&self) -> Result<cloudevents::Event, EncodeError> {
        let data = self.data.to_value()?;
        let mut b = EventBuilderV10::new()
            .id(self.id.clone())
            .source(self.source.clone())
            .ty(self.kind().cloudevent_type())
            .data("application/json", data);
        if let Some(t) = self.time {
            b = b.time(t);
        }
        b.build().map_err(|e| EncodeError::Envelope(e.to_string()))
    }

    /// The JSON bytes to publish on `wasmbus.evt.{lattice}`.
    ///
    /// # Errors
    /// As [`LatticeEvent::to_cloudevent`].
    pub fn to_json(&self) -> Result<Vec<u8>, EncodeError> {
        let ce = self.to_cloudevent()?;
        serde_json::to_vec(&ce).map_err(|e| EncodeError::Data(e.to_string()))
    }
}

impl From<&LatticeEvent> for std::sync::Arc<LatticeEvent> {
    fn from(ev: &LatticeEvent) -> Self {
        std::sync::Arc::new(ev.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(ty: &str, data: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "specversion": "1.0", "id": "e1", "type": ty, "source": "NBHOST",
            "time": "2023-05-16T18:03:11.123456Z", "datacontenttype": "application/json",
            "data": data
        }))
        .unwrap()
    }

    #[test]
    fn invocation_results_decode_in_the_otp_shape() {
        // PROTOCOL.md §3.3, `invocation_succeeded`; the failed one adds this host's `error`.
        let data = json!({
            "source": {"public_key": "VAHTTP", "contract_id": "wasmcloud:httpserver", "link_name": "default"},
            "dest": {"public_key": "MBECHO", "contract_id": "", "link_name": ""},
            "operation": "HttpServer.HandleRequest", "bytes": 312
        });
        let ev = LatticeEvent::from_json(&envelope(
            "com.wasmcloud.lattice.invocation_succeeded",
            data.clone(),
        ))
        .expect("decodes");
        let EventData::InvocationSucceeded(r) = &ev.data else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (
                r.source.link_name.as_str(),
                r.dest.public_key.as_str(),
                r.bytes
            ),
            ("default", "MBECHO", 312)
        );
        assert_eq!(r.error, None);
        let mut failed = data;
        failed["error"] = json!("HTTP 500: the actor failed");
        let ev =
            LatticeEvent::from_json(&envelope("com.wasmcloud.lattice.invocation_failed", failed))
                .expect("decodes");
        let EventData::InvocationFailed(r) = &ev.data else {
            panic!("{ev:?}")
        };
        assert_eq!(r.error.as_deref(), Some("HTTP 500: the actor failed"));
        let again = LatticeEvent::from_json(&ev.to_json().expect("encodes")).expect("decodes");
        assert_eq!(again, ev);
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        assert_eq!(EventKind::ALL.len(), 22);
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_suffix(k.as_str()), *k);
        }
        assert_eq!(
            EventKind::from_suffix("component_scaled"),
            EventKind::Unknown
        );
    }

    #[test]
    fn unknown_type_is_kept_not_rejected() {
        let ev = LatticeEvent::from_json(&envelope(
            "com.wasmcloud.lattice.component_scaled",
            json!({"x": 1}),
        ))
        .unwrap();
        assert_eq!(
            ev.data,
            EventData::Unknown {
                ty: "com.wasmcloud.lattice.component_scaled".into()
            }
        );
        let foreign = LatticeEvent::from_json(&envelope("org.example.thing", json!(null))).unwrap();
        assert_eq!(foreign.kind(), EventKind::Unknown);
    }

    #[test]
    fn malformed_input_is_an_error_value() {
        for bad in [
            &b"not json"[..],
            b"{}",
            b"[1,2]",
            b"{\"specversion\":\"1.0\"}",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(LatticeEvent::from_json(bad), Err(DecodeError::Envelope(_))),
                "{bad:?}"
            );
        }
        let wrong = envelope(
            "com.wasmcloud.lattice.actor_started",
            json!({"public_key": 7}),
        );
        assert!(matches!(
            LatticeEvent::from_json(&wrong),
            Err(DecodeError::Data {
                kind: EventKind::ActorStarted,
                ..
            })
        ));
    }

    #[test]
    fn both_heartbeat_shapes_decode() {
        let new = LatticeEvent::from_json(&envelope(
            "com.wasmcloud.lattice.host_heartbeat",
            json!({"actors": {"MB1": 2}, "providers": [], "labels": {}, "friendly_name": "a"}),
        ))
        .unwrap();
        let EventData::HostHeartbeat(hb) = new.data else {
            panic!("not a heartbeat")
        };
        assert_eq!(
            hb.actors,
            HeartbeatActors::Counts([("MB1".into(), 2)].into())
        );
        let old = LatticeEvent::from_json(&envelope(
            "com.wasmcloud.lattice.host_heartbeat",
            json!({"actors": [{"public_key": "MB1", "instance_id": "i1"}], "providers": [{"public_key": "VP", "link_name": "default", "instance_id": "p1"}]}),
        ))
        .unwrap();
        let EventData::HostHeartbeat(hb) = old.data else {
            panic!("not a heartbeat")
        };
        assert!(matches!(hb.actors, HeartbeatActors::Instances(ref v) if v.len() == 1));
        assert_eq!(hb.providers[0].contract_id, "");
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let ev = LatticeEvent::new(
            "id-1",
            "NBHOST",
            DateTime::parse_from_rfc3339("2023-05-16T18:03:11.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            EventData::ActorStopped(ActorStopped {
                public_key: "MB".into(),
                instance_id: "i".into(),
                annotations: StringMap::new(),
            }),
        );
        let bytes = ev.to_json().unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "com.wasmcloud.lattice.actor_stopped");
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(v["data"]["public_key"], "MB");
        assert_eq!(LatticeEvent::from_json(&bytes).unwrap(), ev);
    }

    #[test]
    fn null_collections_and_joined_tags_are_tolerated() {
        let ev = LatticeEvent::from_json(&envelope(
            "com.wasmcloud.lattice.actor_started",
            json!({"public_key": "MB", "annotations": null, "claims": {"tags": "a,b", "caps": null}}),
        ))
        .unwrap();
        let EventData::ActorStarted(s) = ev.data else {
            panic!()
        };
        assert!(s.annotations.is_empty());
        let claims = s.claims.unwrap();
        assert_eq!(claims.tags, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(claims.caps, None);
    }
}
