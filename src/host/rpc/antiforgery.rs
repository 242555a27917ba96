//! The invocations' anti-forgery claims (PROTOCOL.md §4.3): signing an outgoing
//! [`Invocation`] with the cluster key and validating every incoming one.
//!
//! The JWT is wascap's `Claims<Invocation>` (never hand-made): `iss` the cluster key, `sub` the
//! invocation id, `wascap.{target_url, origin_url, hash}`, `wascap_revision` 3, no `exp`. The
//! hash is the uppercase hex SHA-256 of `origin_url ++ target_url ++ operation ++ msg`.
//! Validation runs the checks of OTP's `validate_antiforgery` and `wasmbus-rpc`'s
//! `validate_invocation`, in their order and with their error texts, plus the issuer check
//! against the host's `cluster_issuers`. Pure apart from reading the clock for `exp`/`nbf`
//! (inside wascap) — no I/O.

use nkeys::KeyPair;
use sha2::{Digest, Sha256};
use wascap::jwt::{Claims, Invocation as InvocationClaims, validate_token};

use super::wire::{Invocation, WasmCloudEntity};

/// Why an invocation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forgery {
    /// The claims are no JWT of an invocation.
    #[error("{0}")]
    BadToken(String),
    /// `exp` has passed.
    #[error("Invocation claims token expired")]
    Expired,
    /// The signature is not the issuer's.
    #[error("Invocation claims signature invalid")]
    BadSignature,
    /// `nbf` is in the future.
    #[error("Attempt to use invocation before claims token allows")]
    TooEarly,
    /// No `wascap` claims.
    #[error("No wascap metadata found on claims")]
    NoMetadata,
    /// The payload, URLs or operation are not what was signed.
    #[error("Invocation hash does not match signed claims hash ({signed} / {computed})")]
    HashMismatch {
        /// The hash in the claims.
        signed: String,
        /// The hash of what arrived.
        computed: String,
    },
    /// The sender's host id is no host key.
    #[error("Invalid host ID on invocation: '{0}'")]
    BadHostId(String),
    /// The signer is not a trusted cluster issuer.
    #[error("Issuer of this invocation is not in list of cluster issuers")]
    ForeignIssuer,
    /// The signed target URL is not the invocation's.
    #[error("Invocation claims and invocation target URL do not match: {claims} != {invocation}")]
    TargetMismatch {
        /// The claims' target URL.
        claims: String,
        /// The invocation's.
        invocation: String,
    },
    /// The signed origin URL is not the invocation's.
    #[error("Invocation claims and invocation origin URL do not match")]
    OriginMismatch,
}

/// `HEXUPPER(SHA-256(origin_url ++ target_url ++ operation ++ msg))`.
pub fn invocation_hash(target_url: &str, origin_url: &str, operation: &str, msg: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(origin_url.as_bytes());
    h.update(target_url.as_bytes());
    h.update(operation.as_bytes());
    h.update(msg);
    hex::encode_upper(h.finalize())
}

/// A new invocation of `operation` on `target`, signed with `key` (the cluster key), with the
/// whole payload in `msg` (the caller moves a large one to the object store afterwards: the
/// hash covers the real payload).
///
/// # Errors
/// The key cannot sign (a public-only key).
pub fn sign(
    key: &KeyPair,
    host_id: &str,
    origin: WasmCloudEntity,
    target: WasmCloudEntity,
    operation: &str,
    msg: Vec<u8>,
) -> Result<Invocation, Forgery> {
    // A UUID v4 in 32 hex digits without dashes, as `wasmbus-rpc`'s `make_uuid` writes it.
    let id = uuid::Uuid::new_v4().simple().to_string();
    sign_with(
        key,
        host_id,
        Stamp {
            id,
            jti: None,
            iat: None,
        },
        origin,
        target,
        operation,
        msg,
    )
}

/// The identifiers and time of one signed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The invocation id (the claims' `sub`).
    pub id: String,
    /// The claims' `jti`; `None`: a fresh one from wascap (a nuid, as the SDK's are).
    pub jti: Option<String>,
    /// The claims' `iat`, seconds since the epoch; `None`: now.
    pub iat: Option<u64>,
}

/// [`sign`] with the identifiers and time given: the same inputs give the same bytes (Ed25519
/// is deterministic), which is how the recorded SDK invocations are reproduced in the tests.
///
/// # Errors
/// The key cannot sign.
#[allow(clippy::too_many_arguments)]
pub fn sign_with(
    key: &KeyPair,
    host_id: &str,
    stamp: Stamp,
    origin: WasmCloudEntity,
    target: WasmCloudEntity,
    operation: &str,
    msg: Vec<u8>,
) -> Result<Invocation, Forgery> {
    let Stamp { id, jti, iat } = stamp;
    let origin_url = origin.url();
    let target_url = format!("{}/{}", target.url(), operation);
    let hash = invocation_hash(&target_url, &origin_url, operation, &msg);
    let mut claims = Claims::<InvocationClaims>::new(
        key.public_key(),
        id.clone(),
        &target_url,
        &origin_url,
        &hash,
    );
    if let Some(jti) = jti {
        claims.id = jti;
    }
    if let Some(iat) = iat {
        claims.issued_at = iat;
    }
    let encoded_claims = claims
        .encode(key)
        .map_err(|e| Forgery::BadToken(format!("cannot sign the invocation: {e}")))?;
    Ok(Invocation {
        origin,
        target,
        operation: operation.to_string(),
        content_length: Some(u64::try_from(msg.len()).unwrap_or(u64::MAX)),
        msg,
        id,
        encoded_claims,
        host_id: host_id.to_string(),
        trace_context: None,
    })
}

/// Checks `inv` as a receiver must, `issuers` being the host's trusted cluster keys. A chunked
/// invocation (`msg` empty, real size in `content_length`) is checked against the payload read
/// back from the object store: pass it as `payload`; otherwise `None` uses `inv.msg`.
///
/// # Errors
/// The first check that fails, with the text the era's hosts and SDK give.
pub fn validate(
    inv: &Invocation,
    payload: Option<&[u8]>,
    issuers: &[String],
) -> Result<(), Forgery> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    validate_at(inv, payload, issuers, now)
}

/// [`validate`] at `now` (seconds since the epoch) for `exp` and `nbf`, so a recorded
/// invocation can be checked as of when it was sent.
///
/// # Errors
/// As [`validate`].
pub fn validate_at(
    inv: &Invocation,
    payload: Option<&[u8]>,
    issuers: &[String],
    now: u64,
) -> Result<(), Forgery> {
    // wascap checks the signature; its expiry flags read the system clock, so the validity
    // window is checked here against `now` instead, in the SDK's order.
    let v = validate_token::<InvocationClaims>(&inv.encoded_claims)
        .map_err(|e| Forgery::BadToken(e.to_string()))?;
    let claims = Claims::<InvocationClaims>::decode(&inv.encoded_claims)
        .map_err(|e| Forgery::BadToken(e.to_string()))?;
    if claims.expires.is_some_and(|exp| exp < now) {
        return Err(Forgery::Expired);
    }
    if !v.signature_valid {
        return Err(Forgery::BadSignature);
    }
    if claims.not_before.is_some_and(|nbf| now < nbf) {
        return Err(Forgery::TooEarly);
    }
    let meta = claims.metadata.as_ref().ok_or(Forgery::NoMetadata)?;
    let target_url = inv.target_url();
    let origin_url = inv.origin.url();
    let msg = payload.unwrap_or(&inv.msg);
    let computed = invocation_hash(&target_url, &origin_url, &inv.operation, msg);
    if meta.invocation_hash != computed {
        return Err(Forgery::HashMismatch {
            signed: meta.invocation_hash.clone(),
            computed,
        });
    }
    // The SDK's test, kept as it is: a host id is an `N…` key of 56 characters.
    if !inv.host_id.starts_with('N') && inv.host_id.len() != 56 {
        return Err(Forgery::BadHostId(inv.host_id.clone()));
    }
    if !issuers.contains(&claims.issuer) {
        return Err(Forgery::ForeignIssuer);
    }
    if meta.target_url != target_url {
        return Err(Forgery::TargetMismatch {
            claims: meta.target_url.clone(),
            invocation: target_url,
        });
    }
    if meta.origin_url != origin_url {
        return Err(Forgery::OriginMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (KeyPair, Vec<String>) {
        let k = KeyPair::new_cluster();
        let issuers = vec![k.public_key()];
        (k, issuers)
    }

    fn call(k: &KeyPair) -> Invocation {
        sign(
            k,
            &KeyPair::new_server().public_key(),
            WasmCloudEntity::actor(KeyPair::new_module().public_key()),
            WasmCloudEntity::provider(
                KeyPair::new_service().public_key(),
                "wasmcloud:keyvalue",
                "default",
            ),
            "KeyValue.Get",
            b"\x81\xa3key\xa1k".to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn a_signed_invocation_validates() {
        let (k, issuers) = pair();
        let inv = call(&k);
        validate(&inv, None, &issuers).unwrap();
        // The SDK's id shape: 32 lowercase hex digits, no dashes.
        assert_eq!(inv.id.len(), 32);
        assert!(
            inv.id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let back = Invocation::decode(&inv.encode().unwrap()).unwrap();
        assert_eq!(back, inv);
        validate(&back, None, &issuers).unwrap();
    }

    #[test]
    fn each_tampering_is_refused_with_its_reason() {
        let (k, issuers) = pair();
        let mut inv = call(&k);
        inv.msg.push(0);
        assert!(matches!(
            validate(&inv, None, &issuers),
            Err(Forgery::HashMismatch { .. })
        ));

        let mut inv = call(&k);
        inv.operation = "KeyValue.Set".into();
        assert!(matches!(
            validate(&inv, None, &issuers),
            Err(Forgery::HashMismatch { .. })
        ));

        let inv = call(&KeyPair::new_cluster());
        assert_eq!(validate(&inv, None, &issuers), Err(Forgery::ForeignIssuer));

        // Claims naming our issuer, signed by someone else.
        let mut inv = call(&k);
        let claims = Claims::<InvocationClaims>::decode(&inv.encoded_claims).unwrap();
        inv.encoded_claims = claims.encode(&KeyPair::new_cluster()).unwrap();
        assert_eq!(validate(&inv, None, &issuers), Err(Forgery::BadSignature));

        let mut inv = call(&k);
        inv.encoded_claims = "not a jwt".into();
        assert!(matches!(
            validate(&inv, None, &issuers),
            Err(Forgery::BadToken(_))
        ));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let (k, issuers) = pair();
        let mut inv = call(&k);
        let mut claims = Claims::<InvocationClaims>::decode(&inv.encoded_claims).unwrap();
        claims.expires = Some(1);
        inv.encoded_claims = claims.encode(&k).unwrap();
        assert_eq!(validate(&inv, None, &issuers), Err(Forgery::Expired));
    }
}
