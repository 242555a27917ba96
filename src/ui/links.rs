//! The Links tab: one row per link definition with the actor and provider (names from the
//! claims, else short keys), contract, link name and values.
//!
//! Pure rendering of borrowed model data: no I/O, no clock.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::lattice::protocol::LinkDefinition;
use crate::state::Lattice;

use super::format::{self, short_id};
use super::lattice_column;
use super::rows;
use super::sort::SortVal;
use super::table::{self, CellText, Column, Place, TableSpec, col, grow};
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

pub(crate) const COLUMNS: &[Column] = &[
    col("ACTOR", 14, 8, 0),
    col("ACTOR ID", 10, 8, 4),
    col("PROVIDER", 14, 8, 0),
    col("PROVIDER ID", 11, 11, 4),
    col("CONTRACT", 20, 10, 1),
    col("LINK", 8, 6, 1),
    grow("VALUES", 20, 8, 2),
];

/// Draws the Links table.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &mut ViewState,
    rows: &[&LinkDefinition],
    at: Place,
) {
    let theme = *view.theme();
    let spec = TableSpec {
        tab: Tab::Links,
        title_extra: Vec::new(),
        columns: &lattice_column::columns(model, COLUMNS),
        len: rows.len(),
        unfiltered: model.links.len(),
        at,
        sort: view.sort_of(Tab::Links),
    };
    table::render(frame, area, view, spec, |i| {
        let mut c = cells(&theme, model, rows[i]);
        lattice_column::push(model, &mut c, lattice_column::of_link(&rows[i].id));
        c
    });
}

fn cells<'a>(theme: &Theme, model: &'a Lattice, l: &'a LinkDefinition) -> Vec<CellText<'a>> {
    let plain = Style::new();
    vec![
        (Cow::Borrowed(rows::link_party(model, &l.actor_id)), plain),
        (Cow::Borrowed(short_id(&l.actor_id)), theme.dim),
        (
            Cow::Borrowed(rows::link_party(model, &l.provider_id)),
            plain,
        ),
        (Cow::Borrowed(short_id(&l.provider_id)), theme.dim),
        (Cow::Borrowed(l.contract_id.as_str()), plain),
        (Cow::Borrowed(l.link_name.as_str()), plain),
        (Cow::Owned(format::pairs(&l.values)), plain),
    ]
}

/// The value of link `l` in column `c` of [`COLUMNS`], for sorting.
pub(crate) fn sort_key<'a>(model: &'a Lattice, l: &'a LinkDefinition, c: usize) -> SortVal<'a> {
    match c {
        0 => SortVal::Text(rows::link_party(model, &l.actor_id)),
        1 => SortVal::Text(&l.actor_id),
        2 => SortVal::Text(rows::link_party(model, &l.provider_id)),
        3 => SortVal::Text(&l.provider_id),
        4 => SortVal::Text(&l.contract_id),
        5 => SortVal::Text(&l.link_name),
        // Values sort by their first pair (the column shows them all).
        _ => l
            .values
            .iter()
            .next()
            .map_or(SortVal::Missing, |(k, _)| SortVal::Text(k)),
    }
}
