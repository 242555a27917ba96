//! Payloads of the actor era's Smithy interfaces, as the `wasmcloud-interface-*` crates encode
//! them (msgpack named maps through `wasmbus-rpc`): `wasmcloud:httpserver`'s `HttpRequest` /
//! `HttpResponse`, `wasmcloud:keyvalue`'s requests and replies and `wasmcloud:messaging`'s
//! messages.
//!
//! Pure serde types; no I/O. Field names and renames are the crates' own (`queryString`,
//! `statusCode`); maps are `BTreeMap` so what this host writes is deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Header names to their values (`HeaderMap` of `wasmcloud-interface-httpserver`).
pub type HeaderMap = BTreeMap<String, Vec<String>>;

/// `HttpServer.HandleRequest`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    #[serde(default)]
    pub method: String,
    /// The path, without the query.
    #[serde(default)]
    pub path: String,
    /// The query, without `?`.
    #[serde(rename = "queryString", default)]
    pub query_string: String,
    /// Request headers.
    #[serde(default)]
    pub header: HeaderMap,
    /// Request body.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
}

/// `HttpServer.HandleRequest`'s reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    #[serde(rename = "statusCode", default = "ok_status")]
    pub status_code: u16,
    /// Response headers.
    #[serde(default)]
    pub header: HeaderMap,
    /// Response body.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
}

fn ok_status() -> u16 {
    200
}

impl Default for HttpResponse {
    fn default() -> Self {
        Self {
            status_code: ok_status(),
            header: HeaderMap::new(),
            body: Vec::new(),
        }
    }
}

/// `KeyValue.Increment`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementRequest {
    /// The key.
    #[serde(default)]
    pub key: String,
    /// How much to add (may be negative).
    #[serde(default)]
    pub value: i32,
}

/// `KeyValue.Set`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRequest {
    /// The key.
    #[serde(default)]
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: String,
    /// Seconds until it expires; 0 = never.
    #[serde(default)]
    pub expires: u32,
}

/// `KeyValue.Get`'s reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetResponse {
    /// The value (empty when absent).
    #[serde(default)]
    pub value: String,
    /// Whether the key exists.
    #[serde(default)]
    pub exists: bool,
}

/// `KeyValue.ListAdd`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAddRequest {
    /// The list's key.
    #[serde(rename = "listName", default)]
    pub list_name: String,
    /// The value to append.
    #[serde(default)]
    pub value: String,
}

/// `KeyValue.ListDel`'s payload (also `SetAdd` / `SetDel` with `setName`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDelRequest {
    /// The list's key.
    #[serde(rename = "listName", default)]
    pub list_name: String,
    /// The value to remove.
    #[serde(default)]
    pub value: String,
}

/// `KeyValue.ListRange`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRangeRequest {
    /// The list's key.
    #[serde(rename = "listName", default)]
    pub list_name: String,
    /// First index (inclusive).
    #[serde(default)]
    pub start: i32,
    /// Last index (inclusive).
    #[serde(default)]
    pub stop: i32,
}

/// `KeyValue.SetAdd` / `SetDel`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAddRequest {
    /// The set's key.
    #[serde(rename = "setName", default)]
    pub set_name: String,
    /// The value.
    #[serde(default)]
    pub value: String,
}

/// `Messaging.Publish`'s payload (`wasmcloud-interface-messaging`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubMessage {
    /// The subject.
    #[serde(default)]
    pub subject: String,
    /// Where a reply should go.
    #[serde(rename = "replyTo", default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The payload.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
}

/// `Messaging.Request`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMessage {
    /// The subject.
    #[serde(default)]
    pub subject: String,
    /// The payload.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
    /// How long to wait for the reply.
    #[serde(rename = "timeoutMs", default)]
    pub timeout_ms: u32,
}

/// `Messaging.Request`'s reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyMessage {
    /// The subject the reply came on.
    #[serde(default)]
    pub subject: String,
    /// Its reply subject, if any.
    #[serde(rename = "replyTo", default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The payload.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
}

/// `MessageSubscriber.HandleMessage`'s payload: a message delivered to an actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubMessage {
    /// The subject it came on.
    #[serde(default)]
    pub subject: String,
    /// Its reply subject, if any.
    #[serde(rename = "replyTo", default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The payload.
    #[serde(with = "serde_bytes", default)]
    pub body: Vec<u8>,
}
