//! Fuzz body of `ctl_request`: control-interface requests (PROTOCOL.md §2) to an embedded host.
//!
//! One in-process host (`host::start(Bus::local(), …)`, lattice `fuzz`, pooling allocator off,
//! 16 MiB guest memory, 1 s guest budget, a 1 h heartbeat so no timer work runs between inputs)
//! is started once per process on a 2-worker tokio runtime kept in a `OnceLock`, and serves every
//! input; what one input changes (links, registry credentials, a started HTTP provider) stays for
//! the next, as on a real lattice.
//!
//! Input: the first byte, modulo [`SUBJECTS`]`.len()`, picks the subject (index = position in
//! [`SUBJECTS`]; `cmd.{host}.stop` is left out so the host stays up); the rest is the payload,
//! sent with `bus.request` (timeout [`AUCTION_TIMEOUT`] for auctions, which stay silent when
//! ineligible or malformed, [`REPLY_TIMEOUT`] for the rest).
//!
//! Checked (a failed check panics):
//! 1. every subject but the auctions replies within [`REPLY_TIMEOUT`];
//! 2. a reply is one JSON document of the subject's shape: an ack is an object with a boolean
//!    `accepted` and a string `error`, the error non-empty exactly when `accepted` is false;
//!    `ping.hosts` → `Host` with this host's id; auctions → `ActorAuctionAck` /
//!    `ProviderAuctionAck` with this host's id; `get.links` → `LinkDefinitionList`;
//!    `get.claims` → `GetClaimsResponse`; `get.{host}.inv` → `HostInventory` of this host.
//!    Queries may instead answer with a rejection ack (e.g. the lattice data failed);
//! 3. afterwards the host still answers `ping.hosts` with its id, and has not begun to stop;
//! 4. nothing panics, on the caller's thread or in a host task: the runtime's threads are
//!    named [`HOST_THREAD`] and a chained panic hook counts panics on them (under libFuzzer
//!    its own hook then aborts; in the replay test the count makes the input fail).
//!
//! Files: actor references name files to load. The fuzzer runs in an empty temporary directory
//! (see `fuzz/README.md`), and inputs whose JSON holds a string that is an absolute path, a
//! `file://` URL to one, contains `..`, or names a path that exists are skipped: the host reads
//! a referenced file whole before checking its size, and a `/dev/zero` would exhaust memory.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use lattice_tui::host::http::HttpLimits;
use lattice_tui::host::runtime::{PoolingMode, RuntimeConfig};
use lattice_tui::host::{self, Host, HostConfig};
use lattice_tui::lattice::bus::{Bus, BusError};
use lattice_tui::lattice::protocol::{
    ActorAuctionAck, GetClaimsResponse, HostInventory, LinkDefinitionList, ProviderAuctionAck,
};
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use serde_json::Value;

/// The control subjects, by the index the first input byte selects.
pub const SUBJECTS: [Route; 15] = [
    Route::Ping,
    Route::AuctionActor,
    Route::AuctionProvider,
    Route::RegistriesPut,
    Route::GetLinks,
    Route::GetClaims,
    Route::LinkdefsPut,
    Route::LinkdefsDel,
    Route::Inventory,
    Route::Cmd(CmdVerb::LaunchActor),
    Route::Cmd(CmdVerb::StopActor),
    Route::Cmd(CmdVerb::Scale),
    Route::Cmd(CmdVerb::Update),
    Route::Cmd(CmdVerb::LaunchProvider),
    Route::Cmd(CmdVerb::StopProvider),
];

/// How long an auction request waits for a reply that may never come.
pub const AUCTION_TIMEOUT: Duration = Duration::from_millis(25);
/// How long any other request waits for its reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Name of the host runtime's threads (workers and blocking pool).
pub const HOST_THREAD: &str = "fuzz-ctl-host";

/// Panics seen on [`HOST_THREAD`] threads.
static HOST_PANICS: AtomicUsize = AtomicUsize::new(0);

/// A control subject of [`SUBJECTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `ping.hosts`.
    Ping,
    /// `auction.actor`.
    AuctionActor,
    /// `auction.provider`.
    AuctionProvider,
    /// `registries.put`.
    RegistriesPut,
    /// `get.links`.
    GetLinks,
    /// `get.claims`.
    GetClaims,
    /// `linkdefs.put`.
    LinkdefsPut,
    /// `linkdefs.del`.
    LinkdefsDel,
    /// `get.{host}.inv`.
    Inventory,
    /// `cmd.{host}.{verb}`.
    Cmd(CmdVerb),
}

impl Route {
    /// The subject name after `wasmbus.ctl.{lattice}.`, with `{host}` for the host id; used to
    /// map captured traffic to an index.
    pub fn pattern(self) -> String {
        match self {
            Route::Ping => "ping.hosts".into(),
            Route::AuctionActor => "auction.actor".into(),
            Route::AuctionProvider => "auction.provider".into(),
            Route::RegistriesPut => "registries.put".into(),
            Route::GetLinks => "get.links".into(),
            Route::GetClaims => "get.claims".into(),
            Route::LinkdefsPut => "linkdefs.put".into(),
            Route::LinkdefsDel => "linkdefs.del".into(),
            Route::Inventory => "get.{host}.inv".into(),
            Route::Cmd(verb) => format!("cmd.{{host}}.{verb}"),
        }
    }

    fn subject(self, s: &Subjects, host_id: &str) -> String {
        match self {
            Route::Ping => s.ping_hosts(),
            Route::AuctionActor => s.auction_actor(),
            Route::AuctionProvider => s.auction_provider(),
            Route::RegistriesPut => s.registries_put(),
            Route::GetLinks => s.get_links(),
            Route::GetClaims => s.get_claims(),
            Route::LinkdefsPut => s.linkdefs_put(),
            Route::LinkdefsDel => s.linkdefs_del(),
            Route::Inventory => s.host_inventory(host_id),
            Route::Cmd(verb) => s.host_command(host_id, verb),
        }
    }

    fn is_auction(self) -> bool {
        matches!(self, Route::AuctionActor | Route::AuctionProvider)
    }
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    bus: Bus,
    subjects: Subjects,
    host: Host,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(HOST_THREAD) {
                HOST_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(HOST_THREAD)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let bus = Bus::local();
        let mut cfg = HostConfig::new("fuzz");
        cfg.heartbeat_interval = Duration::from_secs(3600);
        cfg.runtime = RuntimeConfig {
            pooling: PoolingMode::Off,
            max_linear_memory: 16 << 20,
            max_execution_time: Duration::from_secs(1),
            ..RuntimeConfig::default()
        };
        cfg.http = HttpLimits {
            max_connections_per_listener: 4,
            max_in_flight: 4,
            ..HttpLimits::default()
        };
        cfg.drain_grace = Duration::from_millis(100);
        let subjects = Subjects::new("fuzz");
        // `host::start` returns once the control interface is subscribed (finding 3, fixed).
        let host = rt
            .block_on(host::start(bus.clone(), cfg))
            .expect("the fuzz host starts");
        Fixture {
            rt,
            bus,
            subjects,
            host,
        }
    })
}

/// Runs one input. Panics when a check of the module docs fails.
pub fn run(data: &[u8]) {
    let Some((&first, payload)) = data.split_first() else {
        return;
    };
    if names_a_file(payload) {
        return;
    }
    let route = SUBJECTS[usize::from(first) % SUBJECTS.len()];
    let f = fixture();
    let panics = HOST_PANICS.load(Ordering::SeqCst);
    let host_id = f.host.id();
    let subject = route.subject(&f.subjects, &host_id);
    let timeout = if route.is_auction() {
        AUCTION_TIMEOUT
    } else {
        REPLY_TIMEOUT
    };
    f.rt.block_on(async {
        let reply = f
            .bus
            .request(&subject, Bytes::copy_from_slice(payload), timeout)
            .await;
        match reply {
            Ok(msg) => check_reply(route, &host_id, &msg.payload),
            Err(BusError::Timeout { .. }) if route.is_auction() => {}
            Err(e) => panic!("{subject}: no reply: {e}"),
        }
        assert!(!f.host.stopping(), "{subject}: the host began to stop");
        let ping = f
            .bus
            .request(&f.subjects.ping_hosts(), Bytes::new(), REPLY_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("ping.hosts after {subject}: {e}"));
        let host: lattice_tui::lattice::protocol::Host = serde_json::from_slice(&ping.payload)
            .unwrap_or_else(|e| panic!("ping.hosts reply after {subject}: {e}"));
        assert_eq!(host.id, host_id, "ping.hosts answered by another host");
    });
    assert_eq!(
        HOST_PANICS.load(Ordering::SeqCst),
        panics,
        "a host task panicked while serving {subject}"
    );
}

/// Check 2 of the module docs.
fn check_reply(route: Route, host_id: &str, body: &[u8]) {
    let what = route.pattern();
    let value: Value = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "{what}: reply is not JSON ({e}): {:?}",
            String::from_utf8_lossy(body)
        )
    });
    let is_ack = value.get("accepted").is_some();
    if is_ack || !is_query(route) {
        check_ack(&what, &value);
        return;
    }
    let parsed = match route {
        Route::Ping => serde_json::from_value::<lattice_tui::lattice::protocol::Host>(value)
            .map(|h| assert_eq!(h.id, host_id, "{what}: id")),
        Route::AuctionActor => serde_json::from_value::<ActorAuctionAck>(value)
            .map(|a| assert_eq!(a.host_id, host_id, "{what}: host_id")),
        Route::AuctionProvider => serde_json::from_value::<ProviderAuctionAck>(value)
            .map(|a| assert_eq!(a.host_id, host_id, "{what}: host_id")),
        Route::GetLinks => serde_json::from_value::<LinkDefinitionList>(value).map(drop),
        Route::GetClaims => serde_json::from_value::<GetClaimsResponse>(value).map(drop),
        Route::Inventory => serde_json::from_value::<HostInventory>(value)
            .map(|inv| assert_eq!(inv.host_id, host_id, "{what}: host_id")),
        _ => unreachable!("acks are checked above"),
    };
    if let Err(e) = parsed {
        panic!(
            "{what}: reply is not the query document: {e}: {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

fn is_query(route: Route) -> bool {
    matches!(
        route,
        Route::Ping
            | Route::AuctionActor
            | Route::AuctionProvider
            | Route::GetLinks
            | Route::GetClaims
            | Route::Inventory
    )
}

fn check_ack(what: &str, value: &Value) {
    let obj = value
        .as_object()
        .unwrap_or_else(|| panic!("{what}: ack is not an object: {value}"));
    let accepted = obj
        .get("accepted")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| panic!("{what}: ack without a boolean `accepted`: {value}"));
    let error = obj
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{what}: ack without a string `error`: {value}"));
    assert_eq!(
        accepted,
        error.is_empty(),
        "{what}: `error` must be empty exactly when accepted: {value}"
    );
}

/// Whether the payload's JSON holds a string that could make the host read a file (module
/// docs). Payloads that are not JSON are kept: the host rejects them before reading anything.
fn names_a_file(payload: &[u8]) -> bool {
    fn risky(s: &str) -> bool {
        let p = s.strip_prefix("file://").unwrap_or(s);
        p.starts_with('/') || p.contains("..") || (!p.is_empty() && Path::new(p).exists())
    }
    fn walk(v: &Value) -> bool {
        match v {
            Value::String(s) => risky(s),
            Value::Array(items) => items.iter().any(walk),
            Value::Object(map) => map.iter().any(|(k, v)| risky(k) || walk(v)),
            _ => false,
        }
    }
    serde_json::from_slice::<Value>(payload).is_ok_and(|v| walk(&v))
}
