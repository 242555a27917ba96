//! The Actors tab: one row per host × actor with name, id, host, instance count, revision,
//! status, image reference and the last failure; live rates ([`rates`]) while hosts publish them.
//!
//! Pure rendering of borrowed model data: no I/O, no clock.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::state::{ActorStatus, Lattice};

use super::format::{self, short_id};
use super::lattice_column;
use super::rates;
use super::rows::{self, ActorRow};
use super::sort::{self, SortVal};
use super::table::{self, CellText, Column, Place, TableSpec, col, grow};
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

pub(crate) const COLUMNS: &[Column] = &[
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
    let rates_at = rates::shown(model).then(|| rates::after(COLUMNS, "CALLS"));
    let columns =
        lattice_column::columns(model, &rates::with_column(COLUMNS, rates_at)).into_owned();
    let spec = TableSpec {
        tab: Tab::Actors,
        title_extra: Vec::new(),
        columns: &columns,
        len: rows.len(),
        unfiltered: rows::unfiltered_len(Tab::Actors, model),
        at,
        // Sorts index the columns without the rates column: the arrow moves past it.
        sort: view.sort_of(Tab::Actors).map(|mut s| {
            if rates_at.is_some_and(|at| s.column >= at) {
                s.column += 1;
            }
            s
        }),
    };
    table::render(frame, area, view, spec, |i| {
        let mut cells = cells(&theme, model, rows[i]);
        if let Some(at) = rates_at {
            let r = rows[i];
            cells.insert(at, rates::cell(&theme, model, &r.host.id, &r.actor.id));
        }
        lattice_column::push(model, &mut cells, &rows[i].host.lattice);
        cells
    });
}

fn cells<'a>(theme: &Theme, model: &'a Lattice, r: ActorRow<'a>) -> Vec<CellText<'a>> {
    let a = r.actor;
    let plain = Style::new();
    vec![
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
        (
            Cow::Borrowed(format::actor_status(a.status)),
            status_style(theme, a.status),
        ),
        (Cow::Borrowed(a.image_ref.as_deref().unwrap_or("—")), plain),
        match &a.last_failure {
            Some(f) => (Cow::Borrowed(f.reason.as_str()), theme.error),
            None => (Cow::Borrowed(""), plain),
        },
    ]
}

/// The value of row `r` in column `c` of [`COLUMNS`], for sorting.
pub(crate) fn sort_key<'a>(model: &'a Lattice, r: &ActorRow<'a>, c: usize) -> SortVal<'a> {
    let a = r.actor;
    match c {
        0 => SortVal::Text(rows::actor_name(model, a)),
        1 => SortVal::Text(&a.id),
        2 => SortVal::Text(r.host.display_name()),
        3 => sort::num(a.count()),
        4 => sort::num(a.revision),
        5 => model
            .local_actor(&r.host.id, &a.id)
            .map_or(SortVal::Missing, |l| sort::num(l.calls)),
        6 => sort::num(a.status as u8),
        7 => a
            .image_ref
            .as_deref()
            .map_or(SortVal::Missing, SortVal::Text),
        _ => a
            .last_failure
            .as_ref()
            .map_or(SortVal::Missing, |f| SortVal::Text(&f.reason)),
    }
}
