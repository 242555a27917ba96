//! The module boundaries of STYLE.md §2.2 (and issue 8's one door out), checked on the source: `state/` and `ui/` are pure —
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

/// What the console's action path may not name: every action leaves as a control-interface
/// request on the bus (issue 8 §1), so planning and executing one never touches the host.
const EMBEDDED_HOST: &[(&str, &str)] = &[
    ("crate::host", "the embedded host"),
    ("HostHandle", "the embedded host"),
    ("host::Host", "the embedded host"),
];

/// The only questions the console loop may ask the embedded host: facts the lattice protocol
/// does not carry, read-only. A method not listed here (a start, a scale, a stop, a link put…)
/// would be an action taken behind the lattice's back.
const HOST_READS: &[&str] = &["id", "http_routes", "data_watch_error", "actor_stats"];

/// The action path: the grammar, resolution and outcomes, the planner and the effects.
fn action_path() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = rust_files(&src.join("state").join("command"));
    files.push(src.join("actions.rs"));
    files.push(src.join("app").join("act.rs"));
    files
}

/// Comments removed, lines kept (so line numbers stay right).
fn code_only(source: &str) -> String {
    source
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(line, method)` for every method called on the embedded host's `Host` in `source`: each
/// `.host()` (the `HostHandle` accessor) followed, across whitespace and line breaks, by
/// `.method(`. `run(...)` on the handle (a closure on the host's runtime) counts as a call too.
fn host_calls(source: &str) -> Vec<(usize, String)> {
    let code = code_only(source);
    let mut calls = Vec::new();
    let line_of = |i: usize| code[..i].matches('\n').count() + 1;
    for (i, _) in code.match_indices(".host()") {
        let rest = code[i + ".host()".len()..].trim_start();
        let method: String = rest
            .strip_prefix('.')
            .map(|r| {
                r.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            })
            .unwrap_or_default();
        calls.push((line_of(i), method));
    }
    for (i, _) in code.match_indices(".run(") {
        calls.push((line_of(i), "run".to_string()));
    }
    calls
}

#[test]
fn the_action_path_never_names_the_embedded_host() {
    let mut problems = Vec::new();
    for file in action_path() {
        let source =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (line, path, why) in violations(&source, &[EMBEDDED_HOST]) {
            problems.push(format!("{}:{line}: names `{path}` ({why})", file.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "console actions must go out on the bus, not into the host:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_console_loop_only_reads_facts_from_the_embedded_host() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join("app");
    let mut problems = Vec::new();
    let mut reads = 0;
    for file in rust_files(&root) {
        let source = std::fs::read_to_string(&file).expect("read source");
        for (line, method) in host_calls(&source) {
            if HOST_READS.contains(&method.as_str()) {
                reads += 1;
            } else {
                problems.push(format!(
                    "{}:{line}: calls `{method}` on the embedded host",
                    file.display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the console may only read facts from its embedded host (allowed: {HOST_READS:?}); \
         actions go out on the bus:\n{}",
        problems.join("\n")
    );
    // The console does show the embedded host's facts: if this finds none, the scan is blind.
    assert!(
        reads > 0,
        "no host reads found: the scan no longer sees `.host()` calls"
    );
}

#[test]
fn the_host_call_scan_sees_calls_split_across_lines() {
    let source = "let a = h.host().actor_stats();\nh\n    .host()\n    .scale_actor(&id, 3);\n\
                  // h.host().stop()\nh.run(|host| async move { host.stop().await });";
    let calls = host_calls(source);
    assert_eq!(
        calls,
        [
            (1, "actor_stats".to_string()),
            (3, "scale_actor".to_string()),
            (6, "run".to_string())
        ]
    );
}
