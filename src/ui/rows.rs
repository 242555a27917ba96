//! The rows of each tab: which model items a tab lists, in which order, under which filters,
//! and the stable [`RowKey`] that identifies each row across model changes.
//!
//! Shared by rendering (which formats only the visible window) and by key handling (which
//! moves the selection), so both always agree on what row N is. Rows borrow from the model;
//! nothing is formatted here except the search text of the text filter. Sorting is
//! deterministic: by display name, then by id. Pure: no I/O, no clock.

use std::fmt;

use crate::lattice::protocol::LinkDefinition;
use crate::state::{ActorState, HostState, Lattice, LogEntry, ProviderState};

use super::format::{self, contains_ci, short_id};
use super::view_state::Tab;

/// Identifies a row independently of its position, so the selection survives model changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RowKey {
    /// A host, by id.
    Host(String),
    /// An actor on a host.
    Actor {
        /// Host id.
        host: String,
        /// Actor id.
        actor: String,
    },
    /// A provider on a host.
    Provider {
        /// Host id.
        host: String,
        /// Provider key (`{public_key}/{link_name}`).
        provider: String,
    },
    /// A link definition, by id.
    Link(String),
    /// An event log entry, by sequence number.
    Event(u64),
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowKey::Host(h) | RowKey::Link(h) => f.write_str(h),
            RowKey::Actor { host, actor } => write!(f, "{host}/{actor}"),
            RowKey::Provider { host, provider } => write!(f, "{host}/{provider}"),
            RowKey::Event(seq) => write!(f, "#{seq}"),
        }
    }
}

/// One row of the Actors tab: an actor on a host.
#[derive(Debug, Clone, Copy)]
pub struct ActorRow<'a> {
    /// The host it runs on.
    pub host: &'a HostState,
    /// The actor.
    pub actor: &'a ActorState,
}

/// One row of the Providers tab: a provider (key + link name) on a host.
#[derive(Debug, Clone, Copy)]
pub struct ProviderRow<'a> {
    /// The host it runs on.
    pub host: &'a HostState,
    /// Its key in [`HostState::providers`].
    pub key: &'a str,
    /// The provider.
    pub provider: &'a ProviderState,
}

/// The filters that decide which rows a tab shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct RowFilter<'f> {
    /// Only this host's actors, providers and events.
    pub host: Option<&'f str>,
    /// Only rows whose text contains this, ignoring case (empty: all rows).
    pub text: &'f str,
    /// Only this lattice's rows (`:lattice NAME` with `--lattice '*'`).
    pub lattice: Option<&'f str>,
}

/// The rows of one tab, sorted and filtered.
#[derive(Debug, Clone)]
pub enum Rows<'a> {
    /// Hosts tab.
    Hosts(Vec<&'a HostState>),
    /// Actors tab.
    Actors(Vec<ActorRow<'a>>),
    /// Providers tab.
    Providers(Vec<ProviderRow<'a>>),
    /// Links tab.
    Links(Vec<&'a LinkDefinition>),
    /// Events tab, oldest first.
    Events(Vec<&'a LogEntry>),
}

impl<'a> Rows<'a> {
    /// The rows `tab` shows for `model` under `filter`.
    pub fn build(tab: Tab, model: &'a Lattice, filter: RowFilter<'_>) -> Self {
        let mut rows = match tab {
            Tab::Hosts => Rows::Hosts(sorted_hosts(model)),
            Tab::Actors => Rows::Actors(actor_rows(model, filter.host)),
            Tab::Providers => Rows::Providers(provider_rows(model, filter.host)),
            Tab::Links => Rows::Links(link_rows(model)),
            Tab::Events => Rows::Events(
                model
                    .events
                    .entries
                    .iter()
                    .filter(|e| filter.host.is_none_or(|h| e.source() == h))
                    .collect(),
            ),
        };
        if let Some(lattice) = filter.lattice {
            rows.retain_lattice(model, lattice);
        }
        if !filter.text.is_empty() {
            rows.retain_text(model, &filter.text.to_lowercase());
        }
        rows
    }

    /// Keeps the rows of `lattice` (`--lattice '*'`, focused with `:lattice NAME`); the
    /// console's own entries of the Events tab stay.
    fn retain_lattice(&mut self, model: &Lattice, lattice: &str) {
        let prefix = format!("{lattice}/");
        let of_host = |id: &str| model.hosts.get(id).is_some_and(|h| h.lattice == lattice);
        match self {
            Rows::Hosts(v) => v.retain(|h| h.lattice == lattice),
            Rows::Actors(v) => v.retain(|r| r.host.lattice == lattice),
            Rows::Providers(v) => v.retain(|r| r.host.lattice == lattice),
            Rows::Links(v) => v.retain(|l| l.id.starts_with(&prefix)),
            Rows::Events(v) => {
                v.retain(|e| e.source() == crate::state::CONSOLE_SOURCE || of_host(e.source()));
            }
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Rows::Hosts(v) => v.len(),
            Rows::Actors(v) => v.len(),
            Rows::Providers(v) => v.len(),
            Rows::Links(v) => v.len(),
            Rows::Events(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of row `i`.
    pub fn key(&self, i: usize) -> Option<RowKey> {
        Some(match self {
            Rows::Hosts(v) => RowKey::Host(v.get(i)?.id.clone()),
            Rows::Actors(v) => {
                let r = v.get(i)?;
                RowKey::Actor {
                    host: r.host.id.clone(),
                    actor: r.actor.id.clone(),
                }
            }
            Rows::Providers(v) => {
                let r = v.get(i)?;
                RowKey::Provider {
                    host: r.host.id.clone(),
                    provider: r.key.to_string(),
                }
            }
            Rows::Links(v) => RowKey::Link(v.get(i)?.id.clone()),
            Rows::Events(v) => RowKey::Event(v.get(i)?.seq),
        })
    }

    /// Whether row `i` has `key`.
    pub fn has_key(&self, i: usize, key: &RowKey) -> bool {
        match (self, key) {
            (Rows::Hosts(v), RowKey::Host(h)) => v.get(i).is_some_and(|r| r.id == *h),
            (Rows::Actors(v), RowKey::Actor { host, actor }) => v
                .get(i)
                .is_some_and(|r| r.host.id == *host && r.actor.id == *actor),
            (Rows::Providers(v), RowKey::Provider { host, provider }) => v
                .get(i)
                .is_some_and(|r| r.host.id == *host && r.key == provider),
            (Rows::Links(v), RowKey::Link(id)) => v.get(i).is_some_and(|r| r.id == *id),
            (Rows::Events(v), RowKey::Event(seq)) => v.get(i).is_some_and(|r| r.seq == *seq),
            _ => false,
        }
    }

    /// Index of the row with `key`; `hint` is checked first (usually nothing moved).
    pub fn position(&self, key: &RowKey, hint: usize) -> Option<usize> {
        if self.has_key(hint, key) {
            return Some(hint);
        }
        if let (Rows::Events(v), RowKey::Event(seq)) = (self, key) {
            // Sequence numbers ascend: binary search.
            return v.binary_search_by_key(seq, |e| e.seq).ok();
        }
        (0..self.len()).find(|&i| self.has_key(i, key))
    }

    /// The host id of row `i`, for rows that belong to a host.
    pub fn host_of(&self, i: usize) -> Option<&'a str> {
        match self {
            Rows::Hosts(v) => v.get(i).map(|h| h.id.as_str()),
            Rows::Actors(v) => v.get(i).map(|r| r.host.id.as_str()),
            Rows::Providers(v) => v.get(i).map(|r| r.host.id.as_str()),
            Rows::Links(_) | Rows::Events(_) => None,
        }
    }

    fn retain_text(&mut self, model: &Lattice, needle: &str) {
        let mut buf = String::new();
        let mut keep = |fill: &mut dyn FnMut(&mut String)| {
            buf.clear();
            fill(&mut buf);
            contains_ci(&buf, needle)
        };
        match self {
            Rows::Hosts(v) => v.retain(|h| keep(&mut |b| host_text(h, b))),
            Rows::Actors(v) => v.retain(|r| keep(&mut |b| actor_text(model, r, b))),
            Rows::Providers(v) => v.retain(|r| keep(&mut |b| provider_text(model, r, b))),
            Rows::Links(v) => v.retain(|l| keep(&mut |b| link_text(model, l, b))),
            Rows::Events(v) => v.retain(|e| keep(&mut |b| event_text(model, e, b))),
        }
    }
}

/// Rows a tab has without any filter (for "3 of 12" counts).
pub fn unfiltered_len(tab: Tab, model: &Lattice) -> usize {
    match tab {
        Tab::Hosts => model.hosts.len(),
        Tab::Actors => model.hosts.values().map(|h| h.actors.len()).sum(),
        Tab::Providers => model.provider_count(),
        Tab::Links => model.links.len(),
        Tab::Events => model.events.entries.len(),
    }
}

/// An actor's name: from its state, else the claims, else its id.
pub fn actor_name<'a>(model: &'a Lattice, actor: &'a ActorState) -> &'a str {
    actor
        .name
        .as_deref()
        .or_else(|| model.actor_name(&actor.id))
        .unwrap_or(&actor.id)
}

/// An actor's name by key, for views that are not about one host: the claims name, else a
/// host's record of it, else its short key.
pub fn actor_name_by_id<'a>(model: &'a Lattice, id: &'a str) -> &'a str {
    model
        .actor_name(id)
        .or_else(|| {
            model
                .hosts
                .values()
                .find_map(|h| h.actors.get(id).and_then(|a| a.name.as_deref()))
        })
        .unwrap_or_else(|| short_id(id))
}

/// A provider's name: from its state, else the claims, else its key.
pub fn provider_name<'a>(model: &'a Lattice, p: &'a ProviderState) -> &'a str {
    p.name
        .as_deref()
        .or_else(|| claims_name(model, &p.public_key))
        .unwrap_or(&p.public_key)
}

/// The `name` claim of a public key, if known and not empty.
pub fn claims_name<'a>(model: &'a Lattice, public_key: &str) -> Option<&'a str> {
    model
        .claims
        .get(public_key)
        .and_then(|c| c.get("name"))
        .map(String::as_str)
        .filter(|n| !n.is_empty())
}

/// Name of a key in the links table: the claims name, else the short key.
pub fn link_party<'a>(model: &'a Lattice, public_key: &'a str) -> &'a str {
    claims_name(model, public_key).unwrap_or_else(|| short_id(public_key))
}

/// Name of an event's source: the host's name, else the short key (`—` when absent).
pub fn source_name<'a>(model: &'a Lattice, source: &'a str) -> &'a str {
    if source.is_empty() {
        return "—";
    }
    model
        .hosts
        .get(source)
        .map(HostState::display_name)
        .unwrap_or_else(|| short_id(source))
}

/// The kind column of an event: `malformed` for undecodable messages, `console_action` for
/// the console's own action steps, else the kind.
pub fn event_kind(e: &LogEntry) -> &str {
    match e.ty() {
        Some(ty @ ("malformed" | crate::state::ACTION_TYPE)) => ty,
        _ => e.kind().as_str(),
    }
}

fn sorted_hosts(model: &Lattice) -> Vec<&HostState> {
    let mut hosts: Vec<&HostState> = model.hosts.values().collect();
    // Stable: equal names keep the map's id order.
    hosts.sort_by(|a, b| a.display_name().cmp(b.display_name()));
    hosts
}

fn hosts_for<'a>(model: &'a Lattice, host: Option<&str>) -> Vec<&'a HostState> {
    match host {
        Some(h) => model.hosts.get(h).into_iter().collect(),
        None => sorted_hosts(model),
    }
}

fn actor_rows<'a>(model: &'a Lattice, host: Option<&str>) -> Vec<ActorRow<'a>> {
    let hosts = hosts_for(model, host);
    let mut rows = Vec::with_capacity(hosts.iter().map(|h| h.actors.len()).sum());
    for h in hosts {
        let start = rows.len();
        rows.extend(h.actors.values().map(|actor| ActorRow { host: h, actor }));
        rows[start..].sort_by(|a, b| actor_name(model, a.actor).cmp(actor_name(model, b.actor)));
    }
    rows
}

fn provider_rows<'a>(model: &'a Lattice, host: Option<&str>) -> Vec<ProviderRow<'a>> {
    let hosts = hosts_for(model, host);
    let mut rows = Vec::with_capacity(hosts.iter().map(|h| h.providers.len()).sum());
    for h in hosts {
        let start = rows.len();
        rows.extend(h.providers.iter().map(|(key, provider)| ProviderRow {
            host: h,
            key: key.as_str(),
            provider,
        }));
        rows[start..].sort_by(|a, b| {
            (provider_name(model, a.provider), &a.provider.link_name)
                .cmp(&(provider_name(model, b.provider), &b.provider.link_name))
        });
    }
    rows
}

fn link_rows(model: &Lattice) -> Vec<&LinkDefinition> {
    let mut links: Vec<&LinkDefinition> = model.links.values().collect();
    links.sort_by(|a, b| {
        (
            link_party(model, &a.actor_id),
            &a.contract_id,
            &a.link_name,
            link_party(model, &a.provider_id),
        )
            .cmp(&(
                link_party(model, &b.actor_id),
                &b.contract_id,
                &b.link_name,
                link_party(model, &b.provider_id),
            ))
    });
    links
}

/// Appends `parts` separated by spaces.
fn push_all(buf: &mut String, parts: &[&str]) {
    for p in parts {
        if !p.is_empty() {
            buf.push_str(p);
            buf.push(' ');
        }
    }
}

fn host_text(h: &HostState, buf: &mut String) {
    push_all(
        buf,
        &[
            h.status.as_str(),
            h.display_name(),
            &h.id,
            h.version.as_deref().unwrap_or(""),
        ],
    );
    buf.push_str(&format::pairs(&h.labels));
}

fn actor_text(model: &Lattice, r: &ActorRow<'_>, buf: &mut String) {
    let a = r.actor;
    push_all(
        buf,
        &[
            actor_name(model, a),
            &a.id,
            r.host.display_name(),
            a.status.as_str(),
            a.image_ref.as_deref().unwrap_or(""),
            a.last_failure.as_ref().map_or("", |f| f.reason.as_str()),
        ],
    );
}

fn provider_text(model: &Lattice, r: &ProviderRow<'_>, buf: &mut String) {
    let p = r.provider;
    push_all(
        buf,
        &[
            provider_name(model, p),
            &p.public_key,
            &p.link_name,
            &p.contract_id,
            r.host.display_name(),
            p.health.as_str(),
            p.image_ref.as_deref().unwrap_or(""),
            p.last_failure.as_ref().map_or("", |f| f.reason.as_str()),
        ],
    );
}

fn link_text(model: &Lattice, l: &LinkDefinition, buf: &mut String) {
    push_all(
        buf,
        &[
            link_party(model, &l.actor_id),
            &l.actor_id,
            link_party(model, &l.provider_id),
            &l.provider_id,
            &l.contract_id,
            &l.link_name,
        ],
    );
    buf.push_str(&format::pairs(&l.values));
}

fn event_text(model: &Lattice, e: &LogEntry, buf: &mut String) {
    push_all(
        buf,
        &[
            &format::clock(e.received),
            source_name(model, e.source()),
            e.source(),
            event_kind(e),
            e.ty().unwrap_or(""),
            format::level(e.level),
            &e.summary(Some(model)),
        ],
    );
}
