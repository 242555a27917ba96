//! The ways the binary runs: console with the embedded host (default), console alone
//! (`--no-host`), host alone (`--no-ui`), and the developer loop (`dev`: the same, with the
//! actors' files watched for hot reload and an optional build runner). Owns start-up and
//! shutdown order; everything else is in the modules it wires together.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::app;
use crate::cli::{Cli, DevArgs, HostArgs, LatticeArgs};
use crate::host::claims::ClaimsPolicy;
use crate::host::identity::{IdentityConfig, env_labels};
use crate::host::runtime::{PoolingMode, RuntimeConfig};
use crate::host::{self, HOST_SUBSCRIPTION_CAPACITY, HostConfig, HostHandle, HostLimits};
use crate::lattice::bus::Bus;
use crate::lattice::monitor::MonitorConfig;
use crate::lattice::protocol::StringMap;
use crate::lattice::subjects::Subjects;
use crate::state::{BuildUpdate, ModelConfig};
use crate::watch::{BuildConfig, BuildEvent, Builder, WatchConfig};

/// How long quitting waits for the embedded host to stop: its drain grace (10 s) plus the
/// bounded announcement ([`host::STOP_ANNOUNCE_TIMEOUT`]) and a margin. The host bounds each
/// step itself; this is the last word.
const HOST_STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// What to start once the host runs.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The console alone, without the embedded host.
    pub no_host: bool,
    /// Actor files to start.
    pub actors: Vec<PathBuf>,
    /// Serve the first actor over HTTP here.
    pub http: Option<String>,
    /// Hot-reload every started actor (`dev`).
    pub watch_all: bool,
    /// Quiet time before a changed file is reloaded.
    pub debounce: Duration,
    /// The dev build, if any.
    pub build: Option<BuildConfig>,
    /// The console refuses every mutating action (`--readonly`).
    pub readonly: bool,
}

impl Plan {
    /// `--actor` / `--http` / `--no-host` of a plain run.
    pub fn from_cli(cli: &Cli) -> Self {
        Self {
            no_host: cli.no_host,
            actors: cli.actors.clone(),
            http: cli.http.clone(),
            watch_all: false,
            debounce: WatchConfig::default().debounce,
            build: None,
            readonly: cli.readonly,
        }
    }

    /// `lattice-tui dev …`.
    pub fn from_dev(args: &DevArgs) -> Self {
        let debounce = Duration::from_millis(args.debounce);
        let build = args.build.as_ref().map(|cmd| {
            let mut b = BuildConfig::new(cmd.clone());
            b.sources = if args.watch_src.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                args.watch_src.clone()
            };
            // The artifacts may live inside a source directory: their writes must not rebuild.
            b.ignore = args.actors.clone();
            b.debounce = debounce;
            b
        });
        Self {
            no_host: false,
            actors: args.actors.clone(),
            http: Some(args.http.clone()),
            watch_all: true,
            debounce,
            build,
            readonly: false,
        }
    }
}

/// The host configuration the arguments describe.
pub fn host_config(lattice: &LatticeArgs, args: &HostArgs, plan: &Plan) -> HostConfig {
    let mut cfg = HostConfig::new(&lattice.lattice);
    cfg.identity = IdentityConfig {
        host_seed: args.host_seed.clone(),
        cluster_seed: args.cluster_seed.clone(),
        cluster_issuers: args.cluster_issuers.clone(),
        labels: args.labels.iter().cloned().collect(),
        env_labels: env_labels(std::env::vars()),
        friendly_name: args.friendly_name.clone(),
    };
    cfg.heartbeat_interval = Duration::from_secs(args.heartbeat_interval);
    cfg.rpc_timeout = Duration::from_millis(args.rpc_timeout_ms);
    cfg.rates = !args.no_rates;
    cfg.runtime = RuntimeConfig {
        max_execution_time: args.max_execution_time,
        max_linear_memory: args.max_linear_memory,
        pooling: match args.pooling.as_str() {
            "on" => PoolingMode::On,
            "off" => PoolingMode::Off,
            _ => PoolingMode::Auto,
        },
        instance_reuse: args.instance_reuse,
    };
    cfg.policy = ClaimsPolicy {
        require_signed: args.require_signed,
        allowed_issuers: args.allowed_issuers.clone(),
    };
    cfg.allow_file_load.clone_from(&args.allow_file_load);
    cfg.limits = HostLimits {
        max_instances: args.max_instances,
        ..HostLimits::default()
    };
    // In `dev` the developer is the HTTP client: a failed call's details go in its 500 body.
    cfg.http_error_details = plan.watch_all;
    cfg.hot_reload = WatchConfig {
        debounce: plan.debounce,
        ..WatchConfig::default()
    };
    cfg.watch_all = plan.watch_all;
    cfg
}

/// Connects to the lattice. `capacity` bounds each subscription (see
/// [`crate::lattice::bus::Bus::with_subscription_capacity`]).
async fn connect(lattice: &LatticeArgs, retry: bool, capacity: usize) -> anyhow::Result<Bus> {
    Ok(match lattice.nats_url() {
        Some(url) => {
            let mut opts = lattice.bus_options(url, retry);
            opts.subscription_capacity = capacity;
            Bus::connect(opts)
                .await
                .context("cannot reach the lattice")?
        }
        None => Bus::local_with_capacity(capacity),
    })
}

/// Starts the plan's actors and HTTP link. Returns the failures (the host keeps running).
async fn start_up(host: &HostHandle, plan: &Plan) -> Vec<String> {
    let mut failures = Vec::new();
    let mut first = None;
    for path in &plan.actors {
        let actor_ref = path.to_string_lossy().into_owned();
        let r = actor_ref.clone();
        match host
            .run(move |h| async move { h.start_actor(&r, 1, StringMap::new()).await })
            .await
        {
            Ok(Ok(pk)) => {
                tracing::info!(actor = %pk, path = %actor_ref, "actor started");
                first.get_or_insert(pk);
            }
            Ok(Err(e)) | Err(e) => failures.push(format!("actor {actor_ref}: {e}")),
        }
    }
    if let (Some(addr), Some(pk)) = (plan.http.clone(), first) {
        let a = addr.clone();
        match host
            .run(move |h| async move { h.serve_http(&pk, &a, "default").await })
            .await
        {
            Ok(Ok(())) => tracing::info!(address = %addr, "HTTP served on http://{addr}/"),
            Ok(Err(e)) | Err(e) => failures.push(format!("HTTP on {addr}: {e}")),
        }
    }
    failures
}

/// With a dev build, actor files that do not exist yet are its job: runs it once and waits
/// until every file exists (a failed build is retried by the next source change). Without a
/// build, or with every file there, returns at once.
async fn wait_for_artifacts(plan: &Plan, builder: Option<&Builder>) {
    let Some(builder) = builder else { return };
    let missing = |plan: &Plan| -> Vec<PathBuf> {
        plan.actors
            .iter()
            .filter(|p| !p.exists())
            .cloned()
            .collect()
    };
    let first = missing(plan);
    if first.is_empty() {
        return;
    }
    tracing::info!(missing = ?first, "actor files missing: running the build first");
    builder.trigger();
    while !missing(plan).is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::info!("the build produced every actor file");
}

/// Starts the dev build runner, if the plan has one.
fn start_build(
    plan: &Plan,
) -> anyhow::Result<Option<(Builder, String, tokio::sync::mpsc::Receiver<BuildEvent>)>> {
    let Some(cfg) = plan.build.clone() else {
        return Ok(None);
    };
    let command = cfg.command.clone();
    let sources = cfg.sources.clone();
    let (builder, rx) = Builder::start(cfg).context("cannot start the build runner")?;
    tracing::info!(%command, ?sources, "build runs when these sources change");
    Ok(Some((builder, command, rx)))
}

/// The console, with the embedded host unless `--no-host`.
///
/// `logs` is the ring the logging set-up feeds, for the logs view (`None`: the view stays
/// empty).
pub async fn console(
    lattice: &LatticeArgs,
    args: &HostArgs,
    plan: &Plan,
    logs: Option<std::sync::Arc<crate::logging::ring::LogRing>>,
) -> anyhow::Result<()> {
    // The console starts even when NATS is not up yet (it shows "connecting"); the host needs
    // the connection for its JetStream bucket, so with a host the first connect must succeed.
    // The console follows the event stream: its subscriptions get the large buffer (the host
    // sizes its own down on a sibling connection).
    let bus = connect(lattice, plan.no_host, lattice.event_buffer).await?;
    let host = if plan.no_host {
        None
    } else {
        let cfg = host_config(lattice, args, plan);
        Some(
            host::spawn(bus.clone(), cfg, usize::from(args.host_threads))
                .await
                .context("cannot start the embedded host")?,
        )
    };
    let mut monitor = MonitorConfig::new(Subjects::new(&lattice.lattice));
    monitor.ping_timeout = lattice.ping_timeout();
    let cfg = app::ConsoleConfig {
        lattice: lattice.lattice.clone(),
        model: ModelConfig {
            heartbeat_interval_secs: lattice.heartbeat_secs,
            ..ModelConfig::default()
        },
        monitor,
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        readonly: plan.readonly,
    };
    // Start the --actors once the console follows the lattice, so their events (and the
    // provider's first health check) show as they happen.
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let build = start_build(plan)?;
    let (builder, build_rx) = match build {
        Some((b, command, rx)) => (Some(b), Some((command, rx))),
        None => (None, None),
    };
    let startup = async {
        let Some(h) = host.as_ref() else { return };
        if subscribed_rx.await.is_err() {
            return;
        }
        // The build's progress shows in the console (header, `b`) meanwhile.
        wait_for_artifacts(plan, builder.as_ref()).await;
        for failure in start_up(h, plan).await {
            // Visible in the console too: the failure events are on the lattice.
            tracing::error!("{failure}");
        }
    };
    let extras = app::Extras {
        host: host.as_ref(),
        subscribed: Some(subscribed_tx),
        build: build_rx,
        logs,
    };
    // Quitting the console abandons a start-up still waiting for a first build.
    let result = {
        let console_run = app::run_console(bus, cfg, extras);
        tokio::pin!(console_run, startup);
        let mut started = false;
        loop {
            tokio::select! {
                r = &mut console_run => break r,
                () = &mut startup, if !started => started = true,
            }
        }
    };
    drop(builder);
    if let Some(h) = host {
        stop_host(h).await;
    }
    result
}

/// The host alone. Runs until SIGINT/SIGTERM or `cmd.{host}.stop`, then drains.
pub async fn headless(
    lattice: &LatticeArgs,
    args: &HostArgs,
    plan: &Plan,
) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let bus = connect(lattice, false, HOST_SUBSCRIPTION_CAPACITY).await?;
    let cfg = host_config(lattice, args, plan);
    let host = host::spawn(bus, cfg, usize::from(args.host_threads))
        .await
        .context("cannot start the host")?;
    tracing::info!(
        host_id = %host.host().id(),
        name = %host.host().friendly_name(),
        lattice = %lattice.lattice,
        "host running; SIGINT or SIGTERM stops it"
    );
    // The build watches its sources before the actors start, so no change is missed.
    let build = start_build(plan)?;
    let builder = build.map(|(builder, command, mut rx)| {
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                match app::build_update(ev) {
                    BuildUpdate::Started { run, trigger } => {
                        tracing::info!(run, ?trigger, %command, "build started");
                    }
                    BuildUpdate::Output { run, line, stderr } => {
                        tracing::info!(target: "build", run, stderr, "{line}");
                    }
                    BuildUpdate::Finished {
                        run,
                        success: true,
                        took_ms,
                        ..
                    } => {
                        tracing::info!(run, took_ms, "build succeeded");
                    }
                    BuildUpdate::Finished {
                        run, code, took_ms, ..
                    } => {
                        tracing::error!(
                            run,
                            ?code,
                            took_ms,
                            "build failed; the running version stays"
                        );
                    }
                    BuildUpdate::Cancelled { run } => {
                        tracing::info!(run, "build cancelled: sources changed again");
                    }
                    BuildUpdate::Error { message } => {
                        tracing::warn!(%message, "build runner error")
                    }
                }
            }
        });
        builder
    });
    let built = tokio::select! {
        () = wait_for_artifacts(plan, builder.as_ref()) => true,
        _ = term.recv() => false,
        _ = int.recv() => false,
    };
    if !built {
        tracing::info!("stopped while waiting for the first build");
        stop_host(host).await;
        return Ok(ExitCode::SUCCESS);
    }
    let failures = start_up(&host, plan).await;
    if !failures.is_empty() {
        for f in &failures {
            tracing::error!("{f}");
        }
        stop_host(host).await;
        anyhow::bail!("start-up failed: {}", failures.join("; "));
    }
    if let Some(addr) = &plan.http {
        tracing::info!("serving on http://{addr}/");
    }
    let stop = host.host().clone();
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining"),
        _ = int.recv() => tracing::info!("SIGINT: draining"),
        _ = stop.stop_requested() => tracing::info!("stop requested through the control interface"),
    }
    stop_host(host).await;
    Ok(ExitCode::SUCCESS)
}

/// Stops the host, waiting at most [`HOST_STOP_TIMEOUT`] (its stop routine bounds itself;
/// this is the last word, so a stop always finishes).
async fn stop_host(host: HostHandle) {
    if tokio::time::timeout(HOST_STOP_TIMEOUT, host.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("the host did not stop within {HOST_STOP_TIMEOUT:?}; exiting anyway");
    }
}
