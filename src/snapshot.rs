//! `lattice-tui snapshot`: resync a lattice, optionally follow its events for a while, print
//! the model as JSON or tables, exit.
//!
//! Owns only the command's flow and its text rendering; the query round is the monitor's and
//! the model is the reducer's.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{LatticeArgs, SnapshotArgs};
use crate::ingest::ingest;
use crate::lattice::bus::Bus;
use crate::lattice::monitor::{self, MonitorConfig, MonitorMsg};
use crate::lattice::subjects::Subjects;
use crate::state::{Lattice, ModelConfig, Timestamp, short_key};

/// Messages buffered between the monitor and this command.
const MONITOR_QUEUE: usize = 1024;

/// Runs the command.
///
/// # Errors
/// NATS unreachable, the event subscription refused, or output failing.
pub async fn run(args: &SnapshotArgs, lattice: &LatticeArgs) -> anyhow::Result<ExitCode> {
    let bus = match lattice.nats_url() {
        Some(url) => Bus::connect(lattice.bus_options(url.clone(), false))
            .await
            .context("cannot reach the lattice")?,
        None => Bus::local(),
    };
    let wait =
        Duration::try_from_secs_f64(args.wait).context("--wait must be a number of seconds ≥ 0")?;
    let model = collect(&bus, lattice, wait).await?;
    let out = if args.json {
        serde_json::to_string_pretty(&model).context("cannot serialise the model")? + "\n"
    } else {
        render_tables(&model, Utc::now())
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("cannot write to stdout"),
    }
}

/// Resyncs, then follows events for `wait`, and returns the model.
async fn collect(bus: &Bus, lattice: &LatticeArgs, wait: Duration) -> anyhow::Result<Lattice> {
    let mut cfg = MonitorConfig::new(Subjects::new(&lattice.lattice));
    cfg.ping_timeout = lattice.ping_timeout();
    let mut model = Lattice::new(
        &lattice.lattice,
        ModelConfig {
            heartbeat_interval_secs: lattice.heartbeat_secs,
            ..ModelConfig::default()
        },
    );
    model.connection.transport = bus.transport().to_string();
    let (tx, mut rx) = mpsc::channel(MONITOR_QUEUE);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(monitor::run(bus.clone(), cfg, tx, cancel.clone()));
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let msg = match deadline {
            None => rx.recv().await,
            Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                Ok(m) => m,
                Err(_) => break,
            },
        };
        let Some(msg) = msg else { break };
        let resynced = matches!(msg, MonitorMsg::Resynced(_));
        ingest(&mut model, msg, Utc::now());
        if resynced && deadline.is_none() {
            if !wait.is_zero() {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(
                    err,
                    "lattice-tui: resynced; following {} for {:.1}s",
                    Subjects::new(&lattice.lattice).events(),
                    wait.as_secs_f64()
                );
            }
            deadline = Some(tokio::time::Instant::now() + wait);
        }
    }
    cancel.cancel();
    match task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e).context("lattice monitor failed"),
        Err(e) => bail!("lattice monitor task failed: {e}"),
    }
    if deadline.is_none() {
        bail!("the lattice monitor stopped before the first resync completed");
    }
    crate::state::tick(&mut model, Utc::now());
    Ok(model)
}

/// Plain-text tables of the model (hosts, actors, providers, links).
pub fn render_tables(m: &Lattice, now: Timestamp) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "lattice {} via {} ({}): {} hosts, {} actor instances, {} providers, {} links",
        m.lattice,
        m.connection.transport,
        m.connection.state,
        m.hosts.len(),
        m.actor_instances(),
        m.provider_count(),
        m.links.len()
    );
    if let Some(e) = &m.connection.last_error {
        let _ = writeln!(o, "query errors: {e}");
    }
    let mut hosts = vec![vec![
        "HOST".to_string(),
        "NAME".into(),
        "STATUS".into(),
        "VERSION".into(),
        "UPTIME".into(),
        "ACTORS".into(),
        "PROVIDERS".into(),
    ]];
    for h in m.hosts.values() {
        hosts.push(vec![
            h.id.clone(),
            h.friendly_name.clone(),
            h.status.as_str().into(),
            h.version.clone().unwrap_or_default(),
            h.uptime_at(now)
                .map(|s| format!("{s}s"))
                .unwrap_or_default(),
            h.actor_instances().to_string(),
            h.providers.len().to_string(),
        ]);
    }
    table(&mut o, "Hosts", &hosts);
    let mut actors = vec![vec![
        "HOST".to_string(),
        "ACTOR".into(),
        "NAME".into(),
        "COUNT".into(),
        "REV".into(),
        "STATUS".into(),
        "IMAGE".into(),
    ]];
    for h in m.hosts.values() {
        for a in h.actors.values() {
            let mut status = a.status.as_str().to_string();
            if let Some(f) = &a.last_failure {
                let _ = write!(status, ": {}", f.reason);
            }
            actors.push(vec![
                short_key(&h.id).to_string(),
                a.id.clone(),
                a.display_name().to_string(),
                a.count().to_string(),
                a.revision.to_string(),
                status,
                a.image_ref.clone().unwrap_or_default(),
            ]);
        }
    }
    table(&mut o, "Actors", &actors);
    let mut providers = vec![vec![
        "HOST".to_string(),
        "PROVIDER".into(),
        "NAME".into(),
        "LINK".into(),
        "CONTRACT".into(),
        "HEALTH".into(),
    ]];
    for h in m.hosts.values() {
        for p in h.providers.values() {
            providers.push(vec![
                short_key(&h.id).to_string(),
                p.public_key.clone(),
                p.display_name().to_string(),
                p.link_name.clone(),
                p.contract_id.clone(),
                p.health.as_str().into(),
            ]);
        }
    }
    table(&mut o, "Providers", &providers);
    let mut links = vec![vec![
        "ACTOR".to_string(),
        "PROVIDER".into(),
        "CONTRACT".into(),
        "LINK".into(),
        "VALUES".into(),
    ]];
    for l in m.links.values() {
        links.push(vec![
            l.actor_id.clone(),
            l.provider_id.clone(),
            l.contract_id.clone(),
            l.link_name.clone(),
            l.values
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    table(&mut o, "Links", &links);
    o
}

fn table(o: &mut String, title: &str, rows: &[Vec<String>]) {
    let _ = writeln!(o, "\n{title} ({})", rows.len().saturating_sub(1));
    if rows.len() <= 1 {
        return;
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<w$}", w = widths[i]))
            .collect();
        let _ = writeln!(o, "{}", line.join("  ").trim_end());
    }
}
