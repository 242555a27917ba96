//! The Actors tab: one row per host × actor with name, id, host, instance count, revision,
//! status, image reference and the last failure; live rates (`rates`) while hosts publish them.
//!
//! Pure rendering of borrowed model data: no I/O, no clock.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::state::{ActorStatus, Lattice};

use super::format::{self, short_id};
use super::rates;
use super::rows::{self, ActorRow};
use super::table::{self, CellText, Column, Place, TableSpec, col, grow};
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

const COLUMNS: &[Column] = &[
    grow("NAME", 14, 8, 0),
    col("ID", 10, 6, 3),
    col("HOST", 12, 6, 1),
    col("INST", 4, 4, 0),
    col("REV", 3, 3, 4),
    col("CALLS", 7, 5, 2),
    col("STATUS", 15, 15, 0),
    grow("IMAGE", 24, 10, 5),
    grow("LAST FAILURE", 24, 12, 2),
];

/// [`COLUMNS`] with the live rates after `CALLS`, while some host publishes rates.
const COLUMNS_WITH_RATES: &[Column] = &[
    grow("NAME", 14, 8, 0),
    col("ID", 10, 6, 3),
    col("HOST", 12, 6, 1),
    col("INST", 4, 4, 0),
    col("REV", 3, 3, 4),
    col("CALLS", 7, 5, 2),
    rates::COLUMN,
    col("STATUS", 15, 15, 0),
    grow("IMAGE", 24, 10, 5),
    grow("LAST FAILURE", 24, 12, 2),
];

/// The style of an actor status.
pub(crate) fn status_style(theme: &Theme, s: ActorStatus) -> Style {
    match s {
        ActorStatus::Running => theme.ok,
        ActorStatus::UpdateFailed => theme.warn,
        ActorStatus::StartFailed => theme.error,
    }
}

/// Draws the Actors table.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &mut ViewState,
    rows: &[ActorRow<'_>],
    at: Place,
) {
    let theme = *view.theme();
    let with_rates = rates::shown(model);
    let spec = TableSpec {
        tab: Tab::Actors,
        title_extra: Vec::new(),
        columns: if with_rates {
            COLUMNS_WITH_RATES
        } else {
            COLUMNS
        },
        len: rows.len(),
        unfiltered: rows::unfiltered_len(Tab::Actors, model),
        at,
    };
    table::render(frame, area, view, spec, |i| {
        cells(&theme, model, rows[i], with_rates)
    });
}

fn cells<'a>(
    theme: &Theme,
    model: &'a Lattice,
    r: ActorRow<'a>,
    with_rates: bool,
) -> Vec<CellText<'a>> {
    let a = r.actor;
    let plain = Style::new();
    let mut cells = vec![
        (Cow::Borrowed(rows::actor_name(model, a)), plain),
        (Cow::Borrowed(short_id(&a.id)), theme.dim),
        (Cow::Borrowed(r.host.display_name()), plain),
        (Cow::Owned(a.count().to_string()), plain),
        (Cow::Owned(a.revision.to_string()), plain),
        match model.local_actor(&r.host.id, &a.id) {
            Some(l) if l.note.is_some() => (Cow::Borrowed("no http"), theme.warn),
            Some(l) => (Cow::Owned(format::count(l.calls)), plain),
            None => (Cow::Borrowed("—"), theme.dim),
        },
    ];
    if with_rates {
        cells.push(rates::cell(theme, model, &r.host.id, &a.id));
    }
    cells.extend([
        (
            Cow::Borrowed(format::actor_status(a.status)),
            status_style(theme, a.status),
        ),
        (Cow::Borrowed(a.image_ref.as_deref().unwrap_or("—")), plain),
        match &a.last_failure {
            Some(f) => (Cow::Borrowed(f.reason.as_str()), theme.error),
            None => (Cow::Borrowed(""), plain),
        },
    ]);
    cells
}
