//! Host identity: the server key (`N…`, the host id), the cluster key (`C…`), trusted cluster
//! issuers, labels and a friendly name (PROTOCOL.md §1).
//!
//! Seeds come from `WASMCLOUD_HOST_SEED` / `WASMCLOUD_CLUSTER_SEED` or are generated; they are
//! never logged or printed (the `Debug` impl shows public keys only).

use std::collections::BTreeMap;
use std::fmt;

use nkeys::{KeyPair, KeyPairType};

/// What the identity is made from.
#[derive(Clone, Default)]
pub struct IdentityConfig {
    /// Server key seed (`SN…`); generated when absent.
    pub host_seed: Option<String>,
    /// Cluster key seed (`SC…`); generated when absent.
    pub cluster_seed: Option<String>,
    /// Extra trusted cluster issuers (`C…`), besides this host's own cluster key.
    pub cluster_issuers: Vec<String>,
    /// Labels from `--label k=v` (they win over `HOST_*` variables).
    pub labels: BTreeMap<String, String>,
    /// Labels from the environment: every `HOST_*` variable, prefix stripped, key lower-cased.
    pub env_labels: BTreeMap<String, String>,
    /// Friendly name; generated from the host key when absent.
    pub friendly_name: Option<String>,
}

impl fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("host_seed", &self.host_seed.as_ref().map(|_| "<redacted>"))
            .field(
                "cluster_seed",
                &self.cluster_seed.as_ref().map(|_| "<redacted>"),
            )
            .field("cluster_issuers", &self.cluster_issuers)
            .field("labels", &self.labels)
            .field("friendly_name", &self.friendly_name)
            .finish()
    }
}

/// Why an identity could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A seed did not parse or is of the wrong kind. The seed itself is never included.
    #[error("{which} seed is not a valid {kind} nkey seed")]
    BadSeed {
        /// `host` or `cluster`.
        which: &'static str,
        /// Expected key kind.
        kind: &'static str,
    },
}

/// The host's keys, labels and name.
pub struct HostIdentity {
    host_key: KeyPair,
    cluster_key: KeyPair,
    /// Trusted cluster issuers, this host's cluster key first.
    pub cluster_issuers: Vec<String>,
    /// Labels: core labels, `HOST_*` variables, then `--label`s.
    pub labels: BTreeMap<String, String>,
    /// Friendly name.
    pub friendly_name: String,
}

impl fmt::Debug for HostIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostIdentity")
            .field("host_id", &self.host_id())
            .field("cluster", &self.cluster_public_key())
            .field("labels", &self.labels)
            .field("friendly_name", &self.friendly_name)
            .finish()
    }
}

fn key(
    seed: Option<&str>,
    kind: KeyPairType,
    which: &'static str,
) -> Result<KeyPair, IdentityError> {
    let kind_name = match kind {
        KeyPairType::Server => "server (SN…)",
        _ => "cluster (SC…)",
    };
    match seed {
        None => Ok(KeyPair::new(kind)),
        Some(s) => {
            let kp = KeyPair::from_seed(s.trim()).map_err(|_| IdentityError::BadSeed {
                which,
                kind: kind_name,
            })?;
            if kp.key_pair_type() != kind {
                return Err(IdentityError::BadSeed {
                    which,
                    kind: kind_name,
                });
            }
            Ok(kp)
        }
    }
}

/// `hostcore.arch`, `hostcore.os`, `hostcore.osfamily` (OTP `detect_core_host_labels`).
pub fn core_labels() -> BTreeMap<String, String> {
    [
        ("hostcore.arch", std::env::consts::ARCH),
        ("hostcore.os", std::env::consts::OS),
        ("hostcore.osfamily", std::env::consts::FAMILY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Labels from `HOST_*` variables of `vars`: prefix stripped, key lower-cased
/// (`HOST_REGION=eu` → `region: eu`).
pub fn env_labels(vars: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    vars.into_iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("HOST_")?;
            (!key.is_empty()).then(|| (key.to_lowercase(), v))
        })
        .collect()
}

/// A two-word name derived from the host key, e.g. `silent-breeze-1234`, so the same seed
/// always gives the same name.
fn friendly_name(host_id: &str) -> String {
    const ADJ: [&str; 16] = [
        "silent", "quiet", "bold", "swift", "calm", "bright", "dark", "gentle", "lucky", "misty",
        "proud", "rapid", "shy", "sunny", "wild", "young",
    ];
    const NOUN: [&str; 16] = [
        "breeze", "river", "forest", "meadow", "ember", "harbor", "summit", "canyon", "glacier",
        "island", "lagoon", "prairie", "reef", "spruce", "tundra", "valley",
    ];
    let h = host_id.bytes().fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    format!(
        "{}-{}-{:04}",
        ADJ[(h % 16) as usize],
        NOUN[((h / 16) % 16) as usize],
        (h / 256) % 10_000
    )
}

impl HostIdentity {
    /// Builds the identity.
    ///
    /// # Errors
    /// A seed that is not a valid nkey seed of the right kind.
    pub fn new(cfg: &IdentityConfig) -> Result<Self, IdentityError> {
        let host_key = key(cfg.host_seed.as_deref(), KeyPairType::Server, "host")?;
        let cluster_key = key(cfg.cluster_seed.as_deref(), KeyPairType::Cluster, "cluster")?;
        let mut cluster_issuers = vec![cluster_key.public_key()];
        for i in &cfg.cluster_issuers {
            if !cluster_issuers.contains(i) {
                cluster_issuers.push(i.clone());
            }
        }
        let mut labels = core_labels();
        labels.extend(cfg.env_labels.clone());
        labels.extend(cfg.labels.clone());
        let friendly_name = cfg
            .friendly_name
            .clone()
            .unwrap_or_else(|| friendly_name(&host_key.public_key()));
        Ok(Self {
            host_key,
            cluster_key,
            cluster_issuers,
            labels,
            friendly_name,
        })
    }

    /// The host id: the server public key (`N…`).
    pub fn host_id(&self) -> String {
        self.host_key.public_key()
    }

    /// A copy of the cluster key pair, which signs this host's invocations (PROTOCOL.md §4.3).
    pub fn cluster_key_pair(&self) -> KeyPair {
        self.cluster_key
            .seed()
            .ok()
            .and_then(|s| KeyPair::from_seed(&s).ok())
            .unwrap_or_else(KeyPair::new_cluster)
    }

    /// The cluster public key (`C…`), the host's `issuer`.
    pub fn cluster_public_key(&self) -> String {
        self.cluster_key.public_key()
    }

    /// Whether every `constraints` pair is among the labels (auctions).
    pub fn matches(&self, constraints: &BTreeMap<String, String>) -> bool {
        constraints
            .iter()
            .all(|(k, v)| self.labels.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_give_stable_ids_and_are_never_shown() {
        let seed = KeyPair::new_server().seed().unwrap();
        let cfg = IdentityConfig {
            host_seed: Some(seed.clone()),
            ..IdentityConfig::default()
        };
        let a = HostIdentity::new(&cfg).unwrap();
        let b = HostIdentity::new(&cfg).unwrap();
        assert_eq!(a.host_id(), b.host_id());
        assert_eq!(a.friendly_name, b.friendly_name);
        assert!(a.host_id().starts_with('N'));
        assert!(a.cluster_public_key().starts_with('C'));
        assert!(!format!("{cfg:?} {a:?}").contains(&seed));
    }

    #[test]
    fn wrong_kind_of_seed_is_refused_without_echoing_it() {
        let seed = KeyPair::new_user().seed().unwrap();
        let err = HostIdentity::new(&IdentityConfig {
            host_seed: Some(seed.clone()),
            ..IdentityConfig::default()
        })
        .unwrap_err();
        assert!(!err.to_string().contains(&seed));
        assert!(err.to_string().contains("host seed"));
    }

    #[test]
    fn labels_layer_core_env_then_flags() {
        let env = env_labels([
            ("HOST_REGION".to_string(), "eu".to_string()),
            ("HOST_ZONE".to_string(), "a".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ]);
        let id = HostIdentity::new(&IdentityConfig {
            env_labels: env,
            labels: [("zone".to_string(), "b".to_string())].into(),
            ..IdentityConfig::default()
        })
        .unwrap();
        assert_eq!(id.labels["region"], "eu");
        assert_eq!(id.labels["zone"], "b", "--label wins");
        assert_eq!(id.labels["hostcore.os"], std::env::consts::OS);
        assert!(!id.labels.contains_key("home"));
        assert!(id.matches(&[("region".to_string(), "eu".to_string())].into()));
        assert!(!id.matches(&[("region".to_string(), "us".to_string())].into()));
    }
}
