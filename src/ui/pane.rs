//! A bordered pane of lines that scrolls: the detail pane, the actor and provider views and
//! the JSON overlay. Only the visible window is drawn; when the content is longer than the
//! pane, the bottom border says which lines show (`↑ 11-30/45 ↓`).
//!
//! Pure rendering: no I/O. The scroll position is clamped by the caller (see
//! [`clamp_scroll`](super::view_state::clamp_scroll)) before it gets here.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;

/// The scroll indicator for a window of `height` lines at `offset` over `len` lines; `None`
/// when everything fits.
pub fn indicator(offset: usize, len: usize, height: usize) -> Option<String> {
    if len <= height || height == 0 {
        return None;
    }
    let last = offset.saturating_add(height).min(len);
    let up = if offset > 0 { "↑ " } else { "" };
    let down = if last < len { " ↓" } else { "" };
    Some(format!(" {up}{}-{last}/{len}{down} ", offset + 1))
}

/// Draws `lines` into `block` over `area`, starting at line `offset`.
pub(crate) fn render(
    frame: &mut Frame,
    area: Rect,
    block: Block<'_>,
    lines: Vec<Line<'static>>,
    offset: usize,
    theme: &Theme,
) {
    let height = usize::from(block.inner(area).height);
    let len = lines.len();
    let block = match indicator(offset, len, height) {
        Some(text) => block.title_bottom(Line::styled(text, theme.dim).right_aligned()),
        None => block,
    };
    let visible: Vec<Line<'static>> = lines.into_iter().skip(offset).take(height).collect();
    frame.render_widget(Paragraph::new(visible).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::view_state::clamp_scroll;

    #[test]
    fn scroll_positions_clamp_to_the_content() {
        assert_eq!(clamp_scroll(0, 100, 10), 0);
        assert_eq!(clamp_scroll(95, 100, 10), 90);
        assert_eq!(clamp_scroll(usize::MAX, 100, 10), 90);
        // Everything fits, or no room at all: nothing to scroll, or to the last line.
        assert_eq!(clamp_scroll(7, 5, 10), 0);
        assert_eq!(clamp_scroll(7, 0, 0), 0);
        assert_eq!(clamp_scroll(usize::MAX, 3, 0), 3);
    }

    #[test]
    fn the_indicator_says_which_lines_show() {
        assert_eq!(indicator(0, 5, 10), None);
        assert_eq!(indicator(0, 45, 20).as_deref(), Some(" 1-20/45 ↓ "));
        assert_eq!(indicator(10, 45, 20).as_deref(), Some(" ↑ 11-30/45 ↓ "));
        assert_eq!(indicator(25, 45, 20).as_deref(), Some(" ↑ 26-45/45 "));
        assert_eq!(indicator(0, 45, 0), None);
    }
}
