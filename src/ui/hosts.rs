//! The Hosts tab: one row per host with liveness, name, id, version, uptime, actor and
//! provider counts, heartbeat age and label count.
//!
//! Pure rendering of borrowed model data at the given `now`: no I/O, no clock.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::state::{HostState, HostStatus, Lattice, Timestamp};

use super::format::{self, short_id};
use super::lattice_column;
use super::sort::{self, SortVal};
use super::table::{self, CellText, Column, Place, TableSpec, col, grow};
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

pub(crate) const COLUMNS: &[Column] = &[
    col("STATUS", 7, 7, 0),
    grow("NAME", 14, 8, 0),
    col("ID", 10, 6, 1),
    col("VERSION", 8, 7, 4),
    col("UPTIME", 7, 6, 3),
    col("ACT/INST", 8, 8, 2),
    col("PROV", 4, 4, 2),
    col("HEARTBEAT", 10, 9, 1),
    col("LABELS", 6, 6, 5),
];

/// The style of a host status.
pub(crate) fn status_style(theme: &Theme, s: HostStatus) -> Style {
    match s {
        HostStatus::Live => theme.ok,
        HostStatus::Stale => theme.warn,
        HostStatus::Lost => theme.error,
    }
}

/// Draws the Hosts table.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &mut ViewState,
    rows: &[&HostState],
    at: Place,
) {
    let theme = *view.theme();
    let now = at.now;
    let spec = TableSpec {
        tab: Tab::Hosts,
        title_extra: Vec::new(),
        columns: &lattice_column::columns(model, COLUMNS),
        len: rows.len(),
        unfiltered: model.hosts.len(),
        at,
        sort: view.sort_of(Tab::Hosts),
    };
    table::render(frame, area, view, spec, |i| {
        let mut c = cells(&theme, rows[i], now);
        lattice_column::push(model, &mut c, &rows[i].lattice);
        c
    });
}

fn cells<'a>(theme: &Theme, h: &'a HostState, now: Timestamp) -> Vec<CellText<'a>> {
    let plain = Style::new();
    vec![
        (
            Cow::Borrowed(format::host_status(h.status)),
            status_style(theme, h.status),
        ),
        (Cow::Borrowed(h.display_name()), plain),
        (Cow::Borrowed(short_id(&h.id)), theme.dim),
        (Cow::Borrowed(h.version.as_deref().unwrap_or("—")), plain),
        (
            Cow::Owned(
                h.uptime_at(now)
                    .map_or_else(|| "—".into(), format::duration),
            ),
            plain,
        ),
        (
            Cow::Owned(format!("{}/{}", h.actors.len(), h.actor_instances())),
            plain,
        ),
        (Cow::Owned(h.providers.len().to_string()), plain),
        (
            Cow::Owned(
                h.last_heartbeat
                    .map_or_else(|| "never".into(), |t| format::age(t, now)),
            ),
            status_style(theme, h.status),
        ),
        (Cow::Owned(h.labels.len().to_string()), plain),
    ]
}

/// The value of host `h` in column `c` of [`COLUMNS`], for sorting.
pub(crate) fn sort_key(h: &HostState, c: usize) -> SortVal<'_> {
    match c {
        0 => sort::num(h.status as u8),
        1 => SortVal::Text(h.display_name()),
        2 => SortVal::Text(&h.id),
        3 => h.version.as_deref().map_or(SortVal::Missing, SortVal::Text),
        // Longest uptime first is the earliest start: sort by the start, youngest first.
        4 => match (h.uptime_at, h.uptime_seconds) {
            (Some(at), Some(secs)) => sort::age_of(Some(
                at - chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000)),
            )),
            _ => SortVal::Missing,
        },
        5 => sort::num(h.actors.len()),
        6 => sort::num(h.providers.len()),
        7 => sort::age_of(h.last_heartbeat),
        _ => sort::num(h.labels.len()),
    }
}
