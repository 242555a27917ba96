//! `lattice-tui dev --no-ui … --build CMD --watch-src DIR` as a developer runs it: a source change
//! runs the build, the build replaces the artifact and the new version answers; a failing build
//! leaves the running version serving; the build's own writes under `target/` do not rebuild.

mod common;

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::actors::actor_wasm;
use common::{free_port, http_get, scaled, within};

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

async fn wait_body(port: u16, want: &str, what: &str) {
    within(T, what, async {
        loop {
            if let Ok((200, body)) = http_get(port, "/").await
                && body.contains(want)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A project directory with `build.sh`, `src/version.txt` and `out/`, and
/// `lattice-tui dev --no-ui out/actor.wasm --build 'sh build.sh' --watch-src src` running in
/// it, killed on drop.
struct DevRun {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    dir: tempfile::TempDir,
    _logs: tempfile::TempDir,
}

impl DevRun {
    /// Starts `dev` with `src/version.txt` saying `version` and, when `artifact` names an actor,
    /// `out/actor.wasm` already built from it.
    fn start(version: &str, artifact: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::write(root.join("build.sh"), BUILD_SH).unwrap();
        std::fs::write(root.join("src/version.txt"), format!("{version}\n")).unwrap();
        if let Some(actor) = artifact {
            std::fs::copy(actor_wasm(actor), root.join("out/actor.wasm")).unwrap();
        }
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
        Self {
            child,
            port,
            log,
            dir,
            _logs: logs,
        }
    }

    /// Edits the source: the next build produces `version`.
    fn set_version(&self, version: &str) {
        std::fs::write(
            self.dir.path().join("src/version.txt"),
            format!("{version}\n"),
        )
        .unwrap();
    }

    /// Builds run so far.
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("runs.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// The headless log so far.
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    async fn wait_log(&self, needle: &str, what: &str) {
        within(T, what, async {
            while !self.log.lock().unwrap().contains(needle) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
}

impl Drop for DevRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_change_builds_and_a_failed_build_keeps_the_running_version() {
    let dev = DevRun::start("hello", Some("hello"));
    wait_body(dev.port, V1, "v1 served at start-up").await;
    assert_eq!(dev.runs(), 0, "no build before a source changes");

    // A source change runs the build; the new artifact is reloaded.
    dev.set_version("echo");
    wait_body(dev.port, V2, "v2 served after the build").await;
    assert_eq!(dev.runs(), 1, "one build for one change");

    // A failing build: reported, and v2 keeps serving.
    dev.set_version("fail");
    dev.wait_log("build failed", "the failed build is logged")
        .await;
    let (status, body) = http_get(dev.port, "/").await.expect("still serving");
    assert_eq!(status, 200);
    assert!(body.contains(V2), "the running version stays: {body}");
    assert!(
        dev.log().contains("error: the source does not compile"),
        "the build's stderr reaches the log"
    );

    // The build wrote into src/target/ each time: that must not have triggered more builds.
    // Only a sleep can show that no build starts: wait out eight of `dev`'s debounce periods
    // (scaled for slow machines) after the failed build was logged, then count the runs.
    tokio::time::sleep(scaled(lattice_tui::watch::DEFAULT_DEBOUNCE * 8)).await;
    assert_eq!(dev.runs(), 2, "the build's own outputs do not rebuild");

    // Fixed again: back to v1.
    dev.set_version("hello");
    wait_body(dev.port, V1, "v1 served after the fix").await;
    let log = dev.log();
    assert!(log.contains("actor reloaded"), "reloads are logged: {log}");
}

/// A fresh checkout: the artifact does not exist yet. `dev --build` runs the build first and
/// starts the actor once it exists; a failing first build waits for the next source change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_artifact_is_built_before_the_actor_starts() {
    let mut dev = DevRun::start("fail", None);
    dev.wait_log("build failed", "the first build runs and fails")
        .await;
    assert_eq!(dev.runs(), 1);
    assert!(
        dev.child.try_wait().unwrap().is_none(),
        "still waiting for a good build, not exited: {}",
        dev.log()
    );
    // The fix: the next build produces the artifact and the actor starts.
    dev.set_version("echo");
    wait_body(dev.port, V2, "the actor starts once built").await;
    assert_eq!(dev.runs(), 2);
}
