//! Logging setup: tracing to a file while the console is up, to stderr for commands.
//!
//! Owns the subscriber and the `tracing-appender` worker. The returned [`LogGuard`] must live
//! until the very end of `main` (after the terminal is restored), or the last lines are lost.
//! Filter: `LATTICE_LOG`, else `RUST_LOG`, else `info`.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Keeps the log writer alive; dropping it flushes.
pub struct LogGuard {
    _worker: Option<WorkerGuard>,
    /// The log file, if logging to a file.
    pub path: Option<PathBuf>,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log directory could not be created.
    #[error("cannot create log directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn filter(default: &str) -> EnvFilter {
    std::env::var("LATTICE_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(default))
}

/// Default log file: `$XDG_STATE_HOME/lattice-tui/lattice-tui.log`, else
/// `~/.local/state/lattice-tui/lattice-tui.log`, else the temp dir.
pub fn default_log_file() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("lattice-tui").join("lattice-tui.log")
}

/// Logs to `path` (appending) through a non-blocking writer. Nothing goes to the terminal.
///
/// # Errors
/// [`LogError::Dir`] if the directory cannot be created.
pub fn to_file(path: &Path) -> Result<LogGuard, LogError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| LogError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lattice-tui.log".to_string());
    let appender = tracing_appender::rolling::never(dir, name);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("info"))
        .with_ansi(false)
        .with_writer(writer)
        .try_init();
    Ok(LogGuard {
        _worker: Some(guard),
        path: Some(path.to_path_buf()),
    })
}

/// Logs warnings and errors (or the `LATTICE_LOG` / `RUST_LOG` filter) to stderr, for
/// commands that print their result on stdout.
pub fn to_stderr() -> LogGuard {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("warn"))
        .with_writer(std::io::stderr)
        .try_init();
    LogGuard {
        _worker: None,
        path: None,
    }
}
