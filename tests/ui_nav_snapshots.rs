//! Navigation in the console (issue 8 §2): sorting by column, the drill-down stack with its
//! breadcrumbs and `Esc` back, the actor and provider views, the raw JSON overlay (`y`), the id
//! a `c` copies, and scrolling of the detail pane, the views and the overlay. Insta snapshots
//! on a `TestBackend` of a model built by replaying events with fixed timestamps, plus
//! assertions on the order of rows and on the view state.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use lattice_tui::lattice::protocol::{
    ActorEventClaims, ActorStarted, ActorUpdateFailed, ActorUpdated, EventData, HeartbeatActors,
    HeartbeatProvider, HostHeartbeat, HostStarted, LatticeEvent, LinkDefinition,
    ProviderEventClaims, ProviderStarted, StringMap,
};
use lattice_tui::state::{
    self, Lattice, LocalActor, LocalHost, LocalReload, ModelConfig, Timestamp,
};
use lattice_tui::ui::{self, Mode, RowKey, Tab, Target, ViewState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;

fn t0() -> Timestamp {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0() + Duration::seconds(secs)
}

fn now() -> Timestamp {
    at(100)
}

/// A 56-character key starting with `prefix`.
fn key(prefix: &str) -> String {
    format!("{prefix:A<56}")
}

fn map(pairs: &[(&str, &str)]) -> StringMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const EDGE: &str = "NEDGE1";
const CORE: &str = "NCORE2";
const ECHO: &str = "MECHO";
const KV: &str = "MKVCOUNTER";
const HTTP: &str = "VHTTPSERVER";

struct Story {
    model: Lattice,
    seq: u32,
}

impl Story {
    fn ev(&mut self, secs: i64, host: &str, data: EventData) {
        self.seq += 1;
        let source = if host == "n/a" {
            host.to_string()
        } else {
            key(host)
        };
        let ev = LatticeEvent::new(format!("ev-{:03}", self.seq), source, at(secs), data);
        state::apply(&mut self.model, &ev, at(secs));
    }

    fn host(&mut self, secs: i64, host: &str, name: &str) {
        self.ev(
            secs,
            host,
            EventData::HostStarted(HostStarted {
                labels: map(&[("region", "eu-west")]),
                friendly_name: name.into(),
                uptime_seconds: Some(0),
                version: Some("0.82.0".into()),
            }),
        );
    }

    fn actor(&mut self, secs: i64, host: &str, actor: &str, name: &str, instance: &str) {
        self.ev(
            secs,
            host,
            EventData::ActorStarted(ActorStarted {
                public_key: key(actor),
                image_ref: Some(format!("wasmcloud.azurecr.io/{name}:0.3.8")),
                api_version: None,
                instance_id: instance.into(),
                annotations: map(&[("lattice-tui.dev/watch", "true")]),
                claims: Some(ActorEventClaims {
                    name: Some(name.into()),
                    revision: Some(3),
                    issuer: Some(key("AISSUER")),
                    caps: Some(vec!["wasmcloud:httpserver".into()]),
                    tags: Some(vec!["demo".into()]),
                    version: Some("0.3.8".into()),
                    expires_human: Some("never".into()),
                    ..ActorEventClaims::default()
                }),
            }),
        );
    }

    fn heartbeat(&mut self, secs: i64, host: &str, actors: &[(&str, u64)]) {
        self.ev(
            secs,
            host,
            EventData::HostHeartbeat(HostHeartbeat {
                actors: HeartbeatActors::Counts(
                    actors
                        .iter()
                        .map(|(a, n)| (key(a), *n))
                        .collect::<BTreeMap<_, _>>(),
                ),
                providers: vec![HeartbeatProvider {
                    public_key: key(HTTP),
                    link_name: "default".into(),
                    contract_id: "wasmcloud:httpserver".into(),
                    instance_id: None,
                }],
                labels: map(&[("region", "eu-west")]),
                friendly_name: String::new(),
                version: Some("0.82.0".into()),
                uptime_seconds: Some(secs.max(0) as u64 + 3600),
                uptime_human: None,
            }),
        );
    }
}

/// Two hosts; echo (2 instances on edge-1, 1 on core-2, updated once), kvcounter (1 on
/// edge-1, a failed update), the HTTP provider on both, two links; edge-1 is the console's
/// embedded host and reloaded echo.
fn lattice() -> Lattice {
    let mut model = Lattice::new("default", ModelConfig::default());
    model.connection.transport = "in-process".into();
    model.connection.state = "connected".into();
    let mut s = Story { model, seq: 0 };
    s.host(0, EDGE, "edge-1");
    s.host(1, CORE, "core-2");
    s.actor(10, EDGE, ECHO, "echo", "i-echo-1");
    s.actor(11, EDGE, ECHO, "echo", "i-echo-2");
    s.actor(12, EDGE, KV, "kvcounter", "i-kv-1");
    s.actor(13, CORE, ECHO, "echo", "i-echo-3");
    s.ev(
        20,
        EDGE,
        EventData::ProviderStarted(ProviderStarted {
            public_key: key(HTTP),
            image_ref: Some("builtin:httpserver".into()),
            link_name: "default".into(),
            contract_id: "wasmcloud:httpserver".into(),
            instance_id: "p-http-1".into(),
            annotations: StringMap::new(),
            claims: Some(ProviderEventClaims {
                name: Some("HTTP Server".into()),
                version: Some("0.1.0".into()),
                ..ProviderEventClaims::default()
            }),
        }),
    );
    for (secs, actor, port) in [(40, ECHO, "8080"), (41, KV, "8081")] {
        s.ev(
            secs,
            "n/a",
            EventData::LinkdefSet(LinkDefinition {
                id: String::new(),
                actor_id: key(actor),
                provider_id: key(HTTP),
                link_name: "default".into(),
                contract_id: "wasmcloud:httpserver".into(),
                values: map(&[("PORT", port)]),
            }),
        );
    }
    s.ev(
        50,
        EDGE,
        EventData::ActorUpdated(ActorUpdated {
            public_key: key(ECHO),
            revision: 4,
            instance_id: "i-echo-1".into(),
        }),
    );
    s.ev(
        55,
        EDGE,
        EventData::ActorUpdateFailed(ActorUpdateFailed {
            public_key: key(KV),
            revision: 5,
            instance_id: "i-kv-1".into(),
            reason: "module validation failed: missing export".into(),
        }),
    );
    s.heartbeat(60, EDGE, &[(ECHO, 2), (KV, 1)]);
    s.heartbeat(61, CORE, &[(ECHO, 1)]);
    state::tick(&mut s.model, now());
    state::set_local(
        &mut s.model,
        LocalHost {
            host_id: key(EDGE),
            actors: [(
                key(ECHO),
                LocalActor {
                    calls: 42,
                    revision: 4,
                    digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                        .into(),
                    source: "/work/actors/echo.wasm".into(),
                    watched: true,
                    last_reload: Some(LocalReload {
                        at: Some(at(58)),
                        revision: 4,
                        digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                            .into(),
                        total_us: 167_830,
                        ..LocalReload::default()
                    }),
                    ..LocalActor::default()
                },
            )]
            .into(),
            serving: Vec::new(),
            data_watch_error: None,
        },
    );
    s.model
}

fn draw(model: &Lattice, view: &mut ViewState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| ui::render(f, model, view, now())).unwrap();
    term
}

fn wide(model: &Lattice, view: &mut ViewState) -> Terminal<TestBackend> {
    draw(model, view, 120, 30)
}

fn narrow(model: &Lattice, view: &mut ViewState) -> Terminal<TestBackend> {
    draw(model, view, 80, 24)
}

fn text(term: &Terminal<TestBackend>) -> String {
    format!("{}", term.backend())
}

fn press(view: &mut ViewState, model: &Lattice, code: KeyCode) -> ui::Outcome {
    view.handle_key(&KeyEvent::new(code, KeyModifiers::NONE), model)
}

fn ch(view: &mut ViewState, model: &Lattice, c: char) -> ui::Outcome {
    press(view, model, KeyCode::Char(c))
}

fn on_tab(model: &Lattice, tab: Tab) -> ViewState {
    let mut v = ViewState::new(false);
    let _ = v.apply(ui::Action::GoTab(tab), model);
    v
}

/// The keys of the rows `view` shows on `tab`, in order.
fn order(view: &ViewState, model: &Lattice, tab: Tab) -> Vec<RowKey> {
    let rows = view.rows_of(tab, model);
    (0..rows.len()).filter_map(|i| rows.key(i)).collect()
}

fn actor_row(host: &str, actor: &str) -> RowKey {
    RowKey::Actor {
        host: key(host),
        actor: key(actor),
    }
}

/// The JSON the overlay shows, parsed.
fn overlay_json(view: &ViewState) -> Value {
    let j = view.json().expect("the JSON overlay is open");
    serde_json::from_str(&j.lines.join("\n")).expect("the overlay shows valid JSON")
}

// ---------------------------------------------------------------------------------------------
// Sorting.

#[test]
fn a_sorted_table_shows_the_arrow_in_its_header() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Actors);
    // o: the first column (NAME) ascending; O reverses it.
    let _ = ch(&mut v, &m, 'o');
    let asc = text(&wide(&m, &mut v));
    assert!(asc.contains("NAME▲"), "{asc}");
    let _ = ch(&mut v, &m, 'O');
    insta::assert_snapshot!("sorted_by_name_descending", wide(&m, &mut v).backend());
    let names: Vec<RowKey> = order(&v, &m, Tab::Actors);
    // kvcounter first; the two echo rows tie on the name and go by id (then host id).
    assert_eq!(
        names,
        [
            actor_row(EDGE, KV),
            actor_row(CORE, ECHO),
            actor_row(EDGE, ECHO)
        ]
    );
}

#[test]
fn every_column_sorts_both_ways_stably_with_ties_by_id() {
    let m = lattice();
    for tab in [Tab::Hosts, Tab::Actors, Tab::Providers, Tab::Links] {
        let mut v = on_tab(&m, tab);
        let default = order(&v, &m, tab);
        let n = ui::sort::sortable_columns(tab);
        assert!(n > 0);
        for column in 0..n {
            let _ = ch(&mut v, &m, 'o');
            assert_eq!(
                v.sort_of(tab).map(|s| (s.column, s.descending)),
                Some((column, false))
            );
            let asc = order(&v, &m, tab);
            // The same rows, and the same order every time (stable, deterministic).
            let mut a = asc.clone();
            let mut d = default.clone();
            a.sort_by_key(|k| k.to_string());
            d.sort_by_key(|k| k.to_string());
            assert_eq!(a, d, "{tab:?} column {column}");
            assert_eq!(asc, order(&v, &m, tab));
            let _ = ch(&mut v, &m, 'O');
            let desc = order(&v, &m, tab);
            assert_eq!(desc.len(), asc.len());
            let _ = ch(&mut v, &m, 'O');
            assert_eq!(
                order(&v, &m, tab),
                asc,
                "O twice is the ascending order again"
            );
        }
        // After the last column: the default order.
        let _ = ch(&mut v, &m, 'o');
        assert_eq!(v.sort_of(tab), None);
        assert_eq!(order(&v, &m, tab), default);
    }
}

#[test]
fn numbers_sort_as_numbers_and_ties_stay_by_id_in_both_directions() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Actors);
    // INST is column 3: echo@edge-1 has 2, kvcounter@edge-1 and echo@core-2 have 1.
    for _ in 0..4 {
        let _ = ch(&mut v, &m, 'o');
    }
    assert_eq!(v.sort_of(Tab::Actors).map(|s| s.column), Some(3));
    assert_eq!(
        order(&v, &m, Tab::Actors),
        [
            actor_row(CORE, ECHO),
            actor_row(EDGE, KV),
            actor_row(EDGE, ECHO)
        ]
    );
    let _ = ch(&mut v, &m, 'O');
    assert_eq!(
        order(&v, &m, Tab::Actors),
        [
            actor_row(EDGE, ECHO),
            actor_row(CORE, ECHO),
            actor_row(EDGE, KV)
        ]
    );
    // CALLS (column 5): only edge-1's echo has a count; the others have none and stay last.
    let _ = ch(&mut v, &m, 'o');
    let _ = ch(&mut v, &m, 'o');
    let _ = ch(&mut v, &m, 'O');
    assert_eq!(order(&v, &m, Tab::Actors)[0], actor_row(EDGE, ECHO));
    assert_eq!(
        order(&v, &m, Tab::Actors)[1..],
        [actor_row(CORE, ECHO), actor_row(EDGE, KV)]
    );
}

#[test]
fn the_selection_stays_on_the_same_object_after_a_resort() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Actors);
    wide(&m, &mut v);
    let _ = ch(&mut v, &m, 'j');
    let picked = v.selected().cloned().expect("a selection");
    for _ in 0..3 {
        let _ = ch(&mut v, &m, 'o');
        let _ = ch(&mut v, &m, 'O');
        let term = wide(&m, &mut v);
        assert_eq!(v.selected(), Some(&picked));
        let rows = v.rows_of(Tab::Actors, &m);
        let at = (0..rows.len()).find(|&i| rows.has_key(i, &picked)).unwrap();
        assert!(text(&term).contains(&format!(" {}/3 ", at + 1)));
    }
}

#[test]
fn the_events_tab_keeps_its_arrival_order() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Events);
    let before = order(&v, &m, Tab::Events);
    let _ = ch(&mut v, &m, 'o');
    assert_eq!(v.sort_of(Tab::Events), None);
    assert_eq!(order(&v, &m, Tab::Events), before);
    assert_eq!(v.status(), Some("Events stay in arrival order"));
}

// ---------------------------------------------------------------------------------------------
// Drill-down.

#[test]
fn enter_and_esc_walk_the_navigation_stack() {
    let m = lattice();
    let mut v = ViewState::new(false);
    wide(&m, &mut v);
    // Hosts by name: core-2, edge-1.
    let _ = ch(&mut v, &m, 'j');
    assert!(press(&mut v, &m, KeyCode::Enter).dirty);
    assert_eq!(v.tab(), Tab::Actors);
    assert_eq!(v.host_filter(), Some(key(EDGE).as_str()));
    assert_eq!(v.crumbs(&m), ["Hosts", "edge-1", "Actors"]);
    insta::assert_snapshot!("breadcrumbs_host_level", wide(&m, &mut v).backend());
    // Actors of edge-1 by name: echo, kvcounter. Enter opens echo's view.
    assert!(press(&mut v, &m, KeyCode::Enter).dirty);
    assert_eq!(v.object(), Some(&Target::Actor(key(ECHO))));
    assert_eq!(v.crumbs(&m), ["Hosts", "edge-1", "Actors", "echo"]);
    assert_eq!(v.levels().len(), 2);
    // Enter in a view does nothing.
    assert!(!press(&mut v, &m, KeyCode::Enter).dirty);
    // Esc: back to edge-1's actors, echo still selected.
    assert!(press(&mut v, &m, KeyCode::Esc).dirty);
    assert_eq!(v.object(), None);
    assert_eq!(v.tab(), Tab::Actors);
    assert_eq!(v.host_filter(), Some(key(EDGE).as_str()));
    assert_eq!(v.selected(), Some(&actor_row(EDGE, ECHO)));
    // A /filter goes first, then the host level.
    let _ = ch(&mut v, &m, '/');
    let _ = ch(&mut v, &m, 'k');
    let _ = press(&mut v, &m, KeyCode::Enter);
    assert_eq!(v.text_filter(), "k");
    assert!(press(&mut v, &m, KeyCode::Esc).dirty);
    assert_eq!(v.text_filter(), "");
    assert_eq!(v.host_filter(), Some(key(EDGE).as_str()));
    assert!(press(&mut v, &m, KeyCode::Esc).dirty);
    assert_eq!(v.tab(), Tab::Hosts);
    assert_eq!(v.host_filter(), None);
    assert!(v.levels().is_empty());
    assert_eq!(v.selected(), Some(&RowKey::Host(key(EDGE))));
    // At the root, with no filter, Esc changes nothing.
    assert!(!press(&mut v, &m, KeyCode::Esc).dirty);
}

#[test]
fn another_tab_closes_a_view_and_links_and_events_show_the_detail() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Providers);
    let _ = press(&mut v, &m, KeyCode::Enter);
    assert_eq!(
        v.object(),
        Some(&Target::Provider {
            public_key: key(HTTP),
            link_name: "default".into()
        })
    );
    assert_eq!(v.crumbs(&m), ["Providers", "HTTP Server"]);
    let _ = ch(&mut v, &m, '4');
    assert_eq!(v.object(), None);
    assert!(v.levels().is_empty());
    let _ = ch(&mut v, &m, 'd');
    assert!(!v.detail_shown());
    assert!(press(&mut v, &m, KeyCode::Enter).dirty);
    assert!(v.detail_shown());
    assert!(v.levels().is_empty());
}

#[test]
fn the_actor_view_has_instances_claims_links_and_history() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let _ = ch(&mut v, &m, 'j');
    let _ = press(&mut v, &m, KeyCode::Enter);
    let _ = press(&mut v, &m, KeyCode::Enter);
    let term = draw(&m, &mut v, 120, 40);
    let screen = text(&term);
    for want in [
        "Hosts › edge-1 › Actors › echo",
        "i-echo-1 rev",
        "i-echo-3 rev",
        "lattice-tui.dev/watch=true",
        "caps: wasmcloud:httpserver",
        "tags: demo",
        "wasmcloud:httpserver default → HTTP Server PORT=8080",
        "updated to rev 4",
        "reloaded to rev 4",
    ] {
        assert!(
            screen.contains(want),
            "actor view lacks {want:?}:\n{screen}"
        );
    }
    insta::assert_snapshot!("actor_view", term.backend());
}

#[test]
fn the_provider_view_lists_its_hosts_and_links() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Providers);
    let _ = press(&mut v, &m, KeyCode::Enter);
    insta::assert_snapshot!("provider_view", wide(&m, &mut v).backend());
}

// ---------------------------------------------------------------------------------------------
// Raw JSON and copying.

#[test]
fn y_shows_the_json_of_each_kind_of_object() {
    let m = lattice();
    let cases: [(Tab, &[&str], Value); 5] = [
        (Tab::Hosts, &["id"], Value::String(key(CORE))),
        (Tab::Actors, &["actor", "id"], Value::String(key(ECHO))),
        (
            Tab::Providers,
            &["provider", "public_key"],
            Value::String(key(HTTP)),
        ),
        (Tab::Links, &["actor_id"], Value::String(key(ECHO))),
        (
            Tab::Events,
            &["kind"],
            Value::String("host_heartbeat".into()),
        ),
    ];
    for (tab, path, want) in cases {
        let mut v = on_tab(&m, tab);
        let _ = ch(&mut v, &m, 'y');
        assert_eq!(v.mode(), Mode::Json, "{tab:?}");
        let j = overlay_json(&v);
        let got = path.iter().fold(&j, |j, k| &j[*k]);
        assert_eq!(got, &want, "{tab:?}: {j:#}");
        // An actor or provider row carries its host; an event its data.
        match tab {
            Tab::Actors | Tab::Providers => assert_eq!(j["host_id"], Value::String(key(CORE))),
            Tab::Events => assert!(j["data"].is_object(), "{j:#}"),
            _ => {}
        }
        // y (or Esc) closes it.
        let _ = ch(&mut v, &m, 'y');
        assert_eq!(v.mode(), Mode::Normal);
        assert!(v.json().is_none());
    }
}

#[test]
fn the_json_of_an_actor_view_spans_every_host() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Actors);
    let _ = press(&mut v, &m, KeyCode::Enter);
    let _ = ch(&mut v, &m, 'y');
    let j = overlay_json(&v);
    assert_eq!(j["public_key"], Value::String(key(ECHO)));
    assert!(j["hosts"][key(EDGE)].is_object() && j["hosts"][key(CORE)].is_object());
    assert_eq!(j["links"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["claims"]["name"], Value::String("echo".into()));
}

#[test]
fn the_json_overlay_scrolls_and_says_where_it_is() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let _ = ch(&mut v, &m, 'y');
    let first = text(&narrow(&m, &mut v));
    assert!(first.contains(" JSON host core-2"), "{first}");
    assert!(first.contains(" 1-20/"), "{first}");
    for _ in 0..5 {
        let _ = ch(&mut v, &m, 'j');
    }
    let _ = press(&mut v, &m, KeyCode::PageDown);
    insta::assert_snapshot!("json_overlay_scrolled", narrow(&m, &mut v).backend());
    // G: the last page; past it nothing moves (clamped), one k moves one line up.
    let _ = ch(&mut v, &m, 'G');
    let bottom = text(&narrow(&m, &mut v));
    let len = v.json().map(|j| j.lines.len()).unwrap();
    assert!(bottom.contains(&format!("-{len}/{len} ")), "{bottom}");
    assert!(!ch(&mut v, &m, 'j').dirty || text(&narrow(&m, &mut v)) == bottom);
    let _ = ch(&mut v, &m, 'k');
    let up = text(&narrow(&m, &mut v));
    assert!(up.contains(&format!("-{}/{len} ↓", len - 1)), "{up}");
    let _ = press(&mut v, &m, KeyCode::Esc);
    assert_eq!(v.mode(), Mode::Normal);
}

#[test]
fn c_asks_the_app_to_copy_the_selected_id() {
    let m = lattice();
    let mut v = ViewState::new(false);
    let out = ch(&mut v, &m, 'c');
    assert_eq!(out.copy.as_deref(), Some(key(CORE).as_str()));
    let mut v = on_tab(&m, Tab::Providers);
    assert_eq!(ch(&mut v, &m, 'c').copy, Some(key(HTTP)));
    let mut v = on_tab(&m, Tab::Actors);
    let _ = ch(&mut v, &m, 'j');
    let _ = press(&mut v, &m, KeyCode::Enter);
    assert!(v.object().is_some());
    assert_eq!(ch(&mut v, &m, 'c').copy, Some(key(ECHO)));
    // Moving does not copy.
    assert_eq!(ch(&mut v, &m, 'j').copy, None);
}

// ---------------------------------------------------------------------------------------------
// Scrolling.

#[test]
fn the_detail_pane_scrolls_with_shift_j_and_k_and_clamps() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Actors);
    let first = text(&narrow(&m, &mut v));
    assert!(first.contains(" 1-6/"), "{first}");
    let shift = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT);
    for _ in 0..4 {
        let _ = v.handle_key(&shift('J'), &m);
    }
    insta::assert_snapshot!("detail_pane_scrolled", narrow(&m, &mut v).backend());
    // Far past the end: clamped to the last page, and K moves up from there at once.
    for _ in 0..200 {
        let _ = v.handle_key(&shift('J'), &m);
    }
    let bottom = text(&narrow(&m, &mut v));
    let len: usize = bottom
        .split(" ↑ ")
        .nth(1)
        .and_then(|s| s.split('/').nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("an indicator");
    assert!(bottom.contains(&format!("-{len}/{len} ")), "{bottom}");
    let _ = v.handle_key(&shift('K'), &m);
    let up = text(&narrow(&m, &mut v));
    assert!(up.contains(&format!("-{}/{len} ↓", len - 1)), "{up}");
    // Another row starts at the top again.
    let _ = ch(&mut v, &m, 'j');
    assert!(text(&narrow(&m, &mut v)).contains(" 1-6/"));
}

#[test]
fn the_actor_view_scrolls_with_the_row_keys() {
    let m = lattice();
    let mut v = on_tab(&m, Tab::Actors);
    let _ = press(&mut v, &m, KeyCode::Enter);
    let top = text(&draw(&m, &mut v, 80, 16));
    assert!(top.contains(" 1-"), "{top}");
    let _ = ch(&mut v, &m, 'j');
    let _ = ch(&mut v, &m, 'j');
    let moved = text(&draw(&m, &mut v, 80, 16));
    assert!(moved.contains(" ↑ 3-"), "{moved}");
    // The table's selection did not move underneath.
    let _ = press(&mut v, &m, KeyCode::Esc);
    assert_eq!(v.selected(), Some(&actor_row(CORE, ECHO)));
}

#[test]
fn views_and_the_overlay_never_panic_on_small_terminals() {
    let m = lattice();
    let mut views = Vec::new();
    let mut actor = on_tab(&m, Tab::Actors);
    let _ = press(&mut actor, &m, KeyCode::Enter);
    views.push(actor.clone());
    let _ = ch(&mut actor, &m, 'y');
    views.push(actor);
    let mut host = ViewState::new(false);
    let _ = press(&mut host, &m, KeyCode::Enter);
    views.push(host);
    for mut v in views {
        for w in [0u16, 1, 2, 5, 12, 30] {
            for h in [0u16, 1, 2, 3, 4, 6, 10] {
                for _ in 0..3 {
                    let _ = ch(&mut v, &m, 'G');
                    let _ =
                        v.handle_key(&KeyEvent::new(KeyCode::Char('J'), KeyModifiers::SHIFT), &m);
                    draw(&m, &mut v, w, h);
                }
            }
        }
    }
}
