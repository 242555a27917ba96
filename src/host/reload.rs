//! Hot reload: the host's side of the file watcher. Watched actors' files are followed by a
//! [`FileWatcher`]; when one settles, its bytes go through the same checks and swap as a live
//! update (`upd`): compiled and pre-instantiated first, swapped atomically, the old version
//! kept on any failure (with `actor_update_failed`).
//!
//! Owns the watcher and the mapping from files to actors. Events for one file are coalesced
//! (only the newest reading matters) and reloads run one at a time, so a burst of writes never
//! compiles stale bytes twice. Must not touch the console.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::core::{HostInner, Speculation};
use crate::sync::lock;
use crate::watch::{FileWatcher, WatchEvent};

/// Annotation that asks for an actor started through the control interface (`la`, `scale`)
/// to be hot-reloaded when its file changes (value `true`). Actors started by
/// `lattice-tui dev` are always watched.
pub const WATCH_ANNOTATION: &str = "lattice-tui.dev/watch";

/// Starts watching `source` for an actor (idempotent per file).
pub(crate) fn watch(
    watcher: &std::sync::Mutex<Option<FileWatcher>>,
    source: &std::path::Path,
) -> bool {
    let mut w = lock(watcher);
    let Some(w) = w.as_mut() else { return false };
    match w.watch(source) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(file = %source.display(), error = %e, "cannot watch the actor's file; hot reload is off for it");
            false
        }
    }
}

/// Stops watching `source` once no watched actor runs from it.
pub(crate) fn unwatch_if_unused(inner: &HostInner, source: &std::path::Path) {
    if inner.watched_actors_of(source).is_empty()
        && let Some(w) = lock(&inner.watcher).as_mut()
    {
        w.unwatch(source);
    }
}

/// Candidate bytes being checked and compiled ahead of their confirmation.
type Early = (Arc<[u8]>, JoinHandle<Option<Speculation>>);

/// Follows the watcher until shutdown.
pub(crate) async fn run(inner: Arc<HostInner>, mut rx: mpsc::Receiver<WatchEvent>) {
    // Per actor: the candidate bytes being compiled ahead of their confirmation.
    let mut early: HashMap<String, Early> = HashMap::new();
    loop {
        let first = tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            ev = rx.recv() => ev,
        };
        let Some(first) = first else { return };
        let mut pending = vec![first];
        while let Ok(ev) = rx.try_recv() {
            pending.push(ev);
        }
        // Coalesce what is already queued: per file, only the newest reading matters.
        let mut latest: BTreeMap<PathBuf, WatchEvent> = BTreeMap::new();
        for ev in pending {
            match ev {
                // A hint, not a reading: compile now, swap only on the matching `Ready`.
                WatchEvent::Candidate { path, bytes } => {
                    for actor in inner.watched_actors_of(&path) {
                        let (i, b, p, a) =
                            (inner.clone(), bytes.clone(), path.clone(), actor.clone());
                        let task = tokio::spawn(async move { i.speculate(&a, b, p).await });
                        if let Some((_, old)) = early.insert(actor, (bytes.clone(), task)) {
                            old.abort();
                        }
                    }
                }
                WatchEvent::Error { path, message } => {
                    tracing::warn!(path = ?path, %message, "file watcher error");
                }
                ev => {
                    if let Some(p) = ev.path().map(std::path::Path::to_path_buf) {
                        latest.insert(p, ev);
                    }
                }
            }
        }
        for (path, ev) in latest {
            for actor in inner.watched_actors_of(&path) {
                // A candidate serves only the `Ready` that confirms its bytes.
                let speculation = match (&ev, early.remove(&actor)) {
                    (WatchEvent::Ready { bytes, .. }, Some((seen, task))) if *seen == **bytes => {
                        task.await.ok().flatten()
                    }
                    (_, other) => {
                        if let Some((_, task)) = other {
                            task.abort();
                        }
                        None
                    }
                };
                match &ev {
                    WatchEvent::Ready { bytes, timing, .. } => {
                        let _ = inner
                            .reload_actor(
                                &actor,
                                bytes.clone(),
                                path.clone(),
                                timing.detected,
                                timing.stable,
                                speculation,
                            )
                            .await;
                    }
                    WatchEvent::Invalid { reason, .. } => {
                        inner.reload_refused(&actor, reason).await;
                    }
                    WatchEvent::Missing { .. } => {
                        tracing::warn!(actor = %actor, file = %path.display(), "the actor's file is gone; the running version keeps serving until it comes back");
                        inner.note_missing_file(&actor, &path);
                    }
                    // Handled while coalescing; never in `latest`.
                    WatchEvent::Candidate { .. } | WatchEvent::Error { .. } => {}
                }
            }
        }
    }
}
