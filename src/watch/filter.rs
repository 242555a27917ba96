//! Pure decisions about file-system events: which notify event kinds mean "this file may have
//! changed", which names are editor temp and swap files, and which paths a build ignores.
//!
//! Owns no state and does no I/O; it must not touch notify watchers, tokio or the file system
//! (the callers on notify's thread use it, so it must stay cheap and non-blocking). No queues,
//! so no overflow policy.

use std::ffi::OsStr;
use std::path::{Component, Path};

use notify::EventKind;
use notify::event::{AccessKind, AccessMode};

/// Directory names a build never watches below a source root: `target` is cargo's output (a build
/// writing there must not retrigger itself, wash #20 / spin #1403) and `.git` changes on every
/// `git status`.
pub const IGNORED_DIR_NAMES: [&str; 2] = ["target", ".git"];

/// Whether an event of this kind can mean the file's contents or identity changed.
///
/// Opening and closing a file after reading it is not a change: without this, reading the file
/// (our own stability check, or a build reading its sources) would trigger the watcher again.
/// `Close(Write)` counts: it ends a write.
pub fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}

/// Whether `name` is an editor's temp, swap or backup file, never an artifact or a source:
/// vim's `.x.swp`/`.swo`/`.swx` and its `4913` write probe, `x~` backups, emacs's `.#x` locks
/// and `#x#` autosaves, JetBrains' `x___jb_tmp___`/`x___jb_old___`, gedit's
/// `.goutputstream-*`, and `*.tmp`/`*.crdownload`/`*.part` partial downloads and saves.
pub fn is_editor_temp(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    name == "4913"
        || name.ends_with('~')
        || name.starts_with(".#")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
        || name.starts_with(".goutputstream-")
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || [".swp", ".swo", ".swx", ".tmp", ".crdownload", ".part"]
            .iter()
            .any(|ext| name.len() > ext.len() && name.ends_with(ext))
}

/// Whether a change at `path` is ignored by a build watching `roots`.
///
/// Ignored: paths outside every root, paths with a [`IGNORED_DIR_NAMES`] component *below* the
/// root they are in (a root that itself lives under some `target/` still works), paths under
/// one of `ignore`, and editor temp files.
pub fn build_ignores(path: &Path, roots: &[impl AsRef<Path>], ignore: &[impl AsRef<Path>]) -> bool {
    if ignore.iter().any(|i| path.starts_with(i)) {
        return true;
    }
    if path.file_name().is_some_and(is_editor_temp) {
        return true;
    }
    let Some(rel) = roots
        .iter()
        .filter_map(|r| path.strip_prefix(r).ok())
        .min_by_key(|rel| rel.components().count())
    else {
        return true;
    };
    rel.components().any(|c| match c {
        Component::Normal(name) => IGNORED_DIR_NAMES.iter().any(|n| name == OsStr::new(n)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, ModifyKind, RemoveKind, RenameMode};
    use std::path::PathBuf;

    #[test]
    fn reads_are_not_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Remove(RemoveKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Name(
            RenameMode::To
        ))));
    }

    #[test]
    fn editor_temp_names() {
        for name in [
            ".hello.wasm.swp",
            ".lib.rs.swo",
            "lib.rs~",
            "4913",
            ".#lib.rs",
            "#lib.rs#",
            "lib.rs___jb_tmp___",
            ".goutputstream-AB12",
            "hello.wasm.tmp",
        ] {
            assert!(is_editor_temp(OsStr::new(name)), "{name}");
        }
        for name in [
            "hello.wasm",
            "lib.rs",
            "#",
            "main.rs.bak",
            ".swp",
            "Cargo.toml",
        ] {
            assert!(!is_editor_temp(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn build_ignore_rules() {
        let roots = [PathBuf::from("/p"), PathBuf::from("/home/u/target/proj")];
        let ignore = [PathBuf::from("/p/out")];
        let ignored = |p: &str| build_ignores(Path::new(p), &roots, &ignore);
        assert!(!ignored("/p/src/lib.rs"));
        assert!(ignored("/p/target/debug/x"));
        assert!(ignored("/p/target"));
        assert!(ignored("/p/sub/target/x.wasm"));
        assert!(ignored("/p/.git/index"));
        assert!(ignored("/p/out/hello.wasm"));
        assert!(ignored("/p/src/.lib.rs.swp"));
        assert!(ignored("/elsewhere/lib.rs"));
        // A root below some `target/` directory is still watched.
        assert!(!ignored("/home/u/target/proj/src/lib.rs"));
        assert!(ignored("/home/u/target/proj/target/x"));
        // `targets` is not `target`.
        assert!(!ignored("/p/targets/x"));
    }
}
