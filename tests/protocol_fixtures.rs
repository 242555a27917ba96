//! Decoding the event fixtures of `assets/events/` (PROTOCOL.md §3.1–§3.3): every file decodes to
//! its kind with the documented data, malformed input is an error value, an unknown type is kept
//! as `Unknown`, and encoding a decoded event decodes back to the same event.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lattice_tui::lattice::protocol::{
    DecodeError, EncodeError, EventData, EventKind, HeartbeatActors, LatticeEvent, NO_SOURCE,
    linkdef_hash,
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

/// Every fixture, its kind, and the `data` fields of PROTOCOL.md §3.2 / §3.3 it must carry.
const FIXTURES: &[(&str, EventKind, &[&str])] = &[
    (
        "host_started",
        EventKind::HostStarted,
        &["labels", "friendly_name", "uptime_seconds", "version"],
    ),
    ("host_stopped", EventKind::HostStopped, &["labels"]),
    ("host_heartbeat", EventKind::HostHeartbeat, HEARTBEAT_FIELDS),
    (
        "host_heartbeat_pre060",
        EventKind::HostHeartbeat,
        HEARTBEAT_FIELDS,
    ),
    (
        "actor_started",
        EventKind::ActorStarted,
        &[
            "public_key",
            "image_ref",
            "api_version",
            "instance_id",
            "annotations",
            "claims",
        ],
    ),
    (
        "actors_started",
        EventKind::ActorsStarted,
        &[
            "public_key",
            "image_ref",
            "annotations",
            "host_id",
            "claims",
            "count",
        ],
    ),
    (
        "actor_start_failed",
        EventKind::ActorStartFailed,
        &["actor_ref", "error"],
    ),
    (
        "actors_start_failed",
        EventKind::ActorsStartFailed,
        &["public_key", "image_ref", "annotations", "host_id", "error"],
    ),
    (
        "actor_stopped",
        EventKind::ActorStopped,
        &["public_key", "instance_id", "annotations"],
    ),
    (
        "actors_stopped",
        EventKind::ActorsStopped,
        &["host_id", "public_key", "count", "remaining", "annotations"],
    ),
    (
        "actor_updated",
        EventKind::ActorUpdated,
        &["public_key", "revision", "instance_id"],
    ),
    (
        "actor_update_failed",
        EventKind::ActorUpdateFailed,
        &["public_key", "revision", "instance_id", "reason"],
    ),
    (
        "provider_started",
        EventKind::ProviderStarted,
        &[
            "public_key",
            "image_ref",
            "link_name",
            "contract_id",
            "instance_id",
            "annotations",
            "claims",
        ],
    ),
    (
        "provider_start_failed",
        EventKind::ProviderStartFailed,
        &["provider_ref", "link_name", "error"],
    ),
    (
        "provider_stopped",
        EventKind::ProviderStopped,
        &[
            "public_key",
            "link_name",
            "contract_id",
            "instance_id",
            "annotations",
            "reason",
        ],
    ),
    (
        "health_check_passed",
        EventKind::HealthCheckPassed,
        HEALTH_FIELDS,
    ),
    (
        "health_check_failed",
        EventKind::HealthCheckFailed,
        HEALTH_FIELDS,
    ),
    (
        "health_check_status",
        EventKind::HealthCheckStatus,
        HEALTH_FIELDS,
    ),
    ("linkdef_set", EventKind::LinkdefSet, LINK_FIELDS),
    ("linkdef_deleted", EventKind::LinkdefDeleted, LINK_FIELDS),
    (
        "refmap_set",
        EventKind::RefmapSet,
        &["oci_url", "public_key"],
    ),
];

const HEARTBEAT_FIELDS: &[&str] = &[
    "actors",
    "providers",
    "labels",
    "friendly_name",
    "version",
    "uptime_seconds",
    "uptime_human",
];
const HEALTH_FIELDS: &[&str] = &["public_key", "contract_id", "link_name"];
const LINK_FIELDS: &[&str] = &[
    "id",
    "actor_id",
    "provider_id",
    "link_name",
    "contract_id",
    "values",
];
const ACTOR_CLAIMS_FIELDS: &[&str] = &[
    "call_alias",
    "caps",
    "issuer",
    "tags",
    "name",
    "version",
    "revision",
    "not_before_human",
    "expires_human",
];
const PROVIDER_CLAIMS_FIELDS: &[&str] = &[
    "issuer",
    "tags",
    "name",
    "version",
    "not_before_human",
    "expires_human",
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

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn is_nkey(k: &str, prefix: char) -> bool {
    k.len() == 56
        && k.starts_with(prefix)
        && k.chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
}

#[test]
fn the_fixture_set_is_one_file_per_event_type() {
    let on_disk = json_files(&events_dir());
    let listed: BTreeSet<String> = FIXTURES.iter().map(|(n, ..)| n.to_string()).collect();
    assert_eq!(on_disk, listed);
    // Every known kind has a fixture; the heartbeat has one per shape.
    let kinds: BTreeSet<EventKind> = FIXTURES.iter().map(|(_, k, _)| *k).collect();
    assert_eq!(kinds, EventKind::ALL.iter().copied().collect());
    let readme = std::fs::read_to_string(events_dir().join("README.md")).expect("README.md");
    for name in on_disk {
        assert!(
            readme.contains(&format!("`{name}.json`")),
            "{name} not in README"
        );
    }
    for name in json_files(&events_dir().join("malformed")) {
        assert!(
            readme.contains(&format!("`{name}.json`")),
            "{name} not in README"
        );
    }
}

#[test]
fn envelopes_are_cloudevents_as_the_otp_host_writes_them() {
    let mut ids = BTreeSet::new();
    for (name, kind, _) in FIXTURES {
        let v: Value = serde_json::from_slice(&fixture_bytes(name)).expect(name);
        assert_eq!(
            keys(&v),
            BTreeSet::from([
                "specversion",
                "id",
                "type",
                "source",
                "time",
                "datacontenttype",
                "data"
            ]),
            "{name}"
        );
        assert_eq!(v["specversion"], "1.0", "{name}");
        assert_eq!(v["datacontenttype"], "application/json", "{name}");
        assert_eq!(v["type"], kind.cloudevent_type(), "{name}");
        let id = v["id"].as_str().expect("id");
        let uuid = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(uuid.get_version_num(), 4, "{name}: {id}");
        assert_eq!(uuid.hyphenated().to_string(), id, "{name}: lower-case form");
        assert!(ids.insert(id.to_string()), "{name}: id {id} reused");
        let time = v["time"].as_str().expect("time");
        // `2023-05-16T18:03:11.123456Z`: UTC, microseconds.
        assert_eq!(time.len(), 27, "{name}: {time}");
        assert!(
            time.ends_with('Z') && time.as_bytes()[19] == b'.',
            "{name}: {time}"
        );
        chrono::DateTime::parse_from_rfc3339(time).unwrap_or_else(|e| panic!("{name}: {e}"));
        let source = v["source"].as_str().expect("source");
        match kind {
            EventKind::LinkdefSet | EventKind::LinkdefDeleted => assert_eq!(source, NO_SOURCE),
            _ => assert!(source == HOST || source == OLD_HOST, "{name}: {source}"),
        }
    }
}

#[test]
fn data_has_exactly_the_documented_fields() {
    for (name, _, fields) in FIXTURES {
        let v: Value = serde_json::from_slice(&fixture_bytes(name)).expect(name);
        let data = &v["data"];
        assert_eq!(keys(data), fields.iter().copied().collect(), "{name}");
        if let Some(claims) = data.get("claims") {
            let expected = if data.get("link_name").is_some() {
                PROVIDER_CLAIMS_FIELDS
            } else {
                ACTOR_CLAIMS_FIELDS
            };
            assert_eq!(
                keys(claims),
                expected.iter().copied().collect(),
                "{name} claims"
            );
        }
        // Every key-shaped value is a well-formed nkey of the right kind.
        for (field, prefix) in [
            ("public_key", None),
            ("actor_id", Some('M')),
            ("provider_id", Some('V')),
            ("host_id", Some('N')),
        ] {
            if let Some(k) = data.get(field).and_then(Value::as_str) {
                let prefix = prefix.unwrap_or_else(|| k.chars().next().unwrap_or('?'));
                assert!("MVN".contains(prefix), "{name}.{field}: {k}");
                assert!(is_nkey(k, prefix), "{name}.{field}: {k}");
            }
        }
        if let Some(issuer) = data.pointer("/claims/issuer").and_then(Value::as_str) {
            assert!(is_nkey(issuer, 'A'), "{name}: issuer {issuer}");
        }
    }
}

#[test]
fn heartbeat_shapes_are_the_documented_ones() {
    let v: Value = serde_json::from_slice(&fixture_bytes("host_heartbeat")).expect("json");
    assert!(v["data"]["actors"].is_object(), "0.60+: map");
    assert_eq!(v["data"]["actors"][ECHO], 2);
    assert_eq!(
        keys(&v["data"]["providers"][0]),
        BTreeSet::from(["public_key", "link_name", "contract_id"])
    );
    let v: Value = serde_json::from_slice(&fixture_bytes("host_heartbeat_pre060")).expect("json");
    let actors = v["data"]["actors"].as_array().expect("≤0.59: list");
    assert_eq!(actors.len(), 2);
    for a in actors {
        assert_eq!(keys(a), BTreeSet::from(["public_key", "instance_id"]));
    }
    assert_eq!(
        keys(&v["data"]["providers"][0]),
        BTreeSet::from(["public_key", "link_name", "contract_id", "instance_id"])
    );
}

#[test]
fn every_fixture_decodes_to_its_kind() {
    for (name, kind, _) in FIXTURES {
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
    for (name, kind, _) in FIXTURES {
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
