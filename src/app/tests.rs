use super::*;
use bytes::Bytes;

use crate::lattice::bus::{BusStatus, ConnectionState};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn app() -> App {
    let cfg = ConsoleConfig {
        no_color: true,
        ..ConsoleConfig::new("default")
    };
    App::new(&cfg, "in-process".into())
}

fn key(code: KeyCode, kind: KeyEventKind) -> Msg {
    let mut k = KeyEvent::new(code, KeyModifiers::NONE);
    k.kind = kind;
    Msg::Input(Event::Key(k))
}

#[test]
fn q_quits_and_releases_are_ignored() {
    let mut a = app();
    a.update(key(KeyCode::Char('q'), KeyEventKind::Release), Utc::now());
    assert!(!a.quit);
    a.update(key(KeyCode::Char('q'), KeyEventKind::Press), Utc::now());
    assert!(a.quit);
}

#[test]
fn monitor_status_reaches_the_header_facts() {
    let mut a = app();
    a.dirty = false;
    let mut st = BusStatus::new(ConnectionState::Connected);
    st.dropped = 3;
    a.update(Msg::Monitor(MonitorMsg::Status(st)), Utc::now());
    assert!(a.dirty);
    assert_eq!(a.model.connection.state, "connected");
    assert_eq!(a.model.connection.dropped, 3);
    assert!(a.model.connection.last_drop.is_some());
}

#[test]
fn a_stopped_monitor_is_shown_not_hidden() {
    let mut a = app();
    a.update(Msg::MonitorStopped("gone".into()), Utc::now());
    assert_eq!(a.model.connection.state, "closed");
    assert!(
        a.model
            .connection
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("gone"))
    );
}

#[test]
fn build_events_reach_the_model_through_update() {
    let mut a = app();
    a.dirty = false;
    a.update(
        Msg::Build {
            command: "make".into(),
            event: BuildEvent::Started {
                run: 1,
                trigger: vec![],
            },
        },
        Utc::now(),
    );
    assert!(a.dirty);
    let b = a.model.build.as_ref().expect("build state");
    assert_eq!((b.command.as_str(), b.run), ("make", 1));
}

/// An app whose model knows one host, `NHOST…`; returns its id.
fn app_with_a_host() -> (App, String) {
    use crate::lattice::protocol::{EventData, HostStarted, LatticeEvent};
    let mut a = app();
    let host = format!("{:N<56}", "NHOST");
    let ev = LatticeEvent::new(
        "ev-1",
        host.clone(),
        Utc::now(),
        EventData::HostStarted(HostStarted {
            labels: Default::default(),
            friendly_name: "h".into(),
            uptime_seconds: Some(0),
            version: None,
        }),
    );
    state::apply(&mut a.model, &ev, Utc::now());
    (a, host)
}

#[test]
fn c_queues_the_selected_id_for_the_terminal_and_says_so() {
    let (mut a, host) = app_with_a_host();
    a.update(key(KeyCode::Char('c'), KeyEventKind::Press), Utc::now());
    assert_eq!(a.clipboard.pending().collect::<Vec<_>>(), [host.as_str()]);
    assert_eq!(a.view.status(), Some(format!("copied {host}").as_str()));
}

#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::sync::lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_loop_writes_the_copy_escape_to_the_terminal() {
    let (mut a, host) = app_with_a_host();
    let sink = Sink::default();
    a.clipboard.set_writer(Box::new(sink.clone()));
    let mut term = Terminal::new(ratatui::backend::TestBackend::new(100, 30)).expect("term");
    let (keys, input) = mpsc::channel(4);
    for c in ['c', 'q'] {
        let k = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        keys.send(Ok(Event::Key(k))).await.expect("send");
    }
    let inputs = Inputs {
        input,
        monitor: None,
        monitor_stopped: None,
        build: None,
        host: None,
        subscribed: None,
        stop: Box::pin(futures::future::pending()),
        bus: None,
    };
    run_loop(&mut a, &mut term, inputs).await.expect("loop");
    let written = String::from_utf8(crate::sync::lock(&sink.0).clone()).expect("utf8");
    assert_eq!(written, clipboard::osc52(&host));
}

fn type_line(a: &mut App, line: &str) {
    a.update(key(KeyCode::Char(':'), KeyEventKind::Press), Utc::now());
    for c in line.chars() {
        a.update(key(KeyCode::Char(c), KeyEventKind::Press), Utc::now());
    }
    a.update(key(KeyCode::Enter, KeyEventKind::Press), Utc::now());
}

#[test]
fn logs_opens_the_view_and_each_pull_moves_the_new_lines_into_it() {
    use crate::state::logs::{LogLevel, LogLine};
    use crate::ui::Mode;
    let mut a = app();
    let ring = LogRing::new(100);
    a.set_log_ring(Arc::clone(&ring));
    type_line(&mut a, "logs nobody");
    assert_eq!(a.view.mode(), Mode::Normal);
    assert!(
        a.view.status().is_some_and(|s| s.contains("nobody")),
        "an unknown actor is an error: {:?}",
        a.view.status()
    );
    type_line(&mut a, "logs --level warn");
    assert_eq!(a.view.mode(), Mode::Logs);
    assert_eq!(a.view.logs().level(), Some(LogLevel::Warn));
    ring.push(LogLine::new(
        Utc::now(),
        LogLevel::Warn,
        "t",
        None,
        None,
        "one",
    ));
    ring.push(LogLine::new(
        Utc::now(),
        LogLevel::Info,
        "t",
        None,
        None,
        "two",
    ));
    a.dirty = false;
    a.pull_logs();
    assert!(a.dirty, "new lines redraw");
    assert_eq!(a.view.logs().len(), 2);
    a.dirty = false;
    a.pull_logs();
    assert!(!a.dirty, "nothing new, no redraw");
    assert_eq!(
        a.view.logs().capacity(),
        100,
        "the view keeps what the ring keeps"
    );
}

#[test]
fn the_frame_interval_allows_about_thirty_frames_per_second() {
    // A units slip here (30 s instead of 1/30 s) would freeze the screen.
    assert!(FRAME_INTERVAL < Duration::from_millis(50));
    assert!(FRAME_INTERVAL >= Duration::from_millis(16));
    assert!(CLOCK_INTERVAL <= Duration::from_secs(1));
}

/// Watched texts, each with the (tokio) instant a flushed frame first showed it.
type Seen = Arc<std::sync::Mutex<Vec<(String, Option<tokio::time::Instant>)>>>;

/// A `TestBackend` noting when a flushed frame first shows each watched text.
struct Noting {
    inner: ratatui::backend::TestBackend,
    seen: Seen,
    shown: Arc<tokio::sync::Notify>,
}

impl Backend for Noting {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<ratatui::layout::Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(
        &mut self,
        position: P,
    ) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<ratatui::layout::Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<ratatui::backend::WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        let screen = self.inner.to_string();
        for (text, at) in crate::sync::lock(&self.seen).iter_mut() {
            if at.is_none() && screen.contains(text.as_str()) {
                *at = Some(tokio::time::Instant::now());
                self.shown.notify_one();
            }
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_loop_draws_an_ack_and_the_outcome_at_once_not_on_the_next_frame_tick() {
    use super::screen::tests::{ACCEPTED, HOST, app as console, heartbeat};
    use crate::lattice::protocol::LatticeEvent;
    let mut a = console(false);
    // A host answering the scale on the in-process lattice, once told to (after the frame
    // tick drew `sent…`: the next tick is a frame interval away).
    let bus = Bus::local();
    let subject = format!("wasmbus.ctl.default.cmd.{HOST}.scale");
    let mut requests = bus.subscribe(&subject).await.expect("subscribe");
    let host = bus.clone();
    let (answer, answer_now) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let Some(m) = requests.next().await else {
            return;
        };
        let _ = answer_now.await;
        if let Some(to) = m.reply {
            let _ = host.publish(&to, Bytes::from_static(ACCEPTED)).await;
        }
    });
    let seen: Seen = Arc::new(std::sync::Mutex::new(
        [
            "scale echo 3: sent…",
            "scale echo 3: accepted…",
            "scale echo 3: 3 running",
        ]
        .map(|t| (t.to_owned(), None))
        .into(),
    ));
    let shown = Arc::new(tokio::sync::Notify::new());
    let backend = Noting {
        inner: ratatui::backend::TestBackend::new(120, 30),
        seen: Arc::clone(&seen),
        shown: Arc::clone(&shown),
    };
    let mut term = Terminal::new(backend).expect("term");
    let (keys, input) = mpsc::channel(64);
    let (events, monitor) = mpsc::channel(8);
    let (stop, stopped) = oneshot::channel::<()>();
    let user = tokio::spawn(async move {
        // Between two frame ticks (the clock is paused: it moves only when all wait).
        tokio::time::sleep(FRAME_INTERVAL * 2 + FRAME_INTERVAL / 4).await;
        for c in ":scale echo 3"
            .chars()
            .map(KeyCode::Char)
            .chain([KeyCode::Enter])
        {
            let k = KeyEvent::new(c, KeyModifiers::NONE);
            keys.send(Ok(Event::Key(k))).await.expect("send");
        }
        let at = |i: usize| crate::sync::lock(&seen)[i].1;
        while at(0).is_none() {
            shown.notified().await;
        }
        let answered = tokio::time::Instant::now();
        let _ = answer.send(());
        while at(1).is_none() {
            shown.notified().await;
        }
        // The host's heartbeat brings the count: the outcome.
        let ev = LatticeEvent::new("hb-3", HOST, Utc::now(), heartbeat(3));
        let counted = tokio::time::Instant::now();
        let msg = MonitorMsg::Event(Arc::new(ev));
        events.send(msg).await.expect("send");
        while at(2).is_none() {
            shown.notified().await;
        }
        let _ = stop.send(());
        (at(1).map(|t| t - answered), at(2).map(|t| t - counted))
    });
    let inputs = Inputs {
        input,
        monitor: Some(monitor),
        monitor_stopped: None,
        build: None,
        host: None,
        subscribed: None,
        stop: Box::pin(async move {
            let _ = stopped.await;
        }),
        bus: Some(bus),
    };
    run_loop(&mut a, &mut term, inputs).await.expect("loop");
    let (ack, outcome) = user.await.expect("user");
    // No frame tick came in between (the last one drew `sent…`): both were drawn in the
    // turn that received them.
    assert_eq!(ack, Some(Duration::ZERO), "the ack waited for a frame tick");
    assert_eq!(
        outcome,
        Some(Duration::ZERO),
        "the outcome waited for a frame tick"
    );
}
