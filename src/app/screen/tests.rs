//! A footer-only frame leaves the terminal showing exactly what a full frame of the same state
//! shows: two terminals go through the same frames, one drawn by the console's [`Screen`]
//! (often only its footer line), the other with a full `ui::render` through ratatui every
//! time, and after each frame every cell (symbol and style) and the cursor must be the same.
//! (Against the same history, not a fresh terminal: after a double-width character ratatui's
//! diff leaves the next cell as it was, in a full frame too.)

use std::sync::Arc;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::{Drawn, Screen};
use crate::app::act::{ActMsg, Effect};
use crate::app::{App, ConsoleConfig, Msg};
use crate::lattice::monitor::MonitorMsg;
use crate::lattice::protocol::{
    ActorEventClaims, ActorStarted, EventData, HeartbeatActors, HostHeartbeat, LatticeEvent,
};
use crate::state::Timestamp;

pub(crate) const HOST: &str = "NAONEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
pub(crate) const ECHO: &str = "MBECHOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

pub(crate) fn t(s: i64) -> Timestamp {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

/// When every frame is drawn: relative times are the same in the footer-only frame (which
/// keeps the last full frame's) and in the full frame it is compared with.
fn now() -> Timestamp {
    t(10)
}

pub(crate) fn heartbeat(echo: u64) -> EventData {
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

pub(crate) fn event(app: &mut App, n: u64, data: EventData, at: i64) {
    let ev = LatticeEvent::new(format!("ev-{n}"), HOST, t(at), data);
    app.update(Msg::Monitor(MonitorMsg::Event(Arc::new(ev))), t(at));
}

/// A console knowing one host running `echo` (one instance).
pub(crate) fn app(readonly: bool) -> App {
    let cfg = ConsoleConfig {
        no_color: false,
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

fn key(app: &mut App, code: KeyCode) {
    app.update(
        Msg::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))),
        t(2),
    );
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// Types `:line` and Enter.
fn submit(app: &mut App, line: &str) {
    key(app, KeyCode::Char(':'));
    type_text(app, line);
    key(app, KeyCode::Enter);
}

/// The one request the App hands its loop (the loop would send it now).
fn request_id(app: &mut App) -> u64 {
    let effects: Vec<Effect> = app.actions.effects.drain(..).collect();
    match effects.as_slice() {
        [Effect::Request { id, .. }] => *id,
        other => panic!("expected one request, got {other:?}"),
    }
}

fn reply(app: &mut App, id: u64, result: Result<&'static [u8], &str>) {
    let result = result.map(Bytes::from_static).map_err(str::to_owned);
    app.update(Msg::Act(ActMsg::Reply { id, result }), t(3));
}

pub(crate) const ACCEPTED: &[u8] = br#"{"accepted":true,"error":""}"#;

/// Why two screens differ, if they do: the first cell that differs, or the cursor.
fn difference(got: &TestBackend, want: &TestBackend) -> Option<String> {
    let (g, w) = (got.buffer(), want.buffer());
    if g.area != w.area {
        return Some(format!("size {:?} vs {:?}", g.area, w.area));
    }
    for (i, (a, b)) in g.content.iter().zip(&w.content).enumerate() {
        if a != b {
            let (x, y) = g.pos_of(i);
            return Some(format!("cell ({x}, {y}): {a:?} vs {b:?}"));
        }
    }
    if got.cursor_visible() != want.cursor_visible() {
        return Some(format!(
            "cursor shown: {} vs {}",
            got.cursor_visible(),
            want.cursor_visible()
        ));
    }
    if want.cursor_visible() && got.cursor_position() != want.cursor_position() {
        return Some(format!(
            "cursor at {:?} vs {:?}",
            got.cursor_position(),
            want.cursor_position()
        ));
    }
    None
}

/// The console's terminal and screen, and a terminal that gets a full frame each time.
struct Console {
    term: Terminal<TestBackend>,
    screen: Screen,
    full: Terminal<TestBackend>,
}

impl Console {
    /// `width`×`height` terminals with `app`'s first (full) frame on them.
    fn new(app: &mut App, width: u16, height: u16) -> Self {
        let mut c = Self {
            term: Terminal::new(TestBackend::new(width, height)).expect("terminal"),
            screen: Screen::new(),
            full: Terminal::new(TestBackend::new(width, height)).expect("terminal"),
        };
        assert_eq!(c.draw(app, "the first frame"), Drawn::Full);
        c
    }

    /// Draws the next frame as the loop does, and a full frame on the other terminal; checks
    /// both show the same. Returns how the console's frame was drawn.
    fn draw(&mut self, app: &mut App, state: &str) -> Drawn {
        let drawn = self.screen.draw(&mut self.term, app, now()).expect("draw");
        self.full
            .draw(|f| crate::ui::render(f, &app.model, &mut app.view, now()))
            .expect("draw");
        if let Some(why) = difference(self.term.backend(), self.full.backend()) {
            panic!(
                "{state}: a {drawn:?} frame left the screen unlike a full frame: {why}\n\
                 drawn:\n{}\nfull:\n{}",
                self.term.backend(),
                self.full.backend()
            );
        }
        drawn
    }

    /// Both terminals resized.
    fn resize(&mut self, width: u16, height: u16) {
        self.term.backend_mut().resize(width, height);
        self.full.backend_mut().resize(width, height);
    }

    fn text(&self) -> String {
        self.term.backend().to_string()
    }
}

#[test]
fn an_ack_redraws_only_the_footer_and_the_screen_is_a_full_frame() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    submit(&mut app, "scale echo 3");
    assert_eq!(c.draw(&mut app, "sent"), Drawn::Footer);
    assert!(c.text().contains("scale echo 3: sent…"), "{}", c.text());
    let id = request_id(&mut app);
    reply(&mut app, id, Ok(ACCEPTED));
    assert!(app.urgent, "an ack is drawn at once");
    assert_eq!(c.draw(&mut app, "ack"), Drawn::Footer);
    assert!(c.text().contains("scale echo 3: accepted…"), "{}", c.text());
    assert!(!app.urgent && !app.dirty && !app.footer_dirty);
}

#[test]
fn an_outcome_from_events_redraws_in_full_and_one_settled_at_the_ack_only_the_footer() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    submit(&mut app, "scale echo 3");
    let id = request_id(&mut app);
    reply(&mut app, id, Ok(ACCEPTED));
    assert_eq!(c.draw(&mut app, "ack"), Drawn::Footer);
    // The count changes in the tables: a full frame.
    event(&mut app, 2, heartbeat(3), 4);
    assert!(app.urgent, "an outcome is drawn at once");
    assert_eq!(c.draw(&mut app, "outcome"), Drawn::Full);
    assert!(c.text().contains("scale echo 3: 3 running"), "{}", c.text());
    // The events came first (drawn), the ack settles it: only the footer changes.
    submit(&mut app, "scale echo 1");
    let id = request_id(&mut app);
    event(&mut app, 3, heartbeat(1), 5);
    assert_eq!(c.draw(&mut app, "events before the ack"), Drawn::Full);
    reply(&mut app, id, Ok(ACCEPTED));
    assert_eq!(c.draw(&mut app, "outcome at the ack"), Drawn::Footer);
    assert!(c.text().contains("scale echo 1: 1 running"), "{}", c.text());
}

#[test]
fn errors_and_long_or_wide_texts_redraw_only_the_footer() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    submit(&mut app, "scale echo 2");
    let id = request_id(&mut app);
    reply(
        &mut app,
        id,
        Err("no responders for wasmbus.ctl.default.cmd"),
    );
    assert_eq!(c.draw(&mut app, "error"), Drawn::Footer);
    assert!(c.text().contains("no responders"), "{}", c.text());
    // Longer than the line, and double-width characters across the cut.
    submit(&mut app, "scale echo 4");
    let id = request_id(&mut app);
    let long: &'static str = Box::leak(
        format!(
            r#"{{"accepted":false,"error":"{}ホストは忙しいです{}"}}"#,
            "x".repeat(83),
            " and more".repeat(30)
        )
        .into_boxed_str(),
    );
    reply(&mut app, id, Ok(long.as_bytes()));
    assert_eq!(c.draw(&mut app, "long text"), Drawn::Footer);
    assert!(c.text().contains("refused: xxx"), "{}", c.text());
    // Back to a short one: the cells the long one covered are cleared.
    submit(&mut app, "scale echo 5");
    assert_eq!(c.draw(&mut app, "short after long"), Drawn::Footer);
}

#[test]
fn a_narrow_terminal_redraws_only_the_footer() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 60, 20);
    submit(&mut app, "scale echo 3");
    let id = request_id(&mut app);
    reply(&mut app, id, Ok(ACCEPTED));
    assert_eq!(c.draw(&mut app, "narrow ack"), Drawn::Footer);
    assert!(c.text().contains("scale echo 3: accepted"), "{}", c.text());
}

#[test]
fn over_the_help_overlay_an_ack_draws_a_full_frame() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    submit(&mut app, "scale echo 3");
    let id = request_id(&mut app);
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(c.draw(&mut app, "help open"), Drawn::Full);
    reply(&mut app, id, Ok(ACCEPTED));
    assert_eq!(c.draw(&mut app, "ack under help"), Drawn::Full);
    key(&mut app, KeyCode::Esc);
    assert_eq!(c.draw(&mut app, "help closed"), Drawn::Full);
    assert!(c.text().contains("scale echo 3: accepted"), "{}", c.text());
}

#[test]
fn a_readonly_refusal_redraws_only_the_footer() {
    let mut app = app(true);
    let mut c = Console::new(&mut app, 120, 30);
    assert!(c.text().contains("READONLY"), "{}", c.text());
    submit(&mut app, "scale echo 3");
    assert_eq!(c.draw(&mut app, "readonly refusal"), Drawn::Footer);
    assert!(
        c.text().contains("refused: this console is read-only"),
        "{}",
        c.text()
    );
}

#[test]
fn typing_a_line_redraws_the_footer_with_its_cursor() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    key(&mut app, KeyCode::Char(':'));
    assert_eq!(c.draw(&mut app, "command line open"), Drawn::Footer);
    type_text(&mut app, "sca");
    assert_eq!(c.draw(&mut app, "typing"), Drawn::Footer);
    assert!(c.term.backend().cursor_visible());
    assert_eq!(c.term.backend().cursor_position(), (4, 29).into());
    key(&mut app, KeyCode::Tab);
    assert_eq!(c.draw(&mut app, "completed"), Drawn::Footer);
    key(&mut app, KeyCode::Esc);
    assert_eq!(c.draw(&mut app, "cancelled"), Drawn::Footer);
    assert!(!c.term.backend().cursor_visible());
    // A filter changes the rows: in full; leaving its line only the footer.
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(c.draw(&mut app, "filter line"), Drawn::Footer);
    type_text(&mut app, "on");
    assert_eq!(c.draw(&mut app, "filter typed"), Drawn::Full);
    key(&mut app, KeyCode::Enter);
    assert_eq!(c.draw(&mut app, "filter kept"), Drawn::Footer);
}

#[test]
fn a_question_and_its_answer_are_drawn_like_full_frames() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    submit(&mut app, "stop-actor echo");
    assert_eq!(c.draw(&mut app, "confirmation"), Drawn::Footer);
    assert!(c.text().contains("[y/N]"), "{}", c.text());
    key(&mut app, KeyCode::Char('n'));
    c.draw(&mut app, "cancelled");
    assert!(
        c.text().contains("stop-actor echo: cancelled"),
        "{}",
        c.text()
    );
}

#[test]
fn where_the_event_log_shows_an_ack_draws_a_full_frame() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    key(&mut app, KeyCode::Char('5'));
    assert_eq!(c.draw(&mut app, "events tab"), Drawn::Full);
    submit(&mut app, "scale echo 2");
    assert_eq!(c.draw(&mut app, "sent, logged"), Drawn::Full);
    let id = request_id(&mut app);
    reply(&mut app, id, Ok(ACCEPTED));
    assert_eq!(c.draw(&mut app, "ack, logged"), Drawn::Full);
    // An actor's view lists its updates from the log: in full too.
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(c.draw(&mut app, "actor view"), Drawn::Full);
    assert!(app.view.object().is_some(), "{}", c.text());
    submit(&mut app, "scale echo 3");
    assert_eq!(c.draw(&mut app, "sent in the actor view"), Drawn::Full);
}

#[test]
fn after_a_resize_the_next_frame_is_a_full_one() {
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    submit(&mut app, "scale echo 2");
    assert_eq!(c.draw(&mut app, "sent"), Drawn::Footer);
    c.resize(100, 24);
    let id = request_id(&mut app);
    reply(&mut app, id, Ok(ACCEPTED));
    assert_eq!(c.draw(&mut app, "ack after a resize"), Drawn::Full);
    submit(&mut app, "scale echo 3");
    assert_eq!(c.draw(&mut app, "sent at the new size"), Drawn::Footer);
}

#[test]
fn footer_frames_between_full_ones_keep_ratatui_s_diff_right() {
    // After footer-only frames ratatui's previous buffer is stale; a full frame that puts
    // back what the last full frame showed in the footer must still reach the terminal.
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    for round in 0..3_u16 {
        let n = round + 2;
        submit(&mut app, &format!("scale echo {n}"));
        assert_eq!(c.draw(&mut app, "sent"), Drawn::Footer);
        let id = request_id(&mut app);
        reply(&mut app, id, Ok(ACCEPTED));
        assert_eq!(c.draw(&mut app, "ack"), Drawn::Footer);
        key(&mut app, KeyCode::Char(':'));
        assert_eq!(c.draw(&mut app, "typing"), Drawn::Footer);
        key(&mut app, KeyCode::Esc);
        event(&mut app, u64::from(10 + round), heartbeat(u64::from(n)), 4);
        assert_eq!(c.draw(&mut app, "outcome"), Drawn::Full);
        app.dirty = true;
        assert_eq!(c.draw(&mut app, "nothing changed, in full"), Drawn::Full);
    }
}

#[test]
fn the_comparison_sees_a_footer_drawn_on_the_wrong_line() {
    // The check above is not blind: the same screen with its footer one line too high (as
    // a partial frame rendering the wrong area would leave it) differs from a full frame.
    let mut app = app(false);
    let mut c = Console::new(&mut app, 120, 30);
    submit(&mut app, "scale echo 3");
    assert_eq!(c.draw(&mut app, "sent"), Drawn::Footer);
    let area = c.term.backend().buffer().area;
    let footer = crate::ui::footer_area(area);
    let above = ratatui::layout::Rect {
        y: footer.y - 1,
        ..footer
    };
    let mut wrong = TestBackend::new(area.width, area.height);
    let mut shifted: Buffer = c.term.backend().buffer().clone();
    for x in footer.left()..footer.right() {
        let cell = shifted[(x, footer.y)].clone();
        shifted[(x, above.y)] = cell;
    }
    let cells: Vec<_> = shifted
        .content
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            let (x, y) = shifted.pos_of(i);
            (x, y, cell)
        })
        .collect();
    ratatui::backend::Backend::draw(&mut wrong, cells.into_iter()).expect("draw");
    let why = difference(&wrong, c.full.backend()).expect("a footer on the wrong line is seen");
    assert!(why.contains(&format!(", {})", above.y)), "{why}");
}
