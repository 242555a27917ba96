//! Every command of the `:` grammar end to end against the console's embedded host on the
//! in-process lattice (`lattice-tui` with no `--nats`), driven in tmux: the actions go out on
//! the in-process bus as control-interface requests, the status line shows the outcome, and
//! HTTP to the actor (the built-in HTTP server provider, linked by `:link`) checks each one
//! from outside the console. Nothing else can see an in-process lattice from outside, so the
//! counts are checked on screen and over NATS in `tests/e2e_nats.rs`.
//!
//! One console for the whole story: each step builds on the one before.

mod common;

use common::e2e::{Console, HELLO, actor_dir, http_get, wait_http};
use lattice_tui::host::claims::unsigned_key;

#[test]
fn every_command_against_the_embedded_host_on_the_in_process_lattice() {
    let dir = actor_dir(&["hello", "echo"]);
    let root = std::fs::canonicalize(dir.path()).expect("canonical dir");
    std::fs::create_dir(root.join("twin")).expect("mkdir");
    std::fs::copy(root.join("hello.wasm"), root.join("twin/hello.wasm")).expect("copy");
    let hello = root.join("hello.wasm").display().to_string();
    let twin = root.join("twin/hello.wasm").display().to_string();
    let echo = root.join("echo.wasm").display().to_string();
    let hello_key = unsigned_key(&hello);
    let port = common::free_port();

    let c = Console::start(&format!(
        "--friendly-name local --allow-file-load {}",
        root.display()
    ));
    c.wait("the embedded host", |s| {
        s.contains("hosts 1") && s.contains("in-process")
    });

    // Start (one host: the auction picks it), by file reference, with a count.
    c.run(&format!("start-actor {hello} --count 2"), "2/2 started");
    c.wait_text("actors 1 (2 instances)");

    // Scale by name.
    c.run("scale hello 3", "3 running");
    c.wait_text("actors 1 (3 instances)");

    // The built-in HTTP server, then a link with a value: the actor answers HTTP.
    c.run(
        "start-provider builtin:httpserver",
        "started under link name default",
    );
    c.wait_text("providers 1");
    // The provider named by the reference it was started from, the actor by that too.
    c.run(
        &format!("link {hello} builtin:httpserver wasmcloud:httpserver address=127.0.0.1:{port}"),
        "link set",
    );
    let (status, body) = wait_http(
        port,
        "hello answering over the link",
        |r| matches!(r, Ok((200, b)) if b.contains(HELLO)),
    )
    .expect("answered");
    assert_eq!(status, 200, "{body}");

    // Scale by a unique id prefix.
    c.run(&format!("scale {} 1", &hello_key[..8]), "1 running");
    c.wait_text("actors 1 (1 instance)");

    // Two actors called `hello`: the name is ambiguous and the error lists both.
    c.run(&format!("start-actor {twin}"), "1/1 started");
    let twin_key = unsigned_key(&twin);
    let screen = c.run_error("scale hello 2", "`hello` is ambiguous: ");
    for key in [&hello_key, &twin_key] {
        assert!(
            screen.contains(&format!("hello ({})", &key[..10])),
            "the candidates are listed: {screen}"
        );
    }
    c.run_error("scale nobody 2", "no actor `nobody`; known: ");

    // Stop (asks first): anything but `y` cancels, `y` stops.
    let stop_twin = format!("stop-actor {twin}");
    c.command(&stop_twin);
    c.wait_text("Stop every instance of hello");
    c.key("n");
    c.wait_text(&format!("{stop_twin}: cancelled"));
    c.wait_text("actors 2 (2 instances)");
    c.command(&stop_twin);
    c.wait_text("Stop every instance of hello");
    c.key("y");
    c.wait_text(&format!("{stop_twin}: stopped"));
    c.wait_text("actors 1 (1 instance)");

    // Update: the module behind the same key is replaced, HTTP answers from the new one.
    c.run(
        &format!("update-actor {} {echo}", &hello_key[..10]),
        "updated to revision",
    );
    wait_http(
        port,
        "the echo actor answering after the update",
        |r| matches!(r, Ok((200, b)) if !b.contains(HELLO)),
    )
    .expect("answered");

    // Unlink (asks first): `Esc` cancels and HTTP still answers; `y` deletes the link and
    // the server stops listening for the actor.
    let unlink = format!("unlink {} wasmcloud:httpserver", &hello_key[..10]);
    c.command(&unlink);
    c.wait_text("Delete the wasmcloud:httpserver link (link name default)");
    c.key("Escape");
    c.wait_text(&format!("{unlink}: cancelled"));
    assert!(
        matches!(http_get(port), Ok((200, _))),
        "a cancelled unlink leaves the link"
    );
    c.command(&unlink);
    c.wait_text("Delete the wasmcloud:httpserver link (link name default)");
    c.key("y");
    c.wait_text(&format!("{unlink}: link deleted"));
    wait_http(port, "the route gone after the unlink", |r| {
        !matches!(r, Ok((200, _)))
    })
    .map(|_| ())
    .ok();

    // Stop the provider, named by its reference.
    let stop_provider = "stop-provider builtin:httpserver";
    c.command(stop_provider);
    c.wait_text("Stop HTTP Server (built-in)");
    c.key("y");
    c.wait_text(&format!("{stop_provider}: stopped"));
    c.wait_text("providers 0");

    // Stop the last actor by its id prefix.
    let stop_actor = format!("stop-actor {}", &hello_key[..6]);
    c.command(&stop_actor);
    c.wait_text("Stop every instance of");
    c.key("y");
    c.wait_text(&format!("{stop_actor}: stopped"));
    c.wait_text("actors 0");

    // Views and their aliases, and a command that does not exist.
    for (line, tab) in [
        ("actors", "[2 Actors]"),
        ("pr", "[3 Providers]"),
        ("ln", "[4 Links]"),
        ("ev", "[5 Events]"),
        ("ho", "[1 Hosts]"),
    ] {
        c.command(line);
        c.wait_text(tab);
    }
    c.run_error("scael hello 3", "unknown command `scael`");

    // Stop the host by its friendly name: it says host_stopped.
    c.command("stop-host local");
    c.wait_text("Stop host local");
    c.key("y");
    c.wait_text("stop-host local: host stopped");

    c.quit_with("q");
}
