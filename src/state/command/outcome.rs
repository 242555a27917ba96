//! The outcome of an action, correlated from what follows its ack: the events its host
//! publishes (`actor_started` ×N, `provider_start_failed`, `linkdef_set`, …) and, where a
//! count is what matters, the model. Gives the status line its text: `3/3 started`,
//! `start failed: <reason>`, or a timeout that says what did not arrive.
//!
//! Pure: events, the model and `now` are passed in.

use chrono::Duration;

use crate::lattice::protocol::{EventData, LatticeEvent};
use crate::state::model::{Lattice, Timestamp};

/// What an action waits for after its ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `count` × `actor_started` for `reference` on `host` (`None` until an auction picked one).
    ActorStarts {
        /// The host, once known.
        host: Option<String>,
        /// The reference the start named.
        reference: String,
        /// The actor's key, once an `actor_started` said it.
        public_key: Option<String>,
        /// Instances asked for.
        count: u64,
    },
    /// The actor's instance count on `host` reaches `target`.
    Scale {
        /// The host.
        host: String,
        /// The actor.
        public_key: String,
        /// The reference it was started from.
        reference: String,
        /// The count asked for.
        target: u64,
    },
    /// `actor_updated` (or `actor_update_failed`) for the actor on `host`.
    Update {
        /// The host.
        host: String,
        /// The actor.
        public_key: String,
    },
    /// No instance of the actor left on `host`.
    ActorGone {
        /// The host.
        host: String,
        /// The actor.
        public_key: String,
    },
    /// `provider_started` (or `provider_start_failed`) for `reference` under `link_name`.
    ProviderStarts {
        /// The host, once known.
        host: Option<String>,
        /// The reference (or public key) the start named.
        reference: String,
        /// Link name.
        link_name: String,
    },
    /// `provider_stopped` for the provider under `link_name` on `host`.
    ProviderStops {
        /// The host.
        host: String,
        /// The provider.
        public_key: String,
        /// Link name.
        link_name: String,
    },
    /// `linkdef_set` for (actor, contract, link name).
    LinkSet {
        /// The actor.
        actor_id: String,
        /// Contract id.
        contract_id: String,
        /// Link name.
        link_name: String,
    },
    /// `linkdef_deleted` for (actor, contract, link name).
    LinkDeleted {
        /// The actor.
        actor_id: String,
        /// Contract id.
        contract_id: String,
        /// Link name.
        link_name: String,
    },
    /// `host_stopped` from `host`.
    HostStops {
        /// The host.
        host: String,
    },
}

/// Where an action stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Sent, no ack yet.
    Sent,
    /// Acked; waiting for what follows.
    Acked,
    /// It happened.
    Done(String),
    /// The host refused it or reported a failure.
    Failed(String),
    /// Not everything arrived in time.
    TimedOut(String),
}

impl Status {
    /// Whether nothing more will change it.
    #[must_use]
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Status::Done(_) | Status::Failed(_) | Status::TimedOut(_)
        )
    }

    /// Whether it ended badly (refused, failed, or timed out).
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(self, Status::Failed(_) | Status::TimedOut(_))
    }
}

/// One action on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What the user asked for, e.g. `start-actor ./echo.wasm --count 3`.
    pub label: String,
    /// What it waits for.
    pub expect: Expect,
    /// When it was sent.
    pub sent: Timestamp,
    /// When it times out.
    pub deadline: Timestamp,
    /// Matching events seen so far.
    pub seen: u64,
    /// Where it stands.
    pub status: Status,
}

impl Pending {
    /// An action sent at `now`, timing out after `timeout`.
    #[must_use]
    pub fn new(
        label: impl Into<String>,
        expect: Expect,
        now: Timestamp,
        timeout: Duration,
    ) -> Self {
        Self {
            label: label.into(),
            expect,
            sent: now,
            deadline: now + timeout,
            seen: 0,
            status: Status::Sent,
        }
    }

    /// The host's ack: `Err(reason)` for a refusal.
    pub fn ack(&mut self, result: Result<(), &str>) {
        if self.status.is_final() {
            return;
        }
        self.status = match result {
            Ok(()) => Status::Acked,
            Err(e) => Status::Failed(format!("refused: {e}")),
        };
    }

    /// The host an auction picked.
    pub fn placed_on(&mut self, winner: &str) {
        match &mut self.expect {
            Expect::ActorStarts { host, .. } | Expect::ProviderStarts { host, .. } => {
                *host = Some(winner.to_owned());
            }
            _ => {}
        }
    }

    /// Folds in one lattice event; `true` if the status line changed (status or progress).
    pub fn event(&mut self, ev: &LatticeEvent) -> bool {
        if self.status.is_final() {
            return false;
        }
        // Progress (`1/3 started`) changes the line as much as a new status does.
        let before = (self.status.clone(), self.seen);
        let from = |host: &Option<String>| host.as_deref().is_none_or(|h| h == ev.source);
        match (&mut self.expect, &ev.data) {
            (
                Expect::ActorStarts {
                    host,
                    reference,
                    public_key,
                    count,
                },
                EventData::ActorStarted(d),
            ) if from(host)
                && (d.image_ref.as_deref() == Some(reference.as_str())
                    || public_key.as_deref() == Some(d.public_key.as_str())) =>
            {
                if public_key.is_none() {
                    *public_key = Some(d.public_key.clone());
                }
                if host.is_none() {
                    *host = Some(ev.source.clone());
                }
                self.seen = self.seen.saturating_add(1);
                if self.seen >= *count {
                    self.status = Status::Done(format!("{}/{count} started", self.seen));
                }
            }
            (
                Expect::ActorStarts {
                    host, reference, ..
                },
                EventData::ActorStartFailed(d),
            ) if from(host) && d.actor_ref == *reference => {
                self.status = Status::Failed(format!("start failed: {}", d.error));
            }
            (
                Expect::ActorStarts {
                    host,
                    reference,
                    public_key,
                    ..
                },
                EventData::ActorsStartFailed(d),
            ) if from(host)
                && (d.image_ref.as_deref() == Some(reference.as_str())
                    || public_key.as_deref() == Some(d.public_key.as_str())) =>
            {
                self.status = Status::Failed(format!("start failed: {}", d.error));
            }
            (
                Expect::Scale {
                    host,
                    public_key,
                    reference,
                    ..
                },
                EventData::ActorStartFailed(d),
            ) if ev.source == *host
                && (d.actor_ref == *reference || d.actor_ref == *public_key) =>
            {
                self.status = Status::Failed(format!("scale failed: {}", d.error));
            }
            (
                Expect::Scale {
                    host, public_key, ..
                },
                EventData::ActorsStartFailed(d),
            ) if ev.source == *host && d.public_key == *public_key => {
                self.status = Status::Failed(format!("scale failed: {}", d.error));
            }
            (Expect::Update { host, public_key }, EventData::ActorUpdated(d))
                if ev.source == *host && d.public_key == *public_key =>
            {
                self.status = Status::Done(format!("updated to revision {}", d.revision));
            }
            (Expect::Update { host, public_key }, EventData::ActorUpdateFailed(d))
                if ev.source == *host && d.public_key == *public_key =>
            {
                self.status = Status::Failed(format!("update failed: {}", d.reason));
            }
            (
                Expect::ProviderStarts {
                    host,
                    reference,
                    link_name,
                },
                EventData::ProviderStarted(d),
            ) if from(host)
                && d.link_name == *link_name
                && (d.image_ref.as_deref() == Some(reference.as_str())
                    || d.public_key == *reference) =>
            {
                self.seen = 1;
                self.status = Status::Done(format!("started under link name {link_name}"));
            }
            (
                Expect::ProviderStarts {
                    host,
                    reference,
                    link_name,
                },
                EventData::ProviderStartFailed(d),
            ) if from(host) && d.link_name == *link_name && d.provider_ref == *reference => {
                self.status = Status::Failed(format!("start failed: {}", d.error));
            }
            (
                Expect::ProviderStops {
                    host,
                    public_key,
                    link_name,
                },
                EventData::ProviderStopped(d),
            ) if ev.source == *host && d.public_key == *public_key && d.link_name == *link_name => {
                self.seen = 1;
                self.status = Status::Done("stopped".to_owned());
            }
            (
                Expect::LinkSet {
                    actor_id,
                    contract_id,
                    link_name,
                },
                EventData::LinkdefSet(l),
            ) if l.actor_id == *actor_id
                && l.contract_id == *contract_id
                && l.link_name == *link_name =>
            {
                self.seen = 1;
                self.status = Status::Done("link set".to_owned());
            }
            (
                Expect::LinkDeleted {
                    actor_id,
                    contract_id,
                    link_name,
                },
                EventData::LinkdefDeleted(l),
            ) if l.actor_id == *actor_id
                && l.contract_id == *contract_id
                && l.link_name == *link_name =>
            {
                self.seen = 1;
                self.status = Status::Done("link deleted".to_owned());
            }
            (Expect::HostStops { host }, EventData::HostStopped(_)) if ev.source == *host => {
                self.seen = 1;
                self.status = Status::Done("host stopped".to_owned());
            }
            _ => {}
        }
        (self.status.clone(), self.seen) != before
    }

    /// Checks the conditions the model answers (a count reached, an actor gone); `true` if
    /// the status changed.
    pub fn model(&mut self, m: &Lattice) -> bool {
        if self.status != Status::Acked {
            return false;
        }
        let count = |host: &str, pk: &str| {
            m.hosts
                .get(host)
                .and_then(|h| h.actors.get(pk))
                .map_or(0, crate::state::model::ActorState::count)
        };
        let done = match &self.expect {
            Expect::Scale {
                host,
                public_key,
                target,
                ..
            } => (count(host, public_key) == *target).then(|| format!("{target} running")),
            Expect::ActorGone { host, public_key } => {
                (count(host, public_key) == 0).then(|| "stopped".to_owned())
            }
            _ => None,
        };
        match done {
            Some(text) => {
                self.status = Status::Done(text);
                true
            }
            None => false,
        }
    }

    /// The clock: past the deadline, says what did not arrive; `true` if the status changed.
    pub fn tick(&mut self, now: Timestamp) -> bool {
        if self.status.is_final() || now < self.deadline {
            return false;
        }
        let secs = (self.deadline - self.sent).num_seconds();
        let missing = if self.status == Status::Sent {
            "no ack".to_owned()
        } else {
            match &self.expect {
                Expect::ActorStarts { host, count, .. } => format!(
                    "{} of {count} actor_started arrived{}",
                    self.seen,
                    host.as_deref()
                        .map(|h| format!(" from {}", crate::state::summary::short_key(h)))
                        .unwrap_or_default()
                ),
                Expect::Scale { target, .. } => format!("the count did not reach {target}"),
                Expect::Update { .. } => "no actor_updated arrived".to_owned(),
                Expect::ActorGone { .. } => "instances still running".to_owned(),
                Expect::ProviderStarts { .. } => "no provider_started arrived".to_owned(),
                Expect::ProviderStops { .. } => "no provider_stopped arrived".to_owned(),
                Expect::LinkSet { .. } => "no linkdef_set arrived".to_owned(),
                Expect::LinkDeleted { .. } => "no linkdef_deleted arrived".to_owned(),
                Expect::HostStops { .. } => "no host_stopped arrived".to_owned(),
            }
        };
        self.status = Status::TimedOut(format!("timed out after {secs} s: {missing}"));
        true
    }

    /// The status line: `label: state`.
    #[must_use]
    pub fn line(&self) -> String {
        let state = match &self.status {
            Status::Sent => "sent…".to_owned(),
            Status::Acked => match &self.expect {
                Expect::ActorStarts { count, .. } => {
                    format!("accepted, {}/{count} started", self.seen)
                }
                _ => "accepted…".to_owned(),
            },
            Status::Done(t) | Status::Failed(t) | Status::TimedOut(t) => t.clone(),
        };
        format!("{}: {state}", self.label)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono::Utc;

    use super::*;
    use crate::lattice::protocol::{
        ActorStartFailed, ActorStarted, LinkDefinition, ProviderStartFailed,
    };

    const H: &str = "NHOST";

    fn t(s: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn ev(source: &str, data: EventData) -> LatticeEvent {
        LatticeEvent::new("id", source, t(0), data)
    }

    fn started(pk: &str, image_ref: &str, instance: &str) -> EventData {
        EventData::ActorStarted(ActorStarted {
            public_key: pk.into(),
            image_ref: Some(image_ref.into()),
            api_version: None,
            instance_id: instance.into(),
            annotations: Default::default(),
            claims: None,
        })
    }

    fn start(count: u64, host: Option<&str>) -> Pending {
        Pending::new(
            "start-actor ./echo.wasm",
            Expect::ActorStarts {
                host: host.map(str::to_owned),
                reference: "./echo.wasm".into(),
                public_key: None,
                count,
            },
            t(0),
            Duration::seconds(30),
        )
    }

    #[test]
    fn a_start_counts_its_instances_from_its_host() {
        let mut p = start(3, Some(H));
        p.ack(Ok(()));
        assert_eq!(p.line(), "start-actor ./echo.wasm: accepted, 0/3 started");
        // Another host's start of the same file is not ours.
        assert!(!p.event(&ev("NOTHER", started("MA", "./echo.wasm", "i0"))));
        // Each instance is progress the status line shows (the e2e snapshot of `1/2
        // started` stayed at `0/2` when this said `false`).
        assert!(p.event(&ev(H, started("MA", "./echo.wasm", "i1"))));
        assert!(p.event(&ev(H, started("MA", "./echo.wasm", "i2"))));
        assert_eq!(p.line(), "start-actor ./echo.wasm: accepted, 2/3 started");
        assert!(p.event(&ev(H, started("MA", "./echo.wasm", "i3"))));
        assert_eq!(p.status, Status::Done("3/3 started".into()));
        assert!(!p.tick(t(60)), "a final status does not time out");
    }

    #[test]
    fn a_refusal_a_failure_and_a_timeout_each_say_why() {
        let mut refused = start(1, Some(H));
        refused.ack(Err("this host is busy"));
        assert_eq!(
            refused.line(),
            "start-actor ./echo.wasm: refused: this host is busy"
        );

        let mut failed = start(2, Some(H));
        failed.ack(Ok(()));
        failed.event(&ev(
            H,
            EventData::ActorStartFailed(ActorStartFailed {
                actor_ref: "./echo.wasm".into(),
                error: "no such file: ./echo.wasm".into(),
            }),
        ));
        assert_eq!(
            failed.status,
            Status::Failed("start failed: no such file: ./echo.wasm".into())
        );

        let mut slow = start(3, Some(H));
        slow.ack(Ok(()));
        slow.event(&ev(H, started("MA", "./echo.wasm", "i1")));
        assert!(!slow.tick(t(29)));
        assert!(slow.tick(t(30)));
        assert_eq!(
            slow.line(),
            "start-actor ./echo.wasm: timed out after 30 s: 1 of 3 actor_started arrived from NHOST"
        );

        let mut unanswered = start(1, Some(H));
        unanswered.tick(t(31));
        assert_eq!(
            unanswered.status,
            Status::TimedOut("timed out after 30 s: no ack".into())
        );
    }

    #[test]
    fn an_auctioned_start_follows_the_winner() {
        let mut p = start(1, None);
        p.ack(Ok(()));
        p.placed_on(H);
        assert!(!p.event(&ev("NOTHER", started("MA", "./echo.wasm", "i0"))));
        assert!(p.event(&ev(H, started("MA", "./echo.wasm", "i1"))));
        assert_eq!(p.status, Status::Done("1/1 started".into()));
    }

    #[test]
    fn provider_and_link_outcomes() {
        let mut p = Pending::new(
            "start-provider builtin:httpserver",
            Expect::ProviderStarts {
                host: Some(H.into()),
                reference: "builtin:httpserver".into(),
                link_name: "web".into(),
            },
            t(0),
            Duration::seconds(30),
        );
        p.ack(Ok(()));
        p.event(&ev(
            H,
            EventData::ProviderStartFailed(ProviderStartFailed {
                provider_ref: "builtin:httpserver".into(),
                link_name: "web".into(),
                error: "already running".into(),
            }),
        ));
        assert_eq!(
            p.status,
            Status::Failed("start failed: already running".into())
        );

        let mut l = Pending::new(
            "link",
            Expect::LinkSet {
                actor_id: "MA".into(),
                contract_id: "wasmcloud:httpserver".into(),
                link_name: "default".into(),
            },
            t(0),
            Duration::seconds(30),
        );
        l.ack(Ok(()));
        let def = |link: &str| LinkDefinition {
            id: String::new(),
            actor_id: "MA".into(),
            provider_id: "VB".into(),
            link_name: link.into(),
            contract_id: "wasmcloud:httpserver".into(),
            values: Default::default(),
        };
        assert!(!l.event(&ev(H, EventData::LinkdefSet(def("other")))));
        assert!(l.event(&ev(H, EventData::LinkdefSet(def("default")))));
        assert_eq!(l.status, Status::Done("link set".into()));
    }
}
