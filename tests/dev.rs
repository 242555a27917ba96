//! `lattice-tui dev --no-ui … --build CMD --watch-src DIR` as a developer runs it: a source change
//! runs the build, the build replaces the artifact and the new version answers; a failing build
//! leaves the running version serving; the build's own writes under `target/` do not rebuild.

mod common;

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::actors::actor_wasm;
use common::{free_port, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");
const V1: &str = "Hello from lattice-tui!";
/// The echo actor answers GET with a JSON document naming the method.
const V2: &str = "\"method\":\"GET\"";
const T: Duration = Duration::from_secs(60);

/// The build: copies the actor that `src/version.txt` names to `out/actor.wasm` (temp file +
/// rename, as cargo does), or fails on `fail`. Each run is counted in `runs.log`, and it also
/// writes into `src/target/`, which the build watcher must ignore.
const BUILD_SH: &str = r#"set -e
echo run >> runs.log
mkdir -p src/target
date > src/target/stamp
v=$(cat src/version.txt)
if [ "$v" = fail ]; then
  echo "error: the source does not compile" >&2
  exit 3
fi
case "$v" in
  hello) cp "$HELLO_WASM" out/actor.wasm.tmp ;;
  echo) cp "$ECHO_WASM" out/actor.wasm.tmp ;;
esac
mv out/actor.wasm.tmp out/actor.wasm
echo "built $v"
"#;

async fn get(port: u16) -> std::io::Result<(u16, String)> {
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    c.write_all(b"GET /x HTTP/1.0\r\nhost: x\r\n\r\n").await?;
    let mut out = String::new();
    c.read_to_string(&mut out).await?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    ))
}

async fn wait_body(port: u16, want: &str, what: &str) {
    within(T, what, async {
        loop {
            if let Ok((200, body)) = get(port).await
                && body.contains(want)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs.log"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Collects a child's stderr (the headless log) in the background.
fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().expect("stderr piped");
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    log
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_change_builds_and_a_failed_build_keeps_the_running_version() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("out")).unwrap();
    std::fs::write(root.join("build.sh"), BUILD_SH).unwrap();
    std::fs::write(root.join("src/version.txt"), "hello\n").unwrap();
    std::fs::copy(actor_wasm("hello"), root.join("out/actor.wasm")).unwrap();
    let port = free_port();
    let logs = tempfile::tempdir().unwrap();

    let mut child = Command::new(BIN)
        .current_dir(root)
        .env("HELLO_WASM", actor_wasm("hello"))
        .env("ECHO_WASM", actor_wasm("echo"))
        .args(["dev", "--no-ui", "out/actor.wasm", "--http"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--build", "sh build.sh", "--watch-src", "src", "--log-dir"])
        .arg(logs.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = collect_stderr(&mut child);
    let child = Killed(child);
    wait_body(port, V1, "v1 served at start-up").await;
    assert_eq!(runs(root), 0, "no build before a source changes");

    // A source change runs the build; the new artifact is reloaded.
    std::fs::write(root.join("src/version.txt"), "echo\n").unwrap();
    wait_body(port, V2, "v2 served after the build").await;
    assert_eq!(runs(root), 1, "one build for one change");

    // A failing build: reported, and v2 keeps serving.
    std::fs::write(root.join("src/version.txt"), "fail\n").unwrap();
    within(T, "the failed build is logged", async {
        while !log.lock().unwrap().contains("build failed") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let (status, body) = get(port).await.expect("still serving");
    assert_eq!(status, 200);
    assert!(body.contains(V2), "the running version stays: {body}");
    assert!(
        log.lock()
            .unwrap()
            .contains("error: the source does not compile"),
        "the build's stderr reaches the log"
    );

    // The build wrote into src/target/ each time: that must not have triggered more builds.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(runs(root), 2, "the build's own outputs do not rebuild");

    // Fixed again: back to v1.
    std::fs::write(root.join("src/version.txt"), "hello\n").unwrap();
    wait_body(port, V1, "v1 served after the fix").await;
    let log = log.lock().unwrap().clone();
    assert!(log.contains("actor reloaded"), "reloads are logged: {log}");
    drop(child);
}

/// A fresh checkout: the artifact does not exist yet. `dev --build` runs the build first and
/// starts the actor once it exists; a failing first build waits for the next source change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_artifact_is_built_before_the_actor_starts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("out")).unwrap();
    std::fs::write(root.join("build.sh"), BUILD_SH).unwrap();
    std::fs::write(root.join("src/version.txt"), "fail\n").unwrap();
    let port = free_port();
    let logs = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(root)
        .env("HELLO_WASM", actor_wasm("hello"))
        .env("ECHO_WASM", actor_wasm("echo"))
        .args(["dev", "--no-ui", "out/actor.wasm", "--http"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--build", "sh build.sh", "--watch-src", "src", "--log-dir"])
        .arg(logs.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = collect_stderr(&mut child);
    let mut child = Killed(child);
    within(T, "the first build runs and fails", async {
        while !log.lock().unwrap().contains("build failed") {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(runs(root), 1);
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "still waiting for a good build, not exited: {}",
        log.lock().unwrap()
    );
    // The fix: the next build produces the artifact and the actor starts.
    std::fs::write(root.join("src/version.txt"), "echo\n").unwrap();
    wait_body(port, V2, "the actor starts once built").await;
    assert_eq!(runs(root), 2);
}
