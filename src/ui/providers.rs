//! The Providers tab: one row per host × provider with name, id, link name, contract, host
//! and health.
//!
//! Pure rendering of borrowed model data: no I/O, no clock.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::state::{Lattice, ProviderHealth};

use super::format::{self, short_id};
use super::lattice_column;
use super::rows::{self, ProviderRow};
use super::sort::{self, SortVal};
use super::table::{self, CellText, Column, Place, TableSpec, col, grow};
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

pub(crate) const COLUMNS: &[Column] = &[
    grow("NAME", 16, 8, 0),
    col("ID", 10, 6, 3),
    col("LINK", 8, 6, 1),
    grow("CONTRACT", 20, 10, 2),
    col("HOST", 12, 6, 1),
    col("HEALTH", 11, 11, 0),
];

/// The style of a provider health.
pub(crate) fn health_style(theme: &Theme, h: ProviderHealth) -> Style {
    match h {
        ProviderHealth::Awaiting => theme.dim,
        ProviderHealth::Healthy => theme.ok,
        ProviderHealth::Unhealthy => theme.warn,
        ProviderHealth::Failed => theme.error,
    }
}

/// Draws the Providers table.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &mut ViewState,
    rows: &[ProviderRow<'_>],
    at: Place,
) {
    let theme = *view.theme();
    let spec = TableSpec {
        tab: Tab::Providers,
        title_extra: Vec::new(),
        columns: &lattice_column::columns(model, COLUMNS),
        len: rows.len(),
        unfiltered: rows::unfiltered_len(Tab::Providers, model),
        at,
        sort: view.sort_of(Tab::Providers),
    };
    table::render(frame, area, view, spec, |i| {
        let mut c = cells(&theme, model, rows[i]);
        lattice_column::push(model, &mut c, &rows[i].host.lattice);
        c
    });
}

fn cells<'a>(theme: &Theme, model: &'a Lattice, r: ProviderRow<'a>) -> Vec<CellText<'a>> {
    let p = r.provider;
    let plain = Style::new();
    let contract = if p.contract_id.is_empty() {
        "—"
    } else {
        p.contract_id.as_str()
    };
    vec![
        (Cow::Borrowed(rows::provider_name(model, p)), plain),
        (Cow::Borrowed(short_id(&p.public_key)), theme.dim),
        (Cow::Borrowed(p.link_name.as_str()), plain),
        (Cow::Borrowed(contract), plain),
        (Cow::Borrowed(r.host.display_name()), plain),
        (
            Cow::Borrowed(format::provider_health(p.health)),
            health_style(theme, p.health),
        ),
    ]
}

/// The value of row `r` in column `c` of [`COLUMNS`], for sorting.
pub(crate) fn sort_key<'a>(model: &'a Lattice, r: &ProviderRow<'a>, c: usize) -> SortVal<'a> {
    let p = r.provider;
    match c {
        0 => SortVal::Text(rows::provider_name(model, p)),
        1 => SortVal::Text(&p.public_key),
        2 => SortVal::Text(&p.link_name),
        3 if p.contract_id.is_empty() => SortVal::Missing,
        3 => SortVal::Text(&p.contract_id),
        4 => SortVal::Text(r.host.display_name()),
        _ => sort::num(p.health as u8),
    }
}
