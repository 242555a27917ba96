//! One-line, human descriptions of lattice events and their severity, made on demand for the
//! event log. Pure.

use std::collections::BTreeSet;

use crate::lattice::protocol::{EventData, HeartbeatActors, LatticeEvent};

use super::model::{Lattice, LogLevel, saturating_sum};

/// One-line description of `ev`. With `names`, actors are called by their claims name.
pub fn summary(names: Option<&Lattice>, ev: &LatticeEvent) -> String {
    summarize(names, ev).0
}

/// Severity of an event in the log.
pub fn level_of(data: &EventData) -> LogLevel {
    match data {
        EventData::ActorStartFailed(_)
        | EventData::ActorsStartFailed(_)
        | EventData::ActorUpdateFailed(_)
        | EventData::ProviderStartFailed(_) => LogLevel::Error,
        EventData::HostStopped(_)
        | EventData::HealthCheckFailed(_)
        | EventData::InvocationFailed(_)
        | EventData::Unknown { .. } => LogLevel::Warn,
        _ => LogLevel::Info,
    }
}

/// Short form of a 56-character key for one-line summaries.
pub fn short_key(k: &str) -> &str {
    match k.char_indices().nth(10) {
        Some((i, _)) if k.len() > 12 => &k[..i],
        _ => k,
    }
}

/// The claims name carried by the event, else the name known from claims, else the short key.
fn actor_label<'a>(m: Option<&'a Lattice>, pk: &'a str, claims_name: Option<&'a str>) -> &'a str {
    claims_name
        .or_else(|| m.and_then(|m| m.actor_name(pk)))
        .unwrap_or_else(|| short_key(pk))
}

fn summarize(m: Option<&Lattice>, ev: &LatticeEvent) -> (String, LogLevel) {
    use LogLevel::{Error, Info, Warn};
    match &ev.data {
        EventData::HostStarted(d) => (
            format!(
                "host {} started{}",
                display_or(&d.friendly_name, &ev.source),
                d.version
                    .as_deref()
                    .map(|v| format!(" (v{v})"))
                    .unwrap_or_default()
            ),
            Info,
        ),
        EventData::HostStopped(_) => ("host stopped".into(), Warn),
        EventData::HostHeartbeat(hb) => {
            let (actors, instances) = match &hb.actors {
                HeartbeatActors::Counts(c) => (c.len(), saturating_sum(c.values().copied())),
                HeartbeatActors::Instances(l) => (
                    l.iter()
                        .map(|i| &i.public_key)
                        .collect::<BTreeSet<_>>()
                        .len(),
                    u64::try_from(l.len()).unwrap_or(u64::MAX),
                ),
            };
            (
                format!(
                    "heartbeat: {actors} actors ({instances} instances), {} providers",
                    hb.providers.len()
                ),
                Info,
            )
        }
        EventData::ActorStarted(d) => (
            format!(
                "actor {} started{}",
                actor_label(
                    m,
                    &d.public_key,
                    d.claims.as_ref().and_then(|c| c.name.as_deref())
                ),
                instance_suffix(&d.instance_id)
            ),
            Info,
        ),
        EventData::ActorsStarted(d) => (
            format!(
                "{} × actor {} started",
                d.count,
                actor_label(
                    m,
                    &d.public_key,
                    d.claims.as_ref().and_then(|c| c.name.as_deref())
                )
            ),
            Info,
        ),
        EventData::ActorStartFailed(d) => (
            format!("actor {} failed to start: {}", d.actor_ref, d.error),
            Error,
        ),
        EventData::ActorsStartFailed(d) => (
            format!(
                "actor {} failed to start: {}",
                d.image_ref.as_deref().unwrap_or(&d.public_key),
                d.error
            ),
            Error,
        ),
        EventData::ActorStopped(d) => (
            format!(
                "actor {} stopped{}",
                actor_label(m, &d.public_key, None),
                instance_suffix(&d.instance_id)
            ),
            Info,
        ),
        EventData::ActorsStopped(d) => (
            format!(
                "{} × actor {} stopped, {} remaining",
                d.count,
                actor_label(m, &d.public_key, None),
                d.remaining
            ),
            Info,
        ),
        EventData::ActorUpdated(d) => (
            format!(
                "actor {} updated to revision {}",
                actor_label(m, &d.public_key, None),
                d.revision
            ),
            Info,
        ),
        EventData::ActorUpdateFailed(d) => (
            format!(
                "actor {} update to revision {} failed: {}",
                actor_label(m, &d.public_key, None),
                d.revision,
                d.reason
            ),
            Error,
        ),
        EventData::ProviderStarted(d) => (
            format!(
                "provider {} ({}) started on link {}",
                d.claims
                    .as_ref()
                    .and_then(|c| c.name.as_deref())
                    .unwrap_or_else(|| short_key(&d.public_key)),
                d.contract_id,
                d.link_name
            ),
            Info,
        ),
        EventData::ProviderStartFailed(d) => (
            format!(
                "provider {} (link {}) failed to start: {}",
                d.provider_ref, d.link_name, d.error
            ),
            Error,
        ),
        EventData::ProviderStopped(d) => (
            format!(
                "provider {} (link {}) stopped: {}",
                short_key(&d.public_key),
                d.link_name,
                display_or(&d.reason, "normal")
            ),
            Info,
        ),
        EventData::HealthCheckPassed(d) => (
            format!(
                "provider {} (link {}) healthy",
                short_key(&d.public_key),
                d.link_name
            ),
            Info,
        ),
        EventData::HealthCheckFailed(d) => (
            format!(
                "provider {} (link {}) unhealthy",
                short_key(&d.public_key),
                d.link_name
            ),
            Warn,
        ),
        EventData::HealthCheckStatus(d) => (
            format!(
                "provider {} (link {}) health unchanged",
                short_key(&d.public_key),
                d.link_name
            ),
            Info,
        ),
        EventData::LinkdefSet(l) => (
            format!(
                "link set: {} → {} ({}, link {})",
                actor_label(m, &l.actor_id, None),
                short_key(&l.provider_id),
                l.contract_id,
                l.link_name
            ),
            Info,
        ),
        EventData::LinkdefDeleted(l) => (
            format!(
                "link deleted: {} → {} ({}, link {})",
                actor_label(m, &l.actor_id, None),
                short_key(&l.provider_id),
                l.contract_id,
                l.link_name
            ),
            Info,
        ),
        EventData::RefmapSet(r) => (
            format!("ref {} → {}", r.oci_url, short_key(&r.public_key)),
            Info,
        ),
        EventData::InvocationSucceeded(d) => (
            format!(
                "{} → {}: {} succeeded",
                short_key(&d.source.public_key),
                actor_label(m, &d.dest.public_key, None),
                d.operation
            ),
            Info,
        ),
        EventData::InvocationFailed(d) => (
            format!(
                "{} → {}: {} failed{}",
                short_key(&d.source.public_key),
                actor_label(m, &d.dest.public_key, None),
                d.operation,
                d.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
            Warn,
        ),
        EventData::Unknown { ty } => (format!("unknown event type {ty}"), Warn),
    }
}

fn instance_suffix(id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!(" (instance {})", short_key(id))
    }
}

fn display_or<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() { fallback } else { s }
}
