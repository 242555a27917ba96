//! Where an actor's bytes come from: actor references, the file-load policy and bounded reads.
//!
//! - **References.** A file path or `file://` URL is a file; `oci://…`, `bindle://…` and
//!   things shaped like an OCI reference (`registry.host/repo:tag`) are refused clearly (this
//!   host cannot fetch them yet) instead of being looked up as files.
//! - **Who may name which file.** The operator's own files (`--actor`, `lattice-tui dev`) are
//!   always allowed. A file named by a lattice client (`cmd.{host}.la`, `scale`, `upd`, an
//!   auction) is honoured only under a directory the operator allowed with
//!   `--allow-file-load DIR` (wasmCloud's host has `WASMCLOUD_ALLOW_FILE_LOAD` for the same
//!   reason). The check is made on the path as written *and* on the file it resolves to, so a
//!   symlink cannot lead out of an allowed directory, and a refused path is never looked up:
//!   a client cannot probe which files exist elsewhere on the machine.
//! - **Reading.** Only regular files are read (a FIFO, a device such as `/dev/zero`, a socket
//!   or a directory is refused before any byte is read; the file is opened non-blocking, so a
//!   FIFO cannot park a thread), and never more than the size limit plus one byte, so a file
//!   that grows or lies about its size cannot make the host allocate without bound.
//!
//! Must not touch the actor tables or the lattice; it only answers "may I" and "here are the
//! bytes".

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use crate::sync::lock;

/// Why a reference could not be turned into bytes, as text for events and acks.
pub(crate) type FileError = String;

/// Who names a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The operator: `--actor`, `lattice-tui dev`, the library's own calls. Always allowed.
    Operator,
    /// A lattice client: allowed only under the policy's directories.
    Lattice,
}

/// Where an actor reference points. Only files are supported; OCI and bindle references get a
/// clear refusal instead of a long timeout or a misleading "no such file".
///
/// # Errors
/// The reference is an OCI or bindle reference.
pub fn resolve_actor_ref(actor_ref: &str) -> Result<PathBuf, FileError> {
    if let Some(rest) = actor_ref.strip_prefix("file://") {
        return Ok(PathBuf::from(rest));
    }
    if actor_ref.starts_with("bindle://") {
        return Err(format!(
            "bindle references are not supported: {actor_ref} (start actors from a file path or file:// URL)"
        ));
    }
    if actor_ref.starts_with("oci://") || (!Path::new(actor_ref).exists() && looks_oci(actor_ref)) {
        return Err(format!(
            "OCI references are not supported yet: {actor_ref} (start actors from a file path or file:// URL)"
        ));
    }
    Ok(PathBuf::from(actor_ref))
}

/// Whether a reference that is not an existing path has the shape of an OCI reference:
/// `[registry/]repository[:tag|@digest]` with a registry (a host name with a dot or a port, or
/// `localhost`) or a tag or digest, and no file-like ending. `my.dir/a.wasm`, `./x`, `/abs`
/// and `a/b` are paths.
fn looks_oci(r: &str) -> bool {
    if r.is_empty()
        || r.starts_with(['/', '.', '~'])
        || r.ends_with(".wasm")
        || r.contains(['\\', ' '])
    {
        return false;
    }
    let (name, tagged) = match r.rsplit_once('@') {
        Some((name, digest)) => (name, digest.contains(':')),
        None => {
            let last = r.rsplit('/').next().unwrap_or(r);
            (r, last.contains(':'))
        }
    };
    let registry = name
        .split_once('/')
        .map(|(first, _)| first)
        .filter(|first| first.contains(['.', ':']) || *first == "localhost");
    match registry {
        // `registry.host/repo` without a tag is an OCI reference (tag `latest`) unless its
        // last segment has a file extension.
        Some(_) => tagged || !r.rsplit('/').next().is_some_and(|last| last.contains('.')),
        // No registry: only `name:tag` (Docker Hub style) is OCI-shaped.
        None => tagged && !name.contains('/'),
    }
}

/// Which files lattice clients may name.
#[derive(Debug, Default)]
pub struct FileLoadPolicy {
    /// Allowed directories, canonical.
    dirs: Vec<PathBuf>,
    /// The same directories as the operator wrote them (made absolute), so a path written
    /// through a symlinked directory passes the check made before any lookup.
    given: Vec<PathBuf>,
    /// Files the operator started (canonical): a lattice client may refer to them too
    /// (`scale`, `upd` back to the same file).
    files: Mutex<BTreeSet<PathBuf>>,
}

impl FileLoadPolicy {
    /// A policy allowing lattice file loads under `dirs`.
    ///
    /// # Errors
    /// A directory does not exist or is not a directory.
    pub fn new(dirs: &[PathBuf]) -> Result<Self, FileError> {
        let mut canonical = Vec::with_capacity(dirs.len());
        let given = dirs.iter().map(|d| absolute_lexical(d)).collect();
        for d in dirs {
            let c = std::fs::canonicalize(d)
                .map_err(|e| format!("--allow-file-load {}: {e}", d.display()))?;
            if !c.is_dir() {
                return Err(format!(
                    "--allow-file-load {}: not a directory",
                    d.display()
                ));
            }
            canonical.push(c);
        }
        Ok(Self {
            dirs: canonical,
            given,
            files: Mutex::new(BTreeSet::new()),
        })
    }

    /// The allowed directories, for messages and logs.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Lets lattice clients name a file the operator started: `given` as the operator wrote
    /// it, `canonical` the file it resolved to.
    pub fn allow_file(&self, given: &Path, canonical: PathBuf) {
        let mut files = lock(&self.files);
        files.insert(absolute_lexical(given));
        files.insert(canonical);
    }

    fn allows(&self, path: &Path) -> bool {
        self.dirs.iter().any(|d| path.starts_with(d)) || lock(&self.files).contains(path)
    }

    fn allows_as_written(&self, path: &Path) -> bool {
        self.allows(path) || self.given.iter().any(|d| path.starts_with(d))
    }

    fn refusal(&self, path: &Path) -> FileError {
        if self.dirs.is_empty() {
            format!(
                "file {} is not allowed: this host loads files named by lattice clients only under directories given with --allow-file-load",
                path.display()
            )
        } else {
            let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
            format!(
                "file {} is not allowed: this host loads files named by lattice clients only under {} (--allow-file-load)",
                path.display(),
                dirs.join(", ")
            )
        }
    }

    /// Checks that a client of `origin` may read `path`, and returns the file it resolves to
    /// (canonical). For the lattice, the path as written must lie under an allowed directory
    /// before it is looked up at all, and the file it resolves to must too.
    ///
    /// # Errors
    /// The path is not allowed, or it does not exist.
    pub fn check(&self, path: &Path, origin: Origin) -> Result<PathBuf, FileError> {
        if origin == Origin::Lattice {
            let lexical = absolute_lexical(path);
            if !self.allows_as_written(&lexical) {
                return Err(self.refusal(path));
            }
        }
        let canonical = std::fs::canonicalize(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("no such file: {}", path.display()),
            _ => format!("cannot open {}: {e}", path.display()),
        })?;
        if origin == Origin::Lattice && !self.allows(&canonical) {
            return Err(self.refusal(path));
        }
        Ok(canonical)
    }
}

/// `path` made absolute against the current directory, with `.` and `..` resolved by name
/// (no file-system access).
fn absolute_lexical(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Reads a regular file of at most `limit` bytes, on a blocking thread.
///
/// # Errors
/// The file cannot be opened, is not a regular file, or is larger than `limit`.
pub async fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || read_regular_file_blocking(&path, limit))
        .await
        .map_err(|e| format!("reading the file failed: {e}"))?
}

fn read_regular_file_blocking(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking open: opening a FIFO for reading would otherwise wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a regular file (a {}); only .wasm files can be loaded",
            path.display(),
            kind_of(&meta.file_type())
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(limit)).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(format!(
            "{} is larger than the {} byte limit for actors",
            path.display(),
            limit
        ));
    }
    Ok(bytes)
}

fn kind_of(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Whether a lattice client could have this host start `actor_ref` from a file: the reference
/// is a file, the policy allows it, and it is a regular file now. Used by auctions (a host
/// bids only for what it can run); does not read the file.
///
/// # Errors
/// Why it could not.
pub async fn check_loadable(
    policy: &FileLoadPolicy,
    actor_ref: &str,
    origin: Origin,
) -> Result<PathBuf, FileError> {
    let path = resolve_actor_ref(actor_ref)?;
    let canonical = policy.check(&path, origin)?;
    let meta = tokio::fs::metadata(&canonical)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_shapes_and_paths_are_told_apart() {
        for oci in [
            "wasmcloud.azurecr.io/echo:0.3.4",
            "ghcr.io/acme/x:1",
            "localhost:5000/echo:1",
            "localhost/echo",
            "ghcr.io/acme/echo",
            "echo:0.3.4",
            "ghcr.io/acme/x@sha256:abcd",
        ] {
            assert!(looks_oci(oci), "{oci} is OCI-shaped");
        }
        for path in [
            "my.dir/a.wasm",
            "my.dir/sub/a.wasm",
            "./x.wasm",
            "../x",
            "/abs/x",
            "a/b",
            "a.wasm",
            "build.out/app.v2",
            "plain",
        ] {
            assert!(!looks_oci(path), "{path} is a path");
        }
    }

    #[test]
    fn a_missing_dotted_path_is_a_missing_file_not_an_oci_reference() {
        assert_eq!(
            resolve_actor_ref("my.dir/a.wasm").expect("a path"),
            PathBuf::from("my.dir/a.wasm")
        );
        assert!(
            resolve_actor_ref("ghcr.io/acme/x:1")
                .unwrap_err()
                .contains("OCI references are not supported yet")
        );
        assert!(
            resolve_actor_ref("oci://ghcr.io/x")
                .unwrap_err()
                .contains("OCI")
        );
        assert!(
            resolve_actor_ref("bindle://x/y")
                .unwrap_err()
                .contains("bindle")
        );
        assert_eq!(
            resolve_actor_ref("file:///tmp/x.wasm").expect("file url"),
            PathBuf::from("/tmp/x.wasm")
        );
    }

    #[test]
    fn lexical_paths_resolve_dots_without_the_file_system() {
        assert_eq!(
            absolute_lexical(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(
            absolute_lexical(Path::new("/a/../../..")),
            PathBuf::from("/")
        );
    }

    #[test]
    fn the_policy_refuses_outside_its_directories_without_looking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inside = dir.path().join("a.wasm");
        std::fs::write(&inside, b"\0asm").expect("write");
        let policy = FileLoadPolicy::new(&[dir.path().to_path_buf()]).expect("policy");
        assert!(policy.check(&inside, Origin::Lattice).is_ok());
        let outside = Path::new("/etc/passwd");
        let refused = policy.check(outside, Origin::Lattice).unwrap_err();
        assert!(refused.contains("not allowed"), "{refused}");
        // The same words whether the file exists or not: nothing to probe.
        let missing = policy
            .check(Path::new("/etc/no-such-file"), Origin::Lattice)
            .unwrap_err();
        assert_eq!(
            refused.replace("/etc/passwd", "X"),
            missing.replace("/etc/no-such-file", "X")
        );
        // Escaping by `..` or a symlink is refused too.
        let dotdot = dir.path().join("../x.wasm");
        assert!(policy.check(&dotdot, Origin::Lattice).is_err());
        let link = dir.path().join("link.wasm");
        std::os::unix::fs::symlink("/etc/passwd", &link).expect("symlink");
        assert!(policy.check(&link, Origin::Lattice).is_err());
        // The operator may name anything.
        assert!(policy.check(outside, Origin::Operator).is_ok());
        let empty = FileLoadPolicy::default();
        assert!(empty.check(&inside, Origin::Lattice).is_err());
        empty.allow_file(&inside, std::fs::canonicalize(&inside).expect("canonical"));
        assert!(empty.check(&inside, Origin::Lattice).is_ok());
    }
}
