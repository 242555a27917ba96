//! File-path completion for the command line's `REF`: lists the directory of the partial
//! path typed, for [`crate::ui::ViewState::complete_path`]. The one place the console reads
//! the file system for completion; `ui/` only asks (it does no I/O).
//!
//! Bounded: at most [`MAX_ENTRIES`] directory entries are read per Tab, so a huge directory
//! costs a bounded pause; hidden entries are offered only when the typed name starts with
//! `.`. Paths are completed as the console sees them: a remote host resolves a relative path
//! against its own working directory.

use std::path::Path;

use crate::ui::command_line::PathKind;

/// Directory entries read per completion.
pub const MAX_ENTRIES: usize = 2_000;

/// Candidates for the partial path `typed`: entries of its directory whose names start with
/// its last component, as `typed`'s directory part + name, directories with a trailing `/`.
/// Actors are offered `.wasm` files, providers any file. An unreadable directory offers none.
pub fn candidates(typed: &str, kind: PathKind) -> Vec<String> {
    let (dir_part, prefix) = match typed.rfind('/') {
        Some(i) => (&typed[..=i], &typed[i + 1..]),
        None => ("", typed),
    };
    let dir = if dir_part.is_empty() {
        Path::new(".")
    } else {
        Path::new(dir_part)
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.take(MAX_ENTRIES).flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
            continue;
        }
        // Follows symlinks: a link to a directory completes as one.
        let is_dir = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        let wanted = is_dir
            || match kind {
                PathKind::Actor => name.ends_with(".wasm"),
                PathKind::Provider => true,
            };
        if wanted {
            out.push(format!("{dir_part}{name}{}", if is_dir { "/" } else { "" }));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_matching_wasm_files_and_directories() {
        let d = tempfile::tempdir().expect("tempdir");
        for f in [
            "echo.wasm",
            "echo.txt",
            "hello.wasm",
            ".hidden.wasm",
            "prov.par.gz",
        ] {
            std::fs::write(d.path().join(f), b"x").expect("write");
        }
        std::fs::create_dir(d.path().join("ebuild")).expect("mkdir");
        let base = format!("{}/", d.path().display());
        assert_eq!(
            candidates(&format!("{base}e"), PathKind::Actor),
            [format!("{base}ebuild/"), format!("{base}echo.wasm")]
        );
        assert_eq!(
            candidates(&base, PathKind::Actor),
            [
                format!("{base}ebuild/"),
                format!("{base}echo.wasm"),
                format!("{base}hello.wasm")
            ]
        );
        assert_eq!(
            candidates(&format!("{base}."), PathKind::Actor),
            [format!("{base}.hidden.wasm")]
        );
        assert_eq!(
            candidates(&format!("{base}p"), PathKind::Provider),
            [format!("{base}prov.par.gz")]
        );
        assert!(candidates("/no/such/dir/x", PathKind::Actor).is_empty());
    }
}
