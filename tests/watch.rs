//! The artifact watcher and the build runner against real files in temp dirs.
//!
//! Every wait has a timeout (scaled by `TEST_TIME_SCALE`); every "exactly one" property is
//! checked by also waiting a quiet period after the burst and asserting that nothing more came.

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::scaled;
use lattice_tui::watch::{
    BuildConfig, BuildEvent, Builder, FileWatcher, WatchConfig, WatchError, WatchEvent,
};
use tokio::sync::mpsc::Receiver;

/// Longest wait for an expected event.
fn event_timeout() -> Duration {
    scaled(Duration::from_secs(10))
}

/// Debounce used by the tests: longer than the 100 ms default so a loaded 2-core machine that
/// oversleeps a 10 ms pause between writes does not split a burst in two.
fn debounce() -> Duration {
    scaled(Duration::from_millis(250))
}

/// Quiet period after a burst: well past debounce + stable interval + a check.
fn quiet() -> Duration {
    debounce() * 3 + scaled(Duration::from_millis(300))
}

fn cfg() -> WatchConfig {
    WatchConfig {
        debounce: debounce(),
        ..WatchConfig::default()
    }
}

/// A valid core module whose bytes depend on `version`, with a data segment of `pad` bytes (so
/// a chunked write can cut it inside a section).
fn module(version: u32, pad: usize) -> Vec<u8> {
    let data = "ab".repeat(pad / 2);
    wat::parse_str(format!(
        r#"(module
             (memory 2)
             (func (export "version") (result i32) i32.const {version})
             (data (i32.const 0) "{data}"))"#
    ))
    .unwrap()
}

async fn next_event<T: std::fmt::Debug>(rx: &mut Receiver<T>, what: &str) -> T {
    match tokio::time::timeout(event_timeout(), rx.recv()).await {
        Ok(Some(ev)) => ev,
        Ok(None) => panic!("{what}: the channel closed"),
        Err(_) => panic!("{what}: nothing within {:?}", event_timeout()),
    }
}

async fn assert_quiet<T: std::fmt::Debug>(rx: &mut Receiver<T>, period: Duration, what: &str) {
    if let Ok(ev) = tokio::time::timeout(period, rx.recv()).await {
        panic!("{what}: expected nothing for {period:?}, got {ev:?}");
    }
}

fn expect_ready(ev: WatchEvent, path: &Path, bytes: &[u8]) -> Instant {
    match ev {
        WatchEvent::Ready {
            path: p,
            bytes: b,
            timing,
        } => {
            assert_eq!(p, path);
            assert!(
                *b == *bytes,
                "Ready with other bytes: {} bytes, expected {}",
                b.len(),
                bytes.len()
            );
            assert!(timing.stable >= timing.detected, "{timing:?}");
            timing.detected
        }
        other => panic!("expected Ready for {}, got {other:?}", path.display()),
    }
}

/// Writes `bytes` to a temp file beside `target` and renames it over `target` (cargo, editors).
fn atomic_write(target: &Path, bytes: &[u8]) {
    let tmp = target.with_file_name(format!(
        ".{}.tmp{}",
        target.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, target).unwrap();
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    watcher: FileWatcher,
    rx: Receiver<WatchEvent>,
}

/// A temp dir with `hello.wasm` (version 1) in it, watched.
fn setup() -> (Setup, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let file = root.join("hello.wasm");
    fs::write(&file, module(1, 64)).unwrap();
    let (mut watcher, rx) = FileWatcher::new(cfg()).unwrap();
    watcher.watch(&file).unwrap();
    (
        Setup {
            _dir: dir,
            root,
            watcher,
            rx,
        },
        file,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atomic_rename_gives_one_ready_with_the_new_bytes() {
    let (mut s, file) = setup();
    assert_eq!(s.watcher.watched(), vec![file.clone()]);
    assert_quiet(&mut s.rx, quiet(), "no event for the file as it was").await;

    let v2 = module(2, 64);
    atomic_write(&file, &v2);
    expect_ready(next_event(&mut s.rx, "rename").await, &file, &v2);
    assert_quiet(&mut s.rx, quiet(), "one rename, one Ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_and_chunked_write_gives_one_ready_with_complete_bytes() {
    let (mut s, file) = setup();
    let v2 = module(2, 40_000);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&file)
            .unwrap();
        for chunk in v2.chunks(7_001) {
            f.write_all(chunk).unwrap();
            f.flush().unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    expect_ready(next_event(&mut s.rx, "rewrite").await, &file, &v2);
    assert_quiet(&mut s.rx, quiet(), "one rewrite, one Ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_writer_never_yields_a_partial_ready() {
    let (mut s, file) = setup();
    // Chunks every 350 ms: slower than the debounce, so the watcher reads the file mid-write.
    // The cuts fall inside the data section, which the framing check catches.
    let pause = debounce() + Duration::from_millis(100);
    let v2 = module(2, 40_000);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&file)
            .unwrap();
        for chunk in v2.chunks(9_999) {
            f.write_all(chunk).unwrap();
            tokio::time::sleep(pause).await;
        }
    }
    expect_ready(next_event(&mut s.rx, "slow write").await, &file, &v2);
    assert_quiet(&mut s.rx, quiet(), "only the complete file is Ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_gives_missing_and_recreate_gives_ready() {
    let (mut s, file) = setup();
    fs::remove_file(&file).unwrap();
    match next_event(&mut s.rx, "delete").await {
        WatchEvent::Missing { path } => assert_eq!(path, file),
        other => panic!("expected Missing, got {other:?}"),
    }
    assert_quiet(&mut s.rx, quiet(), "one Missing").await;

    let v2 = module(2, 64);
    fs::write(&file, &v2).unwrap();
    expect_ready(next_event(&mut s.rx, "recreate").await, &file, &v2);
    assert_quiet(&mut s.rx, quiet(), "one Ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_then_quick_create_gives_only_ready() {
    let (mut s, file) = setup();
    let v2 = module(2, 64);
    fs::remove_file(&file).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    fs::write(&file, &v2).unwrap();
    expect_ready(next_event(&mut s.rx, "delete + create").await, &file, &v2);
    assert_quiet(&mut s.rx, quiet(), "no Missing inside a burst").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_invalid_with_a_reason() {
    let (mut s, file) = setup();
    atomic_write(&file, b"#!/bin/sh\necho definitely not wasm\n");
    match next_event(&mut s.rx, "garbage").await {
        WatchEvent::Invalid { path, reason, .. } => {
            assert_eq!(path, file);
            assert!(reason.contains("not a WebAssembly binary"), "{reason}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_quiet(&mut s.rx, quiet(), "one Invalid").await;

    // A good version afterwards is Ready again.
    let v2 = module(2, 64);
    atomic_write(&file, &v2);
    expect_ready(next_event(&mut s.rx, "fixed").await, &file, &v2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_file_is_invalid_after_the_grace_period() {
    let (mut s, file) = setup();
    File::create(&file).unwrap();
    let start = Instant::now();
    match next_event(&mut s.rx, "empty").await {
        WatchEvent::Invalid { path, reason, .. } => {
            assert_eq!(path, file);
            assert!(reason.contains("empty"), "{reason}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    // Held back as "maybe still being written" first.
    assert!(
        start.elapsed() >= lattice_tui::watch::INCOMPLETE_GRACE,
        "{:?}",
        start.elapsed()
    );
    assert_quiet(&mut s.rx, quiet(), "one Invalid").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_files_and_editor_temp_files_trigger_nothing() {
    let (mut s, _file) = setup();
    for name in [
        "other.wasm",
        ".hello.wasm.swp",
        "hello.wasm~",
        "4913",
        "hello.wasm.tmp",
    ] {
        fs::write(s.root.join(name), module(9, 64)).unwrap();
    }
    atomic_write(&s.root.join("other.wasm"), &module(10, 64));
    fs::remove_file(s.root.join("4913")).unwrap();
    fs::create_dir(s.root.join("sub")).unwrap();
    fs::write(s.root.join("sub/hello.wasm"), module(11, 64)).unwrap();
    assert_quiet(&mut s.rx, quiet(), "siblings are not the file").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_or_chmod_of_the_file_triggers_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let (mut s, file) = setup();
    for _ in 0..5 {
        let _ = fs::read(&file).unwrap();
    }
    assert_quiet(&mut s.rx, quiet(), "reads are not changes").await;

    // A change the watcher has seen once, then only its mode changes: no second Ready.
    let v2 = module(2, 64);
    atomic_write(&file, &v2);
    expect_ready(next_event(&mut s.rx, "rename").await, &file, &v2);
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    assert_quiet(&mut s.rx, quiet(), "same contents and mtime").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_in_one_dir_are_independent() {
    let (mut s, a) = setup();
    let b = s.root.join("b.wasm");
    s.watcher.watch(&b).unwrap();
    assert_eq!(s.watcher.watched(), vec![b.clone(), a.clone()]);

    let a2 = module(2, 64);
    atomic_write(&a, &a2);
    expect_ready(next_event(&mut s.rx, "a").await, &a, &a2);
    assert_quiet(&mut s.rx, quiet(), "only a").await;

    // b did not exist: creating it is Ready, with no Missing before.
    let b1 = module(3, 64);
    fs::write(&b, &b1).unwrap();
    expect_ready(next_event(&mut s.rx, "b").await, &b, &b1);
    assert_quiet(&mut s.rx, quiet(), "only b").await;

    // Both in one burst: one Ready each.
    let (a3, b2) = (module(4, 64), module(5, 64));
    atomic_write(&a, &a3);
    atomic_write(&b, &b2);
    let mut got = vec![
        next_event(&mut s.rx, "first").await,
        next_event(&mut s.rx, "second").await,
    ];
    // Sorted by path: b.wasm < hello.wasm.
    got.sort_by_key(|e| e.path().map(Path::to_path_buf));
    expect_ready(got.remove(0), &b, &b2);
    expect_ready(got.remove(0), &a, &a3);
    assert_quiet(&mut s.rx, quiet(), "one each").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_twenty_rewrites_gives_one_ready_with_the_last_contents() {
    let (mut s, file) = setup();
    let mut last = Vec::new();
    let first = Instant::now();
    for i in 0..20 {
        last = module(100 + i, 2_000);
        if i % 2 == 0 {
            fs::write(&file, &last).unwrap();
        } else {
            atomic_write(&file, &last);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let detected = expect_ready(next_event(&mut s.rx, "burst").await, &file, &last);
    assert!(
        detected >= first && detected < first + Duration::from_secs(1),
        "detected is the burst's first event"
    );
    assert_quiet(&mut s.rx, quiet(), "one burst, one Ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_writes_as_fast_as_possible_give_one_ready() {
    // Far more raw events than the watcher's queue holds: whether or not it overflows, the
    // result is one Ready with what is on disk at the end.
    let (mut s, file) = setup();
    let versions: Vec<Vec<u8>> = (0..300).map(|i| module(1_000 + i, 512)).collect();
    let last = versions.last().unwrap().clone();
    let f = file.clone();
    tokio::task::spawn_blocking(move || {
        for v in &versions {
            fs::write(&f, v).unwrap();
        }
    })
    .await
    .unwrap();
    expect_ready(next_event(&mut s.rx, "storm").await, &file, &last);
    assert_quiet(&mut s.rx, quiet(), "one storm, one Ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touch_reloads_the_same_bytes() {
    let (mut s, file) = setup();
    let bytes = fs::read(&file).unwrap();
    File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    expect_ready(next_event(&mut s.rx, "touch").await, &file, &bytes);
    assert_quiet(&mut s.rx, quiet(), "one touch, one Ready").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwatch_stops_events() {
    let (mut s, file) = setup();
    // Unwatch in the middle of a burst: its pending check is dropped too.
    atomic_write(&file, &module(2, 64));
    s.watcher.unwatch(&file);
    assert!(s.watcher.watched().is_empty());
    atomic_write(&file, &module(3, 64));
    fs::remove_file(&file).unwrap();
    assert_quiet(&mut s.rx, quiet(), "unwatched").await;

    // Watching again works.
    s.watcher.watch(&file).unwrap();
    let v4 = module(4, 64);
    fs::write(&file, &v4).unwrap();
    expect_ready(next_event(&mut s.rx, "re-watched").await, &file, &v4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_watcher_ends_the_channel() {
    let (s, file) = setup();
    let Setup {
        _dir,
        watcher,
        mut rx,
        ..
    } = s;
    drop(watcher);
    atomic_write(&file, &module(2, 64));
    match tokio::time::timeout(event_timeout(), rx.recv()).await {
        Ok(None) => {}
        other => panic!("expected the channel to end, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_directory_is_watched_again_when_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().canonicalize().unwrap().join("release");
    fs::create_dir(&out).unwrap();
    let file = out.join("hello.wasm");
    fs::write(&file, module(1, 64)).unwrap();
    let (mut watcher, mut rx) = FileWatcher::new(cfg()).unwrap();
    watcher.watch(&file).unwrap();

    // `cargo clean`
    fs::remove_dir_all(&out).unwrap();
    let mut saw_error = false;
    let mut saw_missing = false;
    while !(saw_error && saw_missing) {
        match next_event(&mut rx, "directory removed").await {
            WatchEvent::Error { path, .. } => {
                assert_eq!(path.as_deref(), Some(out.as_path()));
                saw_error = true;
            }
            WatchEvent::Missing { path } => {
                assert_eq!(path, file);
                saw_missing = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_quiet(&mut rx, quiet(), "one Error, one Missing").await;

    // `cargo build`
    fs::create_dir(&out).unwrap();
    let v2 = module(2, 64);
    atomic_write(&file, &v2);
    expect_ready(next_event(&mut rx, "directory back").await, &file, &v2);
    assert_quiet(&mut rx, quiet(), "one Ready").await;
    assert_eq!(watcher.watched(), vec![file]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_big_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.wasm");
    let (mut watcher, mut rx) = FileWatcher::new(WatchConfig {
        max_file_size: 1_000,
        ..cfg()
    })
    .unwrap();
    watcher.watch(&file).unwrap();
    fs::write(&file, module(1, 4_000)).unwrap();
    match next_event(&mut rx, "big").await {
        WatchEvent::Invalid { reason, .. } => assert!(reason.contains("limit"), "{reason}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut watcher, _rx) = FileWatcher::new(cfg()).unwrap();
    assert!(matches!(
        watcher.watch(&dir.path().join("no/such/dir/x.wasm")),
        Err(WatchError::Dir { .. })
    ));
    assert!(matches!(
        watcher.watch(dir.path()),
        Err(WatchError::IsDir { .. })
    ));
    assert!(matches!(
        watcher.watch(Path::new("/")),
        Err(WatchError::NoFileName { .. })
    ));
    // Another spelling of a watched file is the same file.
    let file = dir.path().join("x.wasm");
    watcher.watch(&file).unwrap();
    watcher.watch(&dir.path().join(".").join("x.wasm")).unwrap();
    assert_eq!(watcher.watched(), vec![file.clone()]);
    watcher.unwatch(&dir.path().join(".").join("x.wasm"));
    assert!(watcher.watched().is_empty());
}

#[test]
fn handles_can_move_between_tasks() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<FileWatcher>();
    send_and_sync::<Builder>();
    send_and_sync::<WatchEvent>();
    send_and_sync::<BuildEvent>();
}

#[test]
fn new_outside_a_runtime_is_an_error() {
    assert!(matches!(
        FileWatcher::new(WatchConfig::default()),
        Err(WatchError::NoRuntime)
    ));
    assert!(matches!(
        Builder::start(BuildConfig::new("true")),
        Err(WatchError::NoRuntime)
    ));
}

// ---------------------------------------------------------------------------------------------
// Builder

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    src: PathBuf,
}

/// A temp project: `src/src.txt`, `src/mode.txt`, and the build runs in the project root.
fn project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let src = root.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("src.txt"), "v1").unwrap();
    fs::write(src.join("mode.txt"), "fast").unwrap();
    Project {
        _dir: dir,
        root,
        src,
    }
}

fn build_cfg(p: &Project, command: &str) -> BuildConfig {
    BuildConfig {
        sources: vec![p.src.clone()],
        cwd: Some(p.root.clone()),
        debounce: debounce(),
        ..BuildConfig::new(command)
    }
}

/// Events up to and including the run's `Finished` or `Cancelled`.
async fn until_done(rx: &mut Receiver<BuildEvent>, what: &str) -> Vec<BuildEvent> {
    let mut got = Vec::new();
    loop {
        let ev = next_event(rx, what).await;
        let done = matches!(
            ev,
            BuildEvent::Finished { .. } | BuildEvent::Cancelled { .. }
        );
        got.push(ev);
        if done {
            return got;
        }
    }
}

fn output_lines(events: &[BuildEvent]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Output { line, stderr, .. } => Some((line.clone(), *stderr)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_change_runs_the_build() {
    let p = project();
    let (_builder, mut rx) =
        Builder::start(build_cfg(&p, "echo built; cp src/src.txt out.txt")).unwrap();
    assert_quiet(&mut rx, quiet(), "no build before a change").await;

    fs::write(p.src.join("src.txt"), "v2").unwrap();
    let events = until_done(&mut rx, "build").await;
    match &events[0] {
        BuildEvent::Started { run, trigger } => {
            assert_eq!(*run, 1);
            assert_eq!(trigger, &vec![p.src.join("src.txt")]);
        }
        other => panic!("expected Started, got {other:?}"),
    }
    assert_eq!(output_lines(&events), vec![("built".to_owned(), false)]);
    match events.last().unwrap() {
        BuildEvent::Finished {
            run, success, code, ..
        } => {
            assert_eq!((*run, *success, *code), (1, true, Some(0)));
        }
        other => panic!("expected Finished, got {other:?}"),
    }
    assert_eq!(fs::read_to_string(p.root.join("out.txt")).unwrap(), "v2");
    // The build read its sources and wrote outside them: no second run.
    assert_quiet(&mut rx, quiet(), "one change, one build").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_build_reports_its_code_and_stderr() {
    let p = project();
    let (builder, mut rx) =
        Builder::start(build_cfg(&p, "echo 'error[E0425]: oops' >&2; exit 3")).unwrap();
    builder.trigger();
    let events = until_done(&mut rx, "failing build").await;
    assert!(matches!(&events[0], BuildEvent::Started { run: 1, trigger } if trigger.is_empty()));
    assert_eq!(
        output_lines(&events),
        vec![("error[E0425]: oops".to_owned(), true)]
    );
    assert!(
        matches!(
            events.last().unwrap(),
            BuildEvent::Finished {
                run: 1,
                success: false,
                code: Some(3),
                ..
            }
        ),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_during_a_long_build_cancels_it_and_builds_again() {
    let p = project();
    fs::write(p.src.join("mode.txt"), "slow").unwrap();
    // The mode is read once: the test rewrites the file as soon as the first line arrives, so a
    // second read could already see "fast" and finish before the cancel lands.
    let cmd =
        r#"m=$(cat src/mode.txt); echo "mode $m"; if [ "$m" = slow ]; then sleep 5; fi; echo done"#;
    let (builder, mut rx) = Builder::start(build_cfg(&p, cmd)).unwrap();
    builder.trigger();
    assert!(matches!(
        next_event(&mut rx, "start").await,
        BuildEvent::Started { run: 1, .. }
    ));
    match next_event(&mut rx, "first line").await {
        BuildEvent::Output { run: 1, line, .. } => assert_eq!(line, "mode slow"),
        other => panic!("{other:?}"),
    }
    let changed = Instant::now();
    fs::write(p.src.join("mode.txt"), "fast").unwrap();
    let first = until_done(&mut rx, "cancel").await;
    assert_eq!(first, vec![BuildEvent::Cancelled { run: 1 }]);
    assert!(
        changed.elapsed() < Duration::from_secs(4),
        "cancelled at once, not after the sleep"
    );
    let second = until_done(&mut rx, "second build").await;
    assert!(
        matches!(&second[0], BuildEvent::Started { run: 2, trigger } if trigger == &vec![p.src.join("mode.txt")])
    );
    assert_eq!(
        output_lines(&second),
        vec![("mode fast".to_owned(), false), ("done".to_owned(), false)]
    );
    assert!(matches!(
        second.last().unwrap(),
        BuildEvent::Finished {
            run: 2,
            success: true,
            ..
        }
    ));
    assert_quiet(&mut rx, quiet(), "no third build").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_under_target_and_git_do_not_trigger() {
    let p = project();
    fs::create_dir(p.src.join("sub")).unwrap();
    // The build writes into the watched source dir's target/ (and a nested one): no loop.
    let cmd = "mkdir -p src/target/debug src/sub/target && date +%s%N > src/target/debug/out.wasm \
               && date +%s%N > src/sub/target/x && cat src/src.txt > /dev/null";
    let (builder, mut rx) = Builder::start(build_cfg(&p, cmd)).unwrap();
    builder.trigger();
    let events = until_done(&mut rx, "build").await;
    assert!(
        matches!(
            events.last().unwrap(),
            BuildEvent::Finished { success: true, .. }
        ),
        "{events:?}"
    );
    assert_quiet(
        &mut rx,
        quiet(),
        "the build's own outputs do not retrigger it",
    )
    .await;

    // By hand too, plus .git and editor temp files.
    fs::write(p.src.join("target/debug/more"), "x").unwrap();
    fs::create_dir_all(p.src.join(".git")).unwrap();
    fs::write(p.src.join(".git/index"), "x").unwrap();
    fs::write(p.src.join(".src.txt.swp"), "x").unwrap();
    fs::write(p.src.join("src.txt~"), "x").unwrap();
    assert_quiet(&mut rx, quiet(), "ignored paths").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_ignores_and_new_directories() {
    let p = project();
    let mut cfg = build_cfg(&p, "true");
    cfg.ignore = vec![p.src.join("gen")];
    let (_builder, mut rx) = Builder::start(cfg).unwrap();
    fs::create_dir(p.src.join("gen")).unwrap();
    fs::write(p.src.join("gen/out.rs"), "x").unwrap();
    assert_quiet(&mut rx, quiet(), "ignored dir").await;

    fs::create_dir(p.src.join("module")).unwrap();
    until_done(&mut rx, "new dir").await;
    // A file in the new directory is seen: the directory got its own watch.
    fs::write(p.src.join("module/lib.rs"), "fn main() {}").unwrap();
    let events = until_done(&mut rx, "file in new dir").await;
    assert!(
        matches!(&events[0], BuildEvent::Started { trigger, .. } if trigger == &vec![p.src.join("module/lib.rs")]),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatty_build_output_is_bounded() {
    let p = project();
    let cmd = "seq 1 2100; head -c 10000 /dev/zero | tr '\\0' x; echo";
    let (builder, mut rx) = Builder::start(build_cfg(&p, cmd)).unwrap();
    builder.trigger();
    let events = until_done(&mut rx, "chatty build").await;
    let lines = output_lines(&events);
    assert_eq!(lines.len(), lattice_tui::watch::MAX_LINES_PER_RUN + 1);
    assert_eq!(lines[0].0, "1");
    assert_eq!(lines.last().unwrap().0, "… 101 more lines");
    assert!(matches!(
        events.last().unwrap(),
        BuildEvent::Finished { success: true, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lines_are_cut() {
    let p = project();
    let cmd = "head -c 10000 /dev/zero | tr '\\0' x; echo; printf '\\033[1;31mred\\033[0m\\n'";
    let (builder, mut rx) = Builder::start(build_cfg(&p, cmd)).unwrap();
    builder.trigger();
    let lines = output_lines(&until_done(&mut rx, "long line").await);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].0.len() < 4200 && lines[0].0.ends_with('…'),
        "{}",
        lines[0].0.len()
    );
    assert_eq!(lines[1].0, "red");
}

/// Whether `pid` is gone (or a zombie waiting for its new parent to reap it).
fn is_dead(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

async fn wait_dead(pid: u32, what: &str) {
    let deadline = Instant::now() + event_timeout();
    while !is_dead(pid) {
        assert!(Instant::now() < deadline, "{what} (pid {pid}) still alive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a build that runs `sleep 30` in the background and prints the pids of the shell and
/// the sleep.
async fn start_sleeper(p: &Project) -> (Builder, Receiver<BuildEvent>, u32, u32) {
    let (builder, mut rx) =
        Builder::start(build_cfg(p, "sleep 30 & echo \"$$ $!\"; wait")).unwrap();
    builder.trigger();
    assert!(matches!(
        next_event(&mut rx, "start").await,
        BuildEvent::Started { .. }
    ));
    let line = match next_event(&mut rx, "pids").await {
        BuildEvent::Output { line, .. } => line,
        other => panic!("{other:?}"),
    };
    let (sh, sleep) = line.split_once(' ').unwrap();
    let (sh, sleep): (u32, u32) = (sh.parse().unwrap(), sleep.parse().unwrap());
    assert!(!is_dead(sleep));
    (builder, rx, sh, sleep)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_builder_kills_the_whole_build() {
    let p = project();
    let (builder, mut rx, sh, sleep) = start_sleeper(&p).await;
    drop(builder);
    wait_dead(sleep, "the build's child").await;
    wait_dead(sh, "the build's shell").await;
    // The channel ends without a Finished.
    loop {
        match tokio::time::timeout(event_timeout(), rx.recv()).await {
            Ok(None) => break,
            Ok(Some(BuildEvent::Finished { .. })) => panic!("a killed build does not finish"),
            Ok(Some(_)) => {}
            Err(_) => panic!("the channel did not end"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_build_kills_its_children() {
    let p = project();
    let (builder, mut rx, sh, sleep) = start_sleeper(&p).await;
    builder.trigger();
    assert_eq!(
        until_done(&mut rx, "cancel").await,
        vec![BuildEvent::Cancelled { run: 1 }]
    );
    wait_dead(sleep, "the cancelled build's child").await;
    wait_dead(sh, "the cancelled build's shell").await;
    assert!(matches!(
        next_event(&mut rx, "restart").await,
        BuildEvent::Started { run: 2, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_start_errors() {
    let p = project();
    assert!(matches!(
        Builder::start(build_cfg(&p, "  ")),
        Err(WatchError::EmptyCommand)
    ));
    let mut cfg = build_cfg(&p, "true");
    cfg.sources.push(p.root.join("nope"));
    assert!(matches!(
        Builder::start(cfg),
        Err(WatchError::BuildDir { .. })
    ));
    let mut cfg = build_cfg(&p, "true");
    cfg.cwd = Some(p.src.join("src.txt"));
    assert!(matches!(
        Builder::start(cfg),
        Err(WatchError::BuildDir { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_command_fails_with_the_shells_message() {
    let p = project();
    let (builder, mut rx) = Builder::start(build_cfg(&p, "exec /no/such/binary")).unwrap();
    builder.trigger();
    let events = until_done(&mut rx, "missing binary").await;
    assert!(
        matches!(
            events.last().unwrap(),
            BuildEvent::Finished {
                success: false,
                code: Some(127),
                ..
            }
        ),
        "{events:?}"
    );
    assert!(!output_lines(&events).is_empty(), "the shell says why");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_that_cannot_be_spawned_reports_an_error_and_fails() {
    let p = project();
    let cwd = p.root.join("work");
    fs::create_dir(&cwd).unwrap();
    let mut cfg = build_cfg(&p, "true");
    cfg.cwd = Some(cwd.clone());
    let (builder, mut rx) = Builder::start(cfg).unwrap();
    fs::remove_dir(&cwd).unwrap();
    builder.trigger();
    let events = until_done(&mut rx, "no cwd").await;
    assert!(
        events.iter().any(
            |e| matches!(e, BuildEvent::Error { message } if message.contains("cannot start"))
        ),
        "{events:?}"
    );
    assert!(
        matches!(
            events.last().unwrap(),
            BuildEvent::Finished {
                run: 1,
                success: false,
                code: None,
                ..
            }
        ),
        "{events:?}"
    );
}

/// With `candidates`, the settle check's first look is announced (so the host can compile
/// while stability is confirmed) and then confirmed by a `Ready` with the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_announce_the_bytes_before_ready_confirms_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().canonicalize().unwrap().join("hello.wasm");
    fs::write(&file, module(1, 64)).unwrap();
    let (mut watcher, mut rx) = FileWatcher::new(WatchConfig {
        candidates: true,
        ..cfg()
    })
    .unwrap();
    watcher.watch(&file).unwrap();
    let v2 = module(2, 64);
    atomic_write(&file, &v2);
    match next_event(&mut rx, "candidate").await {
        WatchEvent::Candidate { path, bytes } => {
            assert_eq!(path, file);
            assert_eq!(&*bytes, &v2[..]);
        }
        other => panic!("expected a Candidate first, got {other:?}"),
    }
    expect_ready(next_event(&mut rx, "ready").await, &file, &v2);
    assert_quiet(&mut rx, quiet(), "one candidate, one Ready").await;
}
