//! The console's `:` actions through `App::update`, with no I/O: keys typed, the request the
//! App hands its loop to put on the bus, the ack and the events that follow, the status line.
//! (The end-to-end runs against real hosts are driven in tmux; this pins the App's part.)

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration, TimeZone, Utc};
use lattice_tui::app::act::{ActMsg, Effect};
use lattice_tui::app::{App, ConsoleConfig, Msg};
use lattice_tui::lattice::monitor::MonitorMsg;
use lattice_tui::lattice::protocol::{
    ActorEventClaims, ActorStarted, EventData, HeartbeatActors, HostHeartbeat, LatticeEvent,
};
use lattice_tui::state::Timestamp;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};

const HOST: &str = "NAONEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const ECHO: &str = "MBECHOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn t(s: i64) -> Timestamp {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

fn app(readonly: bool) -> App {
    let cfg = ConsoleConfig {
        no_color: true,
        readonly,
        ..ConsoleConfig::new("default")
    };
    let mut app = App::new(&cfg, "in-process".into());
    event(&mut app, 0, heartbeat(1), 0);
    event(
        &mut app,
        1,
        EventData::ActorStarted(ActorStarted {
            public_key: ECHO.into(),
            image_ref: Some("./echo.wasm".into()),
            api_version: None,
            instance_id: "i0".into(),
            annotations: Default::default(),
            claims: Some(ActorEventClaims {
                name: Some("echo".into()),
                ..ActorEventClaims::default()
            }),
        }),
        1,
    );
    app
}

fn heartbeat(echo: u64) -> EventData {
    EventData::HostHeartbeat(HostHeartbeat {
        actors: HeartbeatActors::Counts([(ECHO.to_string(), echo)].into()),
        providers: vec![],
        labels: Default::default(),
        friendly_name: "one".into(),
        version: None,
        uptime_seconds: Some(1),
        uptime_human: None,
    })
}

fn event(app: &mut App, n: u64, data: EventData, at: i64) {
    let ev = LatticeEvent::new(format!("ev-{n}"), HOST, t(at), data);
    app.update(Msg::Monitor(MonitorMsg::Event(Arc::new(ev))), t(at));
}

fn key(app: &mut App, code: KeyCode) {
    app.update(
        Msg::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))),
        t(2),
    );
}

fn type_line(app: &mut App, line: &str) {
    key(app, KeyCode::Char(':'));
    for c in line.chars() {
        key(app, KeyCode::Char(c));
    }
    key(app, KeyCode::Enter);
}

fn status(app: &App) -> String {
    app.view.status().unwrap_or_default().to_owned()
}

fn only_request(app: &mut App) -> (u64, String, Value) {
    let effects: Vec<Effect> = app.actions.effects.drain(..).collect();
    match effects.as_slice() {
        [Effect::Request { id, request }] => (
            *id,
            request.subject.clone(),
            serde_json::from_slice(&request.body).unwrap(),
        ),
        other => panic!("expected one request, got {other:?}"),
    }
}

fn accepted() -> Result<Bytes, String> {
    Ok(Bytes::from_static(br#"{"accepted":true,"error":""}"#))
}

#[test]
fn a_typed_scale_goes_out_as_the_control_request_and_settles_on_the_count() {
    let mut app = app(false);
    type_line(&mut app, "scale echo 3");
    let (id, subject, body) = only_request(&mut app);
    assert_eq!(subject, format!("wasmbus.ctl.default.cmd.{HOST}.scale"));
    assert_eq!(
        body,
        json!({"actor_id": ECHO, "actor_ref": "./echo.wasm", "count": 3, "host_id": HOST})
    );
    assert_eq!(status(&app), "scale echo 3: sent…");
    app.update(
        Msg::Act(ActMsg::Reply {
            id,
            result: accepted(),
        }),
        t(3),
    );
    assert_eq!(status(&app), "scale echo 3: accepted…");
    event(&mut app, 5, heartbeat(3), 4);
    assert_eq!(status(&app), "scale echo 3: 3 running");
}

#[test]
fn a_refusal_and_a_timeout_reach_the_status_line() {
    let mut app = app(false);
    type_line(&mut app, "scale echo 2");
    let (id, _, _) = only_request(&mut app);
    app.update(
        Msg::Act(ActMsg::Reply {
            id,
            result: Ok(Bytes::from_static(
                br#"{"accepted":false,"error":"this host is busy"}"#,
            )),
        }),
        t(3),
    );
    assert_eq!(status(&app), "scale echo 2: refused: this host is busy");

    type_line(&mut app, "scale echo 5");
    let (id, _, _) = only_request(&mut app);
    app.update(
        Msg::Act(ActMsg::Reply {
            id,
            result: accepted(),
        }),
        t(3),
    );
    app.update(Msg::Tick, t(2) + Duration::seconds(31));
    assert_eq!(
        status(&app),
        "scale echo 5: timed out after 30 s: the count did not reach 5"
    );
}

#[test]
fn a_destructive_action_waits_for_y() {
    let mut app = app(false);
    type_line(&mut app, "stop-actor echo");
    assert!(
        app.actions.effects.is_empty(),
        "nothing is sent before the answer"
    );
    let question = app.view.question().unwrap_or_default().to_owned();
    assert_eq!(
        question,
        "Stop every instance of echo (MBECHOAAAA) on one (NAONEAAAAA)? [y/N]"
    );
    key(&mut app, KeyCode::Char('n'));
    assert!(app.actions.effects.is_empty());
    assert_eq!(status(&app), "stop-actor echo: cancelled");

    type_line(&mut app, "stop-actor echo");
    key(&mut app, KeyCode::Char('y'));
    let (_, subject, body) = only_request(&mut app);
    assert_eq!(subject, format!("wasmbus.ctl.default.cmd.{HOST}.sa"));
    assert_eq!(
        body,
        json!({"actor_ref": ECHO, "count": 0, "host_id": HOST})
    );
}

#[test]
fn a_readonly_console_refuses_actions_but_not_views() {
    let mut app = app(true);
    type_line(&mut app, "scale echo 3");
    assert!(app.actions.effects.is_empty());
    assert_eq!(
        status(&app),
        ":scale echo 3: refused: this console is read-only (--readonly)"
    );
    type_line(&mut app, "actors");
    assert_eq!(app.view.tab(), lattice_tui::ui::view_state::Tab::Actors);
    type_line(&mut app, "q");
    assert!(app.quit);
}

#[test]
fn a_mistake_says_what_is_wrong() {
    let mut app = app(false);
    type_line(&mut app, "scale nobody 3");
    assert_eq!(
        status(&app),
        ":scale nobody 3: no actor `nobody`; known: echo (MBECHOAAAA)"
    );
    type_line(&mut app, "scael echo 3");
    assert_eq!(status(&app), ":scael echo 3: unknown command `scael`");
}

const TWO: &str = "NATWOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Draws one frame, as the loop does: rendering resolves each tab's selected row.
fn draw(app: &mut App) {
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(140, 30)).expect("test terminal");
    term.draw(|f| lattice_tui::ui::render(f, &app.model, &mut app.view, t(2)))
        .expect("draw");
}

/// The console's own entries in the Events tab: `(summary, level)`.
fn action_entries(app: &App) -> Vec<(String, String)> {
    app.model
        .events
        .entries
        .iter()
        .filter(|e| e.ty() == Some("console_action"))
        .map(|e| (e.summary(None), format!("{:?}", e.level)))
        .collect()
}

#[test]
fn x_on_an_actor_row_stops_it_on_that_host_after_y() {
    let mut app = app(false);
    key(&mut app, KeyCode::Char('2'));
    draw(&mut app);
    key(&mut app, KeyCode::Char('x'));
    assert!(app.actions.effects.is_empty(), "nothing before the answer");
    assert_eq!(
        app.view.question().unwrap_or_default(),
        "Stop every instance of echo (MBECHOAAAA) on one (NAONEAAAAA)? [y/N]"
    );
    key(&mut app, KeyCode::Char('y'));
    let (id, subject, body) = only_request(&mut app);
    assert_eq!(subject, format!("wasmbus.ctl.default.cmd.{HOST}.sa"));
    assert_eq!(
        body,
        json!({"actor_ref": ECHO, "count": 0, "host_id": HOST})
    );
    app.update(
        Msg::Act(ActMsg::Reply {
            id,
            result: Ok(Bytes::from_static(
                br#"{"accepted":false,"error":"no such actor"}"#,
            )),
        }),
        t(3),
    );
    let label = "stop-actor echo --host one";
    assert_eq!(status(&app), format!("{label}: refused: no such actor"));
    // Each step is in the Events tab too; the refusal as an error.
    assert_eq!(
        action_entries(&app),
        [
            (format!("{label}: sent…"), "Info".to_owned()),
            (
                format!("{label}: refused: no such actor"),
                "Error".to_owned()
            )
        ]
    );
    // The row key's command is in the history: ↑ on the command line brings it back.
    key(&mut app, KeyCode::Char(':'));
    key(&mut app, KeyCode::Up);
    assert_eq!(app.view.command_text(), label);
}

#[test]
fn s_on_an_actor_row_opens_the_scale_for_that_host_and_waits_for_the_count() {
    let mut app = app(false);
    key(&mut app, KeyCode::Char('2'));
    draw(&mut app);
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.view.command_text(), "scale echo --host one ");
    assert!(app.actions.effects.is_empty());
    key(&mut app, KeyCode::Char('4'));
    key(&mut app, KeyCode::Enter);
    let (_, subject, body) = only_request(&mut app);
    assert_eq!(subject, format!("wasmbus.ctl.default.cmd.{HOST}.scale"));
    assert_eq!(body["count"], 4);
}

#[test]
fn row_keys_on_a_readonly_console_are_refused_before_any_line_opens() {
    let mut app = app(true);
    key(&mut app, KeyCode::Char('2'));
    draw(&mut app);
    for (k, verb) in [
        ('x', "stop"),
        ('s', "scale"),
        ('n', "new"),
        ('u', "update"),
        ('L', "link"),
    ] {
        key(&mut app, KeyCode::Char(k));
        assert_eq!(
            status(&app),
            format!("{verb}: refused: this console is read-only (--readonly)"),
            "key {k}"
        );
        assert_eq!(app.view.mode(), lattice_tui::ui::Mode::Normal, "key {k}");
        assert!(app.actions.effects.is_empty(), "key {k}");
    }
}

#[test]
fn an_action_on_two_hosts_asks_which_and_goes_to_the_one_picked() {
    let mut app = app(false);
    let ev = LatticeEvent::new("ev-two", TWO, t(1), heartbeat(1));
    app.update(Msg::Monitor(MonitorMsg::Event(Arc::new(ev))), t(1));
    type_line(&mut app, "scale echo 2");
    assert!(app.actions.effects.is_empty());
    let question = app.view.question().unwrap_or_default().to_owned();
    assert!(
        question.starts_with(":scale echo 2: on which host? 1 one (NAONEAAAAA)  2 "),
        "{question}"
    );
    assert_eq!(app.view.mode(), lattice_tui::ui::Mode::Pick);
    key(&mut app, KeyCode::Char('2'));
    let (_, subject, body) = only_request(&mut app);
    assert_eq!(subject, format!("wasmbus.ctl.default.cmd.{TWO}.scale"));
    assert_eq!(body["host_id"], TWO);
    // A digit past the choices does nothing; Esc cancels.
    type_line(&mut app, "scale echo 2");
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(app.view.mode(), lattice_tui::ui::Mode::Pick);
    key(&mut app, KeyCode::Esc);
    assert!(app.actions.effects.is_empty());
    assert_eq!(status(&app), ":scale echo 2: cancelled");
}

#[test]
fn tab_on_a_ref_completes_a_file_path_from_the_console_s_directory_listing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("echo.wasm"), b"\0asm").expect("write");
    std::fs::write(dir.path().join("echo.txt"), b"not an actor").expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    let mut app = app(false);
    key(&mut app, KeyCode::Char(':'));
    for c in format!("start-actor {}/e", dir.path().display()).chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        app.view.command_text(),
        format!("start-actor {}/echo.wasm ", dir.path().display())
    );
    // After the path, a flag completes from the grammar as before.
    for c in "--co".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        app.view.command_text(),
        format!("start-actor {}/echo.wasm --count ", dir.path().display())
    );
    // Nothing matches: the line stays and the status says so.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char(':'));
    for c in format!("update-actor echo {}/zz", dir.path().display()).chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Tab);
    assert_eq!(
        app.view.command_text(),
        format!("update-actor echo {}/zz", dir.path().display())
    );
    assert_eq!(
        app.view.command_candidates(),
        [format!("no file matches {}/zz*", dir.path().display())]
    );
}

/// Found by `benches/action_round_trip.rs` (a `:scale` now and then took the 30 s until the
/// next heartbeat): the host's events can reach the console before its ack. The count was
/// only compared with the target on an event after the ack, so the outcome waited for the
/// next event — or timed out though the count was reached.
#[test]
fn a_count_reached_before_the_ack_settles_the_scale_on_the_ack() {
    let mut app = app(false);
    type_line(&mut app, "scale echo 3");
    let (id, _, _) = only_request(&mut app);
    event(&mut app, 5, heartbeat(3), 2);
    app.update(
        Msg::Act(ActMsg::Reply {
            id,
            result: accepted(),
        }),
        t(3),
    );
    assert_eq!(status(&app), "scale echo 3: 3 running");
}
