//! The artifact watcher's task: per-file trailing-edge debounce, the settle check (on blocking
//! threads, via [`super::settle`]), coalescing of outgoing events, and re-watching directories
//! that were removed.
//!
//! Owns the per-file burst state and the outbox. Must not touch the registry beyond reading it
//! and flipping a directory's `lost` flag (`FileWatcher` owns additions and removals), and never
//! holds a lock across an `.await`. Overflow policy: inputs come from a bounded queue plus an
//! overflow flag (a dropped input makes every file be re-checked); outputs wait for room in a
//! bounded channel while at most one unsent event per file (the newest) and
//! [`ERROR_BACKLOG`] unsent errors are kept (see the module docs of [`super`]).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use notify::event::ModifyKind;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::settle::{self, Reading, Signature};
use super::{
    DIR_POLL_INTERVAL, ERROR_BACKLOG, INCOMPLETE_GRACE, Overflow, Raw, Registry, WatchConfig,
    WatchEvent, WatchTiming, sleep_until,
};
use crate::sync::lock;

/// What was last sent for a file, to send changes only.
#[derive(Debug)]
enum Last {
    /// Nothing yet, and the file existed when watched.
    Unknown,
    Missing,
    Invalid {
        sig: Option<Signature>,
        reason: String,
    },
    Ready {
        sig: Signature,
        bytes: Arc<[u8]>,
    },
}

/// The burst state of one watched file.
#[derive(Debug)]
struct Tracked {
    /// The registry entry this state belongs to.
    id: u64,
    /// First event of the current burst.
    burst_start: Option<Instant>,
    /// The latest event.
    last_event: Option<Instant>,
    /// When to check the file next.
    deadline: Option<Instant>,
    /// A check is running.
    checking: bool,
    /// Events arrived while the check ran: its result is stale.
    stale: bool,
    last: Last,
}

/// The result of one settle check.
struct Checked {
    key: PathBuf,
    id: u64,
    reading: Reading,
    at: Instant,
}

/// A queued outgoing event; `file` is the registry key and id for file events.
struct Out {
    file: Option<(PathBuf, u64)>,
    event: WatchEvent,
}

pub(super) struct Task {
    cfg: WatchConfig,
    registry: Arc<Mutex<Registry>>,
    notify: Arc<Mutex<RecommendedWatcher>>,
    raw_rx: mpsc::Receiver<Raw>,
    overflow: Arc<Overflow>,
    tx: mpsc::Sender<WatchEvent>,
    files: HashMap<PathBuf, Tracked>,
    outbox: VecDeque<Out>,
    checks: JoinSet<Checked>,
    /// Directory re-watch attempts: (dir, whether it is watched again).
    rewatches: JoinSet<(PathBuf, bool)>,
}

impl Task {
    pub(super) fn new(
        cfg: WatchConfig,
        registry: Arc<Mutex<Registry>>,
        notify: Arc<Mutex<RecommendedWatcher>>,
        raw_rx: mpsc::Receiver<Raw>,
        overflow: Arc<Overflow>,
        tx: mpsc::Sender<WatchEvent>,
    ) -> Self {
        Self {
            cfg,
            registry,
            notify,
            raw_rx,
            overflow,
            tx,
            files: HashMap::new(),
            outbox: VecDeque::new(),
            checks: JoinSet::new(),
            rewatches: JoinSet::new(),
        }
    }

    /// Runs until the event receiver is dropped (or the task is aborted by `FileWatcher`'s drop).
    pub(super) async fn run(mut self) {
        let mut dir_poll = tokio::time::interval(DIR_POLL_INTERVAL);
        dir_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A permit borrows the sender; a local one keeps that borrow off `self`.
        let tx = self.tx.clone();
        loop {
            let lead = self.check_lead();
            let next_check = self
                .files
                .values()
                .filter(|t| !t.checking)
                .filter_map(|t| t.deadline)
                .min()
                .map(|d| d.checked_sub(lead).unwrap_or(d));
            let any_lost = lock(&self.registry).dirs.values().any(|d| d.lost);
            tokio::select! {
                biased;
                () = tx.closed() => return,
                permit = tx.reserve(), if !self.outbox.is_empty() => {
                    let Ok(permit) = permit else { return };
                    if let Some(event) = self.next_out() {
                        permit.send(event);
                    }
                }
                raw = self.raw_rx.recv() => match raw {
                    Some(raw) => self.on_raw(raw),
                    // notify's callback is gone: nothing more can happen.
                    None => return,
                },
                () = self.overflow.wake.notified() => {
                    if self.overflow.take() {
                        tracing::debug!("watch queue overflowed; re-checking every watched file");
                        self.mark_all(Instant::now());
                    }
                }
                Some(done) = self.checks.join_next(), if !self.checks.is_empty() => match done {
                    Ok(checked) => self.on_checked(checked),
                    Err(e) => tracing::error!("artifact check task failed: {e}"),
                },
                Some(done) = self.rewatches.join_next(), if !self.rewatches.is_empty() => match done {
                    Ok((dir, true)) => self.on_dir_back(dir),
                    Ok((_, false)) => {}
                    Err(e) => tracing::error!("directory re-watch task failed: {e}"),
                },
                () = sleep_until(next_check), if next_check.is_some() => self.start_due_checks(),
                _ = dir_poll.tick(), if any_lost && self.rewatches.is_empty() => self.poll_lost_dirs(),
            }
        }
    }

    /// The next event to send, skipping events of files unwatched since they were queued.
    fn next_out(&mut self) -> Option<WatchEvent> {
        while let Some(out) = self.outbox.pop_front() {
            match &out.file {
                Some((key, id)) => {
                    let current = lock(&self.registry).files.get(key).map(|e| e.id);
                    if current == Some(*id) {
                        return Some(out.event);
                    }
                }
                None => return Some(out.event),
            }
        }
        None
    }

    fn on_raw(&mut self, raw: Raw) {
        match raw {
            Raw::Event {
                at,
                kind,
                paths,
                rescan,
            } => {
                if rescan {
                    tracing::debug!(
                        "the kernel dropped file events; re-checking every watched file"
                    );
                    self.mark_all(at);
                }
                for path in paths {
                    let (is_file, is_dir) = {
                        let reg = lock(&self.registry);
                        (reg.files.contains_key(&path), reg.dirs.contains_key(&path))
                    };
                    if is_file {
                        self.mark(&path, at);
                    } else if is_dir
                        && matches!(
                            kind,
                            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
                        )
                    {
                        self.dir_lost(path);
                    }
                }
            }
            Raw::Error { message, paths } => {
                tracing::warn!(?paths, "file watcher error: {message}");
                // A notify error may hide changes: look at the files concerned (all if unknown).
                let now = Instant::now();
                if paths.is_empty() {
                    self.mark_all(now);
                } else {
                    for p in &paths {
                        self.mark(p, now);
                    }
                }
                self.push_error(WatchEvent::Error {
                    path: paths.into_iter().next(),
                    message,
                });
            }
        }
    }

    /// The tracked state of `key`, created or reset to match the registry; `None` when it is not
    /// watched.
    fn tracked(&mut self, key: &PathBuf) -> Option<&mut Tracked> {
        let (id, existed) = {
            let reg = lock(&self.registry);
            let entry = reg.files.get(key)?;
            (entry.id, entry.existed)
        };
        let fresh = || Tracked {
            id,
            burst_start: None,
            last_event: None,
            deadline: None,
            checking: false,
            stale: false,
            last: if existed {
                Last::Unknown
            } else {
                Last::Missing
            },
        };
        let t = self.files.entry(key.clone()).or_insert_with(fresh);
        if t.id != id {
            *t = fresh();
        }
        Some(t)
    }

    /// Records an event for `key` at `at`: extends the trailing debounce.
    fn mark(&mut self, key: &PathBuf, at: Instant) {
        let debounce = self.cfg.debounce;
        let Some(t) = self.tracked(key) else {
            return;
        };
        t.burst_start.get_or_insert(at);
        t.last_event = Some(t.last_event.map_or(at, |prev| prev.max(at)));
        let due = at + debounce;
        t.deadline = Some(t.deadline.map_or(due, |d| d.max(due)));
        if t.checking {
            t.stale = true;
        }
    }

    fn mark_all(&mut self, at: Instant) {
        let keys: Vec<PathBuf> = lock(&self.registry).files.keys().cloned().collect();
        for key in keys {
            self.mark(&key, at);
        }
    }

    /// How long before the end of a quiet period its settle check starts. The check's first
    /// `stat` is taken this early and its second one when the quiet period ends, so the
    /// stability check adds no latency after the debounce; an event in between makes the check
    /// stale and the file gets a new quiet period, exactly as if it came after the check.
    fn check_lead(&self) -> std::time::Duration {
        self.cfg.stable_interval.min(self.cfg.debounce / 2)
    }

    fn start_due_checks(&mut self) {
        let now = Instant::now();
        let lead = self.check_lead();
        let due: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(_, t)| !t.checking && t.deadline.is_some_and(|d| d <= now + lead))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            // Forget files unwatched since their event.
            let Some(t) = self.tracked(&key) else {
                self.files.remove(&key);
                continue;
            };
            t.deadline = None;
            t.checking = true;
            t.stale = false;
            let id = t.id;
            let stable_interval = self.cfg.stable_interval;
            let max_size = self.cfg.max_file_size;
            let hint = if self.cfg.candidates {
                lock(&self.registry)
                    .files
                    .get(&key)
                    .map(|e| (self.tx.clone(), e.given.clone()))
            } else {
                None
            };
            self.checks.spawn(async move {
                let reading = check(key.clone(), stable_interval, max_size, hint).await;
                Checked {
                    key,
                    id,
                    reading,
                    at: Instant::now(),
                }
            });
        }
    }

    fn on_checked(&mut self, c: Checked) {
        let debounce = self.cfg.debounce;
        let Some(t) = self.files.get_mut(&c.key) else {
            return;
        };
        if t.id != c.id {
            return;
        }
        t.checking = false;
        if lock(&self.registry).files.get(&c.key).map(|e| e.id) != Some(c.id) {
            self.files.remove(&c.key);
            return;
        }
        if t.stale {
            // The burst went on while we looked; its deadline is already set.
            t.stale = false;
            return;
        }
        let timing = WatchTiming {
            detected: t.burst_start.unwrap_or(c.at),
            stable: c.at,
        };
        let event = match c.reading {
            Reading::Unstable => {
                t.deadline = Some(c.at + debounce);
                return;
            }
            Reading::Incomplete { reason, sig } => {
                let grace_end = t.last_event.unwrap_or(c.at) + INCOMPLETE_GRACE;
                if c.at < grace_end {
                    t.deadline = Some(grace_end);
                    return;
                }
                invalid(t, Some(sig), reason, timing)
            }
            Reading::Invalid { reason, sig } => invalid(t, sig, reason, timing),
            Reading::Missing => {
                if matches!(t.last, Last::Missing) {
                    None
                } else {
                    t.last = Last::Missing;
                    Some(WatchEvent::Missing {
                        path: PathBuf::new(),
                    })
                }
            }
            Reading::Ready { sig, bytes } => {
                let same = matches!(&t.last, Last::Ready { sig: s, bytes: b } if *s == sig && **b == *bytes);
                if same {
                    None
                } else {
                    t.last = Last::Ready {
                        sig,
                        bytes: Arc::clone(&bytes),
                    };
                    Some(WatchEvent::Ready {
                        path: PathBuf::new(),
                        bytes,
                        timing,
                    })
                }
            }
        };
        t.burst_start = None;
        let id = t.id;
        if let Some(event) = event {
            self.push_file(c.key, id, event);
        }
    }

    /// Queues a file event, replacing an unsent one for the same file; fills in its path.
    fn push_file(&mut self, key: PathBuf, id: u64, mut event: WatchEvent) {
        let Some(given) = lock(&self.registry)
            .files
            .get(&key)
            .map(|e| e.given.clone())
        else {
            return;
        };
        match &mut event {
            WatchEvent::Ready { path, .. }
            | WatchEvent::Candidate { path, .. }
            | WatchEvent::Invalid { path, .. }
            | WatchEvent::Missing { path } => *path = given,
            WatchEvent::Error { .. } => {}
        }
        self.outbox
            .retain(|o| o.file.as_ref().is_none_or(|(k, _)| *k != key));
        self.outbox.push_back(Out {
            file: Some((key, id)),
            event,
        });
    }

    fn push_error(&mut self, event: WatchEvent) {
        let queued = self.outbox.iter().filter(|o| o.file.is_none()).count();
        if queued >= ERROR_BACKLOG {
            tracing::warn!(?event, "watch event channel full; dropping this error");
            return;
        }
        self.outbox.push_back(Out { file: None, event });
    }

    /// The watched directory `dir` was removed or renamed.
    fn dir_lost(&mut self, dir: PathBuf) {
        let keys: Vec<PathBuf> = {
            let mut reg = lock(&self.registry);
            match reg.dirs.get_mut(&dir) {
                Some(d) if !d.lost => d.lost = true,
                _ => return,
            }
            reg.files_in(&dir)
        };
        tracing::warn!(dir = %dir.display(), "watched directory removed or renamed");
        self.push_error(WatchEvent::Error {
            path: Some(dir.clone()),
            message: format!(
                "the directory {} was removed or renamed; watching for it to come back",
                dir.display()
            ),
        });
        let now = Instant::now();
        for key in keys {
            self.mark(&key, now);
        }
        // Drop notify's watch at once (a renamed directory would otherwise keep reporting under
        // the old path) and look for the directory right away.
        self.spawn_rewatch(dir);
    }

    fn poll_lost_dirs(&mut self) {
        let lost: Vec<PathBuf> = lock(&self.registry)
            .dirs
            .iter()
            .filter(|(_, d)| d.lost)
            .map(|(p, _)| p.clone())
            .collect();
        for dir in lost {
            self.spawn_rewatch(dir);
        }
    }

    /// Unwatches `dir` in notify and watches it again if it exists (blocking calls, so on a
    /// blocking thread).
    fn spawn_rewatch(&mut self, dir: PathBuf) {
        let notify = Arc::clone(&self.notify);
        self.rewatches.spawn(async move {
            let d = dir.clone();
            let back = tokio::task::spawn_blocking(move || {
                let mut w = lock(&notify);
                let _ = w.unwatch(&d);
                d.is_dir() && w.watch(&d, RecursiveMode::NonRecursive).is_ok()
            })
            .await
            .unwrap_or(false);
            (dir, back)
        });
    }

    fn on_dir_back(&mut self, dir: PathBuf) {
        let keys: Vec<PathBuf> = {
            let mut reg = lock(&self.registry);
            match reg.dirs.get_mut(&dir) {
                Some(d) if d.lost => d.lost = false,
                // Unwatched meanwhile: undo our watch.
                None => {
                    drop(reg);
                    let notify = Arc::clone(&self.notify);
                    tokio::task::spawn_blocking(move || {
                        let _ = lock(&notify).unwatch(&dir);
                    });
                    return;
                }
                Some(_) => return,
            }
            reg.files_in(&dir)
        };
        tracing::info!(dir = %dir.display(), "watched directory is back");
        let now = Instant::now();
        for key in keys {
            self.mark(&key, now);
        }
    }
}

/// A settle check: first `stat`, wait `stable_interval`, then the second look; both `stat`s and
/// the read on blocking threads.
///
/// With a `hint` sender, a first look that already reads as a complete binary is sent as a
/// [`WatchEvent::Candidate`] (best effort: `try_send`, dropped when the channel is full), so
/// the host can compile while the second look waits.
async fn check(
    path: PathBuf,
    stable_interval: std::time::Duration,
    max_size: u64,
    hint: Option<(mpsc::Sender<WatchEvent>, PathBuf)>,
) -> Reading {
    let p = path.clone();
    let want_early = hint.is_some();
    let first = match tokio::task::spawn_blocking(move || {
        let sig = settle::first_look(&p)?;
        let early = want_early.then(|| settle::second_look(&p, sig, max_size));
        Ok::<_, Reading>((sig, early))
    })
    .await
    {
        Ok(Ok((sig, early))) => {
            if let (Some(Reading::Ready { bytes, .. }), Some((tx, given))) = (early, hint) {
                let _ = tx.try_send(WatchEvent::Candidate { path: given, bytes });
            }
            sig
        }
        Ok(Err(reading)) => return reading,
        Err(e) => return internal(e),
    };
    tokio::time::sleep(stable_interval).await;
    tokio::task::spawn_blocking(move || settle::second_look(&path, first, max_size))
        .await
        .unwrap_or_else(internal)
}

fn internal(e: tokio::task::JoinError) -> Reading {
    Reading::Invalid {
        reason: format!("internal error while reading: {e}"),
        sig: None,
    }
}

/// Records and returns an `Invalid` event unless the same one was the last sent.
fn invalid(
    t: &mut Tracked,
    sig: Option<Signature>,
    reason: String,
    timing: WatchTiming,
) -> Option<WatchEvent> {
    if sig.is_some()
        && matches!(&t.last, Last::Invalid { sig: s, reason: r } if *s == sig && *r == reason)
    {
        return None;
    }
    t.last = Last::Invalid {
        sig,
        reason: reason.clone(),
    };
    Some(WatchEvent::Invalid {
        path: PathBuf::new(),
        reason,
        timing,
    })
}

#[cfg(test)]
#[path = "debounce_paused_tests.rs"]
mod paused_tests;
