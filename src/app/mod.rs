//! The console: one loop that owns the model and the view, fed by tasks that only report facts.
//!
//! ```text
//! crossterm EventStream ─(input task, 64)──┐
//! monitor task (wasmbus.evt + resync, 1024)─┤
//! dev build runner (build events) ──────────┤──► App::update ──► state reducer
//! 1 Hz clock (+ embedded host's facts) ─────┘        │ dirty
//!                                   frame tick (≤30/s) └──► ui::render
//! log ring (tracing layer) ─(taken on each frame tick while the logs view is open)─► view
//! ```
//! The App is the sole writer of the model and every input reaches it through
//! [`App::update`]; nothing here does lattice I/O itself (the monitor does) and nothing in
//! `ui/` or `state/` does any I/O at all. Redraws happen only when something changed, at most
//! once per [`FRAME_INTERVAL`] — except that an action's reply is drawn at once: the user is
//! waiting for that ack, and replies come at typing speed (at most [`act::MAX_RUNNING`]
//! actions in flight), so they cannot flood the terminal.
//!
//! A channel that closes ends its arm of the loop: the input stream ending quits; the
//! monitor's and the build runner's are disabled (the header says the monitor stopped), so
//! the loop waits on what is left instead of spinning on a closed channel.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{Event, EventStream, KeyEventKind};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

pub mod act;
pub mod clipboard;
pub mod paths;

use crate::host::HostHandle;
use crate::ingest::{ingest, ingest_every};
use crate::lattice::bus::Bus;
use crate::lattice::monitor::{self, MonitorConfig, MonitorMsg};
use crate::lattice::subjects::ALL_LATTICES;
use crate::logging::ring::LogRing;
use crate::state::lattices::Lattices;
use crate::state::logs::{LogLine, LogView};
use crate::state::{
    self, BuildUpdate, Lattice, LocalActor, LocalHost, LocalReload, ModelConfig, Timestamp,
};
use crate::terminal::TerminalGuard;
use crate::ui::{self, ViewState};
use crate::watch::BuildEvent;

/// Minimum time between two frames: at most ~30 redraws per second.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// How often host liveness and relative times ("12s ago") are refreshed.
pub const CLOCK_INTERVAL: Duration = Duration::from_secs(1);
/// Terminal events buffered before the input task waits (back-pressure, nothing dropped).
const INPUT_QUEUE: usize = 64;
/// Monitor messages buffered before the monitor waits; beyond that the event subscription's
/// own bounded buffer absorbs bursts, and what it drops is counted and resynced.
const MONITOR_QUEUE: usize = 1024;
/// Replies to actions buffered before their tasks wait.
const ACT_QUEUE: usize = 64;
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
    /// Refuse every mutating action (`--readonly`).
    pub readonly: bool,
}

impl ConsoleConfig {
    /// Defaults for `lattice`: the model's and monitor's defaults, colours, actions allowed.
    pub fn new(lattice: &str) -> Self {
        Self {
            lattice: lattice.to_owned(),
            model: ModelConfig::default(),
            monitor: MonitorConfig::new(crate::lattice::subjects::Subjects::new(lattice)),
            no_color: false,
            readonly: false,
        }
    }
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
    /// What came back for an action's request.
    Act(act::ActMsg),
    /// The dev build runner reported something (`command` names the build).
    Build {
        /// The build command.
        command: String,
        /// What happened.
        event: BuildEvent,
    },
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
    /// Turns of the loop so far (each turn handles one input, batch, tick or frame). Lets a
    /// test tell a waiting loop from a spinning one.
    pub turns: u64,
    /// The actions typed on the `:` line, and the requests they wait to send.
    pub actions: act::Actions,
    /// With `--lattice '*'`: each lattice's own model; [`App::model`] shows them all, merged
    /// by [`App::settle`].
    pub lattices: Option<Lattices>,
    /// Ids the user copied (`c`), written to the terminal as OSC 52 between frames.
    pub clipboard: clipboard::Clipboard,
    /// The log ring the logs view copies from (see [`App::pull_logs`]).
    log_ring: Option<Arc<LogRing>>,
    /// The buffer swapped with the ring's on each pull (reused, so pulls do not allocate).
    log_spare: VecDeque<LogLine>,
}

impl App {
    /// A fresh console over `transport` (shown in the header).
    pub fn new(cfg: &ConsoleConfig, transport: String) -> Self {
        let mut model = Lattice::new(&cfg.lattice, cfg.model.clone());
        model.connection.transport = transport;
        model.connection.state = "connecting".to_string();
        let mut view = ViewState::new(cfg.no_color);
        view.set_readonly(cfg.readonly);
        Self {
            model,
            view,
            dirty: true,
            quit: false,
            turns: 0,
            actions: act::Actions::new(&cfg.lattice, cfg.readonly),
            lattices: (cfg.lattice == ALL_LATTICES).then(|| Lattices::new(cfg.model.clone())),
            clipboard: clipboard::Clipboard::default(),
            log_ring: None,
            log_spare: VecDeque::new(),
        }
    }

    /// Feeds the logs view from `ring`; the view keeps as many lines as the ring.
    pub fn set_log_ring(&mut self, ring: Arc<LogRing>) {
        *self.view.logs_mut() = LogView::new(ring.capacity());
        self.log_ring = Some(ring);
    }

    /// Moves the lines logged since the last pull into the logs view (a buffer swap under
    /// the ring's lock, then a move of each line). Called once per frame while the view is
    /// open; marks the frame dirty when lines arrived.
    pub fn pull_logs(&mut self) {
        let Some(ring) = &self.log_ring else {
            return;
        };
        ring.take(&mut self.log_spare);
        if self.view.logs_mut().append(self.log_spare.drain(..)) {
            self.dirty = true;
        }
    }

    /// Applies one message received at `now`.
    pub fn update(&mut self, msg: Msg, now: Timestamp) {
        self.apply(msg, now);
        // The actions' steps go to the Events tab, after whatever the message changed.
        for (line, failed) in self.actions.logged.drain(..) {
            state::record_action(&mut self.model, line, failed, now);
            self.dirty = true;
        }
    }

    /// With `--lattice '*'`: copies the lattices changed since the last call into the shown
    /// model. The loop calls it before each frame; `update` before it acts on a key or the
    /// clock, so actions always see the current lattices.
    pub fn settle(&mut self) {
        if let Some(all) = &mut self.lattices {
            self.dirty |= all.merge_into(&mut self.model);
        }
    }

    fn apply(&mut self, msg: Msg, now: Timestamp) {
        if matches!(msg, Msg::Input(_) | Msg::Tick) {
            self.settle();
        }
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
                if let Some((typed, kind)) = self.view.take_path_request() {
                    self.view.complete_path(paths::candidates(&typed, kind));
                    self.dirty = true;
                }
                if let Some(text) = out.copy {
                    self.view.set_status(format!("copied {text}"));
                    self.clipboard.request(text);
                    self.dirty = true;
                }
                if let Some(line) = self.view.take_submitted() {
                    self.run_line(&line, now);
                }
                if let Some(yes) = self.view.take_answer() {
                    self.actions.answer(yes, &mut self.view, now);
                    self.dirty = true;
                }
                if let Some(choice) = self.view.take_pick() {
                    let focus = self.view.focused_lattice().map(str::to_owned);
                    let at = match &self.lattices {
                        Some(lattices) => act::Where::Every {
                            lattices,
                            focus: focus.as_deref(),
                        },
                        None => act::Where::One(&self.model),
                    };
                    let submitted = self.actions.pick(choice, at, &mut self.view, now);
                    self.after_submit(submitted);
                    self.dirty = true;
                }
            }
            Msg::Input(Event::Resize(..)) => self.dirty = true,
            Msg::Input(_) => {}
            Msg::Monitor(m) => {
                let (lattice, event) = match &m {
                    MonitorMsg::Event(ev) => (None, Some(std::sync::Arc::clone(ev))),
                    MonitorMsg::In(name, inner) => match inner.as_ref() {
                        MonitorMsg::Event(ev) => {
                            (Some(name.clone()), Some(std::sync::Arc::clone(ev)))
                        }
                        _ => (None, None),
                    },
                    _ => (None, None),
                };
                match &mut self.lattices {
                    // Merged into the shown model once per frame (`settle`).
                    Some(all) => self.dirty |= ingest_every(all, &mut self.model, m, now),
                    None => self.dirty |= ingest(&mut self.model, m, now),
                }
                if let Some(ev) = event {
                    // Outcomes are judged on the model of the event's lattice.
                    let model = match (&self.lattices, &lattice) {
                        (Some(all), Some(name)) => all.model(name).unwrap_or(&self.model),
                        _ => &self.model,
                    };
                    self.actions.on_event(&ev, model, &mut self.view);
                }
            }
            Msg::Act(m) => {
                self.actions.on_msg(m, &self.model, &mut self.view);
                self.dirty = true;
            }
            Msg::MonitorStopped(why) => {
                tracing::error!(reason = %why, "lattice monitor stopped");
                self.model.connection.last_error = Some(format!("event monitor stopped: {why}"));
                self.model.connection.state = "closed".to_string();
                self.dirty = true;
            }
            Msg::Local(local) => self.dirty |= state::set_local(&mut self.model, local),
            Msg::Build { command, event } => {
                state::record_build(&mut self.model, &command, build_update(event), now);
                self.dirty = true;
            }
            Msg::Tick => {
                match &mut self.lattices {
                    Some(all) => {
                        let names: Vec<String> = all.iter().map(|(n, _)| n.to_owned()).collect();
                        for name in names {
                            state::tick(all.model_mut(&name), now);
                        }
                    }
                    None => {
                        state::tick(&mut self.model, now);
                    }
                }
                self.actions.tick(now, &mut self.view);
                // Relative times ("12s ago", uptime) move every second.
                self.dirty = true;
            }
        }
    }
}

impl App {
    /// Runs a line submitted on the `:` command line.
    fn run_line(&mut self, line: &str, now: Timestamp) {
        self.dirty = true;
        let focus = self.view.focused_lattice().map(str::to_owned);
        let at = match &self.lattices {
            Some(lattices) => act::Where::Every {
                lattices,
                focus: focus.as_deref(),
            },
            None => act::Where::One(&self.model),
        };
        let submitted = self.actions.submit(line, at, &mut self.view, now);
        self.after_submit(submitted);
    }

    /// What a submitted line asks of the App itself: quit, or show a view.
    fn after_submit(&mut self, submitted: act::Submitted) {
        use crate::state::command::View;
        use crate::ui::keymap::Action;
        use crate::ui::view_state::Tab;
        let tab = match submitted {
            act::Submitted::Done => return,
            act::Submitted::Focus(lattice) => {
                self.view.set_status(match &lattice {
                    Some(name) => format!("showing lattice {name} (:lattice shows every lattice)"),
                    None => "showing every lattice".to_owned(),
                });
                self.view.focus_lattice(lattice);
                return;
            }
            act::Submitted::Quit => {
                self.quit = true;
                return;
            }
            act::Submitted::View(View::Hosts) => Tab::Hosts,
            act::Submitted::View(View::Actors) => Tab::Actors,
            act::Submitted::View(View::Providers) => Tab::Providers,
            act::Submitted::View(View::Links) => Tab::Links,
            act::Submitted::View(View::Events) => Tab::Events,
            act::Submitted::Logs { actor, level } => {
                self.view.open_logs(actor, level);
                return;
            }
        };
        let _ = self.view.apply(Action::GoTab(tab), &self.model);
    }
}

/// A build event as the console's model records it.
pub fn build_update(ev: BuildEvent) -> BuildUpdate {
    match ev {
        BuildEvent::Started { run, trigger } => BuildUpdate::Started {
            run,
            trigger: trigger
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        },
        BuildEvent::Output { run, line, stderr } => BuildUpdate::Output { run, line, stderr },
        BuildEvent::Finished {
            run,
            success,
            code,
            took,
        } => BuildUpdate::Finished {
            run,
            success,
            code,
            took_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        },
        BuildEvent::Cancelled { run } => BuildUpdate::Cancelled { run },
        BuildEvent::Error { message } => BuildUpdate::Error { message },
    }
}

/// What the console runs with besides the lattice.
#[derive(Default)]
pub struct Extras<'a> {
    /// The embedded host, for its call counts.
    pub host: Option<&'a HostHandle>,
    /// Fired once the console follows the lattice's events.
    pub subscribed: Option<oneshot::Sender<()>>,
    /// The dev build's command and events.
    pub build: Option<(String, mpsc::Receiver<BuildEvent>)>,
    /// The log ring the logs view reads.
    pub logs: Option<Arc<LogRing>>,
}

/// Everything the loop listens to. A `None` receiver (or one that closed) is not listened to.
pub struct Inputs<'a> {
    /// Terminal events; the stream ending (or failing) ends the loop.
    pub input: mpsc::Receiver<std::io::Result<Event>>,
    /// What the monitor reports.
    pub monitor: Option<mpsc::Receiver<MonitorMsg>>,
    /// Why the monitor stopped, once it does.
    pub monitor_stopped: Option<mpsc::Receiver<String>>,
    /// The dev build's command and events.
    pub build: Option<(String, mpsc::Receiver<BuildEvent>)>,
    /// The embedded host, whose facts are read on every clock tick.
    pub host: Option<&'a HostHandle>,
    /// Fired once the monitor follows the lattice's events.
    pub subscribed: Option<oneshot::Sender<()>>,
    /// Resolves when the console must stop from outside (SIGTERM, SIGINT).
    pub stop: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
    /// The lattice the console's actions are sent on; without it they fail at once.
    pub bus: Option<Bus>,
}

/// The next item of an optional channel; pending forever without one. Returns `None` once
/// the channel closed, and the caller then drops it (see [`close_on_none`]).
async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => futures::future::pending().await,
    }
}

/// Forgets a channel that reported its end, so its arm is not polled again.
fn close_on_none<T, U>(rx: &mut Option<mpsc::Receiver<T>>, got: &Option<U>) {
    if got.is_none() {
        *rx = None;
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
        subscribed,
        build,
        logs,
    } = extras;
    let cancel = CancellationToken::new();
    let mut app = App::new(&cfg, bus.transport().to_string());
    if let Some(ring) = logs {
        app.set_log_ring(ring);
    }

    let (mon_tx, mon_rx) = mpsc::channel(MONITOR_QUEUE);
    let (stop_tx, stop_rx) = mpsc::channel::<String>(1);
    let monitor_cancel = cancel.child_token();
    let monitor = tokio::spawn({
        let bus = bus.clone();
        let cfg = cfg.monitor.clone();
        async move {
            let every = cfg.subjects.lattice() == ALL_LATTICES;
            let run = if every {
                crate::lattice::multi::run(bus, cfg, mon_tx, monitor_cancel.clone()).await
            } else {
                monitor::run(bus, cfg, mon_tx, monitor_cancel.clone()).await
            };
            let why = match run {
                Ok(()) if monitor_cancel.is_cancelled() => return,
                Ok(()) => "the event subscription ended".to_string(),
                Err(e) => e.to_string(),
            };
            let _ = stop_tx.send(why).await;
        }
    });

    let (mut terminal, guard) = TerminalGuard::enter().context("cannot set up the terminal")?;
    // The terminal's own stream: OSC 52 copies go out between frames.
    app.clipboard.set_writer(Box::new(std::io::stdout()));
    let (in_tx, in_rx) = mpsc::channel(INPUT_QUEUE);
    let input = tokio::spawn(read_input(in_tx, cancel.child_token()));
    let mut signals = Signals::new()?;

    let inputs = Inputs {
        input: in_rx,
        monitor: Some(mon_rx),
        monitor_stopped: Some(stop_rx),
        build,
        host,
        subscribed,
        stop: Box::pin(async move { signals.recv().await }),
        bus: Some(bus.clone()),
    };
    let result = run_loop(&mut app, &mut terminal, inputs).await;

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

/// The console loop over any ratatui backend: every input goes through [`App::update`],
/// frames are drawn when dirty (at most one per [`FRAME_INTERVAL`]). Returns when the user
/// quits, `inputs.stop` resolves or the input stream ends.
///
/// # Errors
/// Drawing fails, or the input stream reports an error.
pub async fn run_loop<B: Backend>(
    app: &mut App,
    terminal: &mut Terminal<B>,
    inputs: Inputs<'_>,
) -> anyhow::Result<()>
where
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let Inputs {
        mut input,
        mut monitor,
        mut monitor_stopped,
        build,
        host,
        mut subscribed,
        mut stop,
        bus,
    } = inputs;
    // Replies to the actions' requests; each request runs in a task of its own, so a slow
    // host never holds the loop. Bounded: a task waits for room (actions come at typing
    // speed and at most `act::MAX_RUNNING` are followed).
    let (act_tx, mut act_rx) = mpsc::channel::<act::ActMsg>(ACT_QUEUE);
    let (build_command, mut build_rx) = match build {
        Some((c, rx)) => (c, Some(rx)),
        None => (String::new(), None),
    };
    let mut frame = tokio::time::interval(FRAME_INTERVAL);
    frame.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut clock = tokio::time::interval(CLOCK_INTERVAL);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(BATCH);

    let result: anyhow::Result<()> = loop {
        app.turns = app.turns.saturating_add(1);
        // Between frames: a copy's escape never lands inside a frame's output.
        if let Err(e) = app.clipboard.flush() {
            tracing::warn!(error = %e, "cannot write the clipboard escape");
        }
        for effect in app.actions.effects.drain(..) {
            let tx = act_tx.clone();
            let bus = bus.clone();
            tokio::spawn(async move {
                let msg = match bus {
                    Some(bus) => act::execute(&bus, effect).await,
                    None => act::no_bus(effect),
                };
                let _ = tx.send(msg).await;
            });
        }
        tokio::select! {
            biased;
            () = &mut stop => break Ok(()),
            Some(m) = act_rx.recv() => {
                app.update(Msg::Act(m), Utc::now());
                // Not on the next frame tick (up to 33 ms later): the ack is what the user
                // waits for (benches/action_round_trip.rs).
                if let Err(e) = draw(terminal, app) {
                    break Err(e);
                }
            }
            ev = input.recv() => match ev {
                Some(Ok(ev)) => app.update(Msg::Input(ev), Utc::now()),
                Some(Err(e)) => break Err(e).context("reading terminal input failed"),
                None => break Ok(()),
            },
            // While the logs view is open, every frame tick pulls its new lines (and draws
            // only if some came or something else changed).
            _ = frame.tick(), if app.dirty || app.view.logs_open() => {
                app.pull_logs();
                app.settle();
                if !app.dirty {
                    continue;
                }
                if let Err(e) = draw(terminal, app) {
                    break Err(e);
                }
            }
            _ = clock.tick() => {
                if let Some(h) = host {
                    app.update(Msg::Local(local_facts(h)), Utc::now());
                }
                app.update(Msg::Tick, Utc::now());
            }
            why = recv_opt(&mut monitor_stopped) => {
                close_on_none(&mut monitor_stopped, &why);
                if let Some(why) = why {
                    app.update(Msg::MonitorStopped(why), Utc::now());
                }
            }
            ev = recv_opt(&mut build_rx) => {
                close_on_none(&mut build_rx, &ev);
                if let Some(event) = ev {
                    let command = build_command.clone();
                    app.update(Msg::Build { command, event }, Utc::now());
                }
            }
            n = recv_many_opt(&mut monitor, &mut batch) => {
                if n == 0 {
                    // Closed: recv_many returns 0 only then. Stop listening to it.
                    monitor = None;
                    continue;
                }
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
        if app.quit {
            break Ok(());
        }
    };
    result
}

/// Draws one frame of the App and marks it clean.
fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> anyhow::Result<()>
where
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let now = Utc::now();
    terminal
        .draw(|f| ui::render(f, &app.model, &mut app.view, now))
        .context("drawing the console failed")?;
    app.dirty = false;
    Ok(())
}

/// Up to [`BATCH`] messages of an optional channel (pending forever without one); 0 once it
/// closed.
async fn recv_many_opt<T>(rx: &mut Option<mpsc::Receiver<T>>, batch: &mut Vec<T>) -> usize {
    match rx {
        Some(rx) => rx.recv_many(batch, BATCH).await,
        None => futures::future::pending().await,
    }
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
        data_watch_error: h.host().data_watch_error(),
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
                        last_call_failure: a.last_call_failure,
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
}
