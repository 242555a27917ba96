//! Every lattice in one view (`--lattice '*'`): one model per lattice, each reduced on its
//! own exactly as a one-lattice console reduces its model (its events, its resyncs), and the
//! one model the console shows, assembled from them.
//!
//! [`Lattices::merge_into`] copies what changed into the shown model, per lattice: its hosts
//! (tagged with [`HostState::lattice`]; host ids are keys, unique across lattices), its links
//! (keyed, and their `id` rewritten, `{lattice}/{id}`: the same link can exist in two
//! lattices), its hosts' live rates, claims and reference maps
//! (by public key, the same everywhere), and its new event-log entries. The console calls it
//! once per frame and before it acts, so a burst of events costs one copy per lattice, not one
//! per event.
//!
//! Pure: no I/O, no clock, no tokio. Does not know the monitor: the caller routes each
//! lattice's messages to [`Lattices::model_mut`].

use std::collections::{BTreeMap, BTreeSet};

use super::model::{HostState, Lattice, ModelConfig};
use super::reduce::push_log;

/// The `model.lattice` of the shown model when it holds every lattice.
pub const EVERY_LATTICE: &str = "*";

/// The per-lattice models.
#[derive(Debug, Clone, Default)]
pub struct Lattices {
    by_name: BTreeMap<String, Lattice>,
    config: ModelConfig,
    /// Lattices changed since the last merge.
    changed: BTreeSet<String>,
    /// Per lattice, the event-log sequence number up to which entries were merged.
    merged_events: BTreeMap<String, u64>,
}

impl Lattices {
    /// No lattice yet; each one found gets a model with `config`.
    #[must_use]
    pub fn new(config: ModelConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// The model of lattice `name` (created when new), marked changed.
    pub fn model_mut(&mut self, name: &str) -> &mut Lattice {
        self.changed.insert(name.to_owned());
        let config = &self.config;
        self.by_name
            .entry(name.to_owned())
            .or_insert_with(|| Lattice::new(name, config.clone()))
    }

    /// The model of lattice `name`, if known.
    #[must_use]
    pub fn model(&self, name: &str) -> Option<&Lattice> {
        self.by_name.get(name)
    }

    /// Every lattice's model, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Lattice)> {
        self.by_name.iter().map(|(n, m)| (n.as_str(), m))
    }

    /// Lattices known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether none is known yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Whether a lattice changed since the last merge.
    #[must_use]
    pub fn has_changes(&self) -> bool {
        !self.changed.is_empty()
    }

    /// Copies every lattice changed since the last merge into `shown`; whether anything was
    /// copied.
    pub fn merge_into(&mut self, shown: &mut Lattice) -> bool {
        let changed = std::mem::take(&mut self.changed);
        for name in &changed {
            let Some(from) = self.by_name.get(name) else {
                continue;
            };
            let cursor = self.merged_events.entry(name.clone()).or_insert(0);
            merge_one(shown, name, from, cursor);
        }
        if !changed.is_empty() {
            // The header's resync count is every lattice's together.
            let c = &mut shown.connection;
            c.resyncs = self
                .by_name
                .values()
                .fold(0u64, |n, m| n.saturating_add(m.connection.resyncs));
            c.last_resync = self
                .by_name
                .values()
                .filter_map(|m| m.connection.last_resync)
                .max();
            let sum = |f: fn(&Lattice) -> u64| {
                self.by_name
                    .values()
                    .fold(0u64, |n, m| n.saturating_add(f(m)))
            };
            shown.rates.malformed = sum(|m| m.rates.malformed);
            shown.rates.refused = sum(|m| m.rates.refused);
            shown.rates.resets = sum(|m| m.rates.resets);
        }
        !changed.is_empty()
    }
}

/// The key of lattice `name`'s link `id` in the shown model.
#[must_use]
pub fn link_key(name: &str, id: &str) -> String {
    format!("{name}/{id}")
}

fn merge_one(shown: &mut Lattice, name: &str, from: &Lattice, merged_upto: &mut u64) {
    for (id, _) in shown.hosts.iter().filter(|(_, h)| h.lattice == name) {
        shown.rates.hosts.remove(id);
    }
    for (id, r) in &from.rates.hosts {
        shown.rates.hosts.insert(id.clone(), r.clone());
    }
    shown.hosts.retain(|_, h| h.lattice != name);
    for (id, h) in &from.hosts {
        let mut h: HostState = h.clone();
        h.lattice = name.to_owned();
        shown.hosts.insert(id.clone(), h);
    }
    let prefix = link_key(name, "");
    shown.links.retain(|k, _| !k.starts_with(&prefix));
    for (id, l) in &from.links {
        // The shown link's id is its key: rows and row keys tell the two lattices' apart.
        let mut l = l.clone();
        l.id = link_key(name, id);
        shown.links.insert(l.id.clone(), l);
    }
    for (k, c) in &from.claims {
        shown.claims.insert(k.clone(), c.clone());
    }
    for (k, r) in &from.refmaps {
        shown.refmaps.insert(k.clone(), r.clone());
    }
    for e in from.events.entries.iter().filter(|e| e.seq >= *merged_upto) {
        push_log(shown, e.received, e.level, e.what.clone());
    }
    *merged_upto = from.events.total;
}

/// Hosts, actor instances and providers of each lattice in `shown`, for the header.
#[must_use]
pub fn counts_by_lattice(shown: &Lattice) -> BTreeMap<&str, (usize, u64)> {
    let mut out: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for h in shown.hosts.values() {
        let c = out.entry(h.lattice.as_str()).or_default();
        c.0 += 1;
        c.1 = c.1.saturating_add(h.actor_instances());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Logged, record_action};
    use chrono::{TimeZone, Utc};

    fn host(m: &mut Lattice, id: &str) {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        m.hosts.insert(id.to_owned(), HostState::new(id, now));
    }

    #[test]
    fn each_lattice_replaces_only_its_own_hosts_and_links() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let mut all = Lattices::new(ModelConfig::default());
        let mut shown = Lattice::new(EVERY_LATTICE, ModelConfig::default());
        host(all.model_mut("a"), "NA1");
        host(all.model_mut("a"), "NA2");
        host(all.model_mut("b"), "NB1");
        let link = crate::lattice::protocol::LinkDefinition {
            id: "same".into(),
            actor_id: "M1".into(),
            provider_id: "V1".into(),
            link_name: "default".into(),
            contract_id: "wasmcloud:httpserver".into(),
            values: Default::default(),
        };
        all.model_mut("a").links.insert("same".into(), link.clone());
        all.model_mut("b").links.insert("same".into(), link);
        record_action(all.model_mut("b"), "hello".into(), false, now);
        assert!(all.merge_into(&mut shown));
        assert_eq!(shown.hosts.len(), 3);
        assert_eq!(shown.hosts["NA1"].lattice, "a");
        assert_eq!(shown.hosts["NB1"].lattice, "b");
        assert_eq!(
            shown.links.keys().collect::<Vec<_>>(),
            ["a/same", "b/same"],
            "the same link in two lattices is two rows"
        );
        assert_eq!(shown.events.entries.len(), 1);
        // Lattice a loses a host and its link; b is untouched; nothing is merged twice.
        all.model_mut("a").hosts.remove("NA2");
        all.model_mut("a").links.clear();
        assert!(all.merge_into(&mut shown));
        assert_eq!(shown.hosts.keys().collect::<Vec<_>>(), ["NA1", "NB1"]);
        assert_eq!(shown.links.keys().collect::<Vec<_>>(), ["b/same"]);
        assert_eq!(
            shown.events.entries.len(),
            1,
            "b's entry is not copied again"
        );
        assert!(!all.merge_into(&mut shown), "nothing changed");
        record_action(all.model_mut("b"), "again".into(), true, now);
        all.merge_into(&mut shown);
        assert!(matches!(
            &shown.events.entries.back().map(|e| &e.what),
            Some(Logged::Action { line }) if line == "again"
        ));
        assert_eq!(
            counts_by_lattice(&shown),
            [("a", (1, 0)), ("b", (1, 0))].into_iter().collect()
        );
    }
}
