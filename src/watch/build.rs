//! The build runner: runs a build command (`sh -c CMD`) when a file under the source directories
//! changes, cancels and restarts it when sources change mid-build, and reports its output.
//!
//! Owns the source-tree watches, the build's debounce and the build child processes (each in its
//! own process group, so cancelling kills `cargo`'s children too). Must not touch the artifact
//! watcher or the host: a build only produces the artifact, and the reload is triggered by the
//! artifact changing (so a failed build leaves the running version alone by construction).
//!
//! Overflow policy:
//! - notify's thread drops ignored paths, then `try_send`s into a queue of
//!   [`RAW_QUEUE_CAPACITY`](super::RAW_QUEUE_CAPACITY); when it is full the event is dropped and
//!   an overflow flag is raised, which counts as "something changed" (a build is triggered with
//!   an empty trigger list). Nothing else is needed: a build rebuilds everything that changed.
//! - Events out go through a channel of [`BUILD_EVENT_CAPACITY`]. `Started`, `Output`,
//!   `Finished` and `Cancelled` wait for room (back-pressure reaches the build's pipes; nothing is
//!   lost); `Error`s are dropped (and logged) when it is full.
//! - Per run at most [`MAX_LINES_PER_RUN`] output lines of at most
//!   [`MAX_LINE_BYTES`](super::MAX_LINE_BYTES) bytes are sent; the rest is read and
//!   counted, and a final `… N more lines` line says how many were left out.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{EventKind, RecommendedWatcher};
use tokio::io::BufReader;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::filter::build_ignores;
use super::output::{MAX_LINE_BYTES, next_line};
use super::tree::{self, Watched};
use super::{
    DEFAULT_DEBOUNCE, Overflow, RAW_QUEUE_CAPACITY, Raw, RawSink, WatchError, sleep_until,
};
use crate::sync::lock;

/// Capacity of the [`BuildEvent`] channel. Output lines dominate; 256 lets a build run ahead of a
/// console that drains once per frame (~33 ms) without stalling on its pipe.
pub const BUILD_EVENT_CAPACITY: usize = 256;

/// Most output lines sent per run. A failed `cargo build` of a large crate prints a few hundred
/// lines; a build that prints more is looping or tracing, and the first lines say why.
pub const MAX_LINES_PER_RUN: usize = 2000;

/// Most changed paths listed in [`BuildEvent::Started`]; a `git checkout` can change thousands.
pub const MAX_TRIGGER_PATHS: usize = 32;

/// Lines buffered between the two pipe readers and the run task.
const LINE_QUEUE: usize = 64;

/// After the build command exits, how long to keep reading output that a background child it
/// left behind holds open, before reporting `Finished` anyway.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// How long to wait for a killed build to be reaped. SIGKILL cannot be caught, so this only
/// guards against a process stuck in the kernel (e.g. on a dead network file system).
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`Builder`] runs, and on which changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildConfig {
    /// Run with `sh -c`, stdin from `/dev/null`, in its own process group.
    pub command: String,
    /// Directories watched recursively (relative ones against the process's working directory),
    /// minus `target/`, `.git/` and [`ignore`](Self::ignore).
    pub sources: Vec<PathBuf>,
    /// Extra paths to ignore (files or directories, relative ones against the process's working
    /// directory): put the artifact here when it is written inside a source directory.
    pub ignore: Vec<PathBuf>,
    /// Quiet period after the last source change before a build starts.
    pub debounce: Duration,
    /// The build's working directory (default: the process's).
    pub cwd: Option<PathBuf>,
}

impl BuildConfig {
    /// A config running `command`, with no sources (only [`Builder::trigger`] runs it), no extra
    /// ignores, [`DEFAULT_DEBOUNCE`] and the process's working directory.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            sources: Vec::new(),
            ignore: Vec::new(),
            debounce: DEFAULT_DEBOUNCE,
            cwd: None,
        }
    }
}

/// What a [`Builder`] reports. For one run: `Started`, any `Output`, then exactly one of
/// `Finished` or `Cancelled`; the next run's `Started` comes after that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// A build started.
    Started {
        /// Run number, from 1.
        run: u64,
        /// The changed paths that caused it, sorted, at most [`MAX_TRIGGER_PATHS`]; empty when
        /// [`Builder::trigger`] asked or when file events overflowed.
        trigger: Vec<PathBuf>,
    },
    /// One line of the build's output, sanitised (no escape sequences or control characters)
    /// and possibly cut short.
    Output {
        /// Run number.
        run: u64,
        /// The line, without its newline.
        line: String,
        /// From stderr (else stdout). The final `… N more lines` marker is on stdout.
        stderr: bool,
    },
    /// The build command exited (or could not be started: `code: None`).
    Finished {
        /// Run number.
        run: u64,
        /// Exit status 0.
        success: bool,
        /// The exit code; `None` when killed by a signal or not started.
        code: Option<i32>,
        /// From start to exit.
        took: Duration,
    },
    /// The build was killed: superseded by a newer change or [`Builder::trigger`], or the
    /// builder was dropped.
    Cancelled {
        /// Run number.
        run: u64,
    },
    /// The builder itself hit an error (a directory it cannot watch, notify errors); it keeps
    /// going.
    Error {
        /// What happened, for a person.
        message: String,
    },
}

/// Runs the build command on source changes. Dropping it stops watching and kills a running
/// build (its whole process group).
pub struct Builder {
    trigger: Arc<Notify>,
    /// Cancels every run (parent of each run's token).
    shutdown: CancellationToken,
    running: Arc<Mutex<Option<u32>>>,
    task: tokio::task::JoinHandle<()>,
    _notify: Arc<Mutex<RecommendedWatcher>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("running_pgid", &*lock(&self.running))
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Watches `cfg.sources` and runs `cfg.command` after changes. No build runs until a source
    /// changes or [`trigger`](Self::trigger) is called.
    ///
    /// Must be called inside a tokio runtime. Walks the source trees (pruning ignored
    /// directories) before returning.
    ///
    /// # Errors
    /// [`WatchError::NoRuntime`], [`WatchError::EmptyCommand`], [`WatchError::BuildDir`] (a source
    /// or the working directory is missing or not a directory), [`WatchError::Init`].
    pub fn start(cfg: BuildConfig) -> Result<(Builder, mpsc::Receiver<BuildEvent>), WatchError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WatchError::NoRuntime)?;
        if cfg.command.trim().is_empty() {
            return Err(WatchError::EmptyCommand);
        }
        let cwd = cfg.cwd.as_deref().map(canonical_dir).transpose()?;
        let roots = cfg
            .sources
            .iter()
            .map(|s| canonical_dir(s))
            .collect::<Result<Vec<_>, _>>()?;
        let ignore: Vec<PathBuf> = cfg
            .ignore
            .iter()
            .map(|p| {
                p.canonicalize()
                    .or_else(|_| std::path::absolute(p))
                    .unwrap_or_else(|_| p.clone())
            })
            .collect();

        let (raw_tx, raw_rx) = mpsc::channel(RAW_QUEUE_CAPACITY);
        let overflow = Arc::new(Overflow::default());
        let sink = RawSink {
            tx: raw_tx,
            overflow: Arc::clone(&overflow),
        };
        let (cb_roots, cb_ignore) = (roots.clone(), ignore.clone());
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let res = res.map(|mut ev| {
                ev.paths
                    .retain(|p| !build_ignores(p, &cb_roots, &cb_ignore));
                ev
            });
            if res
                .as_ref()
                .is_ok_and(|ev| ev.paths.is_empty() && !ev.need_rescan())
            {
                return;
            }
            sink.deliver(res);
        })
        .map_err(WatchError::Init)?;
        let notify = Arc::new(Mutex::new(watcher));

        let (tx, rx) = mpsc::channel(BUILD_EVENT_CAPACITY);
        let mut watched = Watched::default();
        for root in &roots {
            let walk = tree::watch_tree(&notify, root, &roots, &ignore, &mut watched);
            for message in walk.errors {
                let _ = tx.try_send(BuildEvent::Error { message });
            }
        }
        tracing::debug!(dirs = watched.len(), "build sources watched");

        let trigger = Arc::new(Notify::new());
        let running = Arc::new(Mutex::new(None));
        let shutdown = CancellationToken::new();
        let task = Task {
            command: cfg.command,
            cwd,
            debounce: cfg.debounce,
            roots,
            ignore,
            notify: Arc::clone(&notify),
            watched: Arc::new(Mutex::new(watched)),
            raw_rx,
            overflow,
            tx,
            trigger: Arc::clone(&trigger),
            running: Arc::clone(&running),
            shutdown: shutdown.clone(),
            next_run: 0,
            current: None,
            runs: JoinSet::new(),
            pending: BTreeSet::new(),
            deadline: None,
            new_dirs: BTreeSet::new(),
            walks: JoinSet::new(),
        };
        let task = runtime.spawn(task.run());
        Ok((
            Builder {
                trigger,
                shutdown,
                running,
                task,
                _notify: notify,
            },
            rx,
        ))
    }

    /// Runs a build now: cancels a running one and starts a new one without waiting for the
    /// debounce. Calls made before the builder gets to it are merged into one build.
    pub fn trigger(&self) {
        self.trigger.notify_one();
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        // Cancel first, so a run that sees its build die reports `Cancelled`, never `Finished`;
        // kill synchronously: the runtime may be shutting down and never run the task again.
        self.shutdown.cancel();
        kill_running(&self.running);
        self.task.abort();
    }
}

fn canonical_dir(p: &std::path::Path) -> Result<PathBuf, WatchError> {
    let err = |source| WatchError::BuildDir {
        path: p.to_path_buf(),
        source,
    };
    let dir = p.canonicalize().map_err(err)?;
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        )))
    }
}

/// Sends SIGKILL to the running build's process group, if one is running.
fn kill_running(running: &Mutex<Option<u32>>) {
    if let Some(pgid) = lock(running).take() {
        kill_group(pgid);
    }
}

/// Sends SIGKILL to process group `pgid` (the build was spawned with `process_group(0)`, so its
/// group id is its pid and holds `cargo` and every child it started, unless one made its own
/// group or session).
fn kill_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // Never signal "every process" (-1) or our own group (0).
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) takes plain integers and has no memory-safety preconditions; a negative
    // pid addresses the process group `pgid`, which we created. An error (ESRCH: the group is
    // already gone) needs no handling.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// The builder's task: follows source changes, debounces, starts and cancels runs.
struct Task {
    command: String,
    cwd: Option<PathBuf>,
    debounce: Duration,
    roots: Vec<PathBuf>,
    ignore: Vec<PathBuf>,
    notify: Arc<Mutex<RecommendedWatcher>>,
    watched: Arc<Mutex<Watched>>,
    raw_rx: mpsc::Receiver<Raw>,
    overflow: Arc<Overflow>,
    tx: mpsc::Sender<BuildEvent>,
    trigger: Arc<Notify>,
    /// The process group of the running build, for `Builder`'s drop.
    running: Arc<Mutex<Option<u32>>>,
    /// Cancelled when the `Builder` is dropped; each run's token is a child of it.
    shutdown: CancellationToken,
    next_run: u64,
    /// The run in progress (not yet `Finished`/`Cancelled`) and its cancel switch.
    current: Option<(u64, CancellationToken)>,
    /// Run tasks: the current one, and a cancelled one still being reaped.
    runs: JoinSet<u64>,
    /// Changed paths since the last start.
    pending: BTreeSet<PathBuf>,
    /// When the next build starts.
    deadline: Option<Instant>,
    /// Created or moved-in paths that may be directories to watch.
    new_dirs: BTreeSet<PathBuf>,
    walks: JoinSet<Vec<String>>,
}

impl Task {
    async fn run(mut self) {
        loop {
            if !self.new_dirs.is_empty() && self.walks.is_empty() {
                self.spawn_walk();
            }
            tokio::select! {
                biased;
                () = self.tx.closed() => break,
                () = self.trigger.notified() => {
                    self.cancel_current();
                    self.deadline = Some(Instant::now());
                }
                raw = self.raw_rx.recv() => match raw {
                    Some(raw) => self.on_raw(raw),
                    None => break,
                },
                () = self.overflow.wake.notified() => {
                    if self.overflow.take() {
                        tracing::debug!("build watch queue overflowed; rebuilding");
                        self.changed(Vec::new(), Instant::now());
                    }
                }
                Some(done) = self.runs.join_next(), if !self.runs.is_empty() => match done {
                    Ok(run) => {
                        if self.current.as_ref().is_some_and(|(r, _)| *r == run) {
                            self.current = None;
                        }
                    }
                    Err(e) => {
                        self.current = None;
                        self.error(format!("the build task failed: {e}"));
                    }
                },
                Some(done) = self.walks.join_next(), if !self.walks.is_empty() => match done {
                    Ok(errors) => errors.into_iter().for_each(|m| self.error(m)),
                    Err(e) => self.error(format!("watching new source directories failed: {e}")),
                },
                // A cancelled run is reaped (and reported) before the next one starts.
                () = sleep_until(self.deadline), if self.deadline.is_some() && self.runs.is_empty() => {
                    self.start_run();
                }
            }
        }
        // The receiver is gone: nobody wants builds any more.
        self.cancel_current();
        kill_running(&self.running);
    }

    fn on_raw(&mut self, raw: Raw) {
        match raw {
            Raw::Event {
                at,
                kind,
                paths,
                rescan,
            } => {
                match kind {
                    EventKind::Create(CreateKind::Folder | CreateKind::Any | CreateKind::Other)
                    | EventKind::Modify(ModifyKind::Name(
                        RenameMode::To | RenameMode::Both | RenameMode::Any,
                    )) => self.new_dirs.extend(paths.iter().cloned()),
                    EventKind::Remove(RemoveKind::Folder)
                    | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                        let mut watched = lock(&self.watched);
                        for p in &paths {
                            tree::forget(&mut watched, p);
                        }
                    }
                    _ => {}
                }
                if rescan || !paths.is_empty() {
                    self.changed(paths, at);
                }
            }
            Raw::Error { message, paths } => {
                let message = match paths.first() {
                    Some(p) => format!("watching {}: {message}", p.display()),
                    None => format!("watching sources: {message}"),
                };
                self.error(message);
            }
        }
    }

    /// Sources changed: kill a running build and (re)arm the debounce.
    fn changed(&mut self, paths: Vec<PathBuf>, at: Instant) {
        for p in paths {
            if self.pending.len() >= MAX_TRIGGER_PATHS {
                break;
            }
            self.pending.insert(p);
        }
        self.cancel_current();
        let due = at + self.debounce;
        self.deadline = Some(self.deadline.map_or(due, |d| d.max(due)));
    }

    fn cancel_current(&mut self) {
        if let Some((_, token)) = &self.current {
            token.cancel();
        }
    }

    fn error(&self, message: String) {
        tracing::warn!("build watcher: {message}");
        if self.tx.try_send(BuildEvent::Error { message }).is_err() {
            tracing::debug!("build event channel full; error dropped");
        }
    }

    fn spawn_walk(&mut self) {
        let dirs = std::mem::take(&mut self.new_dirs);
        let notify = Arc::clone(&self.notify);
        let watched = Arc::clone(&self.watched);
        let (roots, ignore) = (self.roots.clone(), self.ignore.clone());
        self.walks.spawn_blocking(move || {
            let mut errors = Vec::new();
            let mut watched = lock(&watched);
            for dir in dirs {
                let walk = tree::watch_tree(&notify, &dir, &roots, &ignore, &mut watched);
                errors.extend(walk.errors);
            }
            errors
        });
    }

    fn start_run(&mut self) {
        self.deadline = None;
        self.next_run += 1;
        let run = self.next_run;
        let trigger: Vec<PathBuf> = std::mem::take(&mut self.pending).into_iter().collect();
        let cancel = self.shutdown.child_token();
        self.current = Some((run, cancel.clone()));
        let job = Run {
            run,
            command: self.command.clone(),
            cwd: self.cwd.clone(),
            tx: self.tx.clone(),
            cancel,
            running: Arc::clone(&self.running),
        };
        self.runs.spawn(async move {
            job.execute(trigger).await;
            run
        });
    }
}

/// One build run.
struct Run {
    run: u64,
    command: String,
    cwd: Option<PathBuf>,
    tx: mpsc::Sender<BuildEvent>,
    cancel: CancellationToken,
    running: Arc<Mutex<Option<u32>>>,
}

/// How a wait inside a run ended.
enum Waited<T> {
    Done(T),
    Cancelled,
}

impl Run {
    async fn execute(self, trigger: Vec<PathBuf>) {
        let run = self.run;
        let started = Instant::now();
        if self
            .send(BuildEvent::Started { run, trigger })
            .await
            .is_none()
        {
            return;
        }
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                let message = format!("cannot start the build `{}`: {e}", self.command);
                tracing::warn!("{message}");
                let _ = self.tx.send(BuildEvent::Error { message }).await;
                let _ = self
                    .tx
                    .send(BuildEvent::Finished {
                        run,
                        success: false,
                        code: None,
                        took: started.elapsed(),
                    })
                    .await;
                return;
            }
        };
        let pid = child.id();
        *lock(&self.running) = pid;

        let (line_tx, mut line_rx) = mpsc::channel(LINE_QUEUE);
        let mut readers = JoinSet::new();
        if let Some(out) = child.stdout.take() {
            readers.spawn(read_lines(BufReader::new(out), false, line_tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.spawn(read_lines(BufReader::new(err), true, line_tx.clone()));
        }
        drop(line_tx);

        let mut status: Option<std::io::Result<ExitStatus>> = None;
        let mut drain_until: Option<Instant> = None;
        let mut readers_done = false;
        let mut shown = 0usize;
        let mut hidden = 0u64;
        let cancelled = loop {
            if readers_done && status.is_some() {
                break false;
            }
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break true,
                exit = child.wait(), if status.is_none() => {
                    lock(&self.running).take();
                    status = Some(exit);
                    drain_until = Some(Instant::now() + OUTPUT_DRAIN);
                }
                line = line_rx.recv(), if !readers_done => match line {
                    Some((line, stderr)) if shown < MAX_LINES_PER_RUN => {
                        shown += 1;
                        match self.send_or_cancel(BuildEvent::Output { run, line, stderr }).await {
                            Waited::Done(true) => {}
                            Waited::Done(false) => {
                                // Nobody listens any more.
                                self.kill(pid);
                                return;
                            }
                            Waited::Cancelled => break true,
                        }
                    }
                    Some(_) => hidden += 1,
                    None => readers_done = true,
                },
                () = sleep_until(drain_until), if status.is_some() && !readers_done => {
                    tracing::debug!(run, "build exited but its output is still open; not waiting");
                    break false;
                }
            }
        };
        drop(readers);

        // A build that died because we killed it (cancel, then kill) is cancelled, not finished,
        // even when this task saw it exit before it saw the cancel.
        if cancelled || self.cancel.is_cancelled() {
            self.kill(pid);
            let _ = tokio::time::timeout(REAP_TIMEOUT, child.wait()).await;
            let _ = self.tx.send(BuildEvent::Cancelled { run }).await;
            return;
        }
        if hidden > 0 {
            let line = format!("… {hidden} more lines");
            if self
                .send(BuildEvent::Output {
                    run,
                    line,
                    stderr: false,
                })
                .await
                .is_none()
            {
                return;
            }
        }
        let took = started.elapsed();
        let finished = match status {
            Some(Ok(status)) => BuildEvent::Finished {
                run,
                success: status.success(),
                code: status.code(),
                took,
            },
            Some(Err(e)) => {
                let message = format!("cannot wait for the build: {e}");
                let _ = self.tx.send(BuildEvent::Error { message }).await;
                BuildEvent::Finished {
                    run,
                    success: false,
                    code: None,
                    took,
                }
            }
            None => return,
        };
        let _ = self.send(finished).await;
    }

    /// Kills the build's process group (also after the command itself exited: background
    /// children it left in the group go too).
    fn kill(&self, pid: Option<u32>) {
        lock(&self.running).take();
        if let Some(pid) = pid {
            kill_group(pid);
        }
    }

    /// Sends, waiting for room; `None` when the receiver is gone.
    async fn send(&self, event: BuildEvent) -> Option<()> {
        self.tx.send(event).await.ok()
    }

    /// Sends, waiting for room unless the run is cancelled meanwhile; `Done(false)` when the
    /// receiver is gone.
    async fn send_or_cancel(&self, event: BuildEvent) -> Waited<bool> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Waited::Cancelled,
            sent = self.tx.send(event) => Waited::Done(sent.is_ok()),
        }
    }
}

/// Forwards the lines of one pipe until it closes.
async fn read_lines<R: tokio::io::AsyncRead + Unpin>(
    mut reader: BufReader<R>,
    stderr: bool,
    tx: mpsc::Sender<(String, bool)>,
) {
    loop {
        match next_line(&mut reader, MAX_LINE_BYTES).await {
            Ok(Some(line)) => {
                if tx.send((line, stderr)).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx
                    .send((format!("(cannot read the build's output: {e})"), stderr))
                    .await;
                return;
            }
        }
    }
}
