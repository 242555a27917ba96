//! The console: one loop that owns the model and the view, fed by tasks that only report facts.
//!
//! ```text
//! crossterm EventStream ─(input task, 64)──┐
//! monitor task (wasmbus.evt + resync, 1024)─┤──► App::update ──► state reducer
//! 1 Hz clock ───────────────────────────────┘        │ dirty
//!                                   frame tick (≤30/s) └──► ui::render
//! ```
//! The App is the sole writer of the model; nothing here does lattice I/O itself (the monitor
//! does) and nothing in `ui/` or `state/` does any I/O at all. Redraws happen only when
//! something changed, at most once per [`FRAME_INTERVAL`].

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use futures::StreamExt;
use ratatui::crossterm::event::{Event, EventStream, KeyEventKind};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::host::HostHandle;
use crate::ingest::ingest;
use crate::lattice::bus::Bus;
use crate::lattice::monitor::{self, MonitorConfig, MonitorMsg};
use crate::state::{self, Lattice, LocalActor, LocalHost, LocalReload, ModelConfig, Timestamp};
use crate::terminal::TerminalGuard;
use crate::ui::{self, ViewState};

/// Minimum time between two frames: at most ~30 redraws per second.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// How often host liveness and relative times ("12s ago") are refreshed.
pub const CLOCK_INTERVAL: Duration = Duration::from_secs(1);
/// Terminal events buffered before the input task waits (back-pressure, nothing dropped).
const INPUT_QUEUE: usize = 64;
/// Monitor messages buffered before the monitor waits; beyond that the event subscription's
/// own bounded buffer absorbs bursts, and what it drops is counted and resynced.
const MONITOR_QUEUE: usize = 1024;
/// Monitor messages applied per loop turn before input and frames get a chance again.
const BATCH: usize = 256;

/// Console settings.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Lattice prefix.
    pub lattice: String,
    /// Model knobs.
    pub model: ModelConfig,
    /// Monitor settings.
    pub monitor: MonitorConfig,
    /// Plain theme (NO_COLOR).
    pub no_color: bool,
}

/// Inputs of the App.
#[derive(Debug)]
pub enum Msg {
    /// A terminal event.
    Input(Event),
    /// Something the monitor reported.
    Monitor(MonitorMsg),
    /// The monitor task ended; the text says why.
    MonitorStopped(String),
    /// The clock ticked.
    Tick,
    /// The embedded host's own facts (calls per actor).
    Local(LocalHost),
}

/// The console's state: the lattice model and the view.
pub struct App {
    /// The lattice as seen so far.
    pub model: Lattice,
    /// Selection, tab, filters.
    pub view: ViewState,
    /// Whether the next frame tick must draw.
    pub dirty: bool,
    /// Whether the user asked to quit.
    pub quit: bool,
}

impl App {
    /// A fresh console over `transport` (shown in the header).
    pub fn new(cfg: &ConsoleConfig, transport: String) -> Self {
        let mut model = Lattice::new(&cfg.lattice, cfg.model.clone());
        model.connection.transport = transport;
        model.connection.state = "connecting".to_string();
        Self {
            model,
            view: ViewState::new(cfg.no_color),
            dirty: true,
            quit: false,
        }
    }

    /// Applies one message received at `now`.
    pub fn update(&mut self, msg: Msg, now: Timestamp) {
        match msg {
            Msg::Input(Event::Key(key)) if key.kind == KeyEventKind::Press => {
                // Debug builds only: a way for the driven-binary test to check that a panic
                // restores the terminal.
                #[cfg(debug_assertions)]
                if key.code == ratatui::crossterm::event::KeyCode::Char('!')
                    && std::env::var_os("LATTICE_TUI_TEST_PANIC_KEY").is_some()
                {
                    #[allow(clippy::panic)]
                    {
                        panic!("test panic requested with LATTICE_TUI_TEST_PANIC_KEY");
                    }
                }
                let out = self.view.handle_key(&key, &self.model);
                self.quit |= out.quit;
                self.dirty |= out.dirty;
            }
            Msg::Input(Event::Resize(..)) => self.dirty = true,
            Msg::Input(_) => {}
            Msg::Monitor(m) => self.dirty |= ingest(&mut self.model, m, now),
            Msg::MonitorStopped(why) => {
                tracing::error!(reason = %why, "lattice monitor stopped");
                self.model.connection.last_error = Some(format!("event monitor stopped: {why}"));
                self.model.connection.state = "closed".to_string();
                self.dirty = true;
            }
            Msg::Local(local) => self.dirty |= state::set_local(&mut self.model, local),
            Msg::Tick => {
                state::tick(&mut self.model, now);
                // Relative times ("12s ago", uptime) move every second.
                self.dirty = true;
            }
        }
    }
}

/// What the console runs with besides the lattice.
#[derive(Default)]
pub struct Extras<'a> {
    /// The embedded host, for its call counts.
    pub host: Option<&'a HostHandle>,
    /// Fired once the console follows the lattice's events.
    pub subscribed: Option<tokio::sync::oneshot::Sender<()>>,
    /// The dev build's command and events.
    pub build: Option<(String, mpsc::Receiver<crate::watch::BuildEvent>)>,
}

/// The next item of an optional channel; pending forever without one.
async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => futures::future::pending().await,
    }
}

/// Runs the console on `bus` until the user quits or SIGTERM/SIGINT arrives. Owns the
/// terminal for that time and restores it on every exit path. `subscribed` fires once the
/// console follows the lattice's events, so whatever starts then is seen as it happens.
///
/// # Errors
/// The terminal cannot be set up or drawn, or the input stream fails.
pub async fn run_console(bus: Bus, cfg: ConsoleConfig, extras: Extras<'_>) -> anyhow::Result<()> {
    let Extras {
        host,
        mut subscribed,
        build,
    } = extras;
    let (build_command, mut build_rx) = match build {
        Some((c, rx)) => (c, Some(rx)),
        None => (String::new(), None),
    };
    let cancel = CancellationToken::new();
    let mut app = App::new(&cfg, bus.transport().to_string());

    let (mon_tx, mut mon_rx) = mpsc::channel(MONITOR_QUEUE);
    let (stop_tx, mut stop_rx) = mpsc::channel::<String>(1);
    let monitor_cancel = cancel.child_token();
    let monitor = tokio::spawn({
        let bus = bus.clone();
        let cfg = cfg.monitor.clone();
        async move {
            let why = match monitor::run(bus, cfg, mon_tx, monitor_cancel.clone()).await {
                Ok(()) if monitor_cancel.is_cancelled() => return,
                Ok(()) => "the event subscription ended".to_string(),
                Err(e) => e.to_string(),
            };
            let _ = stop_tx.send(why).await;
        }
    });

    let (mut terminal, guard) = TerminalGuard::enter().context("cannot set up the terminal")?;
    let (in_tx, mut in_rx) = mpsc::channel(INPUT_QUEUE);
    let input = tokio::spawn(read_input(in_tx, cancel.child_token()));
    let mut signals = Signals::new()?;

    let mut frame = tokio::time::interval(FRAME_INTERVAL);
    frame.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut clock = tokio::time::interval(CLOCK_INTERVAL);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(BATCH);

    let result: anyhow::Result<()> = loop {
        tokio::select! {
            biased;
            _ = signals.recv() => break Ok(()),
            ev = in_rx.recv() => match ev {
                Some(Ok(ev)) => app.update(Msg::Input(ev), Utc::now()),
                Some(Err(e)) => break Err(e).context("reading terminal input failed"),
                None => break Ok(()),
            },
            _ = frame.tick(), if app.dirty => {
                let now = Utc::now();
                if let Err(e) = terminal.draw(|f| ui::render(f, &app.model, &mut app.view, now)) {
                    break Err(e).context("drawing the console failed");
                }
                app.dirty = false;
            }
            _ = clock.tick() => {
                if let Some(h) = host {
                    app.update(Msg::Local(local_facts(h)), Utc::now());
                }
                app.update(Msg::Tick, Utc::now());
            }
            Some(why) = stop_rx.recv() => app.update(Msg::MonitorStopped(why), Utc::now()),
            Some(ev) = recv_opt(&mut build_rx) => {
                let update = crate::modes::build_update(ev);
                state::record_build(&mut app.model, &build_command, update, Utc::now());
                app.dirty = true;
            }
            n = mon_rx.recv_many(&mut batch, BATCH) => {
                if n > 0 {
                    let now = Utc::now();
                    for m in batch.drain(..) {
                        if matches!(m, MonitorMsg::Subscribed)
                            && let Some(tx) = subscribed.take()
                        {
                            let _ = tx.send(());
                        }
                        app.update(Msg::Monitor(m), now);
                    }
                }
            }
        }
        if app.quit {
            break Ok(());
        }
    };

    cancel.cancel();
    drop(guard);
    for task in [monitor, input] {
        if tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .is_err()
        {
            tracing::warn!("a console task did not stop within 2 s");
        }
    }
    result
}

/// What the embedded host knows that the lattice protocol does not carry.
fn local_facts(h: &HostHandle) -> LocalHost {
    let mut serving: Vec<String> = h
        .host()
        .http_routes()
        .iter()
        .map(|r| {
            let slash = if r.path.starts_with('/') { "" } else { "/" };
            format!("http://{}{slash}{}", r.address, r.path)
        })
        .collect();
    serving.dedup();
    LocalHost {
        serving,
        host_id: h.host().id(),
        actors: h
            .host()
            .actor_stats()
            .into_iter()
            .map(|a| {
                (
                    a.public_key,
                    LocalActor {
                        calls: a.calls.calls,
                        errors: a.calls.errors,
                        in_flight: a.calls.in_flight,
                        revision: a.revision,
                        digest: a.digest,
                        note: a.note,
                        source: a.source.to_string_lossy().into_owned(),
                        watched: a.watched,
                        last_reload: a.last_reload.map(|r| LocalReload {
                            at: Some(chrono::DateTime::<Utc>::from(r.at)),
                            revision: r.revision,
                            digest: r.digest,
                            detect_to_stable_us: micros(r.detect_to_stable),
                            stable_to_compiled_us: micros(r.stable_to_compiled),
                            swap_us: micros(r.swap),
                            total_us: micros(r.total),
                        }),
                        last_error: a.last_error,
                    },
                )
            })
            .collect(),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Forwards terminal events. Key releases are dropped by the App (pitfall: double handling).
async fn read_input(tx: mpsc::Sender<std::io::Result<Event>>, cancel: CancellationToken) {
    let mut events = EventStream::new();
    loop {
        let ev = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            ev = events.next() => ev,
        };
        let Some(ev) = ev else { return };
        let failed = ev.is_err();
        if tx.send(ev).await.is_err() || failed {
            return;
        }
    }
}

/// SIGTERM and SIGINT: in raw mode Ctrl-C is a key, but `kill` from outside still arrives.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::bus::{BusStatus, ConnectionState};
    use crate::lattice::subjects::Subjects;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn app() -> App {
        let cfg = ConsoleConfig {
            lattice: "default".into(),
            model: ModelConfig::default(),
            monitor: MonitorConfig::new(Subjects::new("default")),
            no_color: true,
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
    fn the_frame_interval_allows_about_thirty_frames_per_second() {
        // A units slip here (30 s instead of 1/30 s) would freeze the screen.
        assert!(FRAME_INTERVAL < Duration::from_millis(50));
        assert!(FRAME_INTERVAL >= Duration::from_millis(16));
        assert!(CLOCK_INTERVAL <= Duration::from_secs(1));
    }
}
