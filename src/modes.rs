//! The ways the binary runs: console with the embedded host (default), console alone
//! (`--no-host`), host alone (`--no-ui`). Owns start-up and shutdown order; everything else is
//! in the modules it wires together.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::app;
use crate::cli::{Cli, HostArgs, LatticeArgs};
use crate::host::claims::ClaimsPolicy;
use crate::host::identity::{IdentityConfig, env_labels};
use crate::host::runtime::{PoolingMode, RuntimeConfig};
use crate::host::{self, HostConfig, HostHandle};
use crate::lattice::bus::Bus;
use crate::lattice::monitor::MonitorConfig;
use crate::lattice::protocol::StringMap;
use crate::lattice::subjects::Subjects;
use crate::state::ModelConfig;

/// How long quitting waits for the embedded host to drain and say `host_stopped`.
const HOST_STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The host configuration the arguments describe.
pub fn host_config(lattice: &LatticeArgs, args: &HostArgs) -> HostConfig {
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
    cfg
}

async fn connect(lattice: &LatticeArgs, retry: bool) -> anyhow::Result<Bus> {
    Ok(match lattice.nats_url() {
        Some(url) => Bus::connect(lattice.bus_options(url, retry))
            .await
            .context("cannot reach the lattice")?,
        None => Bus::local(),
    })
}

/// Starts the `--actor`s and the `--http` link. Returns the failures (the host keeps running).
async fn start_up(host: &HostHandle, args: &HostArgs) -> Vec<String> {
    let mut failures = Vec::new();
    let mut first = None;
    for path in &args.actors {
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
    if let (Some(addr), Some(pk)) = (args.http.clone(), first) {
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

/// The console, with the embedded host unless `--no-host`.
pub async fn console(cli: &Cli) -> anyhow::Result<()> {
    let lattice = &cli.lattice;
    // The console starts even when NATS is not up yet (it shows "connecting"); the host needs
    // the connection for its JetStream bucket, so with a host the first connect must succeed.
    let bus = connect(lattice, cli.host.no_host).await?;
    let host = if cli.host.no_host {
        None
    } else {
        let cfg = host_config(lattice, &cli.host);
        Some(
            host::spawn(bus.clone(), cfg, usize::from(cli.host.host_threads))
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
    };
    // Start the --actors once the console follows the lattice, so their events (and the
    // provider's first health check) show as they happen.
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let startup = async {
        let Some(h) = host.as_ref() else { return };
        if subscribed_rx.await.is_err() {
            return;
        }
        for failure in start_up(h, &cli.host).await {
            // Visible in the console too: the failure events are on the lattice.
            tracing::error!("{failure}");
        }
    };
    let (result, ()) = tokio::join!(
        app::run_console(bus, cfg, host.as_ref(), Some(subscribed_tx)),
        startup
    );
    if let Some(h) = host
        && tokio::time::timeout(HOST_STOP_TIMEOUT, h.shutdown())
            .await
            .is_err()
    {
        tracing::warn!("the embedded host did not stop within {HOST_STOP_TIMEOUT:?}");
    }
    result
}

/// The host alone. Runs until SIGINT/SIGTERM or `cmd.{host}.stop`, then drains.
pub async fn headless(cli: &Cli) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let bus = connect(&cli.lattice, false).await?;
    let cfg = host_config(&cli.lattice, &cli.host);
    let host = host::spawn(bus, cfg, usize::from(cli.host.host_threads))
        .await
        .context("cannot start the host")?;
    tracing::info!(
        host_id = %host.host().id(),
        name = %host.host().friendly_name(),
        lattice = %cli.lattice.lattice,
        "host running; SIGINT or SIGTERM stops it"
    );
    let failures = start_up(&host, &cli.host).await;
    if !failures.is_empty() {
        for f in &failures {
            tracing::error!("{f}");
        }
        host.shutdown().await;
        anyhow::bail!("start-up failed: {}", failures.join("; "));
    }
    let stop = host.host().clone();
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining"),
        _ = int.recv() => tracing::info!("SIGINT: draining"),
        _ = stop.stop_requested() => tracing::info!("stop requested through the control interface"),
    }
    host.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
