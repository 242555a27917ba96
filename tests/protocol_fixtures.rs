//! Decoding the event fixtures of `assets/events/` (PROTOCOL.md §3.1–§3.3): every file decodes to
//! its kind with the documented data, malformed input is an error value, an unknown type is kept
//! as `Unknown`, and encoding a decoded event decodes back to the same event.
//!
//! Decoding what real peers sent (tests/fixtures/peers/, recorded on the wire by
//! scripts/record-peers/): every control request of `wash` 0.20.1, `wash` 0.21.1 and
//! `wasmcloud-control-interface` 0.28.1 decodes with this crate's types and carries what the
//! recorded command asked for; their KV link writes are link definitions keyed by their hash; the
//! reply documents encoded by the 0.28.1 crate's own types decode with this crate's reply types.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lattice_tui::lattice::protocol::{
    ActorAuctionAck, ActorAuctionRequest, CtlOperationAck, DecodeError, EncodeError, EventData,
    EventKind, GetClaimsResponse, HeartbeatActors, Host, HostInventory, LatticeEvent,
    LinkDefinition, LinkDefinitionList, NO_SOURCE, ProviderAuctionAck, ProviderAuctionRequest,
    RegistryCredentialMap, RemoveLinkDefinitionRequest, ScaleActorCommand, StartActorCommand,
    StartProviderCommand, StopActorCommand, StopHostCommand, StopProviderCommand, StringMap,
    UpdateActorCommand, linkdef_hash,
};
use serde_json::Value;

const HOST: &str = "NBSSBPBAAGQF5WVVQKHF2WIECPOVAKZD7WQWDUXQCGDLXH6SXHD7T6UL";
const OLD_HOST: &str = "NCR3PIEXZULSRE25UO6UWZUQR4MQG5XH3VE65YNMAZ7Z5OGXDQ44A4MT";
const ECHO: &str = "MB7UJNCX5UXXKVS5CA5YNEN3M63G5E5LGO62VLOSGROGHZJDBPIXQ5XG";
const HTTP: &str = "VAQQ2O3GIXGBY63CC3LJQXD4EQZQ3JKLOQ4GVGNSNBHLVTCADDZCUPUN";
const ACCOUNT: &str = "ACTGEJOUJWCENVQ6YG6ICHMCGPYC7H74ZA7LWGK362CJB7YGIRZC235A";
const ECHO_INSTANCE: &str = "2a2f2dcd-f0b1-401b-b1cd-df0594642394";
const HTTP_INSTANCE: &str = "a93ac23e-4903-4b8e-832e-2bc94f3376e5";
const ECHO_REF: &str = "wasmcloud.azurecr.io/echo:0.3.4";
const HTTP_REF: &str = "wasmcloud.azurecr.io/httpserver:0.17.0";
const HTTPSERVER: &str = "wasmcloud:httpserver";

/// Every event fixture of `assets/events/` and the kind it must decode to.
const FIXTURES: &[(&str, EventKind)] = &[
    ("host_started", EventKind::HostStarted),
    ("host_stopped", EventKind::HostStopped),
    ("host_heartbeat", EventKind::HostHeartbeat),
    ("host_heartbeat_pre060", EventKind::HostHeartbeat),
    ("actor_started", EventKind::ActorStarted),
    ("actors_started", EventKind::ActorsStarted),
    ("actor_start_failed", EventKind::ActorStartFailed),
    ("actors_start_failed", EventKind::ActorsStartFailed),
    ("actor_stopped", EventKind::ActorStopped),
    ("actors_stopped", EventKind::ActorsStopped),
    ("actor_updated", EventKind::ActorUpdated),
    ("actor_update_failed", EventKind::ActorUpdateFailed),
    ("provider_started", EventKind::ProviderStarted),
    ("provider_start_failed", EventKind::ProviderStartFailed),
    ("provider_stopped", EventKind::ProviderStopped),
    ("health_check_passed", EventKind::HealthCheckPassed),
    ("health_check_failed", EventKind::HealthCheckFailed),
    ("health_check_status", EventKind::HealthCheckStatus),
    ("linkdef_set", EventKind::LinkdefSet),
    ("linkdef_deleted", EventKind::LinkdefDeleted),
    ("refmap_set", EventKind::RefmapSet),
];

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/events")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    read(&events_dir().join(format!("{name}.json")))
}

fn decode(name: &str) -> LatticeEvent {
    LatticeEvent::from_json(&fixture_bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json_files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            p.file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn every_fixture_decodes_to_its_kind() {
    for (name, kind) in FIXTURES {
        let ev = decode(name);
        assert_eq!(ev.kind(), *kind, "{name}");
        assert_eq!(ev.data.kind(), *kind, "{name}");
        let v: Value = serde_json::from_slice(&fixture_bytes(name)).expect(name);
        assert_eq!(ev.id, v["id"].as_str().expect("id"), "{name}");
        assert_eq!(ev.source, v["source"].as_str().expect("source"), "{name}");
        let time =
            chrono::DateTime::parse_from_rfc3339(v["time"].as_str().expect("time")).expect("time");
        assert_eq!(ev.time, Some(time.to_utc()), "{name}");
    }
}

#[test]
fn host_events_decode_with_their_data() {
    let EventData::HostStarted(d) = decode("host_started").data else {
        panic!("host_started")
    };
    assert_eq!(d.friendly_name, "silent-breeze-1234");
    assert_eq!(d.version.as_deref(), Some("0.63.2"));
    assert_eq!(d.uptime_seconds, Some(0));
    assert_eq!(d.labels["hostcore.os"], "linux");
    assert_eq!(d.labels["region"], "eu-west");
    assert_eq!(d.labels.len(), 4);

    let EventData::HostStopped(d) = decode("host_stopped").data else {
        panic!("host_stopped")
    };
    assert_eq!(d.labels["hostcore.arch"], "x86_64");

    let ev = decode("host_heartbeat");
    assert_eq!(ev.source, HOST);
    let EventData::HostHeartbeat(hb) = ev.data else {
        panic!("host_heartbeat")
    };
    assert_eq!(
        hb.actors,
        HeartbeatActors::Counts([(ECHO.to_string(), 2)].into())
    );
    assert_eq!(hb.providers.len(), 1);
    assert_eq!(hb.providers[0].public_key, HTTP);
    assert_eq!(hb.providers[0].link_name, "default");
    assert_eq!(hb.providers[0].contract_id, HTTPSERVER);
    assert_eq!(hb.providers[0].instance_id, None);
    assert_eq!(hb.uptime_seconds, Some(30));
    assert_eq!(hb.uptime_human.as_deref(), Some("30 seconds"));
    assert_eq!(hb.version.as_deref(), Some("0.63.2"));

    let ev = decode("host_heartbeat_pre060");
    assert_eq!(ev.source, OLD_HOST);
    let EventData::HostHeartbeat(hb) = ev.data else {
        panic!("host_heartbeat_pre060")
    };
    let HeartbeatActors::Instances(list) = &hb.actors else {
        panic!(
            "pre-0.60 heartbeat must decode as an instance list: {:?}",
            hb.actors
        )
    };
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|i| i.public_key == ECHO));
    assert_ne!(list[0].instance_id, list[1].instance_id);
    assert_eq!(
        hb.providers[0].instance_id.as_deref(),
        Some("5267636a-25a8-48f2-b0be-970e03ef5bf8")
    );
    assert_eq!(hb.version.as_deref(), Some("0.59.0"));
}

#[test]
fn actor_events_decode_with_their_data() {
    let EventData::ActorStarted(d) = decode("actor_started").data else {
        panic!("actor_started")
    };
    assert_eq!(d.public_key, ECHO);
    assert_eq!(d.image_ref.as_deref(), Some(ECHO_REF));
    assert_eq!(d.api_version.as_deref(), Some("n/a"));
    assert_eq!(d.instance_id, ECHO_INSTANCE);
    assert!(d.annotations.is_empty());
    let c = d.claims.expect("claims");
    assert_eq!(c.call_alias, None);
    assert_eq!(c.caps, Some(vec![HTTPSERVER.to_string()]));
    assert_eq!(c.tags, Some(vec![]));
    assert_eq!(c.issuer.as_deref(), Some(ACCOUNT));
    assert_eq!(c.name.as_deref(), Some("echo"));
    assert_eq!(c.version.as_deref(), Some("0.3.4"));
    assert_eq!(c.revision, Some(4));
    assert_eq!(c.not_before_human.as_deref(), Some("immediately"));
    assert_eq!(c.expires_human.as_deref(), Some("never"));

    let EventData::ActorsStarted(d) = decode("actors_started").data else {
        panic!("actors_started")
    };
    assert_eq!((d.public_key.as_str(), d.count), (ECHO, 2));
    assert_eq!(d.host_id, HOST);
    assert_eq!(d.claims.and_then(|c| c.revision), Some(4));

    let EventData::ActorStartFailed(d) = decode("actor_start_failed").data else {
        panic!("actor_start_failed")
    };
    assert_eq!(d.actor_ref, "wasmcloud.azurecr.io/nope:1.0");
    assert_eq!(d.error, "{:error, \"failed to fetch\"}");

    let EventData::ActorsStartFailed(d) = decode("actors_start_failed").data else {
        panic!("actors_start_failed")
    };
    assert_eq!(d.public_key, ECHO);
    assert_eq!(d.image_ref.as_deref(), Some(ECHO_REF));
    assert_eq!(d.host_id, HOST);
    assert!(d.error.contains("policy denied"), "{}", d.error);

    let EventData::ActorStopped(d) = decode("actor_stopped").data else {
        panic!("actor_stopped")
    };
    assert_eq!(
        (d.public_key.as_str(), d.instance_id.as_str()),
        (ECHO, ECHO_INSTANCE)
    );

    let EventData::ActorsStopped(d) = decode("actors_stopped").data else {
        panic!("actors_stopped")
    };
    assert_eq!((d.count, d.remaining), (1, 1));
    assert_eq!(d.host_id, HOST);

    let EventData::ActorUpdated(d) = decode("actor_updated").data else {
        panic!("actor_updated")
    };
    assert_eq!((d.revision, d.instance_id.as_str()), (5, ECHO_INSTANCE));

    let EventData::ActorUpdateFailed(d) = decode("actor_update_failed").data else {
        panic!("actor_update_failed")
    };
    assert_eq!(d.revision, 5);
    assert!(d.reason.contains("different public key"), "{}", d.reason);
}

#[test]
fn provider_events_decode_with_their_data() {
    let EventData::ProviderStarted(d) = decode("provider_started").data else {
        panic!("provider_started")
    };
    assert_eq!(d.public_key, HTTP);
    assert_eq!(d.image_ref.as_deref(), Some(HTTP_REF));
    assert_eq!(d.link_name, "default");
    assert_eq!(d.contract_id, HTTPSERVER);
    assert_eq!(d.instance_id, HTTP_INSTANCE);
    let c = d.claims.expect("claims");
    assert_eq!(c.tags, None, "`tags: null` in the fixture");
    assert_eq!(c.name.as_deref(), Some("HTTP Server"));
    assert_eq!(c.issuer.as_deref(), Some(ACCOUNT));

    let EventData::ProviderStartFailed(d) = decode("provider_start_failed").data else {
        panic!("provider_start_failed")
    };
    assert_eq!(d.provider_ref, HTTP_REF);
    assert_eq!(d.link_name, "default");
    assert!(d.error.contains("already running"), "{}", d.error);

    let EventData::ProviderStopped(d) = decode("provider_stopped").data else {
        panic!("provider_stopped")
    };
    assert_eq!(d.public_key, HTTP);
    assert_eq!(d.instance_id, HTTP_INSTANCE);
    assert_eq!(d.reason, "normal");

    for (name, want) in [
        ("health_check_passed", EventKind::HealthCheckPassed),
        ("health_check_failed", EventKind::HealthCheckFailed),
        ("health_check_status", EventKind::HealthCheckStatus),
    ] {
        let (EventData::HealthCheckPassed(d)
        | EventData::HealthCheckFailed(d)
        | EventData::HealthCheckStatus(d)) = decode(name).data
        else {
            panic!("{name}")
        };
        assert_eq!(decode(name).kind(), want);
        assert_eq!(
            (
                d.public_key.as_str(),
                d.contract_id.as_str(),
                d.link_name.as_str()
            ),
            (HTTP, HTTPSERVER, "default"),
            "{name}"
        );
    }
}

#[test]
fn link_and_refmap_events_decode_with_their_data() {
    for name in ["linkdef_set", "linkdef_deleted"] {
        let ev = decode(name);
        assert_eq!(ev.source, NO_SOURCE);
        let (EventData::LinkdefSet(l) | EventData::LinkdefDeleted(l)) = ev.data else {
            panic!("{name}")
        };
        assert_eq!(l.actor_id, ECHO);
        assert_eq!(l.provider_id, HTTP);
        assert_eq!(l.contract_id, HTTPSERVER);
        assert_eq!(l.link_name, "default");
        assert_eq!(l.values["PORT"], "8080");
        // The id is the real link hash, not a placeholder.
        assert_eq!(l.id, linkdef_hash(ECHO, HTTPSERVER, "default"), "{name}");
        assert_eq!(
            l.id,
            "879372F6693791C32625E40710C11093D3973F57E7E56AFF9A815DEF65BA9353"
        );
    }
    let EventData::RefmapSet(r) = decode("refmap_set").data else {
        panic!("refmap_set")
    };
    assert_eq!(
        (r.oci_url.as_str(), r.public_key.as_str()),
        (ECHO_REF, ECHO)
    );
}

#[test]
fn encoding_a_decoded_fixture_decodes_to_the_same_event() {
    for (name, kind) in FIXTURES {
        let ev = decode(name);
        let bytes = ev.to_json().unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = LatticeEvent::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(again, ev, "{name}");
        // The published envelope is a CloudEvent of the same type and time precision.
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["type"], kind.cloudevent_type(), "{name}");
        assert_eq!(v["specversion"], "1.0", "{name}");
        assert_eq!(v["datacontenttype"], "application/json", "{name}");
    }
}

#[test]
fn malformed_inputs_are_errors_not_panics() {
    let dir = events_dir().join("malformed");
    let files = json_files(&dir);
    let expected = [
        ("not_json", None),
        ("not_a_cloudevent", None),
        ("missing_id", None),
        ("truncated", None),
        ("wrong_type_public_key", Some(EventKind::ActorStarted)),
        (
            "wrong_type_heartbeat_actors",
            Some(EventKind::HostHeartbeat),
        ),
    ];
    let mut seen = BTreeSet::new();
    for (name, data_kind) in expected {
        let bytes = read(&dir.join(format!("{name}.json")));
        let err = LatticeEvent::from_json(&bytes).expect_err(name);
        match (data_kind, &err) {
            (None, DecodeError::Envelope(_)) => {}
            (
                Some(want),
                DecodeError::Data {
                    kind, source_id, ..
                },
            ) => {
                assert_eq!(*kind, want, "{name}");
                assert_eq!(source_id, HOST, "{name}");
            }
            _ => panic!("{name}: unexpected error {err:?}"),
        }
        assert!(!err.to_string().is_empty());
        seen.insert(name.to_string());
    }
    seen.insert("unknown_type_component_scaled".to_string());
    assert_eq!(files, seen, "every file in malformed/ is checked");
}

#[test]
fn an_unknown_type_is_kept_as_unknown() {
    let bytes = read(&events_dir().join("malformed/unknown_type_component_scaled.json"));
    let ev = LatticeEvent::from_json(&bytes).expect("a well-formed event of another version");
    assert_eq!(ev.kind(), EventKind::Unknown);
    assert_eq!(
        ev.data,
        EventData::Unknown {
            ty: "com.wasmcloud.lattice.component_scaled".to_string()
        }
    );
    assert_eq!(ev.source, HOST);
    assert_eq!(ev.id, "018f2b7c-5d1e-7a3b-9c4d-2e6f8a1b3c5d");
    // Unknown events are only ever decoded, never published.
    assert!(matches!(ev.to_json(), Err(EncodeError::Unknown(_))));
}

// ---------------------------------------------------------------------------------------------
// Recordings of real peers (tests/fixtures/peers/, scripts/record-peers/): what `wash` 0.20.1,
// `wash` 0.21.1 and `wasmcloud-control-interface` 0.28.1 sent on the wire when they drove this
// host, and reply documents encoded by the 0.28.1 crate's own types. The expected values come
// from the command lines in each session's `commands.md`, not from this crate's encoder.

/// One message of a `capture.jsonl`.
#[derive(Debug, serde::Deserialize)]
struct Wire {
    seq: u64,
    subject: String,
    reply: Option<String>,
    headers: Option<serde_json::Map<String, Value>>,
    payload_b64: String,
}

impl Wire {
    fn body(&self) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&self.payload_b64)
            .unwrap_or_else(|e| panic!("seq {}: payload_b64: {e}", self.seq))
    }

    /// The part of a control subject after `wasmbus.ctl.default.`.
    fn ctl_tail(&self) -> Option<&str> {
        self.subject.strip_prefix("wasmbus.ctl.default.")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.as_ref()?.get(name)?.as_str()
    }

    fn decode<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body()).unwrap_or_else(|e| {
            panic!(
                "seq {} on {}: {e}\n{}",
                self.seq,
                self.subject,
                String::from_utf8_lossy(&self.body())
            )
        })
    }
}

/// One numbered step of a `commands.md`: `## N. title` and its `- seq: a–b` line.
#[derive(Debug)]
struct Step {
    n: u32,
    title: String,
    first: u64,
    last: u64,
}

/// One recorded session: every message, the steps, and the keys the commands were typed with.
struct Session {
    tool: &'static str,
    wire: Vec<Wire>,
    steps: Vec<Step>,
    host: String,
    hello: String,
    echo: String,
    http: String,
}

/// Where `scripts/build-actors.sh` put the actors the sessions started (as typed on the command
/// lines of `commands.md`).
const ACTORS: &str = "/work/peers/lattice-tui-src/target/actors";

fn actor(name: &str) -> String {
    format!("{ACTORS}/{name}.wasm")
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/peers")
}

fn backticked(line: &str, label: &str) -> String {
    let rest = line
        .split_once(&format!("{label}: `"))
        .unwrap_or_else(|| panic!("no `{label}` in {line}"))
        .1;
    rest.split('`')
        .next()
        .expect("closing backtick")
        .to_string()
}

fn session(tool: &'static str) -> Session {
    let dir = peers_dir().join(tool);
    let text = String::from_utf8(read(&dir.join("capture.jsonl"))).expect("utf-8");
    let wire: Vec<Wire> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{tool}: {e}: {l}")))
        .collect();
    for (i, w) in wire.iter().enumerate() {
        assert_eq!(w.seq, i as u64 + 1, "{tool}: seq runs 1, 2, 3, …");
    }
    let md = String::from_utf8(read(&dir.join("commands.md"))).expect("utf-8");
    let mut steps = Vec::new();
    let mut keys_line = None;
    let mut heading: Option<(u32, String)> = None;
    for line in md.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            heading = h
                .split_once(". ")
                .and_then(|(n, t)| n.parse::<u32>().ok().map(|n| (n, t.to_string())));
        } else if let Some(range) = line.strip_prefix("- seq: ") {
            let (a, b) = range.split_once('–').expect("a–b");
            let (n, title) = heading.take().expect("a seq line belongs to a step");
            steps.push(Step {
                n,
                title,
                first: a.parse().expect("seq"),
                last: b.parse().expect("seq"),
            });
        } else if line.starts_with("- host: `") {
            keys_line = Some(line.to_string());
        }
    }
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s.n, i as u32, "{tool}: steps are numbered 0, 1, 2, …");
        if i > 0 {
            assert_eq!(
                s.first,
                steps[i - 1].last + 1,
                "{tool}: ranges are contiguous"
            );
        }
    }
    let keys = keys_line.unwrap_or_else(|| panic!("{tool}: no keys line in commands.md"));
    Session {
        tool,
        wire,
        steps,
        host: backticked(&keys, "host"),
        hello: backticked(&keys, "hello"),
        echo: backticked(&keys, "echo"),
        http: backticked(&keys, "built-in HTTP provider"),
    }
}

impl Session {
    /// The messages of step `n`, which must be titled `title` in `commands.md`.
    fn step(&self, n: u32, title: &str) -> Vec<&Wire> {
        let s = &self.steps[n as usize];
        assert_eq!(s.title, title, "{}: step {n}", self.tool);
        self.wire
            .iter()
            .filter(|w| (s.first..=s.last).contains(&w.seq))
            .collect()
    }

    /// The control requests (`wasmbus.ctl.default.*`: only clients publish there) of step `n`.
    fn ctl(&self, n: u32, title: &str) -> Vec<&Wire> {
        self.step(n, title)
            .into_iter()
            .filter(|w| w.ctl_tail().is_some())
            .collect()
    }

    /// The single control request of step `n`; its subject must be `tail`.
    fn the_request(&self, n: u32, title: &str, tail: &str) -> &Wire {
        let reqs = self.ctl(n, title);
        assert_eq!(
            reqs.iter()
                .map(|w| w.ctl_tail().unwrap())
                .collect::<Vec<_>>(),
            vec![tail],
            "{}: step {n} ({title})",
            self.tool
        );
        reqs[0]
    }

    fn cmd(&self, verb: &str) -> String {
        format!("cmd.{}.{verb}", self.host)
    }

    /// Writes by a client into the lattice bucket: a JetStream publish to `$KV.LATTICEDATA_default.…`
    /// with a reply inbox (deliveries to watchers carry a `$JS.ACK.…` reply instead).
    fn kv_writes(&self, n: u32, title: &str) -> Vec<&Wire> {
        self.step(n, title)
            .into_iter()
            .filter(|w| {
                w.subject.starts_with("$KV.LATTICEDATA_default.")
                    && w.reply.as_deref().is_some_and(|r| r.starts_with("_INBOX."))
            })
            .collect()
    }
}

const SESSIONS: &[&str] = &["wash-0.20.1", "wash-0.21.1", "cic-0.28.1"];

/// Decodes one control request with the type this host reads it as; a subject this host does not
/// serve fails the test.
fn decode_ctl(s: &Session, w: &Wire) {
    let tail = w.ctl_tail().expect("control subject");
    let parts: Vec<&str> = tail.split('.').collect();
    let empty = || {
        assert!(
            w.body().is_empty(),
            "{}: seq {}: {tail} has a body",
            s.tool,
            w.seq
        )
    };
    match parts.as_slice() {
        ["ping", "hosts"] | ["get", "links"] | ["get", "claims"] => empty(),
        ["get", host, "inv"] => {
            assert_eq!(*host, s.host);
            empty();
        }
        ["linkdefs", "put"] => {
            let _: LinkDefinition = w.decode();
        }
        ["linkdefs", "del"] => {
            let _: RemoveLinkDefinitionRequest = w.decode();
        }
        ["auction", "actor"] => {
            let _: ActorAuctionRequest = w.decode();
        }
        ["auction", "provider"] => {
            let _: ProviderAuctionRequest = w.decode();
        }
        ["registries", "put"] => {
            let _: RegistryCredentialMap = w.decode();
        }
        ["cmd", host, verb] => {
            assert_eq!(*host, s.host, "{}: seq {}", s.tool, w.seq);
            match *verb {
                "la" => {
                    let _: StartActorCommand = w.decode();
                }
                "sa" => {
                    let _: StopActorCommand = w.decode();
                }
                "scale" => {
                    let _: ScaleActorCommand = w.decode();
                }
                "upd" => {
                    let _: UpdateActorCommand = w.decode();
                }
                "lp" => {
                    let _: StartProviderCommand = w.decode();
                }
                "sp" => {
                    let _: StopProviderCommand = w.decode();
                }
                "stop" => {
                    let _: StopHostCommand = w.decode();
                }
                other => panic!("{}: seq {}: unknown verb {other}", s.tool, w.seq),
            }
        }
        _ => panic!("{}: seq {}: a request on {tail}", s.tool, w.seq),
    }
}

#[test]
fn every_control_request_the_real_clients_sent_decodes() {
    for tool in SESSIONS {
        let s = session(tool);
        let reqs: Vec<&Wire> = s.wire.iter().filter(|w| w.ctl_tail().is_some()).collect();
        assert!(reqs.len() >= 15, "{tool}: only {} requests", reqs.len());
        for w in &reqs {
            decode_ctl(&s, w);
            // None of these clients sends NATS headers on control requests.
            assert_eq!(w.headers, None, "{tool}: seq {}", w.seq);
        }
        // Every client command starts by asking for the lattice bucket (0.27, 0.28 and 0.30 look
        // it up each time a client is built).
        for step in s.steps[1..]
            .iter()
            .filter(|st| !st.title.starts_with("(not a client)"))
        {
            assert!(
                s.wire
                    .iter()
                    .any(|w| (step.first..=step.last).contains(&w.seq)
                        && w.subject == "$JS.API.STREAM.INFO.KV_LATTICEDATA_default"),
                "{tool}: step {} ({}) did not look up the bucket",
                step.n,
                step.title
            );
        }
    }
}

fn strings(pairs: &[(&str, &str)]) -> StringMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Checks a client's KV link write and delete of (`actor`, `contract`, `link`) in the steps `put`
/// and `del`: the key is `LINKDEF_{linkdef_hash}`, the body a `LinkDefinition` whose id (given or
/// computed) is that hash; the delete is a `KV-Operation: DEL` with an empty body.
fn check_kv_link(
    s: &Session,
    put: (u32, &str),
    del: (u32, &str),
    link: LinkDefinition,
    wants_id_in_body: bool,
) {
    let hash = linkdef_hash(&link.actor_id, &link.contract_id, &link.link_name);
    let key = format!("$KV.LATTICEDATA_default.LINKDEF_{hash}");
    let writes = s.kv_writes(put.0, put.1);
    assert_eq!(
        writes
            .iter()
            .map(|w| w.subject.as_str())
            .collect::<Vec<_>>(),
        vec![key.as_str()],
        "{}: the link put writes one key",
        s.tool
    );
    let w = writes[0];
    assert_eq!(w.header("KV-Operation"), None, "{}: a put", s.tool);
    let got: LinkDefinition = w.decode();
    let raw: Value = w.decode();
    assert_eq!(
        raw.get("id").is_some(),
        wants_id_in_body,
        "{}: {raw}",
        s.tool
    );
    assert_eq!(got.computed_id(), hash, "{}", s.tool);
    assert_eq!(
        got.clone().with_id(),
        LinkDefinition {
            id: hash.clone(),
            ..link
        }
    );
    let dels = s.kv_writes(del.0, del.1);
    assert_eq!(
        dels.iter().map(|w| w.subject.as_str()).collect::<Vec<_>>(),
        vec![key.as_str()],
        "{}: the link del writes the same key",
        s.tool
    );
    assert_eq!(dels[0].header("KV-Operation"), Some("DEL"), "{}", s.tool);
    assert!(dels[0].body().is_empty(), "{}", s.tool);
}

#[test]
fn cic_0_28_requests_carry_what_the_calls_asked_for() {
    let s = session("cic-0.28.1");
    let host = Some(s.host.clone());

    assert!(
        s.the_request(1, "get_hosts", "ping.hosts")
            .body()
            .is_empty()
    );
    let inv = format!("get.{}.inv", s.host);
    assert!(
        s.the_request(2, "get_host_inventory", &inv)
            .body()
            .is_empty()
    );
    // With the bucket present claims and links are read from it, not asked for.
    assert!(s.ctl(3, "get_claims").is_empty());
    assert!(s.ctl(4, "query_links").is_empty());

    // start_actor(HOST, echo.wasm, 2, {app: demo})
    let la: StartActorCommand = s
        .the_request(5, "start_actor 2 instances with annotations", &s.cmd("la"))
        .decode();
    assert_eq!(la.actor_ref, actor("echo"));
    assert_eq!(la.count, 2);
    assert_eq!(la.annotations, Some(strings(&[("app", "demo")])));
    assert_eq!(la.host_id, host);

    // perform_actor_auction(count.wasm, {hostcore.os: linux}) and ({region: mars})
    let a: ActorAuctionRequest = s
        .the_request(
            6,
            "perform_actor_auction with a constraint",
            "auction.actor",
        )
        .decode();
    assert_eq!(a.actor_ref, actor("count"));
    assert_eq!(a.constraints, strings(&[("hostcore.os", "linux")]));
    let a: ActorAuctionRequest = s
        .the_request(7, "perform_actor_auction nobody matches", "auction.actor")
        .decode();
    assert_eq!(a.constraints, strings(&[("region", "mars")]));

    // scale_actor(HOST, echo.wasm, ECHO, 3, None)
    let sc: ScaleActorCommand = s
        .the_request(9, "scale_actor to 3", &s.cmd("scale"))
        .decode();
    assert_eq!(sc.actor_id.as_deref(), Some(s.echo.as_str()));
    assert_eq!(sc.actor_ref, actor("echo"));
    assert_eq!(sc.count, Some(3));
    assert_eq!(sc.annotations, None);
    assert_eq!(sc.host_id, host);

    // update_actor(HOST, HELLO, hello.wasm) and (HOST, HELLO, echo.wasm)
    for (n, title, new_ref) in [
        (10, "update_actor (same module: same key)", actor("hello")),
        (
            11,
            "update_actor to a module with another key",
            actor("echo"),
        ),
    ] {
        let u: UpdateActorCommand = s.the_request(n, title, &s.cmd("upd")).decode();
        assert_eq!(u.actor_id.as_deref(), Some(s.hello.as_str()));
        assert_eq!(u.new_actor_ref, new_ref);
        assert_eq!(u.annotations, None);
        assert_eq!(u.host_id, host);
    }

    // perform_provider_auction(builtin:httpserver, second, {})
    let pa: ProviderAuctionRequest = s
        .the_request(
            12,
            "perform_provider_auction link name second",
            "auction.provider",
        )
        .decode();
    assert_eq!(
        (pa.provider_ref.as_str(), pa.link_name.as_str()),
        ("builtin:httpserver", "second")
    );
    assert!(pa.constraints.is_empty());

    // start_provider(HOST, builtin:httpserver, second, None, {"address":"127.0.0.1:9999"})
    let lp: StartProviderCommand = s
        .the_request(
            13,
            "start_provider on a given host, link name second, with configuration",
            &s.cmd("lp"),
        )
        .decode();
    assert_eq!(lp.provider_ref, "builtin:httpserver");
    assert_eq!(lp.link_name, "second");
    assert_eq!(
        lp.configuration.as_deref(),
        Some(r#"{"address":"127.0.0.1:9999"}"#),
        "configuration is raw text"
    );
    assert_eq!(lp.host_id, host);

    // start_provider("", builtin:httpserver, third): ping.hosts, then lp to the host that answered.
    let reqs = s.ctl(14, "start_provider without a host, link name third");
    assert_eq!(
        reqs.iter()
            .map(|w| w.ctl_tail().unwrap())
            .collect::<Vec<_>>(),
        vec!["ping.hosts".to_string(), s.cmd("lp")]
    );
    let lp: StartProviderCommand = reqs[1].decode();
    assert_eq!(
        (lp.link_name.as_str(), lp.configuration.as_deref()),
        ("third", None)
    );
    assert_eq!(lp.host_id, host);
    let lp: StartProviderCommand = s
        .the_request(
            15,
            "start_provider already running (link name default)",
            &s.cmd("lp"),
        )
        .decode();
    assert_eq!(lp.link_name, "default");

    // advertise_link(ECHO, HTTP, wasmcloud:httpserver, second, {address: …}) / remove_link: KV.
    assert!(s.ctl(16, "advertise_link").is_empty());
    assert!(s.ctl(18, "remove_link").is_empty());
    check_kv_link(
        &s,
        (16, "advertise_link"),
        (18, "remove_link"),
        LinkDefinition {
            id: String::new(),
            actor_id: s.echo.clone(),
            provider_id: s.http.clone(),
            link_name: "second".into(),
            contract_id: HTTPSERVER.into(),
            values: strings(&[("address", "127.0.0.1:8491")]),
        },
        false,
    );

    // stop_actor(HOST, ECHO, 1) and (HOST, ECHO, 0)
    for (n, title, count) in [
        (19, "stop_actor 1 instance", 1),
        (20, "stop_actor 0 (= all)", 0),
    ] {
        let sa: StopActorCommand = s.the_request(n, title, &s.cmd("sa")).decode();
        assert_eq!(sa.actor_ref, s.echo, "the actor's public key");
        assert_eq!(sa.count, Some(count));
        assert_eq!(sa.host_id, host);
    }

    // stop_provider(HOST, HTTP, second, wasmcloud:httpserver)
    let sp: StopProviderCommand = s.the_request(21, "stop_provider", &s.cmd("sp")).decode();
    assert_eq!(sp.provider_ref, s.http);
    assert_eq!(sp.link_name, "second");
    assert_eq!(sp.contract_id.as_deref(), Some(HTTPSERVER));
    assert_eq!(sp.host_id, host);

    // put_registries({ghcr.io: user / secret}): a plain publish without a reply subject.
    let w = s.the_request(22, "put_registries", "registries.put");
    assert_eq!(w.reply, None);
    let creds: RegistryCredentialMap = w.decode();
    assert_eq!(creds.len(), 1);
    let c = &creds["ghcr.io"];
    assert_eq!(c.registry_type, "oci");
    assert_eq!(
        (
            c.username.as_deref(),
            c.password.as_deref(),
            c.token.as_deref()
        ),
        (Some("user"), Some("secret"), None)
    );

    // With the bucket's stream deleted (step 24, by the script) 0.28 falls back to its legacy
    // subjects: advertise_link(ECHO, HTTP, wasmcloud:httpserver, second, {address: …}) is a
    // linkdefs.put of a link definition without id …
    let put: LinkDefinition = s
        .the_request(25, "advertise_link without the bucket", "linkdefs.put")
        .decode();
    assert_eq!(
        put,
        LinkDefinition {
            id: String::new(),
            actor_id: s.echo.clone(),
            provider_id: s.http.clone(),
            link_name: "second".into(),
            contract_id: HTTPSERVER.into(),
            values: strings(&[("address", "127.0.0.1:8491")]),
        }
    );
    let w = s.the_request(26, "query_links without the bucket", "get.links");
    assert!(w.body().is_empty());
    // … and remove_link(ECHO, wasmcloud:httpserver, second) a linkdefs.del whose body is a whole
    // link definition (empty provider_id and values) rather than just the three key fields.
    let w = s.the_request(27, "remove_link without the bucket", "linkdefs.del");
    let del: RemoveLinkDefinitionRequest = w.decode();
    assert_eq!(
        (
            del.actor_id.as_str(),
            del.contract_id.as_str(),
            del.link_name.as_str()
        ),
        (s.echo.as_str(), HTTPSERVER, "second")
    );
    let raw: Value = w.decode();
    assert_eq!(
        (&raw["provider_id"], &raw["values"]),
        (&Value::from(""), &serde_json::json!({}))
    );
    let w = s.the_request(28, "get_claims without the bucket", "get.claims");
    assert!(w.body().is_empty());

    // stop_host(HOST, Some(2000))
    let stop: StopHostCommand = s
        .the_request(29, "stop_host with timeout 2000 ms", &s.cmd("stop"))
        .decode();
    assert_eq!(stop.timeout, Some(2000));
    assert_eq!(stop.host_id, host);
}

/// The steps `wash` 0.20.1 and 0.21.1 share (`wash ctl get …`, `link …`, `start provider …`,
/// `stop provider`, `update actor`), checked against their command lines in `commands.md`.
fn check_common_wash_steps(s: &Session, first: u32) {
    let host = Some(s.host.clone());
    let inv = format!("get.{}.inv", s.host);
    let n = |i: u32| first + i;
    assert!(
        s.the_request(1, "get hosts", "ping.hosts")
            .body()
            .is_empty()
    );
    assert!(s.the_request(2, "get inventory", &inv).body().is_empty());
    // With the bucket present claims and links are read from it, not asked for.
    assert!(s.ctl(3, "get claims").is_empty());
    assert!(s.ctl(4, "link query").is_empty());

    // wash ctl update actor HOST HELLO hello.wasm / echo.wasm
    for (i, title, new_ref) in [
        (0, "update actor (same module: same key)", actor("hello")),
        (
            1,
            "update actor to a module with another key",
            actor("echo"),
        ),
    ] {
        let u: UpdateActorCommand = s.the_request(n(i), title, &s.cmd("upd")).decode();
        assert_eq!(u.actor_id.as_deref(), Some(s.hello.as_str()), "{}", s.tool);
        assert_eq!(u.new_actor_ref, new_ref, "{}", s.tool);
        assert_eq!((u.annotations, &u.host_id), (None, &host), "{}", s.tool);
    }

    // wash ctl start provider builtin:httpserver --host-id HOST --link-name second
    let lp: StartProviderCommand = s
        .the_request(
            n(2),
            "start provider on a given host, link name second",
            &s.cmd("lp"),
        )
        .decode();
    assert_eq!(
        (lp.provider_ref.as_str(), lp.link_name.as_str()),
        ("builtin:httpserver", "second"),
        "{}",
        s.tool
    );
    assert_eq!(
        (&lp.configuration, &lp.annotations),
        (&None, &None),
        "{}",
        s.tool
    );
    assert_eq!(lp.host_id, host, "{}", s.tool);

    // wash ctl start provider builtin:httpserver --link-name third: an auction, then lp to the
    // first host that answered.
    let reqs = s.ctl(
        n(3),
        "start provider without a host (auction), link name third",
    );
    assert_eq!(
        reqs.iter()
            .map(|w| w.ctl_tail().unwrap())
            .collect::<Vec<_>>(),
        vec!["auction.provider".to_string(), s.cmd("lp")],
        "{}",
        s.tool
    );
    let pa: ProviderAuctionRequest = reqs[0].decode();
    assert_eq!(
        (pa.provider_ref.as_str(), pa.link_name.as_str()),
        ("builtin:httpserver", "third"),
        "{}",
        s.tool
    );
    assert!(pa.constraints.is_empty(), "{}", s.tool);
    let lp: StartProviderCommand = reqs[1].decode();
    assert_eq!(lp.link_name, "third", "{}", s.tool);
    assert_eq!(lp.host_id, host, "{}", s.tool);

    // wash ctl start provider builtin:httpserver --host-id HOST (link name default, running)
    let lp: StartProviderCommand = s
        .the_request(
            n(4),
            "start provider that is already running (link name default)",
            &s.cmd("lp"),
        )
        .decode();
    assert_eq!(lp.link_name, "default", "the CLI's default link name");

    // wash ctl link put ECHO HTTP wasmcloud:httpserver --link-name second address=… / link del:
    // written into the bucket, nothing on the control subjects.
    assert!(s.ctl(n(5), "link put").is_empty(), "{}", s.tool);
    assert!(s.ctl(n(6), "link query").is_empty(), "{}", s.tool);
    assert!(s.ctl(n(7), "link del").is_empty(), "{}", s.tool);
    check_kv_link(
        s,
        (n(5), "link put"),
        (n(7), "link del"),
        LinkDefinition {
            id: String::new(),
            actor_id: s.echo.clone(),
            provider_id: s.http.clone(),
            link_name: "second".into(),
            contract_id: HTTPSERVER.into(),
            values: strings(&[("address", "127.0.0.1:8491")]),
        },
        false,
    );

    // wash ctl stop provider HOST HTTP second wasmcloud:httpserver
    let sp: StopProviderCommand = s.the_request(n(9), "stop provider", &s.cmd("sp")).decode();
    assert_eq!(sp.provider_ref, s.http, "{}", s.tool);
    assert_eq!(sp.link_name, "second", "{}", s.tool);
    assert_eq!(sp.contract_id.as_deref(), Some(HTTPSERVER), "{}", s.tool);
    assert_eq!(sp.host_id, host, "{}", s.tool);
    assert!(s.ctl(n(10), "get claims").is_empty(), "{}", s.tool);
    assert!(
        s.the_request(n(11), "get inventory", &inv)
            .body()
            .is_empty(),
        "{}",
        s.tool
    );

    // wash ctl stop host HOST --host-timeout 3000
    let stop: StopHostCommand = s
        .the_request(n(12), "stop host, 3000 ms", &s.cmd("stop"))
        .decode();
    assert_eq!(
        (stop.host_id, stop.timeout),
        (host, Some(3000)),
        "{}",
        s.tool
    );
}

#[test]
fn wash_0_20_requests_carry_what_the_command_lines_asked_for() {
    let s = session("wash-0.20.1");
    let host = Some(s.host.clone());

    // wash ctl start actor echo.wasm --host-id HOST --count 2: the OTP dialect, cmd.la.
    let la: StartActorCommand = s
        .the_request(5, "start actor on a given host, 2 instances", &s.cmd("la"))
        .decode();
    assert_eq!(la.actor_ref, actor("echo"), "the path as typed");
    assert_eq!(la.count, 2);
    assert_eq!((la.annotations, la.host_id), (None, host.clone()));

    // wash ctl start actor count.wasm --constraint hostcore.os=linux: auction, then la (count 1).
    let reqs = s.ctl(6, "start actor without a host (auction, with a constraint)");
    assert_eq!(
        reqs.iter()
            .map(|w| w.ctl_tail().unwrap())
            .collect::<Vec<_>>(),
        vec!["auction.actor".to_string(), s.cmd("la")]
    );
    let a: ActorAuctionRequest = reqs[0].decode();
    assert_eq!(a.actor_ref, actor("count"));
    assert_eq!(a.constraints, strings(&[("hostcore.os", "linux")]));
    let la: StartActorCommand = reqs[1].decode();
    assert_eq!((la.actor_ref, la.count), (actor("count"), 1));
    assert_eq!(la.host_id, host);

    // wash ctl scale actor HOST ECHO echo.wasm --count 3 --annotations app=demo: with actor_id.
    let sc: ScaleActorCommand = s
        .the_request(8, "scale actor to 3, with an annotation", &s.cmd("scale"))
        .decode();
    assert_eq!(sc.actor_id.as_deref(), Some(s.echo.as_str()));
    assert_eq!(sc.actor_ref, actor("echo"));
    assert_eq!(sc.count, Some(3));
    assert_eq!(sc.annotations, Some(strings(&[("app", "demo")])));
    assert_eq!(sc.host_id, host);

    check_common_wash_steps(&s, 9);

    // wash ctl stop actor HOST ECHO --count 2
    let sa: StopActorCommand = s
        .the_request(17, "stop actor, 2 instances", &s.cmd("sa"))
        .decode();
    assert_eq!(sa.actor_ref, s.echo, "the actor's public key");
    assert_eq!(sa.count, Some(2));
    assert_eq!(sa.host_id, host);
}

#[test]
fn wash_0_21_requests_carry_what_the_command_lines_asked_for() {
    let s = session("wash-0.21.1");
    let host = Some(s.host.clone());

    // wash ctl start actor echo.wasm --host-id HOST --max-concurrent 2: the late dialect, a
    // cmd.scale without actor_id whose count is the --max-concurrent value.
    let sc: ScaleActorCommand = s
        .the_request(
            5,
            "start actor on a given host, max concurrent 2",
            &s.cmd("scale"),
        )
        .decode();
    assert_eq!(sc.actor_id, None, "0.21 sends no actor_id");
    assert_eq!(sc.actor_ref, actor("echo"), "the path as typed");
    assert_eq!(sc.count, Some(2));
    assert_eq!((sc.annotations, sc.host_id), (None, host.clone()));

    // wash ctl start actor count.wasm --constraint hostcore.os=linux: auction, then scale with
    // the default --max-concurrent 1.
    let reqs = s.ctl(6, "start actor without a host (auction, with a constraint)");
    assert_eq!(
        reqs.iter()
            .map(|w| w.ctl_tail().unwrap())
            .collect::<Vec<_>>(),
        vec!["auction.actor".to_string(), s.cmd("scale")]
    );
    let a: ActorAuctionRequest = reqs[0].decode();
    assert_eq!(a.actor_ref, actor("count"));
    assert_eq!(a.constraints, strings(&[("hostcore.os", "linux")]));
    let sc: ScaleActorCommand = reqs[1].decode();
    assert_eq!(
        (sc.actor_id, sc.actor_ref, sc.count),
        (None, actor("count"), Some(1))
    );
    assert_eq!(sc.host_id, host);

    // wash ctl scale actor HOST echo.wasm --max-concurrent 3 --annotations app=demo
    let sc: ScaleActorCommand = s
        .the_request(8, "scale actor to 3, with an annotation", &s.cmd("scale"))
        .decode();
    assert_eq!(sc.actor_id, None, "0.21 sends no actor_id");
    assert_eq!(sc.actor_ref, actor("echo"));
    assert_eq!(sc.count, Some(3));
    assert_eq!(sc.annotations, Some(strings(&[("app", "demo")])));
    assert_eq!(sc.host_id, host);

    check_common_wash_steps(&s, 9);

    // wash ctl stop actor HOST ECHO --count 2: 0.21 ignores --count and sends none (= all).
    let w = s.the_request(17, "stop actor, 2 instances", &s.cmd("sa"));
    let raw: Value = w.decode();
    assert!(raw.get("count").is_none(), "{raw}");
    let sa: StopActorCommand = w.decode();
    assert_eq!(sa.actor_ref, s.echo, "the actor's public key");
    assert_eq!(sa.count, None);
    assert_eq!(sa.host_id, host);
}

/// The documents of `cic-0.28.1/encoded/`, written by `wasmcloud_control_interface::json_serialize`
/// from values of the crate's reply types (scripts/record-peers/cic-0.28/src/main.rs).
fn encoded(name: &str) -> Vec<u8> {
    read(&peers_dir().join(format!("cic-0.28.1/encoded/{name}.json")))
}

fn decode_encoded<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_slice(&encoded(name)).unwrap_or_else(|e| panic!("encoded/{name}.json: {e}"))
}

/// The keys the encoder program used.
const ENC_HOST: &str = "NBSSBPBAAGQF5WVVQKHF2WIECPOVAKZD7WQWDUXQCGDLXH6SXHD7T6UL";
const ENC_CLUSTER: &str = "CDLWTMCVTG2BTLYBI4HE7R5GBWA3ZW3VFCNXA6EYJ6G6YRNB3RHTFIAU";
const ENC_KVREDIS: &str = "VAZVC4RX54J2NVCMCW7BPCAHGGG5XZXDBXFUMDUXGESTMQEJLC3YVZWB";

#[test]
fn reply_documents_encoded_by_the_real_crate_decode() {
    let labels = strings(&[
        ("hostcore.arch", "x86_64"),
        ("hostcore.os", "linux"),
        ("hostcore.osfamily", "unix"),
        ("region", "eu-west"),
    ]);

    let h: Host = decode_encoded("host");
    assert_eq!(h.id, ENC_HOST);
    assert_eq!(h.labels, labels);
    assert_eq!(h.uptime_seconds, 312);
    assert_eq!(h.uptime_human.as_deref(), Some("5 minutes, 12 seconds"));
    assert_eq!(h.version.as_deref(), Some("0.63.2"));
    assert_eq!(h.cluster_issuers.as_deref(), Some(ENC_CLUSTER));
    assert_eq!(h.lattice_prefix.as_deref(), Some("default"));
    assert_eq!(h.ctl_host.as_deref(), Some("127.0.0.1"));
    assert_eq!(h.js_domain, None, "skipped when None");
    // 0.28.1's `Host` has neither `friendly_name` nor `issuer`.
    assert_eq!((h.friendly_name.as_str(), h.issuer.as_deref()), ("", None));
    let h: Host = decode_encoded("host_default");
    assert_eq!((h.id.as_str(), h.uptime_seconds), ("", 0));
    assert!(h.labels.is_empty());

    let inv: HostInventory = decode_encoded("host_inventory");
    assert_eq!(inv.host_id, ENC_HOST);
    assert_eq!(inv.issuer.as_deref(), Some(ENC_CLUSTER));
    assert_eq!(inv.friendly_name, "silent-breeze-1234");
    assert_eq!(inv.labels, labels);
    assert_eq!(inv.actors.len(), 1);
    let a = &inv.actors[0];
    assert_eq!(a.id, ECHO);
    assert_eq!(a.image_ref.as_deref(), Some(ECHO_REF));
    assert_eq!(a.name.as_deref(), Some("echo"));
    assert_eq!(a.instances.len(), 2);
    assert_eq!(
        a.instances[0].instance_id,
        "2a2f2dcd-f0b1-401b-b1cd-df0594642394"
    );
    assert_eq!(
        a.instances[0].annotations,
        Some(strings(&[("app", "demo")]))
    );
    assert_eq!(a.instances[1].annotations, None, "skipped when None");
    assert!(a.instances.iter().all(|i| i.revision == 4));
    // 0.28.1 has no max_concurrent: absent, read as 1.
    assert!(a.instances.iter().all(|i| i.max_concurrent == 1));
    assert_eq!(inv.providers.len(), 1);
    let p = &inv.providers[0];
    assert_eq!(p.id, HTTP);
    assert_eq!(p.image_ref.as_deref(), Some(HTTP_REF));
    assert_eq!(p.contract_id, HTTPSERVER);
    assert_eq!(p.link_name, "default");
    assert_eq!(p.name.as_deref(), Some("HTTP Server"));
    assert_eq!(p.annotations, Some(StringMap::new()));
    assert_eq!(p.revision, 0);
    // 0.28.1's `ProviderDescription` has no instance_id.
    assert_eq!(p.instance_id, "");
    let inv: HostInventory = decode_encoded("host_inventory_empty");
    assert_eq!(inv.host_id, "");
    assert_eq!(
        inv.issuer.as_deref(),
        Some(""),
        "0.28.1 writes `issuer: \"\"`"
    );
    assert!(inv.actors.is_empty() && inv.providers.is_empty() && inv.labels.is_empty());

    let links: LinkDefinitionList = decode_encoded("link_definition_list");
    assert_eq!(links.links.len(), 2);
    let l = &links.links[0];
    assert_eq!(
        (
            l.actor_id.as_str(),
            l.provider_id.as_str(),
            l.contract_id.as_str(),
            l.link_name.as_str()
        ),
        (ECHO, HTTP, HTTPSERVER, "default")
    );
    assert_eq!(l.values, strings(&[("PORT", "8080")]));
    // The crate's LinkDefinition has no id: read as empty, computable from the key fields.
    assert_eq!(l.id, "");
    assert_eq!(
        l.clone().with_id().id,
        "879372F6693791C32625E40710C11093D3973F57E7E56AFF9A815DEF65BA9353"
    );
    let l = &links.links[1];
    assert_eq!(
        (l.provider_id.as_str(), l.contract_id.as_str()),
        (ENC_KVREDIS, "wasmcloud:keyvalue")
    );
    assert_eq!(l.values, strings(&[("URL", "redis://127.0.0.1:6379/")]));
    let links: LinkDefinitionList = decode_encoded("link_definition_list_empty");
    assert!(links.links.is_empty());

    let claims: GetClaimsResponse = decode_encoded("get_claims_response");
    assert_eq!(claims.claims.len(), 2);
    let c = &claims.claims[0];
    assert_eq!(c["sub"], ECHO);
    assert_eq!(c["iss"], ACCOUNT);
    assert_eq!(c["caps"], "wasmcloud:httpserver,wasmcloud:builtin:logging");
    assert_eq!(c["rev"], "4");
    assert_eq!(c.len(), 9);
    assert_eq!(claims.claims[1]["contract_id"], HTTPSERVER);

    let ack: CtlOperationAck = decode_encoded("ctl_operation_ack_accepted");
    assert_eq!(ack, CtlOperationAck::ok());
    let ack: CtlOperationAck = decode_encoded("ctl_operation_ack_rejected");
    assert_eq!(
        ack,
        CtlOperationAck::fail("Invalid launch actor JSON request")
    );
    let ack: CtlOperationAck = decode_encoded("ctl_operation_ack_default");
    assert_eq!(ack, CtlOperationAck::fail(""));

    let a: ActorAuctionAck = decode_encoded("actor_auction_ack");
    assert_eq!(
        (a.actor_ref.as_str(), a.host_id.as_str()),
        (ECHO_REF, ENC_HOST)
    );
    assert_eq!(a.constraints, strings(&[("region", "eu-west")]));
    let p: ProviderAuctionAck = decode_encoded("provider_auction_ack");
    assert_eq!(
        (
            p.provider_ref.as_str(),
            p.link_name.as_str(),
            p.host_id.as_str()
        ),
        (HTTP_REF, "default", ENC_HOST)
    );
    assert!(p.constraints.is_empty(), "0.28.1's ack has no constraints");

    assert_eq!(
        json_files(&peers_dir().join("cic-0.28.1/encoded")),
        [
            "actor_auction_ack",
            "ctl_operation_ack_accepted",
            "ctl_operation_ack_default",
            "ctl_operation_ack_rejected",
            "get_claims_response",
            "host",
            "host_default",
            "host_inventory",
            "host_inventory_empty",
            "link_definition_list",
            "link_definition_list_empty",
            "provider_auction_ack",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
        "every encoded document is checked"
    );
}
