//! The console's screen: [`render`] draws a [`Lattice`] model and a [`ViewState`] into a
//! ratatui [`Frame`]; [`keymap::action`] and [`ViewState::apply`] turn key presses into view
//! changes.
//!
//! Layout, top to bottom: the header (connection and counts), the tab bar
//! (`1 Hosts 2 Actors 3 Providers 4 Links 5 Events`), the body (the active tab's table and the
//! detail pane of its selected row, on the right from 120 columns, below otherwise), and the
//! footer (key hints and active filters). `?` lays the help overlay on top, `y` the raw JSON.
//! After a drill-down (`Enter`) the body starts with a breadcrumb line, and an actor or
//! provider view takes the place of the table. The logs view (`l`, `:logs`) takes the body's
//! place while it is open.
//!
//! Pure: reads only `&Lattice` (plus `lattice::protocol` types), writes only the frame and the
//! view state. No I/O, no async, no clock (`now` is passed in), no environment (the App
//! passes `no_color` to [`ViewState::new`]). Only the visible rows are formatted, so a frame
//! costs the same for 100 or 10,000 rows.

mod actors;
mod build;
pub mod command_line;
mod detail;
mod events;
mod footer;
pub mod format;
mod header;
mod help;
mod hosts;
mod json;
pub mod keymap;
mod lattice_column;
mod links;
mod logs;
mod object;
mod pane;
mod providers;
mod rates;
pub mod row_actions;
pub mod rows;
pub mod sort;
mod table;
pub mod theme;
pub mod view_state;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};

use crate::state::{Lattice, Timestamp};

pub use header::APP_NAME;
pub use keymap::{Action, Mode, action};
pub use rows::{RowKey, Rows};
pub use theme::Theme;
pub use view_state::{Level, Outcome, Tab, Target, ViewState};

use table::Place;

/// From this width on, the detail pane sits right of the table instead of below it.
pub const WIDE_LAYOUT_MIN_WIDTH: u16 = 120;

/// Below this body height (narrow layout), there is no room for the detail pane.
const DETAIL_BELOW_MIN_BODY_HEIGHT: u16 = 16;

/// Draws one frame of the console: `model` as seen through `view`, relative times at `now`.
/// Updates `view`'s resolved selections and scroll offsets. Never panics on small terminals.
pub fn render(frame: &mut Frame, model: &Lattice, view: &mut ViewState, now: Timestamp) {
    let area = frame.area();
    if area.is_empty() {
        return;
    }
    let [header_area, tabs_area, body_area, footer_area] = areas(area);
    header::render(frame, header_area, model, view);
    header::render_tabs(frame, tabs_area, view);
    let follow = if view.logs_open() {
        let theme = *view.theme();
        logs::render(frame, body_area, model, view.logs_mut(), &theme);
        Some(logs::follow_label(view.logs()))
    } else {
        body(frame, body_area, model, view, now)
    };
    footer::render(frame, footer_area, model, view, follow);
    match view.mode() {
        Mode::Help => {
            let theme = *view.theme();
            help::render(frame, area, &theme, view.help_scroll_mut());
        }
        Mode::Build => build::render(frame, area, model, view.theme(), now),
        Mode::Json => {
            let theme = *view.theme();
            json::render(frame, area, view, &theme);
        }
        Mode::Normal
        | Mode::Filter
        | Mode::Command
        | Mode::Confirm
        | Mode::Pick
        | Mode::Logs
        | Mode::LogsSearch => {}
    }
}

/// The header, tab bar, body and footer of a frame of `area`.
fn areas(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Whether redrawing only the footer ([`render_footer`]) shows everything a full frame
/// ([`render`]) would, when what changed since the last full frame is only the status line
/// and the action lines appended to the model's event log (an action's ack, progress or
/// outcome). Not when the screen reads the event log (the Events tab, an actor's update
/// history in an object view, which an appended line can push out), nor when an overlay
/// (help, JSON, build output) or the logs view is drawn over or instead of the tables.
#[must_use]
pub fn footer_redraw_suffices(view: &ViewState) -> bool {
    view.mode().over_the_tables() && view.tab() != Tab::Events && view.object().is_none()
}

/// The footer's line in a frame of `area`, where [`render`] and [`render_footer`] draw it.
#[must_use]
pub fn footer_area(area: Rect) -> Rect {
    let [.., footer] = areas(area);
    footer
}

/// Draws only the footer line of a frame (key hints, the typed line, the status), exactly as
/// [`render`] draws it; the rest of `frame` must already hold the last full frame. For the
/// states [`footer_redraw_suffices`] accepts. Returns where the terminal's cursor goes (the
/// end of a line being typed), also set on `frame`; `None`: hidden.
pub fn render_footer(frame: &mut Frame, model: &Lattice, view: &ViewState) -> Option<Position> {
    let area = frame.area();
    if area.is_empty() {
        return None;
    }
    footer::render(frame, footer_area(area), model, view, None)
}

/// Draws the active tab's table and detail pane; returns the Events follow label.
fn body(
    frame: &mut Frame,
    area: Rect,
    model: &Lattice,
    view: &mut ViewState,
    now: Timestamp,
) -> Option<String> {
    let area = if view.levels().is_empty() || area.height < 2 {
        area
    } else {
        let [crumbs, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
        header::render_crumbs(frame, crumbs, &view.crumbs(model), view.theme());
        rest
    };
    if let Some(target) = view.object().cloned() {
        object::render(frame, area, model, view, &target, now);
        return None;
    }
    let tab = view.tab();
    let rows = view.rows_of(tab, model);
    let selected = view.resolve(tab, &rows);
    let (table_area, detail_area) = split_body(area, view.detail_shown() && selected.is_some());
    let at = Place {
        selected,
        now,
        empty: empty_message(tab, model, view, rows::unfiltered_len(tab, model)),
        host: view
            .row_filter(tab)
            .host
            .map(|h| host_name(model, h).to_string()),
    };
    let mut follow = None;
    match &rows {
        Rows::Hosts(v) => hosts::render(frame, table_area, model, view, v, at),
        Rows::Actors(v) => actors::render(frame, table_area, model, view, v, at),
        Rows::Providers(v) => providers::render(frame, table_area, model, view, v, at),
        Rows::Links(v) => links::render(frame, table_area, model, view, v, at),
        Rows::Events(v) => {
            follow = Some(events::follow_label(view, v.len(), selected));
            events::render(frame, table_area, model, view, v, at);
        }
    }
    if let (Some(area), Some(i)) = (detail_area, selected) {
        detail::render(frame, area, model, view, &rows, i, now);
    }
    follow
}

/// Splits the body into the table and, if wanted and there is room, the detail pane.
fn split_body(area: Rect, detail: bool) -> (Rect, Option<Rect>) {
    if !detail {
        return (area, None);
    }
    if area.width >= WIDE_LAYOUT_MIN_WIDTH {
        let w = (area.width / 3).clamp(40, 72);
        let [table, detail] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(w)]).areas(area);
        (table, Some(detail))
    } else if area.height >= DETAIL_BELOW_MIN_BODY_HEIGHT {
        let h = (area.height * 2 / 5).clamp(7, 16);
        let [table, detail] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(h)]).areas(area);
        (table, Some(detail))
    } else {
        (area, None)
    }
}

/// A host's name for filter labels: its display name, else (it went away) its short id.
pub(crate) fn host_name<'a>(model: &'a Lattice, host_id: &'a str) -> &'a str {
    model
        .hosts
        .get(host_id)
        .map_or_else(|| format::short_id(host_id), |h| h.display_name())
}

/// What an empty table says: why it is empty and what to do.
fn empty_message(tab: Tab, model: &Lattice, view: &ViewState, unfiltered: usize) -> String {
    let filter = view.row_filter(tab);
    if unfiltered > 0 && (!filter.text.is_empty() || filter.host.is_some()) {
        let mut what = Vec::new();
        if let Some(h) = filter.host {
            what.push(format!("on host {}", host_name(model, h)));
        }
        if !filter.text.is_empty() {
            what.push(format!("matching /{}", filter.text));
        }
        return format!(
            "no {} {} — Esc clears the filters",
            tab.title().to_lowercase(),
            what.join(" ")
        );
    }
    match tab {
        Tab::Hosts => format!(
            "no hosts yet — waiting for heartbeats on wasmbus.evt.{}",
            model.lattice
        ),
        Tab::Actors if model.hosts.is_empty() => "no actors — no hosts yet".to_string(),
        Tab::Actors => "no actors running".to_string(),
        Tab::Providers if model.hosts.is_empty() => "no providers — no hosts yet".to_string(),
        Tab::Providers => "no providers running".to_string(),
        Tab::Links => "no link definitions".to_string(),
        Tab::Events => format!("no events yet on wasmbus.evt.{}", model.lattice),
    }
}
