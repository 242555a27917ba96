//! Actor identity and claims (wascap): who a component is, and whether it may start here.
//!
//! A signed component carries a JWT in its `wasmcloud_jwt` (or older `jwt`) custom section; its
//! identity is the JWT subject (`M…`), and the signature, the validity window and the module hash
//! are checked (PROTOCOL.md §6). An unsigned component gets a stable, derived identity: the
//! public key of a module key pair whose seed is the SHA-256 of
//! `lattice-tui/unsigned-actor/v1` and the component's *source* (its canonical file path), so the
//! same file keeps the same id across rebuilds and reloads while distinct files never collide.
//! Owns no I/O: bytes and names come in, an [`ActorIdentity`] or a [`ClaimsError`] goes out.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wascap::jwt::{Claims, WascapEntity, validate_token};

use crate::lattice::protocol::{ActorEventClaims, ClaimsMap};

/// Domain separator of derived ids; bump the version to change the derivation.
const UNSIGNED_ID_DOMAIN: &[u8] = b"lattice-tui/unsigned-actor/v1\0";

/// The `wascap` metadata of an actor-era JWT (wascap ≤0.13 `Actor`): like the current
/// `Component` metadata plus the capability list (`caps`) the OTP protocol reports in
/// `get.claims`. Decoded by wascap itself; only the shape is ours.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActorMeta {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Module hash (uppercase hex SHA-256 without the claims section).
    #[serde(rename = "hash", default)]
    pub module_hash: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Capability contract ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    /// Revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i32>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// Call alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_alias: Option<String>,
    /// Whether these are a provider's claims.
    #[serde(rename = "prov", default)]
    pub provider: bool,
}

impl WascapEntity for ActorMeta {
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "Anonymous".to_string())
    }
}

/// Who may start actors here.
#[derive(Debug, Clone, Default)]
pub struct ClaimsPolicy {
    /// Refuse components without claims.
    pub require_signed: bool,
    /// When non-empty, only these accounts (`A…`) may have signed an actor.
    pub allowed_issuers: Vec<String>,
}

/// Why a component may not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// The embedded JWT could not be read or does not match the module (altered after signing).
    #[error("invalid claims: {0}")]
    Invalid(String),
    /// The JWT signature does not verify against its issuer.
    #[error("claims signature is not valid")]
    BadSignature,
    /// The claims expired.
    #[error("claims expired ({0})")]
    Expired(String),
    /// The claims are not valid yet.
    #[error("claims not valid until {0}")]
    NotYetValid(String),
    /// The component carries no claims and `--require-signed` is on.
    #[error("component is not signed and this host requires signed actors (--require-signed)")]
    Unsigned,
    /// The issuer is not in `--allowed-issuers`.
    #[error("issuer {0} is not allowed on this host (--allowed-issuers)")]
    IssuerNotAllowed(String),
    /// The JWT is for a capability provider, not an actor.
    #[error("claims describe a capability provider, not an actor")]
    NotAnActor,
}

/// Identity and claims of an actor component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorIdentity {
    /// Public key (`M…`): the JWT subject, or the derived key of an unsigned component.
    pub public_key: String,
    /// Whether the component carried verified claims.
    pub signed: bool,
    /// Issuing account (`A…`); empty when unsigned.
    pub issuer: String,
    /// Name from the claims (for unsigned components: the file stem).
    pub name: Option<String>,
    /// Capability contract ids.
    pub caps: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Claims revision.
    pub rev: Option<i32>,
    /// Version string.
    pub ver: Option<String>,
    /// Call alias.
    pub call_alias: Option<String>,
    /// Expiry, as text (`never` when none).
    pub expires_human: String,
    /// Not-before, as text (`immediately` when none).
    pub not_before_human: String,
}

impl ActorIdentity {
    /// The `get.claims` / `CLAIMS_{pk}` entry: a flat map whose values are all strings.
    pub fn claims_map(&self) -> ClaimsMap {
        [
            ("sub", self.public_key.clone()),
            ("iss", self.issuer.clone()),
            ("name", self.name.clone().unwrap_or_default()),
            ("call_alias", self.call_alias.clone().unwrap_or_default()),
            ("caps", self.caps.join(",")),
            ("rev", self.rev.unwrap_or(0).to_string()),
            ("tags", self.tags.join(",")),
            ("version", self.ver.clone().unwrap_or_default()),
            ("contract_id", String::new()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The `claims` object of `actor_started` / `actors_started` (PROTOCOL.md §3.3).
    pub fn event_claims(&self) -> ActorEventClaims {
        ActorEventClaims {
            call_alias: self.call_alias.clone(),
            caps: Some(self.caps.clone()),
            issuer: Some(self.issuer.clone()),
            tags: Some(self.tags.clone()),
            name: self.name.clone(),
            version: self.ver.clone(),
            revision: Some(i64::from(self.rev.unwrap_or(0))),
            not_before_human: Some(self.not_before_human.clone()),
            expires_human: Some(self.expires_human.clone()),
        }
    }
}

/// The derived public key of an unsigned component whose source is `source` (a canonical path).
pub fn unsigned_key(source: &str) -> String {
    let mut h = Sha256::new();
    h.update(UNSIGNED_ID_DOMAIN);
    h.update(source.as_bytes());
    let seed: [u8; 32] = h.finalize().into();
    match nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::Module, seed) {
        Ok(kp) => kp.public_key(),
        // 32 bytes are always a valid raw seed; keep a stable, clearly-derived fallback anyway.
        Err(_) => format!("M{}", hex::encode_upper(&seed[..27])),
    }
}

/// Reads and checks the claims of `bytes`. `source` names the component for derived ids and
/// `default_name` (e.g. the file stem) names unsigned ones.
///
/// # Errors
/// A [`ClaimsError`] saying why the component may not start here.
pub fn identify(
    bytes: &[u8],
    source: &str,
    default_name: &str,
    policy: &ClaimsPolicy,
) -> Result<ActorIdentity, ClaimsError> {
    let token =
        wascap::wasm::extract_claims(bytes).map_err(|e| ClaimsError::Invalid(e.to_string()))?;
    let Some(token) = token else {
        if policy.require_signed {
            return Err(ClaimsError::Unsigned);
        }
        return Ok(ActorIdentity {
            public_key: unsigned_key(source),
            signed: false,
            issuer: String::new(),
            name: Some(default_name.to_string()),
            caps: vec![],
            tags: vec![],
            rev: None,
            ver: None,
            call_alias: None,
            expires_human: "never".into(),
            not_before_human: "immediately".into(),
        });
    };
    let v =
        validate_token::<ActorMeta>(&token.jwt).map_err(|e| ClaimsError::Invalid(e.to_string()))?;
    if !v.signature_valid {
        return Err(ClaimsError::BadSignature);
    }
    if v.expired {
        return Err(ClaimsError::Expired(v.expires_human));
    }
    if v.cannot_use_yet {
        return Err(ClaimsError::NotYetValid(v.not_before_human));
    }
    let claims =
        Claims::<ActorMeta>::decode(&token.jwt).map_err(|e| ClaimsError::Invalid(e.to_string()))?;
    if !policy.allowed_issuers.is_empty() && !policy.allowed_issuers.contains(&claims.issuer) {
        return Err(ClaimsError::IssuerNotAllowed(claims.issuer));
    }
    let meta = claims.metadata.unwrap_or_default();
    if meta.provider {
        return Err(ClaimsError::NotAnActor);
    }
    Ok(ActorIdentity {
        public_key: claims.subject,
        signed: true,
        issuer: claims.issuer,
        name: meta.name,
        caps: meta.caps.unwrap_or_default(),
        tags: meta.tags.unwrap_or_default(),
        rev: meta.rev,
        ver: meta.ver,
        call_alias: meta.call_alias,
        expires_human: v.expires_human,
        not_before_human: v.not_before_human,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: magic + component-model layer version.
    const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn signed(
        bytes: &[u8],
        account: &nkeys::KeyPair,
        module: &nkeys::KeyPair,
        expires_in_days: Option<u64>,
        not_before_days: Option<u64>,
    ) -> Vec<u8> {
        wascap::wasm::sign_buffer_with_claims(
            "echo".into(),
            bytes,
            module,
            account,
            expires_in_days,
            not_before_days,
            vec!["demo".into()],
            false,
            Some(4),
            Some("0.3.4".into()),
            None,
        )
        .unwrap()
    }

    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// An actor-era signed component: a JWT with `caps`, in a `jwt` custom section (as
    /// wascap < 0.9 wrote it).
    fn actor_era(account: &nkeys::KeyPair, module: &nkeys::KeyPair) -> Vec<u8> {
        let meta = ActorMeta {
            name: Some("echo".into()),
            module_hash: hex::encode_upper(Sha256::digest(EMPTY_COMPONENT)),
            caps: Some(vec![
                "wasmcloud:httpserver".into(),
                "wasmcloud:keyvalue".into(),
            ]),
            rev: Some(7),
            ..ActorMeta::default()
        };
        let claims = wascap::jwt::ClaimsBuilder::<ActorMeta>::new()
            .issuer(&account.public_key())
            .subject(&module.public_key())
            .with_metadata(meta)
            .build();
        let jwt = claims.encode(account).unwrap();
        let mut section = Vec::new();
        leb(3, &mut section);
        section.extend_from_slice(b"jwt");
        section.extend_from_slice(jwt.as_bytes());
        let mut out = EMPTY_COMPONENT.to_vec();
        out.push(0);
        leb(section.len(), &mut out);
        out.extend(section);
        out
    }

    #[test]
    fn unsigned_components_get_a_stable_derived_module_key() {
        let p = ClaimsPolicy::default();
        let a = identify(EMPTY_COMPONENT, "/x/hello.wasm", "hello", &p).unwrap();
        let b = identify(EMPTY_COMPONENT, "/x/hello.wasm", "hello", &p).unwrap();
        let c = identify(EMPTY_COMPONENT, "/y/hello.wasm", "hello", &p).unwrap();
        assert_eq!(a.public_key, b.public_key);
        assert_ne!(a.public_key, c.public_key);
        assert!(a.public_key.starts_with('M') && a.public_key.len() == 56);
        assert!(
            nkeys::KeyPair::from_public_key(&a.public_key).is_ok(),
            "a valid nkey"
        );
        assert!(!a.signed);
        assert_eq!(a.claims_map()["name"], "hello");
    }

    #[test]
    fn require_signed_refuses_unsigned() {
        let p = ClaimsPolicy {
            require_signed: true,
            ..ClaimsPolicy::default()
        };
        assert_eq!(
            identify(EMPTY_COMPONENT, "s", "n", &p),
            Err(ClaimsError::Unsigned)
        );
    }

    #[test]
    fn signed_components_are_identified_by_their_subject() {
        let account = nkeys::KeyPair::new_account();
        let module = nkeys::KeyPair::new_module();
        let bytes = signed(EMPTY_COMPONENT, &account, &module, None, None);
        let id = identify(&bytes, "/x/echo.wasm", "x", &ClaimsPolicy::default()).unwrap();
        assert!(id.signed);
        assert_eq!(id.public_key, module.public_key());
        assert_eq!(id.issuer, account.public_key());
        let m = id.claims_map();
        assert_eq!(m["rev"], "4");
        assert_eq!(m["version"], "0.3.4");
        assert_eq!(m["tags"], "demo");
        assert_eq!(m["sub"], module.public_key());
    }

    #[test]
    fn actor_era_claims_keep_their_capabilities() {
        let account = nkeys::KeyPair::new_account();
        let module = nkeys::KeyPair::new_module();
        let bytes = actor_era(&account, &module);
        let id = identify(&bytes, "s", "n", &ClaimsPolicy::default()).unwrap();
        assert_eq!(id.public_key, module.public_key());
        assert_eq!(id.caps, vec!["wasmcloud:httpserver", "wasmcloud:keyvalue"]);
        assert_eq!(
            id.claims_map()["caps"],
            "wasmcloud:httpserver,wasmcloud:keyvalue"
        );
        assert_eq!(id.claims_map()["rev"], "7");
    }

    #[test]
    fn issuers_can_be_restricted() {
        let account = nkeys::KeyPair::new_account();
        let bytes = signed(
            EMPTY_COMPONENT,
            &account,
            &nkeys::KeyPair::new_module(),
            None,
            None,
        );
        let p = ClaimsPolicy {
            allowed_issuers: vec![nkeys::KeyPair::new_account().public_key()],
            ..ClaimsPolicy::default()
        };
        assert!(matches!(
            identify(&bytes, "s", "n", &p),
            Err(ClaimsError::IssuerNotAllowed(i)) if i == account.public_key()
        ));
        let ok = ClaimsPolicy {
            allowed_issuers: vec![account.public_key()],
            ..ClaimsPolicy::default()
        };
        assert!(identify(&bytes, "s", "n", &ok).is_ok());
    }

    #[test]
    fn altered_modules_and_future_claims_are_refused() {
        let account = nkeys::KeyPair::new_account();
        let module = nkeys::KeyPair::new_module();
        // Sign one module, then graft its claims onto another: the hash no longer matches.
        let signed_a = signed(EMPTY_COMPONENT, &account, &module, None, None);
        let other: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        let mut grafted = other.to_vec();
        grafted.extend_from_slice(&signed_a[EMPTY_COMPONENT.len()..]);
        assert!(matches!(
            identify(&grafted, "s", "n", &ClaimsPolicy::default()),
            Err(ClaimsError::Invalid(_))
        ));
        let later = signed(EMPTY_COMPONENT, &account, &module, None, Some(3));
        assert!(matches!(
            identify(&later, "s", "n", &ClaimsPolicy::default()),
            Err(ClaimsError::NotYetValid(_))
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"not wasm",
            &[0, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0, 200],
        ] {
            let r = identify(bad, "s", "n", &ClaimsPolicy::default());
            assert!(r.is_err() || r.is_ok_and(|id| !id.signed), "{bad:?}");
        }
    }
}
