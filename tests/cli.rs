//! The binary's scripting commands against a real nats-server: `snapshot` reflects events
//! published by `scripts/publish-example.sh`, and fails cleanly when NATS is unreachable.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{NatsServer, free_port, scaled};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");
const HOST: &str = "NCHR6BDG7RA3WFILJIK4DPECPAC3Q3LSRAV7FIVK5ITJRWXGAGACO4HJ";
const ECHO: &str = "MAESY6PI7AHFLHSAJPHWMDCI6NJCWZ5LVH7RJBFQGZ7BUTO665BR2BNN";
const KV: &str = "MB6DNXONUZJRZKIZKF4TP536GF5LFWHIJRJBMAUO2ACFR5QWFCC26CIN";
const HTTP: &str = "VDQ65K7ISN7ZJWXL4Y7HN3P6Q766WAQOKKZMB4WTSPG6EMQ35D3FP63B";

#[test]
fn snapshot_reflects_the_published_example_events() {
    let nats = NatsServer::start();
    let mut snap = Command::new(BIN)
        .args(["snapshot", "--json", "--wait"])
        .arg(scaled(Duration::from_secs(3)).as_secs_f64().to_string())
        .args(["--nats", &nats.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lattice-tui snapshot");
    // Publish once the snapshot is following events (it says so on stderr).
    let mut stderr = BufReader::new(snap.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.contains("following wasmbus.evt.default"),
        "stderr: {line}"
    );
    let publish = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/publish-example.sh"
    ))
    .arg(nats.url())
    .env("LATTICE_TUI", BIN)
    .status()
    .expect("run publish-example.sh");
    assert!(publish.success());
    let out = snap.wait_with_output().unwrap();
    assert!(out.status.success(), "snapshot failed");
    let model: Value = serde_json::from_slice(&out.stdout).expect("snapshot prints JSON");

    let host = &model["hosts"][HOST];
    assert_eq!(host["friendly_name"], "silent-breeze-1234");
    assert_eq!(host["version"], "0.63.2");
    assert_eq!(host["labels"]["hostcore.os"], "linux");
    assert_eq!(host["actors"][ECHO]["count"], 2);
    assert_eq!(host["actors"][KV]["count"], 1);
    let provider = &host["providers"][format!("{HTTP}/default")];
    assert_eq!(provider["contract_id"], "wasmcloud:httpserver");
    assert_eq!(
        provider["health"], "unhealthy",
        "health_check_failed applied"
    );
    let links = model["links"].as_object().unwrap();
    assert_eq!(links.len(), 1);
    let link = links.values().next().unwrap();
    assert_eq!(link["actor_id"], ECHO);
    assert_eq!(link["provider_id"], HTTP);
    assert_eq!(link["values"]["PORT"], "8080");
    assert_eq!(model["events"]["entries"].as_array().unwrap().len(), 3);
}

#[test]
fn snapshot_fails_with_a_clear_error_when_nats_is_unreachable() {
    let port = free_port();
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["snapshot", "--nats", &format!("nats://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the lattice"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(out.stdout.is_empty());
    assert!(started.elapsed() < scaled(Duration::from_secs(10)));
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(BIN)
        .args(["snapshot", "--wait", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN).args(["--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn emit_refuses_events_that_do_not_decode() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"specversion\":\"1.0\"}").unwrap();
    let out = Command::new(BIN)
        .args(["emit", "--nats", "nats://127.0.0.1:1"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json:1: not a CloudEvent"));
}
