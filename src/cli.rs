//! Command-line interface (clap derive). Doc comments here are the `--help` text.
//!
//! Owns parsing and validation of arguments and their `WASMCLOUD_*` environment fallbacks into
//! plain settings; it starts nothing.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::lattice::bus::{BusOptions, DEFAULT_SUBSCRIPTION_CAPACITY};
use crate::lattice::subjects::{ALL_LATTICES, DEFAULT_LATTICE};

/// Terminal console for a wasmCloud-style lattice, and a WebAssembly host that joins it.
///
/// By default the console runs with an embedded host on the in-process lattice; with --nats
/// both join a real lattice over NATS. --no-ui runs the host alone, --no-host the console alone.
#[derive(Debug, Parser)]
#[command(name = "lattice-tui", version, about, long_about = None)]
pub struct Cli {
    /// Lattice connection settings.
    #[command(flatten)]
    pub lattice: LatticeArgs,

    /// Run the console only, without the embedded host (use with --nats to follow a lattice).
    #[arg(long, conflicts_with = "no_ui", help_heading = "Embedded host")]
    pub no_host: bool,

    /// The console refuses every action that changes the lattice (start, scale, update,
    /// stop, link, unlink); views and :q still work. The header shows READONLY.
    #[arg(long, conflicts_with = "no_ui")]
    pub readonly: bool,

    /// Start an actor from this .wasm file at start-up (repeatable).
    #[arg(long = "actor", value_name = "PATH", help_heading = "Embedded host")]
    pub actors: Vec<PathBuf>,

    /// Serve HTTP on ADDR (IP:PORT) with the built-in provider, linked to the first --actor.
    #[arg(
        long,
        value_name = "ADDR",
        requires = "actors",
        help_heading = "Embedded host"
    )]
    pub http: Option<String>,

    /// Embedded host settings.
    #[command(flatten)]
    pub host: HostArgs,

    /// Write logs to this file (default: $XDG_STATE_HOME/lattice-tui/lattice-tui.log).
    /// Logs never go to the terminal while the console is up.
    #[arg(long, global = true, value_name = "PATH", help_heading = "Logs")]
    pub log_file: Option<PathBuf>,

    /// Lines the console keeps in memory for its logs view (`:logs`, `l`), 1 to 1000000;
    /// past that the oldest go and are counted as dropped.
    #[arg(
        long,
        global = true,
        value_name = "N",
        default_value_t = crate::state::logs::DEFAULT_CAPACITY,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000),
        help_heading = "Logs"
    )]
    pub log_lines: usize,

    /// What to do (default: run the console).
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses the process arguments like [`Parser::parse`], and also refuses options of a plain
    /// run given before a subcommand (`lattice-tui --no-ui dev …`): they would be silently
    /// ignored otherwise. Exits with a usage error (status 2).
    pub fn parse_checked() -> Self {
        Self::parse_checked_from(std::env::args_os())
    }

    /// [`Cli::parse_checked`] over given arguments.
    pub fn parse_checked_from<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_checked_from(args).unwrap_or_else(|e| e.exit())
    }

    /// [`Cli::parse_checked_from`] that returns the usage error instead of exiting.
    pub fn try_parse_checked_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Self::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        if let Some((sub, _)) = matches.subcommand() {
            let misplaced = cmd
                .get_arguments()
                .filter(|a| !a.is_global_set())
                .find(|a| {
                    matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine)
                })
                .map(|a| a.get_long().unwrap_or(a.get_id().as_str()).to_string());
            if let Some(long) = misplaced {
                let hint = if sub == "dev" {
                    format!("; host options of `dev` go after it: lattice-tui dev --{long} …")
                } else {
                    String::new()
                };
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("--{long} is not an option of `{sub}`{hint}"),
                ));
            }
        }
        let cli = Self::from_arg_matches(&matches)?;
        // `*` follows every lattice: only a console without a host of its own can do that (a
        // host joins one lattice).
        if cli.lattice.lattice == ALL_LATTICES && (cli.command.is_some() || !cli.no_host) {
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                "--lattice '*' follows every lattice and works only for the console without a \
                 host: add --no-host (and --nats URL); hosts, dev and snapshot take one lattice",
            ));
        }
        Ok(cli)
    }
}

/// How the embedded host runs.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Embedded host")]
pub struct HostArgs {
    /// Run the host without the console (headless); logs go to stderr and to --log-dir.
    /// SIGINT/SIGTERM drain gracefully. Exit codes: 0 clean stop, 1 runtime error, 2 usage.
    #[arg(long)]
    pub no_ui: bool,

    /// Host label KEY=VALUE (repeatable); every HOST_* environment variable adds one too.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// Host key seed (SN…); generated when absent.
    #[arg(
        long,
        env = "WASMCLOUD_HOST_SEED",
        value_name = "SEED",
        hide_env_values = true
    )]
    pub host_seed: Option<String>,

    /// Cluster key seed (SC…); generated when absent.
    #[arg(
        long,
        env = "WASMCLOUD_CLUSTER_SEED",
        value_name = "SEED",
        hide_env_values = true
    )]
    pub cluster_seed: Option<String>,

    /// Further trusted cluster issuers (C…), comma-separated.
    #[arg(
        long,
        env = "WASMCLOUD_CLUSTER_ISSUERS",
        value_delimiter = ',',
        value_name = "KEYS"
    )]
    pub cluster_issuers: Vec<String>,

    /// How long a lattice RPC call (actor → provider, actor → actor) waits for its reply, in
    /// milliseconds.
    #[arg(
        long,
        env = "WASMCLOUD_RPC_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub rpc_timeout_ms: u64,

    /// The host's friendly name (default: derived from the host key).
    #[arg(long, value_name = "NAME")]
    pub friendly_name: Option<String>,

    /// Do not publish the actors' call counters (lattice-tui.rates.LATTICE.HOST, once a
    /// second, outside wasmbus.*); consoles then show no rates for this host.
    #[arg(long)]
    pub no_rates: bool,

    /// Seconds between the host's heartbeats.
    #[arg(long, env = "WASMCLOUD_HEARTBEAT_INTERVAL", default_value_t = 30, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_interval: u64,

    /// Longest a guest may run for one request before it is stopped (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub max_execution_time: Duration,

    /// Most linear memory one actor instance may use (bytes, or with KiB/MiB/GiB).
    #[arg(long, env = "WASMCLOUD_MAX_LINEAR_MEMORY", default_value = "256MiB", value_name = "SIZE",
          value_parser = parse_size)]
    pub max_linear_memory: u64,

    /// Refuse actors without signed claims.
    #[arg(long)]
    pub require_signed: bool,

    /// Only actors signed by these accounts (A…, comma-separated) may start.
    #[arg(long, value_delimiter = ',', value_name = "KEYS")]
    pub allowed_issuers: Vec<String>,

    /// Let lattice clients start actors from files under DIR (repeatable). Without it, a file
    /// named in cmd.la / scale / upd is refused (actor_start_failed); the files given with
    /// --actor or dev are always allowed.
    #[arg(long = "allow-file-load", value_name = "DIR")]
    pub allow_file_load: Vec<PathBuf>,

    /// Most actor instances this host runs, all actors together; starts and scales beyond
    /// are refused with a failure ack and actor_start_failed.
    #[arg(long, default_value_t = crate::host::DEFAULT_MAX_INSTANCES, value_name = "N",
          value_parser = parse_max_instances)]
    pub max_instances: usize,

    /// wasmtime's pooling allocator: auto (probe, fall back), on, off.
    #[arg(long, default_value = "auto", value_name = "MODE", value_parser = ["auto", "on", "off"])]
    pub pooling: String,

    /// Serve up to N requests with one actor instance instead of a fresh instance per request.
    /// Faster, but trades isolation: state in an instance's memory leaks between the requests
    /// (and clients) it serves. Off by default.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub instance_reuse: Option<u32>,

    /// Worker threads of the host's own runtime (guests never run on the console's).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub host_threads: u16,

    /// Headless logs: directory of the daily-rotated log files.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Headless logs: text or json (json also with WASMCLOUD_STRUCTURED_LOGGING_ENABLED=true).
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

impl HostArgs {
    /// Whether logs are JSON: `--log-format json`, or `WASMCLOUD_STRUCTURED_LOGGING_ENABLED`
    /// set to a true value when no format is given.
    pub fn json_logs(&self) -> bool {
        match self.log_format.as_deref() {
            Some(f) => f == "json",
            None => std::env::var("WASMCLOUD_STRUCTURED_LOGGING_ENABLED")
                .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes")),
        }
    }
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// A lattice prefix: one NATS subject token that is also a valid JetStream bucket name
/// suffix, so `[A-Za-z0-9_-]+`.
pub fn parse_lattice(s: &str) -> Result<String, String> {
    if s == ALL_LATTICES {
        return Ok(s.to_owned());
    }
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a lattice prefix: use letters, digits, `-` and `_` (it is one NATS subject token and names the bucket LATTICEDATA_{{prefix}})"
        ))
    }
}

/// A positive event count.
fn parse_event_buffer(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a positive number of events, got {s:?}")),
    }
}

/// A positive instance count.
fn parse_max_instances(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "expected a positive number of instances, got {s:?}"
        )),
    }
}

/// `10s`, `500ms`, `2m`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, ""), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 10s or 500ms, got {s:?}"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        other => return Err(format!("unknown duration unit {other:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {s:?}: {e}"))
}

/// `268435456`, `256MiB`, `64KiB`, `1GiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a size like 256MiB, got {s:?}"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resync the lattice, print its model and exit (for scripts and tests).
    Snapshot(SnapshotArgs),
    /// The developer loop: run actors from files, serve the first over HTTP, hot-reload them
    /// when their files change (and optionally run a build when sources change)
    ///
    /// Starts the console (or, with --no-ui, a headless host) with the embedded host, starts
    /// each PATH, links the first to the built-in HTTP server on --http and watches the files:
    /// a changed file is compiled and checked first and swapped in without dropping a request;
    /// a broken one leaves the running version serving.
    Dev(Box<DevArgs>),
    /// Publish lattice CloudEvents read from files (for scripts, demos and tests)
    ///
    /// Events go to wasmbus.evt.{lattice}. A `.jsonl` file holds one event per line; any other
    /// file holds one event.
    Emit(EmitArgs),
}

/// `dev` options.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Actor files to run and watch (.wasm components).
    #[arg(required = true, value_name = "PATH")]
    pub actors: Vec<PathBuf>,

    /// Where the first actor is served over HTTP.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub http: String,

    /// Quiet time after a file's last change before it is reloaded, in milliseconds.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub debounce: u64,

    /// Build command (run with sh -c) whenever a file under --watch-src changes; a failed
    /// build leaves the running version alone. The reload follows the artifact changing.
    #[arg(long, value_name = "CMD")]
    pub build: Option<String>,

    /// Source directories the build watches (recursively; target/ and .git/ are ignored).
    /// Default: the current directory.
    #[arg(long = "watch-src", value_name = "DIR", requires = "build")]
    pub watch_src: Vec<PathBuf>,

    /// The embedded host's settings (as for a plain run).
    #[command(flatten)]
    pub host: HostArgs,
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
#[derive(Debug, Clone, Args)]
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

    /// Lattice prefix: letters, digits, `-` and `_` (one NATS subject token; it also names
    /// the JetStream bucket LATTICEDATA_{prefix}). `'*'` (console with --no-host only) follows
    /// every lattice on the server.
    #[arg(
        long,
        global = true,
        env = "WASMCLOUD_LATTICE_PREFIX",
        default_value = DEFAULT_LATTICE,
        value_name = "PREFIX",
        value_parser = parse_lattice
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

    /// Events the console's subscription buffers while it is busy (or stopped). Beyond it
    /// events are dropped, counted in the header and answered with a resync; a smaller buffer
    /// bounds the memory a stuck console can take (each event is a few hundred bytes).
    #[arg(long, global = true, default_value_t = DEFAULT_SUBSCRIPTION_CAPACITY, value_name = "EVENTS",
          value_parser = parse_event_buffer)]
    pub event_buffer: usize,
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
        o.subscription_capacity = self.event_buffer;
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
    fn host_flags_parse() {
        let cli = Cli::parse_from([
            "lattice-tui",
            "--no-ui",
            "--actor",
            "a.wasm",
            "--actor",
            "b.wasm",
            "--http",
            "127.0.0.1:8080",
            "--label",
            "zone=a",
            "--max-execution-time",
            "500ms",
            "--max-linear-memory",
            "64MiB",
        ]);
        assert!(cli.host.no_ui);
        assert_eq!(cli.actors.len(), 2);
        assert_eq!(cli.host.labels, vec![("zone".to_string(), "a".to_string())]);
        assert_eq!(cli.host.max_execution_time, Duration::from_millis(500));
        assert_eq!(cli.host.max_linear_memory, 64 << 20);
        assert!(
            Cli::try_parse_from(["lattice-tui", "--http", "x:1"]).is_err(),
            "--http needs an actor"
        );
        assert!(Cli::try_parse_from(["lattice-tui", "--no-ui", "--no-host"]).is_err());
        let dev = Cli::try_parse_checked_from([
            "lattice-tui",
            "--nats",
            "nats://h:1",
            "dev",
            "--no-ui",
            "a.wasm",
        ])
        .expect("lattice options go before or after the subcommand");
        let Some(Command::Dev(d)) = dev.command else {
            panic!("dev")
        };
        assert!(d.host.no_ui && !dev.host.no_ui);
        let err = Cli::try_parse_checked_from(["lattice-tui", "--no-ui", "dev", "a.wasm"])
            .expect_err("host options before `dev` are refused, not ignored");
        assert!(err.to_string().contains("lattice-tui dev --no-ui"), "{err}");
        assert!(
            Cli::try_parse_checked_from(["lattice-tui", "--actor", "a.wasm", "snapshot"]).is_err()
        );
        assert!(Cli::try_parse_from(["lattice-tui", "--label", "novalue"]).is_err());
    }

    #[test]
    fn a_lattice_prefix_is_one_subject_token() {
        for ok in ["default", "lat-1", "my_lattice", "A9"] {
            assert_eq!(parse_lattice(ok).as_deref(), Ok(ok));
        }
        for bad in ["", "a b", "a.b", "**", ">", "a\tb", "lät"] {
            assert!(parse_lattice(bad).is_err(), "{bad:?}");
        }
        let err =
            Cli::try_parse_from(["lattice-tui", "--lattice", "a b"]).expect_err("usage error");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn every_lattice_is_for_the_console_without_a_host() {
        let ok = Cli::try_parse_checked_from(["lattice-tui", "--lattice", "*", "--no-host"])
            .expect("console without a host");
        assert_eq!(ok.lattice.lattice, "*");
        for args in [
            &["lattice-tui", "--lattice", "*"][..],
            &["lattice-tui", "--no-ui", "--lattice", "*"],
            &["lattice-tui", "snapshot", "--lattice", "*"],
        ] {
            let err = Cli::try_parse_checked_from(args.iter().copied()).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains("--no-host"), "{err}");
        }
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5h").is_err());
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("99999999999999999999GiB").is_err());
        assert!(parse_size("12XB").is_err());
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
