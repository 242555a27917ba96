//! What the user names, looked up in the model: an actor, provider or host given as its id, a
//! unique id prefix, a unique name, or (actors and providers) the reference it was started
//! from; and which host an action goes to when no `--host` was given.
//!
//! An ambiguous or unknown name is an error that lists the candidates. Pure: reads a
//! [`Lattice`], never changes it.

use std::collections::BTreeMap;
use std::fmt;

use crate::state::model::Lattice;
use crate::state::summary::short_key;

/// An actor the model knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorMatch {
    /// Public key (`M…`).
    pub id: String,
    /// Name from its claims, if known.
    pub name: Option<String>,
    /// The reference it was started from, if known.
    pub reference: Option<String>,
    /// Hosts running at least one instance of it, with their instance counts.
    pub hosts: BTreeMap<String, u64>,
}

/// A provider the model knows, under one link name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMatch {
    /// Public key (`V…`).
    pub public_key: String,
    /// Link name.
    pub link_name: String,
    /// Contract id, if known.
    pub contract_id: String,
    /// Name, if known.
    pub name: Option<String>,
    /// The reference it was started from (`builtin:httpserver`, an OCI reference), if known.
    pub reference: Option<String>,
    /// Hosts running it under this link name.
    pub hosts: Vec<String>,
}

/// What kind of thing a name was looked up as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    /// An actor.
    Actor,
    /// A provider.
    Provider,
    /// A host.
    Host,
}

impl fmt::Display for Thing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Thing::Actor => "actor",
            Thing::Provider => "provider",
            Thing::Host => "host",
        })
    }
}

/// Why a name does not pick one thing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// Nothing of that kind matches.
    #[error("no {thing} `{query}`{}", known(*.thing, .candidates))]
    Unknown {
        /// Looked up as.
        thing: Thing,
        /// What was typed.
        query: String,
        /// Everything of that kind the model knows (as `name (short id)`).
        candidates: Vec<String>,
    },
    /// Several match.
    #[error("`{query}` is ambiguous: {}", .candidates.join(", "))]
    Ambiguous {
        /// Looked up as.
        thing: Thing,
        /// What was typed.
        query: String,
        /// The ones it matches.
        candidates: Vec<String>,
    },
    /// The thing exists but does not run where the action needs it.
    #[error("{what} does not run on {host}{}", running_on(.hosts))]
    NotOn {
        /// The thing, as `name (short id)`.
        what: String,
        /// The host named.
        host: String,
        /// Where it does run.
        hosts: Vec<String>,
    },
    /// The thing runs nowhere, and the action needs a host that runs it.
    #[error("{what} runs on no host")]
    Nowhere {
        /// The thing, as `name (short id)`.
        what: String,
    },
}

fn known(thing: Thing, candidates: &[String]) -> String {
    if candidates.is_empty() {
        format!(" (the lattice shows no {thing}s)")
    } else {
        format!("; known: {}", candidates.join(", "))
    }
}

fn running_on(hosts: &[String]) -> String {
    if hosts.is_empty() {
        String::new()
    } else {
        format!(" (it runs on {})", hosts.join(", "))
    }
}

/// `name (short id)`, or the short id alone.
fn label(name: Option<&str>, id: &str) -> String {
    match name.filter(|n| !n.is_empty() && *n != id) {
        Some(n) => format!("{n} ({})", short_key(id)),
        None => short_key(id).to_owned(),
    }
}

/// Picks one of `items` for `query`, trying in turn: exact id, exact reference, exact name,
/// id prefix (case-insensitive). The first rule that matches anything decides; if it matches
/// more than one item the name is ambiguous.
fn pick<T>(
    thing: Thing,
    query: &str,
    items: Vec<T>,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> Option<&str>,
    reference: impl Fn(&T) -> Option<&str>,
) -> Result<T, ResolveError> {
    let rules: [&dyn Fn(&T) -> bool; 4] = [
        &|t| id(t) == query,
        &|t| reference(t) == Some(query),
        &|t| name(t) == Some(query),
        &|t| {
            id(t)
                .get(..query.len())
                .is_some_and(|p| !query.is_empty() && p.eq_ignore_ascii_case(query))
        },
    ];
    for rule in rules {
        let hits: Vec<usize> = (0..items.len()).filter(|&i| rule(&items[i])).collect();
        match hits.as_slice() {
            [] => continue,
            [one] => {
                let one = *one;
                let mut items = items;
                return Ok(items.swap_remove(one));
            }
            many => {
                return Err(ResolveError::Ambiguous {
                    thing,
                    query: query.to_owned(),
                    candidates: many
                        .iter()
                        .map(|&i| label(name(&items[i]), id(&items[i])))
                        .collect(),
                });
            }
        }
    }
    let candidates = items.iter().map(|t| label(name(t), id(t))).collect();
    Err(unknown(thing, query, candidates))
}

fn unknown(thing: Thing, query: &str, candidates: Vec<String>) -> ResolveError {
    ResolveError::Unknown {
        thing,
        query: query.to_owned(),
        candidates,
    }
}

/// Every actor the model knows: those running on some host, and those only known from claims
/// (they may be linked before they run).
#[must_use]
pub fn actors(m: &Lattice) -> Vec<ActorMatch> {
    let mut by_id: BTreeMap<String, ActorMatch> = BTreeMap::new();
    for (host_id, h) in &m.hosts {
        for (id, a) in &h.actors {
            let e = by_id.entry(id.clone()).or_insert_with(|| ActorMatch {
                id: id.clone(),
                name: None,
                reference: None,
                hosts: BTreeMap::new(),
            });
            if e.name.is_none() {
                e.name.clone_from(&a.name);
            }
            if e.reference.is_none() {
                e.reference.clone_from(&a.image_ref);
            }
            if a.count() > 0 {
                e.hosts.insert(host_id.clone(), a.count());
            }
        }
    }
    for id in m.claims.keys().filter(|k| k.starts_with('M')) {
        by_id.entry(id.clone()).or_insert_with(|| ActorMatch {
            id: id.clone(),
            name: None,
            reference: None,
            hosts: BTreeMap::new(),
        });
    }
    for a in by_id.values_mut() {
        if a.name.is_none() {
            a.name = m.actor_name(&a.id).map(str::to_owned);
        }
    }
    by_id.into_values().collect()
}

/// The actor `query` names.
///
/// # Errors
/// [`ResolveError::Unknown`] or [`ResolveError::Ambiguous`], listing the candidates.
pub fn actor(m: &Lattice, query: &str) -> Result<ActorMatch, ResolveError> {
    pick(
        Thing::Actor,
        query,
        actors(m),
        |a| &a.id,
        |a| a.name.as_deref(),
        |a| a.reference.as_deref(),
    )
}

/// Every provider the model knows, one per (public key, link name).
#[must_use]
pub fn providers(m: &Lattice) -> Vec<ProviderMatch> {
    let mut by_key: BTreeMap<(String, String), ProviderMatch> = BTreeMap::new();
    for (host_id, h) in &m.hosts {
        for p in h.providers.values() {
            let e = by_key
                .entry((p.public_key.clone(), p.link_name.clone()))
                .or_insert_with(|| ProviderMatch {
                    public_key: p.public_key.clone(),
                    link_name: p.link_name.clone(),
                    contract_id: p.contract_id.clone(),
                    name: p.name.clone(),
                    reference: p.image_ref.clone(),
                    hosts: Vec::new(),
                });
            if e.contract_id.is_empty() {
                e.contract_id.clone_from(&p.contract_id);
            }
            if e.reference.is_none() {
                e.reference.clone_from(&p.image_ref);
            }
            e.hosts.push(host_id.clone());
        }
    }
    by_key.into_values().collect()
}

/// The provider `query` names, under `link_name` if given (else under the only link name it
/// runs with).
///
/// # Errors
/// [`ResolveError::Unknown`] or [`ResolveError::Ambiguous`] (several providers, or one under
/// several link names), listing the candidates.
pub fn provider(
    m: &Lattice,
    query: &str,
    link_name: Option<&str>,
) -> Result<ProviderMatch, ResolveError> {
    let all = providers(m);
    // Pick the provider by key first (a provider under two link names is one provider), then
    // its link name.
    let mut keys: Vec<ProviderMatch> = Vec::new();
    for p in &all {
        if !keys.iter().any(|k| k.public_key == p.public_key) {
            keys.push(p.clone());
        }
    }
    let key = pick(
        Thing::Provider,
        query,
        keys,
        |p| &p.public_key,
        |p| p.name.as_deref(),
        |p| p.reference.as_deref(),
    )?
    .public_key;
    let mut under: Vec<ProviderMatch> = all
        .into_iter()
        .filter(|p| p.public_key == key && link_name.is_none_or(|l| p.link_name == l))
        .collect();
    match under.len() {
        1 => Ok(under.remove(0)),
        0 => Err(unknown(
            Thing::Provider,
            &format!("{query} --link-name {}", link_name.unwrap_or_default()),
            providers(m)
                .iter()
                .filter(|p| p.public_key == key)
                .map(|p| {
                    format!(
                        "{} --link-name {}",
                        label(p.name.as_deref(), &p.public_key),
                        p.link_name
                    )
                })
                .collect(),
        )),
        _ => Err(ResolveError::Ambiguous {
            thing: Thing::Provider,
            query: query.to_owned(),
            candidates: under
                .iter()
                .map(|p| {
                    format!(
                        "{} --link-name {}",
                        label(p.name.as_deref(), &p.public_key),
                        p.link_name
                    )
                })
                .collect(),
        }),
    }
}

/// The host `query` names (id, unique id prefix or unique friendly name).
///
/// # Errors
/// [`ResolveError::Unknown`] or [`ResolveError::Ambiguous`], listing the candidates.
pub fn host(m: &Lattice, query: &str) -> Result<String, ResolveError> {
    let hosts: Vec<(&str, &str)> = m
        .hosts
        .values()
        .map(|h| (h.id.as_str(), h.friendly_name.as_str()))
        .collect();
    pick(
        Thing::Host,
        query,
        hosts,
        |h| h.0,
        |h| Some(h.1).filter(|n| !n.is_empty()),
        |_| None,
    )
    .map(|h| h.0.to_owned())
}

/// Where an action goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// To this host.
    Host(String),
    /// The thing runs on several hosts: the user picks one (these).
    Ask(Vec<String>),
    /// To whichever host wins an auction.
    Auction,
}

/// When no `--host` is given and the thing runs on several hosts (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unnamed {
    /// Ask which (scale, update, stop); running nowhere is an error.
    Ask,
    /// Auction (start); also when it runs nowhere.
    Auction,
}

/// The host an action on `what` goes to: the one `--host` names; else the one host it runs
/// on; else as `unnamed` says.
///
/// `must_run_there`: a named host that does not run it is an error (stop, update), not a
/// place to start it (scale up on a new host is a start there).
///
/// # Errors
/// The named host is unknown or ambiguous, or does not run `what` when it must, or `what`
/// runs nowhere and the action needs a host that runs it.
pub fn target(
    m: &Lattice,
    what: &str,
    named: Option<&str>,
    running_on: &[String],
    unnamed: Unnamed,
    must_run_there: bool,
) -> Result<Target, ResolveError> {
    if let Some(q) = named {
        let id = host(m, q)?;
        if must_run_there && !running_on.contains(&id) {
            return Err(ResolveError::NotOn {
                what: what.to_owned(),
                host: host_label(m, &id),
                hosts: running_on.iter().map(|h| host_label(m, h)).collect(),
            });
        }
        return Ok(Target::Host(id));
    }
    match (running_on, unnamed) {
        ([one], _) => Ok(Target::Host(one.clone())),
        (_, Unnamed::Auction) => Ok(Target::Auction),
        ([], Unnamed::Ask) => Err(ResolveError::Nowhere {
            what: what.to_owned(),
        }),
        (many, Unnamed::Ask) => Ok(Target::Ask(many.to_vec())),
    }
}

/// A host as `friendly name (short id)`.
#[must_use]
pub fn host_label(m: &Lattice, id: &str) -> String {
    label(m.hosts.get(id).map(|h| h.friendly_name.as_str()), id)
}

/// An actor as `name (short id)`.
#[must_use]
pub fn actor_label(a: &ActorMatch) -> String {
    label(a.name.as_deref(), &a.id)
}

/// A provider as `name (short id)`.
#[must_use]
pub fn provider_label(p: &ProviderMatch) -> String {
    label(p.name.as_deref(), &p.public_key)
}
