//! What hosts say about themselves: `host_started`, heartbeats (both shapes), actor instance
//! events, failures, provider and health events. Pure. Counts read from events saturate.

use std::collections::{BTreeMap, BTreeSet};

use crate::lattice::protocol::{
    ActorEventClaims, EventData, EventKind, HeartbeatActors, HostHeartbeat, LatticeEvent,
};

use super::super::model::{
    ActorState, ActorStatus, Failure, HostState, HostStatus, InstanceState, Lattice,
    ProviderHealth, ProviderState, Timestamp, Tombstones, provider_key,
};
use super::claims::{ClaimsUpdate, apply_claims};
use super::{Applied, changed, not_newer};

pub(super) fn host_stopped(m: &mut Lattice, source: &str, time: Option<Timestamp>) -> Applied {
    if let Some(Some(prev)) = m.stopped_hosts.get(source)
        && time.is_some_and(|t| t <= *prev)
    {
        return Applied::Unchanged;
    }
    // Bounded: hosts come and go; remember the most recent stops only.
    const STOPPED_HOSTS: usize = 1024;
    if m.stopped_hosts.len() >= STOPPED_HOSTS
        && let Some(oldest) = m
            .stopped_hosts
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(k, _)| k.clone())
    {
        m.stopped_hosts.remove(&oldest);
    }
    m.stopped_hosts.insert(source.to_string(), time);
    changed(m.hosts.remove(source).is_some())
}

/// The host an event is about, created on first sight; `None` for a host that said
/// `host_stopped` after this event was emitted.
fn touch_host<'a>(
    m: &'a mut Lattice,
    source: &str,
    time: Option<Timestamp>,
    now: Timestamp,
    revived: &mut bool,
) -> Option<&'a mut HostState> {
    if source.is_empty() || source == crate::lattice::protocol::NO_SOURCE {
        return None;
    }
    if let Some(stopped_at) = m.stopped_hosts.get(source) {
        if not_newer(time, *stopped_at) || (time.is_none() && stopped_at.is_some()) {
            return None;
        }
        m.stopped_hosts.remove(source);
    }
    if !m.hosts.contains_key(source) {
        m.hosts
            .insert(source.to_string(), HostState::new(source, now));
        *revived = true;
    }
    let host = m.hosts.get_mut(source)?;
    if now > host.last_seen {
        host.last_seen = now;
    }
    if host.status != HostStatus::Live {
        host.status = HostStatus::Live;
        *revived = true;
    }
    Some(host)
}

pub(super) fn apply_host_event(m: &mut Lattice, ev: &LatticeEvent, now: Timestamp) -> Applied {
    let mut revived = false;
    let result = apply_to_host(m, ev, now, &mut revived);
    // Hearing of a host that was unknown, stale or lost changes the model even when the event
    // itself tells nothing new.
    if revived { Applied::Changed } else { result }
}

/// Creates the actor row if needed and records what a start event says about the actor.
fn record_actor_meta<'a>(
    host: &'a mut HostState,
    public_key: &str,
    image_ref: &Option<String>,
    claims: Option<&ActorEventClaims>,
) -> &'a mut ActorState {
    let a = host
        .actors
        .entry(public_key.to_string())
        .or_insert_with(|| ActorState::new(public_key));
    if image_ref.is_some() {
        a.image_ref.clone_from(image_ref);
    }
    if let Some(c) = claims {
        if c.name.is_some() {
            a.name.clone_from(&c.name);
        }
        if let Some(r) = c.revision {
            a.revision = r;
        }
    }
    a
}

/// What an actor row shows besides its instances.
fn actor_meta(a: &ActorState) -> (Option<String>, Option<String>, i64) {
    (a.image_ref.clone(), a.name.clone(), a.revision)
}

fn apply_to_host(
    m: &mut Lattice,
    ev: &LatticeEvent,
    now: Timestamp,
    revived: &mut bool,
) -> Applied {
    let mut claims_update: Option<ClaimsUpdate<'_>> = None;
    let Some(host) = touch_host(m, &ev.source, ev.time, now, revived) else {
        return Applied::Unchanged;
    };
    let t = ev.time;
    let result = match &ev.data {
        EventData::HostStarted(d) => {
            // A (re)started host process runs nothing yet.
            host.actors.clear();
            host.providers.clear();
            host.labels.clone_from(&d.labels);
            host.friendly_name.clone_from(&d.friendly_name);
            if d.version.is_some() {
                host.version.clone_from(&d.version);
            }
            host.uptime_seconds = Some(d.uptime_seconds.unwrap_or(0));
            host.uptime_at = Some(now);
            host.inventory_time = t;
            Applied::Changed
        }
        EventData::HostHeartbeat(hb) => heartbeat(host, hb, t, now),
        EventData::ActorStarted(d) => {
            let before = host.actors.get(&d.public_key).map(actor_meta);
            record_actor_meta(host, &d.public_key, &d.image_ref, d.claims.as_ref());
            if let Some(c) = &d.claims {
                claims_update = Some(ClaimsUpdate::Actor(&d.public_key, c));
            }
            let inv_time = host.inventory_time;
            let stopped = &host.stopped_actors;
            let a = host
                .actors
                .get_mut(&d.public_key)
                .map(|a| start_instance(a, stopped, &d.instance_id, &d.annotations, t, inv_time));
            // A start of an instance known to have stopped leaves no empty row behind.
            if host
                .actors
                .get(&d.public_key)
                .is_some_and(|a| a.count() == 0 && a.last_failure.is_none())
            {
                host.actors.remove(&d.public_key);
            }
            let after = host.actors.get(&d.public_key).map(actor_meta);
            let failed_row_gone = d.image_ref.as_ref().is_some_and(|image_ref| {
                image_ref != &d.public_key && host.actors.remove(image_ref).is_some()
            });
            if before != after || failed_row_gone {
                Applied::Changed
            } else {
                a.unwrap_or(Applied::Unchanged)
            }
        }
        EventData::ActorsStarted(d) => {
            let before = host.actors.get(&d.public_key).map(actor_meta);
            let a = record_actor_meta(host, &d.public_key, &d.image_ref, d.claims.as_ref());
            if let Some(c) = &d.claims {
                claims_update = Some(ClaimsUpdate::Actor(&d.public_key, c));
            }
            // Instance counts come from the per-instance `actor_started` events and heartbeats.
            let empty = a.count() == 0 && a.status != ActorStatus::StartFailed;
            if empty {
                host.actors.remove(&d.public_key);
            }
            changed(before != host.actors.get(&d.public_key).map(actor_meta))
        }
        EventData::ActorStartFailed(d) => {
            let key = host
                .actors
                .iter()
                .find(|(_, a)| a.image_ref.as_deref() == Some(d.actor_ref.as_str()))
                .map(|(k, _)| k.clone())
                .unwrap_or_else(|| d.actor_ref.clone());
            fail_actor(
                host,
                &key,
                Some(&d.actor_ref),
                EventKind::ActorStartFailed,
                &d.error,
                now,
            )
        }
        EventData::ActorsStartFailed(d) => {
            let key = if d.public_key.is_empty() {
                d.image_ref.clone().unwrap_or_default()
            } else {
                d.public_key.clone()
            };
            fail_actor(
                host,
                &key,
                d.image_ref.as_deref(),
                EventKind::ActorsStartFailed,
                &d.error,
                now,
            )
        }
        EventData::ActorStopped(d) => {
            let inv_time = host.inventory_time;
            let Some(a) = host.actors.get_mut(&d.public_key) else {
                // Not known (yet): remember the stop, a late actor_started must not revive it.
                host.stopped_actors.insert(&d.instance_id);
                return Applied::Unchanged;
            };
            let r = stop_instance(a, &mut host.stopped_actors, &d.instance_id, t, inv_time);
            if a.count() == 0 && a.last_failure.is_none() {
                host.actors.remove(&d.public_key);
            }
            r
        }
        EventData::ActorsStopped(_) => Applied::Unchanged,
        EventData::ActorUpdated(d) => match host.actors.get_mut(&d.public_key) {
            None => Applied::Unchanged,
            Some(a) => {
                if let Some(i) = a.instances.get_mut(&d.instance_id) {
                    i.revision = d.revision;
                }
                a.revision = a.revision.max(d.revision);
                a.last_update = Some(now);
                if a.status == ActorStatus::UpdateFailed {
                    a.status = ActorStatus::Running;
                }
                Applied::Changed
            }
        },
        EventData::ActorUpdateFailed(d) => match host.actors.get_mut(&d.public_key) {
            None => Applied::Unchanged,
            Some(a) => {
                a.status = ActorStatus::UpdateFailed;
                a.last_failure = Some(Failure {
                    kind: EventKind::ActorUpdateFailed,
                    reason: d.reason.clone(),
                    at: now,
                });
                Applied::Changed
            }
        },
        EventData::ProviderStarted(d) => {
            if host.stopped_providers.contains(&d.instance_id) {
                return Applied::Unchanged;
            }
            let key = provider_key(&d.public_key, &d.link_name);
            let p = host
                .providers
                .entry(key)
                .or_insert_with(|| ProviderState::new(&d.public_key, &d.link_name));
            if !d.contract_id.is_empty() {
                p.contract_id.clone_from(&d.contract_id);
            }
            if d.image_ref.is_some() {
                p.image_ref.clone_from(&d.image_ref);
            }
            if !d.instance_id.is_empty() {
                p.instance_id = Some(d.instance_id.clone());
            }
            p.annotations.clone_from(&d.annotations);
            if let Some(c) = &d.claims {
                if c.name.is_some() {
                    p.name.clone_from(&c.name);
                }
                claims_update = Some(ClaimsUpdate::Provider(&d.public_key, &d.contract_id, c));
            }
            if p.health == ProviderHealth::Failed {
                p.health = ProviderHealth::Awaiting;
            }
            if let Some(r) = &d.image_ref {
                host.providers.remove(&provider_key(r, &d.link_name));
            }
            Applied::Changed
        }
        EventData::ProviderStartFailed(d) => {
            let key = provider_key(&d.provider_ref, &d.link_name);
            if host.providers.values().any(|p| {
                p.image_ref.as_deref() == Some(&d.provider_ref)
                    && p.link_name == d.link_name
                    && p.health != ProviderHealth::Failed
            }) {
                // The same provider+link is already running: that is why it failed.
                return Applied::Unchanged;
            }
            let p = host
                .providers
                .entry(key)
                .or_insert_with(|| ProviderState::new(&d.provider_ref, &d.link_name));
            p.image_ref = Some(d.provider_ref.clone());
            p.health = ProviderHealth::Failed;
            p.last_failure = Some(Failure {
                kind: EventKind::ProviderStartFailed,
                reason: d.error.clone(),
                at: now,
            });
            Applied::Changed
        }
        EventData::ProviderStopped(d) => {
            host.stopped_providers.insert(&d.instance_id);
            let key = provider_key(&d.public_key, &d.link_name);
            let same_instance = host.providers.get(&key).is_some_and(|p| {
                d.instance_id.is_empty()
                    || p.instance_id.as_deref().is_none_or(|i| i == d.instance_id)
            });
            changed(same_instance && host.providers.remove(&key).is_some())
        }
        EventData::HealthCheckPassed(d)
        | EventData::HealthCheckFailed(d)
        | EventData::HealthCheckStatus(d) => {
            let key = provider_key(&d.public_key, &d.link_name);
            let created = !host.providers.contains_key(&key);
            let p = host
                .providers
                .entry(key)
                .or_insert_with(|| ProviderState::new(&d.public_key, &d.link_name));
            let filled = p.contract_id.is_empty() && !d.contract_id.is_empty();
            if filled {
                p.contract_id.clone_from(&d.contract_id);
            }
            let health = match &ev.data {
                EventData::HealthCheckPassed(_) => ProviderHealth::Healthy,
                EventData::HealthCheckFailed(_) => ProviderHealth::Unhealthy,
                // "No change": keep what is known.
                _ => p.health,
            };
            p.health_at = Some(now);
            let r = changed(created || filled || p.health != health);
            p.health = health;
            r
        }
        EventData::HostStopped(_)
        | EventData::LinkdefSet(_)
        | EventData::LinkdefDeleted(_)
        | EventData::RefmapSet(_)
        | EventData::InvocationSucceeded(_)
        | EventData::InvocationFailed(_)
        | EventData::Unknown { .. } => Applied::Unchanged,
    };
    if let Some(c) = claims_update
        && apply_claims(m, c)
    {
        return Applied::Changed;
    }
    result
}

fn heartbeat(
    host: &mut HostState,
    hb: &HostHeartbeat,
    t: Option<Timestamp>,
    now: Timestamp,
) -> Applied {
    if not_newer(t, host.inventory_time) && t != host.inventory_time {
        // An older heartbeat than the one applied: its inventory is out of date.
        return Applied::Unchanged;
    }
    host.last_heartbeat = Some(now);
    host.inventory_time = t;
    if host.labels != hb.labels {
        host.labels.clone_from(&hb.labels);
    }
    if !hb.friendly_name.is_empty() && host.friendly_name != hb.friendly_name {
        host.friendly_name.clone_from(&hb.friendly_name);
    }
    if hb.version.is_some() && host.version != hb.version {
        host.version.clone_from(&hb.version);
    }
    if hb.uptime_seconds.is_some() {
        host.uptime_seconds = hb.uptime_seconds;
        host.uptime_at = Some(now);
    }
    match &hb.actors {
        HeartbeatActors::Counts(counts) => {
            // Both maps are sorted by key: walk them side by side (one comparison per step)
            // instead of looking every key up in the other map.
            let mut missing: Vec<(&String, u64)> = Vec::new();
            let mut wanted = counts.iter().peekable();
            for (id, a) in host.actors.iter_mut() {
                while let Some((pk, &count)) = wanted.next_if(|(pk, _)| pk.as_str() < id.as_str()) {
                    missing.push((pk, count));
                }
                match wanted.next_if(|(pk, _)| *pk == id) {
                    Some((_, &count)) => set_count(a, count),
                    // Not running any more, unless it is a failed start kept for display.
                    None if a.status == ActorStatus::StartFailed && a.count() == 0 => {}
                    None => {
                        a.instances.clear();
                        a.unidentified = 0;
                    }
                }
            }
            missing.extend(wanted.map(|(pk, &count)| (pk, count)));
            for (pk, count) in missing {
                let mut a = ActorState::new(pk);
                set_count(&mut a, count);
                host.actors.insert(pk.clone(), a);
            }
            host.actors
                .retain(|_, a| a.count() > 0 || a.status == ActorStatus::StartFailed);
        }
        HeartbeatActors::Instances(list) => {
            let mut by_actor: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for i in list {
                by_actor
                    .entry(i.public_key.as_str())
                    .or_default()
                    .insert(i.instance_id.as_str());
            }
            host.actors.retain(|id, a| {
                by_actor.contains_key(id.as_str())
                    || (a.status == ActorStatus::StartFailed && a.count() == 0)
            });
            for (pk, ids) in by_actor {
                let a = host
                    .actors
                    .entry(pk.to_string())
                    .or_insert_with(|| ActorState::new(pk));
                a.instances.retain(|k, _| ids.contains(k.as_str()));
                let rev = a.revision;
                for id in ids {
                    host.stopped_actors.remove(id);
                    a.instances.entry(id.to_string()).or_insert(InstanceState {
                        revision: rev,
                        ..InstanceState::default()
                    });
                }
                a.unidentified = 0;
                if a.status == ActorStatus::StartFailed {
                    a.status = ActorStatus::Running;
                }
            }
        }
    }
    // Update in place: a heartbeat usually lists the providers already known.
    let mut listed = Vec::with_capacity(hb.providers.len());
    for p in &hb.providers {
        let key = provider_key(&p.public_key, &p.link_name);
        if !host.providers.contains_key(&key) {
            host.providers
                .insert(key.clone(), ProviderState::new(&p.public_key, &p.link_name));
        }
        if let Some(st) = host.providers.get_mut(&key) {
            if !p.contract_id.is_empty() && st.contract_id != p.contract_id {
                st.contract_id.clone_from(&p.contract_id);
            }
            if let Some(i) = &p.instance_id
                && st.instance_id.as_ref() != Some(i)
            {
                st.instance_id = Some(i.clone());
            }
            if st.health == ProviderHealth::Failed {
                st.health = ProviderHealth::Awaiting;
            }
        }
        listed.push(key);
    }
    // Failed starts are not in a heartbeat; keep them visible.
    host.providers
        .retain(|k, p| listed.contains(k) || p.health == ProviderHealth::Failed);
    Applied::Changed
}

/// Reconciles an actor's instances with a 0.60+ heartbeat count.
fn set_count(a: &mut ActorState, count: u64) {
    let known = a.instances.len() as u64;
    if known > count {
        // Some known instances stopped unseen; which ones is unknowable.
        let keep: Vec<String> = a
            .instances
            .keys()
            .take(usize::try_from(count).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        a.instances.retain(|k, _| keep.contains(k));
        a.unidentified = 0;
    } else {
        a.unidentified = count - known;
    }
    if a.status == ActorStatus::StartFailed {
        a.status = ActorStatus::Running;
    }
}

fn start_instance(
    a: &mut ActorState,
    stopped: &Tombstones,
    instance_id: &str,
    annotations: &crate::lattice::protocol::StringMap,
    t: Option<Timestamp>,
    inventory_time: Option<Timestamp>,
) -> Applied {
    if stopped.contains(instance_id) {
        // A late or repeated start of an instance known to have stopped.
        return Applied::Unchanged;
    }
    if a.status == ActorStatus::StartFailed {
        a.status = ActorStatus::Running;
        a.last_failure = None;
    }
    if instance_id.is_empty() {
        return Applied::Unchanged;
    }
    if let Some(i) = a.instances.get_mut(instance_id) {
        let same = i.annotations == *annotations;
        i.annotations.clone_from(annotations);
        return changed(!same);
    }
    if not_newer(t, inventory_time) {
        // The heartbeat already counted it; name one of the unidentified instances.
        if a.unidentified == 0 {
            return Applied::Unchanged;
        }
        a.unidentified -= 1;
    }
    a.instances.insert(
        instance_id.to_string(),
        InstanceState {
            revision: a.revision,
            annotations: annotations.clone(),
        },
    );
    Applied::Changed
}

fn stop_instance(
    a: &mut ActorState,
    stopped: &mut Tombstones,
    instance_id: &str,
    t: Option<Timestamp>,
    inventory_time: Option<Timestamp>,
) -> Applied {
    if stopped.contains(instance_id) {
        return Applied::Unchanged;
    }
    stopped.insert(instance_id);
    let counted = not_newer(t, inventory_time);
    if a.instances.remove(instance_id).is_some() {
        if counted {
            // The newer heartbeat's count already excludes this instance: the one it counted
            // in its place is running under an id we do not know.
            a.unidentified = a.unidentified.saturating_add(1);
        }
        return Applied::Changed;
    }
    if !counted && a.unidentified > 0 {
        a.unidentified -= 1;
        return Applied::Changed;
    }
    Applied::Unchanged
}

fn fail_actor(
    host: &mut HostState,
    key: &str,
    image_ref: Option<&str>,
    kind: EventKind,
    reason: &str,
    now: Timestamp,
) -> Applied {
    if key.is_empty() {
        return Applied::Unchanged;
    }
    let a = host
        .actors
        .entry(key.to_string())
        .or_insert_with(|| ActorState::new(key));
    if a.image_ref.is_none() {
        a.image_ref = image_ref.map(str::to_string);
    }
    if a.count() == 0 {
        a.status = ActorStatus::StartFailed;
    }
    a.last_failure = Some(Failure {
        kind,
        reason: reason.to_string(),
        at: now,
    });
    Applied::Changed
}
