//! The logs view (`:logs`, `l`): the host's log and its guests' output, newest at the bottom,
//! one line per entry (or wrapped), with the level, the actor (or the module that logged),
//! optional timestamps, and the search's matches highlighted. The title says what is shown:
//! the filters, follow or paused, the search, how many lines are kept and how many were
//! dropped.
//!
//! Pure rendering of the view's [`LogView`]: only the lines that fit are formatted, walking
//! back from the bottom of the view, so a frame costs the same with 10 or 100,000 lines kept.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use unicode_width::UnicodeWidthChar;

use super::format::{self, truncate};
use super::theme::Theme;
use crate::state::Lattice;
use crate::state::logs::{LogLevel, LogLine, LogStream, LogView, find_all};

/// Columns of the source column (actor name or module).
const SOURCE_WIDTH: usize = 14;
/// Columns of `12:00:01.250 `.
const TIME_WIDTH: usize = 13;
/// Columns of `WARN  `.
const LEVEL_WIDTH: usize = 6;

/// Draws the logs view into `area` and records its height as the page size.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    logs: &mut LogView,
    theme: &Theme,
) {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(title(model, logs, theme));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let cols = usize::from(inner.width);
    logs.set_page(height);
    if height == 0 || cols == 0 {
        return;
    }
    let logs = &*logs;
    // Wrapped text continues under the text column, when that leaves room for it.
    let prefix = if logs.timestamps() { TIME_WIDTH } else { 0 } + LEVEL_WIDTH + SOURCE_WIDTH + 1;
    let indent = if prefix * 2 <= cols { prefix } else { 0 };
    let mut rows: Vec<Line<'_>> = Vec::with_capacity(height);
    let mut shown_any = false;
    for l in logs.shown_before() {
        shown_any = true;
        let line = row(model, logs, l, theme);
        if logs.wrap() {
            let mut parts = wrap_line(line, cols, indent);
            while let Some(p) = parts.pop() {
                rows.push(p);
            }
        } else {
            rows.push(line);
        }
        if rows.len() >= height {
            break;
        }
    }
    rows.truncate(height);
    rows.reverse();
    if !shown_any {
        rows.push(Line::styled(empty_message(model, logs), theme.dim));
    }
    frame.render_widget(Paragraph::new(rows), inner);
}

/// What an empty view says.
fn empty_message(model: &Lattice, logs: &LogView) -> String {
    if logs.is_empty() {
        return "no log lines yet — the host's log and its actors' stdout/stderr show here"
            .to_owned();
    }
    let mut what = Vec::new();
    if let Some(a) = logs.actor() {
        what.push(format!("from {}", actor_name(model, a)));
    }
    if let Some(l) = logs.level() {
        what.push(format!("at {} or above", l.name()));
    }
    format!(
        "no lines {} — a shows every actor, l changes the level",
        what.join(" ")
    )
}

/// The title: filters, follow state, search, counts.
fn title<'a>(model: &'a Lattice, logs: &LogView, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::styled(" logs ", theme.title)];
    let sep = || Span::styled(" · ", theme.dim);
    match logs.actor() {
        Some(a) => spans.push(Span::styled(
            format!("actor {}", actor_name(model, a)),
            theme.filter,
        )),
        None => spans.push(Span::raw("all actors")),
    }
    spans.push(sep());
    match logs.level() {
        Some(l) => spans.push(Span::styled(format!("{}+", l.name()), theme.filter)),
        None => spans.push(Span::raw("all levels")),
    }
    spans.push(sep());
    if logs.following() {
        spans.push(Span::styled("following", theme.ok));
    } else {
        spans.push(Span::styled("paused (s follows)", theme.warn));
    }
    if !logs.search().is_empty() {
        spans.push(sep());
        spans.push(Span::styled(format!("/{}", logs.search()), theme.filter));
        if logs.no_match() {
            spans.push(Span::styled(" no match", theme.warn));
        }
    }
    if logs.wrap() {
        spans.push(sep());
        spans.push(Span::raw("wrap"));
    }
    spans.push(sep());
    spans.push(Span::raw(format!(
        "{} lines",
        format::count(logs.len() as u64)
    )));
    if logs.dropped() > 0 {
        spans.push(sep());
        spans.push(Span::styled(
            format!("{} dropped", format::count(logs.dropped())),
            theme.warn,
        ));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// An actor's name for the view: from its claims, else its short id.
fn actor_name<'a>(model: &'a Lattice, id: &'a str) -> &'a str {
    model.actor_name(id).unwrap_or_else(|| format::short_id(id))
}

/// Where a line came from: the actor (`:err` for stderr), else the module that logged it.
fn source(model: &Lattice, l: &LogLine) -> String {
    match l.actor() {
        Some(a) => {
            let name = actor_name(model, a);
            match l.stream {
                Some(LogStream::Stderr) => format!("{name}:err"),
                _ => name.to_owned(),
            }
        }
        None => l
            .target
            .strip_prefix("lattice_tui::")
            .unwrap_or(l.target)
            .to_owned(),
    }
}

fn level_span(level: LogLevel, theme: &Theme) -> Span<'static> {
    let (word, style) = match level {
        LogLevel::Trace => ("TRACE", theme.dim),
        LogLevel::Debug => ("DEBUG", theme.dim),
        LogLevel::Info => ("INFO ", Style::new()),
        LogLevel::Warn => ("WARN ", theme.warn),
        LogLevel::Error => ("ERROR", theme.error),
    };
    Span::styled(word, style)
}

/// One log line as one (unwrapped) screen line.
fn row<'a>(model: &Lattice, logs: &LogView, l: &'a LogLine, theme: &Theme) -> Line<'a> {
    let mut spans = Vec::with_capacity(8);
    if logs.timestamps() {
        spans.push(Span::styled(
            l.time.format("%H:%M:%S%.3f ").to_string(),
            theme.dim,
        ));
    }
    spans.push(level_span(l.level, theme));
    spans.push(Span::raw(" "));
    let src = source(model, l);
    spans.push(Span::styled(
        format!("{:<SOURCE_WIDTH$} ", truncate(&src, SOURCE_WIDTH)),
        theme.label,
    ));
    let text = l.text();
    let needle = logs.search();
    let hits = find_all(text, needle);
    if hits.is_empty() {
        spans.push(Span::raw(text));
    } else {
        let hit = if logs.current_match() == Some(l.seq) {
            theme.selected.add_modifier(Modifier::BOLD)
        } else {
            theme.filter.add_modifier(Modifier::REVERSED)
        };
        let mut at = 0;
        for start in hits {
            let end = start + needle.len();
            if start > at {
                spans.push(Span::raw(&text[at..start]));
            }
            spans.push(Span::styled(&text[start..end], hit));
            at = end;
        }
        if at < text.len() {
            spans.push(Span::raw(&text[at..]));
        }
    }
    Line::from(spans)
}

/// `line` cut into screen lines of at most `cols` columns, keeping each span's style; the
/// lines after the first start with `indent` blanks (`indent` < `cols`).
fn wrap_line(line: Line<'_>, cols: usize, indent: usize) -> Vec<Line<'static>> {
    let indent = indent.min(cols.saturating_sub(1));
    let mut out = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in line.spans {
        let style = span.style;
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > cols && used > 0 {
                if !piece.is_empty() {
                    cur.push(Span::styled(std::mem::take(&mut piece), style));
                }
                out.push(Line::from(std::mem::take(&mut cur)));
                used = indent;
                if indent > 0 {
                    cur.push(Span::raw(" ".repeat(indent)));
                }
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty() {
            cur.push(Span::styled(piece, style));
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(Line::from(cur));
    }
    out
}

/// The footer's right side in the logs view.
pub(crate) fn follow_label(logs: &LogView) -> String {
    if logs.following() {
        "● following".to_owned()
    } else {
        "‖ paused".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_character_and_the_styles() {
        let line = Line::from(vec![
            Span::styled("abc", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw("defgh"),
        ]);
        let text = |rows: &[Line<'_>]| -> Vec<String> {
            rows.iter()
                .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
                .collect()
        };
        let rows = wrap_line(line.clone(), 3, 0);
        assert_eq!(text(&rows), ["abc", "def", "gh"]);
        assert_eq!(rows[0].spans[0].style.add_modifier, Modifier::BOLD);
        assert_eq!(text(&wrap_line(line, 4, 2)), ["abcd", "  ef", "  gh"]);
    }
}
