//! The StateMonitor reducer against the protocol (PROTOCOL.md §3) and its documented rules:
//! one snapshot per event fixture applied to an empty model, scenario snapshots (hosts joining,
//! going silent and stopping; actors scaling; provider health; links; resync; bad input), and
//! plain-assert properties (idempotence, out-of-order delivery, heartbeat authority).
//!
//! Snapshots are a compact text rendering of the model (`render`), one line per host, actor,
//! instance, provider, link, claim, refmap and log entry. Times are offsets from `T0`
//! (2023-05-16T18:00:00Z), and the made-up keys and instance ids are shown by alias
//! (`NB…HOST`, `MB…ECHO`, `echo#1`, …; see `ALIASES`).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, SecondsFormat};
use lattice_tui::lattice::protocol::{
    ActorDescription, ActorInstance, ClaimsMap, EventKind, Host, HostInventory, LatticeEvent,
    LatticeSnapshot, LinkDefinition, ProviderDescription, linkdef_hash,
};
use lattice_tui::state::{
    ActorStatus, Applied, HostStatus, Lattice, ModelConfig, ProviderHealth, Timestamp, apply,
    apply_resync, provider_key, record_malformed, tick,
};
use serde_json::{Value, json};

// Keys of the fixtures (assets/events/README.md) and a few more for multi-host scenarios.
const HOST: &str = "NBSSBPBAAGQF5WVVQKHF2WIECPOVAKZD7WQWDUXQCGDLXH6SXHD7T6UL";
const OLD_HOST: &str = "NCR3PIEXZULSRE25UO6UWZUQR4MQG5XH3VE65YNMAZ7Z5OGXDQ44A4MT";
const HOST2: &str = "NDTRW5FBPJFSPBGWKINDNE76HFO2O7P3HI7A6XUAR6LBCIUCPZOHULD3";
const HOST3: &str = "NAF7OS6NBC36CGORQHTCYU3BVXXV7YRQ6CGK2DVBYQRV2F27LBLTMONC";
const ECHO: &str = "MB7UJNCX5UXXKVS5CA5YNEN3M63G5E5LGO62VLOSGROGHZJDBPIXQ5XG";
const KVCOUNTER: &str = "MCU4A3H6GSTVPCRQ6ZJGNOD67ZULYMDKTGAJYGRIYM6UDU73EZTGV5AP";
const HTTP: &str = "VAQQ2O3GIXGBY63CC3LJQXD4EQZQ3JKLOQ4GVGNSNBHLVTCADDZCUPUN";
const REDIS: &str = "VBUJZDEGXDNCF32EPF3DHODZDOCIS2JHTLGMXGEDN73U55XTPLPFT7V4";
const ACCOUNT: &str = "ACTGEJOUJWCENVQ6YG6ICHMCGPYC7H74ZA7LWGK362CJB7YGIRZC235A";
const CLUSTER: &str = "CDV3OJLDM6QQYM6W6AH3GLE2NRPPGN4JHXWCLBTS7VJKB2TTW32NMPDM";

const ECHO_I1: &str = "2a2f2dcd-f0b1-401b-b1cd-df0594642394";
const ECHO_I2: &str = "e6ce51c9-e4ee-4180-8883-9d66ba9e74b9";
const ECHO_I3: &str = "12bd4ace-faec-4d38-9be4-bcfc49b64a08";
const KV_I1: &str = "2a3af4d4-6b0a-48e8-830e-07bc1e398f10";
const HTTP_I1: &str = "a93ac23e-4903-4b8e-832e-2bc94f3376e5";
const HTTP_I2: &str = "eeeacbe2-26e8-4555-9790-f82ec1d3fcff";
const OLD_I1: &str = "b965e582-bc9f-49fc-a120-fcd413f11ad7";
const OLD_I2: &str = "f8560219-4b16-4128-9311-16e5fababf31";
const OLD_P1: &str = "5267636a-25a8-48f2-b0be-970e03ef5bf8";

const ECHO_REF: &str = "wasmcloud.azurecr.io/echo:0.3.4";
const KV_REF: &str = "wasmcloud.azurecr.io/kvcounter:0.4.0";
const HTTP_REF: &str = "wasmcloud.azurecr.io/httpserver:0.17.0";
const HTTPSERVER: &str = "wasmcloud:httpserver";
const KEYVALUE: &str = "wasmcloud:keyvalue";

/// Full id → alias used in snapshots. Also applied to the 10-character short forms the event
/// log summaries use.
const ALIASES: &[(&str, &str)] = &[
    (HOST, "NB…HOST"),
    (OLD_HOST, "NC…OLDHOST"),
    (HOST2, "ND…HOST2"),
    (HOST3, "NA…HOST3"),
    (ECHO, "MB…ECHO"),
    (KVCOUNTER, "MC…KVCOUNTER"),
    (HTTP, "VA…HTTP"),
    (REDIS, "VB…REDIS"),
    (ACCOUNT, "AC…ACCOUNT"),
    (CLUSTER, "CD…CLUSTER"),
    (ECHO_I1, "echo#1"),
    (ECHO_I2, "echo#2"),
    (ECHO_I3, "echo#3"),
    (KV_I1, "kvcounter#1"),
    (HTTP_I1, "http#1"),
    (HTTP_I2, "http#2"),
    (OLD_I1, "old-echo#1"),
    (OLD_I2, "old-echo#2"),
    (OLD_P1, "old-http#1"),
];

/// Every fixture of assets/events/.
const FIXTURES: &[&str] = &[
    "host_started",
    "host_stopped",
    "host_heartbeat",
    "host_heartbeat_pre060",
    "actor_started",
    "actors_started",
    "actor_start_failed",
    "actors_start_failed",
    "actor_stopped",
    "actors_stopped",
    "actor_updated",
    "actor_update_failed",
    "provider_started",
    "provider_start_failed",
    "provider_stopped",
    "health_check_passed",
    "health_check_failed",
    "health_check_status",
    "linkdef_set",
    "linkdef_deleted",
    "refmap_set",
];

// ---------------------------------------------------------------------------------------------
// Time, events, fixtures

fn t0() -> Timestamp {
    DateTime::parse_from_rfc3339("2023-05-16T18:00:00Z")
        .expect("T0")
        .to_utc()
}

/// `T0 + secs`, to the microsecond.
fn t(secs: f64) -> Timestamp {
    t0() + Duration::microseconds((secs * 1e6).round() as i64)
}

fn fixture_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/events")
        .join(rel)
}

fn fixture(name: &str) -> LatticeEvent {
    let bytes = std::fs::read(fixture_path(&format!("{name}.json"))).expect(name);
    LatticeEvent::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The fixture's own time plus 20 ms: when a console would receive it.
fn received(ev: &LatticeEvent) -> Timestamp {
    ev.time.expect("fixtures carry a time") + Duration::milliseconds(20)
}

fn empty() -> Lattice {
    Lattice::new("default", ModelConfig::default())
}

/// A CloudEvent as a host would publish it, decoded by the real codec.
fn event(id: &str, kind: EventKind, source: &str, time: f64, data: Value) -> LatticeEvent {
    let envelope = json!({
        "specversion": "1.0",
        "id": id,
        "type": kind.cloudevent_type(),
        "source": source,
        "time": t(time).to_rfc3339_opts(SecondsFormat::Micros, true),
        "datacontenttype": "application/json",
        "data": data,
    });
    let bytes = serde_json::to_vec(&envelope).expect("json");
    LatticeEvent::from_json(&bytes).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

fn labels() -> Value {
    json!({"hostcore.arch": "x86_64", "hostcore.os": "linux", "hostcore.osfamily": "unix"})
}

fn host_started(name: &str) -> Value {
    json!({"labels": labels(), "friendly_name": name, "uptime_seconds": 0, "version": "0.63.2"})
}

/// 0.60+ heartbeat: `actors` maps public key → count; providers are (key, link, contract).
fn heartbeat(
    name: &str,
    uptime: u64,
    actors: &[(&str, u64)],
    providers: &[(&str, &str, &str)],
) -> Value {
    let actors: serde_json::Map<String, Value> = actors
        .iter()
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    let providers: Vec<Value> = providers
        .iter()
        .map(|(pk, link, contract)| json!({"public_key": pk, "link_name": link, "contract_id": contract}))
        .collect();
    json!({
        "actors": actors, "providers": providers, "labels": labels(), "friendly_name": name,
        "version": "0.63.2", "uptime_seconds": uptime, "uptime_human": format!("{uptime} seconds"),
    })
}

fn actor_claims(name: &str, version: &str, revision: i64, caps: &[&str]) -> Value {
    json!({
        "call_alias": null, "caps": caps, "issuer": ACCOUNT, "tags": [], "name": name,
        "version": version, "revision": revision,
        "not_before_human": "immediately", "expires_human": "never",
    })
}

fn echo_started(instance: &str) -> Value {
    json!({
        "public_key": ECHO, "image_ref": ECHO_REF, "api_version": "n/a", "instance_id": instance,
        "annotations": {}, "claims": actor_claims("echo", "0.3.4", 4, &[HTTPSERVER]),
    })
}

fn actor_stopped(pk: &str, instance: &str) -> Value {
    json!({"public_key": pk, "instance_id": instance, "annotations": {}})
}

fn http_started(instance: &str) -> Value {
    json!({
        "public_key": HTTP, "image_ref": HTTP_REF, "link_name": "default",
        "contract_id": HTTPSERVER, "instance_id": instance, "annotations": {},
        "claims": {"issuer": ACCOUNT, "tags": null, "name": "HTTP Server", "version": "0.17.0",
                   "not_before_human": "immediately", "expires_human": "never"},
    })
}

fn health(pk: &str, contract: &str) -> Value {
    json!({"public_key": pk, "contract_id": contract, "link_name": "default"})
}

fn link(actor: &str, provider: &str, contract: &str, name: &str, values: Value) -> Value {
    json!({
        "id": linkdef_hash(actor, contract, name), "actor_id": actor, "provider_id": provider,
        "link_name": name, "contract_id": contract, "values": values,
    })
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn ts(t: Timestamp) -> String {
    let us = (t - t0()).num_microseconds().expect("in range");
    if us.unsigned_abs() > 86_400_000_000 {
        // Not part of the scenario's timeline (the 1.x event of 2024): absolute.
        return t.to_rfc3339_opts(SecondsFormat::Micros, true);
    }
    let sign = if us < 0 { "-" } else { "+" };
    let us = us.unsigned_abs();
    let (s, frac) = (us / 1_000_000, us % 1_000_000);
    if frac == 0 {
        format!("{sign}{s}s")
    } else {
        let frac = format!("{frac:06}");
        format!("{sign}{s}.{}s", frac.trim_end_matches('0'))
    }
}

fn opt_ts(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_string(), ts)
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

fn map<'a>(m: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let parts: Vec<String> = m.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The model state without the event log and counters.
fn render_state(m: &Lattice) -> String {
    let mut o = String::new();
    if m.hosts.is_empty() {
        o.push_str("no hosts\n");
    }
    for h in m.hosts.values() {
        writeln!(
            o,
            "host {} \"{}\" {} version {} uptime {} at {}",
            h.id,
            h.friendly_name,
            h.status.as_str(),
            opt(&h.version),
            opt(&h.uptime_seconds),
            opt_ts(h.uptime_at),
        )
        .expect("write");
        writeln!(
            o,
            "  seen first {} last {}, last heartbeat {}, issuer {}",
            ts(h.first_seen),
            ts(h.last_seen),
            opt_ts(h.last_heartbeat),
            opt(&h.issuer),
        )
        .expect("write");
        writeln!(o, "  labels {}", map(&h.labels)).expect("write");
        for a in h.actors.values() {
            writeln!(
                o,
                "  actor {} name {} ref {} count {} ({} named + {} unidentified) rev {} {}",
                a.id,
                opt(&a.name),
                opt(&a.image_ref),
                a.count(),
                a.instances.len(),
                a.unidentified,
                a.revision,
                a.status.as_str(),
            )
            .expect("write");
            if let Some(f) = &a.last_failure {
                writeln!(o, "    failure {} at {}: {}", f.kind, ts(f.at), f.reason).expect("write");
            }
            if let Some(u) = a.last_update {
                writeln!(o, "    updated at {}", ts(u)).expect("write");
            }
            for (id, i) in &a.instances {
                writeln!(
                    o,
                    "    instance {id} rev {} annotations {}",
                    i.revision,
                    map(&i.annotations)
                )
                .expect("write");
            }
        }
        for p in h.providers.values() {
            writeln!(
                o,
                "  provider {} link {} contract {} name {} ref {} instance {} {} since {}",
                p.public_key,
                p.link_name,
                if p.contract_id.is_empty() {
                    "-"
                } else {
                    &p.contract_id
                },
                opt(&p.name),
                opt(&p.image_ref),
                opt(&p.instance_id),
                p.health.as_str(),
                opt_ts(p.health_at),
            )
            .expect("write");
            if !p.annotations.is_empty() {
                writeln!(o, "    annotations {}", map(&p.annotations)).expect("write");
            }
            if let Some(f) = &p.last_failure {
                writeln!(o, "    failure {} at {}: {}", f.kind, ts(f.at), f.reason).expect("write");
            }
        }
    }
    for (id, l) in &m.links {
        writeln!(
            o,
            "link {}… {} -> {} contract {} link {} values {}",
            &id[..12],
            l.actor_id,
            l.provider_id,
            l.contract_id,
            l.link_name,
            map(&l.values)
        )
        .expect("write");
    }
    for (sub, c) in &m.claims {
        let rest: Vec<String> = c
            .iter()
            .filter(|(k, _)| *k != "sub")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        writeln!(o, "claims {sub}: {}", rest.join(" ")).expect("write");
    }
    for (oci, pk) in &m.refmaps {
        writeln!(o, "refmap {oci} -> {pk}").expect("write");
    }
    alias(o)
}

/// The whole model: state, counters, connection and event log.
fn render(m: &Lattice) -> String {
    let mut o = String::new();
    writeln!(
        o,
        "lattice {}: {} hosts, {} actor instances, {} providers, {} links",
        m.lattice,
        m.hosts.len(),
        m.actor_instances(),
        m.provider_count(),
        m.links.len()
    )
    .expect("write");
    let s = &m.stats;
    writeln!(
        o,
        "stats changed {} unchanged {} unknown {} malformed {}",
        s.changed, s.unchanged, s.unknown, s.malformed
    )
    .expect("write");
    let c = &m.connection;
    writeln!(
        o,
        "connection resyncs {} last {} error {}",
        c.resyncs,
        opt_ts(c.last_resync),
        opt(&c.last_error)
    )
    .expect("write");
    o.push_str(&render_state(m));
    writeln!(
        o,
        "log ({} entries, {} total)",
        m.events.entries.len(),
        m.events.total
    )
    .expect("write");
    for e in &m.events.entries {
        writeln!(
            o,
            "  #{} recv {} time {} {:?} {}{} from {} id {}: {}",
            e.seq,
            ts(e.received),
            opt_ts(e.time()),
            e.level,
            e.kind(),
            e.ty().map(|t| format!(" ({t})")).unwrap_or_default(),
            if e.source().is_empty() {
                "-"
            } else {
                e.source()
            },
            if e.id().is_empty() {
                "-"
            } else {
                e.id().get(..8).unwrap_or(e.id())
            },
            e.summary(Some(m))
        )
        .expect("write");
    }
    alias(o)
}

fn alias(mut s: String) -> String {
    for (full, short) in ALIASES {
        s = s.replace(full, short);
    }
    for (full, short) in ALIASES {
        s = s.replace(&full[..10], short);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Applying with a check

/// What the console shows of the model, as JSON (the model's own serialisation), without the
/// log, the counters and the two times that only confirm what is known: `last_seen` (moved by
/// every event from a host) and a provider's `health_at` (moved by `health_check_status`).
fn visible(m: &Lattice) -> Value {
    let mut hosts = m.hosts.clone();
    for h in hosts.values_mut() {
        h.last_seen = t0();
        for p in h.providers.values_mut() {
            p.health_at = None;
        }
    }
    json!({
        "hosts": hosts, "links": m.links, "claims": m.claims, "refmaps": m.refmaps,
        "connection": m.connection,
    })
}

/// `apply`, checking that an event not reported as `Changed` changed nothing visible.
fn checked_apply(m: &mut Lattice, ev: &LatticeEvent, now: Timestamp) -> Applied {
    let before = visible(m);
    let applied = apply(m, ev, now);
    if applied != Applied::Changed {
        let after = visible(m);
        assert_eq!(
            after,
            before,
            "{} from {} reported {applied:?} but changed the model",
            ev.kind(),
            ev.source
        );
    }
    applied
}

// ---------------------------------------------------------------------------------------------
// Scenario driver

/// A model plus a transcript: each `send` records what `apply` returned, `snap` appends the
/// state after a step, `finish` the whole model.
struct Sim {
    m: Lattice,
    seq: u32,
    pending: Vec<String>,
    out: String,
}

impl Sim {
    fn new() -> Self {
        Self {
            m: empty(),
            seq: 0,
            pending: Vec::new(),
            out: String::new(),
        }
    }

    fn next_id(&mut self) -> String {
        self.seq += 1;
        format!("{:08x}-7e57-4000-8000-{:012x}", self.seq, self.seq)
    }

    /// `kind` from `source` stamped `time` (seconds after T0) by the host, received 20 ms later.
    fn send(&mut self, kind: EventKind, source: &str, time: f64, data: Value) -> Applied {
        self.send_at(kind, source, time, time + 0.02, data)
    }

    /// As `send`, received at `now` seconds after T0.
    fn send_at(
        &mut self,
        kind: EventKind,
        source: &str,
        time: f64,
        now: f64,
        data: Value,
    ) -> Applied {
        let id = self.next_id();
        let ev = event(&id, kind, source, time, data);
        self.apply(&ev, t(now))
    }

    fn apply(&mut self, ev: &LatticeEvent, now: Timestamp) -> Applied {
        let applied = checked_apply(&mut self.m, ev, now);
        self.pending.push(alias(format!(
            "{} from {} time {} recv {} -> {:?}",
            ev.kind(),
            ev.source,
            opt_ts(ev.time),
            ts(now),
            applied
        )));
        applied
    }

    fn tick(&mut self, now: f64) -> bool {
        let changed = tick(&mut self.m, t(now));
        self.pending
            .push(format!("tick at {} -> {changed}", ts(t(now))));
        changed
    }

    fn snap(&mut self, title: &str) {
        writeln!(self.out, "=== {title}").expect("write");
        for p in self.pending.drain(..) {
            writeln!(self.out, "> {p}").expect("write");
        }
        self.out.push_str(&render_state(&self.m));
    }

    fn finish(mut self) -> String {
        writeln!(self.out, "=== final model").expect("write");
        for p in self.pending.drain(..) {
            writeln!(self.out, "> {p}").expect("write");
        }
        self.out.push_str(&render(&self.m));
        self.out
    }

    fn host(&self, id: &str) -> &lattice_tui::state::HostState {
        self.m
            .hosts
            .get(id)
            .unwrap_or_else(|| panic!("no host {id}"))
    }

    fn count(&self, host: &str, actor: &str) -> u64 {
        self.m
            .hosts
            .get(host)
            .and_then(|h| h.actors.get(actor))
            .map_or(0, |a| a.count())
    }
}

// ---------------------------------------------------------------------------------------------
// One snapshot per fixture, applied to an empty model

fn fixture_snapshot(name: &str) -> String {
    let ev = fixture(name);
    let mut m = empty();
    let applied = checked_apply(&mut m, &ev, received(&ev));
    format!(
        "{} applied to an empty model -> {:?}\n{}",
        name,
        applied,
        render(&m)
    )
}

macro_rules! fixture_snapshots {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(fixture_snapshot(stringify!($name)));
            }
        )*

        #[test]
        fn every_fixture_has_a_snapshot_test() {
            let tested = [$(stringify!($name)),*];
            assert_eq!(tested.as_slice(), FIXTURES);
        }
    };
}

mod fixture {
    use super::*;

    fixture_snapshots!(
        host_started,
        host_stopped,
        host_heartbeat,
        host_heartbeat_pre060,
        actor_started,
        actors_started,
        actor_start_failed,
        actors_start_failed,
        actor_stopped,
        actors_stopped,
        actor_updated,
        actor_update_failed,
        provider_started,
        provider_start_failed,
        provider_stopped,
        health_check_passed,
        health_check_failed,
        health_check_status,
        linkdef_set,
        linkdef_deleted,
        refmap_set,
    );
}

// ---------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn scenario_host_joins_and_heartbeats() {
    let mut s = Sim::new();
    assert_eq!(
        s.send(
            EventKind::HostStarted,
            HOST,
            0.1,
            host_started("silent-breeze-1234")
        ),
        Applied::Changed
    );
    s.snap("host_started");
    assert_eq!(s.host(HOST).status, HostStatus::Live);
    assert_eq!(s.host(HOST).last_heartbeat, None);

    s.send(
        EventKind::HostHeartbeat,
        HOST,
        30.1,
        heartbeat("silent-breeze-1234", 30, &[], &[]),
    );
    s.snap("first heartbeat, nothing running");
    assert_eq!(s.host(HOST).last_heartbeat, Some(t(30.12)));

    s.send(
        EventKind::HostHeartbeat,
        HOST,
        60.1,
        heartbeat(
            "silent-breeze-1234",
            60,
            &[(ECHO, 1)],
            &[(HTTP, "default", HTTPSERVER)],
        ),
    );
    s.snap("second heartbeat: echo ×1 and the HTTP server, started while we were not looking");
    let h = s.host(HOST);
    assert_eq!(h.uptime_seconds, Some(60));
    assert_eq!(h.uptime_at(t(90.12)), Some(90), "uptime extrapolates");
    assert_eq!(s.count(HOST, ECHO), 1);
    assert_eq!(
        h.providers[&provider_key(HTTP, "default")].health,
        ProviderHealth::Awaiting
    );
    insta::assert_snapshot!(s.finish());
}

#[test]
fn scenario_actors_scale_up_and_down() {
    let mut s = Sim::new();
    s.send(
        EventKind::HostStarted,
        HOST,
        0.1,
        host_started("silent-breeze-1234"),
    );
    for (i, id) in [ECHO_I1, ECHO_I2, ECHO_I3].into_iter().enumerate() {
        s.send(
            EventKind::ActorStarted,
            HOST,
            5.0 + i as f64 * 0.001,
            echo_started(id),
        );
    }
    s.send(
        EventKind::ActorsStarted,
        HOST,
        5.003,
        json!({"public_key": ECHO, "image_ref": ECHO_REF, "annotations": {}, "host_id": HOST,
               "claims": actor_claims("echo", "0.3.4", 4, &[HTTPSERVER]), "count": 3}),
    );
    assert_eq!(s.count(HOST, ECHO), 3);
    s.snap("scaled to 3: three actor_started, then actors_started");

    s.send(
        EventKind::HostHeartbeat,
        HOST,
        30.1,
        heartbeat("silent-breeze-1234", 30, &[(ECHO, 3)], &[]),
    );
    assert_eq!(s.count(HOST, ECHO), 3);
    assert_eq!(
        s.host(HOST).actors[ECHO].unidentified,
        0,
        "all three are known by id"
    );
    s.snap("heartbeat agrees: 3");

    s.send(
        EventKind::ActorStopped,
        HOST,
        40.0,
        actor_stopped(ECHO, ECHO_I1),
    );
    s.send(
        EventKind::ActorStopped,
        HOST,
        40.001,
        actor_stopped(ECHO, ECHO_I3),
    );
    s.send(
        EventKind::ActorsStopped,
        HOST,
        40.002,
        json!({"host_id": HOST, "public_key": ECHO, "count": 2, "remaining": 1, "annotations": {}}),
    );
    assert_eq!(s.count(HOST, ECHO), 1);
    assert!(s.host(HOST).actors[ECHO].instances.contains_key(ECHO_I2));
    s.snap("scaled to 1: two actor_stopped, then actors_stopped");

    s.send(
        EventKind::HostHeartbeat,
        HOST,
        60.1,
        heartbeat("silent-breeze-1234", 60, &[(ECHO, 1)], &[]),
    );
    assert_eq!(s.count(HOST, ECHO), 1);
    s.snap("heartbeat agrees: 1");

    s.send(
        EventKind::ActorStopped,
        HOST,
        70.0,
        actor_stopped(ECHO, ECHO_I2),
    );
    assert!(
        !s.host(HOST).actors.contains_key(ECHO),
        "no instance left, no actor row"
    );
    s.send(
        EventKind::HostHeartbeat,
        HOST,
        90.1,
        heartbeat("silent-breeze-1234", 90, &[], &[]),
    );
    assert_eq!(s.m.actor_instances(), 0);
    insta::assert_snapshot!(s.finish());
}

#[test]
fn scenario_provider_health_flaps() {
    let mut s = Sim::new();
    s.send(
        EventKind::HostStarted,
        HOST,
        0.1,
        host_started("silent-breeze-1234"),
    );
    s.send(EventKind::ProviderStarted, HOST, 2.0, http_started(HTTP_I1));
    let key = provider_key(HTTP, "default");
    assert_eq!(
        s.host(HOST).providers[&key].health,
        ProviderHealth::Awaiting
    );
    s.snap("provider_started: awaiting its first health check");

    let steps = [
        (
            EventKind::HealthCheckPassed,
            7.0,
            ProviderHealth::Healthy,
            Applied::Changed,
        ),
        (
            EventKind::HealthCheckFailed,
            37.0,
            ProviderHealth::Unhealthy,
            Applied::Changed,
        ),
        (
            EventKind::HealthCheckPassed,
            67.0,
            ProviderHealth::Healthy,
            Applied::Changed,
        ),
        // "Every check with no change": confirms, does not change.
        (
            EventKind::HealthCheckStatus,
            97.0,
            ProviderHealth::Healthy,
            Applied::Unchanged,
        ),
    ];
    for (kind, time, want, applied) in steps {
        assert_eq!(
            s.send(kind, HOST, time, health(HTTP, HTTPSERVER)),
            applied,
            "{kind}"
        );
        let p = &s.host(HOST).providers[&key];
        assert_eq!(p.health, want, "{kind} at {time}");
        assert_eq!(p.health_at, Some(t(time + 0.02)));
        s.snap(&format!("{kind} at +{time}s"));
    }
    // A heartbeat lists the provider: health is not reset by it.
    s.send(
        EventKind::HostHeartbeat,
        HOST,
        120.1,
        heartbeat(
            "silent-breeze-1234",
            120,
            &[],
            &[(HTTP, "default", HTTPSERVER)],
        ),
    );
    assert_eq!(s.host(HOST).providers[&key].health, ProviderHealth::Healthy);
    insta::assert_snapshot!(s.finish());
}

#[test]
fn scenario_links_set_and_deleted() {
    let mut s = Sim::new();
    let http_link = link(ECHO, HTTP, HTTPSERVER, "default", json!({"PORT": "8080"}));
    let kv_link = link(
        KVCOUNTER,
        REDIS,
        KEYVALUE,
        "default",
        json!({"URL": "redis://127.0.0.1:6379/"}),
    );
    assert_eq!(
        s.send(EventKind::LinkdefSet, "n/a", 10.0, http_link.clone()),
        Applied::Changed
    );
    assert_eq!(
        s.send(EventKind::LinkdefSet, "n/a", 11.0, kv_link.clone()),
        Applied::Changed
    );
    assert_eq!(s.m.links.len(), 2);
    assert!(s.m.hosts.is_empty(), "link events are not from a host");
    s.snap("two links set");

    let changed = link(ECHO, HTTP, HTTPSERVER, "default", json!({"PORT": "9090"}));
    assert_eq!(
        s.send(EventKind::LinkdefSet, "n/a", 20.0, changed),
        Applied::Changed
    );
    let id = linkdef_hash(ECHO, HTTPSERVER, "default");
    assert_eq!(s.m.links[&id].values["PORT"], "9090");
    assert_eq!(
        s.m.links.len(),
        2,
        "same (actor, contract, link name): replaced, not added"
    );
    s.snap("echo link put again with PORT=9090");

    assert_eq!(
        s.send(EventKind::LinkdefDeleted, "n/a", 30.0, http_link.clone()),
        Applied::Changed
    );
    assert_eq!(
        s.send(EventKind::LinkdefDeleted, "n/a", 31.0, http_link),
        Applied::Unchanged
    );
    // A delete without an `id` is matched by its computed hash.
    let mut no_id = kv_link;
    no_id["id"] = json!("");
    assert_eq!(
        s.send(EventKind::LinkdefDeleted, "n/a", 32.0, no_id),
        Applied::Changed
    );
    assert!(s.m.links.is_empty());
    insta::assert_snapshot!(s.finish());
}

#[test]
fn scenario_same_linkdef_from_three_hosts() {
    // Every host replaying the KV bucket publishes the same `linkdef_set` (PROTOCOL.md §5); a
    // ≤0.59 host stamps it with its own key, a 0.60+ host with `n/a`.
    let mut s = Sim::new();
    let l = link(ECHO, HTTP, HTTPSERVER, "default", json!({"PORT": "8080"}));
    let results = [
        s.send(EventKind::LinkdefSet, HOST, 12.0, l.clone()),
        s.send(EventKind::LinkdefSet, HOST2, 12.004, l.clone()),
        s.send(EventKind::LinkdefSet, "n/a", 12.011, l),
    ];
    assert_eq!(
        results,
        [Applied::Changed, Applied::Unchanged, Applied::Unchanged]
    );
    assert_eq!(s.m.links.len(), 1);
    assert_eq!(
        s.m.events.entries.len(),
        3,
        "each publication is still logged"
    );
    assert_eq!((s.m.stats.changed, s.m.stats.unchanged), (1, 2));
    insta::assert_snapshot!(s.finish());
}

#[test]
fn scenario_host_goes_silent() {
    let mut s = Sim::new();
    s.send_at(
        EventKind::HostStarted,
        HOST,
        0.0,
        0.0,
        host_started("silent-breeze-1234"),
    );
    s.send_at(
        EventKind::HostHeartbeat,
        HOST,
        30.0,
        30.0,
        heartbeat("silent-breeze-1234", 30, &[(ECHO, 1)], &[]),
    );
    s.snap("last heard of at +30s");

    // Thresholds: stale after more than 3 × 30 s of silence, lost after more than 10 × 30 s.
    let steps = [
        (90.0, HostStatus::Live, false),   // 60 s
        (120.0, HostStatus::Live, false),  // 90 s: not more than 3 intervals
        (130.0, HostStatus::Stale, true),  // 100 s
        (330.0, HostStatus::Stale, false), // 300 s: not more than 10 intervals
        (331.0, HostStatus::Lost, true),   // 301 s
    ];
    for (now, want, changed) in steps {
        assert_eq!(s.tick(now), changed, "tick at +{now}s");
        assert_eq!(s.host(HOST).status, want, "at +{now}s");
        s.snap(&format!("tick {}s after the last heartbeat", now - 30.0));
    }
    assert_eq!(
        s.count(HOST, ECHO),
        1,
        "a lost host keeps its last inventory (a ghost)"
    );

    s.send_at(
        EventKind::HostHeartbeat,
        HOST,
        335.0,
        335.0,
        heartbeat("silent-breeze-1234", 335, &[(ECHO, 1)], &[]),
    );
    assert_eq!(s.host(HOST).status, HostStatus::Live, "heard of again");
    assert!(!s.tick(340.0));
    insta::assert_snapshot!(s.finish());
}

#[test]
fn scenario_host_stopped_and_a_late_heartbeat() {
    let mut s = Sim::new();
    s.send(
        EventKind::HostStarted,
        HOST,
        0.1,
        host_started("silent-breeze-1234"),
    );
    s.send(
        EventKind::HostStarted,
        HOST2,
        1.0,
        host_started("quiet-river-5678"),
    );
    s.send(
        EventKind::HostHeartbeat,
        HOST,
        30.1,
        heartbeat("silent-breeze-1234", 30, &[(ECHO, 1)], &[]),
    );
    assert_eq!(
        s.send(
            EventKind::HostStopped,
            HOST,
            40.0,
            json!({"labels": labels()})
        ),
        Applied::Changed
    );
    assert!(!s.m.hosts.contains_key(HOST));
    s.snap("host_stopped removes the host, the other stays");

    // Sent at +35 s, before the stop, delivered after it.
    let late = s.send_at(
        EventKind::HostHeartbeat,
        HOST,
        35.0,
        41.0,
        heartbeat("silent-breeze-1234", 35, &[(ECHO, 1)], &[]),
    );
    assert_eq!(late, Applied::Unchanged);
    assert!(
        !s.m.hosts.contains_key(HOST),
        "a heartbeat from before the stop is no ghost"
    );
    // Instance events from before the stop do not bring it back either.
    s.send_at(
        EventKind::ActorStarted,
        HOST,
        39.0,
        41.5,
        echo_started(ECHO_I2),
    );
    assert!(!s.m.hosts.contains_key(HOST));
    s.snap("late heartbeat and actor_started from before the stop: ignored");

    // The host process restarts: a newer event is a new life.
    s.send(
        EventKind::HostStarted,
        HOST,
        100.0,
        host_started("silent-breeze-1234"),
    );
    assert!(s.m.hosts.contains_key(HOST));
    assert_eq!(s.host(HOST).actors.len(), 0);
    insta::assert_snapshot!(s.finish());
}

#[test]
fn scenario_pre060_heartbeat() {
    let mut s = Sim::new();
    let hb = fixture("host_heartbeat_pre060");
    let hb_time = hb.time.expect("time");
    assert_eq!(s.apply(&hb, received(&hb)), Applied::Changed);
    let a = &s.host(OLD_HOST).actors[ECHO];
    assert_eq!(a.count(), 2);
    assert_eq!(a.unidentified, 0, "a ≤0.59 heartbeat names every instance");
    assert!(a.instances.contains_key(OLD_I1) && a.instances.contains_key(OLD_I2));
    assert_eq!(
        s.host(OLD_HOST).providers[&provider_key(HTTP, "default")]
            .instance_id
            .as_deref(),
        Some(OLD_P1)
    );
    s.snap("≤0.59 heartbeat: instances and provider by id");

    // ≤0.59 actor_stopped has no annotations.
    let secs = |t: Timestamp| (t - t0()).num_microseconds().expect("us") as f64 / 1e6;
    s.send(
        EventKind::ActorStopped,
        OLD_HOST,
        secs(hb_time) + 10.0,
        json!({"public_key": ECHO, "instance_id": OLD_I1}),
    );
    assert_eq!(s.count(OLD_HOST, ECHO), 1);
    s.snap("actor_stopped (≤0.59 shape) for one of them");

    s.send(
        EventKind::HostHeartbeat,
        OLD_HOST,
        secs(hb_time) + 30.0,
        json!({"actors": [{"public_key": ECHO, "instance_id": OLD_I2}],
               "providers": [{"public_key": HTTP, "link_name": "default",
                              "contract_id": HTTPSERVER, "instance_id": OLD_P1}],
               "labels": {"hostcore.os": "linux"}, "friendly_name": "old-meadow-0059",
               "version": "0.59.0", "uptime_seconds": 60, "uptime_human": "1 minute"}),
    );
    assert_eq!(s.count(OLD_HOST, ECHO), 1);
    assert!(s.host(OLD_HOST).actors[ECHO].instances.contains_key(OLD_I2));
    insta::assert_snapshot!(s.finish());
}

#[test]
fn scenario_malformed_and_unknown_input() {
    let mut s = Sim::new();
    s.send(
        EventKind::HostStarted,
        HOST,
        0.1,
        host_started("silent-breeze-1234"),
    );
    let names = [
        "not_json",
        "not_a_cloudevent",
        "missing_id",
        "truncated",
        "wrong_type_public_key",
        "wrong_type_heartbeat_actors",
    ];
    for (i, name) in names.iter().enumerate() {
        let bytes = std::fs::read(fixture_path(&format!("malformed/{name}.json"))).expect(name);
        let err = LatticeEvent::from_json(&bytes).expect_err(name);
        record_malformed(&mut s.m, &err, t(10.0 + i as f64));
    }
    let bytes = std::fs::read(fixture_path("malformed/unknown_type_component_scaled.json"))
        .expect("unknown");
    let unknown = LatticeEvent::from_json(&bytes).expect("decodes");
    let before = render_state(&s.m);
    assert_eq!(s.apply(&unknown, t(20.0)), Applied::Ignored);
    assert_eq!(
        render_state(&s.m),
        before,
        "an unknown event changes no state"
    );
    assert_eq!(s.m.stats.malformed, 6);
    assert_eq!(s.m.stats.unknown, 1);
    assert_eq!(
        s.m.events.entries.len(),
        1 + 6 + 1,
        "all of it is in the log"
    );
    // Still a working model afterwards.
    s.send(
        EventKind::HostHeartbeat,
        HOST,
        30.1,
        heartbeat("silent-breeze-1234", 30, &[(ECHO, 1)], &[]),
    );
    assert_eq!(s.count(HOST, ECHO), 1);
    insta::assert_snapshot!(s.finish());
}

fn inventory_instance(id: &str, revision: i64) -> ActorInstance {
    ActorInstance {
        instance_id: id.to_string(),
        annotations: Some([("app".to_string(), "demo".to_string())].into()),
        revision,
        max_concurrent: 1,
    }
}

fn ping_reply(id: &str, name: &str, uptime: u64) -> Host {
    Host {
        id: id.to_string(),
        issuer: Some(CLUSTER.to_string()),
        labels: [("hostcore.os".to_string(), "linux".to_string())].into(),
        friendly_name: name.to_string(),
        uptime_seconds: uptime,
        uptime_human: None,
        version: Some("0.63.2".to_string()),
        cluster_issuers: Some(CLUSTER.to_string()),
        js_domain: None,
        ctl_host: None,
        prov_rpc_host: None,
        rpc_host: None,
        lattice_prefix: Some("default".to_string()),
    }
}

fn claims(entries: &[(&str, &str)]) -> ClaimsMap {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn scenario_resync_replaces_stale_state() {
    let mut s = Sim::new();
    // What the console believed: HOST runs echo ×2 and a healthy HTTP server and had a failed
    // start; HOST2 went silent long ago; a link and claims from before.
    s.send(
        EventKind::HostStarted,
        HOST,
        0.1,
        host_started("silent-breeze-1234"),
    );
    s.send(
        EventKind::HostStarted,
        HOST2,
        0.5,
        host_started("quiet-river-5678"),
    );
    s.send(EventKind::ActorStarted, HOST, 1.0, echo_started(ECHO_I1));
    s.send(EventKind::ActorStarted, HOST, 1.001, echo_started(ECHO_I2));
    s.send(EventKind::ProviderStarted, HOST, 2.0, http_started(HTTP_I1));
    s.send(
        EventKind::HealthCheckPassed,
        HOST,
        7.0,
        health(HTTP, HTTPSERVER),
    );
    s.send(
        EventKind::ActorStartFailed,
        HOST,
        8.0,
        json!({"actor_ref": "wasmcloud.azurecr.io/nope:1.0", "error": "{:error, \"failed to fetch\"}"}),
    );
    s.send(
        EventKind::LinkdefSet,
        "n/a",
        9.0,
        link(ECHO, HTTP, HTTPSERVER, "old", json!({})),
    );
    s.send(
        EventKind::RefmapSet,
        HOST,
        9.5,
        json!({"oci_url": ECHO_REF, "public_key": ECHO}),
    );
    assert!(s.tick(400.0));
    s.snap("before: what the console believed at +400s");

    let snap = LatticeSnapshot {
        hosts: vec![
            ping_reply(HOST, "silent-breeze-1234", 400),
            ping_reply(HOST3, "new-dawn-9012", 12),
        ],
        inventories: vec![
            HostInventory {
                host_id: HOST.to_string(),
                issuer: Some(CLUSTER.to_string()),
                friendly_name: "silent-breeze-1234".to_string(),
                labels: [("hostcore.os".to_string(), "linux".to_string())].into(),
                actors: vec![ActorDescription {
                    id: ECHO.to_string(),
                    image_ref: Some("wasmcloud.azurecr.io/echo:0.3.5".to_string()),
                    name: Some("echo".to_string()),
                    instances: vec![inventory_instance(ECHO_I3, 5)],
                }],
                providers: vec![ProviderDescription {
                    id: HTTP.to_string(),
                    image_ref: Some(HTTP_REF.to_string()),
                    contract_id: HTTPSERVER.to_string(),
                    link_name: "default".to_string(),
                    name: Some("HTTP Server".to_string()),
                    instance_id: HTTP_I1.to_string(),
                    annotations: Some(Default::default()),
                    revision: 0,
                }],
            },
            HostInventory {
                host_id: HOST3.to_string(),
                issuer: Some(CLUSTER.to_string()),
                friendly_name: "new-dawn-9012".to_string(),
                labels: Default::default(),
                actors: vec![ActorDescription {
                    id: KVCOUNTER.to_string(),
                    image_ref: Some(KV_REF.to_string()),
                    name: Some("kvcounter".to_string()),
                    instances: vec![inventory_instance(KV_I1, 2)],
                }],
                providers: vec![],
            },
        ],
        links: Some(vec![LinkDefinition {
            id: String::new(),
            actor_id: KVCOUNTER.to_string(),
            provider_id: REDIS.to_string(),
            link_name: "default".to_string(),
            contract_id: KEYVALUE.to_string(),
            values: [("URL".to_string(), "redis://127.0.0.1:6379/".to_string())].into(),
        }]),
        claims: Some(vec![
            claims(&[
                ("sub", ECHO),
                ("iss", ACCOUNT),
                ("name", "echo"),
                ("call_alias", ""),
                ("caps", "wasmcloud:httpserver"),
                ("rev", "5"),
                ("tags", ""),
                ("version", "0.3.5"),
                ("contract_id", ""),
            ]),
            claims(&[
                ("sub", KVCOUNTER),
                ("iss", ACCOUNT),
                ("name", "kvcounter"),
                ("call_alias", ""),
                ("caps", "wasmcloud:keyvalue,wasmcloud:httpserver"),
                ("rev", "2"),
                ("tags", ""),
                ("version", "0.4.0"),
                ("contract_id", ""),
            ]),
        ]),
        errors: vec![],
    };
    apply_resync(&mut s.m, &snap, t(401.0));
    let h = s.host(HOST);
    assert_eq!(h.status, HostStatus::Live);
    assert_eq!(h.issuer.as_deref(), Some(CLUSTER));
    assert_eq!(s.count(HOST, ECHO), 1);
    assert!(h.actors[ECHO].instances.contains_key(ECHO_I3));
    assert_eq!(h.actors[ECHO].revision, 5);
    assert_eq!(
        h.actors["wasmcloud.azurecr.io/nope:1.0"].status,
        ActorStatus::StartFailed,
        "failed starts are not in an inventory and stay visible"
    );
    assert_eq!(
        h.providers[&provider_key(HTTP, "default")].health,
        ProviderHealth::Healthy,
        "health is not in an inventory and is kept"
    );
    assert!(
        !s.m.hosts.contains_key(HOST2),
        "did not answer the ping: dropped"
    );
    assert_eq!(s.count(HOST3, KVCOUNTER), 1);
    assert_eq!(
        s.m.links.keys().collect::<Vec<_>>(),
        [&linkdef_hash(KVCOUNTER, KEYVALUE, "default")]
    );
    assert_eq!(s.m.claims.len(), 2);
    assert_eq!(s.m.refmaps.len(), 1, "refmaps are not part of a resync");
    s.snap("after a full resync at +401s");

    // A partial answer: nobody answered get.links / get.claims; what is known is kept.
    let partial = LatticeSnapshot {
        hosts: vec![
            ping_reply(HOST, "silent-breeze-1234", 460),
            ping_reply(HOST3, "new-dawn-9012", 72),
        ],
        inventories: vec![],
        links: None,
        claims: None,
        errors: vec![
            "get.links: no responders".to_string(),
            "get.claims: timed out".to_string(),
        ],
    };
    apply_resync(&mut s.m, &partial, t(461.0));
    assert_eq!(s.m.links.len(), 1);
    assert_eq!(s.m.claims.len(), 2);
    assert_eq!(s.count(HOST, ECHO), 1, "no inventory: keep the one we have");
    assert_eq!(s.m.connection.resyncs, 2);
    assert_eq!(
        s.m.connection.last_error.as_deref(),
        Some("get.links: no responders; get.claims: timed out")
    );
    insta::assert_snapshot!(s.finish());
}

// ---------------------------------------------------------------------------------------------
// Properties

#[test]
fn every_fixture_applied_twice_equals_once() {
    for name in FIXTURES {
        let ev = fixture(name);
        let mut once = empty();
        apply(&mut once, &ev, received(&ev));
        let mut twice = once.clone();
        assert_eq!(
            apply(&mut twice, &ev, received(&ev) + Duration::seconds(1)),
            Applied::Duplicate,
            "{name}"
        );
        assert_eq!(twice, once, "{name}");
    }
}

/// All fixtures of the 0.63 host in the order its clock stamped them.
fn fixtures_in_time_order() -> Vec<LatticeEvent> {
    let mut evs: Vec<LatticeEvent> = FIXTURES.iter().map(|n| fixture(n)).collect();
    evs.sort_by_key(|e| e.time);
    evs
}

#[test]
fn replaying_the_whole_stream_changes_nothing() {
    let evs = fixtures_in_time_order();
    let mut once = empty();
    for ev in &evs {
        checked_apply(&mut once, ev, received(ev));
    }
    let mut twice = once.clone();
    for ev in &evs {
        assert_eq!(
            apply(&mut twice, ev, received(ev)),
            Applied::Duplicate,
            "{}",
            ev.kind()
        );
    }
    assert_eq!(twice, once);
    // And the stream did something: the host came and went, the link came and went.
    assert_eq!(once.stats.changed + once.stats.unchanged, evs.len() as u64);
    assert!(once.stats.changed > 10, "{:?}", once.stats);
}

#[test]
fn a_fact_republished_under_a_new_id_changes_no_state() {
    for name in FIXTURES {
        let ev = fixture(name);
        let now = received(&ev);
        let mut once = empty();
        apply(&mut once, &ev, now);
        let mut again = once.clone();
        let mut copy = ev.clone();
        copy.id = "ffffffff-7e57-4000-8000-000000000001".to_string();
        checked_apply(&mut again, &copy, now);
        assert_eq!(render_state(&again), render_state(&once), "{name}");
        assert_eq!(again.hosts, once.hosts, "{name}");
        assert_eq!(again.links, once.links, "{name}");
        assert_eq!(again.claims, once.claims, "{name}");
        assert_eq!(again.refmaps, once.refmaps, "{name}");
    }
}

fn running_host() -> Sim {
    let mut s = Sim::new();
    s.send(
        EventKind::HostStarted,
        HOST,
        0.1,
        host_started("silent-breeze-1234"),
    );
    s
}

#[test]
fn actor_stopped_before_its_actor_started_leaves_the_instance_stopped() {
    // The actor is not known yet when the stop arrives.
    let mut s = running_host();
    s.send_at(
        EventKind::ActorStopped,
        HOST,
        6.0,
        6.02,
        actor_stopped(ECHO, ECHO_I1),
    );
    s.send_at(
        EventKind::ActorStarted,
        HOST,
        5.0,
        6.03,
        echo_started(ECHO_I1),
    );
    assert_eq!(
        s.count(HOST, ECHO),
        0,
        "unknown actor: {}",
        render_state(&s.m)
    );
    assert!(
        !s.host(HOST).actors.contains_key(ECHO),
        "no empty actor row"
    );

    // The actor runs another instance when the reordered pair arrives.
    let mut s = running_host();
    s.send(EventKind::ActorStarted, HOST, 5.0, echo_started(ECHO_I1));
    s.send_at(
        EventKind::ActorStopped,
        HOST,
        8.0,
        8.02,
        actor_stopped(ECHO, ECHO_I2),
    );
    s.send_at(
        EventKind::ActorStarted,
        HOST,
        7.0,
        8.03,
        echo_started(ECHO_I2),
    );
    assert_eq!(
        s.count(HOST, ECHO),
        1,
        "other instance running: {}",
        render_state(&s.m)
    );

    // Start, stop of the last instance (the actor row goes), then the start again under another
    // event id (a second delivery path): still stopped.
    let mut s = running_host();
    s.send(EventKind::ActorStarted, HOST, 5.0, echo_started(ECHO_I1));
    s.send(
        EventKind::ActorStopped,
        HOST,
        6.0,
        actor_stopped(ECHO, ECHO_I1),
    );
    s.send_at(
        EventKind::ActorStarted,
        HOST,
        5.0,
        6.5,
        echo_started(ECHO_I1),
    );
    assert_eq!(
        s.count(HOST, ECHO),
        0,
        "last instance stopped: {}",
        render_state(&s.m)
    );
    assert!(
        !s.host(HOST).actors.contains_key(ECHO),
        "no empty actor row"
    );
}

#[test]
fn provider_stopped_before_its_provider_started_leaves_it_stopped() {
    let mut s = running_host();
    s.send_at(
        EventKind::ProviderStopped,
        HOST,
        9.0,
        9.02,
        json!({"public_key": HTTP, "link_name": "default", "contract_id": HTTPSERVER,
               "instance_id": HTTP_I1, "annotations": {}, "reason": "normal"}),
    );
    s.send_at(
        EventKind::ProviderStarted,
        HOST,
        2.0,
        9.03,
        http_started(HTTP_I1),
    );
    assert!(s.host(HOST).providers.is_empty(), "{}", render_state(&s.m));
    // A new instance of the same provider is a real start.
    s.send(
        EventKind::ProviderStarted,
        HOST,
        20.0,
        http_started(HTTP_I2),
    );
    assert_eq!(
        s.host(HOST).providers[&provider_key(HTTP, "default")]
            .instance_id
            .as_deref(),
        Some(HTTP_I2)
    );
}

#[test]
fn an_older_heartbeat_does_not_roll_the_inventory_back() {
    let mut s = running_host();
    s.send(
        EventKind::HostHeartbeat,
        HOST,
        60.0,
        heartbeat(
            "silent-breeze-1234",
            60,
            &[(ECHO, 3), (KVCOUNTER, 1)],
            &[(HTTP, "default", HTTPSERVER)],
        ),
    );
    let newest = s.m.hosts.clone();
    // Stamped at +30 s, delivered late at +61 s.
    let late = s.send_at(
        EventKind::HostHeartbeat,
        HOST,
        30.0,
        61.0,
        heartbeat("silent-breeze-1234", 30, &[(ECHO, 1)], &[]),
    );
    assert_eq!(late, Applied::Unchanged);
    assert_eq!(s.count(HOST, ECHO), 3);
    assert_eq!(s.count(HOST, KVCOUNTER), 1);
    assert_eq!(s.host(HOST).providers.len(), 1);
    assert_eq!(s.host(HOST).uptime_seconds, Some(60));
    assert_eq!(s.host(HOST).actors, newest[HOST].actors);
    // It was still a sign of life.
    assert_eq!(s.host(HOST).last_seen, t(61.0));
}

#[test]
fn an_instance_event_older_than_the_heartbeat_does_not_change_the_count() {
    // A start stamped before the heartbeat that already counted it: names one instance.
    let mut s = running_host();
    s.send(
        EventKind::HostHeartbeat,
        HOST,
        30.0,
        heartbeat("silent-breeze-1234", 30, &[(ECHO, 2)], &[]),
    );
    s.send_at(
        EventKind::ActorStarted,
        HOST,
        20.0,
        31.0,
        echo_started(ECHO_I1),
    );
    let a = &s.host(HOST).actors[ECHO];
    assert_eq!(a.count(), 2);
    assert_eq!((a.instances.len(), a.unidentified), (1, 1));
    // A second late start, and a third that the heartbeat cannot have counted.
    s.send_at(
        EventKind::ActorStarted,
        HOST,
        20.1,
        31.1,
        echo_started(ECHO_I2),
    );
    s.send_at(
        EventKind::ActorStarted,
        HOST,
        20.2,
        31.2,
        echo_started(ECHO_I3),
    );
    assert_eq!(s.count(HOST, ECHO), 2, "{}", render_state(&s.m));

    // A stop stamped before the heartbeat: the heartbeat's count already excludes it.
    let mut s = running_host();
    s.send(
        EventKind::HostHeartbeat,
        HOST,
        30.0,
        heartbeat("silent-breeze-1234", 30, &[(ECHO, 2)], &[]),
    );
    s.send_at(
        EventKind::ActorStopped,
        HOST,
        25.0,
        31.0,
        actor_stopped(ECHO, ECHO_I3),
    );
    assert_eq!(s.count(HOST, ECHO), 2, "{}", render_state(&s.m));

    // The same with an instance known by id: an actor_started (+5 s) named it, the heartbeat
    // (+30 s) counted 2, the stop (+25 s) arrives late.
    let mut s = running_host();
    s.send(EventKind::ActorStarted, HOST, 5.0, echo_started(ECHO_I1));
    s.send(
        EventKind::HostHeartbeat,
        HOST,
        30.0,
        heartbeat("silent-breeze-1234", 30, &[(ECHO, 2)], &[]),
    );
    s.send_at(
        EventKind::ActorStopped,
        HOST,
        25.0,
        31.0,
        actor_stopped(ECHO, ECHO_I1),
    );
    assert_eq!(s.count(HOST, ECHO), 2, "{}", render_state(&s.m));
    assert!(
        !s.host(HOST).actors[ECHO].instances.contains_key(ECHO_I1),
        "but it is not running"
    );

    // Newer events do change it.
    s.send(
        EventKind::ActorStopped,
        HOST,
        35.0,
        actor_stopped(ECHO, ECHO_I2),
    );
    assert_eq!(s.count(HOST, ECHO), 1);
    s.send(EventKind::ActorStarted, HOST, 36.0, echo_started(ECHO_I3));
    assert_eq!(s.count(HOST, ECHO), 2);
}
