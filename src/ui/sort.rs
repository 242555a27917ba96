//! Sorting a tab's rows by one of its columns: the [`SortBy`] choice a tab keeps (column and
//! direction), the `SortVal` each tab module derives from a row for a column, and
//! [`sort_rows`], which reorders [`Rows`] by it.
//!
//! Every sort is deterministic: rows with equal values are ordered by id (ascending in both
//! directions), which makes the order total, so it is the same on every frame. Values are computed once per row (borrowed, no allocation), so sorting
//! 10,000 rows costs one key per row plus `n log n` cheap comparisons. The Events tab keeps its
//! arrival order. Pure: no I/O, no clock (age columns sort by the timestamp they show).

use std::cmp::Ordering;

use crate::state::Lattice;

use super::rows::Rows;
use super::view_state::Tab;
use super::{actors, hosts, links, providers};

/// A tab's sort order: a column (an index into the tab's columns) and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortBy {
    /// Column index in the tab's table.
    pub column: usize,
    /// Largest first.
    pub descending: bool,
}

impl SortBy {
    /// The arrow the header cell of the sort column shows.
    pub fn arrow(self) -> &'static str {
        if self.descending { "▼" } else { "▲" }
    }
}

/// The value a row has in a sort column. Values of one column are all of one kind; missing
/// values sort after present ones (ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SortVal<'a> {
    /// Text, compared byte-wise.
    Text(&'a str),
    /// A number (counts, or a timestamp in milliseconds, negated for "age" columns).
    Num(i64),
    /// No value (`—`).
    Missing,
}

/// Milliseconds of a timestamp as a sort value; negated (`age`) so the youngest sorts first.
pub(crate) fn age_of(t: Option<crate::state::Timestamp>) -> SortVal<'static> {
    t.map_or(SortVal::Missing, |t| {
        SortVal::Num(t.timestamp_millis().saturating_neg())
    })
}

/// A count from the model as a sort value (saturating).
pub(crate) fn num(n: impl TryInto<i64>) -> SortVal<'static> {
    SortVal::Num(n.try_into().unwrap_or(i64::MAX))
}

/// The columns of `tab` that can be sorted (0 for the Events tab).
pub fn sortable_columns(tab: Tab) -> usize {
    match tab {
        Tab::Hosts => hosts::COLUMNS.len(),
        Tab::Actors => actors::COLUMNS.len(),
        Tab::Providers => providers::COLUMNS.len(),
        Tab::Links => links::COLUMNS.len(),
        Tab::Events => 0,
    }
}

/// The next sort of `tab` after `current` (the `o` key): the next column ascending, and after
/// the last column the default order again (`None`).
pub fn next_column(tab: Tab, current: Option<SortBy>) -> Option<SortBy> {
    let n = sortable_columns(tab);
    let column = match current {
        None => 0,
        Some(s) => s.column + 1,
    };
    (column < n).then_some(SortBy {
        column,
        descending: false,
    })
}

/// The reversed sort (the `O` key): the same column the other way; without a sort, the first
/// column descending. `None` for a tab that does not sort.
pub fn reversed(tab: Tab, current: Option<SortBy>) -> Option<SortBy> {
    if sortable_columns(tab) == 0 {
        return None;
    }
    Some(match current {
        Some(s) => SortBy {
            column: s.column,
            descending: !s.descending,
        },
        None => SortBy {
            column: 0,
            descending: true,
        },
    })
}

/// Reorders `rows` by `by` (no-op for the Events tab or a column the tab does not have).
pub fn sort_rows(rows: &mut Rows<'_>, model: &Lattice, by: SortBy) {
    let c = by.column;
    match rows {
        Rows::Hosts(v) if c < hosts::COLUMNS.len() => {
            sort_by_key(v, by, |h| hosts::sort_key(h, c), |a, b| a.id.cmp(&b.id));
        }
        Rows::Actors(v) if c < actors::COLUMNS.len() => sort_by_key(
            v,
            by,
            |r| actors::sort_key(model, r, c),
            |a, b| (&a.actor.id, &a.host.id).cmp(&(&b.actor.id, &b.host.id)),
        ),
        Rows::Providers(v) if c < providers::COLUMNS.len() => sort_by_key(
            v,
            by,
            |r| providers::sort_key(model, r, c),
            |a, b| (a.key, &a.host.id).cmp(&(b.key, &b.host.id)),
        ),
        Rows::Links(v) if c < links::COLUMNS.len() => sort_by_key(
            v,
            by,
            |l| links::sort_key(model, l, c),
            |a, b| a.id.cmp(&b.id),
        ),
        _ => {}
    }
}

/// Sorts `v` by `key` (computed once per row) in `by`'s direction, ties by `tie` ascending.
/// `tie` orders rows by their unique id, so the order is total: the (faster, allocation-free)
/// unstable sort gives the one order a stable sort would.
fn sort_by_key<'a, T: Copy>(
    v: &mut Vec<T>,
    by: SortBy,
    key: impl Fn(&T) -> SortVal<'a>,
    tie: impl Fn(&T, &T) -> Ordering,
) {
    let mut keyed: Vec<(SortVal<'a>, T)> = v.iter().map(|r| (key(r), *r)).collect();
    keyed.sort_unstable_by(|(ka, a), (kb, b)| {
        let primary = match (ka, kb) {
            // Missing values stay last in both directions.
            (SortVal::Missing, SortVal::Missing) => Ordering::Equal,
            (SortVal::Missing, _) => return Ordering::Greater,
            (_, SortVal::Missing) => return Ordering::Less,
            _ if by.descending => kb.cmp(ka),
            _ => ka.cmp(kb),
        };
        primary.then_with(|| tie(a, b))
    });
    v.clear();
    v.extend(keyed.into_iter().map(|(_, r)| r));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o_cycles_the_columns_then_back_to_the_default_and_o_reverses() {
        let n = sortable_columns(Tab::Hosts);
        let mut s = None;
        for want in 0..n {
            s = next_column(Tab::Hosts, s);
            assert_eq!(
                s,
                Some(SortBy {
                    column: want,
                    descending: false
                })
            );
        }
        assert_eq!(next_column(Tab::Hosts, s), None);
        assert_eq!(
            reversed(Tab::Actors, None),
            Some(SortBy {
                column: 0,
                descending: true
            })
        );
        let asc = SortBy {
            column: 2,
            descending: false,
        };
        assert_eq!(
            reversed(Tab::Links, Some(asc)).map(|s| s.descending),
            Some(true)
        );
        assert_eq!(next_column(Tab::Events, None), None);
        assert_eq!(reversed(Tab::Events, None), None);
    }

    #[test]
    fn missing_values_sort_last_both_ways_and_ties_go_by_id() {
        let rows = [
            ("b", SortVal::Num(2)),
            ("a", SortVal::Missing),
            ("d", SortVal::Num(1)),
            ("c", SortVal::Num(2)),
        ];
        let sorted = |descending| {
            let mut v: Vec<usize> = (0..rows.len()).collect();
            sort_by_key(
                &mut v,
                SortBy {
                    column: 0,
                    descending,
                },
                |&i| rows[i].1,
                |&a, &b| rows[a].0.cmp(rows[b].0),
            );
            v.iter().map(|&i| rows[i].0).collect::<String>()
        };
        assert_eq!(sorted(false), "dbca");
        assert_eq!(sorted(true), "bcda");
    }
}
