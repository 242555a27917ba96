//! External capability providers, as the OTP host ran them: a provider archive (`.par.gz`,
//! read with the `provider-archive` crate, its per-target hashes checked) or a plain
//! executable, started as a child process with the host data line on its stdin (§4.5),
//! supervised (an unexpected exit is reported and the process restarted with backoff),
//! health-checked on `….health` (5 s after start, then every 30 s) and stopped with
//! `….shutdown`, then a kill if it does not exit.
//!
//! Owns the artifact (what is run) and the process; the provider table, the links and the
//! lattice events are `core`'s, told through [`Note`]s. Never blocks the host: the child's
//! output is read line by line into the log (bounded: lines over 4 KiB are cut), its stdin
//! is written once and closed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use provider_archive::ProviderArchive;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::host_data::HostData;
use crate::host::rpc::wire::{HealthCheckRequest, HealthCheckResponse, from_msgpack, to_msgpack};
use crate::lattice::bus::Bus;
use crate::lattice::protocol::StringMap;

/// First health check after a start (OTP `provider_module.ex`).
pub const FIRST_HEALTH_CHECK: Duration = Duration::from_secs(5);
/// Later health checks.
pub const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// How long a health check or the shutdown request waits for its reply.
pub const PROVIDER_REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a provider may take to exit after `shutdown` before it is killed.
pub const EXIT_GRACE: Duration = Duration::from_secs(3);
/// Restart backoff: first delay and cap (doubling in between).
pub const RESTART_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));
/// A run this long resets the backoff.
const STABLE_RUN: Duration = Duration::from_secs(60);
/// Largest archive or executable read: 256 MiB.
pub const MAX_PROVIDER_BYTES: u64 = 256 * 1024 * 1024;
/// Longest output line logged as it is.
const MAX_LINE: usize = 4096;
/// The annotation that names a plain executable's contract (it carries no claims).
pub const CONTRACT_ANNOTATION: &str = "lattice-tui.dev/contract-id";

/// The `wascap` claims of an actor-era provider archive (wascap ≤ 0.11 `CapabilityProvider`:
/// with the contract id `capid`, which wascap 0.16 dropped). Decoded by wascap itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderMeta {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Contract id.
    #[serde(default)]
    pub capid: String,
    /// Vendor.
    #[serde(default)]
    pub vendor: String,
    /// Revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rev: Option<i32>,
    /// Version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
}

impl wascap::jwt::WascapEntity for ProviderMeta {
    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "Anonymous".into())
    }
}

/// What runs: the binary for this machine and who it is.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The provider's public key (`V…`).
    pub public_key: String,
    /// Its contract.
    pub contract_id: String,
    /// Its name.
    pub name: String,
    /// Vendor (empty for a plain executable).
    pub vendor: String,
    /// Claims revision.
    pub revision: i32,
    /// Version.
    pub version: Option<String>,
    /// Who signed the archive (`A…`; empty for a plain executable).
    pub issuer: String,
    /// The executable to run.
    pub binary: PathBuf,
}

/// This machine's provider-archive target, e.g. `x86_64-linux`.
pub fn this_target() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

fn is_archive(bytes: &[u8]) -> bool {
    // gzip, or an uncompressed tar (`ustar` at offset 257).
    bytes.starts_with(&[0x1f, 0x8b]) || bytes.get(257..262) == Some(b"ustar")
}

fn is_executable(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF") || bytes.starts_with(b"#!")
}

/// A service key derived from where a plain executable was loaded from (stable per path).
fn derived_key(source: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"lattice-tui/external-provider/v1:");
    h.update(source.to_string_lossy().as_bytes());
    let seed: [u8; 32] = h.finalize().into();
    nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::Service, seed)
        .map(|kp| kp.public_key())
        .unwrap_or_default()
}

/// Turns the bytes of a provider reference into something to run: the archive's binary for
/// this machine written under `cache` (private, executable), or the executable itself.
///
/// # Errors
/// Not an archive or executable; an archive without claims, with a bad signature or hash, or
/// without a binary for this machine; a plain executable without the contract annotation.
pub async fn prepare(
    bytes: Vec<u8>,
    source: &Path,
    annotations: &StringMap,
    cache: &Path,
) -> Result<Artifact, String> {
    if is_archive(&bytes) {
        let target = this_target();
        let par = ProviderArchive::try_load_target(&bytes, &target)
            .await
            .map_err(|e| format!("not a valid provider archive: {e}"))?;
        let token = par
            .claims_token()
            .ok_or("the provider archive carries no claims")?;
        let v = wascap::jwt::validate_token::<ProviderMeta>(&token.jwt)
            .map_err(|e| format!("the provider archive's claims are invalid: {e}"))?;
        if !v.signature_valid {
            return Err("the provider archive's claims signature is invalid".into());
        }
        if v.expired {
            return Err(format!(
                "the provider archive's claims expired {}",
                v.expires_human
            ));
        }
        if v.cannot_use_yet {
            return Err(format!(
                "the provider archive's claims are valid only {}",
                v.not_before_human
            ));
        }
        let claims = wascap::jwt::Claims::<ProviderMeta>::decode(&token.jwt)
            .map_err(|e| format!("the provider archive's claims are invalid: {e}"))?;
        let meta = claims.metadata.clone().unwrap_or_default();
        let Some(bin) = par.target_bytes(&target) else {
            return Err(format!(
                "the provider archive has no binary for this machine ({target}; it has {})",
                par.targets().join(", ")
            ));
        };
        tokio::fs::create_dir_all(cache)
            .await
            .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
        let path = cache.join(format!("{}-{target}", claims.subject));
        write_executable(&path, &bin).await?;
        return Ok(Artifact {
            public_key: claims.subject.clone(),
            contract_id: meta.capid.clone(),
            name: meta.name.clone().unwrap_or_else(|| claims.subject.clone()),
            vendor: meta.vendor.clone(),
            revision: meta.rev.unwrap_or(0),
            version: meta.ver.clone(),
            issuer: claims.issuer.clone(),
            binary: path,
        });
    }
    if is_executable(&bytes) {
        let Some(contract) = annotations
            .get(CONTRACT_ANNOTATION)
            .filter(|c| !c.is_empty())
        else {
            return Err(format!(
                "{} is a plain executable without claims: name its contract with the annotation {CONTRACT_ANNOTATION}=<contract id>",
                source.display()
            ));
        };
        return Ok(Artifact {
            public_key: derived_key(source),
            contract_id: contract.clone(),
            name: source
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "provider".into()),
            vendor: String::new(),
            revision: 0,
            version: None,
            issuer: String::new(),
            binary: source.to_path_buf(),
        });
    }
    Err(format!(
        "{} is neither a provider archive (.par.gz) nor an executable",
        source.display()
    ))
}

async fn write_executable(path: &Path, bin: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, bin)
        .await
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o700))
        .await
        .map_err(|e| format!("cannot make {} executable: {e}", tmp.display()))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| format!("cannot install {}: {e}", path.display()))
}

/// What the supervisor tells the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// The process runs (first start or a restart).
    Running {
        /// Whether this is a restart.
        restart: bool,
    },
    /// The process ended on its own.
    Exited {
        /// How (`exit status: 1`, `signal: 9`).
        reason: String,
    },
    /// A health check's result.
    Health(bool),
    /// It could not be started at all.
    SpawnFailed(String),
}

/// How a supervised provider is reached and started.
#[derive(Clone)]
pub struct Launch {
    /// The executable.
    pub binary: PathBuf,
    /// `wasmbus.rpc.{prefix}.{key}.{link}`: health and shutdown go below it.
    pub subject: String,
    /// Makes the host data line (fresh links on each restart).
    pub host_data: std::sync::Arc<dyn Fn() -> HostData + Send + Sync>,
    /// The host's id, for `shutdown`.
    pub host_id: String,
    /// A name for the log.
    pub label: String,
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launch")
            .field("binary", &self.binary)
            .field("subject", &self.subject)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

fn spawn(launch: &Launch) -> Result<tokio::process::Child, String> {
    tokio::process::Command::new(&launch.binary)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", launch.binary.display()))
}

fn log_output<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    label: String,
    stream: &'static str,
    r: R,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(mut line)) = lines.next_line().await {
            if line.len() > MAX_LINE {
                let mut cut = MAX_LINE;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
            }
            tracing::info!(target: "provider", provider = %label, stream, "{line}");
        }
    });
}

async fn start_once(launch: &Launch) -> Result<tokio::process::Child, String> {
    let mut child = spawn(launch)?;
    if let Some(out) = child.stdout.take() {
        log_output(launch.label.clone(), "stdout", out);
    }
    if let Some(err) = child.stderr.take() {
        log_output(launch.label.clone(), "stderr", err);
    }
    if let Some(mut stdin) = child.stdin.take() {
        let line = format!("{}\n", (launch.host_data)().to_line());
        if let Err(e) = stdin.write_all(line.as_bytes()).await {
            tracing::warn!(provider = %launch.label, error = %e, "cannot write the host data to the provider");
        }
        // Closed here: the provider read its one line.
        drop(stdin);
    }
    Ok(child)
}

/// Whether the provider answers a health check: any reply counts as alive; a decodable
/// `HealthCheckResponse` says whether it is healthy.
pub async fn health(bus: &Bus, subject: &str) -> bool {
    let body = to_msgpack(&HealthCheckRequest { placeholder: true }).unwrap_or_default();
    match bus
        .request(
            &format!("{subject}.health"),
            Bytes::from(body),
            PROVIDER_REPLY_TIMEOUT,
        )
        .await
    {
        Ok(m) => from_msgpack::<HealthCheckResponse>(&m.payload).map_or(true, |r| r.healthy),
        Err(_) => false,
    }
}

/// Runs and supervises one provider until `cancel`, then stops it (`shutdown`, wait, kill).
/// Notes go to `notes` (bounded; a full channel drops a health note, never a state change —
/// those are awaited).
pub async fn supervise(
    launch: Launch,
    bus: Bus,
    notes: mpsc::Sender<Note>,
    cancel: CancellationToken,
) {
    let mut backoff = RESTART_BACKOFF.0;
    let mut restart = false;
    loop {
        let mut child = match start_once(&launch).await {
            Ok(c) => c,
            Err(e) => {
                let _ = notes.send(Note::SpawnFailed(e)).await;
                return;
            }
        };
        let _ = notes.send(Note::Running { restart }).await;
        let started = tokio::time::Instant::now();
        let mut next_health = started + FIRST_HEALTH_CHECK;
        let exit = loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    stop(&launch, &bus, &mut child).await;
                    return;
                }
                status = child.wait() => break status,
                () = tokio::time::sleep_until(next_health) => {
                    next_health = tokio::time::Instant::now() + HEALTH_CHECK_INTERVAL;
                    let ok = health(&bus, &launch.subject).await;
                    let _ = notes.try_send(Note::Health(ok));
                }
            }
        };
        let reason = match exit {
            Ok(s) => s.to_string(),
            Err(e) => format!("cannot wait for the process: {e}"),
        };
        tracing::warn!(provider = %launch.label, %reason, "the provider exited; restarting it");
        let _ = notes.send(Note::Exited { reason }).await;
        if started.elapsed() >= STABLE_RUN {
            backoff = RESTART_BACKOFF.0;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF.1);
        restart = true;
    }
}

/// `shutdown` (JSON `{"host_id": …}`), up to [`PROVIDER_REPLY_TIMEOUT`] for the reply, then up
/// to [`EXIT_GRACE`] for the exit, then a kill.
async fn stop(launch: &Launch, bus: &Bus, child: &mut tokio::process::Child) {
    let body = serde_json::json!({ "host_id": launch.host_id }).to_string();
    let subject = format!("{}.shutdown", launch.subject);
    if let Err(e) = bus
        .request(&subject, Bytes::from(body), PROVIDER_REPLY_TIMEOUT)
        .await
    {
        tracing::debug!(provider = %launch.label, error = %e, "no reply to shutdown");
    }
    match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(_) => {}
        Err(_) => {
            tracing::warn!(provider = %launch.label, "the provider did not exit after shutdown; killing it");
            let _ = child.kill().await;
        }
    }
}
