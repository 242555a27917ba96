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

pub mod cli;
pub mod emit;
pub mod ingest;
pub mod lattice;
pub mod logging;
pub mod snapshot;
pub mod state;
pub mod terminal;
pub mod ui;

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
    match &cli.command {
        Some(cli::Command::Snapshot(args)) => {
            let _log = logging::to_stderr();
            rt.block_on(snapshot::run(args, &cli.lattice))
        }
        Some(cli::Command::Emit(args)) => {
            let _log = logging::to_stderr();
            rt.block_on(emit::run(args, &cli.lattice))
        }
        None => anyhow::bail!("the console is not wired yet"),
    }
}
