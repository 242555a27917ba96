//! The console's log file is rotated by size (the hardening issue: it never was): a console
//! that logs a flood keeps a bounded set of files, the newest at the path it was given.
//!
//! Its own test binary: it installs the process-wide subscriber.

use lattice_tui::logging::{self, CONSOLE_LOG_KEEP, CONSOLE_LOG_MAX_BYTES};

#[test]
fn a_flood_of_console_logs_is_rotated_and_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("console.log");
    let guard = logging::to_file(&path).expect("log to file");
    // Six times the rotation size, in lines of ~200 bytes.
    let line = "x".repeat(180);
    let lines = 6 * CONSOLE_LOG_MAX_BYTES / 200;
    for i in 0..lines {
        tracing::info!(i, "{line}");
        if i % 4096 == 0 {
            // Let the non-blocking writer keep up (it drops lines when its queue is full).
            std::thread::yield_now();
        }
    }
    drop(guard);
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().expect("metadata").len(),
            )
        })
        .collect();
    files.sort();
    let total: u64 = files.iter().map(|(_, len)| len).sum();
    assert!(path.exists(), "the current log keeps its path: {files:?}");
    assert!(
        files.iter().any(|(name, _)| name == "console.log.1"),
        "rotated: {files:?}"
    );
    assert!(
        files.len() <= CONSOLE_LOG_KEEP + 1,
        "at most {} old files kept: {files:?}",
        CONSOLE_LOG_KEEP
    );
    let bound =
        u64::try_from((CONSOLE_LOG_KEEP + 1) * CONSOLE_LOG_MAX_BYTES).expect("fits") + (1 << 20);
    assert!(
        total <= bound,
        "{total} bytes on disk (bound {bound}): {files:?}"
    );
}
