//! The answers of a resync (`ping.hosts`, inventories, links, claims) folded into the model:
//! they replace what the events built, except what no query carries (health, failures). Pure.

use std::collections::BTreeMap;

use crate::lattice::protocol::{
    ActorInstance, HostInventory, LatticeSnapshot, ProviderDescription,
};

use super::super::model::{
    ActorState, ActorStatus, HostState, HostStatus, InstanceState, Lattice, ProviderHealth,
    ProviderState, Timestamp, provider_key,
};

/// Folds the answers of a resync into the model: the hosts that answered `ping.hosts` are the
/// truth (others are dropped), inventories replace the hosts' actors and providers (keeping
/// health and failures the inventory does not carry), and links and claims are replaced when
/// their query was answered.
pub fn apply_resync(m: &mut Lattice, snap: &LatticeSnapshot, now: Timestamp) {
    let mut hosts = BTreeMap::new();
    for h in &snap.hosts {
        if h.id.is_empty() {
            continue;
        }
        let mut hs = m
            .hosts
            .remove(&h.id)
            .unwrap_or_else(|| HostState::new(&h.id, now));
        m.stopped_hosts.remove(&h.id);
        hs.friendly_name.clone_from(&h.friendly_name);
        hs.labels.clone_from(&h.labels);
        if h.version.is_some() {
            hs.version.clone_from(&h.version);
        }
        hs.uptime_seconds = Some(h.uptime_seconds);
        hs.uptime_at = Some(now);
        if h.issuer.is_some() {
            hs.issuer.clone_from(&h.issuer);
        }
        hs.last_seen = now;
        hs.status = HostStatus::Live;
        if let Some(inv) = snap.inventories.iter().find(|i| i.host_id == h.id) {
            replace_inventory(&mut hs, inv);
        }
        hosts.insert(h.id.clone(), hs);
    }
    m.hosts = hosts;
    if let Some(links) = &snap.links {
        m.links = links
            .iter()
            .map(|l| {
                let l = l.clone().with_id();
                (l.id.clone(), l)
            })
            .collect();
    }
    if let Some(claims) = &snap.claims {
        m.claims_digest.clear();
        m.claims = claims
            .iter()
            .filter_map(|c| Some((c.get("sub")?.clone(), c.clone())))
            .collect();
    }
    m.connection.resyncs = m.connection.resyncs.saturating_add(1);
    m.connection.last_resync = Some(now);
    m.connection.last_error = if snap.errors.is_empty() {
        None
    } else {
        Some(snap.errors.join("; "))
    };
}

fn replace_inventory(hs: &mut HostState, inv: &HostInventory) {
    if !inv.friendly_name.is_empty() {
        hs.friendly_name.clone_from(&inv.friendly_name);
    }
    if !inv.labels.is_empty() {
        hs.labels.clone_from(&inv.labels);
    }
    let mut actors = BTreeMap::new();
    for a in &inv.actors {
        let mut st = hs
            .actors
            .remove(&a.id)
            .unwrap_or_else(|| ActorState::new(&a.id));
        if a.name.is_some() {
            st.name.clone_from(&a.name);
        }
        if a.image_ref.is_some() {
            st.image_ref.clone_from(&a.image_ref);
        }
        st.instances = a.instances.iter().map(instance_entry).collect();
        st.unidentified = 0;
        if let Some(rev) = a.instances.iter().map(|i| i.revision).max() {
            st.revision = rev;
        }
        if st.status == ActorStatus::StartFailed {
            st.status = ActorStatus::Running;
        }
        actors.insert(a.id.clone(), st);
    }
    // Failed starts are not in an inventory; keep them visible.
    for (id, a) in std::mem::take(&mut hs.actors) {
        if a.status == ActorStatus::StartFailed && a.count() == 0 {
            actors.entry(id).or_insert(a);
        }
    }
    hs.actors = actors;
    let mut providers = BTreeMap::new();
    for p in &inv.providers {
        let key = provider_key(&p.id, &p.link_name);
        let mut st = hs
            .providers
            .remove(&key)
            .unwrap_or_else(|| ProviderState::new(&p.id, &p.link_name));
        fill_provider(&mut st, p);
        providers.insert(key, st);
    }
    keep_failed_providers(&mut hs.providers, &mut providers);
    hs.providers = providers;
}

fn instance_entry(i: &ActorInstance) -> (String, InstanceState) {
    (
        i.instance_id.clone(),
        InstanceState {
            revision: i.revision,
            annotations: i.annotations.clone().unwrap_or_default(),
        },
    )
}

fn fill_provider(st: &mut ProviderState, p: &ProviderDescription) {
    if !p.contract_id.is_empty() {
        st.contract_id.clone_from(&p.contract_id);
    }
    if p.name.is_some() {
        st.name.clone_from(&p.name);
    }
    if p.image_ref.is_some() {
        st.image_ref.clone_from(&p.image_ref);
    }
    if !p.instance_id.is_empty() {
        st.instance_id = Some(p.instance_id.clone());
    }
    if let Some(a) = &p.annotations {
        st.annotations.clone_from(a);
    }
    if st.health == ProviderHealth::Failed {
        st.health = ProviderHealth::Awaiting;
    }
}

fn keep_failed_providers(
    old: &mut BTreeMap<String, ProviderState>,
    new: &mut BTreeMap<String, ProviderState>,
) {
    for (k, p) in std::mem::take(old) {
        if p.health == ProviderHealth::Failed {
            new.entry(k).or_insert(p);
        }
    }
}
