//! Replays the fuzz corpora in CI: every file of `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` goes through the same body the libFuzzer target runs
//! (`fuzz/harness/<target>.rs`), so a fixed crash stays fixed and the properties the fuzzer
//! checked keep holding without nightly, cargo-fuzz or a sanitizer. A failing input is named
//! with its panic; all inputs of a target run before the test fails. See `fuzz/README.md`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "../fuzz/harness/cli_parse.rs"]
mod cli_parse;
#[path = "../fuzz/harness/ctl_request.rs"]
mod ctl_request;
#[path = "../fuzz/harness/event_reducer.rs"]
mod event_reducer;
#[path = "../fuzz/harness/link_values.rs"]
mod link_values;
#[path = "../fuzz/harness/wasm_framing.rs"]
mod wasm_framing;

/// The inputs of `target`, corpus first, each directory in name order.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut all = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        all.extend(files);
    }
    all
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no corpus for {target} under fuzz/corpus/{target}/"
    );
    let started = Instant::now();
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read a corpus file");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failed.push(format!("{}: {why}", path.display()));
        }
    }
    eprintln!(
        "{target}: replayed {} inputs in {:.1?}",
        files.len(),
        started.elapsed()
    );
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs failed:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn event_reducer_corpus() {
    replay("event_reducer", event_reducer::run);
}

#[test]
fn ctl_request_corpus() {
    replay("ctl_request", ctl_request::run);
}

#[test]
fn wasm_framing_corpus() {
    replay("wasm_framing", wasm_framing::run);
}

#[test]
fn link_values_corpus() {
    replay("link_values", link_values::run);
}

#[test]
fn cli_parse_corpus() {
    replay("cli_parse", cli_parse::run);
}
