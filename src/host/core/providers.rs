//! The provider table: the built-in providers (`builtin:httpserver`, `builtin:keyvalue`; see
//! [`crate::host::providers`]) started and stopped per (provider, link name), their claims,
//! their RPC subscribers and their health checks (`health_check_passed` / `_failed` on a
//! change, `health_check_status` otherwise, as OTP 0.62+). The HTTP server's health also
//! reflects whether its routes can be trusted: failed routes or a lattice-data watch that is
//! down make it unhealthy.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::super::providers::{Builtin, HTTPSERVER, KEYVALUE, MESSAGING, keyvalue, messaging};
use super::super::rpc::wire::{Invocation, WasmCloudEntity, provider_subject};
use super::super::rpc::{self, Handler};
use super::calls::RpcServing;
use super::{HostInner, OpError, ProviderEntry, ProviderStart, new_instance_id};
use crate::lattice::protocol::{
    ClaimsMap, EventData, HealthCheck, LinkDefinition, ProviderEventClaims, ProviderStartFailed,
    ProviderStarted, ProviderStopped, StringMap,
};
use crate::sync::lock;

/// The queue group of a provider's RPC subscription (`wasmbus-rpc`'s provider SDK).
const PROVIDER_QUEUE: &str = "rpc";

/// The health event for a check that found `healthy` after `before`: `health_check_passed` /
/// `_failed` on a change (or the first check), `health_check_status` otherwise (OTP 0.62+).
pub(super) fn health_event(before: Option<bool>, healthy: bool, hc: HealthCheck) -> EventData {
    match (before, healthy) {
        (Some(b), h) if b == h => EventData::HealthCheckStatus(hc),
        (_, true) => EventData::HealthCheckPassed(hc),
        (_, false) => EventData::HealthCheckFailed(hc),
    }
}

pub(super) fn provider_claims(b: Builtin) -> ProviderEventClaims {
    ProviderEventClaims {
        issuer: Some(String::new()),
        tags: Some(vec![]),
        name: Some(b.name.to_string()),
        version: Some(env!("CARGO_PKG_VERSION").to_string()),
        not_before_human: Some("immediately".into()),
        expires_human: Some("never".into()),
    }
}

fn provider_claims_map(b: Builtin) -> ClaimsMap {
    [
        ("sub", b.public_key()),
        ("iss", String::new()),
        ("name", b.name.to_string()),
        ("call_alias", String::new()),
        ("caps", String::new()),
        ("rev", "0".to_string()),
        ("tags", String::new()),
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("contract_id", b.contract.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl HostInner {
    /// Starts a provider. The built-in ones run here ([`Builtin`]); anything else fails with
    /// a `provider_start_failed` that says so.
    pub async fn start_provider(
        self: &Arc<Self>,
        provider_ref: &str,
        link_name: &str,
        annotations: StringMap,
        configuration: Option<String>,
    ) -> ProviderStart {
        let failed = |error: String| {
            EventData::ProviderStartFailed(ProviderStartFailed {
                provider_ref: provider_ref.to_string(),
                link_name: link_name.to_string(),
                error,
            })
        };
        let Some(builtin) = Builtin::by_ref(provider_ref) else {
            return self
                .start_external(provider_ref, link_name, annotations, configuration)
                .await;
        };
        let key = (builtin.public_key(), link_name.to_string());
        if lock(&self.providers).contains_key(&key) {
            let error = format!(
                "provider {provider_ref} with link name {link_name} is already running on this host"
            );
            self.events.publish(failed(error.clone())).await;
            return ProviderStart::AlreadyRunning(error);
        }
        let serving = if builtin == HTTPSERVER {
            None
        } else {
            match self.serve_builtin(builtin, link_name).await {
                Ok(s) => Some(s),
                Err(error) => {
                    self.events.publish(failed(error)).await;
                    return ProviderStart::Failed;
                }
            }
        };
        let instance_id = new_instance_id();
        let inserted = {
            let mut providers = lock(&self.providers);
            if providers.contains_key(&key) {
                false
            } else {
                providers.insert(
                    key.clone(),
                    ProviderEntry {
                        builtin: Some(builtin),
                        contract_id: builtin.contract.to_string(),
                        name: builtin.name.to_string(),
                        image_ref: provider_ref.to_string(),
                        instance_id: instance_id.clone(),
                        annotations: annotations.clone(),
                        healthy: None,
                        _serving: serving,
                    },
                );
                true
            }
        };
        if !inserted {
            let error = format!(
                "provider {provider_ref} with link name {link_name} is already running on this host"
            );
            self.events.publish(failed(error.clone())).await;
            return ProviderStart::AlreadyRunning(error);
        }
        if let Err(e) = self.data.put_claims(&provider_claims_map(builtin)).await {
            tracing::warn!(error = %e, "could not write provider claims");
        }
        self.events
            .publish(EventData::ProviderStarted(ProviderStarted {
                public_key: key.0.clone(),
                image_ref: Some(provider_ref.to_string()),
                link_name: link_name.to_string(),
                contract_id: builtin.contract.to_string(),
                instance_id,
                annotations,
                claims: Some(provider_claims(builtin)),
            }))
            .await;
        if builtin == HTTPSERVER {
            self.reconcile_routes().await;
        }
        if builtin == MESSAGING {
            self.reconcile_messaging().await;
        }
        self.check_health().await;
        ProviderStart::Started
    }

    /// Serves a built-in provider's RPC subject for `link_name` in the queue group `rpc`, as
    /// the provider SDK subscribes (one host answers each call): `builtin:keyvalue` with its
    /// store (JetStream on NATS, memory in-process), `builtin:messaging` on the bus.
    async fn serve_builtin(
        self: &Arc<Self>,
        builtin: Builtin,
        link_name: &str,
    ) -> Result<RpcServing, String> {
        let store = if builtin == KEYVALUE {
            Some(Arc::new(match self.bus.nats_client() {
                Some(client) => keyvalue::Store::nats(client, self.rpc.prefix(), link_name).await?,
                None => keyvalue::Store::memory(),
            }))
        } else {
            None
        };
        let pk = builtin.public_key();
        let subject = provider_subject(self.rpc.prefix(), &pk, link_name);
        let sub = self
            .bus
            .queue_subscribe(&subject, PROVIDER_QUEUE)
            .await
            .map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
        let cancel = self.shutdown.child_token();
        let weak = Arc::downgrade(self);
        let link = link_name.to_string();
        let handler: Handler = Arc::new(move |inv: Invocation| {
            let weak = weak.clone();
            let store = store.clone();
            let link = link.clone();
            let fut: BoxFuture<'static, Result<Vec<u8>, String>> = Box::pin(async move {
                let Some(host) = weak.upgrade() else {
                    return Err(rpc::HOST_STOPPING.to_string());
                };
                host.check_provider_link(&inv, builtin.contract, &link)?;
                match &store {
                    Some(store) => keyvalue::handle(store, &inv.operation, &inv.msg).await,
                    None => {
                        messaging::handle(&host.bus, host.rpc.timeout(), &inv.operation, &inv.msg)
                            .await
                    }
                }
            });
            fut
        });
        self.tasks
            .spawn(rpc::serve(self.rpc.clone(), sub, handler, cancel.clone()));
        Ok(RpcServing(cancel))
    }

    /// Makes `builtin:messaging`'s deliveries match the links: one set of subscriptions per
    /// link (with `SUBSCRIPTION`) to a messaging provider running here; a link whose values
    /// changed is resubscribed.
    pub(super) async fn reconcile_messaging(self: &Arc<Self>) {
        let pk = MESSAGING.public_key();
        let want: BTreeMap<String, LinkDefinition> = {
            let providers = lock(&self.providers);
            lock(&self.links)
                .values()
                .filter(|l| {
                    l.provider_id == pk
                        && l.contract_id == MESSAGING.contract
                        && providers.contains_key(&(pk.clone(), l.link_name.clone()))
                        && l.values.contains_key(messaging::SUBSCRIPTION)
                })
                .map(|l| (l.id.clone(), l.clone()))
                .collect()
        };
        let start: Vec<LinkDefinition> = {
            let mut subs = lock(&self.message_subs);
            subs.retain(|id, (values, _)| want.get(id).is_some_and(|l| l.values == *values));
            want.into_values()
                .filter(|l| !subs.contains_key(&l.id))
                .collect()
        };
        for l in start {
            let cancel = self.shutdown.child_token();
            let d = messaging::Delivery {
                origin: WasmCloudEntity::provider(
                    pk.clone(),
                    MESSAGING.contract,
                    l.link_name.clone(),
                ),
                actor: l.actor_id.clone(),
                link_id: l.id.clone(),
            };
            let value = l
                .values
                .get(messaging::SUBSCRIPTION)
                .cloned()
                .unwrap_or_default();
            for subject in messaging::subjects(&value) {
                if let Err(e) =
                    messaging::deliver(self.rpc.clone(), subject.clone(), d.clone(), cancel.clone())
                        .await
                {
                    tracing::warn!(%subject, actor = %l.actor_id, error = %e, "cannot subscribe for a messaging link");
                }
            }
            lock(&self.message_subs).insert(l.id.clone(), (l.values.clone(), RpcServing(cancel)));
        }
    }

    /// A provider answers only actors linked to it (the SDK's `unlinked actor` refusal).
    fn check_provider_link(
        &self,
        inv: &Invocation,
        contract: &str,
        link_name: &str,
    ) -> Result<(), String> {
        let actor = &inv.origin.public_key;
        let linked = lock(&self.links)
            .values()
            .any(|l| l.actor_id == *actor && l.contract_id == contract && l.link_name == link_name);
        if linked {
            Ok(())
        } else {
            Err(format!("unlinked actor: '{actor}'"))
        }
    }

    /// Stops the provider `provider` (its public key or its reference) running under
    /// `link_name`.
    ///
    /// # Errors
    /// It does not run here.
    pub async fn stop_provider(
        self: &Arc<Self>,
        provider: &str,
        link_name: &str,
    ) -> Result<(), OpError> {
        let public_key = Builtin::by_ref(provider)
            .map(|b| b.public_key())
            .unwrap_or_else(|| provider.to_string());
        let key = (public_key.clone(), link_name.to_string());
        let Some(entry) = lock(&self.providers).remove(&key) else {
            return Err(if Builtin::by_key(&public_key).is_some() {
                format!(
                    "provider {public_key} with link name {link_name} is not running on this host"
                )
            } else {
                format!("provider {public_key} is not running on this host")
            });
        };
        if entry.builtin == Some(HTTPSERVER) {
            self.reconcile_routes().await;
        }
        if entry.builtin == Some(MESSAGING) {
            self.reconcile_messaging().await;
        }
        // Dropping the entry stops an external provider's process: `shutdown`, then a kill.
        drop(entry._serving);
        self.events
            .publish(EventData::ProviderStopped(ProviderStopped {
                public_key,
                link_name: link_name.to_string(),
                contract_id: entry.contract_id.clone(),
                instance_id: entry.instance_id.clone(),
                annotations: entry.annotations.clone(),
                reason: "normal".into(),
            }))
            .await;
        Ok(())
    }

    /// Stops every provider (shutdown), with their events.
    pub async fn stop_all_providers(self: &Arc<Self>) {
        let keys: Vec<(String, String)> = lock(&self.providers).keys().cloned().collect();
        for (pk, link) in keys {
            let _ = self.stop_provider(&pk, &link).await;
        }
    }

    /// Publishes provider health: `health_check_passed` / `_failed` on a change,
    /// `health_check_status` otherwise (OTP 0.62+).
    pub async fn check_health(&self) {
        let http_healthy = self.http.healthy()
            && lock(&self.route_errors).is_empty()
            && lock(&self.data_watch_error).is_none();
        // External providers report their own health (their `….health` checks).
        let updates: Vec<(Builtin, String, Option<bool>, bool)> = {
            let mut providers = lock(&self.providers);
            providers
                .iter_mut()
                .filter_map(|((_, link), p)| {
                    let builtin = p.builtin?;
                    let healthy = if builtin == HTTPSERVER {
                        http_healthy
                    } else {
                        true
                    };
                    let before = p.healthy.replace(healthy);
                    Some((builtin, link.clone(), before, healthy))
                })
                .collect()
        };
        for (builtin, link, before, healthy) in updates {
            let hc = HealthCheck {
                public_key: builtin.public_key(),
                contract_id: builtin.contract.to_string(),
                link_name: link,
            };
            self.events.publish(health_event(before, healthy, hc)).await;
        }
    }

    /// Whether the provider started by `reference` runs here under `link_name` (a built-in
    /// one by its key, an external one by the reference it was started from).
    pub fn provider_running(&self, reference: &str, link_name: &str) -> bool {
        let providers = lock(&self.providers);
        match Builtin::by_ref(reference) {
            Some(b) => providers.contains_key(&(b.public_key(), link_name.to_string())),
            None => providers
                .iter()
                .any(|((_, l), p)| l == link_name && p.image_ref == reference),
        }
    }
}
