//! Drives the real binary in a tmux pane with the embedded host running the example actor
//! behind the built-in HTTP provider:
//! `Enter` on the host shows its actors under a breadcrumb, `Enter` on the actor opens the
//! actor view (its instance, claims, links), `y` shows the actor's raw JSON with its key,
//! `Esc` closes it, `c` copies the key (the status line says so), and `Esc` walks back to the hosts.

mod common;

use common::tmux::Pane;

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");

/// The value after `label` on the screen line that starts with it inside a pane border.
fn field(screen: &str, label: &str) -> Option<String> {
    screen.lines().find_map(|l| {
        let rest = l.trim_start_matches(['│', ' ']).strip_prefix(label)?;
        let value = rest.trim_start().split([' ', '│']).next()?;
        (!value.is_empty()).then(|| value.to_string())
    })
}

#[test]
fn drill_from_the_host_to_the_actor_and_its_json() {
    let hello = common::actors::actor_wasm("hello");
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let pane = Pane::start(&format!(
        "env NO_COLOR=1 RUST_BACKTRACE=0 {BIN} --actor {} --http 127.0.0.1:{port} --log-file {}",
        hello.display(),
        dir.path().join("console.log").display()
    ));
    pane.wait_for("the embedded host with its actor", |s| {
        s.contains("hosts 1") && s.contains("actors 1 (1 instance)") && s.contains("links 1")
    });

    // Enter on the (only) host: its actors, under a breadcrumb naming the host.
    pane.keys("Enter");
    let actors = pane.wait_for("the host's actors under a breadcrumb", |s| {
        s.contains("[2 Actors]")
            && s.lines()
                .any(|l| l.starts_with("Hosts › ") && l.contains(" › Actors"))
    });
    assert!(actors.contains("hello"), "{actors}");

    // Enter on the actor: its view, only it shows the instances section and the history.
    pane.keys("Enter");
    let view = pane.wait_for("the actor view", |s| {
        s.contains("› Actors › hello") && s.contains("revision history") && s.contains("instances")
    });
    let id = field(&view, "id").expect("the actor view shows the actor's id");
    assert!(id.starts_with('M') && id.len() == 56, "{id}: {view}");
    assert!(view.contains(" · 1 instance · rev "), "{view}");
    assert!(
        view.contains("wasmcloud:httpserver") || view.contains("links"),
        "{view}"
    );

    // y: the raw JSON of the actor across the lattice, its key first; G scrolls to the end
    // (its links), where the indicator says the last line shows.
    pane.keys("y");
    let top = pane.wait_for("the actor's JSON with its key", |s| {
        s.contains("JSON actor hello") && s.contains(&format!("\"public_key\": \"{id}\""))
    });
    assert!(top.contains("\"claims\": {"), "{top}");
    pane.keys("G");
    let end = pane.wait_for("the end of the actor's JSON", |s| {
        s.contains("\"contract_id\": \"wasmcloud:httpserver\"") && s.contains("\"links\": [")
    });
    assert!(
        !end.contains("\"public_key\": \"M"),
        "scrolled past the top: {end}"
    );

    // Esc closes the JSON; c copies the key (OSC 52 to the terminal) and the status line
    // says what.
    pane.keys("Escape");
    pane.wait_for("the JSON closed", |s| {
        !s.contains("JSON actor hello") && s.contains("revision history")
    });
    pane.keys("c");
    pane.wait_for("the copy confirmed on the status line", |s| {
        s.contains(&format!("copied {id}"))
    });

    // Esc, Esc: back to the host's actors, then to the hosts with no breadcrumb.
    pane.keys("Escape");
    pane.wait_for("back at the host's actors", |s| {
        s.contains("[2 Actors]") && !s.contains("revision history") && s.contains(" › Actors")
    });
    pane.keys("Escape");
    pane.wait_for("back at the hosts", |s| {
        s.contains("[1 Hosts]") && !s.lines().any(|l| l.starts_with("Hosts › "))
    });

    pane.keys("q");
    let after = pane.wait_for("the console to exit", |s| s.contains("EXIT="));
    assert!(after.contains("EXIT=0"), "{after}");
}
