//! The LATTICE column of the Hosts, Actors, Providers and Links tables, shown when the console
//! follows every lattice (`--lattice '*'`). It goes last, so the other columns keep their
//! places (and their sort indexes); it is among the first kept on a narrow screen.
//!
//! Pure: reads the model's lattice tag of each host.

use std::borrow::Cow;

use ratatui::style::Style;

use crate::state::Lattice;
use crate::state::lattices::EVERY_LATTICE;

use super::table::{CellText, Column, col};

/// The column.
pub(crate) const COLUMN: Column = col("LATTICE", 12, 7, 1);

/// Whether the tables show the column: the model holds every lattice.
pub(crate) fn shown(model: &Lattice) -> bool {
    model.lattice == EVERY_LATTICE
}

/// `columns`, with the lattice column last when `model` holds every lattice.
pub(crate) fn columns<'c>(model: &Lattice, columns: &'c [Column]) -> Cow<'c, [Column]> {
    if shown(model) {
        let mut v = columns.to_vec();
        v.push(COLUMN);
        Cow::Owned(v)
    } else {
        Cow::Borrowed(columns)
    }
}

/// Appends the lattice cell to a row's `cells` when the column is shown.
pub(crate) fn push<'a>(model: &Lattice, cells: &mut Vec<CellText<'a>>, lattice: &'a str) {
    if shown(model) {
        cells.push((Cow::Borrowed(lattice), Style::new()));
    }
}

/// The lattice of a link row in the shown model: the `{lattice}/` of its id.
pub(crate) fn of_link(id: &str) -> &str {
    id.split_once('/').map_or("", |(l, _)| l)
}
