//! The module boundaries of STYLE.md §2.2, checked on the source: `state/` and `ui/` are pure —
//! no tokio, no I/O, no clock, no host, no bus — so the reducer and the rendering stay cheap to
//! test and cannot block the console. The check reads every `.rs` file under those directories
//! (comments excluded) and fails on the first forbidden path with the file and line.

use std::path::{Path, PathBuf};

/// Paths neither `state/` nor `ui/` may name, and why.
const IMPURE: &[(&str, &str)] = &[
    ("tokio", "an async runtime"),
    ("async_nats", "the NATS client"),
    ("std::fs", "file I/O"),
    ("std::net", "network I/O"),
    ("std::io", "I/O"),
    ("std::env", "the environment"),
    ("std::thread", "threads"),
    ("std::process", "processes"),
    ("Utc::now", "the clock"),
    ("Local::now", "the clock"),
    ("SystemTime", "the clock"),
    ("Instant", "the clock"),
    ("tracing", "logging"),
    ("wasmtime", "the WebAssembly host"),
    ("notify", "file watching"),
    ("crate::host", "the embedded host"),
    ("crate::lattice::bus", "the bus"),
    ("crate::lattice::monitor", "the monitor task"),
    ("crate::app", "the console loop"),
    ("crate::modes", "the program's modes"),
    ("crate::watch", "file watching"),
    ("crate::logging", "logging"),
];

/// What `state/` may not name besides [`IMPURE`]: the terminal and the rendering.
const STATE_ONLY: &[(&str, &str)] = &[
    ("ratatui", "the terminal"),
    ("crossterm", "the terminal"),
    ("crate::ui", "the rendering"),
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `(line number, forbidden path, why)` for each code line of `source` that names a forbidden
/// path as a whole path segment.
fn violations(source: &str, forbidden: &[&[(&str, &str)]]) -> Vec<(usize, String, String)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for (path, why) in forbidden.iter().flat_map(|f| f.iter()) {
            let named = code.match_indices(path).any(|(i, _)| {
                let before = code[..i].chars().next_back();
                let after = code[i + path.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word(before) && !word(after)
            });
            if named {
                found.push((n + 1, (*path).to_string(), (*why).to_string()));
            }
        }
    }
    found
}

fn check(dir: &str, forbidden: &[&[(&str, &str)]]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let files = rust_files(&root);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let mut problems = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("read source");
        for (line, path, why) in violations(&source, forbidden) {
            problems.push(format!(
                "{}:{line}: names `{path}` ({why})",
                file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(&file)
                    .display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "src/{dir} must stay pure:\n{}",
        problems.join("\n")
    );
}

#[test]
fn state_is_pure() {
    check("state", &[IMPURE, STATE_ONLY]);
}

#[test]
fn ui_is_pure() {
    check("ui", &[IMPURE]);
}

#[test]
fn the_check_sees_what_it_must_and_nothing_else() {
    let bad = "use tokio::sync::mpsc;\nlet t = chrono::Utc::now();\nuse crate::host::Host;";
    let found: Vec<String> = violations(bad, &[IMPURE])
        .into_iter()
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(found, ["tokio", "Utc::now", "crate::host"]);
    let fine =
        "// tokio is not used here\nlet tokiosomething = 1;\nuse crate::hosts;\nfn instant_x() {}";
    assert!(
        violations(fine, &[IMPURE]).is_empty(),
        "{:?}",
        violations(fine, &[IMPURE])
    );
}
