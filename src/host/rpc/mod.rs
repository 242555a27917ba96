//! Lattice RPC (`wasmbus.rpc.{prefix}.…`, PROTOCOL.md §4): the invocation codec ([`wire`]),
//! the anti-forgery claims ([`antiforgery`]), outgoing calls ([`RpcLink::call`]) and the
//! serving loop of one RPC subject ([`serve`]), over either bus.
//!
//! Owns the wire and the signatures, nothing else: it does not know actors, links or
//! providers. What an invocation reaches is the caller's [`Handler`]; which subject a call goes
//! to is decided by the host's routing (`core`). It must not touch the console.
//!
//! # Serving
//! [`serve`] takes one subscription (an actor's, in the queue group named after its subject so
//! one instance lattice-wide answers each call; or a provider's) and answers each message with
//! an [`wire::InvocationResponse`]: malformed bytes and refused invocations get an error reply
//! (never a panic, never silence when a reply subject was given), validated ones go to the
//! handler in a task of their own, at most [`MAX_INFLIGHT_PER_SUBJECT`] at a time; beyond that
//! the loop stops reading (NATS then buffers, and drops for a slow consumer with a warning —
//! the bus' overflow policy), so a flood never grows memory here.

pub mod antiforgery;
pub mod chunks;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use nkeys::KeyPair;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use self::antiforgery::Forgery;
use self::wire::{Invocation, InvocationResponse, WasmCloudEntity, WireError};
use crate::lattice::bus::{Bus, BusError, Message, Subscription};

/// Default RPC timeout (OTP and `wasmbus-rpc`: 2000 ms), overridden by
/// `WASMCLOUD_RPC_TIMEOUT_MS` or the host's configuration.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_millis(2000);

/// Invocations one subject serves at once.
pub const MAX_INFLIGHT_PER_SUBJECT: usize = 64;

/// The error text of an invocation that reached a host while it stops: the caller may try
/// again (another instance answers in the queue group).
pub const HOST_STOPPING: &str = "the host is stopping";

/// How the error text of an invocation for an actor that stopped on the host a moment before
/// ends (the subscription was still there): the caller may try again, like [`HOST_STOPPING`].
pub const NOT_RUNNING_HERE: &str = "is not running on this host";

/// Whether an actor's error answer only says that its host could not take the call right
/// now ([`HOST_STOPPING`], [`NOT_RUNNING_HERE`]), as opposed to the actor failing it.
pub fn is_transient_refusal(error: &str) -> bool {
    error == HOST_STOPPING || error.ends_with(NOT_RUNNING_HERE)
}

/// The environment variable the era's hosts read for the RPC timeout, in milliseconds.
pub const RPC_TIMEOUT_ENV: &str = "WASMCLOUD_RPC_TIMEOUT_MS";

/// The RPC timeout from `WASMCLOUD_RPC_TIMEOUT_MS` when it holds a positive number of
/// milliseconds, else `None` (with a warning for a value that is not one).
pub fn timeout_from_env() -> Option<Duration> {
    let raw = std::env::var(RPC_TIMEOUT_ENV).ok()?;
    match raw.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => {
            tracing::warn!(value = %raw, "{RPC_TIMEOUT_ENV} is not a positive number of milliseconds; using the default");
            None
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The invocation could not be signed.
    #[error("invocation refused: {0}")]
    Refused(#[from] Forgery),
    /// The reply is no invocation response.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Nothing is subscribed to the target's subject.
    #[error("no one serves {subject}")]
    NoResponders {
        /// The target's subject.
        subject: String,
    },
    /// No reply within the RPC timeout.
    #[error("no reply from {subject} within {} ms", .timeout.as_millis())]
    Timeout {
        /// The target's subject.
        subject: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The bus failed.
    #[error("the call failed on the bus: {0}")]
    Bus(BusError),
    /// The target answered with an error.
    #[error("{0}")]
    Remote(String),
}

/// This host's side of RPC: who it is and how it signs.
#[derive(Clone)]
pub struct RpcLink {
    bus: Bus,
    prefix: String,
    host_id: String,
    key: Arc<KeyPair>,
    issuers: Arc<Vec<String>>,
    timeout: Duration,
}

impl std::fmt::Debug for RpcLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcLink")
            .field("prefix", &self.prefix)
            .field("host_id", &self.host_id)
            .field("issuers", &self.issuers)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RpcLink {
    /// `key` signs every call (the cluster key); `issuers` are the keys whose calls this host
    /// accepts.
    pub fn new(
        bus: Bus,
        prefix: &str,
        host_id: &str,
        key: KeyPair,
        issuers: Vec<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            bus,
            prefix: prefix.to_string(),
            host_id: host_id.to_string(),
            key: Arc::new(key),
            issuers: Arc::new(issuers),
            timeout,
        }
    }

    /// The lattice prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The RPC timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The trusted cluster issuers.
    pub fn issuers(&self) -> &[String] {
        &self.issuers
    }

    /// The bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Signs an invocation of `operation` on `target` from `origin`.
    ///
    /// # Errors
    /// The key cannot sign.
    pub fn invocation(
        &self,
        origin: WasmCloudEntity,
        target: WasmCloudEntity,
        operation: &str,
        msg: Vec<u8>,
    ) -> Result<Invocation, Forgery> {
        antiforgery::sign(&self.key, &self.host_id, origin, target, operation, msg)
    }

    /// Calls `operation` on `target` and returns the reply's payload.
    ///
    /// # Errors
    /// [`RpcError::NoResponders`] when nothing serves the target, [`RpcError::Timeout`] after
    /// the RPC timeout, [`RpcError::Remote`] with the target's error text, others for bytes
    /// that are no reply.
    pub async fn call(
        &self,
        origin: WasmCloudEntity,
        target: WasmCloudEntity,
        operation: &str,
        msg: Vec<u8>,
    ) -> Result<Vec<u8>, RpcError> {
        let inv = self.invocation(origin, target, operation, msg)?;
        self.send(&inv).await
    }

    /// Sends a signed invocation and returns the reply's payload. Over NATS, a payload over
    /// [`chunks::CHUNK_THRESHOLD`] goes through the object store (§4.4), and so may the reply.
    ///
    /// # Errors
    /// As [`RpcLink::call`].
    pub async fn send(&self, inv: &Invocation) -> Result<Vec<u8>, RpcError> {
        let subject = inv.target.rpc_subject(&self.prefix);
        let client = self.bus.nats_client();
        let mut timeout = self.timeout;
        let body = match &client {
            Some(c) if inv.msg.len() > chunks::CHUNK_THRESHOLD => {
                chunks::put(c, &self.prefix, &inv.id, &inv.msg)
                    .await
                    .map_err(RpcError::Remote)?;
                timeout += chunks::CHUNK_EXTRA_TIME;
                let mut light = inv.clone();
                light.msg = Vec::new();
                light.encode()?
            }
            _ => inv.encode()?,
        };
        let reply = match self.bus.request(&subject, Bytes::from(body), timeout).await {
            Ok(m) => m,
            Err(BusError::NoResponders { .. }) => return Err(RpcError::NoResponders { subject }),
            Err(BusError::Timeout { .. }) => {
                return Err(RpcError::Timeout { subject, timeout });
            }
            Err(e) => return Err(RpcError::Bus(e)),
        };
        let resp = InvocationResponse::decode(&reply.payload)?;
        if let Some(e) = resp.error {
            return Err(RpcError::Remote(e));
        }
        let len = resp.content_length.unwrap_or(0);
        match &client {
            Some(c) if len > u64::try_from(resp.msg.len()).unwrap_or(u64::MAX) => {
                chunks::take(c, &self.prefix, &chunks::reply_name(&inv.id), len)
                    .await
                    .map_err(RpcError::Remote)
            }
            _ => Ok(resp.msg),
        }
    }
}

/// What serves validated invocations on one subject: gets the invocation (payload in `msg`),
/// returns the reply payload or an error text.
pub type Handler =
    Arc<dyn Fn(Invocation) -> BoxFuture<'static, Result<Vec<u8>, String>> + Send + Sync>;

/// Serves `sub` until it ends or `cancel` fires (see the module docs).
pub async fn serve(
    link: RpcLink,
    mut sub: Subscription,
    handler: Handler,
    cancel: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(MAX_INFLIGHT_PER_SUBJECT));
    loop {
        let msg = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            m = sub.next() => match m {
                Some(m) => m,
                None => return,
            },
        };
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let link = link.clone();
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let _permit = permit;
            answer(&link, msg, &handler).await;
        });
    }
}

/// The invocation with its whole payload (read back from the object store when chunked), once
/// its claims check out; else its id and why not.
async fn validated(link: &RpcLink, mut inv: Invocation) -> Result<Invocation, (String, String)> {
    if inv.is_chunked() {
        let Some(client) = link.bus.nats_client() else {
            return Err((
                inv.id,
                "a chunked invocation needs the NATS object store".into(),
            ));
        };
        let len = inv.content_length.unwrap_or(0);
        let payload = chunks::take(&client, &link.prefix, &inv.id, len)
            .await
            .map_err(|e| (inv.id.clone(), e))?;
        inv.msg = payload;
    }
    antiforgery::validate(&inv, None, link.issuers())
        .map_err(|e| (inv.id.clone(), e.to_string()))?;
    Ok(inv)
}

/// A successful reply; over NATS a payload over the threshold goes to the object store.
async fn reply_ok(link: &RpcLink, id: &str, out: Vec<u8>) -> InvocationResponse {
    match link.bus.nats_client() {
        Some(c) if out.len() > chunks::CHUNK_THRESHOLD => {
            match chunks::put(&c, &link.prefix, &chunks::reply_name(id), &out).await {
                Ok(()) => InvocationResponse {
                    content_length: Some(u64::try_from(out.len()).unwrap_or(u64::MAX)),
                    ..InvocationResponse::ok(id, Vec::new())
                },
                Err(e) => InvocationResponse::error(id, e),
            }
        }
        _ => InvocationResponse::ok(id, out),
    }
}

/// Validates one message, runs the handler and replies.
async fn answer(link: &RpcLink, msg: Message, handler: &Handler) {
    let reply = match Invocation::decode(&msg.payload) {
        Err(e) => {
            tracing::warn!(subject = %msg.subject, error = %e, "malformed invocation refused");
            InvocationResponse::error("", e.to_string())
        }
        Ok(inv) => match validated(link, inv).await {
            Err((id, e)) => {
                tracing::warn!(subject = %msg.subject, %id, reason = %e, "invocation refused");
                InvocationResponse::error(&id, e)
            }
            Ok(inv) => {
                let id = inv.id.clone();
                match handler(inv).await {
                    Ok(out) => reply_ok(link, &id, out).await,
                    Err(e) => InvocationResponse::error(&id, e),
                }
            }
        },
    };
    let Some(to) = msg.reply else {
        return;
    };
    match reply.encode() {
        Ok(bytes) => {
            if let Err(e) = link.bus.publish(&to, Bytes::from(bytes)).await {
                tracing::warn!(error = %e, "cannot send an invocation's reply");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot encode an invocation's reply"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_host_that_cannot_take_the_call_is_a_transient_refusal() {
        assert!(is_transient_refusal(HOST_STOPPING));
        assert!(is_transient_refusal(&format!(
            "actor MXYZ {NOT_RUNNING_HERE}"
        )));
        for actor_failed in [
            "the guest trapped: unreachable",
            "Invocation not authorized: missing capability claim for wasmcloud:httpserver",
            "the host is stopping soon, says the guest",
        ] {
            assert!(!is_transient_refusal(actor_failed), "{actor_failed}");
        }
    }
}
