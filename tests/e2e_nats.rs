//! Every command of the `:` grammar end to end over a real nats-server, driven in tmux:
//!
//! - a console alone (`--no-host --nats URL`) acting on a second, headless lattice-tui host
//!   (`lattice-tui --no-ui --nats URL`): every action, `--watch`, confirmation, and `stop-host`;
//! - two hosts on the same NATS (the console's embedded host and a headless one): a start
//!   without `--host` is auctioned, `--host` places it, and scale / stop of an actor running on
//!   both ask for `--host`.
//!
//! Each step is checked from outside the console — `lattice-tui snapshot --json` over NATS
//! and HTTP to the actor — besides the outcome on the status line.

mod common;

use std::time::Duration;

use common::NatsServer;
use common::e2e::{
    Console, HELLO, HeadlessHost, actor_count, actor_dir, actor_key, actor_revision, host_id,
    http_get, links, provider_link_names, snapshot, wait_http, wait_snapshot,
};

#[test]
fn a_console_without_a_host_runs_every_command_on_a_headless_host() {
    let nats = NatsServer::start();
    let url = nats.url();
    let lat = "e2e-remote";
    let dir = actor_dir(&["hello", "echo"]);
    let root = std::fs::canonicalize(dir.path()).expect("canonical dir");
    let hello = root.join("hello.wasm").display().to_string();
    let echo = root.join("echo.wasm").display().to_string();
    let watched_path = root.join("watched.wasm");
    std::fs::copy(root.join("hello.wasm"), &watched_path).expect("copy");
    let watched = watched_path.display().to_string();
    let port = common::free_port();

    let mut remote = HeadlessHost::start(&url, lat, "remote", &root, &[]);
    let c = Console::start(&format!("--no-host --nats {url} --lattice {lat}"));
    c.wait("the headless host", |s| {
        s.contains("hosts 1") && s.contains("remote")
    });

    c.run(&format!("start-actor {hello} --count 2"), "2/2 started");
    wait_snapshot(&url, lat, "2 hello on remote", |m| {
        actor_count(m, "remote", "hello") == 2
    });

    c.run("scale hello 3", "3 running");
    wait_snapshot(&url, lat, "3 hello on remote", |m| {
        actor_count(m, "remote", "hello") == 3
    });

    c.run(
        "start-provider builtin:httpserver --link-name web --host remote",
        "started under link name web",
    );
    wait_snapshot(&url, lat, "the provider under link name web", |m| {
        provider_link_names(m, "remote", "builtin:httpserver") == ["web"]
    });

    c.run(
        &format!(
            "link hello builtin:httpserver wasmcloud:httpserver --link-name web \
             address=127.0.0.1:{port}"
        ),
        "link set",
    );
    let m = wait_snapshot(&url, lat, "the link", |m| !links(m).is_empty());
    let key = actor_key(&m, "hello").expect("hello's key");
    assert_eq!(
        links(&m),
        [(key.clone(), "wasmcloud:httpserver".into(), "web".into())]
    );
    wait_http(
        port,
        "hello answering over the link",
        |r| matches!(r, Ok((200, b)) if b.contains(HELLO)),
    )
    .expect("answered");

    c.run(
        &format!("update-actor hello {echo} --host remote"),
        "updated to revision 1",
    );
    wait_snapshot(&url, lat, "revision 1", |m| {
        actor_revision(m, "remote", "hello").or_else(|| actor_revision(m, "remote", "echo"))
            == Some(1)
    });
    wait_http(
        port,
        "echo answering after the update",
        |r| matches!(r, Ok((200, b)) if !b.contains(HELLO)),
    )
    .expect("answered");

    // --watch: the start carries the annotation, and rewriting the file hot-reloads it.
    c.run(&format!("start-actor {watched} --watch"), "1/1 started");
    let m = wait_snapshot(&url, lat, "the watched actor", |m| {
        actor_count(m, "remote", "watched") == 1
    });
    assert!(
        m.to_string().contains("lattice-tui.dev/watch"),
        "the annotation reached the host: {m:#}"
    );
    assert_eq!(actor_revision(&m, "remote", "watched"), Some(0));
    let bytes = std::fs::read(&watched_path).expect("read");
    std::fs::write(&watched_path, bytes).expect("rewrite the watched file");
    wait_snapshot(&url, lat, "the watched actor at revision 1", |m| {
        actor_revision(m, "remote", "watched") == Some(1)
    });
    c.command("events");
    c.wait_text("actor_updated");

    // Unlink: `n` cancels (the link stays), `y` deletes it.
    let unlink = format!("unlink {} wasmcloud:httpserver --link-name web", &key[..8]);
    c.command(&unlink);
    c.wait_text("Delete the wasmcloud:httpserver link (link name web)");
    c.key("n");
    c.wait_text(&format!("{unlink}: cancelled"));
    assert_eq!(links(&snapshot(&url, lat)).len(), 1, "cancelled: link kept");
    c.command(&unlink);
    c.wait_text("Delete the wasmcloud:httpserver link (link name web)");
    c.key("y");
    c.wait_text(&format!("{unlink}: link deleted"));
    wait_snapshot(&url, lat, "no link", |m| links(m).is_empty());

    let stop_provider = "stop-provider builtin:httpserver --link-name web --host remote";
    c.command(stop_provider);
    c.wait_text("Stop HTTP Server (built-in) (");
    c.key("y");
    c.wait_text(&format!("{stop_provider}: stopped"));
    wait_snapshot(&url, lat, "no provider", |m| {
        provider_link_names(m, "remote", "builtin:httpserver").is_empty()
    });
    assert!(
        !matches!(http_get(port), Ok((200, _))),
        "nothing serves the actor"
    );

    let stop_actor = format!("stop-actor {} --host remote", &key[..10]);
    c.command(&stop_actor);
    c.wait_text("Stop every instance of");
    c.key("x");
    c.wait_text(&format!("{stop_actor}: cancelled"));
    c.command(&stop_actor);
    c.wait_text("Stop every instance of");
    c.key("y");
    c.wait_text(&format!("{stop_actor}: stopped"));
    wait_snapshot(&url, lat, "the updated actor gone", |m| {
        actor_key(m, "echo").is_none() && actor_key(m, "hello").is_none()
    });

    // Stop the host: `n` first, then `y`; the headless process exits.
    c.command("stop-host remote");
    c.wait_text("Stop host remote");
    c.key("n");
    c.wait_text("stop-host remote: cancelled");
    assert!(host_id(&snapshot(&url, lat), "remote").is_some());
    c.command("stop-host remote");
    c.wait_text("Stop host remote");
    c.key("y");
    c.wait_text("stop-host remote: host stopped");
    assert!(
        remote.exited_within(Duration::from_secs(20)),
        "the headless host exits after stop-host"
    );
    wait_snapshot(&url, lat, "no host", |m| host_id(m, "remote").is_none());
    c.wait_text("hosts 0");

    c.quit_with("quit");
}

#[test]
fn two_hosts_auction_starts_and_ask_for_host_on_scale_and_stop() {
    let nats = NatsServer::start();
    let url = nats.url();
    let lat = "e2e-two";
    let dir = actor_dir(&["hello"]);
    let root = std::fs::canonicalize(dir.path()).expect("canonical dir");
    let hello = root.join("hello.wasm").display().to_string();

    let _remote = HeadlessHost::start(&url, lat, "remote", &root, &[]);
    let c = Console::start(&format!(
        "--nats {url} --lattice {lat} --friendly-name embedded --allow-file-load {}",
        root.display()
    ));
    c.wait("both hosts", |s| s.contains("hosts 2"));
    wait_snapshot(&url, lat, "both hosts", |m| {
        host_id(m, "embedded").is_some() && host_id(m, "remote").is_some()
    });

    // No --host: an auction; the first host that bids gets all the instances.
    c.run(&format!("start-actor {hello} --count 2"), "2/2 started");
    let m = wait_snapshot(&url, lat, "2 instances in all", |m| {
        actor_count(m, "embedded", "hello") + actor_count(m, "remote", "hello") == 2
    });
    let (first, other) = if actor_count(&m, "embedded", "hello") == 2 {
        ("embedded", "remote")
    } else {
        ("remote", "embedded")
    };
    assert_eq!(actor_count(&m, first, "hello"), 2, "on one host: {m:#}");

    // --host places it on the other.
    c.run(
        &format!("start-actor {hello} --host {other}"),
        "1/1 started",
    );
    wait_snapshot(&url, lat, "one on the other host", |m| {
        actor_count(m, other, "hello") == 1 && actor_count(m, first, "hello") == 2
    });

    // On two hosts, scale and stop ask which one: a digit picks, anything else cancels.
    c.command("scale hello 5");
    let s = c.wait_text("on which host? 1 ");
    assert!(s.contains("embedded (") && s.contains("remote ("), "{s}");
    c.key("Escape");
    c.wait_text(":scale hello 5: cancelled");
    let m = snapshot(&url, lat);
    assert_eq!(
        (
            actor_count(&m, first, "hello"),
            actor_count(&m, other, "hello")
        ),
        (2, 1),
        "nothing changed"
    );
    c.command("stop-actor hello");
    let s = c.wait_text("on which host? 1 ");
    let digit = if s.contains(&format!("1 {other} (")) {
        "1"
    } else {
        "2"
    };
    c.key(digit);
    c.wait_text("Stop every instance of hello");
    c.key("y");
    c.wait_text(": stopped");
    wait_snapshot(&url, lat, "the picked host stopped it", |m| {
        actor_count(m, other, "hello") == 0 && actor_count(m, first, "hello") == 2
    });

    c.run(&format!("scale hello 3 --host {other}"), "3 running");
    wait_snapshot(&url, lat, "3 on the other host", |m| {
        actor_count(m, other, "hello") == 3 && actor_count(m, first, "hello") == 2
    });

    let stop = format!("stop-actor hello --host {first}");
    c.command(&stop);
    c.wait_text("Stop every instance of hello");
    c.key("y");
    c.wait_text(&format!("{stop}: stopped"));
    wait_snapshot(&url, lat, "only the other host runs it", |m| {
        actor_count(m, first, "hello") == 0 && actor_count(m, other, "hello") == 3
    });

    // Now it runs on one host: no --host needed.
    c.run("scale hello 1", "1 running");
    wait_snapshot(&url, lat, "1 on the other host", |m| {
        actor_count(m, other, "hello") == 1
    });

    // Start a provider without --host: auctioned too.
    c.run(
        "start-provider builtin:httpserver",
        "started under link name default",
    );
    wait_snapshot(&url, lat, "the provider on one host", |m| {
        provider_link_names(m, "embedded", "builtin:httpserver").len()
            + provider_link_names(m, "remote", "builtin:httpserver").len()
            == 1
    });

    c.quit_with("q!");
}

/// The row keys act through the same front door: on the Actors tab, `s` opens the scale of
/// the selected actor on its host (`‹N›` waits for the count), `x` asks and stops it there —
/// each checked from outside with `snapshot --json`.
#[test]
fn row_keys_scale_and_stop_the_selected_actor_on_a_headless_host() {
    let nats = NatsServer::start();
    let url = nats.url();
    let lat = "e2e-rowkeys";
    let dir = actor_dir(&["hello"]);
    let root = std::fs::canonicalize(dir.path()).expect("canonical dir");
    let hello = root.join("hello.wasm").display().to_string();
    let _remote = HeadlessHost::start(&url, lat, "remote", &root, &[]);
    let c = Console::start(&format!("--no-host --nats {url} --lattice {lat}"));
    c.wait("the headless host", |s| {
        s.contains("hosts 1") && s.contains("remote")
    });
    c.run(&format!("start-actor {hello}"), "1/1 started");
    c.key("2");
    c.wait("the actor's row", |s| {
        s.contains("[2 Actors]") && s.contains("hello")
    });
    c.key("s");
    c.wait_text(":scale hello --host remote ‹N›");
    c.type_text("3");
    c.key("Enter");
    c.wait_text("scale hello --host remote 3: 3 running");
    wait_snapshot(&url, lat, "3 hello on remote", |m| {
        actor_count(m, "remote", "hello") == 3
    });
    c.key("x");
    c.wait_text("Stop every instance of hello");
    c.key("y");
    c.wait_text("stop-actor hello --host remote: stopped");
    wait_snapshot(&url, lat, "no hello on remote", |m| {
        actor_count(m, "remote", "hello") == 0
    });
}
