//! The header and the tab bar below it. Line 1: app name, lattice, transport and connection
//! state, dropped events, resyncs, the last error. Line 2: hosts (stale, lost), actors
//! (instances), providers, links.
//!
//! Pure rendering of the model's `connection` and counts: no I/O, no clock.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::state::lattices::{EVERY_LATTICE, counts_by_lattice};
use crate::state::{HostStatus, Lattice};

use super::format;
use super::theme::Theme;
use super::view_state::{Tab, ViewState};

/// The application name shown first in the header.
pub const APP_NAME: &str = "lattice-tui";

/// Separator between header fields.
const SEP: &str = " │ ";

/// Draws the two header lines into `area` (one line if that is all there is).
pub(crate) fn render(frame: &mut Frame, area: Rect, model: &Lattice, view: &ViewState) {
    let theme = view.theme();
    let mut first = connection_line(model, theme);
    if view.readonly() {
        first.spans.insert(1, Span::styled(" READONLY", theme.warn));
    }
    let mut counts = counts_line(model, theme);
    if model.lattice == EVERY_LATTICE {
        every_lattice(&mut first, &mut counts, model, view);
    }
    let lines = vec![first, counts];
    frame.render_widget(Paragraph::new(lines), area);
}

/// `--lattice '*'`: how many lattices (and the focused one) on line 1, hosts and instances per
/// lattice after the counts.
fn every_lattice(first: &mut Line<'_>, counts: &mut Line<'_>, model: &Lattice, view: &ViewState) {
    let theme = view.theme();
    let per = counts_by_lattice(model);
    if let Some(i) = first.spans.iter().position(|s| s.content == model.lattice) {
        let mut text = format!("* ({} found)", per.len());
        if let Some(f) = view.focused_lattice() {
            text = format!("{f} of {} (:lattice: all)", per.len());
        }
        first.spans[i] = Span::raw(text);
    }
    counts.spans.push(Span::raw(SEP));
    for (n, (name, (hosts, instances))) in per.iter().enumerate() {
        if n > 0 {
            counts.spans.push(Span::styled(" · ", theme.dim));
        }
        let style = if view.focused_lattice() == Some(*name) {
            theme.tab_active
        } else {
            theme.label
        };
        counts.spans.push(Span::styled(name.to_string(), style));
        counts
            .spans
            .push(Span::raw(format!(" {hosts}h/{instances}i")));
    }
}

fn connection_line<'a>(model: &'a Lattice, theme: &Theme) -> Line<'a> {
    let c = &model.connection;
    let (symbol, word) = format::connection(&c.state);
    let state_style = match c.state.as_str() {
        "connected" => theme.ok,
        "closed" | "disconnected" => theme.error,
        _ => theme.warn,
    };
    let transport = if c.transport.is_empty() {
        "no transport"
    } else {
        c.transport.as_str()
    };
    let mut spans = vec![
        Span::styled(APP_NAME, theme.title),
        Span::raw(SEP),
        Span::styled("lattice ", theme.label),
        Span::raw(model.lattice.as_str()),
        Span::raw(SEP),
        Span::raw(transport),
        Span::raw(" "),
        Span::styled(format!("{symbol} {word}"), state_style),
    ];
    let dropped_style = if c.dropped > 0 {
        theme.warn
    } else {
        Style::new()
    };
    let dropped_text = if c.dropped > 0 {
        format!("! {}", c.dropped)
    } else {
        "0".to_string()
    };
    spans.extend([
        Span::raw(SEP),
        Span::styled("dropped ", theme.label),
        Span::styled(dropped_text, dropped_style),
        Span::raw(SEP),
        Span::styled("resyncs ", theme.label),
        Span::raw(c.resyncs.to_string()),
    ]);
    if let Some(url) = model.local.as_ref().and_then(|l| l.serving.first()) {
        spans.extend([Span::raw(SEP), Span::styled(url.as_str(), theme.ok)]);
        let more = model
            .local
            .as_ref()
            .map_or(0, |l| l.serving.len().saturating_sub(1));
        if more > 0 {
            spans.push(Span::styled(format!(" +{more}"), theme.dim));
        }
    }
    if let Some(err) = model
        .local
        .as_ref()
        .and_then(|l| l.data_watch_error.as_ref())
    {
        spans.push(Span::raw(SEP));
        spans.push(Span::styled(format!("✗ host: {err}"), theme.error));
    }
    if let Some(err) = &c.last_error {
        spans.push(Span::raw(SEP));
        spans.push(Span::styled(format!("✗ error: {err}"), theme.error));
    }
    Line::from(spans)
}

fn counts_line<'a>(model: &'a Lattice, theme: &Theme) -> Line<'a> {
    let (mut stale, mut lost) = (0, 0);
    for h in model.hosts.values() {
        match h.status {
            HostStatus::Live => {}
            HostStatus::Stale => stale += 1,
            HostStatus::Lost => lost += 1,
        }
    }
    let actors: usize = model.hosts.values().map(|h| h.actors.len()).sum();
    let mut spans = vec![
        Span::styled("hosts ", theme.label),
        Span::raw(model.hosts.len().to_string()),
    ];
    if stale > 0 {
        spans.push(Span::styled(format!(" ◐ {stale} stale"), theme.warn));
    }
    if lost > 0 {
        spans.push(Span::styled(format!(" ○ {lost} lost"), theme.error));
    }
    spans.extend([
        Span::raw(SEP),
        Span::styled("actors ", theme.label),
        Span::raw(match model.actor_instances() {
            1 => format!("{actors} (1 instance)"),
            n => format!("{actors} ({n} instances)"),
        }),
        Span::raw(SEP),
        Span::styled("providers ", theme.label),
        Span::raw(model.provider_count().to_string()),
        Span::raw(SEP),
        Span::styled("links ", theme.label),
        Span::raw(model.links.len().to_string()),
    ]);
    if let Some(b) = &model.build {
        let (text, style) = super::build::status(b, theme);
        spans.extend([
            Span::raw(SEP),
            Span::styled("build ", theme.label),
            Span::styled(text, style),
        ]);
        if b.status == crate::state::BuildStatus::Failed {
            spans.push(Span::styled(" (b: output)", theme.dim));
        }
    }
    Line::from(spans)
}

/// Draws the breadcrumb line of a drill-down: `Hosts › edge-1 › Actors › echo`, the last
/// crumb highlighted; cut from the left when it does not fit.
pub(crate) fn render_crumbs(frame: &mut Frame, area: Rect, crumbs: &[String], theme: &Theme) {
    let sep = " › ";
    let full = crumbs.join(sep);
    let room = usize::from(area.width);
    let mut spans = Vec::with_capacity(crumbs.len() * 2 + 1);
    if format::width(&full) > room {
        // Keep the deepest crumbs: they say where you are.
        let mut kept = Vec::new();
        let mut used = 2;
        for c in crumbs.iter().rev() {
            let w = format::width(c) + format::width(sep);
            if used + w > room && !kept.is_empty() {
                break;
            }
            used += w;
            kept.push(c.as_str());
        }
        kept.reverse();
        spans.push(Span::styled("…", theme.dim));
        for c in &kept {
            spans.push(Span::styled(sep, theme.dim));
            spans.push(Span::raw(format::truncate(c, room).into_owned()));
        }
    } else {
        for (i, c) in crumbs.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(sep, theme.dim));
            }
            spans.push(Span::raw(c.clone()));
        }
    }
    if let Some(last) = spans.last_mut() {
        last.style = theme.title;
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Draws the tab bar: `1 Hosts 2 Actors …`, the active tab in brackets and highlighted.
pub(crate) fn render_tabs(frame: &mut Frame, area: Rect, view: &ViewState) {
    let theme = view.theme();
    let mut spans = Vec::with_capacity(Tab::ALL.len() + 1);
    for tab in Tab::ALL {
        let n = tab.index() + 1;
        if tab == view.tab() {
            spans.push(Span::styled(
                format!("[{n} {}]", tab.title()),
                theme.tab_active,
            ));
        } else {
            spans.push(Span::styled(
                format!(" {n} {} ", tab.title()),
                theme.tab_inactive,
            ));
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
