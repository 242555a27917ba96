//! Colours and text attributes of the console, by meaning (ok, warn, error, selection…).
//!
//! Owns every [`Style`] the UI draws with, so a theme switch is one value. Meaning never rests
//! on colour alone: every status also has a symbol and a word, and the selection is REVERSED.
//! [`Theme::plain`] (used when `NO_COLOR` is set; the App decides, this module reads nothing)
//! sets no foreground or background colour at all. Pure data: no I/O.

use ratatui::style::{Color, Modifier, Style};

/// The styles the console draws with, named by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// The application name in the header.
    pub title: Style,
    /// Labels in the header ("hosts", "links"…) and keys in the detail pane.
    pub label: Style,
    /// Something healthy or live.
    pub ok: Style,
    /// Something degraded: stale host, unhealthy provider, update failure, warnings.
    pub warn: Style,
    /// Something failed: lost host, failed start, errors.
    pub error: Style,
    /// Secondary text: ids, hints, empty-state lines, awaiting health.
    pub dim: Style,
    /// The active tab in the tab bar.
    pub tab_active: Style,
    /// Inactive tabs.
    pub tab_inactive: Style,
    /// Table column titles.
    pub table_header: Style,
    /// The selected table row. Always REVERSED so it shows without colour.
    pub selected: Style,
    /// Borders of the table, detail and help blocks.
    pub border: Style,
    /// Key names in the footer and the help overlay.
    pub key: Style,
    /// Active filters (footer and table titles).
    pub filter: Style,
}

impl Default for Theme {
    /// Colours from the terminal's 16-colour palette (which light and dark terminal themes
    /// both remap to readable shades), no backgrounds, so the terminal's own background shows.
    fn default() -> Self {
        Self {
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            label: Style::new().fg(Color::DarkGray),
            ok: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            dim: Style::new().fg(Color::DarkGray),
            tab_active: Style::new()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
            tab_inactive: Style::new(),
            table_header: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            border: Style::new().fg(Color::DarkGray),
            key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            filter: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        }
    }
}

impl Theme {
    /// The NO_COLOR theme: modifiers only (bold, underline, dim, reversed), no colours.
    pub fn plain() -> Self {
        Self {
            title: Style::new().add_modifier(Modifier::BOLD),
            label: Style::new(),
            ok: Style::new(),
            warn: Style::new().add_modifier(Modifier::BOLD),
            error: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            dim: Style::new().add_modifier(Modifier::DIM),
            tab_active: Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            tab_inactive: Style::new(),
            table_header: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            selected: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            border: Style::new(),
            key: Style::new().add_modifier(Modifier::BOLD),
            filter: Style::new().add_modifier(Modifier::BOLD),
        }
    }

    /// [`Theme::plain`] when `no_color`, else [`Theme::default`].
    pub fn for_no_color(no_color: bool) -> Self {
        if no_color {
            Self::plain()
        } else {
            Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn styles(t: &Theme) -> [Style; 13] {
        [
            t.title,
            t.label,
            t.ok,
            t.warn,
            t.error,
            t.dim,
            t.tab_active,
            t.tab_inactive,
            t.table_header,
            t.selected,
            t.border,
            t.key,
            t.filter,
        ]
    }

    #[test]
    fn plain_theme_has_no_colours() {
        for s in styles(&Theme::plain()) {
            assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
        }
    }

    #[test]
    fn no_theme_sets_a_background_and_selection_is_reversed() {
        for t in [Theme::default(), Theme::plain()] {
            for s in styles(&t) {
                assert_eq!(s.bg, None, "{s:?}");
            }
            assert!(t.selected.add_modifier.contains(Modifier::REVERSED));
        }
    }
}
