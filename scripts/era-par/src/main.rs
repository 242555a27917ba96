//! era-par: writes a provider archive (`.par.gz`) the way `wash par create` 0.20.1 does, with
//! `provider-archive` 0.8.0: a gzipped tar holding `claims.jwt` (wascap 0.11
//! `Claims<CapabilityProvider>`, signed by an account key, subject a service key, with the
//! SHA-256 of every target's binary) and `{target}.bin`.
//!
//! Usage:
//!   era-par --binary PATH --out PATH.par.gz [--target x86_64-linux] [--name kv-memory]
//!           [--vendor lattice-tui] [--contract wasmcloud:keyvalue] [--revision 1]
//!           [--version 0.1.0] [--seeds FILE]
//!
//! Keys: fresh ones every run, unless `--seeds FILE` (or `ERA_PAR_SEEDS=FILE`) names a JSON
//! file `{"issuer": "SA…", "subject": "SV…"}`. After writing, the archive is read back with the
//! same crate (claims decoded, per-target hash checked). Prints the provider's public key
//! (`V…`, the claims' subject) as the last stdout line; details go to stderr.

use std::collections::HashMap;
use std::path::PathBuf;

use provider_archive::ProviderArchive;
use wascap::prelude::KeyPair;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Opts {
    binary: PathBuf,
    out: PathBuf,
    target: String,
    name: String,
    vendor: String,
    contract: String,
    revision: i32,
    version: String,
    seeds: Option<PathBuf>,
}

fn parse_args() -> Result<Opts, Error> {
    let mut kv: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(name) = flag.strip_prefix("--") else {
            return Err(format!("unexpected argument '{flag}'").into());
        };
        let value = args
            .next()
            .ok_or_else(|| format!("--{name} needs a value"))?;
        kv.insert(name.to_string(), value);
    }
    let take = |kv: &mut HashMap<String, String>, k: &str, default: Option<&str>| {
        kv.remove(k)
            .or_else(|| default.map(str::to_string))
            .ok_or_else(|| format!("--{k} is required"))
    };
    let opts = Opts {
        binary: take(&mut kv, "binary", None)?.into(),
        out: take(&mut kv, "out", None)?.into(),
        target: take(&mut kv, "target", Some("x86_64-linux"))?,
        name: take(&mut kv, "name", Some("kv-memory"))?,
        vendor: take(&mut kv, "vendor", Some("lattice-tui"))?,
        contract: take(&mut kv, "contract", Some("wasmcloud:keyvalue"))?,
        revision: take(&mut kv, "revision", Some("1"))?.parse()?,
        version: take(&mut kv, "version", Some("0.1.0"))?,
        seeds: kv
            .remove("seeds")
            .or_else(|| {
                std::env::var("ERA_PAR_SEEDS")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .map(PathBuf::from),
    };
    if let Some(k) = kv.keys().next() {
        return Err(format!("unknown option --{k}").into());
    }
    Ok(opts)
}

fn keys(seeds: Option<&PathBuf>) -> Result<(KeyPair, KeyPair), Error> {
    let Some(path) = seeds else {
        return Ok((KeyPair::new_account(), KeyPair::new_service()));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading seeds file {}: {e}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)?;
    let seed = |k: &str| -> Result<KeyPair, Error> {
        let s = doc
            .get(k)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("seeds file has no string \"{k}\""))?;
        Ok(KeyPair::from_seed(s).map_err(|e| format!("seed \"{k}\": {e}"))?)
    };
    let (issuer, subject) = (seed("issuer")?, seed("subject")?);
    if !issuer.public_key().starts_with('A') || !subject.public_key().starts_with('V') {
        return Err("issuer must be an account seed (SA…), subject a service seed (SV…)".into());
    }
    Ok((issuer, subject))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let opts = parse_args()?;
    let (issuer, subject) = keys(opts.seeds.as_ref())?;
    let binary = std::fs::read(&opts.binary)
        .map_err(|e| format!("reading {}: {e}", opts.binary.display()))?;

    let mut par = ProviderArchive::new(
        &opts.contract,
        &opts.name,
        &opts.vendor,
        Some(opts.revision),
        Some(opts.version.clone()),
    );
    par.add_library(&opts.target, &binary)?;
    par.write(&opts.out, &issuer, &subject, true).await?;

    // Read it back with the same crate: claims present, target there, hash checked on load.
    let bytes = std::fs::read(&opts.out)?;
    let loaded = ProviderArchive::try_load(&bytes).await?;
    let claims = loaded
        .claims()
        .ok_or("archive has no claims after writing")?;
    let meta = claims.metadata.as_ref().ok_or("claims have no metadata")?;
    if loaded.target_bytes(&opts.target).as_deref() != Some(binary.as_slice()) {
        return Err(format!("target {} does not read back", opts.target).into());
    }
    eprintln!(
        "wrote {} ({} bytes): name {:?}, vendor {}, contract {}, rev {:?}, ver {:?}, targets {:?}",
        opts.out.display(),
        bytes.len(),
        meta.name,
        meta.vendor,
        meta.capid,
        meta.rev,
        meta.ver,
        loaded.targets(),
    );
    eprintln!("issuer  {}", claims.issuer);
    eprintln!("subject {}", claims.subject);
    println!("{}", claims.subject);
    Ok(())
}
