//! The console loop's I/O: the terminal, the input task, the monitor and build tasks, the
//! clock and frame ticks, the effects of actions on the bus, and the embedded host's facts.
//! Everything it receives goes through [`App::update`]; it owns no state of its own.

use std::task::Poll;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use super::screen::Screen;
use super::*;

/// What the console runs with besides the lattice.
#[derive(Default)]
pub struct Extras<'a> {
    /// The embedded host, for its call counts.
    pub host: Option<&'a HostHandle>,
    /// Fired once the console follows the lattice's events.
    pub subscribed: Option<oneshot::Sender<()>>,
    /// The dev build's command and events.
    pub build: Option<(String, mpsc::Receiver<BuildEvent>)>,
    /// The log ring the logs view reads.
    pub logs: Option<Arc<LogRing>>,
}

/// Everything the loop listens to. A `None` receiver (or one that closed) is not listened to.
pub struct Inputs<'a> {
    /// Terminal events; the stream ending (or failing) ends the loop.
    pub input: mpsc::Receiver<std::io::Result<Event>>,
    /// What the monitor reports.
    pub monitor: Option<mpsc::Receiver<MonitorMsg>>,
    /// Why the monitor stopped, once it does.
    pub monitor_stopped: Option<mpsc::Receiver<String>>,
    /// The dev build's command and events.
    pub build: Option<(String, mpsc::Receiver<BuildEvent>)>,
    /// The embedded host, whose facts are read on every clock tick.
    pub host: Option<&'a HostHandle>,
    /// Fired once the monitor follows the lattice's events.
    pub subscribed: Option<oneshot::Sender<()>>,
    /// Resolves when the console must stop from outside (SIGTERM, SIGINT).
    pub stop: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
    /// The lattice the console's actions are sent on; without it they fail at once.
    pub bus: Option<Bus>,
}

/// The next item of an optional channel; pending forever without one. Returns `None` once
/// the channel closed, and the caller then drops it (see [`close_on_none`]).
async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => futures::future::pending().await,
    }
}

/// Forgets a channel that reported its end, so its arm is not polled again.
fn close_on_none<T, U>(rx: &mut Option<mpsc::Receiver<T>>, got: &Option<U>) {
    if got.is_none() {
        *rx = None;
    }
}

/// Runs the console on `bus` until the user quits or SIGTERM/SIGINT arrives. Owns the
/// terminal for that time and restores it on every exit path. `subscribed` fires once the
/// console follows the lattice's events, so whatever starts then is seen as it happens.
///
/// # Errors
/// The terminal cannot be set up or drawn, or the input stream fails.
pub async fn run_console(bus: Bus, cfg: ConsoleConfig, extras: Extras<'_>) -> anyhow::Result<()> {
    let Extras {
        host,
        subscribed,
        build,
        logs,
    } = extras;
    let cancel = CancellationToken::new();
    let mut app = App::new(&cfg, bus.transport().to_string());
    if let Some(ring) = logs {
        app.set_log_ring(ring);
    }

    let (mon_tx, mon_rx) = mpsc::channel(MONITOR_QUEUE);
    let (stop_tx, stop_rx) = mpsc::channel::<String>(1);
    let monitor_cancel = cancel.child_token();
    let monitor = tokio::spawn({
        let bus = bus.clone();
        let cfg = cfg.monitor.clone();
        async move {
            let every = cfg.subjects.lattice() == ALL_LATTICES;
            let run = if every {
                crate::lattice::multi::run(bus, cfg, mon_tx, monitor_cancel.clone()).await
            } else {
                monitor::run(bus, cfg, mon_tx, monitor_cancel.clone()).await
            };
            let why = match run {
                Ok(()) if monitor_cancel.is_cancelled() => return,
                Ok(()) => "the event subscription ended".to_string(),
                Err(e) => e.to_string(),
            };
            let _ = stop_tx.send(why).await;
        }
    });

    let (mut terminal, guard) = TerminalGuard::enter().context("cannot set up the terminal")?;
    // The terminal's own stream: OSC 52 copies go out between frames.
    app.clipboard.set_writer(Box::new(std::io::stdout()));
    let (in_tx, in_rx) = mpsc::channel(INPUT_QUEUE);
    let input = tokio::spawn(read_input(in_tx, cancel.child_token()));
    let mut signals = Signals::new()?;

    let inputs = Inputs {
        input: in_rx,
        monitor: Some(mon_rx),
        monitor_stopped: Some(stop_rx),
        build,
        host,
        subscribed,
        stop: Box::pin(async move { signals.recv().await }),
        bus: Some(bus.clone()),
    };
    let result = run_loop(&mut app, &mut terminal, inputs).await;

    cancel.cancel();
    drop(guard);
    for task in [monitor, input] {
        if tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .is_err()
        {
            tracing::warn!("a console task did not stop within 2 s");
        }
    }
    result
}

/// The console loop over any ratatui backend: every input goes through [`App::update`],
/// frames are drawn when dirty (at most one per [`FRAME_INTERVAL`]). Returns when the user
/// quits, `inputs.stop` resolves or the input stream ends.
///
/// # Errors
/// Drawing fails, or the input stream reports an error.
pub async fn run_loop<B: Backend>(
    app: &mut App,
    terminal: &mut Terminal<B>,
    inputs: Inputs<'_>,
) -> anyhow::Result<()>
where
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let Inputs {
        mut input,
        mut monitor,
        mut monitor_stopped,
        build,
        host,
        mut subscribed,
        mut stop,
        bus,
    } = inputs;
    // The actions' requests in flight, polled by this loop itself: the reply wakes the loop
    // directly, with no task and channel in between (benches/action_round_trip.rs). Each is
    // a future waiting on the bus, so a slow host never holds the loop. Bounded: `Actions`
    // refuses an action beyond `act::MAX_RUNNING` followed, and each has one request in
    // flight at a time.
    let mut requests: Requests = FuturesUnordered::new();
    let mut screen = Screen::new();
    let (build_command, mut build_rx) = match build {
        Some((c, rx)) => (c, Some(rx)),
        None => (String::new(), None),
    };
    let mut frame = tokio::time::interval(FRAME_INTERVAL);
    frame.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut clock = tokio::time::interval(CLOCK_INTERVAL);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(BATCH);

    let result: anyhow::Result<()> = loop {
        app.turns = app.turns.saturating_add(1);
        // Between frames: a copy's escape never lands inside a frame's output.
        if let Err(e) = app.clipboard.flush() {
            tracing::warn!(error = %e, "cannot write the clipboard escape");
        }
        if !app.actions.effects.is_empty() {
            send_effects(app, bus.as_ref(), &mut requests).await;
        }
        tokio::select! {
            biased;
            () = &mut stop => break Ok(()),
            Some(m) = requests.next(), if !requests.is_empty() => {
                app.update(Msg::Act(m), Utc::now());
            }
            ev = input.recv() => match ev {
                Some(Ok(ev)) => app.update(Msg::Input(ev), Utc::now()),
                Some(Err(e)) => break Err(e).context("reading terminal input failed"),
                None => break Ok(()),
            },
            // While the logs view is open, every frame tick pulls its new lines (and draws
            // only if some came or something else changed).
            _ = frame.tick(), if app.needs_frame() || app.view.logs_open() => {
                app.pull_logs();
                app.settle();
                if !app.needs_frame() {
                    continue;
                }
                if let Err(e) = screen.draw(terminal, app, Utc::now()) {
                    break Err(e);
                }
            }
            _ = clock.tick() => {
                if let Some(h) = host {
                    app.update(Msg::Local(local_facts(h)), Utc::now());
                }
                app.update(Msg::Tick, Utc::now());
            }
            why = recv_opt(&mut monitor_stopped) => {
                close_on_none(&mut monitor_stopped, &why);
                if let Some(why) = why {
                    app.update(Msg::MonitorStopped(why), Utc::now());
                }
            }
            ev = recv_opt(&mut build_rx) => {
                close_on_none(&mut build_rx, &ev);
                if let Some(event) = ev {
                    let command = build_command.clone();
                    app.update(Msg::Build { command, event }, Utc::now());
                }
            }
            n = recv_many_opt(&mut monitor, &mut batch) => {
                if n == 0 {
                    // Closed: recv_many returns 0 only then. Stop listening to it.
                    monitor = None;
                    continue;
                }
                let now = Utc::now();
                for m in batch.drain(..) {
                    if matches!(m, MonitorMsg::Subscribed)
                        && let Some(tx) = subscribed.take()
                    {
                        let _ = tx.send(());
                    }
                    app.update(Msg::Monitor(m), now);
                }
            }
        }
        if app.quit {
            break Ok(());
        }
        // An action's ack or outcome: not on the next frame tick (up to 33 ms later), the
        // user is waiting for it (benches/action_round_trip.rs).
        if app.urgent
            && let Err(e) = screen.draw(terminal, app, Utc::now())
        {
            break Err(e);
        }
    };
    result
}

/// The actions' requests in flight, each resolving to what came back.
type Requests = FuturesUnordered<BoxFuture<'static, act::ActMsg>>;

/// Puts the App's new effects in flight on `bus` (without one they fail at once) and sends
/// them now: each is polled once, which hands its request to the NATS connection's task, and
/// the loop yields so that task writes them to the socket before the loop goes on (to draw
/// `sent…`, say). Replies that are already there (no bus) go through `App::update`.
async fn send_effects(app: &mut App, bus: Option<&Bus>, requests: &mut Requests) {
    for effect in app.actions.effects.drain(..) {
        let bus = bus.cloned();
        requests.push(Box::pin(async move {
            match bus {
                Some(bus) => act::execute(&bus, effect).await,
                None => act::no_bus(effect),
            }
        }));
    }
    let mut replies = Vec::new();
    std::future::poll_fn(|cx| {
        while let Poll::Ready(Some(m)) = requests.poll_next_unpin(cx) {
            replies.push(m);
        }
        Poll::Ready(())
    })
    .await;
    tokio::task::yield_now().await;
    for m in replies {
        app.update(Msg::Act(m), Utc::now());
    }
}

/// Up to [`BATCH`] messages of an optional channel (pending forever without one); 0 once it
/// closed.
async fn recv_many_opt<T>(rx: &mut Option<mpsc::Receiver<T>>, batch: &mut Vec<T>) -> usize {
    match rx {
        Some(rx) => rx.recv_many(batch, BATCH).await,
        None => futures::future::pending().await,
    }
}

/// What the embedded host knows that the lattice protocol does not carry.
fn local_facts(h: &HostHandle) -> LocalHost {
    let mut serving: Vec<String> = h
        .host()
        .http_routes()
        .iter()
        .map(|r| {
            let slash = if r.path.starts_with('/') { "" } else { "/" };
            format!("http://{}{slash}{}", r.address, r.path)
        })
        .collect();
    serving.dedup();
    LocalHost {
        serving,
        host_id: h.host().id(),
        data_watch_error: h.host().data_watch_error(),
        actors: h
            .host()
            .actor_stats()
            .into_iter()
            .map(|a| {
                (
                    a.public_key,
                    LocalActor {
                        calls: a.calls.calls,
                        errors: a.calls.errors,
                        in_flight: a.calls.in_flight,
                        revision: a.revision,
                        digest: a.digest,
                        note: a.note,
                        source: a.source.to_string_lossy().into_owned(),
                        watched: a.watched,
                        last_reload: a.last_reload.map(|r| LocalReload {
                            at: Some(chrono::DateTime::<Utc>::from(r.at)),
                            revision: r.revision,
                            digest: r.digest,
                            detect_to_stable_us: micros(r.detect_to_stable),
                            stable_to_compiled_us: micros(r.stable_to_compiled),
                            swap_us: micros(r.swap),
                            total_us: micros(r.total),
                        }),
                        last_error: a.last_error,
                        last_call_failure: a.last_call_failure,
                    },
                )
            })
            .collect(),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Forwards terminal events. Key releases are dropped by the App (pitfall: double handling).
async fn read_input(tx: mpsc::Sender<std::io::Result<Event>>, cancel: CancellationToken) {
    let mut events = EventStream::new();
    loop {
        let ev = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            ev = events.next() => ev,
        };
        let Some(ev) = ev else { return };
        let failed = ev.is_err();
        if tx.send(ev).await.is_err() || failed {
            return;
        }
    }
}

/// SIGTERM and SIGINT: in raw mode Ctrl-C is a key, but `kill` from outside still arrives.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
