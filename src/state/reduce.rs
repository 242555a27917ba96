//! The reducer: folds lattice events, resync answers and clock ticks into a [`Lattice`].
//!
//! Pure and deterministic: no I/O, no clock, no logging. `now` is always an argument.
//!
//! Rules (PROTOCOL.md §3):
//! - A heartbeat *replaces* the host's inventory. Instance events whose host-clock time is not
//!   newer than the last applied heartbeat are already reflected in it: they may name an
//!   instance the heartbeat only counted, but never change a count.
//! - Instance and provider ids that stopped are remembered (bounded), so late or repeated
//!   starts cannot resurrect them; a `host_stopped` host ignores its own older events.
//! - Link definitions are deduplicated lattice-wide by id (several hosts publish the same
//!   `linkdef_set`).
//! - An event whose id is still in the event log is a repeat and changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::lattice::protocol::{
    ActorEventClaims, ActorInstance, ClaimsMap, DecodeError, EventData, EventKind, HeartbeatActors,
    HostHeartbeat, HostInventory, LatticeEvent, LatticeSnapshot, ProviderDescription,
    ProviderEventClaims,
};

use super::model::{
    ActorState, ActorStatus, BUILD_OUTPUT_LINES, BuildLine, BuildState, BuildStatus, Failure,
    HostState, HostStatus, InstanceState, Lattice, LocalHost, LogEntry, LogLevel, Logged,
    ModelConfig, ProviderHealth, ProviderState, Timestamp, Tombstones, provider_key,
};
use super::summary::level_of;

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The lattice state changed.
    Changed,
    /// A valid event that changed nothing but the log (a known fact, a late event).
    Unchanged,
    /// The event id was applied before; nothing changed at all.
    Duplicate,
    /// An unknown event type; only logged.
    Ignored,
}

/// Applies one decoded event received at `now`. The log keeps the event itself: pass an
/// `Arc<LatticeEvent>` to share it without a copy (a `&LatticeEvent` is cloned once).
pub fn apply(m: &mut Lattice, ev: impl Into<Arc<LatticeEvent>>, now: Timestamp) -> Applied {
    let ev: Arc<LatticeEvent> = ev.into();
    if !ev.id.is_empty() && m.events.ids.contains(&id_hash(&ev.id)) {
        return Applied::Duplicate;
    }
    let applied = match &ev.data {
        EventData::Unknown { .. } => Applied::Ignored,
        EventData::LinkdefSet(link) => {
            let computed;
            let id = if link.id.is_empty() {
                computed = link.computed_id();
                &computed
            } else {
                &link.id
            };
            let same = m.links.get(id).is_some_and(|have| {
                have.actor_id == link.actor_id
                    && have.provider_id == link.provider_id
                    && have.contract_id == link.contract_id
                    && have.link_name == link.link_name
                    && have.values == link.values
            });
            if same {
                Applied::Unchanged
            } else {
                let link = link.clone().with_id();
                m.links.insert(link.id.clone(), link);
                Applied::Changed
            }
        }
        EventData::LinkdefDeleted(link) => {
            let id = if link.id.is_empty() {
                link.computed_id()
            } else {
                link.id.clone()
            };
            changed(m.links.remove(&id).is_some())
        }
        EventData::RefmapSet(r) => {
            if m.refmaps.get(&r.oci_url) == Some(&r.public_key) {
                Applied::Unchanged
            } else {
                m.refmaps.insert(r.oci_url.clone(), r.public_key.clone());
                Applied::Changed
            }
        }
        EventData::HostStopped(_) => host_stopped(m, &ev.source, ev.time),
        _ => apply_host_event(m, &ev, now),
    };
    match applied {
        Applied::Changed => m.stats.changed += 1,
        Applied::Unchanged => m.stats.unchanged += 1,
        Applied::Ignored => m.stats.unknown += 1,
        Applied::Duplicate => {}
    }
    let level = level_of(&ev.data);
    push_log(m, now, level, Logged::Event(ev));
    applied
}

/// Records a message that could not be decoded, so the console can show it.
pub fn record_malformed(m: &mut Lattice, err: &DecodeError, now: Timestamp) {
    m.stats.malformed += 1;
    let (source, kind) = match err {
        DecodeError::Envelope(_) => (String::new(), EventKind::Unknown),
        DecodeError::Data {
            kind, source_id, ..
        } => (source_id.clone(), *kind),
    };
    push_log(
        m,
        now,
        LogLevel::Error,
        Logged::Malformed {
            source,
            kind,
            reason: err.to_string(),
        },
    );
}

/// Replaces the embedded host's facts. Returns whether they changed.
pub fn set_local(m: &mut Lattice, local: LocalHost) -> bool {
    if m.local.as_ref() == Some(&local) {
        return false;
    }
    m.local = Some(local);
    true
}

/// A fact about the dev build (`lattice-tui dev --build`), as the build runner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildUpdate {
    /// A run started because these files changed.
    Started {
        /// Run number.
        run: u64,
        /// The changed files.
        trigger: Vec<String>,
    },
    /// A line of output.
    Output {
        /// Run number.
        run: u64,
        /// The line.
        line: String,
        /// Whether it came on stderr.
        stderr: bool,
    },
    /// A run ended.
    Finished {
        /// Run number.
        run: u64,
        /// Whether it succeeded.
        success: bool,
        /// Its exit code.
        code: Option<i32>,
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// A run was cut short by a newer change.
    Cancelled {
        /// Run number.
        run: u64,
    },
    /// The build runner itself failed.
    Error {
        /// What happened.
        message: String,
    },
}

/// Folds a build fact received at `now` into the model (`command` names the build).
pub fn record_build(m: &mut Lattice, command: &str, update: BuildUpdate, now: Timestamp) {
    let b = m.build.get_or_insert_with(|| BuildState {
        command: command.to_string(),
        ..BuildState::default()
    });
    let mut push = |run: u64, stderr: bool, text: String| {
        if b.output.len() >= BUILD_OUTPUT_LINES {
            b.output.pop_front();
        }
        b.output.push_back(BuildLine { run, stderr, text });
    };
    match update {
        BuildUpdate::Started { run, trigger } => {
            b.run = run;
            b.status = BuildStatus::Running;
            let changed = match trigger.as_slice() {
                [] => String::new(),
                [one] => format!(" ({one} changed)"),
                [first, rest @ ..] => format!(" ({first} and {} more changed)", rest.len()),
            };
            b.trigger = trigger;
            b.started = Some(now);
            push(run, false, format!("── run {run}: {command}{changed}"));
        }
        BuildUpdate::Output { run, line, stderr } => push(run, stderr, line),
        BuildUpdate::Finished {
            run,
            success,
            code,
            took_ms,
        } => {
            if run == b.run {
                b.status = if success {
                    BuildStatus::Succeeded
                } else {
                    BuildStatus::Failed
                };
                b.code = code;
                b.took_ms = Some(took_ms);
            }
            let how = if success { "succeeded" } else { "FAILED" };
            let code = code.map(|c| format!(", exit {c}")).unwrap_or_default();
            push(
                run,
                !success,
                format!("── run {run} {how} in {took_ms} ms{code}"),
            );
        }
        BuildUpdate::Cancelled { run } => {
            if run == b.run {
                b.status = BuildStatus::Cancelled;
            }
            push(
                run,
                false,
                format!("── run {run} cancelled: sources changed again"),
            );
        }
        BuildUpdate::Error { message } => {
            let run = b.run;
            push(run, true, format!("build runner error: {message}"));
        }
    }
}

/// Recomputes host liveness at `now`. Returns whether any host changed status.
pub fn tick(m: &mut Lattice, now: Timestamp) -> bool {
    let cfg = m.config.clone();
    let mut any = false;
    for h in m.hosts.values_mut() {
        let s = status_at(&cfg, h.last_seen, now);
        if s != h.status {
            h.status = s;
            any = true;
        }
    }
    any
}

/// Liveness of a host last heard of at `last_seen`.
pub fn status_at(cfg: &ModelConfig, last_seen: Timestamp, now: Timestamp) -> HostStatus {
    let silent = (now - last_seen).num_milliseconds().max(0) as u64;
    let interval = cfg.heartbeat_interval_secs.saturating_mul(1000);
    if silent > interval.saturating_mul(cfg.lost_after_intervals.into()) {
        HostStatus::Lost
    } else if silent > interval.saturating_mul(cfg.stale_after_intervals.into()) {
        HostStatus::Stale
    } else {
        HostStatus::Live
    }
}

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
    m.connection.resyncs += 1;
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

fn changed(yes: bool) -> Applied {
    if yes {
        Applied::Changed
    } else {
        Applied::Unchanged
    }
}

/// `t` is known to be no later than `reference` (both host-clock times).
fn not_newer(t: Option<Timestamp>, reference: Option<Timestamp>) -> bool {
    matches!((t, reference), (Some(t), Some(r)) if t <= r)
}

fn host_stopped(m: &mut Lattice, source: &str, time: Option<Timestamp>) -> Applied {
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

fn apply_host_event(m: &mut Lattice, ev: &LatticeEvent, now: Timestamp) -> Applied {
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
        | EventData::Unknown { .. } => Applied::Unchanged,
    };
    if let Some(c) = claims_update {
        let changed = match c {
            ClaimsUpdate::Actor(pk, c) => {
                let digest = claims_digest(c);
                if m.claims_digest.get(pk) == Some(&digest) && m.claims.contains_key(pk) {
                    false
                } else {
                    let same = m
                        .claims
                        .get(pk)
                        .is_some_and(|have| actor_claims_match(have, c));
                    if !same {
                        m.claims.insert(pk.to_string(), actor_claims(pk, c));
                    }
                    m.claims_digest.insert(pk.to_string(), digest);
                    !same
                }
            }
            ClaimsUpdate::Provider(pk, contract, c) => {
                let known = m.claims.contains_key(pk);
                if !known {
                    m.claims
                        .insert(pk.to_string(), provider_claims(pk, contract, c));
                }
                !known
            }
        };
        if changed {
            return Applied::Changed;
        }
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
        let keep: Vec<String> = a.instances.keys().take(count as usize).cloned().collect();
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
            a.unidentified += 1;
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

/// Claims an event carries, applied after the host borrow ends.
enum ClaimsUpdate<'a> {
    Actor(&'a str, &'a ActorEventClaims),
    Provider(&'a str, &'a str, &'a ProviderEventClaims),
}

fn claims_digest(c: &ActorEventClaims) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x636c_6169_6d73).hash_one(c)
}

/// Whether `have` already says what the event's claims say. Walks `have` in key order against
/// the expected values instead of building a map or looking keys up one by one.
fn actor_claims_match(have: &ClaimsMap, c: &ActorEventClaims) -> bool {
    fn list_eq(have: &str, want: &Option<Vec<String>>) -> bool {
        match want.as_deref() {
            None | Some([]) => have.is_empty(),
            Some(want) => have.split(',').eq(want.iter().map(String::as_str)),
        }
    }
    fn s(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
    // Keys in BTreeMap order: call_alias, caps, contract_id, iss, name, rev, sub, tags, version.
    let mut it = have.iter();
    let mut next = |key: &str| {
        it.next()
            .filter(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.as_str())
    };
    next("call_alias") == Some(s(&c.call_alias))
        && next("caps").is_some_and(|v| list_eq(v, &c.caps))
        && next("contract_id") == Some("")
        && next("iss") == Some(s(&c.issuer))
        && next("name") == Some(s(&c.name))
        && next("rev").and_then(|r| r.parse::<i64>().ok()) == Some(c.revision.unwrap_or(0))
        && next("sub").is_some()
        && next("tags").is_some_and(|v| list_eq(v, &c.tags))
        && next("version") == Some(s(&c.version))
        && it.next().is_none()
}

fn join(v: &Option<Vec<String>>) -> String {
    v.as_deref().map(|v| v.join(",")).unwrap_or_default()
}

/// Claims of an actor event in the `get.claims` shape (all values strings).
fn actor_claims(public_key: &str, c: &ActorEventClaims) -> ClaimsMap {
    let mut m = ClaimsMap::new();
    m.insert("sub".into(), public_key.to_string());
    m.insert("iss".into(), c.issuer.clone().unwrap_or_default());
    m.insert("name".into(), c.name.clone().unwrap_or_default());
    m.insert(
        "call_alias".into(),
        c.call_alias.clone().unwrap_or_default(),
    );
    m.insert("caps".into(), join(&c.caps));
    m.insert("rev".into(), c.revision.unwrap_or(0).to_string());
    m.insert("tags".into(), join(&c.tags));
    m.insert("version".into(), c.version.clone().unwrap_or_default());
    m.insert("contract_id".into(), String::new());
    m
}

/// Claims of a provider event in the `get.claims` shape.
fn provider_claims(public_key: &str, contract_id: &str, c: &ProviderEventClaims) -> ClaimsMap {
    let mut m = ClaimsMap::new();
    m.insert("sub".into(), public_key.to_string());
    m.insert("iss".into(), c.issuer.clone().unwrap_or_default());
    m.insert("name".into(), c.name.clone().unwrap_or_default());
    m.insert("call_alias".into(), String::new());
    m.insert("caps".into(), String::new());
    m.insert("rev".into(), "0".into());
    m.insert("tags".into(), join(&c.tags));
    m.insert("version".into(), c.version.clone().unwrap_or_default());
    m.insert("contract_id".into(), contract_id.to_string());
    m
}

fn push_log(m: &mut Lattice, now: Timestamp, level: LogLevel, what: Logged) {
    let log = &mut m.events;
    let capacity = log.capacity.max(1);
    while log.entries.len() >= capacity {
        if let Some(old) = log.entries.pop_front() {
            log.ids.remove(&id_hash(old.id()));
        }
    }
    let entry = LogEntry {
        seq: log.total,
        received: now,
        level,
        what,
    };
    if !entry.id().is_empty() {
        log.ids.insert(id_hash(entry.id()));
    }
    log.entries.push_back(entry);
    log.total += 1;
}

/// 64-bit hash of an event id for the repeat check. A false "repeat" needs a 64-bit collision
/// among the ~1000 ids in the log window: about 1 in 10^16 per event.
fn id_hash(id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x6c61_7474_6963_6521).hash_one(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_built_from_an_event_match_that_event() {
        let c = ActorEventClaims {
            name: Some("echo".into()),
            revision: Some(3),
            caps: Some(vec![
                "wasmcloud:httpserver".into(),
                "wasmcloud:keyvalue".into(),
            ]),
            tags: Some(vec![]),
            issuer: Some("AC".into()),
            ..ActorEventClaims::default()
        };
        assert!(actor_claims_match(&actor_claims("MB", &c), &c));
        let other = ActorEventClaims {
            revision: Some(4),
            ..c.clone()
        };
        assert!(!actor_claims_match(&actor_claims("MB", &c), &other));
        assert!(actor_claims_match(
            &actor_claims("MB", &ActorEventClaims::default()),
            &ActorEventClaims::default()
        ));
    }
}
