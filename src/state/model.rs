//! The StateMonitor model: what the console knows about a lattice.
//!
//! Plain data with deterministic ordering (`BTreeMap`s), serialisable for `snapshot --json` and
//! the snapshot tests. Pure: no I/O, no clock; every time in here was passed in by the caller.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::lattice::protocol::{
    ClaimsMap, EventData, EventKind, LatticeEvent, LinkDefinition, StringMap,
};

/// A point in time, always passed in by the caller.
pub type Timestamp = DateTime<Utc>;

/// Knobs of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelConfig {
    /// Expected heartbeat period of hosts (OTP: 30 s).
    pub heartbeat_interval_secs: u64,
    /// A host silent for more than this many heartbeat intervals is `stale`.
    pub stale_after_intervals: u32,
    /// A host silent for more than this many heartbeat intervals is `lost`.
    pub lost_after_intervals: u32,
    /// Entries kept in the event log.
    pub event_log_capacity: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_secs: 30,
            stale_after_intervals: 3,
            // Ten missed heartbeats (5 minutes at 30 s): long enough to ride out a NATS
            // reconnect, short enough that a crashed host does not look merely slow.
            lost_after_intervals: 10,
            // Enough to scroll back through several minutes of a busy lattice; each entry is
            // a few hundred bytes.
            event_log_capacity: 1000,
        }
    }
}

/// Liveness of a host, from the time since it was last heard of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    /// Heard of within `stale_after_intervals` heartbeats.
    Live,
    /// Silent for more than `stale_after_intervals` heartbeats.
    Stale,
    /// Silent for more than `lost_after_intervals` heartbeats; kept until a resync or a
    /// `host_stopped` removes it, so a crashed host stays visible as a ghost.
    Lost,
}

impl HostStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Live => "live",
            HostStatus::Stale => "stale",
            HostStatus::Lost => "lost",
        }
    }
}

/// A failure reported for an actor or provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Which event reported it.
    pub kind: EventKind,
    /// The reason given by the host.
    pub reason: String,
    /// When it was received.
    pub at: Timestamp,
}

/// One running actor instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct InstanceState {
    /// Claims revision of the module this instance runs.
    pub revision: i64,
    /// Annotations given at start.
    pub annotations: StringMap,
}

/// Status of an actor on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorStatus {
    /// Instances are running.
    Running,
    /// The last start failed and nothing runs.
    StartFailed,
    /// Instances are running but the last live update failed.
    UpdateFailed,
}

impl ActorStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorStatus::Running => "running",
            ActorStatus::StartFailed => "start failed",
            ActorStatus::UpdateFailed => "update failed",
        }
    }
}

/// An actor on one host. Serialises with a derived `count` field (instances known by id plus
/// unidentified ones) for scripts reading `snapshot --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorState {
    /// Public key (`M…`); for a failed start whose key is unknown, the reference.
    pub id: String,
    /// Name from the claims.
    pub name: Option<String>,
    /// Reference it was started from.
    pub image_ref: Option<String>,
    /// Instances known by id.
    pub instances: BTreeMap<String, InstanceState>,
    /// Instances counted by a 0.60+ heartbeat whose ids are not known.
    pub unidentified: u64,
    /// Latest claims revision seen.
    pub revision: i64,
    /// Status.
    pub status: ActorStatus,
    /// Most recent failure.
    pub last_failure: Option<Failure>,
    /// When the last successful live update arrived.
    pub last_update: Option<Timestamp>,
}

impl Serialize for ActorState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ActorState", 10)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("image_ref", &self.image_ref)?;
        st.serialize_field("count", &self.count())?;
        st.serialize_field("instances", &self.instances)?;
        st.serialize_field("unidentified", &self.unidentified)?;
        st.serialize_field("revision", &self.revision)?;
        st.serialize_field("status", &self.status)?;
        st.serialize_field("last_failure", &self.last_failure)?;
        st.serialize_field("last_update", &self.last_update)?;
        st.end()
    }
}

impl ActorState {
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            name: None,
            image_ref: None,
            instances: BTreeMap::new(),
            unidentified: 0,
            revision: 0,
            status: ActorStatus::Running,
            last_failure: None,
            last_update: None,
        }
    }

    /// Number of running instances (saturating: `unidentified` comes from a heartbeat).
    pub fn count(&self) -> u64 {
        u64::try_from(self.instances.len())
            .unwrap_or(u64::MAX)
            .saturating_add(self.unidentified)
    }

    /// Display name: the claims name, else the id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Health of a provider, from `health_check_*` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderHealth {
    /// Started or seen in a heartbeat; no health check result yet.
    Awaiting,
    /// Last transition was `health_check_passed`.
    Healthy,
    /// Last transition was `health_check_failed`.
    Unhealthy,
    /// The last start failed; nothing runs.
    Failed,
}

impl ProviderHealth {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderHealth::Awaiting => "awaiting",
            ProviderHealth::Healthy => "healthy",
            ProviderHealth::Unhealthy => "unhealthy",
            ProviderHealth::Failed => "failed",
        }
    }
}

/// A provider on one host, keyed by `{public_key}/{link_name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderState {
    /// Public key (`V…`); for a failed start, the reference.
    pub public_key: String,
    /// Link name.
    pub link_name: String,
    /// Contract id.
    pub contract_id: String,
    /// Name from the claims.
    pub name: Option<String>,
    /// Reference it was started from.
    pub image_ref: Option<String>,
    /// Instance id.
    pub instance_id: Option<String>,
    /// Annotations.
    pub annotations: StringMap,
    /// Health.
    pub health: ProviderHealth,
    /// When the health last changed or was confirmed.
    pub health_at: Option<Timestamp>,
    /// Most recent failure.
    pub last_failure: Option<Failure>,
}

impl ProviderState {
    pub(crate) fn new(public_key: &str, link_name: &str) -> Self {
        Self {
            public_key: public_key.to_string(),
            link_name: link_name.to_string(),
            contract_id: String::new(),
            name: None,
            image_ref: None,
            instance_id: None,
            annotations: StringMap::new(),
            health: ProviderHealth::Awaiting,
            health_at: None,
            last_failure: None,
        }
    }

    /// Display name: the claims name, else the key.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.public_key)
    }
}

/// Key of a provider in [`HostState::providers`].
pub fn provider_key(public_key: &str, link_name: &str) -> String {
    format!("{public_key}/{link_name}")
}

/// A host of the lattice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostState {
    /// Public key (`N…`).
    pub id: String,
    /// The lattice it belongs to, when the console follows every lattice (`--lattice '*'`);
    /// empty when it follows one (the model's).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lattice: String,
    /// Friendly name.
    pub friendly_name: String,
    /// Labels.
    pub labels: StringMap,
    /// Host software version.
    pub version: Option<String>,
    /// Uptime reported at `uptime_at`.
    pub uptime_seconds: Option<u64>,
    /// When `uptime_seconds` was reported.
    pub uptime_at: Option<Timestamp>,
    /// Cluster issuer (from `ping.hosts`).
    pub issuer: Option<String>,
    /// First time anything was heard from the host.
    pub first_seen: Timestamp,
    /// Last time anything was heard from the host.
    pub last_seen: Timestamp,
    /// Last time a heartbeat was received.
    pub last_heartbeat: Option<Timestamp>,
    /// Liveness.
    pub status: HostStatus,
    /// Actors by id.
    pub actors: BTreeMap<String, ActorState>,
    /// Providers by [`provider_key`].
    pub providers: BTreeMap<String, ProviderState>,
    /// Host-clock time of the newest heartbeat applied: instance events older than this are
    /// already reflected in the inventory.
    #[serde(skip)]
    pub(crate) inventory_time: Option<Timestamp>,
    /// Actor instance ids known to have stopped, so late or repeated starts cannot resurrect
    /// them. Kept per host, not per actor: the actor's row goes when its last instance stops,
    /// and a stop can arrive before the actor is known at all.
    #[serde(skip)]
    pub(crate) stopped_actors: Tombstones,
    /// Provider instance ids known to have stopped.
    #[serde(skip)]
    pub(crate) stopped_providers: Tombstones,
}

impl HostState {
    pub(crate) fn new(id: &str, now: Timestamp) -> Self {
        Self {
            id: id.to_string(),
            lattice: String::new(),
            friendly_name: String::new(),
            labels: StringMap::new(),
            version: None,
            uptime_seconds: None,
            uptime_at: None,
            issuer: None,
            first_seen: now,
            last_seen: now,
            last_heartbeat: None,
            status: HostStatus::Live,
            actors: BTreeMap::new(),
            providers: BTreeMap::new(),
            inventory_time: None,
            stopped_actors: Tombstones::default(),
            stopped_providers: Tombstones::default(),
        }
    }

    /// Uptime at `now`, extrapolated from the last report.
    pub fn uptime_at(&self, now: Timestamp) -> Option<u64> {
        let reported = self.uptime_seconds?;
        let since = self
            .uptime_at
            .map(|t| u64::try_from((now - t).num_seconds()).unwrap_or(0))
            .unwrap_or(0);
        Some(reported.saturating_add(since))
    }

    /// Total running actor instances (saturating).
    pub fn actor_instances(&self) -> u64 {
        saturating_sum(self.actors.values().map(ActorState::count))
    }

    /// Display name: the friendly name, else the id.
    pub fn display_name(&self) -> &str {
        if self.friendly_name.is_empty() {
            &self.id
        } else {
            &self.friendly_name
        }
    }
}

/// How serious a log entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Normal lattice activity.
    Info,
    /// Something degraded (health failed, host lost, unknown event).
    Warn,
    /// A failure (start/update failed, malformed event).
    Error,
}

/// What a log entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logged {
    /// A decoded event, shared with the code that received it (no copy is made).
    Event(Arc<LatticeEvent>),
    /// A message that could not be decoded.
    Malformed {
        /// The envelope's `source`, when the envelope was readable.
        source: String,
        /// The event type, when it was readable.
        kind: EventKind,
        /// What was wrong.
        reason: String,
    },
    /// A step of an action this console took: sent, acked, its outcome (`scale echo 3:
    /// 3/3 running`). Source `console`, type `console_action`.
    Action {
        /// The status line it showed.
        line: String,
    },
}

/// The `source` of the console's own action entries.
pub const CONSOLE_SOURCE: &str = "console";
/// The type of the console's own action entries.
pub const ACTION_TYPE: &str = "console_action";

/// One entry of the event log. Its one-line summary is made on demand
/// ([`LogEntry::summary`]): the console only ever shows a screenful of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Sequence number in the log (monotonic).
    pub seq: u64,
    /// When it was received.
    pub received: Timestamp,
    /// Severity.
    pub level: LogLevel,
    /// The event or the decode failure.
    pub what: Logged,
}

impl LogEntry {
    /// CloudEvent id (empty for malformed messages).
    pub fn id(&self) -> &str {
        match &self.what {
            Logged::Event(e) => &e.id,
            Logged::Malformed { .. } | Logged::Action { .. } => "",
        }
    }

    /// The CloudEvent `time`, if any.
    pub fn time(&self) -> Option<Timestamp> {
        match &self.what {
            Logged::Event(e) => e.time,
            Logged::Malformed { .. } | Logged::Action { .. } => None,
        }
    }

    /// The CloudEvent `source` (host id or `n/a`; empty when unreadable).
    pub fn source(&self) -> &str {
        match &self.what {
            Logged::Event(e) => &e.source,
            Logged::Malformed { source, .. } => source,
            Logged::Action { .. } => CONSOLE_SOURCE,
        }
    }

    /// Event kind (`Unknown` for unknown types and unreadable envelopes).
    pub fn kind(&self) -> EventKind {
        match &self.what {
            Logged::Event(e) => e.kind(),
            Logged::Malformed { kind, .. } => *kind,
            Logged::Action { .. } => EventKind::Unknown,
        }
    }

    /// The type string for unknown events, `malformed` for undecodable ones.
    pub fn ty(&self) -> Option<&str> {
        match &self.what {
            Logged::Event(e) => match &e.data {
                EventData::Unknown { ty } => Some(ty),
                _ => None,
            },
            Logged::Malformed { .. } => Some("malformed"),
            Logged::Action { .. } => Some(ACTION_TYPE),
        }
    }

    /// The decoded event, if it decoded.
    pub fn event(&self) -> Option<&LatticeEvent> {
        match &self.what {
            Logged::Event(e) => Some(e),
            Logged::Malformed { .. } | Logged::Action { .. } => None,
        }
    }

    /// One-line description. With `names`, actors are called by their claims name.
    pub fn summary(&self, names: Option<&Lattice>) -> String {
        match &self.what {
            Logged::Event(e) => super::summary::summary(names, e),
            Logged::Malformed { reason, .. } => reason.clone(),
            Logged::Action { line } => line.clone(),
        }
    }
}

impl Serialize for LogEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("LogEntry", 9)?;
        st.serialize_field("seq", &self.seq)?;
        st.serialize_field("id", self.id())?;
        st.serialize_field("received", &self.received)?;
        st.serialize_field("time", &self.time())?;
        st.serialize_field("source", self.source())?;
        st.serialize_field("kind", &self.kind())?;
        st.serialize_field("ty", &self.ty())?;
        st.serialize_field("level", &self.level)?;
        st.serialize_field("summary", &self.summary(None))?;
        st.end()
    }
}

/// Bounded log of recent events, newest last. Remembers the ids it holds so a repeated event
/// is recognised.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventLog {
    /// Entries, oldest first.
    pub entries: VecDeque<LogEntry>,
    /// Entries ever appended (the next sequence number).
    pub total: u64,
    #[serde(skip)]
    pub(crate) ids: std::collections::HashSet<u64, foldhash::fast::RandomState>,
    #[serde(skip)]
    pub(crate) capacity: usize,
}

impl PartialEq for EventLog {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries && self.total == other.total
    }
}

impl Eq for EventLog {}

/// Counters over everything the reducer saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Events that changed the model.
    pub changed: u64,
    /// Events that were valid but changed nothing (repeats of known facts, late events).
    pub unchanged: u64,
    /// Events of unknown type.
    pub unknown: u64,
    /// Messages that could not be decoded.
    pub malformed: u64,
}

/// Transport and connection facts shown in the console header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionInfo {
    /// `in-process` or the NATS URL.
    pub transport: String,
    /// `connecting`, `connected`, `reconnecting`, `closed`.
    pub state: String,
    /// Events the subscriber had to drop (a resync follows every drop).
    pub dropped: u64,
    /// When the drop counter last grew.
    pub last_drop: Option<Timestamp>,
    /// Completed resyncs.
    pub resyncs: u64,
    /// When the last resync completed.
    pub last_resync: Option<Timestamp>,
    /// Last query error (e.g. no responders), cleared by a clean resync.
    pub last_error: Option<String>,
}

/// What the console's own embedded host reports beyond the lattice protocol: HTTP calls per
/// actor and the version it runs. Remote hosts do not publish these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalHost {
    /// The embedded host's id.
    pub host_id: String,
    /// Per actor public key.
    pub actors: BTreeMap<String, LocalActor>,
    /// Where it serves HTTP: one URL per listener and path prefix (`http://127.0.0.1:8080/`).
    pub serving: Vec<String>,
    /// Why its lattice-data watch is down, while it is (its links may be stale).
    pub data_watch_error: Option<String>,
}

/// One actor of the embedded host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalActor {
    /// HTTP requests served.
    pub calls: u64,
    /// Requests answered with a server error (trap, deadline, no handler).
    pub errors: u64,
    /// Requests being served now.
    pub in_flight: u64,
    /// Revision of the loaded module.
    pub revision: i64,
    /// SHA-256 of the loaded file (hex).
    pub digest: String,
    /// Why the actor cannot serve HTTP, if it cannot.
    pub note: Option<String>,
    /// The file it runs from.
    pub source: String,
    /// Whether the file is watched for hot reload.
    pub watched: bool,
    /// The last successful hot reload.
    pub last_reload: Option<LocalReload>,
    /// The last failed update or reload, until the next good one.
    pub last_error: Option<String>,
    /// Why the last failed HTTP call failed (the client got a plain 500).
    pub last_call_failure: Option<String>,
}

/// One hot reload of an embedded-host actor, step by step (microseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalReload {
    /// When the new version started serving.
    pub at: Option<Timestamp>,
    /// Its revision.
    pub revision: i64,
    /// SHA-256 of the new file (hex).
    pub digest: String,
    /// First file-system event → file stable and read (includes the debounce).
    pub detect_to_stable_us: u64,
    /// File read → compiled and pre-instantiated.
    pub stable_to_compiled_us: u64,
    /// Compiled → serving.
    pub swap_us: u64,
    /// First file-system event → serving.
    pub total_us: u64,
}

/// The state of `lattice-tui dev --build CMD`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BuildState {
    /// The command.
    pub command: String,
    /// The current or last run (1-based; 0: none yet).
    pub run: u64,
    /// Where it stands.
    pub status: BuildStatus,
    /// Files whose change started the run.
    pub trigger: Vec<String>,
    /// When the run started.
    pub started: Option<Timestamp>,
    /// How long the last finished run took, in milliseconds.
    pub took_ms: Option<u64>,
    /// Exit code of the last finished run.
    pub code: Option<i32>,
    /// The newest output lines (of the current run, then of older ones), bounded.
    pub output: VecDeque<BuildLine>,
}

/// One line of build output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildLine {
    /// Which run printed it.
    pub run: u64,
    /// Whether it came on stderr.
    pub stderr: bool,
    /// The text.
    pub text: String,
}

/// Where the dev build stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildStatus {
    /// Not run yet.
    #[default]
    Idle,
    /// Running.
    Running,
    /// The last run succeeded.
    Succeeded,
    /// The last run failed (the running actors are untouched).
    Failed,
    /// The last run was cut short by a newer change.
    Cancelled,
}

/// Build output lines kept: a screenful of a failed `cargo build` and then some.
pub const BUILD_OUTPUT_LINES: usize = 500;

/// Instance ids that are known to be gone; bounded, oldest forgotten first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tombstones {
    order: VecDeque<String>,
    set: FastSet,
}

/// Hash set of ids with a fast non-cryptographic hasher: ids here come from the lattice and
/// are only ever compared, so SipHash's DoS resistance buys nothing on this hot path.
pub(crate) type FastSet = std::collections::HashSet<String, foldhash::fast::RandomState>;

/// Tombstones kept per actor / per host: far more than any realistic churn between two
/// heartbeats, small enough to be irrelevant in memory.
const TOMBSTONES: usize = 256;

impl Tombstones {
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    pub(crate) fn insert(&mut self, id: &str) {
        if id.is_empty() || !self.set.insert(id.to_string()) {
            return;
        }
        self.order.push_back(id.to_string());
        if self.order.len() > TOMBSTONES
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
    }

    pub(crate) fn remove(&mut self, id: &str) {
        if self.set.remove(id) {
            self.order.retain(|x| x != id);
        }
    }
}

/// The whole lattice as the console sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Lattice {
    /// Lattice prefix.
    pub lattice: String,
    /// Knobs.
    pub config: ModelConfig,
    /// Hosts by id.
    pub hosts: BTreeMap<String, HostState>,
    /// Link definitions by id, deduplicated lattice-wide.
    pub links: BTreeMap<String, LinkDefinition>,
    /// Claims by public key, values all strings (the `get.claims` shape).
    pub claims: BTreeMap<String, ClaimsMap>,
    /// OCI reference → public key.
    pub refmaps: BTreeMap<String, String>,
    /// Recent events.
    pub events: EventLog,
    /// Counters.
    pub stats: Stats,
    /// Transport and connection.
    pub connection: ConnectionInfo,
    /// The embedded host's own facts, when the console runs one.
    pub local: Option<LocalHost>,
    /// The dev build, when `lattice-tui dev --build` runs one.
    pub build: Option<BuildState>,
    /// Live call rates of the hosts that publish them (lattice-tui hosts).
    #[serde(skip_serializing_if = "super::rates::Rates::is_empty")]
    pub rates: super::rates::Rates,
    /// Hosts that said `host_stopped`, with the host-clock time of that event, so late events
    /// do not bring them back as ghosts.
    #[serde(skip)]
    pub(crate) stopped_hosts: BTreeMap<String, Option<Timestamp>>,
    /// Digest of the event claims each `claims` entry was last built from, so the many
    /// `actor_started` events of a scale-up cost one hash lookup, not a map comparison.
    #[serde(skip)]
    pub(crate) claims_digest: std::collections::HashMap<String, u64, foldhash::fast::RandomState>,
}

/// Equality of what the model knows; caches (the claims digests) are left out.
impl PartialEq for Lattice {
    fn eq(&self, o: &Self) -> bool {
        self.lattice == o.lattice
            && self.config == o.config
            && self.hosts == o.hosts
            && self.links == o.links
            && self.claims == o.claims
            && self.refmaps == o.refmaps
            && self.events == o.events
            && self.stats == o.stats
            && self.connection == o.connection
            && self.local == o.local
            && self.build == o.build
            && self.rates == o.rates
            && self.stopped_hosts == o.stopped_hosts
    }
}

impl Eq for Lattice {}

impl Lattice {
    /// An empty model of `lattice`.
    pub fn new(lattice: &str, config: ModelConfig) -> Self {
        let capacity = config.event_log_capacity;
        Self {
            lattice: lattice.to_string(),
            config,
            hosts: BTreeMap::new(),
            links: BTreeMap::new(),
            claims: BTreeMap::new(),
            refmaps: BTreeMap::new(),
            events: EventLog {
                capacity,
                ..EventLog::default()
            },
            stats: Stats::default(),
            connection: ConnectionInfo::default(),
            local: None,
            build: None,
            rates: super::rates::Rates::default(),
            stopped_hosts: BTreeMap::new(),
            claims_digest: Default::default(),
        }
    }

    /// Name of an actor from the claims, if known.
    pub fn actor_name(&self, public_key: &str) -> Option<&str> {
        self.claims
            .get(public_key)
            .and_then(|c| c.get("name"))
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }

    /// The embedded host's facts about an actor on host `host_id`, if that is the local host.
    pub fn local_actor(&self, host_id: &str, public_key: &str) -> Option<&LocalActor> {
        self.local
            .as_ref()
            .filter(|l| l.host_id == host_id)
            .and_then(|l| l.actors.get(public_key))
    }

    /// Total actor instances across hosts (saturating).
    pub fn actor_instances(&self) -> u64 {
        saturating_sum(self.hosts.values().map(HostState::actor_instances))
    }

    /// Total providers across hosts.
    pub fn provider_count(&self) -> usize {
        self.hosts.values().map(|h| h.providers.len()).sum()
    }
}

/// Sum of counts that came from the network: at most `u64::MAX`, never wrapped.
pub fn saturating_sum(counts: impl IntoIterator<Item = u64>) -> u64 {
    counts.into_iter().fold(0, u64::saturating_add)
}
