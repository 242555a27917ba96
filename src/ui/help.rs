//! The help overlay, generated from the keymap's binding table ([`BINDINGS`]) and the command
//! grammar's table ([`COMMANDS`]) so that it lists exactly the keys and commands the code
//! handles. Long descriptions wrap under themselves, and the
//! sections flow into as many columns as the screen needs, never splitting a binding.
//!
//! Pure rendering: no I/O.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::format::{truncate, width, wrap};
use super::keymap::{BINDINGS, Mode, Scope, scope_title};
use super::theme::Theme;
use crate::state::command::COMMANDS;

/// Widest the overlay gets.
const MAX_WIDTH: u16 = 120;

/// Columns the overlay may use.
const MAX_COLUMNS: usize = 3;

/// Blank columns between two help columns.
const COLUMN_GAP: u16 = 2;

/// Narrowest useful description column.
const MIN_TEXT_WIDTH: usize = 16;

/// Scopes in help order.
const SCOPES: [Scope; 11] = [
    Scope::Global,
    Scope::In(Mode::Normal),
    Scope::In(Mode::Filter),
    Scope::In(Mode::Command),
    Scope::In(Mode::Confirm),
    Scope::In(Mode::Pick),
    Scope::In(Mode::Json),
    Scope::In(Mode::Logs),
    Scope::In(Mode::LogsSearch),
    Scope::In(Mode::Help),
    Scope::In(Mode::Build),
];

/// A unit that is never split across columns: a binding (with its section title when it is
/// the section's first), laid out for one column width.
struct Chunk {
    /// Starts a new section (gets a blank line before it, unless at the top of a column).
    section_start: bool,
    lines: Vec<Line<'static>>,
}

fn key_width() -> usize {
    BINDINGS
        .iter()
        .map(|b| width(&b.keys_label()))
        .max()
        .unwrap_or(0)
}

/// The help as chunks for a column of `col_width` cells.
fn chunks(theme: &Theme, col_width: usize) -> Vec<Chunk> {
    let kw = key_width();
    // " keys  text"
    let indent = 1 + kw + 2;
    let text_width = col_width.saturating_sub(indent).max(MIN_TEXT_WIDTH);
    let mut out = Vec::new();
    for scope in SCOPES {
        for (n, b) in BINDINGS.iter().filter(|b| b.scope == scope).enumerate() {
            let mut lines = Vec::new();
            if n == 0 {
                lines.push(Line::styled(scope_title(scope), theme.table_header));
            }
            let keys = b.keys_label();
            let pad = kw.saturating_sub(width(&keys));
            for (i, part) in wrap(b.help, text_width).into_iter().enumerate() {
                lines.push(if i == 0 {
                    Line::from(vec![
                        Span::raw(" "),
                        Span::styled(keys.clone(), theme.key),
                        Span::raw(" ".repeat(pad + 2)),
                        Span::raw(part),
                    ])
                } else {
                    Line::from(vec![Span::raw(" ".repeat(indent)), Span::raw(part)])
                });
            }
            out.push(Chunk {
                section_start: n == 0,
                lines,
            });
        }
    }
    // The `:` grammar, from its one table (the README's command table is checked against it).
    let cmd_indent = 5;
    let summary_width = col_width.saturating_sub(cmd_indent).max(MIN_TEXT_WIDTH);
    for (n, c) in COMMANDS.iter().enumerate() {
        let mut lines = Vec::new();
        if n == 0 {
            lines.push(Line::styled(COMMANDS_TITLE, theme.table_header));
        }
        let usage = if c.usage.is_empty() {
            format!(":{}", c.name)
        } else {
            format!(":{} {}", c.name, c.usage)
        };
        for part in wrap(&usage, col_width.saturating_sub(1).max(MIN_TEXT_WIDTH)) {
            lines.push(Line::from(vec![
                Span::raw(" "),
                Span::styled(part, theme.key),
            ]));
        }
        let mut summary = c.summary.to_owned();
        if !c.aliases.is_empty() {
            let aliases: Vec<String> = c.aliases.iter().map(|a| format!(":{a}")).collect();
            summary.push_str(&format!(" (also {})", aliases.join(" ")));
        }
        for part in wrap(&summary, summary_width) {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(cmd_indent)),
                Span::raw(part),
            ]));
        }
        out.push(Chunk {
            section_start: n == 0,
            lines,
        });
    }
    out
}

/// Title of the help's command section.
pub(crate) const COMMANDS_TITLE: &str = "Commands (after :)";

/// Flows chunks into columns of at most `height` lines.
fn pack(chunks: Vec<Chunk>, height: usize) -> Vec<Vec<Line<'static>>> {
    let mut columns: Vec<Vec<Line<'static>>> = vec![Vec::new()];
    for chunk in chunks {
        let mut needed = chunk.lines.len();
        let col_len = columns.last().map_or(0, Vec::len);
        let blank = chunk.section_start && col_len > 0;
        needed += usize::from(blank);
        if col_len > 0 && col_len + needed > height {
            columns.push(Vec::new());
        }
        if let Some(col) = columns.last_mut() {
            if chunk.section_start && !col.is_empty() {
                col.push(Line::raw(""));
            }
            col.extend(chunk.lines);
        }
    }
    columns
}

/// Draws the help overlay centred over `area`. When it does not fit even in the most columns
/// that stay readable, the columns scroll together from line `*scroll` (clamped here) and the
/// title says so.
pub(crate) fn render(frame: &mut Frame, area: Rect, theme: &Theme, scroll: &mut usize) {
    let max_w = area.width.min(MAX_WIDTH);
    let inner_h = usize::from(area.height.saturating_sub(2)).max(1);
    let natural = chunks(theme, usize::from(MAX_WIDTH))
        .iter()
        .flat_map(|c| c.lines.iter().map(Line::width))
        .max()
        .unwrap_or(0) as u16;
    // The fewest columns that fit, balanced; else the most that are still readable, as tall
    // as they must be (then they scroll).
    let mut best: Option<(u16, Vec<Vec<Line<'static>>>)> = None;
    // With the columns it flows in, when it does not fit.
    let mut flowing: Option<usize> = None;
    for ncols in 1..=MAX_COLUMNS {
        let n = ncols as u16;
        let col_w = (max_w.saturating_sub(2 + COLUMN_GAP * (n - 1)) / n).min(natural);
        if ncols > 1 && usize::from(col_w) < key_width() + 3 + MIN_TEXT_WIDTH {
            break;
        }
        let total: usize = chunks(theme, usize::from(col_w))
            .iter()
            .map(|c| c.lines.len() + usize::from(c.section_start))
            .sum();
        let balanced = (total.div_ceil(ncols)..inner_h)
            .map(|h| pack(chunks(theme, usize::from(col_w)), h))
            .find(|cols| cols.len() <= ncols);
        match balanced {
            Some(columns) => {
                best = Some((col_w, columns));
                flowing = None;
                break;
            }
            None => {
                // One flow of every line, `ncols` screens side by side; it scrolls.
                let flow: Vec<Line<'static>> = pack(chunks(theme, usize::from(col_w)), usize::MAX)
                    .into_iter()
                    .flatten()
                    .collect();
                best = Some((col_w, vec![flow; 1]));
                flowing = Some(ncols);
            }
        }
    }
    let Some((col_w, mut columns)) = best else {
        return;
    };
    let mut overflow = 0;
    if let Some(ncols) = flowing {
        let flow = columns.pop().unwrap_or_default();
        overflow = flow.len().saturating_sub(ncols * inner_h);
        *scroll = (*scroll).min(overflow);
        columns = flow[*scroll..]
            .chunks(inner_h)
            .take(ncols)
            .map(<[Line<'static>]>::to_vec)
            .collect();
    } else {
        *scroll = 0;
    }
    let ncols = columns.len().clamp(1, MAX_COLUMNS);
    columns.truncate(ncols);
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0);
    let n = ncols as u16;
    let w = (col_w * n + COLUMN_GAP * (n - 1) + 2).min(max_w);
    let h = (tallest.min(inner_h) as u16 + 2).min(area.height);
    let [popup] = Layout::horizontal([Constraint::Length(w)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(h)])
        .flex(Flex::Center)
        .areas(popup);
    let title = if overflow == 0 {
        " Help · any key closes ".to_owned()
    } else {
        let below = overflow - *scroll;
        format!(
            " Help · j/k scroll ({}{}) · other keys close ",
            if *scroll > 0 { "↑" } else { "" },
            if below > 0 { "↓ more" } else { "end" }
        )
    };
    let block = Block::bordered()
        .border_style(theme.border)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let areas = Layout::horizontal(vec![Constraint::Fill(1); ncols])
        .spacing(COLUMN_GAP)
        .split(inner);
    for (col, area) in columns.into_iter().zip(areas.iter()) {
        let max = usize::from(area.width);
        let col: Vec<Line<'static>> = col.into_iter().map(|l| fit(l, max)).collect();
        frame.render_widget(Paragraph::new(col), *area);
    }
}

/// `line` cut to `max` columns with `…`, keeping the span styles.
fn fit(line: Line<'static>, max: usize) -> Line<'static> {
    if line.width() <= max {
        return line;
    }
    let mut used = 0;
    let mut spans = Vec::new();
    for s in line.spans {
        let w = width(&s.content);
        if used + w < max {
            used += w;
            spans.push(s);
        } else {
            spans.push(Span::styled(
                truncate(&s.content, max - used).into_owned(),
                s.style,
            ));
            break;
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(theme: &Theme) -> Vec<Line<'static>> {
        pack(chunks(theme, 1000), usize::MAX)
            .into_iter()
            .flatten()
            .collect()
    }

    #[test]
    fn every_binding_has_a_line() {
        let text: Vec<String> = lines(&Theme::plain())
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        for b in BINDINGS {
            assert!(
                text.iter()
                    .any(|l| l.contains(&b.keys_label()) && l.contains(b.help)),
                "{}",
                b.help
            );
        }
    }

    fn screen(w: u16, h: u16, scroll: &mut usize) -> String {
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h))
            .expect("test terminal");
        term.draw(|f| render(f, f.area(), &Theme::plain(), scroll))
            .expect("draw");
        let buf = term.backend().buffer();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn help_that_does_not_fit_scrolls_to_its_last_line_and_no_further() {
        // The last command of the last section.
        let last = ":stop-host HOST";
        let mut scroll = 0;
        let top = screen(80, 20, &mut scroll);
        assert!(top.contains("j/k scroll (↓ more)"), "{top}");
        assert!(!top.contains(last), "{top}");
        let mut scroll = usize::MAX;
        let bottom = screen(80, 20, &mut scroll);
        assert!(scroll > 0 && scroll < usize::MAX, "clamped: {scroll}");
        assert!(bottom.contains(last), "{bottom}");
        assert!(bottom.contains("j/k scroll (↑end)"), "{bottom}");
        // Roomy enough: no scrolling at all.
        let mut scroll = 5;
        let all = screen(240, 80, &mut scroll);
        assert_eq!(scroll, 0);
        assert!(all.contains("Help · any key closes"), "{all}");
    }

    #[test]
    fn every_command_has_its_usage_and_summary() {
        let text: String = lines(&Theme::plain())
            .iter()
            .map(|l| {
                let mut t: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
                t.push('\n');
                t
            })
            .collect();
        assert!(text.contains(COMMANDS_TITLE));
        for c in COMMANDS {
            assert!(text.contains(&format!(":{}", c.name)), "{}", c.name);
            assert!(text.contains(c.summary), "{}", c.summary);
        }
        assert!(text.contains(":scale ACTOR N [--host HOST]"), "{text}");
    }

    #[test]
    fn packing_never_splits_a_binding_and_drops_leading_blanks() {
        let cols = pack(chunks(&Theme::plain(), 30), 8);
        assert!(cols.len() > 1);
        for c in &cols {
            assert!(c.len() <= 8, "{}", c.len());
            assert_ne!(c.first().map(Line::width), Some(0));
        }
    }
}
