//! Command-line interface (clap derive). Doc comments here are the `--help` text.
//!
//! Owns parsing and validation of arguments and their `WASMCLOUD_*` environment fallbacks into
//! plain settings; it starts nothing.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::lattice::bus::{BusOptions, DEFAULT_SUBSCRIPTION_CAPACITY};
use crate::lattice::subjects::DEFAULT_LATTICE;

/// Terminal console for a wasmCloud-style lattice (hosts, actors, providers, links, events).
///
/// Without --nats the console runs on the in-process lattice; with --nats it follows a real
/// lattice over NATS.
#[derive(Debug, Parser)]
#[command(name = "lattice-tui", version, about, long_about = None)]
pub struct Cli {
    /// Lattice connection settings.
    #[command(flatten)]
    pub lattice: LatticeArgs,

    /// Write logs to this file (default: $XDG_STATE_HOME/lattice-tui/lattice-tui.log).
    /// Logs never go to the terminal while the console is up.
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// What to do (default: run the console).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resync the lattice, print its model and exit (for scripts and tests).
    Snapshot(SnapshotArgs),
    /// Publish lattice CloudEvents read from files (for scripts, demos and tests)
    ///
    /// Events go to wasmbus.evt.{lattice}. A `.jsonl` file holds one event per line; any other
    /// file holds one event.
    Emit(EmitArgs),
}

/// `emit` options.
#[derive(Debug, Args)]
pub struct EmitArgs {
    /// Event files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Publish lines as they are, without checking that they decode as lattice events.
    #[arg(long)]
    pub raw: bool,
}

/// `snapshot` options.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Print the model as JSON instead of tables.
    #[arg(long)]
    pub json: bool,

    /// After the resync, keep following events for this many seconds before printing.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub wait: f64,
}

/// Where the lattice is and how to reach it.
#[derive(Debug, Args)]
pub struct LatticeArgs {
    /// NATS server URL, e.g. nats://127.0.0.1:4222. Without it (and without
    /// WASMCLOUD_CTL_HOST / WASMCLOUD_CTL_PORT) the in-process lattice is used.
    #[arg(long, global = true, value_name = "URL")]
    pub nats: Option<String>,

    /// NATS host of the control interface (used when --nats is not given).
    #[arg(long, global = true, env = "WASMCLOUD_CTL_HOST", hide = true)]
    pub ctl_host: Option<String>,

    /// NATS port of the control interface (used when --nats is not given).
    #[arg(long, global = true, env = "WASMCLOUD_CTL_PORT", hide = true)]
    pub ctl_port: Option<u16>,

    /// Lattice prefix.
    #[arg(
        long,
        global = true,
        env = "WASMCLOUD_LATTICE_PREFIX",
        default_value = DEFAULT_LATTICE,
        value_name = "PREFIX"
    )]
    pub lattice: String,

    /// NATS credentials file (.creds).
    #[arg(long, global = true, env = "WASMCLOUD_CTL_CREDS", value_name = "PATH")]
    pub creds: Option<PathBuf>,

    /// NATS nkey seed (S…); with --jwt it signs the user JWT, alone it authenticates as an nkey user.
    #[arg(
        long,
        global = true,
        env = "WASMCLOUD_CTL_SEED",
        value_name = "SEED",
        hide_env_values = true
    )]
    pub nkey: Option<String>,

    /// NATS user JWT (requires --nkey).
    #[arg(
        long,
        global = true,
        env = "WASMCLOUD_CTL_JWT",
        requires = "nkey",
        hide_env_values = true
    )]
    pub jwt: Option<String>,

    /// CA certificate (PEM) to verify the NATS server's TLS certificate.
    #[arg(
        long,
        global = true,
        env = "WASMCLOUD_CTL_TLS_CA_FILE",
        value_name = "PATH"
    )]
    pub tls_ca: Option<PathBuf>,

    /// Require TLS to the NATS server.
    #[arg(long, global = true, env = "WASMCLOUD_CTL_TLS")]
    pub tls: bool,

    /// How long `ping.hosts` collects replies during a resync, in milliseconds.
    #[arg(long, global = true, default_value_t = 1000, value_name = "MS")]
    pub ping_timeout_ms: u64,

    /// Heartbeat period hosts use, in seconds (a host silent for more than 3 periods is stale).
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    pub heartbeat_secs: u64,
}

impl LatticeArgs {
    /// The NATS URL to use, if any: --nats, else WASMCLOUD_CTL_HOST / WASMCLOUD_CTL_PORT.
    pub fn nats_url(&self) -> Option<String> {
        if let Some(url) = &self.nats {
            return Some(url.clone());
        }
        if self.ctl_host.is_none() && self.ctl_port.is_none() {
            return None;
        }
        let host = self.ctl_host.as_deref().unwrap_or("127.0.0.1");
        let port = self.ctl_port.unwrap_or(4222);
        Some(format!("nats://{host}:{port}"))
    }

    /// Bus options for `url`. `retry_initial_connect`: the console starts even when NATS is
    /// not up yet and shows "connecting"; `snapshot` fails at once instead.
    pub fn bus_options(&self, url: String, retry_initial_connect: bool) -> BusOptions {
        let mut o = BusOptions::new(url);
        o.name = "lattice-tui".to_string();
        o.creds_file.clone_from(&self.creds);
        o.nkey_seed.clone_from(&self.nkey);
        o.jwt.clone_from(&self.jwt);
        o.tls_ca.clone_from(&self.tls_ca);
        o.tls_required = self.tls;
        o.retry_initial_connect = retry_initial_connect;
        o.subscription_capacity = DEFAULT_SUBSCRIPTION_CAPACITY;
        o
    }

    /// The `ping.hosts` collection window.
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ctl_host_and_port_make_a_url() {
        let cli = Cli::parse_from(["lattice-tui", "--ctl-host", "10.0.0.1"]);
        assert_eq!(
            cli.lattice.nats_url().as_deref(),
            Some("nats://10.0.0.1:4222")
        );
        let cli = Cli::parse_from(["lattice-tui", "--nats", "nats://h:1", "--ctl-port", "9"]);
        assert_eq!(cli.lattice.nats_url().as_deref(), Some("nats://h:1"));
    }

    #[test]
    fn snapshot_takes_lattice_flags_after_the_subcommand() {
        let cli = Cli::parse_from([
            "lattice-tui",
            "snapshot",
            "--nats",
            "nats://x:4222",
            "--json",
            "--wait",
            "1.5",
            "--lattice",
            "lat",
        ]);
        let Some(Command::Snapshot(s)) = cli.command else {
            panic!("not snapshot")
        };
        assert!(s.json);
        assert_eq!(s.wait, 1.5);
        assert_eq!(cli.lattice.lattice, "lat");
    }
}
