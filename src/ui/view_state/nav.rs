//! Drilling down and what hangs off the selection: the navigation stack ([`Level`]s that
//! `Enter` pushes and `Esc` pops, shown as breadcrumbs), sorting by column (`o`/`O`), the raw
//! JSON overlay (`y`), copying an id (`c`, an [`Outcome::copy`] the App carries out) and the
//! scroll positions of the detail pane, the actor/provider views and the JSON overlay.
//!
//! A host level filters the Actors, Providers and Events tabs by that host (what `Enter` on a
//! host always did); an actor or provider level replaces the table by that object's view.
//! Pure: no I/O, no clock.

use crate::state::Lattice;

use super::super::json;
use super::super::keymap::{Action, Mode};
use super::super::rows::Rows;
use super::super::{format, host_name, rows, sort};
use super::{Outcome, Tab, ViewState};

/// What one level of the navigation stack shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host: the Actors, Providers and Events tabs show only its rows.
    Host(String),
    /// An actor's view across the lattice, by public key.
    Actor(String),
    /// A provider's view across the lattice.
    Provider {
        /// Public key.
        public_key: String,
        /// Link name.
        link_name: String,
    },
}

/// One level of the drill-down: the tab it was entered from and what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// The tab `Enter` was pressed on (and `Esc` returns to).
    pub from: Tab,
    /// What the level shows.
    pub target: Target,
    /// First visible line of an actor or provider view.
    pub scroll: usize,
}

impl Level {
    fn is_object(&self) -> bool {
        !matches!(self.target, Target::Host(_))
    }
}

/// The raw JSON overlay's content, taken when `y` was pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonView {
    /// What the JSON is of (`actor echo`).
    pub title: String,
    /// The pretty-printed JSON, one entry per line.
    pub lines: Vec<String>,
    /// First visible line.
    pub scroll: usize,
}

/// `offset` clamped so that a window of `height` lines over `len` lines shows no empty space
/// below the last line (0 when everything fits).
pub fn clamp_scroll(offset: usize, len: usize, height: usize) -> usize {
    offset.min(len.saturating_sub(height))
}

impl ViewState {
    /// The drill-down path, outermost first.
    pub fn levels(&self) -> &[Level] {
        &self.nav
    }

    /// The actor or provider whose view replaces the table, if one is open.
    pub fn object(&self) -> Option<&Target> {
        self.nav.last().filter(|l| l.is_object()).map(|l| &l.target)
    }

    /// The JSON overlay's content, while it is open.
    pub fn json(&self) -> Option<&JsonView> {
        self.json.as_ref()
    }

    /// The breadcrumbs of the drill-down (`Hosts › edge-1 › Actors › echo`); empty at the
    /// root.
    pub fn crumbs(&self, model: &Lattice) -> Vec<String> {
        let mut out = Vec::new();
        for l in &self.nav {
            out.push(l.from.title().to_string());
            out.push(match &l.target {
                Target::Host(h) => host_name(model, h).to_string(),
                Target::Actor(a) => rows::actor_name_by_id(model, a).to_string(),
                Target::Provider {
                    public_key,
                    link_name,
                } => {
                    let name = rows::claims_name(model, public_key)
                        .unwrap_or_else(|| format::short_id(public_key));
                    if link_name == "default" {
                        name.to_string()
                    } else {
                        format!("{name} ({link_name})")
                    }
                }
            });
        }
        if self.nav.last().is_some_and(|l| !l.is_object()) {
            out.push(self.tab.title().to_string());
        }
        out
    }

    /// Scroll position of the detail pane of the active tab, clamped to `len` lines in a
    /// window of `height` by the frame that shows it (which also records the page size).
    pub(crate) fn detail_scroll(&mut self, len: usize, height: usize) -> usize {
        self.pane_page = height.max(1);
        let tv = &mut self.tabs[self.tab.index()];
        tv.detail_scroll = clamp_scroll(tv.detail_scroll, len, height);
        tv.detail_scroll
    }

    /// Scroll position of the open actor/provider view, clamped like [`Self::detail_scroll`].
    pub(crate) fn object_scroll(&mut self, len: usize, height: usize) -> usize {
        self.pane_page = height.max(1);
        match self.nav.last_mut() {
            Some(l) => {
                l.scroll = clamp_scroll(l.scroll, len, height);
                l.scroll
            }
            None => 0,
        }
    }

    /// Scroll position of the JSON overlay, clamped like [`Self::detail_scroll`].
    pub(crate) fn json_scroll(&mut self, height: usize) -> usize {
        self.pane_page = height.max(1);
        match self.json.as_mut() {
            Some(j) => {
                j.scroll = clamp_scroll(j.scroll, j.lines.len(), height);
                j.scroll
            }
            None => 0,
        }
    }

    /// Closes an actor or provider view (switching tabs does); whether one was open.
    pub(super) fn leave_object(&mut self) -> bool {
        let before = self.nav.len();
        self.nav.retain(|l| !l.is_object());
        self.nav.len() != before
    }

    /// `Enter`: a host → its actors; an actor or provider → its view; elsewhere the detail
    /// pane.
    pub(super) fn enter(&mut self, model: &Lattice) -> Outcome {
        if self.object().is_some() {
            return Outcome::CLEAN;
        }
        let tab = self.tab;
        let rows = self.rows(model);
        let Some(i) = self.resolve(tab, &rows) else {
            return Outcome::CLEAN;
        };
        let target = match &rows {
            Rows::Hosts(v) => v.get(i).map(|h| Target::Host(h.id.clone())),
            Rows::Actors(v) => v.get(i).map(|r| Target::Actor(r.actor.id.clone())),
            Rows::Providers(v) => v.get(i).map(|r| Target::Provider {
                public_key: r.provider.public_key.clone(),
                link_name: r.provider.link_name.clone(),
            }),
            Rows::Links(_) | Rows::Events(_) => None,
        };
        let Some(target) = target else {
            let changed = !self.show_detail;
            self.show_detail = true;
            return Outcome::dirty_if(changed);
        };
        if let Target::Host(_) = target {
            // One host at a time: a new host replaces the old one.
            self.nav.clear();
            self.tab = Tab::Actors;
        }
        self.nav.push(super::Level {
            from: tab,
            target,
            scroll: 0,
        });
        Outcome::DIRTY
    }

    /// `Esc`: closes an actor/provider view; else clears the tab's text filter; else leaves
    /// the host level; at the root with no filter, nothing.
    fn back(&mut self) -> Outcome {
        if self.object().is_some() {
            if let Some(l) = self.nav.pop() {
                self.tab = l.from;
            }
            return Outcome::DIRTY;
        }
        let tv = &mut self.tabs[self.tab.index()];
        if !tv.filter.is_empty() {
            tv.filter.clear();
            return Outcome::DIRTY;
        }
        match self.nav.pop() {
            Some(l) => {
                self.tab = l.from;
                Outcome::DIRTY
            }
            None => Outcome::CLEAN,
        }
    }

    /// The drill-down, sorting, JSON, copy and scroll actions.
    pub(super) fn apply_nav(&mut self, action: Action, model: &Lattice) -> Outcome {
        match action {
            Action::Back => self.back(),
            Action::SortNext | Action::SortReverse => {
                let tab = self.tab;
                if self.object().is_some() {
                    self.status = Some("sorting applies to tables (Esc: back)".into());
                    return Outcome::DIRTY;
                }
                if sort::sortable_columns(tab) == 0 {
                    self.status = Some(format!("{} stay in arrival order", tab.title()));
                    return Outcome::DIRTY;
                }
                let current = self.tabs[tab.index()].sort;
                self.tabs[tab.index()].sort = if action == Action::SortNext {
                    sort::next_column(tab, current)
                } else {
                    sort::reversed(tab, current)
                };
                Outcome::DIRTY
            }
            Action::ShowJson => {
                let Some((title, text)) = self.with_subject(model, json::of_target, json::of_row)
                else {
                    return Outcome::CLEAN;
                };
                self.json = Some(JsonView {
                    title,
                    lines: text.lines().map(str::to_string).collect(),
                    scroll: 0,
                });
                self.mode = Mode::Json;
                Outcome::DIRTY
            }
            Action::CloseJson => {
                self.json = None;
                self.set_mode(Mode::Normal)
            }
            Action::CopyId => match self.with_subject(model, json::id_of_target, json::id_of_row) {
                Some(id) => Outcome {
                    copy: Some(id),
                    ..Outcome::DIRTY
                },
                None => Outcome::CLEAN,
            },
            Action::ScrollDown
            | Action::ScrollUp
            | Action::ScrollPageDown
            | Action::ScrollPageUp
            | Action::ScrollTop
            | Action::ScrollBottom => self.scroll_pane(action),
            _ => Outcome::CLEAN,
        }
    }

    /// `on_target(model, object)` for an open actor/provider view, else `on_row(model, rows,
    /// i)` for the selected row; `None` without one.
    fn with_subject<T>(
        &mut self,
        model: &Lattice,
        on_target: impl Fn(&Lattice, &Target) -> Option<T>,
        on_row: impl Fn(&Lattice, &Rows<'_>, usize) -> Option<T>,
    ) -> Option<T> {
        if let Some(t) = self.object() {
            return on_target(model, t);
        }
        let rows = self.rows(model);
        let i = self.resolve(self.tab, &rows)?;
        on_row(model, &rows, i)
    }

    /// The scroll position the scroll keys move: the JSON overlay's, the open view's, or the
    /// detail pane's.
    fn scroll_slot(&mut self) -> &mut usize {
        if self.mode == Mode::Json
            && let Some(j) = self.json.as_mut()
        {
            return &mut j.scroll;
        }
        match self.nav.last_mut() {
            Some(l) if l.is_object() => &mut l.scroll,
            _ => &mut self.tabs[self.tab.index()].detail_scroll,
        }
    }

    fn scroll_pane(&mut self, action: Action) -> Outcome {
        let page = self.pane_page as isize;
        match action {
            Action::ScrollDown => self.scroll_by(1),
            Action::ScrollUp => self.scroll_by(-1),
            Action::ScrollPageDown => self.scroll_by(page),
            Action::ScrollPageUp => self.scroll_by(-page),
            // Clamped by the next frame.
            Action::ScrollTop => self.scroll_to(0),
            _ => self.scroll_to(usize::MAX),
        }
    }

    fn scroll_by(&mut self, delta: isize) -> Outcome {
        let slot = self.scroll_slot();
        let before = *slot;
        *slot = before.saturating_add_signed(delta);
        Outcome::dirty_if(*slot != before)
    }

    fn scroll_to(&mut self, offset: usize) -> Outcome {
        let slot = self.scroll_slot();
        let changed = *slot != offset;
        *slot = offset;
        Outcome::dirty_if(changed)
    }

    /// In an actor/provider view the row keys scroll it instead of moving the hidden table's
    /// selection; `None` when no view is open.
    pub(super) fn scroll_object_instead(&mut self, action: Action) -> Option<Outcome> {
        self.object()?;
        let mapped = match action {
            Action::Down => Action::ScrollDown,
            Action::Up => Action::ScrollUp,
            Action::PageDown => Action::ScrollPageDown,
            Action::PageUp => Action::ScrollPageUp,
            Action::Top => Action::ScrollTop,
            Action::Bottom => Action::ScrollBottom,
            _ => return None,
        };
        Some(self.scroll_pane(mapped))
    }
}
