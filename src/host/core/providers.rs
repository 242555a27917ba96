//! The built-in HTTP server capability provider (`builtin:httpserver`): starting and stopping
//! it per link name, its claims, and its health checks (`health_check_passed` / `_failed` on a
//! change, `health_check_status` otherwise, as OTP 0.62+). Its health also reflects whether
//! its routes can be trusted: failed routes or a lattice-data watch that is down make it
//! unhealthy.

use std::sync::Arc;

use super::{
    BUILTIN_HTTP_NAME, BUILTIN_HTTP_REF, HTTP_CONTRACT, HostInner, OpError, ProviderEntry,
    ProviderStart, new_instance_id,
};
use crate::lattice::protocol::{
    ClaimsMap, EventData, HealthCheck, ProviderEventClaims, ProviderStartFailed, ProviderStarted,
    ProviderStopped, StringMap,
};
use crate::sync::lock;

impl HostInner {
    fn provider_claims(&self) -> ProviderEventClaims {
        ProviderEventClaims {
            issuer: Some(String::new()),
            tags: Some(vec![]),
            name: Some(BUILTIN_HTTP_NAME.to_string()),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            not_before_human: Some("immediately".into()),
            expires_human: Some("never".into()),
        }
    }

    fn provider_claims_map(&self) -> ClaimsMap {
        [
            ("sub", self.builtin_http_key.clone()),
            ("iss", String::new()),
            ("name", BUILTIN_HTTP_NAME.to_string()),
            ("call_alias", String::new()),
            ("caps", String::new()),
            ("rev", "0".to_string()),
            ("tags", String::new()),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("contract_id", HTTP_CONTRACT.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Starts a provider. Only the built-in HTTP server (`builtin:httpserver`) runs here.
    pub async fn start_provider(
        self: &Arc<Self>,
        provider_ref: &str,
        link_name: &str,
        annotations: StringMap,
    ) -> ProviderStart {
        let failed = |error: String| {
            EventData::ProviderStartFailed(ProviderStartFailed {
                provider_ref: provider_ref.to_string(),
                link_name: link_name.to_string(),
                error,
            })
        };
        if provider_ref != BUILTIN_HTTP_REF {
            let error = format!(
                "only the built-in HTTP server provider ({BUILTIN_HTTP_REF}) runs on this host; {provider_ref} is not supported yet"
            );
            self.events.publish(failed(error)).await;
            return ProviderStart::Failed;
        }
        let instance_id = new_instance_id();
        let inserted = {
            let mut providers = lock(&self.providers);
            if providers.contains_key(link_name) {
                false
            } else {
                providers.insert(
                    link_name.to_string(),
                    ProviderEntry {
                        image_ref: provider_ref.to_string(),
                        instance_id: instance_id.clone(),
                        annotations: annotations.clone(),
                        healthy: None,
                    },
                );
                true
            }
        };
        if !inserted {
            let error = format!(
                "provider {BUILTIN_HTTP_REF} with link name {link_name} is already running on this host"
            );
            self.events.publish(failed(error.clone())).await;
            return ProviderStart::AlreadyRunning(error);
        }
        if let Err(e) = self.data.put_claims(&self.provider_claims_map()).await {
            tracing::warn!(error = %e, "could not write provider claims");
        }
        self.events
            .publish(EventData::ProviderStarted(ProviderStarted {
                public_key: self.builtin_http_key.clone(),
                image_ref: Some(provider_ref.to_string()),
                link_name: link_name.to_string(),
                contract_id: HTTP_CONTRACT.to_string(),
                instance_id,
                annotations,
                claims: Some(self.provider_claims()),
            }))
            .await;
        self.reconcile_routes().await;
        self.check_health().await;
        ProviderStart::Started
    }

    /// Stops the built-in provider running under `link_name`.
    ///
    /// # Errors
    /// It does not run here.
    pub async fn stop_provider(
        self: &Arc<Self>,
        public_key: &str,
        link_name: &str,
    ) -> Result<(), OpError> {
        if public_key != self.builtin_http_key {
            return Err(format!("provider {public_key} is not running on this host"));
        }
        let Some(entry) = lock(&self.providers).remove(link_name) else {
            return Err(format!(
                "provider {public_key} with link name {link_name} is not running on this host"
            ));
        };
        self.reconcile_routes().await;
        self.events
            .publish(EventData::ProviderStopped(ProviderStopped {
                public_key: public_key.to_string(),
                link_name: link_name.to_string(),
                contract_id: HTTP_CONTRACT.to_string(),
                instance_id: entry.instance_id,
                annotations: entry.annotations,
                reason: "normal".into(),
            }))
            .await;
        Ok(())
    }

    /// Stops every provider (shutdown), with their events.
    pub async fn stop_all_providers(self: &Arc<Self>) {
        let links: Vec<String> = lock(&self.providers).keys().cloned().collect();
        let key = self.builtin_http_key.clone();
        for link in links {
            let _ = self.stop_provider(&key, &link).await;
        }
    }

    /// Publishes provider health: `health_check_passed` / `_failed` on a change,
    /// `health_check_status` otherwise (OTP 0.62+).
    pub async fn check_health(&self) {
        let healthy = self.http.healthy()
            && lock(&self.route_errors).is_empty()
            && lock(&self.data_watch_error).is_none();
        let updates: Vec<(String, Option<bool>)> = {
            let mut providers = lock(&self.providers);
            providers
                .iter_mut()
                .map(|(link, p)| {
                    let before = p.healthy.replace(healthy);
                    (link.clone(), before)
                })
                .collect()
        };
        for (link, before) in updates {
            let hc = HealthCheck {
                public_key: self.builtin_http_key.clone(),
                contract_id: HTTP_CONTRACT.to_string(),
                link_name: link,
            };
            let data = match (before, healthy) {
                (Some(b), h) if b == h => EventData::HealthCheckStatus(hc),
                (_, true) => EventData::HealthCheckPassed(hc),
                (_, false) => EventData::HealthCheckFailed(hc),
            };
            self.events.publish(data).await;
        }
    }

    /// Whether the built-in provider runs here under `link_name`.
    pub fn provider_running(&self, link_name: &str) -> bool {
        lock(&self.providers).contains_key(link_name)
    }
}
