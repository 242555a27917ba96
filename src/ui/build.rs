//! The dev build's output (`lattice-tui dev --build CMD`): a status chip for the header and an
//! overlay (`b`) with the newest output lines, errors highlighted.
//!
//! Pure rendering of `model.build`: no I/O, no clock (`now` is passed in).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::format::{self, truncate};
use super::theme::Theme;
use crate::state::{BuildState, BuildStatus, Lattice, Timestamp};

/// Margin around the overlay.
const MARGIN: u16 = 2;

/// The header's build chip: `✓ 1.2 s`, `⟳ running`, `✗ exit 101`.
pub(crate) fn status(b: &BuildState, theme: &Theme) -> (String, Style) {
    let took = b
        .took_ms
        .map(|ms| format!(" {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    match b.status {
        BuildStatus::Idle => ("… waiting for changes".to_string(), theme.dim),
        BuildStatus::Running => (format!("⟳ run {} running", b.run), theme.warn),
        BuildStatus::Succeeded => (format!("✓ ok{took}"), theme.ok),
        BuildStatus::Failed => (
            format!(
                "✗ failed{}{took}",
                b.code.map(|c| format!(", exit {c}")).unwrap_or_default()
            ),
            theme.error,
        ),
        BuildStatus::Cancelled => (format!("↻ run {} cancelled", b.run), theme.dim),
    }
}

/// Draws the overlay: a title with the command and status, then as many of the newest lines
/// as fit.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    theme: &Theme,
    now: Timestamp,
) {
    let inner = Rect {
        x: area.x.saturating_add(MARGIN),
        y: area.y.saturating_add(MARGIN / 2),
        width: area.width.saturating_sub(2 * MARGIN),
        height: area.height.saturating_sub(MARGIN),
    };
    if inner.width < 10 || inner.height < 3 {
        return;
    }
    frame.render_widget(Clear, inner);
    let Some(b) = &model.build else {
        let block = Block::default().borders(Borders::ALL).title(" build ");
        let text =
            Paragraph::new("no build: start with `lattice-tui dev … --build CMD --watch-src DIR`")
                .style(theme.dim)
                .block(block);
        frame.render_widget(text, inner);
        return;
    };
    let (chip, chip_style) = status(b, theme);
    let since = b
        .started
        .map(|t| format!(" · started {}", format::age(t, now)))
        .unwrap_or_default();
    let title = Line::from(vec![
        Span::styled(" build ", theme.title),
        Span::raw(truncate(&b.command, usize::from(inner.width / 2)).into_owned()),
        Span::raw(" · "),
        Span::styled(chip, chip_style),
        Span::raw(since),
        Span::raw(" "),
    ]);
    let block = Block::default().borders(Borders::ALL).title(title);
    let room = usize::from(inner.height.saturating_sub(2));
    let width = usize::from(inner.width.saturating_sub(2));
    let skip = b.output.len().saturating_sub(room);
    let lines: Vec<Line<'_>> = b
        .output
        .iter()
        .skip(skip)
        .map(|l| {
            let style = if l.text.starts_with("──") {
                theme.label
            } else if l.stderr && looks_like_error(&l.text) {
                theme.error
            } else if l.stderr {
                theme.dim
            } else {
                Style::new()
            };
            Line::styled(truncate(&l.text, width).into_owned(), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), inner);
}

/// Compiler-ish error lines (`error`, `error[E0308]`, `FAILED`).
fn looks_like_error(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("error") || t.contains("FAILED")
}
