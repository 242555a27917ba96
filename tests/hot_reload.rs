//! Hot reload through the embedded host: an actor served from a temporary file is replaced
//! (by rename, by rewriting in place, after a delete) and the new version answers; broken
//! files leave the running version serving with `actor_update_failed`; a client hammering the
//! actor across 20 reloads sees no failure at all.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::actors::actor_wasm;
use common::{free_port, http_get, within};
use lattice_tui::host::{self, Host, HostConfig};
use lattice_tui::lattice::bus::{Bus, Subscription};
use lattice_tui::lattice::protocol::{EventData, LatticeEvent, StringMap};
use lattice_tui::lattice::subjects::Subjects;

const V1: &str = "Hello from lattice-tui!";
/// The echo actor answers GET with a JSON document naming the method.
const V2: &str = "\"method\":\"GET\"";
const T: Duration = Duration::from_secs(20);

/// The version answering now: 1, 2, or a panic for anything else.
async fn version(port: u16) -> u8 {
    let (status, body) = http_get(port, "/x").await.expect("the actor answers");
    assert_eq!(status, 200, "{body}");
    if body.contains(V1) {
        1
    } else if body.contains(V2) {
        2
    } else {
        panic!("neither v1 nor v2: {body}")
    }
}

async fn wait_version(port: u16, want: u8, limit: Duration, what: &str) {
    within(limit, what, async {
        while version(port).await != want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Waits until the host has recorded reload `revision` (it records a reload's timings right
/// after the swap, so a client can be served the new version a moment before).
async fn wait_recorded(host: &Host, revision: i64) -> i64 {
    within(T, "the reload recorded", async {
        loop {
            let rev = host
                .actor_stats()
                .first()
                .and_then(|a| a.last_reload.as_ref().map(|r| r.revision));
            if rev == Some(revision) {
                return revision;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Writes `bytes` to a temporary file next to `path` and renames it over `path`, as cargo and
/// most editors do.
fn replace_by_rename(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn next_update(sub: &mut Subscription, what: &str) -> EventData {
    within(T, what, async {
        loop {
            let msg = sub.next().await.expect("subscription open");
            let ev = LatticeEvent::from_json(&msg.payload).expect("valid event");
            if matches!(
                ev.data,
                EventData::ActorUpdated(_) | EventData::ActorUpdateFailed(_)
            ) {
                return ev.data;
            }
        }
    })
    .await
}

struct Fixture {
    _dir: tempfile::TempDir,
    file: PathBuf,
    v1: Vec<u8>,
    v2: Vec<u8>,
    port: u16,
    host: Host,
    events: Subscription,
    pk: String,
}

async fn fixture() -> Fixture {
    let v1 = std::fs::read(actor_wasm("hello")).unwrap();
    let v2 = std::fs::read(actor_wasm("echo")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("actor.wasm");
    std::fs::write(&file, &v1).unwrap();
    let bus = Bus::local();
    let events = bus
        .subscribe(&Subjects::new("default").events())
        .await
        .unwrap();
    let mut cfg = HostConfig::new("default");
    cfg.watch_all = true;
    let host = within(T, "host start", host::start(bus, cfg))
        .await
        .unwrap();
    let pk = host
        .start_actor(&file.to_string_lossy(), 1, StringMap::new())
        .await
        .expect("actor starts");
    let port = free_port();
    host.serve_http(&pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .unwrap();
    wait_version(port, 1, T, "v1 serving").await;
    Fixture {
        _dir: dir,
        file,
        v1,
        v2,
        port,
        host,
        events,
        pk,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_files_are_served_within_two_seconds() {
    let mut f = fixture().await;
    // By rename.
    replace_by_rename(&f.file, &f.v2);
    wait_version(f.port, 2, Duration::from_secs(2), "v2 after a rename").await;
    let EventData::ActorUpdated(u) = next_update(&mut f.events, "actor_updated").await else {
        panic!("expected actor_updated")
    };
    assert_eq!(u.public_key, f.pk);
    assert_eq!(u.revision, 1);
    // By rewriting in place (truncate + write).
    std::fs::write(&f.file, &f.v1).unwrap();
    wait_version(
        f.port,
        1,
        Duration::from_secs(2),
        "v1 after an in-place rewrite",
    )
    .await;
    let EventData::ActorUpdated(u) = next_update(&mut f.events, "actor_updated").await else {
        panic!("expected actor_updated")
    };
    assert_eq!(u.revision, 2);
    // The replica count and the link survived: still one instance, still served.
    wait_recorded(&f.host, 2).await;
    let stats = f.host.actor_stats();
    assert_eq!(stats.len(), 1);
    let reload = stats[0].last_reload.clone().expect("reload recorded");
    assert_eq!(reload.revision, 2);
    assert!(reload.total >= reload.swap);
    f.host.stop();
    f.host.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuous_client_never_fails_across_twenty_reloads() {
    let f = fixture().await;
    let stop = Arc::new(AtomicBool::new(false));
    let port = f.port;
    let client = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut ok, mut failures) = (0u64, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match http_get(port, "/x").await {
                    Ok((200, body)) if body.contains(V1) || body.contains(V2) => ok += 1,
                    other => failures.push(format!("{other:?}")),
                }
            }
            (ok, failures)
        })
    };
    let mut want = 1;
    for round in 0..20 {
        want = if want == 1 { 2 } else { 1 };
        let bytes = if want == 1 { &f.v1 } else { &f.v2 };
        if round % 2 == 0 {
            replace_by_rename(&f.file, bytes);
        } else {
            std::fs::write(&f.file, bytes).unwrap();
        }
        wait_version(port, want, T, "the flip").await;
    }
    stop.store(true, Ordering::Relaxed);
    let (ok, failures) = within(T, "client", client).await.unwrap();
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(ok > 20, "the client kept asking ({ok} responses)");
    assert_eq!(wait_recorded(&f.host, 20).await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_files_leave_the_running_version_serving() {
    let mut f = fixture().await;
    let nohttp = std::fs::read(actor_wasm("nohttp")).unwrap();
    let truncated = f.v2[..f.v2.len() / 2].to_vec();
    for (what, bytes) in [
        ("garbage", b"definitely not a component".to_vec()),
        ("truncated", truncated),
        ("no HTTP export", nohttp),
    ] {
        replace_by_rename(&f.file, &bytes);
        let EventData::ActorUpdateFailed(failed) = next_update(&mut f.events, what).await else {
            panic!("{what}: expected actor_update_failed")
        };
        assert_eq!(failed.public_key, f.pk);
        assert!(!failed.reason.is_empty(), "{what}: a reason");
        assert_eq!(version(f.port).await, 1, "{what}: v1 still serves");
        let stats = f.host.actor_stats();
        assert!(
            stats[0].last_error.is_some(),
            "{what}: the console sees the error"
        );
        assert_eq!(stats[0].revision, 0, "{what}: nothing swapped");
    }
    // A good file afterwards is picked up and clears the error.
    replace_by_rename(&f.file, &f.v2);
    wait_version(
        f.port,
        2,
        Duration::from_secs(2),
        "v2 after the broken ones",
    )
    .await;
    assert!(f.host.actor_stats()[0].last_error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_file_keeps_serving_and_its_return_reloads() {
    let f = fixture().await;
    std::fs::remove_file(&f.file).unwrap();
    within(T, "the console says the file is missing", async {
        while !f.host.actor_stats()[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("missing"))
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(version(f.port).await, 1, "still serving without its file");
    std::fs::write(&f.file, &f.v2).unwrap();
    wait_version(
        f.port,
        2,
        Duration::from_secs(2),
        "v2 once the file is back",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_started_through_the_control_interface_can_be_watched() {
    let v1 = std::fs::read(actor_wasm("hello")).unwrap();
    let v2 = std::fs::read(actor_wasm("echo")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("watched.wasm");
    std::fs::write(&file, &v1).unwrap();
    // Not `dev`: only the annotated actor is watched.
    let host = host::start(Bus::local(), HostConfig::new("default"))
        .await
        .unwrap();
    let annotations: StringMap = [(host::WATCH_ANNOTATION.to_string(), "true".to_string())].into();
    let pk = host
        .start_actor(&file.to_string_lossy(), 1, annotations)
        .await
        .unwrap();
    let port = free_port();
    host.serve_http(&pk, &format!("127.0.0.1:{port}"), "default")
        .await
        .unwrap();
    wait_version(port, 1, T, "v1").await;
    assert!(host.actor_stats()[0].watched);
    replace_by_rename(&file, &v2);
    wait_version(port, 2, Duration::from_secs(2), "v2").await;
}
