//! What the host says about itself: the `ping.hosts` reply, the inventory, heartbeat data,
//! `host_started` / `host_stopped`, and the console's per-actor facts.

use super::HostInner;
use crate::lattice::protocol::{
    ActorDescription, ActorInstance, EventData, HeartbeatActors, HeartbeatProvider, Host,
    HostHeartbeat, HostInventory, HostStarted, HostStopped, ProviderDescription,
};
use crate::sync::lock;

/// `5 minutes, 12 seconds`.
pub fn uptime_human(secs: u64) -> String {
    let units = [
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
        (1, "second"),
    ];
    let mut left = secs;
    let mut parts = Vec::new();
    for (size, name) in units {
        let n = left / size;
        left %= size;
        if n > 0 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        "0 seconds".to_string()
    } else {
        parts.join(", ")
    }
}

impl HostInner {
    /// The `ping.hosts` reply.
    pub fn ping_reply(&self) -> Host {
        let uptime = self.uptime();
        Host {
            id: self.host_id(),
            issuer: Some(self.identity.cluster_public_key()),
            labels: self.identity.labels.clone(),
            friendly_name: self.identity.friendly_name.clone(),
            uptime_seconds: uptime,
            uptime_human: Some(uptime_human(uptime)),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            cluster_issuers: Some(self.identity.cluster_issuers.join(",")),
            js_domain: None,
            ctl_host: Some(self.bus.transport().to_string()),
            prov_rpc_host: Some(self.bus.transport().to_string()),
            rpc_host: Some(self.bus.transport().to_string()),
            lattice_prefix: Some(self.subjects.lattice().to_string()),
        }
    }

    /// The `get.{host}.inv` reply.
    pub fn inventory(&self) -> HostInventory {
        let actors = lock(&self.actors)
            .values()
            .map(|a| {
                let revision = a.revision();
                ActorDescription {
                    id: a.identity.public_key.clone(),
                    image_ref: Some(a.image_ref.clone()),
                    name: a.identity.name.clone(),
                    instances: a
                        .instances
                        .iter()
                        .map(|(id, i)| ActorInstance {
                            instance_id: id.clone(),
                            annotations: Some(i.annotations.clone()),
                            revision,
                            max_concurrent: 1,
                        })
                        .collect(),
                }
            })
            .collect();
        let providers = lock(&self.providers)
            .iter()
            .map(|((pk, link), p)| ProviderDescription {
                id: pk.clone(),
                image_ref: Some(p.image_ref.clone()),
                contract_id: p.contract_id.clone(),
                link_name: link.clone(),
                name: Some(p.name.clone()),
                instance_id: p.instance_id.clone(),
                annotations: Some(p.annotations.clone()),
                revision: 0,
            })
            .collect();
        HostInventory {
            host_id: self.host_id(),
            issuer: Some(self.identity.cluster_public_key()),
            friendly_name: self.identity.friendly_name.clone(),
            labels: self.identity.labels.clone(),
            actors,
            providers,
        }
    }

    /// The heartbeat data (0.60+ shape: actor counts).
    pub fn heartbeat(&self) -> HostHeartbeat {
        let uptime = self.uptime();
        let actors = lock(&self.actors)
            .values()
            .map(|a| {
                (
                    a.identity.public_key.clone(),
                    u64::try_from(a.instances.len()).unwrap_or(u64::MAX),
                )
            })
            .collect();
        let providers = lock(&self.providers)
            .iter()
            .map(|((pk, link), p)| HeartbeatProvider {
                public_key: pk.clone(),
                link_name: link.clone(),
                contract_id: p.contract_id.clone(),
                instance_id: None,
            })
            .collect();
        HostHeartbeat {
            actors: HeartbeatActors::Counts(actors),
            providers,
            labels: self.identity.labels.clone(),
            friendly_name: self.identity.friendly_name.clone(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            uptime_seconds: Some(uptime),
            uptime_human: Some(uptime_human(uptime)),
        }
    }

    /// `host_started` data.
    pub fn host_started(&self) -> EventData {
        EventData::HostStarted(HostStarted {
            labels: self.identity.labels.clone(),
            friendly_name: self.identity.friendly_name.clone(),
            uptime_seconds: Some(self.uptime()),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        })
    }

    /// `host_stopped` data.
    pub fn host_stopped(&self) -> EventData {
        EventData::HostStopped(HostStopped {
            labels: self.identity.labels.clone(),
        })
    }

    /// Per-actor call counters and notes, for the console.
    pub fn actor_stats(&self) -> Vec<super::super::ActorStats> {
        lock(&self.actors)
            .values()
            .map(|a| {
                let live = a.live.borrow().clone();
                super::super::ActorStats {
                    public_key: a.identity.public_key.clone(),
                    name: a.identity.name.clone(),
                    calls: a.stats.snapshot(),
                    revision: live.revision,
                    digest: live.digest.clone(),
                    note: live.no_http_reason.clone(),
                    source: a.source.clone(),
                    watched: a.watched,
                    last_reload: a.last_reload.clone(),
                    last_error: a.last_error.clone(),
                    last_call_failure: a.stats.last_failure(),
                }
            })
            .collect()
    }

    /// Why the lattice-data watch is down, while it is.
    pub fn data_watch_error(&self) -> Option<String> {
        lock(&self.data_watch_error).clone()
    }
}
