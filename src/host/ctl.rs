//! The control interface (`wasmbus.ctl.{lattice}.*`, PROTOCOL.md §2): subscriptions with the
//! OTP queue groups, parsing, acks and replies in the exact OTP-era shapes.
//!
//! Owns the subjects this host listens on and the translation of requests into calls on the
//! host core. Commands are acked at once and their outcome arrives as events, except `upd`
//! (synchronous in OTP) and `sa`/`sp` (whose failure is worth an immediate answer). Every
//! malformed request gets `{"accepted":false,"error":…}` and changes nothing; nothing here
//! panics on network input.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::core::{BUILTIN_HTTP_REF, HostInner, ProviderStart, lock};
use crate::lattice::bus::{BusError, Message};
use crate::lattice::protocol::{
    ActorAuctionAck, ActorAuctionRequest, CtlOperationAck, GetClaimsResponse, LinkDefinition,
    LinkDefinitionList, ProviderAuctionAck, ProviderAuctionRequest, RegistryCredentialMap,
    RemoveLinkDefinitionRequest, ScaleActorCommand, StartActorCommand, StartProviderCommand,
    StopActorCommand, StopHostCommand, StopProviderCommand, StringMap, UpdateActorCommand,
};
use crate::lattice::subjects::{CmdVerb, CtlRoute};

/// Control requests handled at once; more wait in the subscription buffers. Each handler is
/// short (acks first, work in tasks), so this bounds memory, not throughput.
const MAX_CTL_INFLIGHT: usize = 64;

/// Subscribes to the host's control subjects and serves them until shutdown.
///
/// # Errors
/// A subscription could not be made.
pub(crate) async fn serve(inner: Arc<HostInner>) -> Result<(), BusError> {
    let host_id = inner.host_id();
    let mut subs = Vec::new();
    for (subject, queue) in inner.subjects.host_subscriptions(&host_id) {
        let sub = match queue {
            Some(q) => inner.bus.queue_subscribe(&subject, &q).await?,
            None => inner.bus.subscribe(&subject).await?,
        };
        subs.push(sub);
    }
    inner.bus.flush().await?;
    let mut merged = futures::stream::select_all(subs);
    let permits = Arc::new(Semaphore::new(MAX_CTL_INFLIGHT));
    loop {
        let msg = tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return Ok(()),
            msg = merged.next() => msg,
        };
        let Some(msg) = msg else {
            tracing::warn!("control subscriptions ended");
            return Ok(());
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return Ok(());
        };
        let inner2 = inner.clone();
        inner.tasks.spawn(async move {
            let _permit = permit;
            handle(&inner2, msg).await;
        });
    }
}

fn json<T: Serialize>(v: &T) -> Option<Bytes> {
    match serde_json::to_vec(v) {
        Ok(b) => Some(Bytes::from(b)),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a control reply");
            None
        }
    }
}

fn ack(result: Result<(), String>) -> Option<Bytes> {
    json(&match result {
        Ok(()) => CtlOperationAck::ok(),
        Err(e) => CtlOperationAck::fail(e),
    })
}

fn parse<T: DeserializeOwned>(what: &str, payload: &[u8]) -> Result<T, String> {
    serde_json::from_slice(payload).map_err(|e| format!("invalid {what} request: {e}"))
}

async fn handle(inner: &Arc<HostInner>, msg: Message) {
    let reply = match inner.subjects.route(&msg.subject) {
        Some(route) => answer(inner, route, &msg.payload).await,
        None => ack(Err(format!("unknown control subject {}", msg.subject))),
    };
    if let (Some(to), Some(body)) = (msg.reply.as_deref(), reply)
        && let Err(e) = inner.bus.publish(to, body).await
    {
        tracing::warn!(subject = %msg.subject, error = %e, "cannot send a control reply");
    }
}

async fn answer(inner: &Arc<HostInner>, route: CtlRoute<'_>, payload: &[u8]) -> Option<Bytes> {
    tracing::debug!(?route, "control request");
    match route {
        CtlRoute::PingHosts => {
            inner.heartbeat_now.notify_one();
            json(&inner.ping_reply())
        }
        CtlRoute::AuctionActor => {
            let req: ActorAuctionRequest = parse("auction.actor", payload).ok()?;
            inner.identity.matches(&req.constraints).then_some(())?;
            json(&ActorAuctionAck {
                actor_ref: req.actor_ref,
                constraints: req.constraints,
                host_id: inner.host_id(),
            })
        }
        CtlRoute::AuctionProvider => {
            let req: ProviderAuctionRequest = parse("auction.provider", payload).ok()?;
            let running = req.provider_ref == BUILTIN_HTTP_REF
                && lock(&inner.providers).contains_key(&req.link_name);
            (inner.identity.matches(&req.constraints) && !running).then_some(())?;
            json(&ProviderAuctionAck {
                provider_ref: req.provider_ref,
                link_name: req.link_name,
                constraints: req.constraints,
                host_id: inner.host_id(),
            })
        }
        CtlRoute::RegistriesPut => ack(parse::<RegistryCredentialMap>("registries.put", payload)
            .map(|creds| {
                tracing::info!(registries = creds.len(), "registry credentials replaced");
                *lock(&inner.registries) = creds;
            })),
        CtlRoute::GetLinks => match inner.data.links().await {
            Ok(links) => json(&LinkDefinitionList { links }),
            Err(e) => ack(Err(format!("cannot read links: {e}"))),
        },
        CtlRoute::GetClaims => match inner.data.claims().await {
            Ok(claims) => json(&GetClaimsResponse { claims }),
            Err(e) => ack(Err(format!("cannot read claims: {e}"))),
        },
        CtlRoute::LinkdefsPut => ack(put_link(inner, payload).await),
        CtlRoute::LinkdefsDel => ack(del_link(inner, payload).await),
        CtlRoute::Inventory(host) if host == inner.host_id() => json(&inner.inventory()),
        CtlRoute::Inventory(host) => ack(Err(format!("host {host} is not this host"))),
        CtlRoute::Command(host, _) if host != inner.host_id() => {
            ack(Err(format!("host {host} is not this host")))
        }
        CtlRoute::Command(_, verb) => ack(command(inner, verb, payload).await),
        CtlRoute::Unknown => ack(Err("unknown control operation".to_string())),
    }
}

async fn put_link(inner: &Arc<HostInner>, payload: &[u8]) -> Result<(), String> {
    let link: LinkDefinition = parse("linkdefs.put", payload)?;
    for (field, v) in [
        ("actor_id", &link.actor_id),
        ("provider_id", &link.provider_id),
        ("contract_id", &link.contract_id),
        ("link_name", &link.link_name),
    ] {
        if v.trim().is_empty() {
            return Err(format!("invalid linkdefs.put request: {field} is required"));
        }
    }
    inner
        .data
        .put_link(&link.with_id())
        .await
        .map_err(|e| format!("cannot store the link: {e}"))
}

async fn del_link(inner: &Arc<HostInner>, payload: &[u8]) -> Result<(), String> {
    let req: RemoveLinkDefinitionRequest = parse("linkdefs.del", payload)?;
    if req.actor_id.is_empty() || req.contract_id.is_empty() {
        return Err("invalid linkdefs.del request: actor_id and contract_id are required".into());
    }
    match inner
        .data
        .delete_link(&req.actor_id, &req.contract_id, &req.link_name)
        .await
    {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            tracing::warn!(actor = %req.actor_id, contract = %req.contract_id, link = %req.link_name, "linkdefs.del for an unknown link");
            Ok(())
        }
        Err(e) => Err(format!("cannot delete the link: {e}")),
    }
}

async fn command(inner: &Arc<HostInner>, verb: CmdVerb, payload: &[u8]) -> Result<(), String> {
    match verb {
        CmdVerb::LaunchActor => {
            let cmd: StartActorCommand = parse("cmd.la", payload)?;
            if cmd.actor_ref.trim().is_empty() {
                return Err("invalid cmd.la request: actor_ref is required".into());
            }
            let h = inner.clone();
            inner.tasks.spawn(async move {
                h.start_actor(
                    &cmd.actor_ref,
                    cmd.count,
                    cmd.annotations.unwrap_or_default(),
                )
                .await;
            });
            Ok(())
        }
        CmdVerb::StopActor => {
            let cmd: StopActorCommand = parse("cmd.sa", payload)?;
            inner
                .stop_actor(
                    &cmd.actor_ref,
                    cmd.count,
                    &cmd.annotations.unwrap_or_default(),
                )
                .await
        }
        CmdVerb::Scale => {
            let cmd: ScaleActorCommand = parse("cmd.scale", payload)?;
            if cmd.actor_ref.trim().is_empty() && cmd.actor_id.as_deref().is_none_or(str::is_empty)
            {
                return Err("invalid cmd.scale request: actor_ref is required".into());
            }
            let h = inner.clone();
            inner.tasks.spawn(async move {
                h.scale_actor(
                    cmd.actor_id.as_deref(),
                    &cmd.actor_ref,
                    cmd.count,
                    cmd.annotations.unwrap_or_default(),
                )
                .await;
            });
            Ok(())
        }
        CmdVerb::Update => {
            let cmd: UpdateActorCommand = parse("cmd.upd", payload)?;
            let actor_id = match cmd.actor_id.filter(|a| !a.is_empty()) {
                Some(id) => id,
                None => {
                    return Err("invalid cmd.upd request: actor_id is required".into());
                }
            };
            inner
                .update_actor(&actor_id, &cmd.new_actor_ref)
                .await
                .map(|_| ())
        }
        CmdVerb::LaunchProvider => {
            let cmd: StartProviderCommand = parse("cmd.lp", payload)?;
            if cmd.provider_ref.trim().is_empty() || cmd.link_name.trim().is_empty() {
                return Err(
                    "invalid cmd.lp request: provider_ref and link_name are required".into(),
                );
            }
            if cmd.provider_ref == BUILTIN_HTTP_REF
                && lock(&inner.providers).contains_key(&cmd.link_name)
            {
                // OTP: a failure ack at once, and the failure event too.
                return match inner
                    .start_provider(&cmd.provider_ref, &cmd.link_name, StringMap::new())
                    .await
                {
                    ProviderStart::AlreadyRunning(e) => Err(e),
                    ProviderStart::Started | ProviderStart::Failed => Ok(()),
                };
            }
            let h = inner.clone();
            inner.tasks.spawn(async move {
                let _ = h
                    .start_provider(
                        &cmd.provider_ref,
                        &cmd.link_name,
                        cmd.annotations.unwrap_or_default(),
                    )
                    .await;
            });
            Ok(())
        }
        CmdVerb::StopProvider => {
            let cmd: StopProviderCommand = parse("cmd.sp", payload)?;
            inner.stop_provider(&cmd.provider_ref, &cmd.link_name).await
        }
        CmdVerb::StopHost => {
            let cmd: StopHostCommand = if payload.iter().all(u8::is_ascii_whitespace) {
                StopHostCommand::default()
            } else {
                parse("cmd.stop", payload)?
            };
            tracing::info!(timeout_ms = ?cmd.timeout, "stop requested through the control interface");
            let h = inner.clone();
            // Reply first: the ack goes out before the host starts going down.
            inner.tasks.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                h.shutdown.cancel();
            });
            Ok(())
        }
    }
}
