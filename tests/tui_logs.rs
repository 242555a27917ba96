//! Drives the real binary in a tmux pane: the console with its embedded host serving the
//! `echo` actor (which prints `echo: METHOD PATH` on stdout for every request). An HTTP
//! request reaches the actor, `l` on its row opens its logs, and the guest's printed line
//! shows there; `:logs --level warn` then hides it; the log file still gets the line.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::tmux::Pane;

const BIN: &str = env!("CARGO_BIN_EXE_lattice-tui");

fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(format!("GET {path} HTTP/1.0\r\nhost: x\r\n\r\n").as_bytes())?;
    let mut out = String::new();
    c.read_to_string(&mut out)?;
    Ok(common::split_response(&out))
}

#[test]
fn l_on_an_actor_shows_what_its_guest_printed() {
    let echo = common::actors::actor_wasm("echo");
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("console.log");
    let pane = Pane::start(&format!(
        "env NO_COLOR=1 RUST_BACKTRACE=0 {BIN} --actor {} --http 127.0.0.1:{port} --log-file {}",
        echo.display(),
        log.display()
    ));
    pane.wait_for("the embedded host serving echo", |s| {
        s.contains("hosts 1") && s.contains("links 1")
    });
    pane.keys("2");
    pane.wait_for("the actor row", |s| {
        s.contains("[2 Actors]") && s.contains("● running")
    });

    // A path only this request carries: the guest prints it, nothing else can.
    let path = "/logs-view-probe-7c1f";
    let (status, _) = http_get(port, path).expect("echo serves HTTP");
    assert_eq!(status, 200);

    pane.keys("l");
    let shown = pane.wait_for("the guest's line in the actor's logs", |s| {
        s.contains(&format!("echo: GET {path}"))
    });
    assert!(
        shown.contains("actor echo"),
        "filtered to the actor: {shown}"
    );
    assert!(shown.contains("following"), "{shown}");
    // Only the actor's own lines: the host's start-up line is filtered out.
    assert!(!shown.contains("console starting"), "{shown}");

    // `a` shows every line: the host's own log is there too.
    pane.keys("a");
    pane.wait_for("the host's own log with every actor", |s| {
        s.contains("all actors") && s.contains("console starting")
    });

    // `:logs echo --level warn` (from the tables) hides the stdout line (INFO).
    pane.keys("Escape");
    pane.wait_for("back on the tables", |s| {
        s.contains("[2 Actors]") && !s.contains("all actors")
    });
    pane.keys(":logs echo --level warn");
    pane.keys("Enter");
    let warn = pane.wait_for("the warn-filtered view", |s| s.contains("warn+"));
    assert!(!warn.contains(&format!("echo: GET {path}")), "{warn}");

    pane.keys("Escape");
    pane.keys("q");
    let after = pane.wait_for("the console to exit", |s| s.contains("EXIT="));
    assert!(after.contains("EXIT=0"), "{after}");
    // The log file keeps getting every line, as before.
    let file = std::fs::read_to_string(&log).expect("console log");
    assert!(file.contains(&format!("echo: GET {path}")), "{file}");
}
