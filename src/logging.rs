//! Logging setup: tracing to a file while the console is up, to stderr for commands.
//!
//! Owns the subscriber and the `tracing-appender` worker. The returned [`LogGuard`] must live
//! until the very end of `main` (after the terminal is restored), or the last lines are lost.
//! Filter: `LATTICE_LOG`, else `RUST_LOG`, else `info`.
//!
//! Also owns [`LogThrottle`], the rate limit every repeated warning goes through (a dropped
//! message, an undecodable event, a failing guest call): one line per interval that says how
//! many occurrences it stands for, never one line per occurrence.
//!
//! While the console is up, every event also goes to the in-memory [`ring::LogRing`] the
//! logs view reads (see [`ring`]); the file gets exactly what it got before.

pub mod ring;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Keeps the log writer alive; dropping it flushes.
pub struct LogGuard {
    _worker: Option<WorkerGuard>,
    /// The log file, if logging to a file.
    pub path: Option<PathBuf>,
    /// The ring the console's logs view reads, if this subscriber feeds one (and it was the
    /// one installed).
    pub ring: Option<std::sync::Arc<ring::LogRing>>,
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
    let spec = [
        std::env::var("LATTICE_LOG").ok(),
        std::env::var("RUST_LOG").ok(),
    ]
    .into_iter()
    .flatten()
    .find(|v| EnvFilter::try_new(v).is_ok())
    .unwrap_or_else(|| default.to_owned());
    filter_from(&spec)
}

/// The filter for `spec`, with async-nats held to warnings unless `spec` names it.
///
/// async-nats logs every connection event at `info`, and a slow consumer is one event per
/// dropped message: a burst into a full queue would write one line per message. The bus's own
/// event callback reports those drops (throttled, with a count), so async-nats's copy is noise.
fn filter_from(spec: &str) -> EnvFilter {
    let filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    match QUIET_ASYNC_NATS.parse() {
        Ok(quiet) if !spec.contains("async_nats") => filter.add_directive(quiet),
        _ => filter,
    }
}

/// The directive [`filter_from`] adds.
const QUIET_ASYNC_NATS: &str = "async_nats=warn";

/// Default log file: `$XDG_STATE_HOME/lattice-tui/lattice-tui.log`, else
/// `~/.local/state/lattice-tui/lattice-tui.log`, else the temp dir.
pub fn default_log_file() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("lattice-tui").join("lattice-tui.log")
}

/// The console's log file is rotated once it grows past this size (10 MiB)…
pub const CONSOLE_LOG_MAX_BYTES: usize = 10 * 1024 * 1024;
/// …keeping this many older files (`PATH.1` newest … `PATH.5` oldest): a console that logs a
/// flood costs at most about 60 MiB of disk.
pub const CONSOLE_LOG_KEEP: usize = 5;

/// Logs to `path` (appending) through a non-blocking writer, rotating it by size (see
/// [`CONSOLE_LOG_MAX_BYTES`], [`CONSOLE_LOG_KEEP`]), and to a ring of the default size for
/// the console's logs view ([`to_file_with_ring`]). Nothing goes to the terminal.
///
/// # Errors
/// [`LogError::Dir`] if the directory cannot be created.
pub fn to_file(path: &Path) -> Result<LogGuard, LogError> {
    to_file_with_ring(path, crate::state::logs::DEFAULT_CAPACITY)
}

/// [`to_file`], with a [`ring::LogRing`] of `ring_lines` lines for the console's logs view.
///
/// # Errors
/// [`LogError::Dir`] if the directory cannot be created.
pub fn to_file_with_ring(path: &Path, ring_lines: usize) -> Result<LogGuard, LogError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| LogError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let appender = FileRotate::new(
        path,
        AppendCount::new(CONSOLE_LOG_KEEP),
        ContentLimit::BytesSurpassed(CONSOLE_LOG_MAX_BYTES),
        Compression::None,
        None,
    );
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let ring = ring::LogRing::new(ring_lines);
    let installed = tracing_subscriber::registry()
        .with(filter("info"))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer),
        )
        .with(ring::RingLayer::new(std::sync::Arc::clone(&ring)))
        .try_init()
        .is_ok();
    Ok(LogGuard {
        _worker: Some(guard),
        path: Some(path.to_path_buf()),
        ring: installed.then_some(ring),
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
        ring: None,
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
        ring: None,
    }
}

/// How often a throttled warning may be logged: once per 5 s per condition.
pub const WARN_INTERVAL: Duration = Duration::from_secs(5);

/// One log line per interval for a condition that can repeat at network speed.
///
/// [`LogThrottle::hit`] records one occurrence and says whether to log it now; when it does,
/// it also says how many occurrences since the last logged one were not logged, so the line
/// can carry the count. Occurrences in between are the caller's to log at a lower level (or
/// not at all). Thread-safe; a `const fn` constructor, so it can live in a `static`.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    state: Mutex<ThrottleState>,
}

#[derive(Debug)]
struct ThrottleState {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogThrottle {
    /// A throttle that lets one line through per `interval`.
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(ThrottleState {
                last: None,
                suppressed: 0,
            }),
        }
    }

    /// Records one occurrence now. `Some(n)`: log it, `n` occurrences since the last logged
    /// one were not; `None`: do not log it at the throttled level.
    pub fn hit(&self) -> Option<u64> {
        self.hit_at(Instant::now())
    }

    /// [`LogThrottle::hit`] at a given time (for tests).
    pub fn hit_at(&self, now: Instant) -> Option<u64> {
        let mut s = crate::sync::lock(&self.state);
        let due = s
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if due {
            s.last = Some(now);
            Some(std::mem::take(&mut s.suppressed))
        } else {
            s.suppressed = s.suppressed.saturating_add(1);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_one_line_per_interval_through_with_the_count() {
        let t = LogThrottle::new(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(t.hit_at(t0), Some(0));
        for i in 1..=1000u64 {
            assert_eq!(t.hit_at(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(t.hit_at(t0 + Duration::from_millis(4999)), None);
        assert_eq!(t.hit_at(t0 + Duration::from_secs(5)), Some(1001));
        assert_eq!(t.hit_at(t0 + Duration::from_secs(6)), None);
        assert_eq!(t.hit_at(t0 + Duration::from_secs(11)), Some(1));
    }

    /// What a subscriber with `filter_from(spec)` writes for one line of each kind.
    fn logged_with(spec: &str) -> String {
        use std::sync::Arc;
        use tracing_subscriber::layer::SubscriberExt as _;
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&out);
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || Sink(Arc::clone(&sink)));
        let subscriber = tracing_subscriber::registry()
            .with(filter_from(spec))
            .with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "async_nats", "event: slow consumers for subscription 1");
            tracing::warn!(target: "async_nats", "nats warning");
            tracing::info!("our own info line");
        });
        let bytes = crate::sync::lock(&out).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    struct Sink(std::sync::Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            crate::sync::lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn async_nats_is_held_to_warnings_unless_the_filter_names_it() {
        let quiet = logged_with("info");
        assert!(!quiet.contains("slow consumers"), "{quiet}");
        assert!(quiet.contains("nats warning"), "{quiet}");
        assert!(quiet.contains("our own info line"), "{quiet}");
        let named = logged_with("info,async_nats=info");
        assert!(named.contains("slow consumers"), "{named}");
    }
}
