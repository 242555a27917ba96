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

/// Default directory of the headless host's rolling logs.
pub fn default_log_dir() -> PathBuf {
    default_log_file()
        .parent()
        .map(|p| p.join("logs"))
        .unwrap_or_else(|| PathBuf::from("logs"))
}

/// Log files kept by the headless host's daily rotation (a week).
const KEEP_LOG_FILES: usize = 7;

/// Headless logging: to stderr and to daily-rotated files in `dir`, as text or JSON.
///
/// # Errors
/// [`LogError::Dir`] if the directory cannot be created or used.
pub fn headless(dir: &Path, json: bool) -> Result<LogGuard, LogError> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    std::fs::create_dir_all(dir).map_err(|source| LogError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("lattice-tui")
        .filename_suffix("log")
        .max_log_files(KEEP_LOG_FILES)
        .build(dir)
        .map_err(|e| LogError::Dir {
            path: dir.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
    let (file, guard) = tracing_appender::non_blocking(appender);
    let (file_layer, stderr_layer) = if json {
        (
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(file)
                .boxed(),
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::stderr)
                .boxed(),
        )
    } else {
        (
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(file)
                .boxed(),
            tracing_subscriber::fmt::layer()
                // Colours only for a terminal that wants them, not for pipes and log collectors.
                .with_ansi(
                    std::io::IsTerminal::is_terminal(&std::io::stderr())
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
                )
                .with_writer(std::io::stderr)
                .boxed(),
        )
    };
    let _ = tracing_subscriber::registry()
        .with(filter("info"))
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    Ok(LogGuard {
        _worker: Some(guard),
        path: Some(dir.to_path_buf()),
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
