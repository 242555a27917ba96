//! The table widget every tab shares: a bordered block with a title and a position counter,
//! column widths fitted to the terminal (less important columns drop out on narrow screens),
//! cells truncated with `…`, the selection marked and REVERSED, and only the visible window of
//! rows formatted, so 10,000 rows cost no more than 60.
//!
//! Pure rendering into the frame's buffer: no I/O.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Paragraph, Row, Table, TableState};

use crate::state::Timestamp;

use super::format::{truncate, width};
use super::sort::SortBy;
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

/// Marks the selected row (besides REVERSED), so the selection shows in plain text too.
const SELECTION_SYMBOL: &str = "▶ ";

/// Blank columns between table columns.
const COLUMN_SPACING: u16 = 1;

/// One column of a tab's table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    /// Title in the header row.
    pub title: &'static str,
    /// Preferred width.
    pub width: u16,
    /// Narrowest useful width; below it the column is dropped.
    pub min: u16,
    /// Takes the width left over.
    pub grow: bool,
    /// 0 = always kept; columns with higher numbers drop first when space runs out.
    pub priority: u8,
}

/// A fixed-width column.
pub(crate) const fn col(title: &'static str, width: u16, min: u16, priority: u8) -> Column {
    Column {
        title,
        width,
        min,
        grow: false,
        priority,
    }
}

/// A column that takes the width left over.
pub(crate) const fn grow(title: &'static str, width: u16, min: u16, priority: u8) -> Column {
    Column {
        title,
        width,
        min,
        grow: true,
        priority,
    }
}

/// One formatted cell.
pub(crate) type CellText<'a> = (Cow<'a, str>, Style);

/// Which columns fit in `avail` columns, and their widths: `(column index, width)`, in
/// column order.
///
/// Essential columns (priority 0) always get their preferred width if they can; the others
/// join in priority order, each at its preferred width or at the room left if that is at
/// least its minimum. When even the essentials do not fit, columns shrink (least important
/// first) down to their minimum, then the least important ones drop. Width left over goes to
/// the growing columns.
pub(crate) fn layout_columns(cols: &[Column], avail: u16) -> Vec<(usize, u16)> {
    let avail = u32::from(avail);
    let spacing = u32::from(COLUMN_SPACING);
    // Column indices by importance; equal priorities keep their left-to-right order.
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|&i| cols[i].priority);
    let mut widths: Vec<Option<u32>> = vec![None; cols.len()];
    let used = |widths: &[Option<u32>]| -> u32 {
        let n = widths.iter().flatten().count() as u32;
        widths.iter().flatten().sum::<u32>() + spacing * n.saturating_sub(1)
    };
    let gap = |widths: &[Option<u32>]| -> u32 {
        if widths.iter().any(Option::is_some) {
            spacing
        } else {
            0
        }
    };
    for &i in &order {
        if cols[i].priority == 0 {
            widths[i] = Some(u32::from(cols[i].width));
        }
    }
    for &i in &order {
        if widths[i].is_some() {
            continue;
        }
        let room = avail.saturating_sub(used(&widths) + gap(&widths));
        if room > 0 && room >= u32::from(cols[i].min) {
            widths[i] = Some(room.min(u32::from(cols[i].width)));
        }
    }
    // Too wide (the essentials alone): shrink, least important first, down to the minimum;
    // if that is not enough, drop the least important column and try again.
    while used(&widths) > avail {
        let mut shrunk = widths.clone();
        let mut excess = used(&shrunk) - avail;
        for &i in order.iter().rev() {
            if let Some(w) = shrunk[i].as_mut() {
                let cut = w.saturating_sub(u32::from(cols[i].min)).min(excess);
                *w -= cut;
                excess -= cut;
            }
        }
        if excess == 0 {
            widths = shrunk;
            break;
        }
        let shown: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| widths[i].is_some())
            .collect();
        match shown.as_slice() {
            [] => break,
            [only] => {
                widths[*only] = Some(avail);
                break;
            }
            [.., last] => widths[*last] = None,
        }
    }
    let extra = avail.saturating_sub(used(&widths));
    let growers: Vec<usize> = (0..cols.len())
        .filter(|&i| cols[i].grow && widths[i].is_some())
        .collect();
    if extra > 0 && !growers.is_empty() {
        let each = extra / growers.len() as u32;
        let mut rest = extra % growers.len() as u32;
        for i in growers {
            let bonus = each + u32::from(rest > 0);
            rest = rest.saturating_sub(1);
            if let Some(w) = widths[i].as_mut() {
                *w += bonus;
            }
        }
    }
    widths
        .into_iter()
        .enumerate()
        .filter_map(|(i, w)| w.map(|w| (i, u16::try_from(w).unwrap_or(u16::MAX))))
        .collect()
}

/// Where a tab's table stands this frame: the selected row, the clock, and what to say when
/// there are no rows.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    /// Selected row index, resolved from the view's row key.
    pub selected: Option<usize>,
    /// The time to render relative times at.
    pub now: Timestamp,
    /// Line shown when there are no rows.
    pub empty: String,
    /// Name of the host the rows are filtered by, if they are.
    pub host: Option<String>,
}

/// What a tab puts into the shared table.
pub(crate) struct TableSpec<'a> {
    /// Which tab (for its scroll position).
    pub tab: Tab,
    /// Extra title spans after the tab name and counts (e.g. follow state).
    pub title_extra: Vec<Span<'a>>,
    /// Columns.
    pub columns: &'a [Column],
    /// Total rows, before windowing.
    pub len: usize,
    /// Rows without any filter, for "3 of 12".
    pub unfiltered: usize,
    /// Selection, clock, empty line and host filter.
    pub at: Place,
    /// The sort column, whose header shows the arrow.
    pub sort: Option<SortBy>,
}

/// Draws a tab's table into `area`, formatting only the visible rows with `cells(i)`, which
/// returns one cell per column of `spec.columns` (in order).
pub(crate) fn render<'m>(
    frame: &mut Frame,
    area: Rect,
    view: &mut ViewState,
    spec: TableSpec<'_>,
    mut cells: impl FnMut(usize) -> Vec<CellText<'m>>,
) {
    let theme = *view.theme();
    let block = block(&theme, &spec, view);
    let inner = block.inner(area);
    // One line is the header row.
    let height = usize::from(inner.height.saturating_sub(1));
    let offset = view.scroll(spec.tab, spec.at.selected, spec.len, height);
    if spec.len == 0 {
        frame.render_widget(block, area);
        let line = Line::styled(
            truncate(&spec.at.empty, usize::from(inner.width)).into_owned(),
            theme.dim,
        );
        frame.render_widget(Paragraph::new(line), inner);
        return;
    }
    let avail = inner.width.saturating_sub(width(SELECTION_SYMBOL) as u16);
    let layout = layout_columns(spec.columns, avail);
    let header = Row::new(layout.iter().map(|&(c, w)| {
        let w = usize::from(w);
        match spec.sort.filter(|s| s.column == c) {
            // The arrow always shows; the title gives way.
            Some(s) => Cell::from(format!(
                "{}{}",
                truncate(spec.columns[c].title, w.saturating_sub(1)),
                s.arrow()
            )),
            None => Cell::from(truncate(spec.columns[c].title, w).into_owned()),
        }
    }))
    .style(theme.table_header);
    let end = (offset + height).min(spec.len);
    let rows: Vec<Row> = (offset..end)
        .map(|i| {
            let mut all = cells(i);
            Row::new(layout.iter().map(|&(c, w)| {
                let (text, style) = if c < all.len() {
                    std::mem::take(&mut all[c])
                } else {
                    (Cow::Borrowed(""), Style::new())
                };
                Cell::from(Span::styled(
                    truncate(&text, usize::from(w)).into_owned(),
                    style,
                ))
            }))
        })
        .collect();
    let widths = layout.iter().map(|&(_, w)| Constraint::Length(w));
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(COLUMN_SPACING)
        .row_highlight_style(theme.selected)
        .highlight_symbol(SELECTION_SYMBOL)
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(spec.at.selected.map(|s| s - offset));
    frame.render_stateful_widget(table, area, &mut state);
}

fn block<'a>(theme: &Theme, spec: &TableSpec<'a>, view: &ViewState) -> Block<'a> {
    let mut title = vec![Span::styled(format!(" {} ", spec.tab.title()), theme.title)];
    let count = if spec.len == spec.unfiltered {
        format!("{} ", spec.len)
    } else {
        format!("{} of {} ", spec.len, spec.unfiltered)
    };
    title.push(Span::raw(count));
    if let Some(h) = &spec.at.host {
        title.push(Span::styled(format!("host={h} "), theme.filter));
    }
    let text = view.text_filter_of(spec.tab);
    if !text.is_empty() {
        title.push(Span::styled(format!("/{text} "), theme.filter));
    }
    title.extend(spec.title_extra.iter().cloned());
    let position = match spec.at.selected {
        Some(i) => format!(" {}/{} ", i + 1, spec.len),
        None => " 0/0 ".to_string(),
    };
    Block::bordered()
        .border_style(theme.border)
        .title(Line::from(title))
        .title_bottom(Line::from(position).right_aligned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: &[Column] = &[col("A", 10, 6, 0), col("B", 10, 6, 2), grow("C", 10, 6, 0)];

    fn total(l: &[(usize, u16)]) -> u16 {
        l.iter().map(|&(_, w)| w).sum::<u16>() + (l.len() as u16).saturating_sub(1)
    }

    #[test]
    fn extra_width_goes_to_the_growing_column() {
        assert_eq!(layout_columns(COLS, 50), vec![(0, 10), (1, 10), (2, 28)]);
    }

    #[test]
    fn narrow_screens_drop_optional_columns_before_squeezing() {
        // B (priority 2) does not fit at 10 but fits at its minimum in what is left.
        assert_eq!(layout_columns(COLS, 28), vec![(0, 10), (1, 6), (2, 10)]);
        // No room for B's minimum: it drops, C grows into the room.
        assert_eq!(layout_columns(COLS, 25), vec![(0, 10), (2, 14)]);
        // Essentials that do not fit shrink to their minimum, then drop.
        assert_eq!(layout_columns(COLS, 15), vec![(0, 8), (2, 6)]);
        assert_eq!(layout_columns(COLS, 10), vec![(0, 10)]);
        assert_eq!(layout_columns(COLS, 3), vec![(0, 3)]);
        assert_eq!(layout_columns(COLS, 0), vec![(0, 0)]);
        for avail in 0..60 {
            let l = layout_columns(COLS, avail);
            assert!(total(&l) <= avail.max(l[0].1), "{avail}: {l:?}");
        }
    }
}
