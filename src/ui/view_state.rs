//! What the console shows besides the model: the active [`Tab`], the selected row of each
//! tab (by [`RowKey`], not by index), scroll offsets, filters, sort orders, follow mode, the
//! detail pane, the drill-down path ([`Level`]s, see [`nav`]), the raw JSON overlay, the input
//! [`Mode`] and the [`Theme`].
//!
//! Changed only by [`ViewState::apply`] (a key's [`Action`]) and by rendering, which resolves
//! each selection key to a row index against the current model and clamps scroll positions.
//! Pure: no I/O, no clock, no environment; the App passes `no_color` in, and carries out what
//! an [`Outcome`] asks for (quit, copy).

use ratatui::crossterm::event::KeyEvent;

use crate::state::Lattice;
use crate::state::logs::{LogLevel, LogView, LogsAction};

use super::command_line::{CommandLine, PathKind};
use super::keymap::{self, Action, Mode};
use super::row_actions::{self, RowVerb};
use super::rows::{RowFilter, RowKey, Rows};
use super::sort::{self, SortBy};
use super::theme::Theme;

pub mod nav;

pub use nav::{JsonView, Level, Target, clamp_scroll};

/// The tabs, in tab-bar order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tab {
    /// Hosts of the lattice.
    #[default]
    Hosts,
    /// Actors, one row per host × actor.
    Actors,
    /// Capability providers, one row per host × provider.
    Providers,
    /// Link definitions.
    Links,
    /// The event log.
    Events,
}

impl Tab {
    /// Every tab, in order.
    pub const ALL: [Tab; 5] = [
        Tab::Hosts,
        Tab::Actors,
        Tab::Providers,
        Tab::Links,
        Tab::Events,
    ];

    /// Position in [`Tab::ALL`].
    pub fn index(self) -> usize {
        match self {
            Tab::Hosts => 0,
            Tab::Actors => 1,
            Tab::Providers => 2,
            Tab::Links => 3,
            Tab::Events => 4,
        }
    }

    /// Name in the tab bar.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Hosts => "Hosts",
            Tab::Actors => "Actors",
            Tab::Providers => "Providers",
            Tab::Links => "Links",
            Tab::Events => "Events",
        }
    }

    /// The next tab, wrapping.
    pub fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    /// The previous tab, wrapping.
    pub fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }

    /// Whether the host filter applies to this tab.
    pub fn uses_host_filter(self) -> bool {
        matches!(self, Tab::Actors | Tab::Providers | Tab::Events)
    }
}

/// What handling one action did, for the App's loop.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use]
pub struct Outcome {
    /// The user asked to quit.
    pub quit: bool,
    /// The view changed and needs a redraw.
    pub dirty: bool,
    /// Only the footer line changed (the line being typed, the mode's key hints): the App
    /// may redraw that line alone (`ui::render_footer`). Never set together with `dirty`.
    pub footer: bool,
    /// Text to put on the clipboard (`c`): the App writes it to the terminal (OSC 52).
    pub copy: Option<String>,
}

impl Outcome {
    const CLEAN: Outcome = Outcome {
        quit: false,
        dirty: false,
        footer: false,
        copy: None,
    };
    const DIRTY: Outcome = Outcome {
        quit: false,
        dirty: true,
        footer: false,
        copy: None,
    };
    const FOOTER: Outcome = Outcome {
        quit: false,
        dirty: false,
        footer: true,
        copy: None,
    };

    fn dirty_if(changed: bool) -> Outcome {
        if changed {
            Outcome::DIRTY
        } else {
            Outcome::CLEAN
        }
    }

    fn footer_if(changed: bool) -> Outcome {
        if changed {
            Outcome::FOOTER
        } else {
            Outcome::CLEAN
        }
    }
}

/// Per-tab view: selection, scroll position and text filter.
#[derive(Debug, Clone, Default)]
struct TabView {
    /// Key of the selected row; follows the row when the model moves it.
    selected: Option<RowKey>,
    /// Index the selection had when last resolved: where the cursor stays when its row goes.
    index: usize,
    /// First visible row.
    offset: usize,
    /// Case-insensitive text filter.
    filter: String,
    /// Sort column and direction; `None` is the tab's default order.
    sort: Option<SortBy>,
    /// First visible line of the detail pane (reset when the selection moves).
    detail_scroll: usize,
}

/// Rows per page before the first render told us the real height.
const DEFAULT_PAGE: usize = 10;

/// The console's view state. Create one with [`ViewState::new`]; feed it actions with
/// [`ViewState::apply`] or key events with [`ViewState::handle_key`]; pass it to
/// [`render`](super::render).
#[derive(Debug, Clone)]
pub struct ViewState {
    tab: Tab,
    mode: Mode,
    tabs: [TabView; 5],
    /// The drill-down path (Enter pushes, Esc pops); a host level filters by that host.
    nav: Vec<Level>,
    /// The raw JSON overlay (`y`), while open.
    json: Option<JsonView>,
    /// Lines of the detail pane or object view in the last frame (their page size).
    pane_page: usize,
    /// The filter as it was when `/` was pressed, restored by Esc.
    filter_before_edit: String,
    follow: bool,
    show_detail: bool,
    theme: Theme,
    /// Table rows visible in the last frame (the page size).
    page: usize,
    /// The `:` command line.
    command: CommandLine,
    /// A line submitted with Enter, until the App takes it.
    submitted: Option<String>,
    /// The question of a destructive action waiting for `y`.
    question: Option<String>,
    /// The answer to it, until the App takes it.
    answer: Option<bool>,
    /// The status line: the last action's progress or outcome, or an error.
    status: Option<String>,
    /// The console refuses mutating actions (shown in the header).
    readonly: bool,
    /// A pick among numbered choices (the hosts an action could go to), its answer, and a
    /// path completion the App is to list files for.
    acting: Acting,
    /// The logs view: its lines and what the user set on it.
    logs: LogView,
    /// First line of the help overlay shown (when it does not fit); clamped when drawn.
    help_scroll: usize,
}

/// The state of the row keys' and the command line's requests to the App.
#[derive(Debug, Clone, Default)]
struct Acting {
    /// Choices of the pick being asked (its question is [`ViewState::question`]).
    choices: usize,
    /// The answer: `Some(None)` cancelled, `Some(Some(i))` picked choice `i` (0-based).
    picked: Option<Option<usize>>,
    /// Tab on a `REF`: the partial path and what kind of file.
    path: Option<(String, PathKind)>,
    /// The lattice focused with `:lattice NAME` (`--lattice '*'`).
    lattice: Option<String>,
}

impl Default for ViewState {
    fn default() -> Self {
        Self::new(false)
    }
}

impl ViewState {
    /// A fresh view on the Hosts tab, following events, with the detail pane shown. With
    /// `no_color` (the App read `NO_COLOR`) it draws with [`Theme::plain`].
    pub fn new(no_color: bool) -> Self {
        Self {
            tab: Tab::Hosts,
            mode: Mode::Normal,
            tabs: Default::default(),
            nav: Vec::new(),
            json: None,
            pane_page: DEFAULT_PAGE,
            filter_before_edit: String::new(),
            follow: true,
            show_detail: true,
            theme: Theme::for_no_color(no_color),
            page: DEFAULT_PAGE,
            command: CommandLine::default(),
            submitted: None,
            question: None,
            answer: None,
            status: None,
            readonly: false,
            acting: Acting::default(),
            logs: LogView::default(),
            help_scroll: 0,
        }
    }

    /// The logs view's model.
    pub fn logs(&self) -> &LogView {
        &self.logs
    }

    /// The logs view's model, for the App to append lines and set its capacity.
    pub fn logs_mut(&mut self) -> &mut LogView {
        &mut self.logs
    }

    /// Whether the logs view is open (and wants its lines).
    pub fn logs_open(&self) -> bool {
        matches!(self.mode, Mode::Logs | Mode::LogsSearch)
    }

    /// Opens the logs view showing `actor`'s lines (`None`: every line), at `level` and above
    /// when one is given (else the level filter stays).
    pub fn open_logs(&mut self, actor: Option<String>, level: Option<LogLevel>) {
        self.logs.set_actor(actor);
        if level.is_some() {
            self.logs.set_level(level);
        }
        self.mode = Mode::Logs;
    }

    /// Marks the console read-only (the header says so).
    pub fn set_readonly(&mut self, readonly: bool) {
        self.readonly = readonly;
    }

    /// Whether the console is read-only.
    pub fn readonly(&self) -> bool {
        self.readonly
    }

    /// The command line being typed.
    pub fn command_text(&self) -> &str {
        self.command.text()
    }

    /// What the command line's next word fills (`N`, `REF`…), when it waits for one.
    pub fn command_placeholder(&self) -> Option<&'static str> {
        self.command.placeholder()
    }

    /// The candidates of the last Tab on the command line that found several.
    #[must_use]
    pub fn command_candidates(&self) -> &[String] {
        self.command.candidates()
    }

    /// The line submitted with Enter, once (the App runs it).
    pub fn take_submitted(&mut self) -> Option<String> {
        self.submitted.take()
    }

    /// Asks `question`: the next key answers (`y` yes, anything else no).
    pub fn ask(&mut self, question: String) {
        self.question = Some(question);
        self.answer = None;
        self.mode = Mode::Confirm;
    }

    /// The question being asked, if any.
    pub fn question(&self) -> Option<&str> {
        self.question.as_deref()
    }

    /// The answer to the last question, once.
    pub fn take_answer(&mut self) -> Option<bool> {
        self.answer.take()
    }

    /// Sets the status line.
    pub fn set_status(&mut self, text: impl Into<String>) {
        self.status = Some(text.into());
    }

    /// The status line, if any.
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The active tab.
    pub fn tab(&self) -> Tab {
        self.tab
    }

    /// The input mode, for [`keymap::action`].
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The theme in use.
    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    /// The host whose actors, providers and events are shown, if filtered.
    pub fn host_filter(&self) -> Option<&str> {
        self.nav.iter().rev().find_map(|l| match &l.target {
            Target::Host(h) => Some(h.as_str()),
            Target::Actor(_) | Target::Provider { .. } => None,
        })
    }

    /// The sort order of `tab` (`None`: its default order).
    pub fn sort_of(&self, tab: Tab) -> Option<SortBy> {
        self.tabs[tab.index()].sort
    }

    /// The text filter of the active tab (empty when none).
    pub fn text_filter(&self) -> &str {
        &self.tabs[self.tab.index()].filter
    }

    /// The text filter of `tab`.
    pub fn text_filter_of(&self, tab: Tab) -> &str {
        &self.tabs[tab.index()].filter
    }

    /// Whether the Events tab follows new events.
    pub fn following(&self) -> bool {
        self.follow
    }

    /// Whether the detail pane is wanted (it is hidden anyway when there is no room).
    pub fn detail_shown(&self) -> bool {
        self.show_detail
    }

    /// The key of the selected row of the active tab.
    pub fn selected(&self) -> Option<&RowKey> {
        self.selected_in(self.tab)
    }

    /// The key of the selected row of `tab`.
    pub fn selected_in(&self, tab: Tab) -> Option<&RowKey> {
        self.tabs[tab.index()].selected.as_ref()
    }

    /// The filters `tab` is shown with.
    pub fn row_filter(&self, tab: Tab) -> RowFilter<'_> {
        RowFilter {
            host: self.host_filter().filter(|_| tab.uses_host_filter()),
            text: &self.tabs[tab.index()].filter,
            lattice: self.acting.lattice.as_deref(),
        }
    }

    /// Maps a key event to an action in the current mode and applies it.
    pub fn handle_key(&mut self, key: &KeyEvent, model: &Lattice) -> Outcome {
        match keymap::action(self.mode, key) {
            Some(action) => self.apply(action, model),
            None => Outcome::CLEAN,
        }
    }

    /// Applies one action against the current model.
    pub fn apply(&mut self, action: Action, model: &Lattice) -> Outcome {
        if let Some(out) = self.scroll_object_instead(action) {
            return out;
        }
        match action {
            Action::Quit => Outcome {
                quit: true,
                ..Outcome::CLEAN
            },
            Action::OpenHelp => {
                self.help_scroll = 0;
                self.set_mode(Mode::Help)
            }
            Action::HelpScroll(by) => {
                let before = self.help_scroll;
                self.help_scroll = if by < 0 {
                    before.saturating_sub(usize::from(by.unsigned_abs()))
                } else {
                    before.saturating_add(usize::from(by.unsigned_abs()))
                };
                Outcome::dirty_if(self.help_scroll != before)
            }
            Action::CloseHelp | Action::CloseBuild => self.set_mode(Mode::Normal),
            Action::OpenBuild => self.set_mode(Mode::Build),
            Action::NextTab => self.set_tab(self.tab.next()),
            Action::PrevTab => self.set_tab(self.tab.prev()),
            Action::GoTab(t) => self.set_tab(t),
            Action::Up => self.move_selection(model, Move::By(-1)),
            Action::Down => self.move_selection(model, Move::By(1)),
            Action::PageUp => self.move_selection(model, Move::By(-(self.page as isize))),
            Action::PageDown => self.move_selection(model, Move::By(self.page as isize)),
            Action::Top => self.move_selection(model, Move::Top),
            Action::Bottom => self.move_selection(model, Move::Bottom),
            Action::Enter => self.enter(model),
            Action::StartFilter => {
                self.filter_before_edit = self.text_filter().to_string();
                self.set_mode(Mode::Filter)
            }
            Action::FilterInput(c) => {
                self.tabs[self.tab.index()].filter.push(c);
                Outcome::DIRTY
            }
            Action::FilterBackspace => {
                Outcome::dirty_if(self.tabs[self.tab.index()].filter.pop().is_some())
            }
            Action::FilterClear => {
                let tv = &mut self.tabs[self.tab.index()];
                let had = !tv.filter.is_empty();
                tv.filter.clear();
                Outcome::dirty_if(had)
            }
            Action::FilterKeep => self.set_mode(Mode::Normal),
            Action::FilterCancel => {
                self.tabs[self.tab.index()].filter = std::mem::take(&mut self.filter_before_edit);
                self.mode = Mode::Normal;
                Outcome::DIRTY
            }
            Action::StartCommand => {
                self.command.open();
                self.set_mode(Mode::Command)
            }
            Action::CommandInput(c) => {
                self.command.push(c);
                Outcome::FOOTER
            }
            Action::CommandBackspace => Outcome::footer_if(self.command.backspace()),
            Action::CommandComplete if self.command.wants_path().is_some() => {
                self.acting.path = self.command.wants_path();
                Outcome::CLEAN
            }
            Action::CommandComplete => {
                // Several candidates show beside the line (the footer asks for them); the
                // status line keeps the last action's outcome.
                self.command.complete(model);
                Outcome::FOOTER
            }
            Action::CommandOlder => Outcome::footer_if(self.command.older()),
            Action::CommandNewer => Outcome::footer_if(self.command.newer()),
            Action::CommandSubmit => {
                let line = self.command.submit();
                if !line.is_empty() {
                    self.submitted = Some(line);
                }
                self.set_mode(Mode::Normal)
            }
            Action::CommandCancel => self.set_mode(Mode::Normal),
            Action::Row(verb) => self.row_action(verb, model),
            Action::Pick(n) => {
                let i = usize::from(n).saturating_sub(1);
                if n == 0 || i >= self.acting.choices {
                    return Outcome::CLEAN;
                }
                self.acting.picked = Some(Some(i));
                self.question = None;
                self.set_mode(Mode::Normal)
            }
            Action::PickCancel => {
                self.acting.picked = Some(None);
                self.question = None;
                self.set_mode(Mode::Normal)
            }
            Action::ConfirmYes | Action::ConfirmNo => {
                self.answer = Some(action == Action::ConfirmYes);
                self.question = None;
                self.set_mode(Mode::Normal)
            }
            Action::ToggleFollow => {
                if self.tab != Tab::Events {
                    return Outcome::CLEAN;
                }
                if self.follow {
                    // Pause on the newest row, which is what follow mode showed.
                    self.pin_selection(model);
                }
                self.follow = !self.follow;
                Outcome::DIRTY
            }
            Action::ToggleDetail => {
                self.show_detail = !self.show_detail;
                Outcome::DIRTY
            }
            Action::OpenLogs => {
                let actor = if self.tab == Tab::Actors {
                    let rows = self.rows(model);
                    self.resolve(Tab::Actors, &rows)
                        .and_then(|i| rows.key(i))
                        .and_then(|k| match k {
                            RowKey::Actor { actor, .. } => Some(actor),
                            _ => None,
                        })
                } else {
                    None
                };
                self.open_logs(actor, None);
                Outcome::DIRTY
            }
            Action::CloseLogs => self.set_mode(Mode::Normal),
            Action::Logs(a) => {
                self.logs.apply(a);
                match a {
                    LogsAction::StartSearch => self.mode = Mode::LogsSearch,
                    LogsAction::SearchKeep | LogsAction::SearchCancel => self.mode = Mode::Logs,
                    _ => {}
                }
                Outcome::DIRTY
            }
            Action::Back
            | Action::SortNext
            | Action::SortReverse
            | Action::ShowJson
            | Action::CloseJson
            | Action::CopyId
            | Action::ScrollDown
            | Action::ScrollUp
            | Action::ScrollPageDown
            | Action::ScrollPageUp
            | Action::ScrollTop
            | Action::ScrollBottom => self.apply_nav(action, model),
        }
    }

    /// The help overlay's scroll position, for drawing (which clamps it).
    pub(crate) fn help_scroll_mut(&mut self) -> &mut usize {
        &mut self.help_scroll
    }

    /// Shows only `lattice`'s rows (`:lattice NAME`), or every lattice's (`None`).
    pub fn focus_lattice(&mut self, lattice: Option<String>) {
        self.acting.lattice = lattice;
    }

    /// The lattice focused with `:lattice NAME`, if any.
    pub fn focused_lattice(&self) -> Option<&str> {
        self.acting.lattice.as_deref()
    }

    /// Asks `question` with `choices` numbered answers: a digit picks one, any other key
    /// cancels ([`ViewState::take_pick`]).
    pub fn ask_pick(&mut self, question: String, choices: usize) {
        self.question = Some(question);
        self.acting.choices = choices;
        self.acting.picked = None;
        self.mode = Mode::Pick;
    }

    /// The answer to the last pick, once: `Some(None)` when it was cancelled.
    pub fn take_pick(&mut self) -> Option<Option<usize>> {
        self.acting.picked.take()
    }

    /// Tab was pressed where the command line expects a file, once: the partial path and
    /// the kind of file. The App lists the directory and calls [`ViewState::complete_path`].
    pub fn take_path_request(&mut self) -> Option<(String, PathKind)> {
        self.acting.path.take()
    }

    /// Completes the path being typed from the App's listing; several candidates show beside
    /// the line (like the grammar's), and so does a note when none matches.
    pub fn complete_path(&mut self, candidates: Vec<String>) {
        let typed = self
            .command
            .wants_path()
            .map(|(t, _)| t)
            .unwrap_or_default();
        let none = candidates.iter().all(|c| !c.starts_with(typed.as_str()));
        self.command.complete_path(candidates);
        if none {
            self.command.note(format!("no file matches {typed}*"));
        }
    }

    /// A row key: the selected row's command, run at once or opened for the rest.
    fn row_action(&mut self, verb: RowVerb, model: &Lattice) -> Outcome {
        if self.readonly {
            self.status = Some(format!(
                "{}: refused: this console is read-only (--readonly)",
                row_actions::word(verb)
            ));
            return Outcome::DIRTY;
        }
        let selected = self.selected().cloned();
        match row_actions::prefill(verb, self.tab, selected.as_ref(), model) {
            Ok(p) if p.run => {
                self.command.record(&p.line);
                self.submitted = Some(p.line);
                Outcome::DIRTY
            }
            Ok(p) => {
                self.command.open_with(&p.line);
                self.mode = Mode::Command;
                Outcome::DIRTY
            }
            Err(why) => {
                self.status = Some(why);
                Outcome::DIRTY
            }
        }
    }

    /// A change between modes that draw the tables (see [`Mode::over_the_tables`]) changes
    /// only the footer; to or from an overlay or the logs view, the whole screen.
    fn set_mode(&mut self, mode: Mode) -> Outcome {
        let before = std::mem::replace(&mut self.mode, mode);
        if before == mode {
            Outcome::CLEAN
        } else if before.over_the_tables() && mode.over_the_tables() {
            Outcome::FOOTER
        } else {
            Outcome::DIRTY
        }
    }

    fn set_tab(&mut self, tab: Tab) -> Outcome {
        // Another tab leaves an actor or provider view; host levels keep filtering.
        let left = self.leave_object();
        let changed = self.tab != tab;
        self.tab = tab;
        Outcome::dirty_if(changed || left)
    }

    fn rows<'a>(&self, model: &'a Lattice) -> Rows<'a> {
        self.rows_of(self.tab, model)
    }

    /// The rows `tab` shows: filtered by the view's filters, in its sort order.
    pub fn rows_of<'a>(&self, tab: Tab, model: &'a Lattice) -> Rows<'a> {
        let mut rows = Rows::build(tab, model, self.row_filter(tab));
        if let Some(by) = self.tabs[tab.index()].sort {
            sort::sort_rows(&mut rows, model, by);
        }
        rows
    }

    /// Stores the currently shown row of the active tab as its selection.
    fn pin_selection(&mut self, model: &Lattice) {
        let rows = self.rows(model);
        let _ = self.resolve(self.tab, &rows);
    }

    fn move_selection(&mut self, model: &Lattice, mv: Move) -> Outcome {
        let tab = self.tab;
        let rows = self.rows(model);
        let Some(current) = self.resolve(tab, &rows) else {
            return Outcome::CLEAN;
        };
        let last = rows.len() - 1;
        let target = match mv {
            Move::By(d) => current.saturating_add_signed(d).min(last),
            Move::Top => 0,
            Move::Bottom => last,
        };
        let mut changed = target != current;
        if changed {
            self.tabs[tab.index()].detail_scroll = 0;
        }
        if tab == Tab::Events {
            let follow = match mv {
                Move::Bottom => true,
                Move::By(d) if d < 0 => false,
                Move::Top => false,
                Move::By(_) => self.follow,
            };
            changed |= follow != self.follow;
            self.follow = follow;
        }
        let tv = &mut self.tabs[tab.index()];
        tv.index = target;
        tv.selected = rows.key(target);
        Outcome::dirty_if(changed)
    }

    /// The index of `tab`'s selected row in `rows`, updating the stored key: the row with the
    /// selected key; else (it went away) the row now at the old index; the newest event in
    /// follow mode. `None` when there are no rows; the key is then kept in case it returns.
    pub(crate) fn resolve(&mut self, tab: Tab, rows: &Rows<'_>) -> Option<usize> {
        let len = rows.len();
        let tv = &mut self.tabs[tab.index()];
        if len == 0 {
            tv.index = 0;
            return None;
        }
        let found = if tab == Tab::Events && self.follow {
            None
        } else {
            tv.selected
                .as_ref()
                .and_then(|k| rows.position(k, tv.index))
        };
        let idx = match found {
            Some(i) => i,
            None if tab == Tab::Events && self.follow => len - 1,
            None => tv.index.min(len - 1),
        };
        if found.is_none() {
            tv.selected = rows.key(idx);
        }
        tv.index = idx;
        Some(idx)
    }

    /// The first visible row of `tab` so that `selected` is within a window of `height` rows,
    /// moving as little as possible; also records `height` as the page size.
    pub(crate) fn scroll(
        &mut self,
        tab: Tab,
        selected: Option<usize>,
        len: usize,
        height: usize,
    ) -> usize {
        self.page = height.max(1);
        let tv = &mut self.tabs[tab.index()];
        let mut offset = tv.offset.min(len.saturating_sub(height));
        if let Some(sel) = selected {
            if sel < offset {
                offset = sel;
            } else if height > 0 && sel >= offset + height {
                offset = sel + 1 - height;
            }
        }
        tv.offset = offset;
        offset
    }
}

#[derive(Debug, Clone, Copy)]
enum Move {
    By(isize),
    Top,
    Bottom,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_wrap_both_ways() {
        assert_eq!(Tab::Hosts.prev(), Tab::Events);
        assert_eq!(Tab::Events.next(), Tab::Hosts);
        for (i, t) in Tab::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(t.next().prev(), *t);
        }
    }

    #[test]
    fn scrolling_keeps_the_selection_visible_and_moves_little() {
        let mut v = ViewState::default();
        assert_eq!(v.scroll(Tab::Hosts, Some(0), 100, 10), 0);
        assert_eq!(v.scroll(Tab::Hosts, Some(9), 100, 10), 0);
        assert_eq!(v.scroll(Tab::Hosts, Some(10), 100, 10), 1);
        assert_eq!(v.scroll(Tab::Hosts, Some(5), 100, 10), 1);
        assert_eq!(v.scroll(Tab::Hosts, Some(0), 100, 10), 0);
        assert_eq!(v.scroll(Tab::Hosts, Some(99), 100, 10), 90);
        // The list shrank: no empty space below the last row.
        assert_eq!(v.scroll(Tab::Hosts, Some(3), 5, 10), 0);
        assert_eq!(v.scroll(Tab::Hosts, None, 0, 0), 0);
    }
}
