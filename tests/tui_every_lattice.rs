//! `--lattice '*'` end to end: two headless lattice-tui hosts in lattices `alpha` and `beta`
//! on a real nats-server, one console following every lattice in tmux. The console finds both
//! (their metadata buckets and events), `:lattice alpha` shows only alpha, an action goes to
//! the focused lattice — checked from outside with `snapshot --json` per lattice — and an
//! action that could go to both is refused.

mod common;

use common::NatsServer;
use common::e2e::{HeadlessHost, actor_count, snapshot};
use common::tmux::Pane;

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");

/// A headless host in `lattice` running the `hello` actor, heartbeating every 5 s.
fn headless(nats: &NatsServer, lattice: &str, name: &str) -> HeadlessHost {
    let hello = common::actors::actor_wasm("hello");
    let dir = hello.parent().expect("actor dir").to_path_buf();
    let hello = hello.display().to_string();
    HeadlessHost::start(
        &nats.url(),
        lattice,
        name,
        &dir,
        &["--heartbeat-interval", "5", "--actor", &hello],
    )
}

/// Instances of `hello` on host `name` of `lattice`, from a `snapshot --json` of that
/// lattice alone.
fn instances(nats: &NatsServer, lattice: &str, name: &str) -> u64 {
    actor_count(&snapshot(&nats.url(), lattice), name, "hello")
}

/// The header's resync count (every lattice's together).
fn resyncs(screen: &str) -> u64 {
    screen
        .split("resyncs ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_console_following_every_lattice_shows_both_focuses_one_and_acts_in_it() {
    let nats = NatsServer::start();
    let _alpha = headless(&nats, "alpha", "alpha-host");
    let _beta = headless(&nats, "beta", "beta-host");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("console.log");
    let pane = Pane::start(&format!(
        "env NO_COLOR=1 RUST_BACKTRACE=0 {BIN} --no-host --nats {} --lattice '*' --log-file {}",
        nats.url(),
        log.display()
    ));
    pane.wait_for("both lattices resynced, and their hosts", |s| {
        s.contains("* (2 found)")
            && s.contains("alpha-host")
            && s.contains("beta-host")
            && resyncs(s) >= 2
    });
    pane.keys(":");
    pane.keys("lattice alpha");
    pane.keys("Enter");
    pane.wait_for("only alpha", |s| {
        s.contains("alpha of 2") && s.contains("alpha-host") && !s.contains("beta-host")
    });
    pane.keys(":");
    pane.keys("scale hello 2");
    pane.keys("Enter");
    pane.wait_for("the outcome in alpha", |s| {
        s.contains("scale hello 2: 2 running")
    });
    assert_eq!(instances(&nats, "alpha", "alpha-host"), 2, "alpha scaled");
    assert_eq!(instances(&nats, "beta", "beta-host"), 1, "beta untouched");
    pane.keys(":");
    pane.keys("lattice");
    pane.keys("Enter");
    pane.wait_for("every lattice again", |s| {
        s.contains("showing every lattice")
    });
    pane.keys(":");
    pane.keys("scale hello 3");
    pane.keys("Enter");
    pane.wait_for("the refusal naming both lattices", |s| {
        s.contains("it could go to 2 lattices (alpha, beta)")
    });
    assert_eq!(instances(&nats, "alpha", "alpha-host"), 2);
    assert_eq!(instances(&nats, "beta", "beta-host"), 1);
    pane.keys("q");
    pane.wait_for("the console to exit", |s| s.contains("EXIT=0"));
}
