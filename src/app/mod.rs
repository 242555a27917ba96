//! The console: one loop that owns the model and the view, fed by tasks that only report facts.
//!
//! ```text
//! crossterm EventStream ─(input task, 64)──┐
//! monitor task (wasmbus.evt + resync, 1024)─┤
//! dev build runner (build events) ──────────┤──► App::update ──► state reducer
//! 1 Hz clock (+ embedded host's facts) ─────┤        │ dirty / footer_dirty / urgent
//! actions' requests (polled by the loop) ───┘        │
//!                                   frame tick (≤30/s) └──► screen: ui::render (full) or
//!                                                           ui::render_footer (footer only)
//! log ring (tracing layer) ─(taken on each frame tick while the logs view is open)─► view
//! ```
//! The App is the sole writer of the model and every input reaches it through
//! [`App::update`]; the only lattice I/O here is the actions' requests (the effects the App
//! asks for), sent on the bus and awaited by the loop itself, and nothing in `ui/` or
//! `state/` does any I/O at all. Redraws happen only when something changed, at most once
//! per [`FRAME_INTERVAL`] — except that an action's ack and its final outcome are drawn at
//! once ([`App::urgent`]): the user is waiting for them, and they come at typing speed (at
//! most [`act::MAX_RUNNING`] actions in flight), so they cannot flood the terminal. When
//! only the footer changed (an action's status line, the line being typed), the frame
//! redraws that line alone ([`screen::Screen`]).
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
mod run;
pub mod screen;

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
use crate::ui::ViewState;
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
    /// Whether the next frame must be drawn in full.
    pub dirty: bool,
    /// Whether the footer changed since the last frame: an action's step set the status and
    /// was appended to the event log, and nothing else changed unless [`App::dirty`] says
    /// so. The next frame redraws only the footer when the screen does not read the event
    /// log ([`crate::ui::footer_redraw_suffices`]), else it is drawn in full.
    pub footer_dirty: bool,
    /// Whether an action's ack or final outcome waits to be drawn: the loop draws it at once
    /// rather than on the next frame tick (the user is waiting for it; at most one of each
    /// per action, and actions come at typing speed).
    pub urgent: bool,
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
            footer_dirty: false,
            urgent: false,
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

    /// Whether the next frame has anything to draw (in full or the footer only).
    #[must_use]
    pub fn needs_frame(&self) -> bool {
        self.dirty || self.footer_dirty
    }

    /// Applies one message received at `now`.
    pub fn update(&mut self, msg: Msg, now: Timestamp) {
        self.apply(msg, now);
        // The actions' steps go to the Events tab, after whatever the message changed. The
        // status line changed with each; the rest of the screen only if it shows the log.
        for (line, failed) in self.actions.logged.drain(..) {
            state::record_action(&mut self.model, line, failed, now);
            self.footer_dirty = true;
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
                self.footer_dirty |= out.footer;
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
                    self.urgent |= self.actions.on_event(&ev, model, &mut self.view);
                }
            }
            Msg::Act(m) => {
                // Sets the status and logs the step: the footer (see `update`).
                self.actions.on_msg(m, &self.model, &mut self.view);
                self.footer_dirty = true;
                self.urgent = true;
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
        let focus = self.view.focused_lattice().map(str::to_owned);
        let at = match &self.lattices {
            Some(lattices) => act::Where::Every {
                lattices,
                focus: focus.as_deref(),
            },
            None => act::Where::One(&self.model),
        };
        let submitted = self.actions.submit(line, at, &mut self.view, now);
        // An action started, an error, a question: the status or the footer's question.
        // Anything else changes what the screen shows.
        if submitted == act::Submitted::Done {
            self.footer_dirty = true;
        } else {
            self.dirty = true;
        }
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

pub use run::{Extras, Inputs, run_console, run_loop};

#[cfg(test)]
mod tests;
