//! The logs view on a `TestBackend`: insta snapshots of following, wrap on and off, without
//! timestamps, an actor and level filter, a search with its highlight, the dropped counter and
//! an empty filter; `Buffer` assertions for the highlight's style; and the keys that open it
//! (`l` on an actor row, `:logs`-style opening) and drive it.

use chrono::{Duration, TimeZone, Utc};
use lattice_tui::lattice::protocol::{ActorEventClaims, ActorStarted, EventData, LatticeEvent};
use lattice_tui::state::logs::{LogLevel, LogLine, LogStream};
use lattice_tui::state::{self, Lattice, ModelConfig, Timestamp};
use lattice_tui::ui::{self, Action, Mode, Tab, ViewState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Modifier;

fn at(ms: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + Duration::milliseconds(ms)
}

fn key(prefix: &str) -> String {
    format!("{prefix:A<56}")
}

const HOST: &str = "NEDGE1";

/// A lattice with one host running `echo` (so its id resolves to the name).
fn model() -> Lattice {
    let mut m = Lattice::new("default", ModelConfig::default());
    m.connection.transport = "in-process".into();
    m.connection.state = "connected".into();
    let ev = LatticeEvent::new(
        "ev-1",
        key(HOST),
        at(0),
        EventData::ActorStarted(ActorStarted {
            public_key: key("MECHO"),
            image_ref: Some("file:///actors/echo.wasm".into()),
            api_version: None,
            instance_id: "i-1".into(),
            annotations: Default::default(),
            claims: Some(ActorEventClaims {
                name: Some("echo".into()),
                ..ActorEventClaims::default()
            }),
        }),
    );
    state::apply(&mut m, &ev, at(0));
    m
}

fn guest(seq: u64, ms: i64, actor: &str, stream: LogStream, text: &str) -> LogLine {
    let level = match stream {
        LogStream::Stdout => LogLevel::Info,
        LogStream::Stderr => LogLevel::Warn,
    };
    let mut l = LogLine::new(
        at(ms),
        level,
        "guest",
        Some(stream),
        Some(&key(actor)),
        text,
    );
    l.seq = seq;
    l
}

fn host(seq: u64, ms: i64, level: LogLevel, target: &'static str, text: &str) -> LogLine {
    let mut l = LogLine::new(at(ms), level, target, None, None, text);
    l.seq = seq;
    l
}

/// Twelve lines: host start-up, echo's requests, another actor's stderr, a long line.
fn lines() -> Vec<LogLine> {
    use LogStream::{Stderr, Stdout};
    vec![
        host(
            0,
            0,
            LogLevel::Info,
            "lattice_tui",
            "lattice-tui console starting version=0.1.0",
        ),
        host(
            1,
            15,
            LogLevel::Info,
            "lattice_tui::host::lifecycle",
            "host started",
        ),
        host(
            2,
            40,
            LogLevel::Debug,
            "lattice_tui::host::http",
            "listening addr=127.0.0.1:8080",
        ),
        guest(3, 1_000, "MECHO", Stdout, "echo: GET /"),
        guest(4, 1_250, "MECHO", Stdout, "echo: GET /hello"),
        guest(5, 1_300, "MKV", Stderr, "kv: cache miss for key user:42"),
        host(
            6,
            2_000,
            LogLevel::Warn,
            "lattice_tui::host::http",
            "slow request took_ms=812",
        ),
        guest(7, 2_100, "MECHO", Stdout, "echo: POST /items?buffer=1"),
        host(
            8,
            2_500,
            LogLevel::Error,
            "lattice_tui::host::runtime",
            "guest trapped: unreachable actor=MKV",
        ),
        guest(
            9,
            3_000,
            "MECHO",
            Stdout,
            "echo: GET /a/very/long/path/that/goes/on/and/on/past/the/right/edge/of/the/screen/so/it/must/be/cut/or/wrapped",
        ),
        guest(10, 3_100, "MKV", Stdout, "kv: GET user:42 -> hit"),
        guest(11, 3_200, "MECHO", Stdout, "echo: GET /hello again"),
    ]
}

fn logs_view(model: &Lattice) -> ViewState {
    let mut v = ViewState::new(false);
    v.logs_mut().append(lines());
    let _ = v.apply(Action::OpenLogs, model);
    v
}

fn draw(model: &Lattice, view: &mut ViewState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| ui::render(f, model, view, at(10_000)))
        .unwrap();
    term
}

fn press(view: &mut ViewState, model: &Lattice, code: KeyCode) {
    let _ = view.handle_key(&KeyEvent::new(code, KeyModifiers::NONE), model);
}

fn keys(view: &mut ViewState, model: &Lattice, text: &str) {
    for c in text.chars() {
        press(view, model, KeyCode::Char(c));
    }
}

#[test]
fn logs_following_with_timestamps() {
    let m = model();
    let mut v = logs_view(&m);
    assert_eq!(v.mode(), Mode::Logs);
    insta::assert_snapshot!(draw(&m, &mut v, 100, 18).backend());
}

#[test]
fn logs_wrapped_without_timestamps() {
    let m = model();
    let mut v = logs_view(&m);
    keys(&mut v, &m, "wt");
    assert!(v.logs().wrap() && !v.logs().timestamps());
    insta::assert_snapshot!(draw(&m, &mut v, 80, 18).backend());
}

#[test]
fn logs_of_one_actor_at_warn_and_above_and_paused() {
    let m = model();
    let mut v = logs_view(&m);
    v.open_logs(Some(key("MKV")), Some(LogLevel::Warn));
    keys(&mut v, &m, "s");
    assert!(!v.logs().following());
    insta::assert_snapshot!(draw(&m, &mut v, 100, 12).backend());
}

#[test]
fn a_search_highlights_its_matches_and_marks_the_current_one() {
    let m = model();
    let mut v = logs_view(&m);
    keys(&mut v, &m, "/");
    assert_eq!(v.mode(), Mode::LogsSearch);
    keys(&mut v, &m, "HELLO");
    // While typing, the footer shows the search being typed.
    let typing = draw(&m, &mut v, 100, 18);
    let footer: String = (0..100)
        .map(|x| typing.backend().buffer()[(x, 17)].symbol().to_string())
        .collect();
    assert!(footer.starts_with("/HELLO"), "{footer}");
    press(&mut v, &m, KeyCode::Enter);
    assert_eq!(v.mode(), Mode::Logs);
    assert_eq!(v.logs().current_match(), Some(11));
    keys(&mut v, &m, "N");
    assert_eq!(v.logs().current_match(), Some(4));
    let term = draw(&m, &mut v, 100, 18);
    insta::assert_snapshot!(term.backend());
    // Row of line 4 ("echo: GET /hello") and of line 11 ("… /hello again").
    let buf = term.backend().buffer();
    let find_row = |needle: &str| {
        (0..18u16)
            .find(|&y| {
                let row: String = (0..100).map(|x| buf[(x, y)].symbol().to_string()).collect();
                row.contains(needle)
            })
            .unwrap_or_else(|| panic!("no row with {needle}"))
    };
    let col_of = |y: u16, needle: &str| {
        let row: String = (0..100).map(|x| buf[(x, y)].symbol().to_string()).collect();
        let byte = row.find(needle).expect("needle on row");
        row[..byte].chars().count() as u16
    };
    let (current, other) = (find_row("GET /hello "), find_row("GET /hello again"));
    let x = col_of(current, "hello");
    assert!(
        buf[(x, current)].modifier.contains(Modifier::BOLD),
        "the current match is bold"
    );
    let x = col_of(other, "hello");
    assert!(
        buf[(x, other)].modifier.contains(Modifier::REVERSED),
        "other matches are reversed"
    );
    let x = col_of(other, "again");
    assert!(!buf[(x, other)].modifier.contains(Modifier::REVERSED));
}

#[test]
fn lines_the_view_never_got_are_counted_as_dropped() {
    let m = model();
    let mut v = logs_view(&m);
    // The ring overwrote 1,488 lines before the App copied them.
    v.logs_mut().append([host(
        1_500,
        9_000,
        LogLevel::Info,
        "lattice_tui",
        "after the flood",
    )]);
    assert_eq!(v.logs().dropped(), 1_488);
    insta::assert_snapshot!(draw(&m, &mut v, 100, 10).backend());
}

#[test]
fn a_filter_nothing_passes_says_how_to_widen_it() {
    let m = model();
    let mut v = logs_view(&m);
    v.open_logs(Some(key("MECHO")), Some(LogLevel::Error));
    insta::assert_snapshot!(draw(&m, &mut v, 100, 8).backend());
}

#[test]
fn l_on_an_actor_row_opens_that_actors_logs_and_esc_goes_back() {
    let m = model();
    let mut v = ViewState::new(false);
    v.logs_mut().append(lines());
    let _ = v.apply(Action::GoTab(Tab::Actors), &m);
    keys(&mut v, &m, "l");
    assert_eq!(v.mode(), Mode::Logs);
    assert_eq!(v.logs().actor(), Some(key("MECHO").as_str()));
    let term = draw(&m, &mut v, 100, 18);
    let screen = format!("{:?}", term.backend());
    assert!(screen.contains("actor echo"), "{screen}");
    assert!(!screen.contains("kv: cache miss"), "{screen}");
    // `a` shows every actor again; `l` then cycles the level.
    keys(&mut v, &m, "a");
    assert_eq!(v.logs().actor(), None);
    keys(&mut v, &m, "ll");
    assert_eq!(v.logs().level(), Some(LogLevel::Info));
    press(&mut v, &m, KeyCode::Esc);
    assert_eq!((v.mode(), v.tab()), (Mode::Normal, Tab::Actors));
    // On another tab, `l` opens every actor's lines.
    let _ = v.apply(Action::GoTab(Tab::Hosts), &m);
    v.open_logs(Some(key("MECHO")), None);
    press(&mut v, &m, KeyCode::Esc);
    keys(&mut v, &m, "l");
    assert_eq!(v.logs().actor(), None);
}

#[test]
fn scrolling_up_pauses_and_g_follows_again() {
    let m = model();
    let mut v = logs_view(&m);
    press(&mut v, &m, KeyCode::Up);
    press(&mut v, &m, KeyCode::Up);
    assert!(!v.logs().following());
    let screen = format!("{:?}", draw(&m, &mut v, 100, 18).backend());
    assert!(screen.contains("paused"), "{screen}");
    assert!(!screen.contains("hello again"), "two lines up: {screen}");
    keys(&mut v, &m, "G");
    assert!(v.logs().following());
    let screen = format!("{:?}", draw(&m, &mut v, 100, 18).backend());
    assert!(screen.contains("hello again"), "{screen}");
}
