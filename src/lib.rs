//! lattice-tui: a terminal console for a wasmCloud-style lattice and a WebAssembly host that
//! joins it.
//!
//! Layout:
//! - [`lattice`]: the wire protocol (pure), the bus (NATS or in-process) and the monitor task;
//! - [`state`]: the StateMonitor model and its pure reducer;
//! - [`host`]: the embedded WebAssembly host (wasmtime, control interface, HTTP provider);
//! - [`ingest`]: monitor messages → reducer calls;
//! - [`app`], [`ui`]: the console loop and its rendering;
//! - [`modes`], [`cli`], [`snapshot`], [`emit`], [`logging`], [`terminal`]: the edges;
//! - `sync`: the one lock helper every module uses.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]
#![warn(missing_docs)]

pub mod actions;
pub mod app;
pub mod cli;
pub mod emit;
pub mod host;
pub mod ingest;
pub mod lattice;
pub mod logging;
pub mod modes;
pub mod snapshot;
pub mod state;
mod sync;
pub mod terminal;
pub mod ui;
pub mod watch;

use std::process::ExitCode;

/// Runs the parsed command line to completion.
///
/// # Errors
/// Any error that ends the program; `main` prints it after the terminal is restored.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("lattice-tui")
        .build()
        .context("cannot start the async runtime")?;
    let result = run_on(&rt, &cli);
    // Tasks still running (a NATS client retrying an unreachable server, a blocking read) must
    // not keep the process alive: give them a moment, then leave.
    rt.shutdown_timeout(RUNTIME_STOP_TIMEOUT);
    result
}

/// How long the runtime's leftover tasks get once the program is done.
const RUNTIME_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn run_on(rt: &tokio::runtime::Runtime, cli: &cli::Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Some(cli::Command::Snapshot(args)) => {
            let _log = logging::to_stderr();
            rt.block_on(snapshot::run(args, &cli.lattice))
        }
        Some(cli::Command::Emit(args)) => {
            let _log = logging::to_stderr();
            rt.block_on(emit::run(args, &cli.lattice))
        }
        Some(cli::Command::Dev(args)) => {
            let plan = modes::Plan::from_dev(args);
            if args.host.no_ui {
                run_headless(rt, cli, &args.host, &plan)
            } else {
                run_console(rt, cli, &args.host, &plan)
            }
        }
        None if cli.host.no_ui => run_headless(rt, cli, &cli.host, &modes::Plan::from_cli(cli)),
        None => run_console(rt, cli, &cli.host, &modes::Plan::from_cli(cli)),
    }
}

/// The host alone, logging to stderr and rotated files.
fn run_headless(
    rt: &tokio::runtime::Runtime,
    cli: &cli::Cli,
    host: &cli::HostArgs,
    plan: &modes::Plan,
) -> anyhow::Result<ExitCode> {
    let dir = host
        .log_dir
        .clone()
        .unwrap_or_else(logging::default_log_dir);
    let _log = logging::headless(&dir, host.json_logs())?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), log_dir = %dir.display(), "lattice-tui host starting");
    let code = rt.block_on(modes::headless(&cli.lattice, host, plan));
    if let Err(e) = &code {
        tracing::error!("{e:#}");
    }
    code
}

/// The console (with the embedded host unless `--no-host`), logging to a file.
fn run_console(
    rt: &tokio::runtime::Runtime,
    cli: &cli::Cli,
    host: &cli::HostArgs,
    plan: &modes::Plan,
) -> anyhow::Result<ExitCode> {
    let log_file = cli
        .log_file
        .clone()
        .unwrap_or_else(logging::default_log_file);
    let log = logging::to_file_with_ring(&log_file, cli.log_lines)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "lattice-tui console starting"
    );
    // The console runs as a task on the runtime's workers, not on the `block_on` thread: the
    // tasks it wakes and is woken by (the key reader, the NATS connection) run there too, so an
    // action's request and its ack do not cross threads (BENCHMARKS.md, an action's round
    // trip). Guests never run on this runtime (the host has its own), so nothing holds it up.
    // A panic in it still unwinds through the terminal guard, which restores the terminal.
    let (lattice, host, plan, ring) = (
        cli.lattice.clone(),
        host.clone(),
        plan.clone(),
        log.ring.clone(),
    );
    let console = rt.spawn(async move { modes::console(&lattice, &host, &plan, ring).await });
    rt.block_on(console)
        .map_err(|e| anyhow::anyhow!("the console task failed: {e}"))??;
    drop(log);
    Ok(ExitCode::SUCCESS)
}
