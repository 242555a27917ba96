//! The console's actions as the App runs them: a submitted `:` line is parsed, planned
//! against the model (`crate::actions`), confirmed if destructive, and turned into
//! [`Effect`]s — requests for the run loop to put **on the bus**; the replies come back as
//! [`ActMsg`]s and the events that follow settle each action's outcome. Never a call into the
//! embedded host: the same requests work against any host of the lattice.
//!
//! Pure state machine (no I/O, no clock: `now` is passed in); [`execute`] is the one async
//! function, polled by the loop for each effect.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::actions::{self, OUTCOME_TIMEOUT, Placement, Plan, Planned, Step};
use crate::lattice::bus::Bus;
use crate::lattice::protocol::{
    ActorAuctionAck, CtlOperationAck, LatticeEvent, ProviderAuctionAck,
};
use crate::lattice::requests::CtlRequest;
use crate::lattice::subjects::Subjects;
use crate::state::command::{self, Command, Pending};
use crate::state::lattices::Lattices;
use crate::state::{Lattice, Timestamp};
use crate::ui::ViewState;

/// Actions followed at once; a new one beyond this is refused (they come at typing speed, so
/// reaching it means hosts are not answering).
pub const MAX_RUNNING: usize = 32;
/// How long a request waits for its ack.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an auction collects bids.
pub const AUCTION_WINDOW: Duration = Duration::from_secs(1);

/// Something for the run loop to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A request; its reply comes back as [`ActMsg::Reply`].
    Request {
        /// The action it belongs to.
        id: u64,
        /// What to send.
        request: CtlRequest,
    },
    /// An auction; its bids come back as [`ActMsg::Bids`].
    Auction {
        /// The action it belongs to.
        id: u64,
        /// What to send.
        request: CtlRequest,
    },
}

/// What came back for an [`Effect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActMsg {
    /// The reply to a request, or why there was none.
    Reply {
        /// The action.
        id: u64,
        /// The reply's body.
        result: Result<Bytes, String>,
    },
    /// The bids of an auction.
    Bids {
        /// The action.
        id: u64,
        /// The bid bodies.
        result: Result<Vec<Bytes>, String>,
    },
}

struct Running {
    id: u64,
    /// The subjects of the lattice it acts on (an auction's winner is asked there).
    subjects: Subjects,
    pending: Pending,
    /// For an auction: what to start on the winner.
    place: Option<Placement>,
}

/// The App's actions.
pub struct Actions {
    subjects: Subjects,
    readonly: bool,
    next_id: u64,
    confirming: Option<(Plan, Subjects)>,
    /// A line that needs a host, and the hosts offered for it (numbered from 1).
    picking: Option<(String, Vec<String>)>,
    running: VecDeque<Running>,
    /// Effects for the run loop to execute, in order.
    pub effects: Vec<Effect>,
    /// Steps of actions for the Events tab, in order: `(line, failed)`. The App moves them
    /// into the model's event log.
    pub logged: Vec<(String, bool)>,
}

/// Hosts a pick offers (one digit each); with more, the user names one with `--host`.
pub const MAX_PICK: usize = 9;

/// Where a line's names are resolved and its requests go.
#[derive(Debug, Clone, Copy)]
pub enum Where<'a> {
    /// The one lattice the console follows.
    One(&'a Lattice),
    /// Every lattice (`--lattice '*'`): the line goes to the one lattice where it makes sense
    /// (its names resolve there), or to the focused one (`:lattice NAME`).
    Every {
        /// Each lattice's model.
        lattices: &'a Lattices,
        /// The lattice focused with `:lattice NAME`.
        focus: Option<&'a str>,
    },
}

/// What a submitted line asks of the App itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Nothing more (an action started, or an error is on the status line).
    Done,
    /// Quit the console.
    Quit,
    /// Show a view.
    View(command::View),
    /// Focus one lattice (`:lattice NAME`), or every lattice again (`None`).
    Focus(Option<String>),
    /// Open the logs view: only this actor's lines (an id the model resolved), at this
    /// level or above (`None`: keep the view's level filter).
    Logs {
        /// The actor's id; `None`: every line.
        actor: Option<String>,
        /// The level filter to set.
        level: Option<crate::state::logs::LogLevel>,
    },
}

impl Actions {
    /// Actions on `lattice`; with `readonly`, every mutating command is refused.
    #[must_use]
    pub fn new(lattice: &str, readonly: bool) -> Self {
        Self {
            subjects: Subjects::new(lattice),
            readonly,
            next_id: 0,
            confirming: None,
            picking: None,
            running: VecDeque::new(),
            effects: Vec::new(),
            logged: Vec::new(),
        }
    }

    /// Whether mutating actions are refused.
    #[must_use]
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// Runs a submitted `:` line.
    pub fn submit(
        &mut self,
        line: &str,
        at: Where<'_>,
        view: &mut ViewState,
        now: Timestamp,
    ) -> Submitted {
        let cmd = match command::parse(line) {
            Ok(c) => c,
            Err(e) => {
                view.set_status(format!(":{line}: {e}"));
                return Submitted::Done;
            }
        };
        match cmd {
            Command::Quit => return Submitted::Quit,
            Command::View(v) => return Submitted::View(v),
            Command::Focus(lattice) => return self.focus(line, lattice, at, view),
            Command::Logs { actor, level } => {
                let actor = match actor.map(|q| resolve_actor(at, &q)) {
                    None => None,
                    Some(Ok(id)) => Some(id),
                    Some(Err(e)) => {
                        view.set_status(format!(":{line}: {e}"));
                        return Submitted::Done;
                    }
                };
                return Submitted::Logs { actor, level };
            }
            _ if self.readonly => {
                view.set_status(format!(
                    ":{line}: refused: this console is read-only (--readonly)"
                ));
                return Submitted::Done;
            }
            _ => {}
        }
        let (planned, subjects, model) = match self.plan_at(&cmd, at, line) {
            Ok(p) => p,
            Err(e) => {
                view.set_status(format!(":{line}: {e}"));
                return Submitted::Done;
            }
        };
        match planned {
            Planned::Ask(hosts) => {
                let names: Vec<String> = hosts
                    .iter()
                    .map(|h| command::resolve::host_label(model, h))
                    .collect();
                if hosts.len() > MAX_PICK {
                    view.set_status(format!(
                        ":{line}: it runs on {} hosts: {}; add --host HOST",
                        hosts.len(),
                        names.join(", ")
                    ));
                } else {
                    let numbered: Vec<String> = names
                        .iter()
                        .enumerate()
                        .map(|(i, n)| format!("{} {n}", i + 1))
                        .collect();
                    view.ask_pick(
                        format!(":{line}: on which host? {}", numbered.join("  ")),
                        hosts.len(),
                    );
                    self.picking = Some((line.to_owned(), hosts));
                }
            }
            Planned::Go(plan) => match plan.confirm.clone() {
                Some(question) => {
                    self.confirming = Some((*plan, subjects));
                    view.ask(format!("{question} [y/N]"));
                }
                None => self.start(*plan, subjects, view, now),
            },
        }
        Submitted::Done
    }

    /// `:lattice [NAME]`: focus a lattice the console follows, or every lattice again.
    fn focus(
        &mut self,
        line: &str,
        lattice: Option<String>,
        at: Where<'_>,
        view: &mut ViewState,
    ) -> Submitted {
        match (at, lattice) {
            (Where::One(m), _) => {
                view.set_status(format!(
                    ":{line}: this console follows one lattice ({}); start it with --lattice '*' to follow every lattice",
                    m.lattice
                ));
                Submitted::Done
            }
            (Where::Every { .. }, None) => Submitted::Focus(None),
            (Where::Every { lattices, .. }, Some(name)) => {
                if lattices.model(&name).is_some() {
                    Submitted::Focus(Some(name))
                } else {
                    let known: Vec<&str> = lattices.iter().map(|(n, _)| n).collect();
                    view.set_status(format!(
                        ":{line}: no lattice {name} (known: {})",
                        if known.is_empty() {
                            "none yet".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ));
                    Submitted::Done
                }
            }
        }
    }

    /// Plans `cmd` where `at` says: in the one lattice, in the focused one, or in the one
    /// lattice of all where it resolves (an error when it resolves in several).
    fn plan_at<'m>(
        &self,
        cmd: &Command,
        at: Where<'m>,
        line: &str,
    ) -> Result<(Planned, Subjects, &'m Lattice), String> {
        let (lattices, focus) = match at {
            Where::One(model) => {
                let planned = actions::plan(cmd, model, &self.subjects, line)?;
                return Ok((planned, self.subjects.clone(), model));
            }
            Where::Every { lattices, focus } => (lattices, focus),
        };
        let names: Vec<&str> = match focus {
            Some(f) => vec![f],
            None => lattices.iter().map(|(n, _)| n).collect(),
        };
        if names.is_empty() {
            return Err("no lattice found yet".into());
        }
        let mut fits = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        for name in &names {
            let Some(model) = lattices.model(name) else {
                errors.push(format!("no lattice {name}"));
                continue;
            };
            let subjects = Subjects::new(name);
            match actions::plan(cmd, model, &subjects, line) {
                Ok(p) => fits.push((p, subjects, model, *name)),
                Err(e) if names.len() == 1 => errors.push(e),
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        match fits.len() {
            1 => fits
                .pop()
                .map(|(p, s, m, _)| (p, s, m))
                .ok_or_else(|| "no lattice".to_owned()),
            0 => {
                errors.dedup();
                Err(errors.join("; "))
            }
            n => {
                let which: Vec<&str> = fits.iter().map(|f| f.3).collect();
                Err(format!(
                    "it could go to {n} lattices ({}): focus one with :lattice NAME, or name the host",
                    which.join(", ")
                ))
            }
        }
    }

    /// The answer to the host pick: the line runs again with `--host` of the chosen host.
    pub fn pick(
        &mut self,
        choice: Option<usize>,
        at: Where<'_>,
        view: &mut ViewState,
        now: Timestamp,
    ) -> Submitted {
        let Some((line, hosts)) = self.picking.take() else {
            return Submitted::Done;
        };
        match choice.and_then(|i| hosts.get(i)) {
            Some(host) => {
                let line = format!("{line} --host {}", command::quote(host));
                self.submit(&line, at, view, now)
            }
            None => {
                view.set_status(format!(":{line}: cancelled"));
                Submitted::Done
            }
        }
    }

    /// The answer to the confirmation question.
    pub fn answer(&mut self, yes: bool, view: &mut ViewState, now: Timestamp) {
        let Some((plan, subjects)) = self.confirming.take() else {
            return;
        };
        if yes {
            self.start(plan, subjects, view, now);
        } else {
            view.set_status(format!("{}: cancelled", plan.label));
        }
    }

    fn start(&mut self, plan: Plan, subjects: Subjects, view: &mut ViewState, now: Timestamp) {
        if self.running.len() >= MAX_RUNNING {
            view.set_status(format!(
                "{}: refused: {MAX_RUNNING} actions are still waiting for their hosts",
                plan.label
            ));
            return;
        }
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let pending = Pending::new(plan.label, plan.expect, now, OUTCOME_TIMEOUT);
        let place = match plan.step {
            Step::Send(request) => {
                self.effects.push(Effect::Request { id, request });
                None
            }
            Step::Auction { auction, place } => {
                self.effects.push(Effect::Auction {
                    id,
                    request: auction,
                });
                Some(place)
            }
        };
        self.show(&pending, view);
        self.running.push_back(Running {
            id,
            subjects,
            pending,
            place,
        });
    }

    /// What came back for an effect. `model` settles an ack whose outcome the events that
    /// arrived before it already reached (a count, an actor gone).
    pub fn on_msg(&mut self, msg: ActMsg, model: &Lattice, view: &mut ViewState) {
        let id = match &msg {
            ActMsg::Reply { id, .. } | ActMsg::Bids { id, .. } => *id,
        };
        let Some(r) = self.running.iter_mut().find(|r| r.id == id) else {
            return;
        };
        match msg {
            ActMsg::Reply { result, .. } => {
                let ack = result.and_then(|body| {
                    serde_json::from_slice::<CtlOperationAck>(&body)
                        .map_err(|e| format!("unreadable ack: {e}"))
                });
                match ack {
                    Ok(a) if a.accepted => {
                        r.pending.ack(Ok(()));
                        // The host's events may have come first.
                        r.pending.model(model);
                    }
                    Ok(a) => r.pending.ack(Err(&a.error)),
                    Err(e) => r.pending.ack(Err(&e)),
                }
            }
            ActMsg::Bids { result, .. } => {
                let winner = result.ok().and_then(|bids| {
                    bids.iter().find_map(|b| {
                        serde_json::from_slice::<ActorAuctionAck>(b)
                            .map(|a| a.host_id)
                            .or_else(|_| {
                                serde_json::from_slice::<ProviderAuctionAck>(b).map(|a| a.host_id)
                            })
                            .ok()
                    })
                });
                match (winner, r.place.take()) {
                    (Some(host), Some(place)) => {
                        r.pending.placed_on(&host);
                        self.effects.push(Effect::Request {
                            id,
                            request: place.request(&r.subjects, &host),
                        });
                    }
                    _ => r.pending.ack(Err("no host bid in the auction")),
                }
            }
        }
        let line = r.pending.line();
        let failed = r.pending.status.is_failure();
        view.set_status(line.clone());
        self.logged.push((line, failed));
        self.retire();
    }

    /// Shows an action's progress on the status line and logs it for the Events tab.
    fn show(&mut self, pending: &Pending, view: &mut ViewState) {
        let line = pending.line();
        view.set_status(line.clone());
        self.logged.push((line, pending.status.is_failure()));
    }

    /// A lattice event (after the model took it). Returns whether it settled an action (its
    /// outcome is final: done, failed).
    pub fn on_event(&mut self, ev: &LatticeEvent, model: &Lattice, view: &mut ViewState) -> bool {
        let mut newest = None;
        for r in &mut self.running {
            if r.pending.event(ev) | r.pending.model(model) {
                let line = r.pending.line();
                self.logged
                    .push((line.clone(), r.pending.status.is_failure()));
                newest = Some(line);
            }
        }
        if let Some(line) = newest {
            view.set_status(line);
        }
        self.retire()
    }

    /// The clock.
    pub fn tick(&mut self, now: Timestamp, view: &mut ViewState) {
        for r in &mut self.running {
            if r.pending.tick(now) {
                let line = r.pending.line();
                self.logged
                    .push((line.clone(), r.pending.status.is_failure()));
                view.set_status(line);
            }
        }
        self.retire();
    }

    /// Forgets the actions whose outcome is final; returns whether there were any.
    fn retire(&mut self) -> bool {
        let before = self.running.len();
        self.running.retain(|r| !r.pending.status.is_final());
        self.running.len() < before
    }
}

/// The actor `query` names where `at` says: in the one lattice, or in the first lattice (the
/// focused one first) where it resolves.
fn resolve_actor(at: Where<'_>, query: &str) -> Result<String, command::ResolveError> {
    match at {
        Where::One(model) => command::resolve::actor(model, query).map(|a| a.id),
        Where::Every { lattices, focus } => {
            let mut first_err = None;
            let order = focus.into_iter().chain(
                lattices
                    .iter()
                    .map(|(n, _)| n)
                    .filter(|n| Some(*n) != focus),
            );
            for name in order {
                let Some(model) = lattices.model(name) else {
                    continue;
                };
                match command::resolve::actor(model, query) {
                    Ok(a) => return Ok(a.id),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            match first_err {
                Some(e) => Err(e),
                // No lattice yet: the error of an empty model (nothing to name).
                None => command::resolve::actor(&Lattice::new("*", Default::default()), query)
                    .map(|a| a.id),
            }
        }
    }
}

/// Sends one effect on the bus and says what came back.
pub async fn execute(bus: &Bus, effect: Effect) -> ActMsg {
    match effect {
        Effect::Request { id, request } => ActMsg::Reply {
            id,
            result: bus
                .request(&request.subject, request.body, ACK_TIMEOUT)
                .await
                .map(|m| m.payload)
                .map_err(|e| e.to_string()),
        },
        Effect::Auction { id, request } => ActMsg::Bids {
            id,
            result: bus
                .scatter_gather(&request.subject, request.body, AUCTION_WINDOW)
                .await
                .map(|ms| ms.into_iter().map(|m| m.payload).collect())
                .map_err(|e| e.to_string()),
        },
    }
}

/// What comes back for an effect when the console has no lattice connection.
#[must_use]
pub fn no_bus(effect: Effect) -> ActMsg {
    let why = "the console has no lattice connection".to_owned();
    match effect {
        Effect::Request { id, .. } => ActMsg::Reply {
            id,
            result: Err(why),
        },
        Effect::Auction { id, .. } => ActMsg::Bids {
            id,
            result: Err(why),
        },
    }
}
