//! What every watch shares: the key layout of the bucket (`LINKDEF_`, `CLAIMS_`, `REFMAP_`),
//! lenient value decoding, and the [`LinkCache`] that turns raw key changes into
//! [`LinkChange`]s (full deletions, repeats filtered, differences after a re-sync).

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::LinkChange;
use crate::lattice::protocol::ctl::{ClaimsMap, LinkDefinition, linkdef_hash};
use crate::lattice::subjects::{KV_LINKDEF_PREFIX, KV_REFMAP_PREFIX};

/// A key's current value and the revision that wrote it.
#[derive(Debug, Clone)]
pub(super) struct RawEntry {
    pub(super) key: String,
    pub(super) revision: u64,
    pub(super) value: Bytes,
}

/// `LINKDEF_{hash}` for a link's key fields.
pub(super) fn link_key(actor_id: &str, contract_id: &str, link_name: &str) -> String {
    format!(
        "{KV_LINKDEF_PREFIX}{}",
        linkdef_hash(actor_id, contract_id, link_name)
    )
}

/// `REFMAP_{base64url-no-pad(oci_url)}`.
pub(super) fn refmap_key(oci_url: &str) -> String {
    format!(
        "{KV_REFMAP_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(oci_url)
    )
}

/// Decodes a `LINKDEF_` value; an empty `id` is filled from the key fields.
pub(super) fn decode_link(value: &[u8]) -> Result<LinkDefinition, serde_json::Error> {
    serde_json::from_slice::<LinkDefinition>(value).map(LinkDefinition::with_id)
}

/// Decodes a `CLAIMS_` value leniently: numbers and booleans become their text, `null` becomes
/// `""` (as control-interface 0.2x does); nested arrays or objects make the value malformed.
pub(super) fn decode_claims(value: &[u8]) -> Result<ClaimsMap, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(value).map_err(|e| e.to_string())?;
    map.into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    return Err(format!("`{k}` is not a string"));
                }
            };
            Ok((k, text))
        })
        .collect()
}

pub(super) fn warn_malformed(key: &str, error: &dyn std::fmt::Display) {
    tracing::warn!(%key, %error, "skipping malformed value in the lattice data bucket");
}

/// The links a watch has delivered, by KV key, with the revision that wrote them.
#[derive(Debug, Default)]
pub(super) struct LinkCache {
    links: HashMap<String, (u64, LinkDefinition)>,
}

impl LinkCache {
    /// One live change. Changes not newer than what the cache holds for the key are repeats
    /// (an ordered consumer that restarted from the beginning, or an entry already read by
    /// the last re-sync) and are ignored.
    pub(super) fn apply(
        &mut self,
        key: &str,
        revision: u64,
        value: Option<&[u8]>,
    ) -> Option<LinkChange> {
        if !key.starts_with(KV_LINKDEF_PREFIX) {
            return None;
        }
        if self
            .links
            .get(key)
            .is_some_and(|(known, _)| revision <= *known)
        {
            return None;
        }
        match value {
            None => {
                let removed = self.links.remove(key).map(|(_, l)| l);
                if removed.is_none() {
                    tracing::debug!(%key, "removal of a link this watch never saw");
                }
                removed.map(LinkChange::Deleted)
            }
            Some(bytes) => match decode_link(bytes) {
                Ok(link) => {
                    self.links.insert(key.to_string(), (revision, link.clone()));
                    Some(LinkChange::Set(link))
                }
                Err(e) => {
                    warn_malformed(key, &e);
                    None
                }
            },
        }
    }

    /// Brings the cache to `current` (every `LINKDEF_` entry now in the bucket) and returns
    /// the differences: `Set` for new or changed links, `Deleted` for links no longer there.
    /// Entries with malformed values count as present and leave the cache as it was.
    pub(super) fn resync(&mut self, mut current: Vec<RawEntry>) -> Vec<LinkChange> {
        let mut changes = Vec::new();
        let mut present = HashSet::with_capacity(current.len());
        current.sort_by(|a, b| a.key.cmp(&b.key));
        for entry in current {
            present.insert(entry.key.clone());
            match decode_link(&entry.value) {
                Ok(link) => {
                    let changed = self
                        .links
                        .get(&entry.key)
                        .is_none_or(|(_, known)| *known != link);
                    self.links.insert(entry.key, (entry.revision, link.clone()));
                    if changed {
                        changes.push(LinkChange::Set(link));
                    }
                }
                Err(e) => warn_malformed(&entry.key, &e),
            }
        }
        let mut gone: Vec<String> = self
            .links
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        gone.sort();
        for key in gone {
            if let Some((_, link)) = self.links.remove(&key) {
                changes.push(LinkChange::Deleted(link));
            }
        }
        changes
    }
}

/// Why following a watcher stopped.
pub(super) enum Stop {
    /// The [`LinkWatch`] was dropped.
    ReceiverGone,
    /// The watcher ended or failed; re-sync.
    Failed(String),
}

pub(super) async fn send_all(
    tx: &mpsc::Sender<LinkChange>,
    changes: Vec<LinkChange>,
) -> Result<(), Stop> {
    for change in changes {
        tx.send(change).await.map_err(|_| Stop::ReceiverGone)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(actor: &str, values: &[(&str, &str)]) -> LinkDefinition {
        LinkDefinition {
            id: String::new(),
            actor_id: actor.to_string(),
            provider_id: "VPROV".to_string(),
            link_name: "default".to_string(),
            contract_id: "wasmcloud:httpserver".to_string(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn raw(l: &LinkDefinition, revision: u64) -> RawEntry {
        RawEntry {
            key: link_key(&l.actor_id, &l.contract_id, &l.link_name),
            revision,
            value: serde_json::to_vec(l).expect("encode").into(),
        }
    }

    #[test]
    fn refmap_key_is_base64url_without_padding() {
        assert_eq!(refmap_key("a?"), "REFMAP_YT8");
        assert_eq!(
            refmap_key("wasmcloud.azurecr.io/echo:0.3.4"),
            "REFMAP_d2FzbWNsb3VkLmF6dXJlY3IuaW8vZWNobzowLjMuNA"
        );
    }

    #[test]
    fn link_key_uses_the_otp_hash() {
        // The Elixir hash quoted by control-interface's `test_hash_compatibility`.
        assert_eq!(
            link_key("Mbob", "wasmcloud:testy", "default"),
            "LINKDEF_B40411AD09B70A2C83D59923584F66BA2C5A3C274DC4F19416DA49CCD6531F9C"
        );
    }

    #[test]
    fn claims_decode_turns_scalars_into_strings() {
        let c = decode_claims(br#"{"sub":"MX","rev":4,"prov":false,"x":null}"#).expect("ok");
        assert_eq!(c["rev"], "4");
        assert_eq!(c["prov"], "false");
        assert_eq!(c["x"], "");
        assert!(decode_claims(br#"{"sub":"MX","caps":["a"]}"#).is_err());
        assert!(decode_claims(b"[1]").is_err());
    }

    #[test]
    fn cache_delivers_full_deletes_and_ignores_repeats() {
        let mut cache = LinkCache::default();
        let a = link("MA", &[("PORT", "8080")]);
        let entry = raw(&a, 3);
        let set = cache.apply(&entry.key, 3, Some(&entry.value));
        assert_eq!(set, Some(LinkChange::Set(a.clone().with_id())));
        assert_eq!(cache.apply(&entry.key, 3, Some(&entry.value)), None);
        assert_eq!(cache.apply(&entry.key, 2, None), None);
        assert_eq!(cache.apply(&entry.key, 4, Some(b"not json")), None);
        assert_eq!(
            cache.apply(&entry.key, 5, None),
            Some(LinkChange::Deleted(a.with_id()))
        );
        assert_eq!(cache.apply(&entry.key, 6, None), None);
        assert_eq!(cache.apply("CLAIMS_MA", 7, Some(b"{}")), None);
    }

    #[test]
    fn resync_emits_only_differences() {
        let mut cache = LinkCache::default();
        let a = link("MA", &[]);
        let b = link("MB", &[]);
        let b2 = link("MB", &[("K", "V")]);
        let c = link("MC", &[]);
        assert_eq!(cache.resync(vec![raw(&a, 1), raw(&b, 2)]).len(), 2);
        let changes = cache.resync(vec![raw(&b2, 4), raw(&c, 5)]);
        assert!(changes.contains(&LinkChange::Set(b2.with_id())));
        assert!(changes.contains(&LinkChange::Set(c.clone().with_id())));
        assert!(changes.contains(&LinkChange::Deleted(a.with_id())));
        assert_eq!(changes.len(), 3);
        assert!(
            cache
                .resync(vec![raw(&link("MB", &[("K", "V")]), 4), raw(&c, 5)])
                .is_empty()
        );
    }
}
