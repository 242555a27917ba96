//! `builtin:messaging`: the `wasmcloud:messaging` contract on the lattice's own bus — the
//! message trigger Spin offers for Redis, here on NATS (or the in-process bus).
//!
//! - `Messaging.Publish` (`PubMessage`) publishes, with its reply subject if it has one;
//!   `Messaging.Request` (`RequestMessage`) sends a request and answers the `ReplyMessage`
//!   (`timeoutMs` 0 means the host's RPC timeout).
//! - A link from an actor to this provider with `SUBSCRIPTION=subject[,subject…]` delivers each
//!   message on those subjects to the actor as `MessageSubscriber.HandleMessage`
//!   (`SubMessage`) over lattice RPC, wherever the actor runs. Each link's subscriptions are in
//!   a queue group named after the link, so when several hosts run the provider a message is
//!   delivered once, not once per host. Deliveries are one at a time per link (the order of
//!   the subject is kept); a delivery that fails is logged and the next one goes on.
//!
//! Owns the operations and the delivery loop; which links exist and when subscriptions start
//! and stop is `core`'s.

use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::host::rpc::RpcLink;
use crate::host::rpc::wire::{WasmCloudEntity, from_msgpack, to_msgpack};
use crate::lattice::bus::{Bus, BusError};
use crate::lattice::protocol::interfaces::{PubMessage, ReplyMessage, RequestMessage, SubMessage};

/// The link value naming the subjects an actor subscribes to.
pub const SUBSCRIPTION: &str = "SUBSCRIPTION";

/// The operation a delivered message becomes.
pub const HANDLE_MESSAGE: &str = "MessageSubscriber.HandleMessage";

/// Largest message body published or requested: 1 MiB (NATS' default maximum).
pub const MAX_BODY: usize = 1024 * 1024;

/// Runs one `Messaging.*` operation.
///
/// # Errors
/// Unknown operation, a payload that is not the interface's, a bad subject, a request with no
/// responder or no reply in time.
pub async fn handle(
    bus: &Bus,
    default_timeout: Duration,
    operation: &str,
    msg: &[u8],
) -> Result<Vec<u8>, String> {
    let op = operation.strip_prefix("Messaging.").unwrap_or(operation);
    match op {
        "Publish" => {
            let m: PubMessage = from_msgpack(msg)
                .map_err(|e| format!("deserialization error in Messaging.Publish: {e}"))?;
            if m.body.len() > MAX_BODY {
                return Err(format!(
                    "the body is {} bytes, more than {MAX_BODY}",
                    m.body.len()
                ));
            }
            let r = match &m.reply_to {
                Some(reply) if !reply.is_empty() => {
                    bus.publish_with_reply(&m.subject, reply, Bytes::from(m.body))
                        .await
                }
                _ => bus.publish(&m.subject, Bytes::from(m.body)).await,
            };
            r.map_err(|e| format!("cannot publish on {}: {e}", m.subject))?;
            to_msgpack(&()).map_err(|e| e.to_string())
        }
        "Request" => {
            let m: RequestMessage = from_msgpack(msg)
                .map_err(|e| format!("deserialization error in Messaging.Request: {e}"))?;
            if m.body.len() > MAX_BODY {
                return Err(format!(
                    "the body is {} bytes, more than {MAX_BODY}",
                    m.body.len()
                ));
            }
            let timeout = if m.timeout_ms == 0 {
                default_timeout
            } else {
                Duration::from_millis(u64::from(m.timeout_ms))
            };
            let reply = bus
                .request(&m.subject, Bytes::from(m.body), timeout)
                .await
                .map_err(|e| match e {
                    BusError::NoResponders { .. } => format!("no responders on {}", m.subject),
                    BusError::Timeout { .. } => {
                        format!(
                            "no reply on {} within {} ms",
                            m.subject,
                            timeout.as_millis()
                        )
                    }
                    other => format!("request on {} failed: {other}", m.subject),
                })?;
            to_msgpack(&ReplyMessage {
                subject: reply.subject,
                reply_to: reply.reply,
                body: reply.payload.to_vec(),
            })
            .map_err(|e| e.to_string())
        }
        _ => Err(format!("method not handled Messaging::{op}")),
    }
}

/// The subjects of a `SUBSCRIPTION` value: comma-separated, blanks trimmed, empties dropped.
pub fn subjects(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What one link's deliveries need.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The provider entity the messages come from (key, contract, link name).
    pub origin: WasmCloudEntity,
    /// The actor they go to.
    pub actor: String,
    /// The link's id (the queue group's name).
    pub link_id: String,
}

/// Subscribes `subject` in the link's queue group and delivers every message to the actor
/// until `cancel`.
///
/// # Errors
/// The subscription was refused (a bad subject).
pub async fn deliver(
    rpc: RpcLink,
    subject: String,
    d: Delivery,
    cancel: CancellationToken,
) -> Result<(), BusError> {
    let queue = format!("lattice-tui-messaging-{}", d.link_id);
    let mut sub = rpc.bus().queue_subscribe(&subject, &queue).await?;
    tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                m = sub.next() => match m {
                    Some(m) => m,
                    None => return,
                },
            };
            let payload = match to_msgpack(&SubMessage {
                subject: m.subject.clone(),
                reply_to: m.reply.clone(),
                body: m.payload.to_vec(),
            }) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot encode a message for an actor");
                    continue;
                }
            };
            if let Err(e) = rpc
                .call(
                    d.origin.clone(),
                    WasmCloudEntity::actor(d.actor.clone()),
                    HANDLE_MESSAGE,
                    payload,
                )
                .await
            {
                tracing::warn!(actor = %d.actor, subject = %m.subject, error = %e, "a message could not be delivered");
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_values_split_on_commas() {
        assert_eq!(subjects(" a.b , c.> ,,"), ["a.b", "c.>"]);
        assert!(subjects("").is_empty());
    }

    #[tokio::test]
    async fn publish_and_request_on_the_bus() {
        let bus = Bus::local();
        let mut sub = bus.subscribe("demo.x").await.unwrap();
        let out = handle(
            &bus,
            Duration::from_secs(1),
            "Messaging.Publish",
            &to_msgpack(&PubMessage {
                subject: "demo.x".into(),
                reply_to: None,
                body: b"hi".to_vec(),
            })
            .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(out, vec![0xc0]);
        assert_eq!(&sub.next().await.unwrap().payload[..], b"hi");

        let err = handle(
            &bus,
            Duration::from_millis(200),
            "Messaging.Request",
            &to_msgpack(&RequestMessage {
                subject: "nobody.home".into(),
                body: vec![],
                timeout_ms: 0,
            })
            .unwrap(),
        )
        .await
        .unwrap_err();
        assert!(err.contains("nobody.home"), "{err}");
        assert_eq!(
            handle(&bus, Duration::from_secs(1), "Messaging.Nope", &[])
                .await
                .unwrap_err(),
            "method not handled Messaging::Nope"
        );
    }
}
