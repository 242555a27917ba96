//! The Events tab: the event log, oldest first, with received time, level, source host, kind
//! and summary, coloured by level (the level is also a word). The title says whether the tab
//! follows new events or is paused, and how many newer events wait below.
//!
//! Pure rendering of borrowed model data: no I/O, no clock.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;

use crate::state::{Lattice, LogEntry, LogLevel};

use super::format;
use super::rows;
use super::table::{self, CellText, Column, Place, TableSpec, col, grow};
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

const COLUMNS: &[Column] = &[
    col("TIME", 8, 8, 0),
    col("LEVEL", 5, 5, 1),
    col("SOURCE", 12, 6, 1),
    col("KIND", 19, 8, 2),
    grow("SUMMARY", 30, 10, 0),
];

/// The style of a log level.
pub(crate) fn level_style(theme: &Theme, l: LogLevel) -> Style {
    match l {
        LogLevel::Info => Style::new(),
        LogLevel::Warn => theme.warn,
        LogLevel::Error => theme.error,
    }
}

/// Follow state for titles and the footer: `following`, or `paused · N newer`.
pub(crate) fn follow_label(view: &ViewState, len: usize, selected: Option<usize>) -> String {
    if view.following() {
        "following".to_string()
    } else {
        let newer = selected.map_or(0, |s| len.saturating_sub(s + 1));
        if newer > 0 {
            format!("paused · {newer} newer")
        } else {
            "paused".to_string()
        }
    }
}

/// Draws the Events table.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &mut ViewState,
    rows: &[&LogEntry],
    at: Place,
) {
    let theme = *view.theme();
    let follow = follow_label(view, rows.len(), at.selected);
    let style = if view.following() {
        theme.ok
    } else {
        theme.warn
    };
    let spec = TableSpec {
        tab: Tab::Events,
        title_extra: vec![Span::styled(format!("[{follow}] "), style)],
        columns: COLUMNS,
        len: rows.len(),
        unfiltered: model.events.entries.len(),
        at,
        sort: None,
    };
    table::render(frame, area, view, spec, |i| cells(&theme, model, rows[i]));
}

fn cells<'a>(theme: &Theme, model: &'a Lattice, e: &'a LogEntry) -> Vec<CellText<'a>> {
    let style = level_style(theme, e.level);
    vec![
        (Cow::Owned(format::clock(e.received)), theme.dim),
        (Cow::Borrowed(format::level(e.level)), style),
        (
            Cow::Borrowed(rows::source_name(model, e.source())),
            Style::new(),
        ),
        (Cow::Borrowed(rows::event_kind(e)), Style::new()),
        (Cow::Owned(e.summary(Some(model))), style),
    ]
}
