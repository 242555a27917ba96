//! The footer: key hints for the current mode (generated from the keymap's binding table),
//! the filter or command line being typed with its cursor, a confirmation question, the last
//! action's status, and on the right the active filters and the Events tab's follow state.
//!
//! Pure rendering: no I/O.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::state::Lattice;

use super::format::width;
use super::keymap::{BINDINGS, Mode, Scope};
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

/// Draws the footer into `area` (one line). Returns where it put the terminal's cursor (after
/// a line being typed), as set on `frame`.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &ViewState,
    follow: Option<String>,
) -> Option<Position> {
    let theme = view.theme();
    let right = status_spans(model, view, follow);
    let right_width = right.iter().map(|s| width(&s.content)).sum::<usize>() as u16;
    let right_width = right_width.min(area.width / 2);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_width)]).areas(area);
    let mut cursor = None;
    let left = match view.mode() {
        Mode::Filter => typed_line(
            frame,
            left_area,
            theme,
            Typed {
                prompt: "/",
                text: view.text_filter(),
                placeholder: None,
                candidates: &[],
            },
            Mode::Filter,
            &mut cursor,
        ),
        Mode::Command => typed_line(
            frame,
            left_area,
            theme,
            Typed {
                prompt: ":",
                text: view.command_text(),
                placeholder: view.command_placeholder(),
                candidates: view.command_candidates(),
            },
            Mode::Command,
            &mut cursor,
        ),
        mode @ (Mode::Confirm | Mode::Pick) => {
            let mut spans = vec![
                Span::styled(view.question().unwrap_or_default().to_string(), theme.warn),
                Span::raw("  "),
            ];
            spans.extend(hints(theme, mode));
            spans
        }
        Mode::Json => hints(theme, Mode::Json),
        Mode::Help => vec![Span::styled(
            "j/k scroll the help (when it does not fit), any other key closes it",
            theme.dim,
        )],
        Mode::Build => vec![Span::styled("any key closes the build output", theme.dim)],
        Mode::LogsSearch => typed_line(
            frame,
            left_area,
            theme,
            Typed {
                prompt: "/",
                text: view.logs().editing().unwrap_or_default(),
                placeholder: None,
                candidates: &[],
            },
            Mode::LogsSearch,
            &mut cursor,
        ),
        Mode::Logs => hints(theme, Mode::Logs),
        Mode::Normal => match view.status() {
            // The last action's progress or outcome, until the next one.
            Some(status) => {
                let mut spans = vec![
                    Span::styled(status.to_string(), theme.filter),
                    Span::raw("  "),
                ];
                spans.extend(hints(theme, Mode::Normal));
                spans
            }
            None => hints(theme, Mode::Normal),
        },
    };
    frame.render_widget(Paragraph::new(Line::from(left)), left_area);
    frame.render_widget(
        Paragraph::new(Line::from(right).right_aligned()),
        right_area,
    );
    cursor
}

/// A line being typed: its prompt and text, what its next word fills, Tab's candidates.
struct Typed<'a> {
    prompt: &'static str,
    text: &'a str,
    placeholder: Option<&'static str>,
    candidates: &'a [String],
}

/// A line being typed after its `prompt` (the filter after `/`, a command after `:`), with
/// the terminal cursor right after the text (set on `frame` and in `cursor`) and the hints
/// of `mode`.
fn typed_line(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    line: Typed<'_>,
    mode: Mode,
    cursor: &mut Option<Position>,
) -> Vec<Span<'static>> {
    let Typed {
        prompt,
        text,
        placeholder,
        candidates,
    } = line;
    let mut spans = vec![
        Span::styled(prompt, theme.key),
        Span::styled(text.to_string(), theme.filter),
    ];
    // What the next word fills (a row key's command waiting for its count, say).
    if let Some(p) = placeholder {
        spans.push(Span::styled(format!("‹{p}›"), theme.dim));
    }
    spans.push(Span::raw("  "));
    // Tab's candidates, between the line and the key hints.
    if !candidates.is_empty() {
        spans.push(Span::styled(candidates.join("  "), theme.warn));
        spans.push(Span::raw("  "));
    }
    spans.extend(hints(theme, mode));
    let x = area.x.saturating_add((width(prompt) + width(text)) as u16);
    if area.width > 0 && x < area.right() {
        let at = Position::new(x, area.y);
        frame.set_cursor_position(at);
        *cursor = Some(at);
    }
    spans
}

/// `key hint` pairs of the bindings of `mode` that have a footer hint.
fn hints(theme: &Theme, mode: Mode) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for b in BINDINGS.iter().filter(|b| b.scope == Scope::In(mode)) {
        let Some(hint) = b.hint else {
            continue;
        };
        if !spans.is_empty() {
            spans.push(Span::raw("  "));
        }
        let key = b.keys.first().map(|k| k.label()).unwrap_or_default();
        spans.push(Span::styled(key, theme.key));
        spans.push(Span::styled(format!(" {hint}"), theme.dim));
    }
    spans
}

/// The active filters and, on the Events tab, the follow state.
fn status_spans<'a>(model: &'a Lattice, view: &ViewState, follow: Option<String>) -> Vec<Span<'a>> {
    let theme = view.theme();
    let mut spans = Vec::new();
    if let Some(h) = view.row_filter(view.tab()).host {
        spans.push(Span::styled(
            format!("host={}", super::host_name(model, h)),
            theme.filter,
        ));
    }
    let text = view.text_filter();
    if !text.is_empty() && view.mode() != Mode::Filter {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(format!("/{text}"), theme.filter));
    }
    if view.logs_open() {
        // The tables' filters do not apply here; the view's own are in its title.
        spans.clear();
        if let Some(f) = follow {
            let style = if view.logs().following() {
                theme.ok
            } else {
                theme.warn
            };
            spans.push(Span::styled(f, style));
            spans.push(Span::raw(" "));
        }
        return spans;
    }
    if let (Tab::Events, Some(f)) = (view.tab(), follow) {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        let style = if view.following() {
            theme.ok
        } else {
            theme.warn
        };
        spans.push(Span::styled(f, style));
    }
    if !spans.is_empty() {
        spans.push(Span::raw(" "));
    }
    spans
}
