//! Watching a source tree for the build runner: one non-recursive notify watch per directory,
//! walking the tree ourselves so ignored directories (`target/`, `.git/`, configured ignores) are
//! pruned. notify's own recursive mode would put a watch on every directory under `target/`
//! (thousands in a cargo project) and run into the inotify watch limit.
//!
//! Owns the directory walk (blocking: callers run it on `spawn_blocking` or at start-up). Must
//! not follow symlinks (a link cycle would never end) and must not touch the build process.
//! Bounded by [`MAX_WATCHED_DIRS`]; past it, directories are not watched and the caller reports
//! it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use super::filter::build_ignores;
use crate::sync::lock;

/// Most directories one builder watches. Each inotify watch costs about 1 KiB of kernel memory
/// and older kernels allow 8192 per user (`fs.inotify.max_user_watches`), shared by every
/// program; a source tree with its outputs pruned is far smaller than this.
pub const MAX_WATCHED_DIRS: usize = 4096;

/// The directories a builder watches (for the cap; notify keeps the real watches).
#[derive(Debug, Default)]
pub struct Watched {
    dirs: HashSet<PathBuf>,
}

impl Watched {
    /// How many directories are watched.
    pub fn len(&self) -> usize {
        self.dirs.len()
    }
}

/// What one walk did.
#[derive(Debug, Default)]
pub struct Walk {
    /// Directories newly watched.
    pub added: usize,
    /// Problems worth telling the user (the cap, a directory notify refused).
    pub errors: Vec<String>,
}

/// Watches `start` and every directory below it that the build does not ignore. `start` that is
/// not a directory (a file that was created) is a no-op. Blocking.
pub fn watch_tree(
    watcher: &Mutex<RecommendedWatcher>,
    start: &Path,
    roots: &[PathBuf],
    ignore: &[PathBuf],
    watched: &mut Watched,
) -> Walk {
    let mut walk = Walk::default();
    let mut stack = vec![start.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let is_root = roots.contains(&dir);
        if !is_root && build_ignores(&dir, roots, ignore) {
            continue;
        }
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            _ => continue,
        }
        if !watched.dirs.contains(&dir) && watched.dirs.len() >= MAX_WATCHED_DIRS {
            walk.errors.push(format!(
                "not watching {} and what is below it: already {MAX_WATCHED_DIRS} directories \
                 watched (add ignores for generated directories)",
                dir.display()
            ));
            continue;
        }
        // Re-adding an existing watch is harmless; a directory removed and created again needs it.
        match lock(watcher).watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                if watched.dirs.insert(dir.clone()) {
                    walk.added += 1;
                }
            }
            Err(e) => {
                walk.errors
                    .push(format!("cannot watch {}: {e}", dir.display()));
                continue;
            }
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            // `file_type` does not follow symlinks: linked directories are not descended into.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    walk
}

/// Forgets `dir` and everything below it (it was removed or renamed; notify dropped its watches).
pub fn forget(watched: &mut Watched, dir: &Path) {
    watched.dirs.retain(|d| !d.starts_with(dir));
}
