//! The console's actions as the App runs them: a submitted `:` line is parsed, planned
//! against the model (`crate::actions`), confirmed if destructive, and turned into
//! [`Effect`]s — requests for the run loop to put **on the bus**; the replies come back as
//! [`ActMsg`]s and the events that follow settle each action's outcome. Never a call into the
//! embedded host: the same requests work against any host of the lattice.
//!
//! Pure state machine (no I/O, no clock: `now` is passed in); [`execute`] is the one async
//! function, run by the loop for each effect.

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
    pending: Pending,
    /// For an auction: what to start on the winner.
    place: Option<Placement>,
}

/// The App's actions.
pub struct Actions {
    subjects: Subjects,
    readonly: bool,
    next_id: u64,
    confirming: Option<Plan>,
    running: VecDeque<Running>,
    /// Effects for the run loop to execute, in order.
    pub effects: Vec<Effect>,
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
            running: VecDeque::new(),
            effects: Vec::new(),
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
        model: &Lattice,
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
            Command::Logs { actor, level } => {
                let actor = match actor.map(|q| command::resolve::actor(model, &q)) {
                    None => None,
                    Some(Ok(a)) => Some(a.id),
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
        match actions::plan(&cmd, model, &self.subjects, line) {
            Err(e) => view.set_status(format!(":{line}: {e}")),
            Ok(Planned::Ask(hosts)) => {
                let names: Vec<String> = hosts
                    .iter()
                    .map(|h| command::resolve::host_label(model, h))
                    .collect();
                view.set_status(format!(
                    ":{line}: it runs on {} hosts: {}; add --host HOST",
                    hosts.len(),
                    names.join(", ")
                ));
            }
            Ok(Planned::Go(plan)) => match plan.confirm.clone() {
                Some(question) => {
                    self.confirming = Some(*plan);
                    view.ask(format!("{question} [y/N]"));
                }
                None => self.start(*plan, view, now),
            },
        }
        Submitted::Done
    }

    /// The answer to the confirmation question.
    pub fn answer(&mut self, yes: bool, view: &mut ViewState, now: Timestamp) {
        let Some(plan) = self.confirming.take() else {
            return;
        };
        if yes {
            self.start(plan, view, now);
        } else {
            view.set_status(format!("{}: cancelled", plan.label));
        }
    }

    fn start(&mut self, plan: Plan, view: &mut ViewState, now: Timestamp) {
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
        view.set_status(pending.line());
        self.running.push_back(Running { id, pending, place });
    }

    /// What came back for an effect.
    pub fn on_msg(&mut self, msg: ActMsg, view: &mut ViewState) {
        let id = match &msg {
            ActMsg::Reply { id, .. } | ActMsg::Bids { id, .. } => *id,
        };
        let subjects = self.subjects.clone();
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
                    Ok(a) if a.accepted => r.pending.ack(Ok(())),
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
                            request: place.request(&subjects, &host),
                        });
                    }
                    _ => r.pending.ack(Err("no host bid in the auction")),
                }
            }
        }
        view.set_status(r.pending.line());
        self.retire();
    }

    /// A lattice event (after the model took it).
    pub fn on_event(&mut self, ev: &LatticeEvent, model: &Lattice, view: &mut ViewState) {
        let mut newest = None;
        for r in &mut self.running {
            if r.pending.event(ev) | r.pending.model(model) {
                newest = Some(r.pending.line());
            }
        }
        if let Some(line) = newest {
            view.set_status(line);
        }
        self.retire();
    }

    /// The clock.
    pub fn tick(&mut self, now: Timestamp, view: &mut ViewState) {
        for r in &mut self.running {
            if r.pending.tick(now) {
                view.set_status(r.pending.line());
            }
        }
        self.retire();
    }

    fn retire(&mut self) {
        self.running.retain(|r| !r.pending.status.is_final());
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
