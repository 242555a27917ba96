//! `lattice-tui --no-ui` as a user runs it: a headless host on a real nats-server serving an
//! actor over HTTP; SIGTERM while requests are in flight lets them finish, `host_stopped`
//! reaches NATS, and the process exits 0. Logs are JSON when asked.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::actors::actor_wasm;
use common::{NatsServer, connect_bus, free_port, http_get, scaled, within};
use lattice_tui::lattice::protocol::{EventData, LatticeEvent};
use lattice_tui::lattice::subjects::Subjects;

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");

fn sigterm(pid: u32) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Guest calls in flight on the actor served on `port`, from the host's info endpoint.
async fn in_flight(port: u16) -> Option<u64> {
    let (status, body) = http_get(port, "/.well-known/lattice/info").await.ok()?;
    if status != 200 {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
    doc["routes"][0]["stats"]["in_flight"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_says_host_stopped() {
    let nats = NatsServer::start();
    let bus = connect_bus(&nats.url()).await;
    let mut events = bus
        .subscribe(&Subjects::new("default").events())
        .await
        .unwrap();
    common::round_trip(&bus, "the event subscription reaches the server").await;
    let port = free_port();
    let logs = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args([
            "--no-ui",
            "--nats",
            &nats.url(),
            "--log-format",
            "json",
            "--log-dir",
        ])
        .arg(logs.path())
        .arg("--actor")
        .arg(actor_wasm("slow"))
        .args(["--http", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    within(Duration::from_secs(30), "the host serves HTTP", async {
        while !matches!(
            http_get(port, "/.well-known/lattice/health").await,
            Ok((200, _))
        ) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    // Five requests that each take 1.5 s; SIGTERM arrives while all are in flight.
    let started = Instant::now();
    let inflight: Vec<_> = (0..5)
        .map(|_| tokio::spawn(http_get(port, "/?ms=1500")))
        .collect();
    within(
        Duration::from_secs(10),
        "all five requests in the guest",
        async {
            while in_flight(port).await != Some(5) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    )
    .await;
    sigterm(pid);
    for r in inflight {
        let (status, body) = within(Duration::from_secs(15), "in-flight request", r)
            .await
            .unwrap()
            .expect("the in-flight request completes");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("slept 1500 ms"), "{body}");
    }
    assert!(started.elapsed() >= Duration::from_millis(1500));

    // host_stopped reached NATS.
    within(Duration::from_secs(15), "host_stopped on NATS", async {
        loop {
            let msg = events.next().await.expect("subscription open");
            if let Ok(ev) = LatticeEvent::from_json(&msg.payload)
                && matches!(ev.data, EventData::HostStopped(_))
            {
                return;
            }
        }
    })
    .await;

    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "a drained stop exits 0");
    // New connections are refused once the host is gone.
    assert!(http_get(port, "/").await.is_err());
    // Structured logs: every stderr line is a JSON object.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            serde_json::from_str::<serde_json::Value>(l).is_ok(),
            "not JSON: {l}"
        );
    }
    assert!(stderr.contains("SIGTERM"), "the log says why it stopped");
    // And the rolling log file got the same lines.
    let files: Vec<_> = std::fs::read_dir(logs.path()).unwrap().collect();
    assert!(!files.is_empty(), "a log file in --log-dir");
}

#[test]
fn bad_usage_exits_2_and_a_failed_start_exits_1() {
    let out = Command::new(BIN)
        .args(["--no-ui", "--no-host"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["--no-ui", "--actor", "/definitely/not/here.wasm"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
    assert!(started.elapsed() < scaled(Duration::from_secs(20)));
}
