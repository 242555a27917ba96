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
