//! The capability providers this host runs: the built-in ones, named so the lattice can
//! address them — `builtin:httpserver` (the HTTP server, in [`super::http`]),
//! `builtin:keyvalue` ([`keyvalue`]) and `builtin:messaging` ([`messaging`]), each with a fixed
//! public key derived from its name, the same on every lattice-tui host, so one link serves on
//! whichever hosts run it — and the external ones it launches as processes ([`external`]).
//!
//! Owns what a built-in provider *is* (reference, contract, name, key) and the providers'
//! operations; the provider table and its events are `core`'s.

pub mod external;
pub mod host_data;
pub mod keyvalue;
pub mod messaging;

/// A provider built into this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    /// The reference that starts it (`cmd.{host}.lp`).
    pub reference: &'static str,
    /// Its contract.
    pub contract: &'static str,
    /// The name in its claims.
    pub name: &'static str,
    /// What its key is derived from.
    seed: &'static [u8],
}

/// `builtin:httpserver`.
pub const HTTPSERVER: Builtin = Builtin {
    reference: "builtin:httpserver",
    contract: "wasmcloud:httpserver",
    name: "HTTP Server (built-in)",
    seed: b"lattice-tui/builtin/httpserver/v1",
};

/// `builtin:keyvalue`.
pub const KEYVALUE: Builtin = Builtin {
    reference: "builtin:keyvalue",
    contract: "wasmcloud:keyvalue",
    name: "Key-Value (built-in)",
    seed: b"lattice-tui/builtin/keyvalue/v1",
};

/// `builtin:messaging`.
pub const MESSAGING: Builtin = Builtin {
    reference: "builtin:messaging",
    contract: "wasmcloud:messaging",
    name: "Messaging (built-in)",
    seed: b"lattice-tui/builtin/messaging/v1",
};

/// Every built-in provider.
pub const BUILTINS: [Builtin; 3] = [HTTPSERVER, KEYVALUE, MESSAGING];

impl Builtin {
    /// The provider named by `reference`, if it is built in.
    pub fn by_ref(reference: &str) -> Option<Builtin> {
        BUILTINS.into_iter().find(|b| b.reference == reference)
    }

    /// The provider with public key `key`, if it is built in.
    pub fn by_key(key: &str) -> Option<Builtin> {
        BUILTINS.into_iter().find(|b| b.public_key() == key)
    }

    /// Its public key: a service key (`V…`) from a fixed seed.
    pub fn public_key(&self) -> String {
        use sha2::{Digest, Sha256};
        let seed: [u8; 32] = Sha256::digest(self.seed).into();
        nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::Service, seed)
            .map(|kp| kp.public_key())
            .unwrap_or_else(|_| format!("V{}", hex::encode_upper(&seed[..27])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_distinct_service_keys() {
        let h = HTTPSERVER.public_key();
        let k = KEYVALUE.public_key();
        assert_ne!(h, k);
        assert!(h.starts_with('V') && k.starts_with('V'));
        assert_eq!(h, crate::host::builtin_http_key());
        assert_eq!(Builtin::by_key(&k), Some(KEYVALUE));
        assert_eq!(Builtin::by_ref("builtin:keyvalue"), Some(KEYVALUE));
    }
}
