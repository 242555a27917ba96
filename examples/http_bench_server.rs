//! Serves one actor through lattice-tui's built-in HTTP server provider, for
//! `scripts/bench-http.sh` (and for trying an actor by hand).
//!
//! ```text
//! cargo run --release --example http_bench_server -- WASM [--addr IP:PORT] [--workers N]
//!     [--reuse N] [--pooling auto|on|off] [--timeout-ms N]
//! ```
//! Prints `listening on http://ADDR/` once it serves; Ctrl-C drains and exits. Logs go to
//! stderr (filter with `RUST_LOG`, default `warn`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use lattice_tui::host::http::{ActorTarget, CallStats, HttpLimits, HttpProvider};
use lattice_tui::host::runtime::{PoolingMode, Runtime, RuntimeConfig};

struct Args {
    wasm: String,
    addr: String,
    workers: usize,
    reuse: Option<u32>,
    pooling: PoolingMode,
    timeout: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        wasm: String::new(),
        addr: "127.0.0.1:8090".into(),
        workers: 1,
        reuse: None,
        pooling: PoolingMode::Auto,
        timeout: RuntimeConfig::default().max_execution_time,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => args.addr = value("--addr")?,
            "--workers" => args.workers = value("--workers")?.parse()?,
            "--reuse" => args.reuse = Some(value("--reuse")?.parse()?),
            "--timeout-ms" => args.timeout = Duration::from_millis(value("--timeout-ms")?.parse()?),
            "--pooling" => {
                args.pooling = match value("--pooling")?.as_str() {
                    "auto" => PoolingMode::Auto,
                    "on" => PoolingMode::On,
                    "off" => PoolingMode::Off,
                    other => bail!("--pooling takes auto, on or off, not {other}"),
                }
            }
            "-h" | "--help" => {
                println!(
                    "usage: http_bench_server WASM [--addr IP:PORT] [--workers N] [--reuse N] \
                     [--pooling auto|on|off] [--timeout-ms N]"
                );
                std::process::exit(0);
            }
            _ if args.wasm.is_empty() && !arg.starts_with('-') => args.wasm = arg,
            other => bail!("unexpected argument {other}"),
        }
    }
    if args.wasm.is_empty() {
        bail!("give the component to serve (e.g. target/actors/hello.wasm)");
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()?;
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeConfig {
        pooling: args.pooling,
        instance_reuse: args.reuse,
        max_execution_time: args.timeout,
        ..RuntimeConfig::default()
    })?;
    let bytes = std::fs::read(&args.wasm).with_context(|| format!("cannot read {}", args.wasm))?;
    let loaded = runtime.load(bytes, 1).await?;
    if let Some(reason) = &loaded.no_http_reason {
        bail!("{} cannot serve HTTP: {reason}", args.wasm);
    }
    let (_live, rx) = tokio::sync::watch::channel(Arc::clone(&loaded));
    let stats = Arc::new(CallStats::default());
    let target = ActorTarget {
        actor_id: "bench".into(),
        live: rx,
        stats: Arc::clone(&stats),
    };
    let provider = HttpProvider::new(runtime.clone(), HttpLimits::default());
    let values = BTreeMap::from([("address".to_owned(), args.addr.clone())]);
    let addr = provider.put_route("bench", target, &values).await?;
    println!(
        "listening on http://{addr}/ (workers {}, pooling {}, reuse {:?}, compile {:.1} ms)",
        args.workers,
        runtime.pooling(),
        args.reuse,
        loaded.compile_time.as_secs_f64() * 1e3
    );
    tokio::signal::ctrl_c().await?;
    provider.drain(Duration::from_secs(5)).await;
    let s = stats.snapshot();
    println!("served {} requests, {} errors", s.calls, s.errors);
    Ok(())
}
