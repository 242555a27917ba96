//! The control interface (`wasmbus.ctl.{lattice}.*`, PROTOCOL.md §2): subscriptions with the
//! OTP queue groups, parsing, acks and replies in the exact OTP-era shapes.
//!
//! Owns the subjects this host listens on and the translation of requests into calls on the
//! host core. Commands are acked at once and their outcome arrives as events, except `upd`
//! (synchronous in OTP) and `sa`/`sp` (whose failure is worth an immediate answer). Every
//! malformed request gets `{"accepted":false,"error":…}` and changes nothing; nothing here
//! panics on network input.
//!
//! Ordering: [`subscribe`] returns only once every subscription is in place and the server
//! has confirmed them (a flush), so the host announces `host_started` after it can answer.
//! A reply that must be on the wire before something else happens (`cmd.{host}.stop`) is
//! flushed first, then the action runs.
//!
//! Bounds: at most [`MAX_CTL_INFLIGHT`] requests are handled at once (more wait in the
//! subscriptions' bounded buffers; beyond those the bus drops and counts). Work that outlives
//! its ack (`la`, `scale`, `lp`) takes a permit of the core's pending-operation limit first and
//! is refused with a failure ack (and a failure event) when none is left; starts that cannot
//! fit the instance budget are refused the same way.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::core::{HostInner, ProviderStart};
use super::files::Origin;
use super::providers::Builtin;
use crate::lattice::bus::{BusError, Message, Subscription};
use crate::lattice::protocol::{
    ActorAuctionAck, ActorAuctionRequest, CtlOperationAck, EventData, GetClaimsResponse,
    LinkDefinition, LinkDefinitionList, ProviderAuctionAck, ProviderAuctionRequest,
    ProviderStartFailed, RegistryCredentialMap, RemoveLinkDefinitionRequest, ScaleActorCommand,
    StartActorCommand, StartProviderCommand, StopActorCommand, StopHostCommand,
    StopProviderCommand, StringMap, UpdateActorCommand,
};
use crate::lattice::subjects::{CmdVerb, CtlRoute};

/// Control requests handled at once; more wait in the subscription buffers. Each handler is
/// short (acks first; the work that outlives the ack is bounded by the core's pending
/// operations), so this bounds memory, not throughput. `upd` holds its slot while it compiles.
pub const MAX_CTL_INFLIGHT: usize = 64;

/// How long a reply that must be delivered before the host acts (the ack of `cmd.stop`) may
/// take to flush; past it the host acts anyway (the lattice may be unreachable).
const REPLY_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// How much of each control reply the debug log shows (an ack whole, an inventory's start).
const REPLY_LOG_BYTES: usize = 200;

/// The host's control subscriptions, made by [`subscribe`] and served by [`serve`].
pub(crate) struct CtlSubscriptions(Vec<Subscription>);

/// Makes every control subscription of the host and waits until the server has them.
///
/// # Errors
/// A subscription could not be made or the flush failed.
pub(crate) async fn subscribe(inner: &HostInner) -> Result<CtlSubscriptions, BusError> {
    if let Some(delay) = inner.faults.ctl_subscribe_delay {
        tracing::debug!(
            ?delay,
            "fault injection: delaying the control subscriptions"
        );
        tokio::time::sleep(delay).await;
    }
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
    Ok(CtlSubscriptions(subs))
}

/// Serves the control subjects until shutdown.
pub(crate) async fn serve(inner: Arc<HostInner>, subs: CtlSubscriptions) {
    let mut merged = futures::stream::select_all(subs.0);
    let permits = Arc::new(Semaphore::new(MAX_CTL_INFLIGHT));
    loop {
        let msg = tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            msg = merged.next() => msg,
        };
        let Some(msg) = msg else {
            tracing::warn!("control subscriptions ended");
            return;
        };
        let permit = tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let inner2 = inner.clone();
        inner.tasks.spawn(async move {
            let _permit = permit;
            handle(&inner2, msg).await;
        });
    }
}

/// What happens once a reply is on its way.
enum After {
    /// Nothing.
    Nothing,
    /// Stop the host (`cmd.{host}.stop`), after the ack is flushed.
    StopHost,
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
    let (reply, after) = match inner.subjects.route(&msg.subject) {
        Some(route) => answer(inner, route, &msg.payload).await,
        None => (
            ack(Err(format!("unknown control subject {}", msg.subject))),
            After::Nothing,
        ),
    };
    if let Some(delay) = inner.faults.ctl_reply_delay {
        tokio::time::sleep(delay).await;
    }
    if let (Some(to), Some(body)) = (msg.reply.as_deref(), reply) {
        tracing::debug!(
            subject = %msg.subject,
            reply = %String::from_utf8_lossy(&body[..body.len().min(REPLY_LOG_BYTES)]),
            "control reply"
        );
        if let Err(e) = inner.bus.publish(to, body).await {
            tracing::warn!(subject = %msg.subject, error = %e, "cannot send a control reply");
        }
    }
    match after {
        After::Nothing => {}
        After::StopHost => {
            // The ack first, on the wire; then the stop (which ends the subscriptions).
            match tokio::time::timeout(REPLY_FLUSH_TIMEOUT, inner.bus.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "could not flush the stop ack"),
                Err(_) => tracing::warn!(
                    "the stop ack was not flushed within {REPLY_FLUSH_TIMEOUT:?}; stopping anyway"
                ),
            }
            inner.shutdown.cancel();
        }
    }
}

async fn answer(
    inner: &Arc<HostInner>,
    route: CtlRoute<'_>,
    payload: &[u8],
) -> (Option<Bytes>, After) {
    tracing::debug!(?route, "control request");
    let reply = match route {
        CtlRoute::PingHosts => {
            inner.heartbeat_now.notify_one();
            json(&inner.ping_reply())
        }
        CtlRoute::AuctionActor => auction_actor(inner, payload).await,
        CtlRoute::AuctionProvider => auction_provider(inner, payload).await,
        CtlRoute::RegistriesPut => ack(parse::<RegistryCredentialMap>("registries.put", payload)
            .map(|creds| inner.set_registries(creds))),
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
        CtlRoute::Command(_, CmdVerb::StopHost) => {
            return match stop_host(payload) {
                Ok(()) => (ack(Ok(())), After::StopHost),
                Err(e) => (ack(Err(e)), After::Nothing),
            };
        }
        CtlRoute::Command(_, verb) => ack(command(inner, verb, payload).await),
        CtlRoute::Unknown => ack(Err("unknown control operation".to_string())),
    };
    (reply, After::Nothing)
}

/// `auction.actor`: a bid only from an eligible host that could run the actor (PROTOCOL.md
/// §2.4; OTP checks the labels, this host also that it may load the file and has room).
async fn auction_actor(inner: &HostInner, payload: &[u8]) -> Option<Bytes> {
    let req: ActorAuctionRequest = parse("auction.actor", payload).ok()?;
    inner.identity.matches(&req.constraints).then_some(())?;
    if let Err(why) = inner.can_run_actor(&req.actor_ref).await {
        tracing::debug!(actor_ref = %req.actor_ref, %why, "not bidding for an actor");
        return None;
    }
    json(&ActorAuctionAck {
        actor_ref: req.actor_ref,
        constraints: req.constraints,
        host_id: inner.host_id(),
    })
}

/// `auction.provider`: a bid only when this host can start the provider (a built-in one, or
/// an external one from a file it may load, on a NATS lattice) and does not run it on that
/// link name yet.
async fn auction_provider(inner: &HostInner, payload: &[u8]) -> Option<Bytes> {
    let req: ProviderAuctionRequest = parse("auction.provider", payload).ok()?;
    let startable = Builtin::by_ref(&req.provider_ref).is_some()
        || inner.can_run_external(&req.provider_ref).await;
    let runnable = startable && !inner.provider_running(&req.provider_ref, &req.link_name);
    (inner.identity.matches(&req.constraints) && runnable).then_some(())?;
    json(&ProviderAuctionAck {
        provider_ref: req.provider_ref,
        link_name: req.link_name,
        constraints: req.constraints,
        host_id: inner.host_id(),
    })
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

fn stop_host(payload: &[u8]) -> Result<(), String> {
    let cmd: StopHostCommand = if payload.iter().all(u8::is_ascii_whitespace) {
        StopHostCommand::default()
    } else {
        parse("cmd.stop", payload)?
    };
    tracing::info!(timeout_ms = ?cmd.timeout, "stop requested through the control interface");
    Ok(())
}

/// A start that cannot even be accepted: the failure ack's text, also published as
/// `actor_start_failed` / `actors_start_failed` (the CLI waits for one of those).
async fn refuse_start(
    inner: &Arc<HostInner>,
    actor_ref: &str,
    annotations: StringMap,
    error: String,
) -> Result<(), String> {
    inner
        .publish_start_failed(actor_ref, None, annotations, &error)
        .await;
    Err(error)
}

async fn command(inner: &Arc<HostInner>, verb: CmdVerb, payload: &[u8]) -> Result<(), String> {
    match verb {
        CmdVerb::LaunchActor => {
            let cmd: StartActorCommand = parse("cmd.la", payload)?;
            if cmd.actor_ref.trim().is_empty() {
                return Err("invalid cmd.la request: actor_ref is required".into());
            }
            let annotations = cmd.annotations.unwrap_or_default();
            let permit = match inner
                .check_room(usize::from(cmd.count.max(1)))
                .and_then(|()| inner.pending_op())
            {
                Ok(p) => p,
                Err(e) => return refuse_start(inner, &cmd.actor_ref, annotations, e).await,
            };
            let h = inner.clone();
            inner.tasks.spawn(async move {
                let _permit = permit;
                let _ = h
                    .start_actor(&cmd.actor_ref, cmd.count, annotations, Origin::Lattice)
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
            let annotations = cmd.annotations.unwrap_or_default();
            let permit = match inner
                .check_scale_room(cmd.actor_id.as_deref(), &cmd.actor_ref, cmd.count)
                .and_then(|()| inner.pending_op())
            {
                Ok(p) => p,
                Err(e) => return refuse_start(inner, &cmd.actor_ref, annotations, e).await,
            };
            let h = inner.clone();
            inner.tasks.spawn(async move {
                let _permit = permit;
                let _ = h
                    .scale_actor(
                        cmd.actor_id.as_deref(),
                        &cmd.actor_ref,
                        cmd.count,
                        annotations,
                        Origin::Lattice,
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
                .update_actor(&actor_id, &cmd.new_actor_ref, Origin::Lattice)
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
            if inner.provider_running(&cmd.provider_ref, &cmd.link_name) {
                // OTP: a failure ack at once, and the failure event too.
                return match inner
                    .start_provider(&cmd.provider_ref, &cmd.link_name, StringMap::new(), None)
                    .await
                {
                    ProviderStart::AlreadyRunning(e) => Err(e),
                    ProviderStart::Started | ProviderStart::Failed => Ok(()),
                };
            }
            let permit = match inner.pending_op() {
                Ok(p) => p,
                Err(e) => {
                    inner
                        .events
                        .publish(EventData::ProviderStartFailed(ProviderStartFailed {
                            provider_ref: cmd.provider_ref.clone(),
                            link_name: cmd.link_name.clone(),
                            error: e.clone(),
                        }))
                        .await;
                    return Err(e);
                }
            };
            let h = inner.clone();
            inner.tasks.spawn(async move {
                let _permit = permit;
                let _ = h
                    .start_provider(
                        &cmd.provider_ref,
                        &cmd.link_name,
                        cmd.annotations.unwrap_or_default(),
                        cmd.configuration,
                    )
                    .await;
            });
            Ok(())
        }
        CmdVerb::StopProvider => {
            let cmd: StopProviderCommand = parse("cmd.sp", payload)?;
            inner.stop_provider(&cmd.provider_ref, &cmd.link_name).await
        }
        // Answered in `answer`: its ack must be flushed before the host stops.
        CmdVerb::StopHost => stop_host(payload),
    }
}
