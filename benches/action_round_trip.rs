//! An action's round trip through the console against the same request from a bare client,
//! over a local nats-server with a lattice-tui host running the example `hello` actor:
//!
//! - (a) `wasmcloud-control-interface` 0.28.1 `scale_actor` → its ack returned; (a′) → the
//!   scale seen in a console model fed by the monitor (the event path every client shares);
//!   (a2) the same request as a bare `Bus::request` (lattice-tui's async-nats 0.51);
//! - (b) the console's App driven directly: the Enter key of a typed `:scale hello N` → its
//!   effect runs on the bus (`app::act::execute`, polled in the same task, as the run loop
//!   polls it) → the reply goes through `App::update` → the status says `accepted…` — (b0)
//!   in the view state, (b) then drawn on a `TestBackend` by the console's `Screen`, the
//!   frame the loop draws (the footer line alone when nothing else changed since the last
//!   frame); (c) → `N running` drawn (the outcome, from the events). Each round starts with
//!   the screen drawn (the other paths' scales changed the model), as a user sees it before
//!   typing;
//! - (d) the real console loop (`app::run_loop` in a task, keys through its input channel, a
//!   backend that notes when a flushed frame first shows a text): Enter → the ack on screen;
//!   (e) → the outcome on screen; the binary runs its console this way (a task on the
//!   runtime's workers, `lattice_tui::run`). (d′) and (e′): the same loop run on the thread
//!   of the runtime's `block_on`, where the binary ran it before, its keys still from a task.
//!
//! The operations alternate the count between 1 and 2 and rotate through the paths, so each
//! sees the same work. Prints medians and the ratios. Run:
//! `cargo bench --bench action_round_trip`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use lattice_tui::app::act::{self, ActMsg};
use lattice_tui::app::screen::Screen;
use lattice_tui::app::{App, ConsoleConfig, Inputs, Msg, run_loop};
use lattice_tui::host;
use lattice_tui::lattice::bus::{Bus, BusOptions};
use lattice_tui::lattice::monitor::{self, MonitorMsg};
use lattice_tui::lattice::protocol::{EventData, LatticeEvent};
use lattice_tui::lattice::subjects::{CmdVerb, Subjects};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Position, Size};
use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

#[path = "../tests/common/mod.rs"]
mod common;

const LATTICE: &str = "bench";
const ROUNDS: usize = 100;
const WAIT: Duration = Duration::from_secs(30);

fn key(app: &mut App, code: KeyCode) {
    app.update(
        Msg::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))),
        Utc::now(),
    );
}

fn draw(screen: &mut Screen, app: &mut App, term: &mut Terminal<TestBackend>) {
    screen.draw(term, app, Utc::now()).expect("draw");
}

fn count(app: &App, host: &str, pk: &str) -> u64 {
    app.model
        .hosts
        .get(host)
        .and_then(|h| h.actors.get(pk))
        .map_or(0, |a| a.count())
}

/// Whether `m` is a scale's last event: the host publishes `actors_started` /
/// `actors_stopped` after the event of each instance.
fn ends_a_scale(m: &MonitorMsg) -> bool {
    matches!(m, MonitorMsg::Event(ev)
        if matches!(ev.data, EventData::ActorsStarted(_) | EventData::ActorsStopped(_)))
}

/// Feeds the monitor's messages to the App until the actor runs `n` instances and, unless
/// `ended` says it came already, the scale's last event arrived: an operation's trailing
/// events never land in the next operation's measured time.
async fn settle(
    app: &mut App,
    mon: &mut mpsc::Receiver<MonitorMsg>,
    (host, pk): (&str, &str),
    n: u64,
    mut ended: bool,
) {
    tokio::time::timeout(WAIT, async {
        while count(app, host, pk) != n || !ended {
            let m = mon.recv().await.expect("monitor running");
            ended |= ends_a_scale(&m);
            app.update(Msg::Monitor(m), Utc::now());
        }
    })
    .await
    .expect("the model settles");
}

/// (b) and (c) for one typed `:scale hello n`, and whether the scale's last event came.
async fn console_round(
    app: &mut App,
    (screen, term): (&mut Screen, &mut Terminal<TestBackend>),
    bus: &Bus,
    mon: &mut mpsc::Receiver<MonitorMsg>,
    n: u16,
) -> (Duration, Duration, Duration, bool) {
    // The screen as the user sees it before typing.
    if app.needs_frame() {
        draw(screen, app, term);
    }
    let line = format!("scale hello {n}");
    key(app, KeyCode::Char(':'));
    for c in line.chars() {
        key(app, KeyCode::Char(c));
    }
    let mut requests = FuturesUnordered::<BoxFuture<'static, ActMsg>>::new();
    let accepted = format!("{line}: accepted…");
    let done = format!("{line}: {n} running");
    let t = Instant::now();
    key(app, KeyCode::Enter);
    for effect in app.actions.effects.drain(..) {
        let bus = bus.clone();
        requests.push(Box::pin(async move { act::execute(&bus, effect).await }));
    }
    let (mut seen, mut ack, mut ended) = (None, None, false);
    tokio::time::timeout(WAIT, async {
        loop {
            let status = app.view.status().unwrap_or_default().to_owned();
            if ack.is_none() && (status == accepted || status == done) {
                seen = Some(t.elapsed());
                draw(screen, app, term);
                ack = Some(t.elapsed());
            }
            if status == done {
                draw(screen, app, term);
                return;
            }
            assert!(
                status.starts_with(&line) && !status.contains("refused"),
                "{status}"
            );
            tokio::select! {
                Some(m) = requests.next(), if !requests.is_empty() => {
                    app.update(Msg::Act(m), Utc::now());
                }
                Some(m) = mon.recv() => {
                    ended |= ends_a_scale(&m);
                    app.update(Msg::Monitor(m), Utc::now());
                }
            }
        }
    })
    .await
    .expect("the console's action settles");
    (
        seen.expect("acked"),
        ack.expect("acked"),
        t.elapsed(),
        ended,
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Watched texts, each with when a flushed frame first showed it.
type Watch = Arc<Mutex<Vec<(String, Option<Instant>)>>>;

/// A `TestBackend` that notes the first flushed frame showing a watched text (and wakes the
/// driver then).
struct Watching {
    inner: TestBackend,
    watch: Watch,
    seen: Arc<Notify>,
}

impl Backend for Watching {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        let mut watch = self.watch.lock().expect("watch");
        if watch.iter().all(|(_, at)| at.is_some()) {
            return Ok(());
        }
        let now = Instant::now();
        let buf = self.inner.buffer();
        let screen: String = buf.content().iter().map(|c| c.symbol()).collect();
        for (text, at) in watch.iter_mut() {
            if at.is_none() && screen.contains(text.as_str()) {
                *at = Some(now);
                self.seen.notify_one();
            }
        }
        Ok(())
    }
}

/// (d) and (e): `rounds` typed `:scale hello N` through the real console loop, in a task of
/// its own; with `in_this_task`, (d′) and (e′): in the calling task (the bench's `block_on`).
async fn run_loop_rounds(
    bus: &Bus,
    cfg: &ConsoleConfig,
    rounds: usize,
    in_this_task: bool,
) -> (Vec<Duration>, Vec<Duration>) {
    let watch: Watch = Arc::default();
    let seen = Arc::new(Notify::new());
    let backend = Watching {
        inner: TestBackend::new(120, 30),
        watch: Arc::clone(&watch),
        seen: Arc::clone(&seen),
    };
    let (in_tx, in_rx) = mpsc::channel(64);
    let (mon_tx, mon_rx) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let monitor = tokio::spawn(monitor::run(
        bus.clone(),
        cfg.monitor.clone(),
        mon_tx,
        cancel.clone(),
    ));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let console = {
        let bus = bus.clone();
        let cfg = cfg.clone();
        async move {
            let mut app = App::new(&cfg, bus.transport().to_string());
            let mut term = Terminal::new(backend).expect("terminal");
            let inputs = Inputs {
                input: in_rx,
                monitor: Some(mon_rx),
                monitor_stopped: None,
                build: None,
                host: None,
                subscribed: None,
                stop: Box::pin(async move {
                    let _ = stop_rx.await;
                }),
                bus: Some(bus),
            };
            run_loop(&mut app, &mut term, inputs).await.expect("loop");
        }
    };
    // The user: keys into the loop's input channel, from a task (as the terminal's input
    // task sends them).
    let user = tokio::spawn(async move {
        let press = |code: KeyCode| {
            let tx = in_tx.clone();
            async move {
                tx.send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
                    .await
                    .expect("loop running");
            }
        };
        let shown = |texts: &[String]| {
            let mut w = watch.lock().expect("watch");
            *w = texts.iter().map(|t| (t.clone(), None)).collect();
        };
        let first_seen = |i: usize| watch.lock().expect("watch").get(i).and_then(|w| w.1);
        // Wait until the console knows the actor: the Actors tab lists it.
        shown(&["[2 Actors]".to_owned(), "hello".to_owned()]);
        press(KeyCode::Char('2')).await;
        tokio::time::timeout(WAIT, async {
            while first_seen(1).is_none() {
                seen.notified().await;
            }
        })
        .await
        .expect("the console shows the actor");
        let (mut d, mut e) = (vec![], vec![]);
        let mut n = 1u16;
        for _ in 0..rounds {
            n = 3 - n;
            let line = format!("scale hello {n}");
            shown(&[format!("{line}: accepted…"), format!("{line}: {n} running")]);
            press(KeyCode::Char(':')).await;
            for c in line.chars() {
                press(KeyCode::Char(c)).await;
            }
            let t = Instant::now();
            press(KeyCode::Enter).await;
            let (ack, outcome) = tokio::time::timeout(WAIT, async {
                loop {
                    if let (ack, Some(done)) = (first_seen(0), first_seen(1)) {
                        // The outcome may replace the ack within one frame: then it showed
                        // both.
                        return (ack.unwrap_or(done).min(done), done);
                    }
                    seen.notified().await;
                }
            })
            .await
            .expect("the outcome on screen");
            d.push(ack.saturating_duration_since(t));
            e.push(outcome.saturating_duration_since(t));
        }
        let _ = stop_tx.send(());
        (d, e)
    });
    if in_this_task {
        console.await;
    } else {
        tokio::spawn(console).await.expect("the console loop");
    }
    let rounds = user.await.expect("the user");
    cancel.cancel();
    let _ = monitor.await;
    rounds
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let nats = common::NatsServer::start();
    rt.block_on(async {
        let bus = Bus::connect(BusOptions::new(nats.url()))
            .await
            .expect("connect");
        let s = Subjects::new(LATTICE);
        let wasm = common::actors::actor_wasm("hello")
            .to_string_lossy()
            .into_owned();
        let mut events = bus.subscribe(&s.events()).await.expect("subscribe");
        let host = host::start(
            bus.clone(),
            common::lattice::config_allowing_test_actors(LATTICE),
        )
        .await
        .expect("host");
        let host_id = host.id();
        let la = s.host_command(&host_id, CmdVerb::LaunchActor);
        let scale = s.host_command(&host_id, CmdVerb::Scale);
        let body = json!({"actor_ref": wasm, "count": 1, "host_id": host_id});
        bus.request(&la, Bytes::from(body.to_string()), WAIT)
            .await
            .expect("la ack");
        let pk = loop {
            let msg = events.next().await.expect("events");
            if let Ok(ev) = LatticeEvent::from_json(&msg.payload)
                && let EventData::ActorStarted(d) = ev.data
            {
                break d.public_key;
            }
        };
        drop(events);

        // The console: an App fed by a monitor on its own connection, as `run_console` does.
        let console_bus = Bus::connect(BusOptions::new(nats.url()))
            .await
            .expect("connect");
        let mut cfg = ConsoleConfig::new(LATTICE);
        cfg.no_color = true;
        let mut app = App::new(&cfg, console_bus.transport().to_string());
        let (mon_tx, mut mon) = mpsc::channel(1024);
        let cancel = CancellationToken::new();
        let monitor = tokio::spawn(monitor::run(
            console_bus.clone(),
            cfg.monitor.clone(),
            mon_tx,
            cancel.clone(),
        ));
        settle(&mut app, &mut mon, (&host_id, &pk), 1, true).await;
        let mut term = Terminal::new(TestBackend::new(120, 30)).expect("terminal");
        let mut screen = Screen::new();

        // The bare client, with the async-nats of its own era.
        let nc = cic_async_nats::connect(nats.url()).await.expect("connect");
        let cic = wasmcloud_control_interface::ClientBuilder::new(nc)
            .lattice_prefix(LATTICE)
            .rpc_timeout(Duration::from_secs(5))
            .build()
            .await
            .expect("client");

        let (mut a, mut a_seen, mut a2) = (vec![], vec![], vec![]);
        let (mut b0, mut b, mut c) = (vec![], vec![], vec![]);
        // Each operation flips the count (1 ↔ 2); the paths take turns, so with three paths
        // each scales up and down equally often.
        let mut n = 1u16;
        for op in 0..3 * ROUNDS {
            n = 3 - n;
            match op % 3 {
                0 => {
                    let t = Instant::now();
                    let ack = cic
                        .scale_actor(&host_id, &wasm, &pk, n, None)
                        .await
                        .expect("scale_actor");
                    let acked = t.elapsed();
                    assert!(ack.accepted, "{}", ack.error);
                    settle(&mut app, &mut mon, (&host_id, &pk), u64::from(n), false).await;
                    a.push(acked);
                    a_seen.push(t.elapsed());
                }
                1 => {
                    let body =
                        json!({"actor_id": pk, "actor_ref": wasm, "count": n, "host_id": host_id});
                    let t = Instant::now();
                    let reply = console_bus
                        .request(&scale, Bytes::from(body.to_string()), WAIT)
                        .await
                        .expect("scale ack");
                    a2.push(t.elapsed());
                    assert!(reply.payload.starts_with(br#"{"accepted":true"#));
                    settle(&mut app, &mut mon, (&host_id, &pk), u64::from(n), false).await;
                }
                _ => {
                    let (seen, ack, outcome, ended) = console_round(
                        &mut app,
                        (&mut screen, &mut term),
                        &console_bus,
                        &mut mon,
                        n,
                    )
                    .await;
                    b0.push(seen);
                    b.push(ack);
                    c.push(outcome);
                    settle(&mut app, &mut mon, (&host_id, &pk), u64::from(n), ended).await;
                }
            }
        }
        cancel.cancel();
        let _ = monitor.await;
        drop(mon);
        // Back to one instance, then the real loop.
        if n != 1 {
            cic.scale_actor(&host_id, &wasm, &pk, 1, None)
                .await
                .expect("scale_actor");
        }
        let (d, e) = run_loop_rounds(&console_bus, &cfg, ROUNDS, false).await;
        // The count is where the loop left it (an even number of rounds: 1).
        let (d1, e1) = run_loop_rounds(&console_bus, &cfg, ROUNDS, true).await;

        let (a, a_seen, a2) = (median(a), median(a_seen), median(a2));
        let (b0, b, c, d, e) = (median(b0), median(b), median(c), median(d), median(e));
        let (d1, e1) = (median(d1), median(e1));
        println!("action_round_trip over nats-server, {ROUNDS} operations per path (medians):");
        println!(
            "  (a)  CIC 0.28.1 scale_actor → ack                 {}",
            ms(a)
        );
        println!(
            "  (a') CIC scale_actor → the scale in the model      {}",
            ms(a_seen)
        );
        println!(
            "  (a2) bare Bus::request (async-nats 0.51) → ack     {}",
            ms(a2)
        );
        println!(
            "  (b0) App: Enter → status says `accepted…`          {}",
            ms(b0)
        );
        println!(
            "  (b)  App: Enter → `accepted…` drawn                {}",
            ms(b)
        );
        println!(
            "  (c)  App: Enter → `N running` drawn                {}",
            ms(c)
        );
        println!(
            "  (d)  run_loop: Enter → `accepted…` on screen       {}",
            ms(d)
        );
        println!(
            "  (e)  run_loop: Enter → `N running` on screen       {}",
            ms(e)
        );
        println!(
            "  (d') run_loop on the block_on thread: → `accepted…` {}",
            ms(d1)
        );
        println!(
            "  (e') run_loop on the block_on thread: → `N running` {}",
            ms(e1)
        );
        let r = |x: Duration, y: Duration| x.as_secs_f64() / y.as_secs_f64();
        println!(
            "  ack: (b0)/(a) = {:.2}, (b)/(a) = {:.2}, (d)/(a) = {:.2}, (d')/(a) = {:.2}; \
             outcome: (c)/(a') = {:.2}, (e)/(a') = {:.2}, (e')/(a') = {:.2}",
            r(b0, a),
            r(b, a),
            r(d, a),
            r(d1, a),
            r(c, a_seen),
            r(e, a_seen),
            r(e1, a_seen)
        );
        host.stop();
        host.stopped().await;
    });
}
