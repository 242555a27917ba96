//! A `--readonly` console end to end over a real nats-server, driven in tmux: every mutating
//! command of the `:` grammar is refused (the status line says so) and a
//! `lattice-tui snapshot --json` from outside shows the lattice unchanged, HTTP to the actor
//! still answers; the view commands and their aliases, Tab completion and the history still
//! work, and `:q` quits.

mod common;

use common::NatsServer;
use common::e2e::{Console, HELLO, HeadlessHost, actor_dir, http_get, snapshot, wait_snapshot};
use serde_json::Value;

/// What an action could change: per host, its actors with their counts and revisions and its
/// providers; the links.
fn shape(m: &Value) -> String {
    let mut out = String::new();
    for (id, h) in m["hosts"].as_object().into_iter().flatten() {
        out.push_str(&format!("host {id} {}\n", h["friendly_name"]));
        for (k, a) in h["actors"].as_object().into_iter().flatten() {
            let n = a["instances"].as_object().map_or(0, |i| i.len());
            out.push_str(&format!(
                "  actor {k} x{n}+{} rev {}\n",
                a["unidentified"], a["revision"]
            ));
        }
        for k in h["providers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|p| p.0)
        {
            out.push_str(&format!("  provider {k}\n"));
        }
    }
    for k in m["links"].as_object().into_iter().flatten().map(|l| l.0) {
        out.push_str(&format!("link {k}\n"));
    }
    out
}

#[test]
fn a_readonly_console_refuses_every_action_and_still_shows_every_view() {
    let nats = NatsServer::start();
    let url = nats.url();
    let lat = "e2e-readonly";
    let dir = actor_dir(&["hello", "echo"]);
    let root = std::fs::canonicalize(dir.path()).expect("canonical dir");
    let hello = root.join("hello.wasm").display().to_string();
    let echo = root.join("echo.wasm").display().to_string();
    let port = common::free_port();
    let addr = format!("127.0.0.1:{port}");
    let _remote = HeadlessHost::start(
        &url,
        lat,
        "remote",
        &root,
        &["--actor", &hello, "--http", &addr],
    );
    let before = wait_snapshot(&url, lat, "the actor, provider and link", |m| {
        m["links"].as_object().is_some_and(|l| l.len() == 1)
            && shape(m).contains("provider")
            && shape(m).contains(" x1+")
    });
    let c = Console::start(&format!(
        "--no-host --readonly --nats {url} --lattice {lat}"
    ));
    c.wait("the lattice in a read-only console", |s| {
        s.contains("READONLY") && s.contains("hosts 1") && s.contains("links 1")
    });

    for line in [
        format!("start-actor {hello} --count 2"),
        format!("start-actor {echo} --host remote --watch"),
        "scale hello 3".to_owned(),
        format!("update-actor hello {echo}"),
        "stop-actor hello".to_owned(),
        "start-provider builtin:httpserver --link-name other".to_owned(),
        "stop-provider builtin:httpserver".to_owned(),
        "link hello builtin:httpserver wasmcloud:httpserver --link-name x address=127.0.0.1:1"
            .to_owned(),
        "unlink hello wasmcloud:httpserver".to_owned(),
        "stop-host remote".to_owned(),
    ] {
        let s = c.run_error(&line, "refused: this console is read-only (--readonly)");
        assert!(
            !s.contains("[y/N]"),
            "a refused action asks nothing: {line}\n{s}"
        );
    }
    // The row keys are refused before anything opens (each says which, so every wait is
    // for text only that key can bring).
    c.key("2");
    c.wait_text("[2 Actors]");
    for (key, verb) in [
        ("s", "scale"),
        ("u", "update"),
        ("L", "link"),
        ("x", "stop"),
    ] {
        c.key(key);
        let s = c.wait_text(&format!(
            "{verb}: refused: this console is read-only (--readonly)"
        ));
        assert!(
            !s.contains("[y/N]"),
            "a refused key asks nothing: {key}\n{s}"
        );
    }
    c.key("1");
    c.wait_text("[1 Hosts]");
    c.key("n");
    c.wait_text("new: refused: this console is read-only (--readonly)");
    // Nothing was sent: the lattice as another client sees it is as it was.
    assert_eq!(shape(&snapshot(&url, lat)), shape(&before));
    let (status, body) = http_get(port).expect("the actor still answers");
    assert!(status == 200 && body.contains(HELLO), "{status} {body}");

    for (line, tab) in [
        ("actors", "[2 Actors]"),
        ("host", "[1 Hosts]"),
        ("providers", "[3 Providers]"),
        ("hosts", "[1 Hosts]"),
        ("links", "[4 Links]"),
        ("events", "[5 Events]"),
        ("ac", "[2 Actors]"),
        ("provider", "[3 Providers]"),
        ("actor", "[2 Actors]"),
        ("event", "[5 Events]"),
        ("pr", "[3 Providers]"),
        ("ev", "[5 Events]"),
        ("ln", "[4 Links]"),
        ("ho", "[1 Hosts]"),
    ] {
        c.command(line);
        c.wait(&format!("`:{line}` showing {tab}"), |s| {
            s.contains(tab) && !s.contains(":: ")
        });
    }
    // Tab lists the candidates beside the line; ↑ brings back the last line run.
    c.key(":");
    c.type_text("stop-");
    c.key("Tab");
    c.wait_text(":stop-  stop-actor  stop-host  stop-provider");
    c.key("Escape");
    c.key(":");
    c.key("Up");
    c.wait_text(":ho  Enter run");
    c.key("Escape");
    c.quit_with("q");
}
