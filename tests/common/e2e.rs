//! The end-to-end driver of the `:` command tests (`tests/e2e_*.rs`): the real console in a
//! tmux [`Pane`] (type a command line, answer a question, wait for the status line), a
//! headless lattice-tui host as a child process, and the checks from outside the console —
//! `lattice-tui snapshot --json` over NATS and HTTP to the actors.
//!
//! Builds on `tmux::Pane` without changing it (other test files use its API as it is).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::scaled;
use super::tmux::Pane;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");

/// How long an outcome may take on a busy machine before a wait fails (scaled). Longer than
/// the console's own 30 s outcome timeout would be pointless: past it the status line says
/// `timed out`, which the waits below treat as a failure at once.
const OUTCOME_WAIT: Duration = Duration::from_secs(35);

/// A console running in a tmux pane, with its log file.
pub struct Console {
    pub pane: Pane,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Console {
    /// Starts `lattice-tui {args}` (plain theme, its own log file).
    pub fn start(args: &str) -> Console {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("console.log");
        let pane = Pane::start(&format!(
            "env NO_COLOR=1 RUST_BACKTRACE=0 {BIN} {args} --log-file {}",
            log.display()
        ));
        Console {
            pane,
            log,
            _dir: dir,
        }
    }

    /// Types `text` literally (no tmux key names).
    pub fn type_text(&self, text: &str) {
        self.pane.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Opens the command line, types `line` and presses Enter.
    pub fn command(&self, line: &str) {
        self.pane.keys(":");
        self.type_text(line);
        self.pane.keys("Enter");
    }

    /// Presses one key (a tmux key name or a character).
    pub fn key(&self, key: &str) {
        self.pane.keys(key);
    }

    /// Waits until `pred` holds for the screen, failing with the screen and the log's tail.
    /// A status line saying `timed out` ends the wait at once (the console gave up).
    pub fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + scaled(OUTCOME_WAIT);
        loop {
            let s = self.pane.screen();
            if pred(&s) {
                return s;
            }
            let gave_up = s.contains(": timed out after");
            assert!(
                Instant::now() < deadline && !gave_up,
                "waiting for {what}; screen:\n{s}\nlog (tail):\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the screen contains `text`.
    pub fn wait_text(&self, text: &str) -> String {
        self.wait(&format!("`{text}`"), |s| s.contains(text))
    }

    /// Runs `line` and waits for `outcome` (the whole status line is `line: outcome`).
    pub fn run(&self, line: &str, outcome: &str) -> String {
        self.command(line);
        self.wait_text(&format!("{line}: {outcome}"))
    }

    /// Runs a line that ends in an error on the status line (`:line: error`).
    pub fn run_error(&self, line: &str, error: &str) -> String {
        self.command(line);
        self.wait_text(&format!(":{line}: {error}"))
    }

    /// Quits with `line` (`q`, `quit`, `q!`) and checks the console exits 0 with the
    /// terminal restored.
    pub fn quit_with(&self, line: &str) {
        self.command(line);
        let after = self.wait("the console to exit", |s| s.contains("EXIT="));
        assert!(after.contains("EXIT=0"), "{after}");
        assert!(!self.pane.alternate_screen(), "the terminal is restored");
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// A headless lattice-tui host (`lattice-tui --no-ui --nats URL …`) as a child process,
/// stopped by SIGTERM when dropped.
pub struct HeadlessHost {
    child: Option<Child>,
    pub name: String,
    _dir: tempfile::TempDir,
}

impl HeadlessHost {
    /// Starts a host named `name` on `lattice` at `url` that lets clients load files from
    /// `allow` (and takes `extra` arguments), and waits until a snapshot sees it.
    pub fn start(url: &str, lattice: &str, name: &str, allow: &Path, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("stderr file");
        let child = Command::new(BIN)
            .args(["--no-ui", "--nats", url, "--lattice", lattice])
            .args(["--friendly-name", name])
            .arg("--allow-file-load")
            .arg(allow)
            .arg("--log-dir")
            .arg(dir.path().join("logs"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("start the headless host");
        let host = HeadlessHost {
            child: Some(child),
            name: name.to_owned(),
            _dir: dir,
        };
        wait_snapshot(url, lattice, &format!("host {name} in a snapshot"), |m| {
            host_id(m, name).is_some()
        });
        host
    }

    /// Kills the process with SIGKILL — no drain, no `host_stopped`: a host that dies — and
    /// reaps it.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last `lines` lines the host wrote to stderr (its log), for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether the process has exited (e.g. after `stop-host`), waiting up to `limit`.
    pub fn exited_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + scaled(limit);
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for HeadlessHost {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SIGTERM: the host drains and says host_stopped; kill if it takes too long.
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `lattice-tui snapshot --json` of `lattice` at `url`: the model as another client sees it.
pub fn snapshot(url: &str, lattice: &str) -> Value {
    let out = Command::new(BIN)
        .args(["snapshot", "--json", "--nats", url, "--lattice", lattice])
        .output()
        .expect("run lattice-tui snapshot");
    assert!(
        out.status.success(),
        "snapshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("snapshot --json prints JSON")
}

/// Takes snapshots until `pred` holds for one (the lattice settles after an outcome: a
/// heartbeat or inventory may lag the event the console saw), failing with the last one.
pub fn wait_snapshot(url: &str, lattice: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + scaled(OUTCOME_WAIT);
    loop {
        let m = snapshot(url, lattice);
        if pred(&m) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "snapshot never showed {what}:\n{m:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The id of the host called `name` in a snapshot.
pub fn host_id(m: &Value, name: &str) -> Option<String> {
    m["hosts"]
        .as_object()?
        .iter()
        .find(|(_, h)| h["friendly_name"] == name)
        .map(|(id, _)| id.clone())
}

/// Instances of the actor named `actor` (claims name) on the host called `host`.
pub fn actor_count(m: &Value, host: &str, actor: &str) -> u64 {
    let Some(id) = host_id(m, host) else {
        return 0;
    };
    m["hosts"][&id]["actors"]
        .as_object()
        .map(|actors| {
            actors
                .values()
                .filter(|a| a["name"] == actor)
                .map(|a| {
                    let listed = a["instances"].as_object().map_or(0, |i| i.len() as u64);
                    listed.saturating_add(a["unidentified"].as_u64().unwrap_or(0))
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The revision of the actor named `actor` on the host called `host`.
pub fn actor_revision(m: &Value, host: &str, actor: &str) -> Option<i64> {
    let id = host_id(m, host)?;
    m["hosts"][&id]["actors"]
        .as_object()?
        .values()
        .find(|a| a["name"] == actor)?["revision"]
        .as_i64()
}

/// The public key of the actor named `actor`, on any host.
pub fn actor_key(m: &Value, actor: &str) -> Option<String> {
    m["hosts"].as_object()?.values().find_map(|h| {
        h["actors"]
            .as_object()?
            .iter()
            .find(|(_, a)| a["name"] == actor)
            .map(|(k, _)| k.clone())
    })
}

/// The link names under which the provider started from `reference` runs on `host`.
pub fn provider_link_names(m: &Value, host: &str, reference: &str) -> Vec<String> {
    let Some(id) = host_id(m, host) else {
        return Vec::new();
    };
    let mut names: Vec<String> = m["hosts"][&id]["providers"]
        .as_object()
        .map(|ps| {
            ps.values()
                .filter(|p| p["image_ref"] == reference)
                .filter_map(|p| p["link_name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The lattice's links as `(actor_id, contract_id, link_name)`.
pub fn links(m: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = m["links"]
        .as_object()
        .map(|ls| {
            ls.values()
                .map(|l| {
                    let s = |k: &str| l[k].as_str().unwrap_or_default().to_owned();
                    (s("actor_id"), s("contract_id"), s("link_name"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// A blocking `GET /` on 127.0.0.1:`port` (HTTP/1.0): status and body, or the error.
pub fn http_get(port: u16) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(b"GET / HTTP/1.0\r\nhost: x\r\n\r\n")?;
    let mut out = String::new();
    c.read_to_string(&mut out)?;
    Ok(super::split_response(&out))
}

/// Polls `GET /` on `port` until `pred` holds for its result (a link or an update takes
/// effect a moment after the event that announces it).
pub fn wait_http(
    port: u16,
    what: &str,
    pred: impl Fn(&std::io::Result<(u16, String)>) -> bool,
) -> std::io::Result<(u16, String)> {
    let deadline = Instant::now() + scaled(OUTCOME_WAIT);
    loop {
        let r = http_get(port);
        if pred(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "HTTP never showed {what}: {r:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The body the example actor `hello` answers with.
pub const HELLO: &str = "Hello from lattice-tui!";

/// Copies the built test actors `names` into a fresh directory (which a host can allow with
/// `--allow-file-load`) and returns it.
pub fn actor_dir(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in names {
        let src = super::actors::actor_wasm(name);
        std::fs::copy(&src, dir.path().join(format!("{name}.wasm"))).expect("copy actor");
    }
    dir
}
