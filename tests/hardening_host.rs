//! Regression tests for what lattice clients, files and guests can make the embedded host do
//! (the hardening issue), driven over the in-process lattice the way a client drives it:
//! readiness before `host_started`, which files a client may name and how they are read, the
//! instance and work limits, auctions, the order of the stop ack, the supervised lattice-data
//! watch, and what a failing guest call tells its client.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use common::actors::actor_wasm;
use common::lattice::{T, ack, event, inventory};
use common::{free_port, http_get, scaled, within};
use futures::FutureExt as _;
use lattice_tui::host::lattice_data::LatticeData;
use lattice_tui::host::{self, Host, HostConfig, HostLimits, builtin_http_key};
use lattice_tui::lattice::bus::{Bus, Subscription};
use lattice_tui::lattice::protocol::{EventData, LatticeEvent, LinkDefinition};
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use serde_json::json;

/// A host on its own in-process lattice, with the caller's events subscribed before it
/// starts.
struct Lattice {
    bus: Bus,
    s: Subjects,
    events: Subscription,
    host: Host,
}

impl Lattice {
    async fn start(cfg: HostConfig) -> Self {
        let bus = Bus::local();
        let s = Subjects::new(&cfg.lattice);
        let events = bus.subscribe(&s.events()).await.expect("subscribe");
        let host = within(T, "host start", host::start(bus.clone(), cfg))
            .await
            .expect("host starts");
        Self {
            bus,
            s,
            events,
            host,
        }
    }

    fn cmd(&self, verb: CmdVerb) -> String {
        self.s.host_command(&self.host.id(), verb)
    }

    async fn stop(self) {
        self.host.stop();
        within(T, "host stop", self.host.stopped()).await;
    }

    /// The next `actor_start_failed` for `actor_ref`, and its error.
    async fn start_failure(&mut self, actor_ref: &str) -> String {
        let ev = event(
            &mut self.events,
            "actor_start_failed",
            |e| matches!(&e.data, EventData::ActorStartFailed(d) if d.actor_ref == actor_ref),
        )
        .await;
        match ev.data {
            EventData::ActorStartFailed(d) => d.error,
            _ => unreachable!("matched above"),
        }
    }
}

fn config(lattice: &str, allow: &[&Path]) -> HostConfig {
    let mut cfg = HostConfig::new(lattice);
    cfg.allow_file_load = allow.iter().map(|p| p.to_path_buf()).collect();
    cfg
}

/// A copy of the built actor `name` at `dir/file`.
fn copy_actor(name: &str, dir: &Path, file: &str) -> PathBuf {
    let to = dir.join(file);
    std::fs::copy(actor_wasm(name), &to).expect("copy actor");
    to
}

fn text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_acting_on_host_started_is_answered() {
    let bus = Bus::local();
    let s = Subjects::new("ready");
    let mut events = bus.subscribe(&s.events()).await.expect("subscribe");
    let mut cfg = HostConfig::new("ready");
    // Stretch the moment between the start and the control subscriptions, as a busy scheduler
    // or a slow server does: host_started must still come after them.
    cfg.faults.ctl_subscribe_delay = Some(scaled(Duration::from_millis(300)));
    let starting = tokio::spawn(host::start(bus.clone(), cfg));
    let started = event(&mut events, "host_started", |e| {
        matches!(e.data, EventData::HostStarted(_))
    })
    .await;
    // React at once, as a client waiting for host_started does.
    let pings = bus
        .scatter_gather(
            &s.ping_hosts(),
            Bytes::new(),
            scaled(Duration::from_secs(1)),
        )
        .await
        .expect("ping");
    assert_eq!(
        pings.len(),
        1,
        "ping.hosts sent right after host_started got {} replies",
        pings.len()
    );
    let scaled_down = ack(
        &bus,
        &s.host_command(&started.source, CmdVerb::Scale),
        json!({"actor_ref": "nothing.wasm", "count": 0}),
    )
    .await;
    assert!(scaled_down.accepted, "{scaled_down:?}");
    let host = starting.await.expect("join").expect("host starts");
    host.stop();
    within(T, "host stop", host.stopped()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lattice_clients_name_only_allowed_regular_files() {
    let allowed = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let inside = copy_actor("hello", allowed.path(), "hello.wasm");
    let outside = copy_actor("hello", elsewhere.path(), "hello.wasm");
    let fifo = allowed.path().join("pipe.wasm");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let huge = allowed.path().join("huge.wasm");
    // Sparse: 200 MiB that cost no disk.
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(200 << 20))
        .expect("sparse file");

    let mut l = Lattice::start(config("files", &[allowed.path()])).await;
    let la = l.cmd(CmdVerb::LaunchActor);

    // Outside the allowed directories: refused before it is even looked at.
    for refused in [
        "/dev/zero",
        "/etc/passwd",
        &text(&outside),
        "/etc/no-such-file",
    ] {
        let a = ack(&l.bus, &la, json!({"actor_ref": refused, "count": 1})).await;
        assert!(
            a.accepted,
            "{refused}: the ack comes first, the outcome as an event"
        );
        let error = within(T, "refusal", l.start_failure(refused)).await;
        assert!(
            error.contains("is not allowed") && error.contains("--allow-file-load"),
            "{refused}: {error}"
        );
    }
    // An existing and a missing file outside read the same: nothing to probe.
    let exists = l.start_failure_text("/etc/passwd").await;
    let missing = l.start_failure_text("/etc/no-such-file").await;
    assert_eq!(
        exists.replace("/etc/passwd", "X"),
        missing.replace("/etc/no-such-file", "X")
    );

    // Inside: only regular files, and never more than the limit.
    let a = ack(&l.bus, &la, json!({"actor_ref": text(&fifo), "count": 1})).await;
    assert!(a.accepted);
    let error = within(T, "fifo refusal", l.start_failure(&text(&fifo))).await;
    assert!(error.contains("not a regular file (a FIFO)"), "{error}");
    let a = ack(&l.bus, &la, json!({"actor_ref": text(&huge), "count": 1})).await;
    assert!(a.accepted);
    let error = within(T, "size refusal", l.start_failure(&text(&huge))).await;
    assert!(
        error.contains("larger than the 104857600 byte limit"),
        "{error}"
    );
    let a = ack(&l.bus, &la, json!({"actor_ref": text(&inside), "count": 1})).await;
    assert!(a.accepted);
    event(&mut l.events, "actor_started from the allowed file", |e| {
        matches!(&e.data, EventData::ActorStarted(d) if d.image_ref.as_deref() == Some(&text(&inside)))
    })
    .await;

    // A live update from outside is refused too, with the reason in the ack.
    let actor = l
        .host
        .actor_stats()
        .first()
        .map(|a| a.public_key.clone())
        .expect("one actor");
    let upd = ack(
        &l.bus,
        &l.cmd(CmdVerb::Update),
        json!({"actor_id": actor, "new_actor_ref": text(&outside)}),
    )
    .await;
    assert!(
        !upd.accepted && upd.error.contains("is not allowed"),
        "{upd:?}"
    );

    // The operator's own file is allowed anywhere, and clients may name it afterwards.
    let pk = l
        .host
        .start_actor(&text(&outside), 1, Default::default())
        .await
        .expect("the operator's file starts");
    let scaled_up = ack(
        &l.bus,
        &l.cmd(CmdVerb::Scale),
        json!({"actor_id": pk, "actor_ref": text(&outside), "count": 2}),
    )
    .await;
    assert!(scaled_up.accepted, "{scaled_up:?}");
    l.stop().await;
}

impl Lattice {
    /// Asks for `actor_ref` again and returns the refusal's text.
    async fn start_failure_text(&mut self, actor_ref: &str) -> String {
        let la = self.cmd(CmdVerb::LaunchActor);
        let a = ack(&self.bus, &la, json!({"actor_ref": actor_ref})).await;
        assert!(a.accepted);
        within(T, "refusal", self.start_failure(actor_ref)).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_dotted_relative_path_is_a_missing_file() {
    let here = std::env::current_dir().expect("cwd");
    let mut l = Lattice::start(config("dotted", &[&here])).await;
    let a = ack(
        &l.bus,
        &l.cmd(CmdVerb::LaunchActor),
        json!({"actor_ref": "my.dir/a.wasm"}),
    )
    .await;
    assert!(a.accepted);
    let error = within(T, "refusal", l.start_failure("my.dir/a.wasm")).await;
    assert_eq!(error, "no such file: my.dir/a.wasm");
    assert!(!error.contains("OCI"), "{error}");
    l.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_and_background_work_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hello = text(&copy_actor("hello", dir.path(), "hello.wasm"));
    let mut cfg = config("limits", &[dir.path()]);
    cfg.limits = HostLimits {
        max_instances: 10,
        ..HostLimits::default()
    };
    let mut l = Lattice::start(cfg).await;
    let la = l.cmd(CmdVerb::LaunchActor);

    // One request for more than the host runs: refused at once, and as an event.
    let a = ack(&l.bus, &la, json!({"actor_ref": hello, "count": 65535})).await;
    assert!(!a.accepted, "{a:?}");
    assert!(a.error.contains("runs at most 10"), "{}", a.error);
    let error = within(T, "refusal event", l.start_failure(&hello)).await;
    assert_eq!(error, a.error);
    assert!(
        inventory(&l.bus, &l.s, &l.host.id())
            .await
            .actors
            .is_empty()
    );

    // Repeats add up to the limit, not past it.
    let a = ack(&l.bus, &la, json!({"actor_ref": hello, "count": 6})).await;
    assert!(a.accepted, "{a:?}");
    event(
        &mut l.events,
        "6 started",
        |e| matches!(&e.data, EventData::ActorsStarted(d) if d.count == 6),
    )
    .await;
    let again = ack(&l.bus, &la, json!({"actor_ref": hello, "count": 6})).await;
    assert!(!again.accepted, "{again:?}");
    assert!(again.error.contains("6 are running"), "{}", again.error);
    let pk = l.host.actor_stats()[0].public_key.clone();
    let scale = ack(
        &l.bus,
        &l.cmd(CmdVerb::Scale),
        json!({"actor_id": pk, "actor_ref": hello, "count": 11}),
    )
    .await;
    assert!(!scale.accepted, "{scale:?}");
    let inv = inventory(&l.bus, &l.s, &l.host.id()).await;
    assert_eq!(inv.actors[0].instances.len(), 6);
    assert_eq!(l.host.instances_used(), 6);
    // Stopping gives the slots back.
    let sa = ack(
        &l.bus,
        &l.cmd(CmdVerb::StopActor),
        json!({"actor_ref": pk, "count": 0}),
    )
    .await;
    assert!(sa.accepted, "{sa:?}");
    assert_eq!(l.host.instances_used(), 0);
    l.stop().await;

    // Work that outlives its ack is bounded: with room for 2 operations, a burst of starts
    // (each compiles for tens of milliseconds) is mostly refused, with the reason.
    let mut cfg = config("busy", &[dir.path()]);
    cfg.limits = HostLimits {
        max_pending_ops: 2,
        ..HostLimits::default()
    };
    let l = Lattice::start(cfg).await;
    let la = l.cmd(CmdVerb::LaunchActor);
    let files: Vec<String> = (0..10)
        .map(|i| text(&copy_actor("hello", dir.path(), &format!("h{i}.wasm"))))
        .collect();
    let acks = futures::future::join_all(
        files
            .iter()
            .map(|f| ack(&l.bus, &la, json!({"actor_ref": f, "count": 1}))),
    )
    .await;
    let refused: Vec<&String> = acks
        .iter()
        .filter(|a| !a.accepted)
        .map(|a| &a.error)
        .collect();
    assert!(
        refused.len() >= 5,
        "{} of 10 starts refused: {acks:?}",
        refused.len()
    );
    assert!(
        refused.iter().all(|e| e.contains("this host is busy")),
        "{refused:?}"
    );
    l.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_bid_only_for_what_they_can_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let hello = text(&copy_actor("hello", dir.path(), "hello.wasm"));
    let outside = text(&copy_actor("hello", elsewhere.path(), "hello.wasm"));
    let mut cfg = config("auction", &[dir.path()]);
    cfg.limits = HostLimits {
        max_instances: 1,
        ..HostLimits::default()
    };
    let l = Lattice::start(cfg).await;
    let bids = |subject: String, body: serde_json::Value| {
        let bus = l.bus.clone();
        async move {
            bus.scatter_gather(
                &subject,
                Bytes::from(body.to_string()),
                scaled(Duration::from_millis(500)),
            )
            .await
            .expect("auction")
            .len()
        }
    };
    let actor = |r: &str| json!({"actor_ref": r, "constraints": {}});
    let missing = text(&dir.path().join("missing.wasm"));
    for (why, r) in [
        ("an OCI reference", "wasmcloud.azurecr.io/echo:0.3.4"),
        ("a file outside --allow-file-load", &outside),
        ("a missing file", &missing),
    ] {
        assert_eq!(
            bids(l.s.auction_actor(), actor(r)).await,
            0,
            "bid for {why}"
        );
    }
    assert_eq!(bids(l.s.auction_actor(), actor(&hello)).await, 1);
    // Full: no bid either.
    l.host
        .start_actor(&hello, 1, Default::default())
        .await
        .expect("start");
    assert_eq!(
        bids(l.s.auction_actor(), actor(&hello)).await,
        0,
        "bid with no room left"
    );
    let provider = |r: &str| json!({"provider_ref": r, "link_name": "default", "constraints": {}});
    assert_eq!(
        bids(
            l.s.auction_provider(),
            provider("wasmcloud.azurecr.io/httpserver:0.17.0")
        )
        .await,
        0,
        "bid for a provider this host cannot run"
    );
    assert_eq!(
        bids(l.s.auction_provider(), provider("builtin:httpserver")).await,
        1
    );
    l.stop().await;
}

/// The ack of `cmd.{host}.stop` is published before `host_stopped`. Checked causally, not by
/// clocks: the in-process bus queues a message for every subscriber within `publish`, so when
/// `host_stopped` reaches the test the ack must already wait in the reply subscription. (Two
/// `Instant`s taken by two tasks cannot order publishes microseconds apart.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stop_ack_is_out_before_the_host_stops() {
    let mut cfg = HostConfig::new("stopping");
    // A reply that takes its time (a loaded host): the stop must still wait for it.
    cfg.faults.ctl_reply_delay = Some(scaled(Duration::from_millis(300)));
    let mut l = Lattice::start(cfg).await;
    let inbox = l.bus.new_inbox();
    let mut replies = l.bus.subscribe(&inbox).await.expect("reply subscription");
    l.bus
        .publish_with_reply(
            &l.s.host_command(&l.host.id(), CmdVerb::StopHost),
            &inbox,
            Bytes::from(json!({"timeout": 2000}).to_string()),
        )
        .await
        .expect("stop request");
    within(T, "host_stopped", async {
        while let Some(msg) = l.events.next().await {
            if let Ok(ev) = LatticeEvent::from_json(&msg.payload)
                && matches!(ev.data, EventData::HostStopped(_))
            {
                return;
            }
        }
        panic!("the event subscription ended before host_stopped");
    })
    .await;
    let queued = tokio::task::unconstrained(replies.next()).now_or_never();
    let Some(Some(reply)) = queued else {
        panic!("host_stopped was published before the stop was acked");
    };
    let ack: serde_json::Value = serde_json::from_slice(&reply.payload).expect("json ack");
    assert_eq!(ack["accepted"], true, "{ack}");
    within(T, "host stopped", l.host.stopped()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lattice_data_watch_is_restarted_and_catches_up() {
    let data = LatticeData::memory();
    let LatticeData::Memory(memory) = &data else {
        unreachable!("memory data")
    };
    let mut cfg = HostConfig::new("watch");
    cfg.data = Some(data.clone());
    let mut l = Lattice::start(cfg).await;
    let pk = l
        .host
        .start_actor(&text(&actor_wasm("hello")), 1, Default::default())
        .await
        .expect("start");
    let (p1, p2) = (free_port(), free_port());
    l.host
        .serve_http(&pk, &format!("127.0.0.1:{p1}"), "default")
        .await
        .expect("serve on p1");
    let lp = ack(
        &l.bus,
        &l.cmd(CmdVerb::LaunchProvider),
        json!({"provider_ref": "builtin:httpserver", "link_name": "other"}),
    )
    .await;
    assert!(lp.accepted, "{lp:?}");
    event(
        &mut l.events,
        "provider on link other",
        |e| matches!(&e.data, EventData::ProviderStarted(d) if d.link_name == "other"),
    )
    .await;
    assert_eq!(http_get(p1, "/").await.expect("GET p1").0, 200);

    // The watch dies; the host says so and its provider turns unhealthy.
    memory.interrupt_watches();
    let http = builtin_http_key();
    event(
        &mut l.events,
        "health_check_failed",
        |e| matches!(&e.data, EventData::HealthCheckFailed(d) if d.public_key == http),
    )
    .await;
    // Meanwhile the lattice changes: one link goes, another comes.
    data.delete_link(&pk, "wasmcloud:httpserver", "default")
        .await
        .expect("delete")
        .expect("the link was there");
    data.put_link(&LinkDefinition {
        id: String::new(),
        actor_id: pk.clone(),
        provider_id: http.clone(),
        link_name: "other".into(),
        contract_id: "wasmcloud:httpserver".into(),
        values: [("address".to_string(), format!("127.0.0.1:{p2}"))].into(),
    })
    .await
    .expect("put");

    // Back: healthy again, the deletion announced, the routes as the bucket says.
    event(
        &mut l.events,
        "health_check_passed",
        |e| matches!(&e.data, EventData::HealthCheckPassed(d) if d.public_key == http),
    )
    .await;
    assert_eq!(l.host.data_watch_error(), None);
    within(T, "route on p2", async {
        while http_get(p2, "/").await.map(|r| r.0).ok() != Some(200) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        http_get(p1, "/").await.is_err(),
        "the deleted link's listener is closed"
    );
    l.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_guest_call_tells_its_client_nothing_but_reports_everything() {
    for details in [false, true] {
        let mut cfg = HostConfig::new("traps");
        cfg.http_error_details = details;
        let l = Lattice::start(cfg).await;
        let mut rpc = l
            .bus
            .subscribe(&l.s.rpc_events())
            .await
            .expect("subscribe rpcevt");
        let pk = l
            .host
            .start_actor(&text(&actor_wasm("trap")), 1, Default::default())
            .await
            .expect("start");
        let port = free_port();
        l.host
            .serve_http(&pk, &format!("127.0.0.1:{port}"), "default")
            .await
            .expect("serve");
        let (status, body) = http_get(port, "/").await.expect("GET");
        assert_eq!(status, 500);
        if details {
            assert!(body.contains("wasm trap"), "dev body: {body}");
        } else {
            assert_eq!(body, "500 Internal Server Error\n");
        }
        let failed = event(&mut rpc, "invocation_failed", |e| {
            matches!(e.data, EventData::InvocationFailed(_))
        })
        .await;
        let EventData::InvocationFailed(d) = failed.data else {
            unreachable!("matched above")
        };
        assert_eq!(d.dest.public_key, pk);
        assert_eq!(d.operation, "HttpServer.HandleRequest");
        assert!(
            d.error.as_deref().is_some_and(|e| e.contains("wasm trap")),
            "{d:?}"
        );
        let stats = l.host.actor_stats();
        assert!(
            stats[0]
                .last_call_failure
                .as_deref()
                .is_some_and(|e| e.contains("wasm trap")),
            "{stats:?}"
        );
        l.stop().await;
    }
}
