//! Insta snapshots of every prompt, confirmation and status line of the `:` command line, as
//! the console draws them (ratatui `TestBackend`, the App driven key by key with fixed
//! timestamps, replies and events fed in as the run loop would): the prompt with its
//! completion hints, Tab candidates, usage / unknown / ambiguous errors, the host pick
//! question, each confirmation question, and an action's sent / ack / progress / outcome /
//! refusal / timeout lines. Each snapshot is the footer row of a 120×16 frame.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration, TimeZone, Utc};
use lattice_tui::app::act::{ActMsg, Effect};
use lattice_tui::app::{App, ConsoleConfig, Msg};
use lattice_tui::lattice::monitor::MonitorMsg;
use lattice_tui::lattice::protocol::{
    ActorEventClaims, ActorStartFailed, ActorStarted, EventData, HeartbeatActors,
    HeartbeatProvider, HostHeartbeat, LatticeEvent, LinkDefinition,
};
use lattice_tui::state::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

const ONE: &str = "NAONEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const TWO: &str = "NBTWOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const ECHO: &str = "MBECHOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const EVER: &str = "MBEVERAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const HTTP: &str = "VAHTTPAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn t(s: i64) -> Timestamp {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

struct Console {
    app: App,
    seq: u64,
}

impl Console {
    /// Two hosts: `one` runs echo and ever, `two` runs echo and the HTTP provider; ever is
    /// linked to it.
    fn new(readonly: bool) -> Self {
        let cfg = ConsoleConfig {
            no_color: true,
            readonly,
            ..ConsoleConfig::new("default")
        };
        let mut c = Console {
            app: App::new(&cfg, "nats://127.0.0.1:4222".into()),
            seq: 0,
        };
        c.heartbeat(ONE, "one", &[(ECHO, 1), (EVER, 1)], false);
        c.heartbeat(TWO, "two", &[(ECHO, 1)], true);
        for (host, key, name, reference) in [
            (ONE, ECHO, "echo", "./echo.wasm"),
            (ONE, EVER, "ever", "./ever.wasm"),
            (TWO, ECHO, "echo", "./echo.wasm"),
        ] {
            c.started(host, key, name, reference, "i0");
        }
        c.event(
            TWO,
            EventData::LinkdefSet(
                LinkDefinition {
                    id: String::new(),
                    actor_id: EVER.into(),
                    provider_id: HTTP.into(),
                    link_name: "default".into(),
                    contract_id: "wasmcloud:httpserver".into(),
                    values: Default::default(),
                }
                .with_id(),
            ),
        );
        c
    }

    fn event(&mut self, host: &str, data: EventData) {
        self.seq += 1;
        let ev = LatticeEvent::new(format!("ev-{}", self.seq), host, t(1), data);
        self.app
            .update(Msg::Monitor(MonitorMsg::Event(Arc::new(ev))), t(1));
    }

    fn heartbeat(&mut self, host: &str, name: &str, actors: &[(&str, u64)], http: bool) {
        let providers = if http {
            vec![HeartbeatProvider {
                public_key: HTTP.into(),
                link_name: "default".into(),
                contract_id: "wasmcloud:httpserver".into(),
                instance_id: None,
            }]
        } else {
            vec![]
        };
        self.event(
            host,
            EventData::HostHeartbeat(HostHeartbeat {
                actors: HeartbeatActors::Counts(
                    actors.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
                ),
                providers,
                labels: Default::default(),
                friendly_name: name.into(),
                version: None,
                uptime_seconds: Some(1),
                uptime_human: None,
            }),
        );
    }

    fn started(&mut self, host: &str, key: &str, name: &str, reference: &str, instance: &str) {
        self.event(
            host,
            EventData::ActorStarted(ActorStarted {
                public_key: key.into(),
                image_ref: Some(reference.into()),
                api_version: None,
                instance_id: instance.into(),
                annotations: Default::default(),
                claims: Some(ActorEventClaims {
                    name: Some(name.into()),
                    ..ActorEventClaims::default()
                }),
            }),
        );
    }

    fn key(&mut self, code: KeyCode) {
        self.app.update(
            Msg::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))),
            t(2),
        );
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// `:` + `line`, not submitted.
    fn typing(&mut self, line: &str) {
        self.key(KeyCode::Char(':'));
        self.type_text(line);
    }

    /// `:` + `line` + Enter.
    fn submit(&mut self, line: &str) {
        self.typing(line);
        self.key(KeyCode::Enter);
    }

    /// The id of the one effect the App wants sent, after checking there is exactly one.
    fn sent(&mut self) -> u64 {
        let effects: Vec<Effect> = self.app.actions.effects.drain(..).collect();
        match effects.as_slice() {
            [Effect::Request { id, .. } | Effect::Auction { id, .. }] => *id,
            other => panic!("expected one effect, got {other:?}"),
        }
    }

    fn reply(&mut self, id: u64, body: &'static str) {
        self.app.update(
            Msg::Act(ActMsg::Reply {
                id,
                result: Ok(Bytes::from_static(body.as_bytes())),
            }),
            t(3),
        );
    }

    /// The footer row as drawn.
    fn footer(&mut self) -> String {
        let mut term = Terminal::new(TestBackend::new(120, 16)).unwrap();
        let now = t(4);
        term.draw(|f| lattice_tui::ui::render(f, &self.app.model, &mut self.app.view, now))
            .unwrap();
        let buf = term.backend().buffer();
        let y = buf.area.height - 1;
        let row: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        row.trim_end().to_owned()
    }
}

const ACCEPTED: &str = r#"{"accepted":true,"error":""}"#;

#[test]
fn the_prompt_and_its_completion_hints() {
    let mut c = Console::new(false);
    c.typing("");
    insta::assert_snapshot!("prompt_empty", c.footer());
    c.type_text("sc");
    insta::assert_snapshot!("prompt_partial_command", c.footer());
    c.type_text("ale ");
    insta::assert_snapshot!("prompt_usage_of_scale", c.footer());
    c.key(KeyCode::Tab);
    insta::assert_snapshot!("prompt_tab_lists_actors", c.footer());
    c.key(KeyCode::Esc);
    c.typing("st");
    c.key(KeyCode::Tab);
    insta::assert_snapshot!("prompt_tab_lists_commands", c.footer());
    c.key(KeyCode::Esc);
    c.typing("stop-host t");
    c.key(KeyCode::Tab);
    insta::assert_snapshot!("prompt_tab_completes_a_host", c.footer());
}

#[test]
fn mistakes_say_what_is_wrong() {
    let mut c = Console::new(false);
    c.submit("scale echo");
    insta::assert_snapshot!("error_usage", c.footer());
    c.submit("scale echo lots");
    insta::assert_snapshot!("error_not_a_count", c.footer());
    c.submit("scael echo 3");
    insta::assert_snapshot!("error_unknown_command", c.footer());
    c.submit("scale nobody 3");
    insta::assert_snapshot!("error_unknown_actor_lists_candidates", c.footer());
    c.submit("scale MBE 3");
    insta::assert_snapshot!("error_ambiguous_lists_candidates", c.footer());
    c.submit("scale echo 3");
    insta::assert_snapshot!("ask_which_host_it_runs_on", c.footer());
    c.key(KeyCode::Esc);
    c.submit("stop-actor ever --host two");
    insta::assert_snapshot!("error_not_on_that_host", c.footer());
    assert!(
        c.app.actions.effects.is_empty(),
        "no mistake sends anything"
    );
}

#[test]
fn every_confirmation_question_and_the_cancel() {
    let mut c = Console::new(false);
    for (name, line) in [
        ("confirm_stop_actor", "stop-actor ever"),
        ("confirm_stop_actor_on_a_host", "stop-actor echo --host two"),
        ("confirm_stop_provider", "stop-provider VAHTTP"),
        ("confirm_unlink", "unlink ever wasmcloud:httpserver"),
        ("confirm_stop_host", "stop-host two"),
    ] {
        c.submit(line);
        insta::assert_snapshot!(name, c.footer());
        c.key(KeyCode::Char('n'));
        assert!(c.app.actions.effects.is_empty(), "{line}: nothing sent");
    }
    insta::assert_snapshot!("cancelled", c.footer());
    c.submit("stop-host two");
    c.key(KeyCode::Char('y'));
    c.sent();
    insta::assert_snapshot!("confirmed_and_sent", c.footer());
}

#[test]
fn an_action_from_sent_to_outcome() {
    let mut c = Console::new(false);
    c.submit("start-actor ./new.wasm --count 2 --host one");
    let id = c.sent();
    insta::assert_snapshot!("status_sent", c.footer());
    c.reply(id, ACCEPTED);
    insta::assert_snapshot!("status_accepted_start", c.footer());
    c.started(
        ONE,
        "MNEWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "new",
        "./new.wasm",
        "a",
    );
    insta::assert_snapshot!("status_start_progress", c.footer());
    c.started(
        ONE,
        "MNEWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "new",
        "./new.wasm",
        "b",
    );
    insta::assert_snapshot!("status_outcome_started", c.footer());

    c.submit("scale ever 3");
    let id = c.sent();
    c.reply(id, ACCEPTED);
    insta::assert_snapshot!("status_accepted", c.footer());
    c.heartbeat(ONE, "one", &[(ECHO, 1), (EVER, 3)], false);
    insta::assert_snapshot!("status_outcome_scaled", c.footer());

    c.submit("start-actor ./bad.wasm --host one");
    let id = c.sent();
    c.reply(id, ACCEPTED);
    c.event(
        ONE,
        EventData::ActorStartFailed(ActorStartFailed {
            actor_ref: "./bad.wasm".into(),
            error: "not a WebAssembly component".into(),
        }),
    );
    insta::assert_snapshot!("status_outcome_start_failed", c.footer());

    c.submit("scale ever 9");
    let id = c.sent();
    c.reply(
        id,
        r#"{"accepted":false,"error":"more than --max-instances"}"#,
    );
    insta::assert_snapshot!("status_refused_by_the_host", c.footer());

    c.submit("update-actor ever ./ever2.wasm");
    let id = c.sent();
    c.reply(id, ACCEPTED);
    c.app.update(Msg::Tick, t(2) + Duration::seconds(31));
    insta::assert_snapshot!("status_timed_out", c.footer());

    c.submit("start-provider builtin:httpserver");
    let id = c.sent();
    c.app.update(
        Msg::Act(ActMsg::Bids {
            id,
            result: Ok(vec![]),
        }),
        t(3),
    );
    insta::assert_snapshot!("status_no_bid_in_the_auction", c.footer());
}

#[test]
fn a_readonly_console_refuses() {
    let mut c = Console::new(true);
    c.submit("scale ever 3");
    insta::assert_snapshot!("readonly_refused", c.footer());
    assert!(c.app.actions.effects.is_empty());
}
