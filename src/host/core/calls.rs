//! Actors on the lattice's RPC: each actor's subscriber (`wasmbus.rpc.{prefix}.{actor}` in the
//! queue group of the same name, so one instance lattice-wide answers each call), what an
//! inbound invocation may reach, and where an actor's outgoing call goes (PROTOCOL.md §4.1,
//! §4.3).
//!
//! Routing of `__host_call(binding, namespace, operation)`, as OTP's `rpc_invocations.ex`:
//! a link for (actor, namespace as contract, binding as link name) → that provider, after the
//! capability check (the actor's `caps` claim must list the contract); else a 56-character
//! `M…` namespace → that actor; else a call alias from the lattice's claims → that actor.
//! Actor → actor calls need no capability.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::super::rpc::wire::{Invocation, WasmCloudEntity};
use super::super::rpc::{self, Handler, RpcError};
use super::super::runtime::{HostCall, HostCalls};
use super::HostInner;
use crate::lattice::bus::BusError;
use crate::sync::lock;

/// The link name a call without a binding uses.
const DEFAULT_LINK: &str = "default";

/// Stops an actor's RPC subscriber when its table entry goes away.
pub(super) struct RpcServing(pub(super) CancellationToken);

impl Drop for RpcServing {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Whether `ns` reads as an actor's public key.
fn is_actor_key(ns: &str) -> bool {
    ns.len() == 56 && ns.starts_with('M')
}

/// The [`HostCalls`] of this host's guests: a weak handle, so the runtime holding it keeps
/// no host alive.
pub(crate) struct CoreCalls(pub Weak<HostInner>);

impl HostCalls for CoreCalls {
    fn host_call(&self, call: HostCall) -> BoxFuture<'static, Result<Vec<u8>, String>> {
        let host = self.0.clone();
        Box::pin(async move {
            let Some(host) = host.upgrade() else {
                return Err(rpc::HOST_STOPPING.into());
            };
            host.route_call(call).await
        })
    }
}

impl HostInner {
    /// Where `call` goes, checked as §4.3 says; the call itself over RPC.
    async fn route_call(&self, call: HostCall) -> Result<Vec<u8>, String> {
        let link_name = if call.binding.is_empty() {
            DEFAULT_LINK
        } else {
            call.binding.as_str()
        };
        let origin = WasmCloudEntity::actor(call.actor.clone());
        let link = lock(&self.links)
            .values()
            .find(|l| {
                l.actor_id == call.actor
                    && l.contract_id == call.namespace
                    && l.link_name == link_name
            })
            .cloned();
        let target = if let Some(link) = link {
            let caps_ok = lock(&self.actors)
                .get(&call.actor)
                .is_some_and(|a| a.identity.caps.contains(&call.namespace));
            if !caps_ok {
                return Err(format!(
                    "Invocation not authorized: missing capability claim for {}",
                    call.namespace
                ));
            }
            WasmCloudEntity::provider(link.provider_id, link.contract_id, link.link_name)
        } else if is_actor_key(&call.namespace) {
            WasmCloudEntity::actor(call.namespace.clone())
        } else if let Some(pk) = self.actor_by_alias(&call.namespace).await {
            WasmCloudEntity::actor(pk)
        } else if call.namespace.contains(':') {
            return Err(format!(
                "Invocation not authorized: missing link definition for {} on {} ({link_name})",
                call.actor, call.namespace
            ));
        } else {
            return Err(format!(
                "no actor with the public key or call alias '{}' is known in this lattice",
                call.namespace
            ));
        };
        self.rpc
            .call(origin, target, &call.operation, call.payload)
            .await
            .map_err(|e| match e {
                RpcError::Remote(text) => text,
                other => other.to_string(),
            })
    }

    /// The actor whose claims carry `alias` as their call alias: this host's first, then the
    /// lattice's claims.
    async fn actor_by_alias(&self, alias: &str) -> Option<String> {
        let local = lock(&self.actors)
            .iter()
            .find(|(_, a)| a.identity.call_alias.as_deref() == Some(alias))
            .map(|(pk, _)| pk.clone());
        if local.is_some() {
            return local;
        }
        let claims = self.data.claims().await.ok()?;
        claims
            .into_iter()
            .find(|c| c.get("call_alias").is_some_and(|a| a == alias))
            .and_then(|c| c.get("sub").cloned())
    }

    /// Subscribes `pk`'s RPC subject (queue group = the subject) and serves it until the
    /// returned guard is dropped or the host stops.
    ///
    /// # Errors
    /// The bus refused the subscription.
    pub(super) async fn serve_actor_rpc(
        self: &Arc<Self>,
        pk: &str,
    ) -> Result<RpcServing, BusError> {
        let subject = rpc::wire::actor_subject(self.rpc.prefix(), pk);
        let sub = self.bus.queue_subscribe(&subject, &subject).await?;
        let cancel = self.shutdown.child_token();
        let weak = Arc::downgrade(self);
        let actor = pk.to_string();
        let handler: Handler = Arc::new(move |inv: Invocation| {
            let weak = weak.clone();
            let actor = actor.clone();
            let fut: BoxFuture<'static, Result<Vec<u8>, String>> = Box::pin(async move {
                let Some(host) = weak.upgrade() else {
                    return Err(rpc::HOST_STOPPING.to_string());
                };
                host.invoke_actor(&actor, inv).await
            });
            fut
        });
        self.tasks
            .spawn(rpc::serve(self.rpc.clone(), sub, handler, cancel.clone()));
        Ok(RpcServing(cancel))
    }

    /// Runs a validated invocation on a local actor, counted in its call stats.
    async fn invoke_actor(&self, pk: &str, inv: Invocation) -> Result<Vec<u8>, String> {
        if inv.target.public_key != pk {
            return Err(format!(
                "this subscription serves {pk}, not {}",
                inv.target.public_key
            ));
        }
        let (loaded, stats, caps) = {
            let actors = lock(&self.actors);
            let Some(a) = actors.get(pk) else {
                return Err(format!("actor {pk} {}", rpc::NOT_RUNNING_HERE));
            };
            (
                a.live.borrow().clone(),
                Arc::clone(&a.stats),
                a.identity.caps.clone(),
            )
        };
        // A provider may call an actor only for a contract the actor claims (OTP checks the
        // source's capability); actors may call each other freely.
        if !inv.origin.is_actor() && !caps.contains(&inv.origin.contract_id) {
            let e = format!(
                "Invocation not authorized: missing capability claim for {}",
                inv.origin.contract_id
            );
            stats.record_rpc_call(Some(&e));
            return Err(e);
        }
        stats.rpc_call_started();
        let out = self
            .runtime
            .invoke(&loaded, pk, &inv.operation, inv.msg)
            .await
            .map_err(|e| e.to_string());
        stats.rpc_call_done();
        stats.record_rpc_call(out.as_ref().err().map(String::as_str));
        out
    }
}
