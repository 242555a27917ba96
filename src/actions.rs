//! From a parsed command to what the console sends: the names resolved against the model,
//! the target host chosen (or an auction, or a question), the control-interface request
//! built, the outcome to wait for, and whether to ask for confirmation first.
//!
//! Pure glue between `state::command` (grammar, resolution, outcomes) and `lattice::requests`
//! (the wire): no I/O. The App executes the [`Step`]s through the bus, and nothing here calls
//! the embedded host.

use chrono::Duration;

use crate::lattice::protocol::StringMap;
use crate::lattice::requests::{self, CtlRequest, WATCH_ANNOTATION};
use crate::lattice::subjects::Subjects;
use crate::state::Lattice;
use crate::state::command::resolve::{self, Target, Unnamed};
use crate::state::command::{Command, Expect};

/// How long an action waits for its outcome after it was sent.
pub const OUTCOME_TIMEOUT: Duration = Duration::seconds(30);

/// The grace period a `stop-host` gives the host, in milliseconds.
pub const STOP_HOST_TIMEOUT_MS: u64 = 2000;

/// The first thing an action does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this request and wait for its ack.
    Send(CtlRequest),
    /// Run this auction, then place the work on the first host that bids.
    Auction {
        /// The `auction.actor` / `auction.provider` request.
        auction: CtlRequest,
        /// What to start on the winner.
        place: Placement,
    },
}

/// What planning a command gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// Ready to go (after confirmation, if it asks for one).
    Go(Box<Plan>),
    /// The thing runs on these hosts: the user must say which (`--host`).
    Ask(Vec<String>),
}

/// Work to start on the host an auction picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// `cmd.{winner}.la`.
    Actor {
        /// Reference.
        reference: String,
        /// Instances.
        count: u16,
        /// Annotations.
        annotations: StringMap,
    },
    /// `cmd.{winner}.lp`.
    Provider {
        /// Reference.
        reference: String,
        /// Link name.
        link_name: String,
    },
}

impl Placement {
    /// The request that starts the work on `host`.
    #[must_use]
    pub fn request(&self, s: &Subjects, host: &str) -> CtlRequest {
        match self {
            Placement::Actor {
                reference,
                count,
                annotations,
            } => requests::start_actor(s, host, reference, *count, annotations.clone()),
            Placement::Provider {
                reference,
                link_name,
            } => requests::start_provider(s, host, reference, link_name, None),
        }
    }
}

/// A command, planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// What the user asked for, for the status line.
    pub label: String,
    /// The question to confirm first (destructive actions), if any.
    pub confirm: Option<String>,
    /// What to do first.
    pub step: Step,
    /// The outcome to wait for.
    pub expect: Expect,
}

/// Plans a mutating command against the model. View commands and `q` are the App's and are
/// refused here.
///
/// # Errors
/// A message for the status line: a name that does not resolve (with the candidates), a
/// reference that is needed but unknown, or a command that is no action.
pub fn plan(cmd: &Command, m: &Lattice, s: &Subjects, label: &str) -> Result<Planned, String> {
    let e = |e: resolve::ResolveError| e.to_string();
    let plan = |confirm: Option<String>, step: Step, expect: Expect| {
        Planned::Go(Box::new(Plan {
            label: label.to_owned(),
            confirm,
            step,
            expect,
        }))
    };
    match cmd {
        Command::View(_) | Command::Quit | Command::Focus(_) | Command::Logs { .. } => {
            Err(format!("`{label}` is not an action"))
        }
        Command::StartActor {
            reference,
            count,
            host,
            watch,
        } => {
            let mut annotations = StringMap::new();
            if *watch {
                annotations.insert(WATCH_ANNOTATION.to_owned(), "true".to_owned());
            }
            // Where it already runs decides nothing for a start: without --host, auction.
            let target =
                resolve::target(m, reference, host.as_deref(), &[], Unnamed::Auction, false)
                    .map_err(e)?;
            let place = Placement::Actor {
                reference: reference.clone(),
                count: *count,
                annotations,
            };
            let expect = |host: Option<String>| Expect::ActorStarts {
                host,
                reference: reference.clone(),
                public_key: None,
                count: u64::from(*count),
            };
            Ok(match target {
                Target::Host(h) => plan(None, Step::Send(place.request(s, &h)), expect(Some(h))),
                Target::Auction | Target::Ask(_) => plan(
                    None,
                    Step::Auction {
                        auction: requests::actor_auction(s, reference, StringMap::new()),
                        place,
                    },
                    expect(None),
                ),
            })
        }
        Command::Scale { actor, count, host } => {
            let a = resolve::actor(m, actor).map_err(e)?;
            let name = resolve::actor_label(&a);
            let on: Vec<String> = a.hosts.keys().cloned().collect();
            let Some(reference) = a.reference.clone() else {
                return Err(format!(
                    "{name}: the lattice has not said which reference it was started from; \
                     start it with start-actor instead"
                ));
            };
            match resolve::target(m, &name, host.as_deref(), &on, Unnamed::Ask, false).map_err(e)? {
                Target::Host(h) => Ok(plan(
                    None,
                    Step::Send(requests::scale(s, &h, &a.id, &reference, *count)),
                    Expect::Scale {
                        host: h,
                        public_key: a.id.clone(),
                        reference,
                        target: u64::from(*count),
                    },
                )),
                Target::Ask(hosts) => Ok(Planned::Ask(hosts)),
                Target::Auction => Err(format!("{name} runs on no host")),
            }
        }
        Command::UpdateActor {
            actor,
            reference,
            host,
        } => {
            let a = resolve::actor(m, actor).map_err(e)?;
            let name = resolve::actor_label(&a);
            let on: Vec<String> = a.hosts.keys().cloned().collect();
            match resolve::target(m, &name, host.as_deref(), &on, Unnamed::Ask, true).map_err(e)? {
                Target::Host(h) => Ok(plan(
                    None,
                    Step::Send(requests::update_actor(s, &h, &a.id, reference)),
                    Expect::Update {
                        host: h,
                        public_key: a.id.clone(),
                    },
                )),
                Target::Ask(hosts) => Ok(Planned::Ask(hosts)),
                Target::Auction => Err(format!("{name} runs on no host")),
            }
        }
        Command::StopActor { actor, host } => {
            let a = resolve::actor(m, actor).map_err(e)?;
            let name = resolve::actor_label(&a);
            let on: Vec<String> = a.hosts.keys().cloned().collect();
            match resolve::target(m, &name, host.as_deref(), &on, Unnamed::Ask, true).map_err(e)? {
                Target::Host(h) => Ok(plan(
                    Some(format!(
                        "Stop every instance of {name} on {}?",
                        resolve::host_label(m, &h)
                    )),
                    Step::Send(requests::stop_actor(s, &h, &a.id, 0)),
                    Expect::ActorGone {
                        host: h,
                        public_key: a.id.clone(),
                    },
                )),
                Target::Ask(hosts) => Ok(Planned::Ask(hosts)),
                Target::Auction => Err(format!("{name} runs on no host")),
            }
        }
        Command::StartProvider {
            reference,
            link_name,
            host,
        } => {
            let target =
                resolve::target(m, reference, host.as_deref(), &[], Unnamed::Auction, false)
                    .map_err(e)?;
            let place = Placement::Provider {
                reference: reference.clone(),
                link_name: link_name.clone(),
            };
            let expect = |host: Option<String>| Expect::ProviderStarts {
                host,
                reference: reference.clone(),
                link_name: link_name.clone(),
            };
            Ok(match target {
                Target::Host(h) => plan(None, Step::Send(place.request(s, &h)), expect(Some(h))),
                Target::Auction | Target::Ask(_) => plan(
                    None,
                    Step::Auction {
                        auction: requests::provider_auction(
                            s,
                            reference,
                            link_name,
                            StringMap::new(),
                        ),
                        place,
                    },
                    expect(None),
                ),
            })
        }
        Command::StopProvider {
            provider,
            link_name,
            host,
        } => {
            let p = resolve::provider(m, provider, link_name.as_deref()).map_err(e)?;
            let name = resolve::provider_label(&p);
            match resolve::target(m, &name, host.as_deref(), &p.hosts, Unnamed::Ask, true)
                .map_err(e)?
            {
                Target::Host(h) => Ok(plan(
                    Some(format!(
                        "Stop {name} (link name {}) on {}?",
                        p.link_name,
                        resolve::host_label(m, &h)
                    )),
                    Step::Send(requests::stop_provider(
                        s,
                        &h,
                        &p.public_key,
                        &p.link_name,
                        &p.contract_id,
                    )),
                    Expect::ProviderStops {
                        host: h,
                        public_key: p.public_key.clone(),
                        link_name: p.link_name.clone(),
                    },
                )),
                Target::Ask(hosts) => Ok(Planned::Ask(hosts)),
                Target::Auction => Err(format!("{name} runs on no host")),
            }
        }
        Command::Link {
            actor,
            provider,
            contract,
            link_name,
            values,
        } => {
            let actor_id =
                literal_or(actor, 'M', || resolve::actor(m, actor).map(|a| a.id)).map_err(e)?;
            let provider_id = literal_or(provider, 'V', || {
                resolve::provider(m, provider, None)
                    .or_else(|err| match err {
                        // A provider under several link names is still one key.
                        resolve::ResolveError::Ambiguous { .. } => {
                            resolve::provider(m, provider, Some(link_name))
                        }
                        other => Err(other),
                    })
                    .map(|p| p.public_key)
            })
            .map_err(e)?;
            Ok(plan(
                None,
                Step::Send(requests::put_link(
                    s,
                    &actor_id,
                    &provider_id,
                    contract,
                    link_name,
                    values.clone(),
                )),
                Expect::LinkSet {
                    actor_id,
                    contract_id: contract.clone(),
                    link_name: link_name.clone(),
                },
            ))
        }
        Command::Unlink {
            actor,
            contract,
            link_name,
        } => {
            let actor_id =
                literal_or(actor, 'M', || resolve::actor(m, actor).map(|a| a.id)).map_err(e)?;
            Ok(plan(
                Some(format!(
                    "Delete the {contract} link (link name {link_name}) of {}?",
                    resolve::actor(m, &actor_id)
                        .map(|a| resolve::actor_label(&a))
                        .unwrap_or_else(|_| actor_id.clone())
                )),
                Step::Send(requests::delete_link(s, &actor_id, contract, link_name)),
                Expect::LinkDeleted {
                    actor_id,
                    contract_id: contract.clone(),
                    link_name: link_name.clone(),
                },
            ))
        }
        Command::StopHost { host } => {
            let h = resolve::host(m, host).map_err(e)?;
            Ok(plan(
                Some(format!("Stop host {}?", resolve::host_label(m, &h))),
                Step::Send(requests::stop_host(s, &h, STOP_HOST_TIMEOUT_MS)),
                Expect::HostStops { host: h },
            ))
        }
    }
}

/// A full public key of the given kind (`M…` actor, `V…` provider: 56 characters of base32)
/// is taken as typed, known or not (a link may be defined before its actor runs); anything
/// else is looked up.
fn literal_or(
    query: &str,
    prefix: char,
    lookup: impl FnOnce() -> Result<String, resolve::ResolveError>,
) -> Result<String, resolve::ResolveError> {
    let is_key = query.len() == 56
        && query.starts_with(prefix)
        && query
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    if is_key {
        Ok(query.to_owned())
    } else {
        lookup()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::state::command::parse;
    use crate::state::command::tests::{ECHO, H1, H2, HELLO, HTTP, LINKED, model};

    fn planned(line: &str) -> Result<Planned, String> {
        let cmd = parse(line).map_err(|e| e.to_string())?;
        plan(&cmd, &model(), &Subjects::new("default"), line)
    }

    fn go(line: &str) -> Plan {
        match planned(line) {
            Ok(Planned::Go(p)) => *p,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn sent(p: &Plan) -> (String, Value) {
        let Step::Send(r) = &p.step else {
            panic!("{}: not a send: {:?}", p.label, p.step)
        };
        (r.subject.clone(), serde_json::from_slice(&r.body).unwrap())
    }

    #[test]
    fn an_action_on_something_on_one_host_goes_to_that_host() {
        let p = go("scale hello 3");
        let (subject, body) = sent(&p);
        assert_eq!(subject, format!("wasmbus.ctl.default.cmd.{H1}.scale"));
        assert_eq!(
            body,
            json!({"actor_id": HELLO, "actor_ref": "ghcr.io/x/hello:1", "count": 3, "host_id": H1})
        );
        assert_eq!(p.confirm, None);
        assert_eq!(
            p.expect,
            Expect::Scale {
                host: H1.into(),
                public_key: HELLO.into(),
                reference: "ghcr.io/x/hello:1".into(),
                target: 3
            }
        );
    }

    #[test]
    fn on_several_hosts_scale_and_stop_ask_and_start_auctions() {
        assert_eq!(
            planned("scale echo 1"),
            Ok(Planned::Ask(vec![H1.into(), H2.into()]))
        );
        assert_eq!(
            planned("stop-actor echo"),
            Ok(Planned::Ask(vec![H1.into(), H2.into()]))
        );
        let p = go("start-actor ./echo.wasm --count 2 --watch");
        let Step::Auction { auction, place } = &p.step else {
            panic!("{:?}", p.step)
        };
        assert_eq!(auction.subject, "wasmbus.ctl.default.auction.actor");
        let winner = place.request(&Subjects::new("default"), H2);
        assert_eq!(winner.subject, format!("wasmbus.ctl.default.cmd.{H2}.la"));
        assert_eq!(
            serde_json::from_slice::<Value>(&winner.body).unwrap(),
            json!({"actor_ref": "./echo.wasm", "count": 2, "host_id": H2,
                   "annotations": {"lattice-tui.dev/watch": "true"}})
        );
        // --host picks one.
        let (subject, _) = sent(&go("stop-actor echo --host two"));
        assert_eq!(subject, format!("wasmbus.ctl.default.cmd.{H2}.sa"));
    }

    #[test]
    fn destructive_actions_ask_first() {
        let p = go("stop-actor hello");
        assert_eq!(
            p.confirm.as_deref(),
            Some("Stop every instance of hello (MCHELLOAAA) on one (NAONEAAAAA)?")
        );
        assert_eq!(
            go("stop-host two").confirm.as_deref(),
            Some("Stop host two (NATWOAAAAA)?")
        );
        let p = go("stop-provider VAHTTP --link-name web");
        assert_eq!(
            p.confirm.as_deref(),
            Some("Stop HTTP Server (VAHTTPAAAA) (link name web) on two (NATWOAAAAA)?")
        );
        let (_, body) = sent(&p);
        assert_eq!(
            body,
            json!({"provider_ref": HTTP, "link_name": "web",
                   "contract_id": "wasmcloud:httpserver", "host_id": H2})
        );
        assert!(go("unlink echo wasmcloud:httpserver").confirm.is_some());
    }

    #[test]
    fn links_take_names_or_keys_the_lattice_does_not_know_yet() {
        let (subject, body) = sent(&go(
            "link linked VAHTTP wasmcloud:httpserver --link-name web PORT=8080",
        ));
        assert_eq!(subject, "wasmbus.ctl.default.linkdefs.put");
        assert_eq!(
            body,
            json!({"actor_id": LINKED, "provider_id": HTTP, "link_name": "web",
                   "contract_id": "wasmcloud:httpserver", "values": {"PORT": "8080"}})
        );
        let unknown = "MZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
        let (_, body) = sent(&go(&format!("link {unknown} {HTTP} wasmcloud:httpserver")));
        assert_eq!(body["actor_id"], unknown);
        assert_eq!(
            planned("link nobody VAHTTP wasmcloud:httpserver").unwrap_err(),
            "no actor `nobody`; known: echo (MBECHOAAAA), ever (MBEVERAAAA), hello \
             (MCHELLOAAA), linked (MDLINKEDAA)"
        );
        let _ = ECHO;
    }

    #[test]
    fn views_are_not_actions() {
        assert_eq!(planned("hosts").unwrap_err(), "`hosts` is not an action");
    }
}
