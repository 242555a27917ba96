//! lattice-tui: a terminal console for a wasmCloud-style lattice and a WebAssembly host that
//! joins it.
//!
//! Layout:
//! - [`lattice`]: the wire protocol (pure), the bus (NATS or in-process) and the monitor task;
//! - [`state`]: the StateMonitor model and its pure reducer;
//! - [`ingest`]: monitor messages → reducer calls;
//! - [`cli`], [`snapshot`], [`logging`], [`terminal`]: the edges.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]
#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod emit;
pub mod host;
pub mod ingest;
pub mod lattice;
pub mod logging;
pub mod snapshot;
pub mod state;
pub mod terminal;
pub mod ui;

use std::process::ExitCode;

/// The console on the lattice the arguments name.
async fn console(args: &cli::LatticeArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let bus = match args.nats_url() {
        // The console starts even when NATS is not up yet, and shows "connecting".
        Some(url) => lattice::bus::Bus::connect(args.bus_options(url, true))
            .await
            .context("cannot set up the NATS connection")?,
        None => lattice::bus::Bus::local(),
    };
    let mut monitor =
        lattice::monitor::MonitorConfig::new(lattice::subjects::Subjects::new(&args.lattice));
    monitor.ping_timeout = args.ping_timeout();
    let cfg = app::ConsoleConfig {
        lattice: args.lattice.clone(),
        model: state::ModelConfig {
            heartbeat_interval_secs: args.heartbeat_secs,
            ..state::ModelConfig::default()
        },
        monitor,
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    };
    app::run_console(bus, cfg).await
}

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
    match &cli.command {
        Some(cli::Command::Snapshot(args)) => {
            let _log = logging::to_stderr();
            rt.block_on(snapshot::run(args, &cli.lattice))
        }
        Some(cli::Command::Emit(args)) => {
            let _log = logging::to_stderr();
            rt.block_on(emit::run(args, &cli.lattice))
        }
        None => {
            let log_file = cli
                .log_file
                .clone()
                .unwrap_or_else(logging::default_log_file);
            let _log = logging::to_file(&log_file)?;
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                "lattice-tui console starting"
            );
            rt.block_on(console(&cli.lattice))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
