//! The actor era's test actors under `assets/actors-era/` (waPC core modules built with
//! `wasmbus-rpc` 0.15 from crates.io), built for tests and signed here the way wascap ≤ 0.11
//! signed them: a JWT whose `wascap` claims carry `caps`, in a `wasmcloud_jwt` custom section,
//! `hash` = the module's SHA-256 without that section (PROTOCOL.md §6, §13).
//!
//! The first call in a test process runs `scripts/build-era-actors.sh`; later calls reuse it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use lattice_tui::host::claims::ActorMeta;
use nkeys::KeyPair;
use sha2::{Digest, Sha256};
use wasm_encoder::Section as _;

static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn build() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target").join("era-actors");
    let output = Command::new("bash")
        .arg(root.join("scripts").join("build-era-actors.sh"))
        .env("ERA_ACTORS_OUT", &out)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run scripts/build-era-actors.sh: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/build-era-actors.sh failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

/// The unsigned module of the era actor `name` (e.g. `"era-hello"`).
pub fn era_module(name: &str) -> Vec<u8> {
    let dir = match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    };
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("no built era actor at {}: {e}", path.display()))
}

/// How to sign an era actor.
pub struct Signing<'a> {
    /// Capability contracts in the claims.
    pub caps: &'a [&'a str],
    /// Call alias.
    pub call_alias: Option<&'a str>,
    /// The account that signs (`A…`).
    pub account: &'a KeyPair,
    /// The module key (`M…`): the actor's public key.
    pub module: &'a KeyPair,
}

/// `bytes` with a `wasmcloud_jwt` section of claims signed as `s` says.
pub fn sign(bytes: &[u8], name: &str, s: &Signing<'_>) -> Vec<u8> {
    let meta = ActorMeta {
        name: Some(name.to_string()),
        module_hash: hex::encode_upper(Sha256::digest(bytes)),
        caps: Some(s.caps.iter().map(|c| c.to_string()).collect()),
        rev: Some(1),
        ver: Some("0.1.0".into()),
        call_alias: s.call_alias.map(str::to_string),
        ..ActorMeta::default()
    };
    // Built through serde so `wascap_revision` is 3, as wash 0.20's wascap 0.11 writes it (the
    // field is private to wascap, and its builder leaves it out — then wascap skips the hash).
    let claims: wascap::jwt::Claims<ActorMeta> = serde_json::from_value(serde_json::json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "iss": s.account.public_key(),
        "sub": s.module.public_key(),
        "wascap": meta,
        "wascap_revision": 3,
    }))
    .expect("claims");
    let jwt = claims.encode(s.account).expect("sign the claims");
    let mut out = bytes.to_vec();
    wasm_encoder::CustomSection {
        name: "wasmcloud_jwt".into(),
        data: jwt.as_bytes().into(),
    }
    .append_to(&mut out);
    out
}

/// Signs `name` with `caps` (and `call_alias`) under fresh keys and writes it into `dir`;
/// returns the file and the actor's public key.
pub fn signed_file(
    dir: &Path,
    name: &str,
    caps: &[&str],
    call_alias: Option<&str>,
) -> (PathBuf, String) {
    let account = KeyPair::new_account();
    let module = KeyPair::new_module();
    let bytes = sign(
        &era_module(name),
        name,
        &Signing {
            caps,
            call_alias,
            account: &account,
            module: &module,
        },
    );
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).expect("write the signed actor");
    (path, module.public_key())
}

static PROVIDERS: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn build_providers() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target").join("era-providers");
    let output = Command::new("bash")
        .arg(root.join("scripts").join("build-era-provider.sh"))
        .env("ERA_PROVIDERS_OUT", &out)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run scripts/build-era-provider.sh: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/build-era-provider.sh failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

/// The directory of the era providers built on `wasmbus-rpc`'s provider SDK
/// (`kv-memory` and `kv-memory.par.gz`, packed by provider-archive 0.8 as wash 0.20 did).
pub fn era_providers_dir() -> PathBuf {
    match PROVIDERS.get_or_init(build_providers) {
        Ok(dir) => dir.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// A host configuration for lattice `default` with the cluster seed `seed` (hosts and clients
/// that share it trust each other's invocations).
pub fn config_with_cluster(seed: &str) -> lattice_tui::host::HostConfig {
    let mut cfg = lattice_tui::host::HostConfig::new("default");
    cfg.identity.cluster_seed = Some(seed.to_string());
    cfg
}

/// GETs `path` on 127.0.0.1:`port` until `want(status, body)` holds (a link reaches the host
/// through the lattice data), within `limit`; returns that answer.
pub async fn get_until(
    port: u16,
    path: &str,
    limit: std::time::Duration,
    want: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    super::within(limit, &format!("GET {path}"), async {
        loop {
            if let Ok((status, body)) = super::http_get(port, path).await
                && want(status, &body)
            {
                return (status, body);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
}

/// GETs `path` until it answers `want_status`; returns the body.
pub async fn get_when(port: u16, path: &str, want_status: u16) -> String {
    get_until(port, path, super::lattice::T, |s, _| s == want_status)
        .await
        .1
}

/// Starts the built-in provider `reference` on link `default` of `host_id` with `cmd.lp`.
pub async fn start_builtin(bus: &lattice_tui::lattice::bus::Bus, host_id: &str, reference: &str) {
    let s = lattice_tui::lattice::subjects::Subjects::new("default");
    let a = super::lattice::ack(
        bus,
        &s.host_command(
            host_id,
            lattice_tui::lattice::subjects::CmdVerb::LaunchProvider,
        ),
        serde_json::json!({"provider_ref": reference, "link_name": "default", "host_id": host_id}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
}

/// Puts the link (`actor`, `provider`, `contract`, link `default`, `values`) in `h`'s lattice
/// data, as a client writing the bucket does.
pub async fn put_link(
    h: &lattice_tui::host::Host,
    actor: &str,
    provider: &str,
    contract: &str,
    values: lattice_tui::lattice::protocol::StringMap,
) {
    let l = lattice_tui::lattice::protocol::LinkDefinition {
        id: String::new(),
        actor_id: actor.to_string(),
        provider_id: provider.to_string(),
        link_name: "default".into(),
        contract_id: contract.to_string(),
        values,
    }
    .with_id();
    h.data().put_link(&l).await.expect("put link");
}
