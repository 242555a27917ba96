//! `lattice-tui emit`: publish lattice CloudEvents read from files, for scripts, demos and
//! tests. Events are checked with the same decoder the console uses unless `--raw` is given.

use std::process::ExitCode;

use anyhow::{Context, bail};
use bytes::Bytes;

use crate::cli::{EmitArgs, LatticeArgs};
use crate::lattice::bus::Bus;
use crate::lattice::protocol::LatticeEvent;
use crate::lattice::subjects::Subjects;

/// Runs the command.
///
/// # Errors
/// Unreadable files, events that do not decode (without `--raw`), or publish failures.
pub async fn run(args: &EmitArgs, lattice: &LatticeArgs) -> anyhow::Result<ExitCode> {
    let mut payloads = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let jsonl = path.extension().is_some_and(|e| e == "jsonl");
        let items: Vec<(usize, &str)> = if jsonl {
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| (i + 1, l))
                .collect()
        } else {
            vec![(1, text.as_str())]
        };
        for (line, item) in items {
            if !args.raw
                && let Err(e) = LatticeEvent::from_json(item.as_bytes())
            {
                bail!("{}:{line}: {e}", path.display());
            }
            payloads.push(Bytes::copy_from_slice(item.trim().as_bytes()));
        }
    }
    let Some(url) = lattice.nats_url() else {
        bail!(
            "emit needs a NATS lattice: give --nats URL (the in-process lattice lives inside one process)"
        );
    };
    let bus = Bus::connect(lattice.bus_options(url, false))
        .await
        .context("cannot reach the lattice")?;
    let subject = Subjects::new(&lattice.lattice).events();
    for p in payloads {
        bus.publish(&subject, p).await.context("publish failed")?;
    }
    bus.flush().await.context("flush failed")?;
    Ok(ExitCode::SUCCESS)
}
