//! Live call rates on screen: the Actors table's `REQ/S ERR/S TREND` cell (current rates and
//! the last [`TABLE_BUCKETS`] buckets as a text sparkline) and the detail pane's rates section
//! (this host and lattice-wide, with a ratatui [`Sparkline`] of the last five minutes).
//!
//! Pure rendering of the model's [`crate::state::Rates`]: no I/O, no clock. The column only
//! exists while some host publishes rates (a plain wasmCloud lattice keeps today's table).

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Sparkline, Widget};

use crate::state::rates::{BUCKET_SECS, BUCKETS};
use crate::state::{Lattice, RateView};

use super::format;
use super::table::{CellText, Column, col};
use super::theme::Theme;

/// The Actors table's rates column.
pub(crate) const COLUMN: Column = col("REQ/S ERR/S TREND", 20, 11, 1);

/// Buckets in the table's sparkline (8 × 5 s: the last 40 seconds).
pub(crate) const TABLE_BUCKETS: usize = 8;

/// Rows of the detail pane's request sparkline.
const SPARK_ROWS: u16 = 3;

/// Width of the detail pane's key column (as `detail`'s).
const KEY_WIDTH: usize = 12;

/// Whether the Actors table shows the rates column.
pub(crate) fn shown(model: &Lattice) -> bool {
    !model.rates.hosts.is_empty()
}

/// The index just after the column titled `title` (the end if there is none).
pub(crate) fn after(columns: &[Column], title: &str) -> usize {
    columns
        .iter()
        .position(|c| c.title == title)
        .map_or(columns.len(), |i| i + 1)
}

/// `columns` with [`COLUMN`] inserted at `at` (as they are without).
pub(crate) fn with_column(columns: &[Column], at: Option<usize>) -> Cow<'_, [Column]> {
    match at {
        Some(at) => {
            let mut v = columns.to_vec();
            v.insert(at.min(v.len()), COLUMN);
            Cow::Owned(v)
        }
        None => Cow::Borrowed(columns),
    }
}

/// The rates cell of an actor on a host: `  2.5   0.0 ▁▁▂▅█▇▃▁`, `—` without rates.
pub(crate) fn cell<'a>(theme: &Theme, model: &Lattice, host_id: &str, actor: &str) -> CellText<'a> {
    let Some(a) = model.rates.on_host(host_id, actor) else {
        return (Cow::Borrowed("—"), theme.dim);
    };
    // The ring is contiguous: its last buckets are the most recent seconds.
    let mut recent = [0u64; TABLE_BUCKETS];
    let have = a.buckets.len().min(TABLE_BUCKETS);
    for (slot, b) in recent[TABLE_BUCKETS - have..]
        .iter_mut()
        .zip(a.buckets.iter().skip(a.buckets.len() - have))
    {
        *slot = b.requests_milli();
    }
    let text = format!(
        "{:>5} {:>5} {}",
        format::rate(a.requests_milli),
        format::rate(a.errors_milli),
        format::spark(&recent)
    );
    let style = if a.errors_milli.is_some_and(|e| e > 0) {
        theme.warn
    } else {
        Style::new()
    };
    (Cow::Owned(text), style)
}

/// The detail pane's rates section for an actor on a host, `width` columns wide; empty when
/// no host reports rates for the actor.
pub(crate) fn detail_lines(
    model: &Lattice,
    theme: &Theme,
    host_id: &str,
    actor: &str,
    width: usize,
) -> Vec<Line<'static>> {
    let here = model.rates.view(host_id, actor);
    let all = model.rates.lattice_wide(actor);
    let Some(shown) = here.as_ref().or(all.as_ref()) else {
        return Vec::new();
    };
    let kv = |key: &str, value: String, style: Style| {
        Line::from(vec![
            Span::styled(format!("{key:<KEY_WIDTH$} "), theme.label),
            Span::styled(value, style),
        ])
    };
    let mut lines = Vec::new();
    match &here {
        Some(v) => lines.push(kv("rates", rates_text(v), Style::new())),
        None => lines.push(kv("rates", "— (this host sends none)".into(), theme.dim)),
    }
    if let Some(all) = all.as_ref().filter(|a| a.hosts > 1) {
        lines.push(kv(
            "  lattice",
            format!("{} on {} hosts", rates_text(all), all.hosts),
            Style::new(),
        ));
    }
    let cols = width.saturating_sub(2).clamp(1, BUCKETS);
    let window = &shown.buckets[BUCKETS - cols..];
    let requests: Vec<u64> = window.iter().map(|b| b.requests_milli).collect();
    let errors: Vec<u64> = window.iter().map(|b| b.errors_milli).collect();
    let peak = |v: &[u64]| v.iter().copied().max().unwrap_or(0);
    let secs = u64::try_from(cols).unwrap_or(0) * BUCKET_SECS.unsigned_abs();
    let span = if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format::duration(secs)
    };
    let scope = if here.is_some() { "" } else { ", lattice-wide" };
    lines.push(Line::styled(
        format!(
            "requests/s, last {span}{scope} (peak {})",
            format::rate(Some(peak(&requests)))
        ),
        theme.table_header,
    ));
    if peak(&requests) == 0 {
        lines.push(Line::styled("  no requests".to_string(), theme.dim));
    } else {
        lines.extend(spark_lines(&requests, SPARK_ROWS, theme.ok));
    }
    if peak(&errors) > 0 {
        lines.push(Line::styled(
            format!("errors/s (peak {})", format::rate(Some(peak(&errors)))),
            theme.table_header,
        ));
        lines.extend(spark_lines(&errors, 1, theme.error));
    }
    lines
}

/// `2.5 req/s · 0.0 err/s`.
fn rates_text(v: &RateView) -> String {
    format!(
        "{} req/s · {} err/s",
        format::rate(v.requests_milli),
        format::rate(v.errors_milli)
    )
}

/// A ratatui [`Sparkline`] of `values` (one column each), `rows` high, as indented lines.
fn spark_lines(values: &[u64], rows: u16, style: Style) -> Vec<Line<'static>> {
    let cols = u16::try_from(values.len()).unwrap_or(u16::MAX);
    let area = Rect::new(0, 0, cols, rows);
    let mut buf = Buffer::empty(area);
    Sparkline::default()
        .data(values)
        .max(values.iter().copied().max().unwrap_or(0).max(1))
        .style(style)
        .render(area, &mut buf);
    (0..rows)
        .map(|y| {
            let row: String = (0..cols)
                .map(|x| buf.cell((x, y)).map_or(" ", |c| c.symbol()).to_string())
                .collect();
            Line::from(vec![Span::raw("  "), Span::styled(row, style)])
        })
        .collect()
}
