//! File watching for the dev loop: [`FileWatcher`] tells when a `.wasm` artifact on disk has
//! settled into a new loadable version (hot reload), and [`Builder`] runs a build command when
//! sources change.
//!
//! Owns: notify watchers, their threads' callbacks, the per-file trailing debounce, the
//! stability check and the reads of the artifact, and the build child processes. Must not touch
//! wasmtime, `host`, `ui`, `state` or `app`: it hands bytes over and the host compiles them; a
//! build only *produces* the artifact, and the reload is triggered by the artifact changing.
//!
//! # How an artifact change becomes one [`WatchEvent`]
//! - The artifact's canonical **directory** is watched (non-recursively), never the file: cargo
//!   and editors replace files by writing a temp file and renaming it over the target, which a
//!   watch on the file itself would lose. Events are filtered by exact file name, so a sibling
//!   file, an editor's `.x.swp`, `x~` or `4913` never trigger anything.
//! - notify's thread drops events about other files (a brief lock of the watch list, which is
//!   never held across anything slow) and `try_send`s the rest into a bounded queue
//!   ([`RAW_QUEUE_CAPACITY`]); it never blocks. **Overflow policy:** when the queue is full the event is dropped and an overflow
//!   flag is raised (with a wake-up); the watcher task then re-checks *every* watched file. That is
//!   harmless because the debounce never trusts event contents: it re-reads what is on disk.
//! - A tokio task keeps one trailing-edge debounce per file: each event pushes the file's deadline
//!   to `event time + debounce`. The file is then checked: `stat` `stable_interval` before the
//!   deadline (at most half the debounce), `stat` again when the deadline passes, read, `stat` a
//!   third time; any difference, or any event meanwhile, means someone is still writing, and the
//!   file gets another quiet period. Taking the first `stat` inside the quiet period means the
//!   stability check costs no latency beyond the debounce. The bytes must then start with
//!   `\0asm` and their section framing must end exactly at the end of the file. Reads run on
//!   `spawn_blocking`.
//! - Events out go through a bounded channel ([`EVENT_CHANNEL_CAPACITY`]). **Overflow policy:**
//!   the task waits for room (a reload is never lost) while still following the file system;
//!   meanwhile at most one event per file is kept, the newest (a `Ready` replaces an unsent
//!   `Missing`, and so on), and at most [`ERROR_BACKLOG`] unsent errors (later ones are logged
//!   and dropped).
//!
//! # Burst semantics
//! - Atomic replace (write a temp file, rename it over the target), truncate-and-write in
//!   chunks, delete-then-create: one `Ready` once the file has been quiet for `debounce`.
//! - Delete then create with a gap longer than `debounce`: `Missing`, then `Ready`. With a
//!   shorter gap: only `Ready`.
//! - `Missing` is sent when the file is absent once its burst settles, and only on the change
//!   from present (or unknown) to absent; a file that does not exist when it is first watched
//!   sends no `Missing`. A `Ready` after a `Missing` means it came back.
//! - A file whose contents and `stat` signature equal the last `Ready` sends nothing (so a
//!   `chmod` does not reload); `touch` changes the mtime and does reload.
//! - No event is sent for the file as it is when [`FileWatcher::watch`] is called: watch first,
//!   then load the initial version, so a change during that load is not missed.
//!
//! # Half-written files: what is caught and what is not
//! A writer that pauses longer than `debounce + stable_interval` mid-file (e.g. writes chunks
//! every 150 ms) is read mid-write. Such a reading is held back rather than sent when it is
//! empty, shorter than the 8-byte header, or has a section that runs past the end of the file:
//! the watcher waits for more writes, and only if the file stays that way for
//! [`INCOMPLETE_GRACE`] after its last change does it become `Invalid`. Not caught: a pause that
//! falls exactly on a section boundary (the prefix is a well-framed binary; the host's compile
//! or type check then fails, and the next write reloads again), writes through another hard
//! link to the same file (no event in the watched directory), and a file changed without
//! changing its size, mtime or inode between two reads `stable_interval` apart. A watched file
//! that is a symlink is followed for reading, but only changes to the link itself are seen.
//!
//! # The watched directory going away
//! When the watched directory is removed or renamed (`cargo clean`, `rm -rf target`), an
//! `Error` is sent, its files become `Missing` after the debounce, and the directory is polled
//! every [`DIR_POLL_INTERVAL`] until it is back, when it is watched again and its files
//! re-checked. A rename of one of its ancestors is not noticed.

mod build;
mod debounce;
mod filter;
mod output;
mod settle;
mod tree;

pub use build::{
    BUILD_EVENT_CAPACITY, BuildConfig, BuildEvent, Builder, MAX_LINES_PER_RUN, MAX_TRIGGER_PATHS,
};
pub use filter::{IGNORED_DIR_NAMES, is_editor_temp};
pub use output::MAX_LINE_BYTES;
pub use settle::{Framing, WASM_MAGIC, check_framing};
pub use tree::MAX_WATCHED_DIRS;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::{Notify, mpsc};

/// Default quiet period after the last event of a burst: spin's `--debounce` default. Shorter
/// splits a cargo or editor save into several reloads; much longer makes the loop feel broken
/// (spin PR #2478 discussion).
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);

/// Default gap between the two `stat`s of the stability check. The kernel stamps mtimes from a
/// coarse clock (1–10 ms ticks), so the gap spans at least a couple of ticks; a writer still
/// appending changes the size in that time. Short, because it adds to every reload's latency
/// and the debounce already waited for quiet.
pub const DEFAULT_STABLE_INTERVAL: Duration = Duration::from_millis(20);

/// Default size limit of an artifact: real components are a few hundred KiB to tens of MiB
/// (a debug build with a language runtime); a file over 100 MiB is a mistake (the wrong path,
/// a core dump), and reading it would hold that much memory per watched file.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;

/// Capacity of the queue from notify's thread to the watcher task. A save burst is about 5–15
/// raw events (create, modify ×n, close-write, rename from/to); 64 holds several bursts while the
/// task is busy. Overflow is harmless: see the module docs.
pub const RAW_QUEUE_CAPACITY: usize = 64;

/// Capacity of the [`WatchEvent`] channel. Events are rare (one per settled burst), so a small
/// buffer is plenty; when it is full the task waits and coalesces (module docs).
pub const EVENT_CHANNEL_CAPACITY: usize = 16;

/// Unsent `Error` events kept while the event channel is full; later errors are logged and
/// dropped (file events are never dropped, only coalesced).
pub const ERROR_BACKLOG: usize = 16;

/// How long a reading that looks cut short (empty, short header, a section running past the end)
/// is held back, counted from the file's last change, before it is reported as `Invalid`. Bridges
/// the pauses of a slow writer (a build flushing in chunks, a copy from a network file system)
/// while a writer that died still shows an error within about a second.
pub const INCOMPLETE_GRACE: Duration = Duration::from_secs(1);

/// How often a watched directory that was removed is looked for again. Cheap (one `stat`), and
/// a rebuild that recreates it takes far longer than this.
pub const DIR_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Settings of a [`FileWatcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// Quiet period after the last event of a burst before the file is checked
    /// ([`DEFAULT_DEBOUNCE`]).
    pub debounce: Duration,
    /// Gap between the two `stat`s of the stability check ([`DEFAULT_STABLE_INTERVAL`]).
    pub stable_interval: Duration,
    /// Larger files are `Invalid` without being read ([`DEFAULT_MAX_FILE_SIZE`]).
    pub max_file_size: u64,
    /// Also send [`WatchEvent::Candidate`] hints (off by default).
    pub candidates: bool,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            debounce: DEFAULT_DEBOUNCE,
            stable_interval: DEFAULT_STABLE_INTERVAL,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            candidates: false,
        }
    }
}

/// When a burst was first seen and when the file was known good, for the "reloaded … in N ms"
/// line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchTiming {
    /// The first file-system event of the burst (or when the watcher decided to re-check, after
    /// an overflow or when a removed directory came back).
    pub detected: Instant,
    /// Stability confirmed and bytes read.
    pub stable: Instant,
}

/// What a [`FileWatcher`] reports. `path` is the path as given to [`FileWatcher::watch`].
#[derive(Clone)]
pub enum WatchEvent {
    /// The file settled: two reads `stable_interval` apart agree on size+mtime, and it starts
    /// with `\0asm` (and its section framing is complete).
    Ready {
        /// The watched file.
        path: PathBuf,
        /// Its contents.
        bytes: Arc<[u8]>,
        /// When the burst started and when the bytes were read.
        timing: WatchTiming,
    },
    /// Only with [`WatchConfig::candidates`]: the settle check's first look found a complete
    /// WebAssembly binary, `stable_interval` before its second look can confirm it. A hint to
    /// start expensive work (compiling) early: a `Ready` with the same bytes confirms it; when
    /// none follows (the file changed again), drop the work. Never act on a candidate alone.
    /// Best effort: dropped when the event channel is full.
    Candidate {
        /// The watched file.
        path: PathBuf,
        /// Its contents at the first look.
        bytes: Arc<[u8]>,
    },
    /// The file settled but is not loadable (empty, no wasm magic, truncated, too big,
    /// unreadable): the host will report it.
    Invalid {
        /// The watched file.
        path: PathBuf,
        /// Why, for a person.
        reason: String,
        /// When the burst started and when the file was judged.
        timing: WatchTiming,
    },
    /// The file disappeared (the running version stays); a later `Ready` means it came back.
    Missing {
        /// The watched file.
        path: PathBuf,
    },
    /// The watcher itself hit an error (notify error, directory gone…); watching continues
    /// where possible.
    Error {
        /// The file or directory concerned, when known.
        path: Option<PathBuf>,
        /// What happened, for a person.
        message: String,
    },
}

impl WatchEvent {
    /// The file or directory the event is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Ready { path, .. }
            | Self::Candidate { path, .. }
            | Self::Invalid { path, .. }
            | Self::Missing { path } => Some(path),
            Self::Error { path, .. } => path.as_deref(),
        }
    }
}

// By hand: `bytes` can be megabytes; print its length instead.
impl fmt::Debug for WatchEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready {
                path,
                bytes,
                timing,
            } => f
                .debug_struct("Ready")
                .field("path", path)
                .field("bytes", &format_args!("<{} bytes>", bytes.len()))
                .field("timing", timing)
                .finish(),
            Self::Candidate { path, bytes } => f
                .debug_struct("Candidate")
                .field("path", path)
                .field("bytes", &format_args!("<{} bytes>", bytes.len()))
                .finish(),
            Self::Invalid {
                path,
                reason,
                timing,
            } => f
                .debug_struct("Invalid")
                .field("path", path)
                .field("reason", reason)
                .field("timing", timing)
                .finish(),
            Self::Missing { path } => f.debug_struct("Missing").field("path", path).finish(),
            Self::Error { path, message } => f
                .debug_struct("Error")
                .field("path", path)
                .field("message", message)
                .finish(),
        }
    }
}

/// Why a watcher or builder could not be set up or given a path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// Called outside a tokio runtime.
    #[error("the file watcher must be started inside a tokio runtime")]
    NoRuntime,
    /// The platform watcher (inotify) could not be created.
    #[error("cannot start the file-system watcher: {0}")]
    Init(#[source] notify::Error),
    /// The path has no file name (`/`, `..`).
    #[error("cannot watch `{}`: it does not name a file", path.display())]
    NoFileName {
        /// The path given.
        path: PathBuf,
    },
    /// The file's directory does not exist or cannot be resolved.
    #[error("cannot watch `{}`: its directory `{}` is not usable: {source}", path.display(), dir.display())]
    Dir {
        /// The path given.
        path: PathBuf,
        /// Its parent directory as given.
        dir: PathBuf,
        /// What resolving it said.
        #[source]
        source: std::io::Error,
    },
    /// The path names a directory.
    #[error("cannot watch `{}`: it is a directory, not a file", path.display())]
    IsDir {
        /// The path given.
        path: PathBuf,
    },
    /// notify refused to watch a directory (permissions, the inotify watch limit).
    #[error("cannot watch `{}`: {source}", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// notify's error.
        #[source]
        source: notify::Error,
    },
    /// [`BuildConfig::command`] is empty.
    #[error("the build command is empty")]
    EmptyCommand,
    /// A build source directory or the build's working directory is not a usable directory.
    #[error("build directory `{}` is not usable: {source}", path.display())]
    BuildDir {
        /// The directory as given.
        path: PathBuf,
        /// What resolving it said.
        #[source]
        source: std::io::Error,
    },
}

/// Watches `.wasm` artifacts and reports each settled new version once.
///
/// Dropping it stops watching: the notify watcher and the debounce task go, and the event
/// receiver then ends (returns `None`).
pub struct FileWatcher {
    notify: Arc<Mutex<RecommendedWatcher>>,
    registry: Arc<Mutex<Registry>>,
    task: tokio::task::JoinHandle<()>,
    next_id: u64,
}

impl fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileWatcher")
            .field("watched", &self.watched())
            .finish_non_exhaustive()
    }
}

impl FileWatcher {
    /// Starts a watcher with nothing watched yet; add files with [`watch`](Self::watch).
    ///
    /// Must be called inside a tokio runtime: it spawns the debounce task there.
    ///
    /// # Errors
    /// [`WatchError::NoRuntime`] outside a runtime; [`WatchError::Init`] when the platform
    /// watcher cannot be created (e.g. the inotify instance limit).
    pub fn new(cfg: WatchConfig) -> Result<(FileWatcher, mpsc::Receiver<WatchEvent>), WatchError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WatchError::NoRuntime)?;
        let (raw_tx, raw_rx) = mpsc::channel(RAW_QUEUE_CAPACITY);
        let overflow = Arc::new(Overflow::default());
        let sink = RawSink {
            tx: raw_tx,
            overflow: Arc::clone(&overflow),
        };
        let registry = Arc::new(Mutex::new(Registry::default()));
        // Only events about a watched file or directory are queued, so a busy directory (a
        // build writing its other outputs) cannot fill the queue.
        let relevant = Arc::clone(&registry);
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = &res
                && !ev.need_rescan()
                && filter::is_change(&ev.kind)
            {
                let reg = lock(&relevant);
                let ours = ev
                    .paths
                    .iter()
                    .any(|p| reg.files.contains_key(p) || reg.dirs.contains_key(p));
                if !ours {
                    return;
                }
            }
            sink.deliver(res);
        })
        .map_err(WatchError::Init)?;
        let notify = Arc::new(Mutex::new(watcher));
        let (tx, rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let task = debounce::Task::new(
            cfg,
            Arc::clone(&registry),
            Arc::clone(&notify),
            raw_rx,
            overflow,
            tx,
        );
        let task = runtime.spawn(task.run());
        Ok((
            FileWatcher {
                notify,
                registry,
                task,
                next_id: 0,
            },
            rx,
        ))
    }

    /// Starts watching `file`: its canonical parent directory is watched (once per directory,
    /// non-recursively) and events are filtered by the file's name. The file need not exist
    /// yet; its directory must. Watching a file that is already watched (under any spelling)
    /// does nothing.
    ///
    /// No event is sent for the file as it is now. This call `stat`s and asks notify's thread
    /// to add the watch, which is quick but synchronous.
    ///
    /// # Errors
    /// [`WatchError::NoFileName`], [`WatchError::Dir`] (the directory is missing or not a
    /// directory), [`WatchError::IsDir`], [`WatchError::Watch`] (notify refused).
    pub fn watch(&mut self, file: &Path) -> Result<(), WatchError> {
        let (dir, key) = canonical_key(file)?;
        let exists = match std::fs::metadata(&key) {
            Ok(meta) if meta.is_dir() => {
                return Err(WatchError::IsDir {
                    path: file.to_path_buf(),
                });
            }
            Ok(_) => true,
            Err(_) => false,
        };
        let need_dir = {
            let reg = lock(&self.registry);
            if reg.files.contains_key(&key) {
                return Ok(());
            }
            !reg.dirs.contains_key(&dir)
        };
        if need_dir {
            lock(&self.notify)
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError::Watch {
                    path: dir.clone(),
                    source,
                })?;
        }
        self.next_id += 1;
        let mut reg = lock(&self.registry);
        reg.dirs.entry(dir.clone()).or_default().files += 1;
        reg.files.insert(
            key,
            Entry {
                id: self.next_id,
                given: file.to_path_buf(),
                dir,
                existed: exists,
            },
        );
        Ok(())
    }

    /// Stops watching `file` (as given to [`watch`](Self::watch), or another spelling of it);
    /// the directory watch goes with its last file. A burst in progress is dropped and no event
    /// for the file is sent after this returns. Unknown files are ignored.
    pub fn unwatch(&mut self, file: &Path) {
        let dir_to_drop = {
            let mut reg = lock(&self.registry);
            let key = canonical_key(file)
                .ok()
                .map(|(_, key)| key)
                .filter(|key| reg.files.contains_key(key))
                .or_else(|| {
                    reg.files
                        .iter()
                        .find(|(_, e)| e.given == file)
                        .map(|(key, _)| key.clone())
                });
            let Some(entry) = key.and_then(|key| reg.files.remove(&key)) else {
                return;
            };
            match reg.dirs.get_mut(&entry.dir) {
                Some(d) if d.files > 1 => {
                    d.files -= 1;
                    None
                }
                Some(_) => reg.dirs.remove(&entry.dir).map(|_| entry.dir),
                None => None,
            }
        };
        if let Some(dir) = dir_to_drop {
            // Fails when the directory is already gone (notify dropped the watch): nothing to do.
            let _ = lock(&self.notify).unwatch(&dir);
        }
    }

    /// The watched files, as given to [`watch`](Self::watch), sorted.
    pub fn watched(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = lock(&self.registry)
            .files
            .values()
            .map(|e| e.given.clone())
            .collect();
        files.sort();
        files
    }
}

impl Drop for FileWatcher {
    fn drop(&mut self) {
        // The task holds the other handle to the notify watcher and the event sender; aborting
        // it drops both, which stops notify's thread and ends the receiver.
        self.task.abort();
    }
}

/// The watched files and directories, shared by [`FileWatcher`] (writes) and the debounce task
/// (reads; marks directories lost and found).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Canonical directory joined with the file name → entry.
    pub(crate) files: HashMap<PathBuf, Entry>,
    /// Canonical directory → its state.
    pub(crate) dirs: HashMap<PathBuf, DirState>,
}

impl Registry {
    /// The keys of the watched files in the canonical directory `dir`.
    pub(crate) fn files_in(&self, dir: &Path) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|(_, e)| e.dir == dir)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Distinguishes a re-watch from the watch it replaced.
    pub(crate) id: u64,
    /// As given to `watch`: what events carry.
    pub(crate) given: PathBuf,
    /// Its canonical directory.
    pub(crate) dir: PathBuf,
    /// Whether it existed when watched (if not, no `Missing` until it has been seen).
    pub(crate) existed: bool,
}

#[derive(Debug, Default)]
pub(crate) struct DirState {
    /// Watched files in it.
    pub(crate) files: usize,
    /// Removed or renamed: not watched by notify until it is back.
    pub(crate) lost: bool,
}

/// Resolves `file` to (canonical directory, canonical directory joined with the file name).
fn canonical_key(file: &Path) -> Result<(PathBuf, PathBuf), WatchError> {
    let name = file.file_name().ok_or_else(|| WatchError::NoFileName {
        path: file.to_path_buf(),
    })?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir_err = |source| WatchError::Dir {
        path: file.to_path_buf(),
        dir: parent.to_path_buf(),
        source,
    };
    let dir = parent.canonicalize().map_err(dir_err)?;
    if !dir.is_dir() {
        return Err(dir_err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    let key = dir.join(name);
    Ok((dir, key))
}

/// Locks a mutex, taking the data even if a holder panicked (the data are plain bookkeeping).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sleeps until `deadline`; never returns without one (for an optional `select!` branch).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// A raw notify event, timestamped on notify's thread.
#[derive(Debug)]
pub(crate) enum Raw {
    /// Something happened to `paths`.
    Event {
        at: Instant,
        kind: notify::EventKind,
        paths: Vec<PathBuf>,
        /// The kernel queue overflowed: anything may have changed.
        rescan: bool,
    },
    /// notify reported an error.
    Error {
        message: String,
        paths: Vec<PathBuf>,
    },
}

/// Set when a raw event was dropped because the queue was full; `wake` makes sure the task
/// notices even if it drained the queue in between.
#[derive(Debug, Default)]
pub(crate) struct Overflow {
    flag: AtomicBool,
    pub(crate) wake: Notify,
}

impl Overflow {
    /// Whether events were dropped since the last call (and clears it).
    pub(crate) fn take(&self) -> bool {
        self.flag.swap(false, Ordering::AcqRel)
    }
}

/// The sending half used inside notify callbacks: never blocks.
pub(crate) struct RawSink {
    pub(crate) tx: mpsc::Sender<Raw>,
    pub(crate) overflow: Arc<Overflow>,
}

impl RawSink {
    /// Forwards one notify callback result (drops reads, which are not changes).
    pub(crate) fn deliver(&self, res: notify::Result<notify::Event>) {
        let raw = match res {
            Ok(ev) => {
                let rescan = ev.need_rescan();
                if !rescan && !filter::is_change(&ev.kind) {
                    return;
                }
                Raw::Event {
                    at: Instant::now(),
                    kind: ev.kind,
                    paths: ev.paths,
                    rescan,
                }
            }
            Err(e) => Raw::Error {
                message: e.to_string(),
                paths: e.paths,
            },
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(raw) {
            self.overflow.flag.store(true, Ordering::Release);
            self.overflow.wake.notify_one();
        }
    }
}
