//! Regression tests of the hardening issue that need a real nats-server: readiness before
//! `host_started` on NATS, and a host that must stop (exit 0, within its grace) when the
//! lattice is gone — on SIGTERM and on `cmd.{host}.stop`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::actors::actor_wasm;
use common::lattice::{T, ack, event};
use common::{NatsServer, connect_bus, free_port, scaled, within};
use lattice_tui::host::{self, HostConfig};
use lattice_tui::lattice::protocol::EventData;
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_acting_on_host_started_is_answered_over_nats() {
    let nats = NatsServer::start();
    let client = connect_bus(&nats.url()).await;
    let s = Subjects::new("ready");
    let mut events = client.subscribe(&s.events()).await.expect("subscribe");
    client.flush().await.expect("flush");
    let mut cfg = HostConfig::new("ready");
    cfg.faults.ctl_subscribe_delay = Some(scaled(Duration::from_millis(300)));
    let host_bus = connect_bus(&nats.url()).await;
    let starting = tokio::spawn(host::start(host_bus, cfg));
    let started = event(&mut events, "host_started", |e| {
        matches!(e.data, EventData::HostStarted(_))
    })
    .await;
    let pings = client
        .scatter_gather(
            &s.ping_hosts(),
            Bytes::new(),
            scaled(Duration::from_secs(1)),
        )
        .await
        .expect("ping");
    assert_eq!(pings.len(), 1, "replies to a ping right after host_started");
    let a = ack(
        &client,
        &s.host_command(&started.source, CmdVerb::Scale),
        json!({"actor_ref": "nothing.wasm", "count": 0}),
    )
    .await;
    assert!(a.accepted, "{a:?}");
    let host = starting.await.expect("join").expect("host starts");
    host.stop();
    within(T, "host stop", host.stopped()).await;
}

/// A headless host on `nats`, started with the hello actor served over HTTP; returns once it
/// serves, with its stderr lines arriving on the channel.
fn headless_host(nats: &NatsServer, lattice: &str) -> (Child, mpsc::Receiver<String>) {
    let logs = tempfile::tempdir().expect("tempdir").keep();
    let mut child = Command::new(BIN)
        .args(["--no-ui", "--nats", &nats.url(), "--lattice", lattice])
        .arg("--actor")
        .arg(actor_wasm("hello"))
        .args(["--http", &format!("127.0.0.1:{}", free_port())])
        .arg("--log-dir")
        .arg(&logs)
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run lattice-tui --no-ui");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    wait_line(&rx, "serving on http://", scaled(Duration::from_secs(60)));
    (child, rx)
}

/// Waits for a stderr line containing `what`; returns every line read so far.
fn wait_line(rx: &mpsc::Receiver<String>, what: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = line.contains(what);
                seen.push(line);
                if hit {
                    return seen;
                }
            }
            Err(_) => panic!(
                "no line with {what:?} within {limit:?}; got:\n{}",
                seen.join("\n")
            ),
        }
    }
}

/// Waits for the process to exit within `limit`; kills it and fails otherwise.
fn exits_within(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the host was still running {limit:?} after it was asked to stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How long a stop may take: the drain grace (10 s, nothing in flight here), the bounded
/// announcement (3 s), the tasks' end (5 s) and the runtimes' (2 + 2 s), with room to spare.
const STOP_LIMIT: Duration = Duration::from_secs(30);

fn rest(rx: &mpsc::Receiver<String>) -> String {
    let mut out = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        out.push(l);
    }
    out.join("\n")
}

#[test]
fn sigterm_finishes_while_nats_is_unreachable() {
    let mut nats = NatsServer::start();
    let (mut child, rx) = headless_host(&nats, "term");
    nats.kill();
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = exits_within(&mut child, scaled(STOP_LIMIT));
    let log = rest(&rx);
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(
        log.contains("host_stopped could not be delivered"),
        "the log says the lattice did not hear of the stop:\n{log}"
    );
}

#[test]
fn cmd_stop_finishes_when_nats_goes_away_right_after_the_ack() {
    let mut nats = NatsServer::start();
    let (mut child, rx) = headless_host(&nats, "stopcmd");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = connect_bus(&nats.url()).await;
        let s = Subjects::new("stopcmd");
        let hosts = client
            .scatter_gather(
                &s.ping_hosts(),
                Bytes::new(),
                scaled(Duration::from_secs(1)),
            )
            .await
            .expect("ping");
        let id: String = serde_json::from_slice::<serde_json::Value>(&hosts[0].payload)
            .expect("ping reply")["id"]
            .as_str()
            .expect("id")
            .to_string();
        let a = ack(
            &client,
            &s.host_command(&id, CmdVerb::StopHost),
            json!({"timeout": 2000}),
        )
        .await;
        assert!(a.accepted, "{a:?}");
    });
    nats.kill();
    let status = exits_within(&mut child, scaled(STOP_LIMIT));
    let log = rest(&rx);
    assert!(status.success(), "exit status {status}; log:\n{log}");
}
