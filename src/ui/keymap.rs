//! What each key means: the [`Action`] enum, the input [`Mode`]s and the one binding table
//! ([`BINDINGS`]) from which both [`action`] and the help overlay are derived, so the help can
//! never drift from the code.
//!
//! Pure: a function of `(mode, key event)`. Only key presses count; releases and repeats
//! (sent by kitty-protocol and Windows terminals) are ignored so a key never acts twice. No I/O.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::row_actions::RowVerb;
use super::view_state::Tab;
use crate::state::logs::LogsAction;

/// What a key asks the console to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the console.
    Quit,
    /// Open the help overlay.
    OpenHelp,
    /// Close the help overlay.
    CloseHelp,
    /// Scroll the help overlay by this many lines (negative: up).
    HelpScroll(i8),
    /// Next tab (wraps).
    NextTab,
    /// Previous tab (wraps).
    PrevTab,
    /// Switch to a tab.
    GoTab(Tab),
    /// Select the row above.
    Up,
    /// Select the row below.
    Down,
    /// Select one page up.
    PageUp,
    /// Select one page down.
    PageDown,
    /// Select the first row.
    Top,
    /// Select the last row; on the Events tab, also resume following.
    Bottom,
    /// Drill down: a host → its actors, an actor or provider → its view; elsewhere show the
    /// detail pane.
    Enter,
    /// Start editing the active tab's text filter.
    StartFilter,
    /// Append a character to the filter being edited.
    FilterInput(char),
    /// Delete the last character of the filter being edited.
    FilterBackspace,
    /// Empty the filter being edited.
    FilterClear,
    /// Stop editing and keep the filter.
    FilterKeep,
    /// Stop editing and restore the filter from before the edit.
    FilterCancel,
    /// Events tab: follow new events / pause.
    ToggleFollow,
    /// Show or hide the detail pane.
    ToggleDetail,
    /// Open the dev build's output (`lattice-tui dev --build`).
    OpenBuild,
    /// Close the build output.
    CloseBuild,
    /// Open the `:` command line.
    StartCommand,
    /// Append a character to the command line.
    CommandInput(char),
    /// Delete the command line's last character.
    CommandBackspace,
    /// Complete the command name (Tab).
    CommandComplete,
    /// The previous line of the history (↑).
    CommandOlder,
    /// The next line of the history (↓).
    CommandNewer,
    /// Run the command line (Enter).
    CommandSubmit,
    /// Close the command line without running it (Esc).
    CommandCancel,
    /// Confirm the action asked about (`y`).
    ConfirmYes,
    /// Cancel the action asked about (any other key).
    ConfirmNo,
    /// Act on the selected row: its command, run or opened for the rest
    /// ([`super::row_actions`]).
    Row(RowVerb),
    /// Choose answer N (1–9) of the question asked.
    Pick(u8),
    /// Cancel the question asked (any other key).
    PickCancel,
    // Navigation (issue 8 §2): drill-down, sorting, raw JSON, copy, scrolling.
    /// Back one level: close an actor/provider view, else clear the text filter, else leave
    /// the host (`Esc`).
    Back,
    /// Sort by the next column (after the last: the default order).
    SortNext,
    /// Reverse the sort direction.
    SortReverse,
    /// Open the selected object's raw JSON.
    ShowJson,
    /// Close the raw JSON.
    CloseJson,
    /// Copy the selected object's id to the clipboard (OSC 52).
    CopyId,
    /// Scroll the detail pane, the actor/provider view or the JSON one line down.
    ScrollDown,
    /// Scroll one line up.
    ScrollUp,
    /// Scroll one page down.
    ScrollPageDown,
    /// Scroll one page up.
    ScrollPageUp,
    /// Scroll to the top.
    ScrollTop,
    /// Scroll to the bottom.
    ScrollBottom,
    /// Open the logs view; on the Actors tab, filtered to the selected actor.
    OpenLogs,
    /// Close the logs view.
    CloseLogs,
    /// Something for the logs view's model.
    Logs(LogsAction),
}

/// Which keys are live: tables, the filter line, or the help overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Browsing tables.
    #[default]
    Normal,
    /// Typing a text filter after `/`.
    Filter,
    /// The help overlay is open.
    Help,
    /// The dev build's output is open.
    Build,
    /// Typing a command after `:`.
    Command,
    /// A destructive action waits for `y`.
    Confirm,
    /// An action waits for a numbered choice (which host).
    Pick,
    /// The raw JSON overlay (`y`) is open.
    Json,
    /// The logs view is open.
    Logs,
    /// Typing a search in the logs view after `/`.
    LogsSearch,
}

impl Mode {
    /// Whether the screen in this mode is the tables (or an object view) with this mode's
    /// footer line: no overlay, not the logs view. Between two such modes only the footer
    /// differs.
    #[must_use]
    pub fn over_the_tables(self) -> bool {
        match self {
            Mode::Normal | Mode::Filter | Mode::Command | Mode::Confirm | Mode::Pick => true,
            Mode::Help | Mode::Build | Mode::Json | Mode::Logs | Mode::LogsSearch => false,
        }
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every mode (checked first).
    Global,
    /// Only in this mode.
    In(Mode),
}

/// A key pattern of the binding table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character key without Ctrl or Alt (Shift is part of the character: `G`, `?`).
    Char(char),
    /// Ctrl and a letter.
    Ctrl(char),
    /// A non-character key without Ctrl or Alt (`Shift-Tab` is [`KeyCode::BackTab`]).
    Code(KeyCode),
    /// Any character key without Ctrl or Alt; the character becomes the action's payload.
    AnyChar,
    /// A digit 1–9; the digit becomes the action's payload.
    Digit,
    /// Any key at all.
    Any,
}

impl Key {
    /// The character a key event carries, with Shift applied (`Shift`+`g` → `G`).
    fn char_of(ev: &KeyEvent) -> Option<char> {
        match ev.code {
            KeyCode::Char(c) if ev.modifiers.contains(KeyModifiers::SHIFT) => {
                Some(c.to_ascii_uppercase())
            }
            KeyCode::Char(c) => Some(c),
            _ => None,
        }
    }

    /// Whether `ev` matches; for [`Key::AnyChar`], the typed character.
    fn matches(self, ev: &KeyEvent) -> Option<Option<char>> {
        let ctrl_alt = ev
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        let hit = match self {
            Key::Char(c) => !ctrl_alt && Key::char_of(ev) == Some(c),
            Key::Ctrl(c) => {
                ev.modifiers.contains(KeyModifiers::CONTROL)
                    && matches!(ev.code, KeyCode::Char(k) if k.eq_ignore_ascii_case(&c))
            }
            Key::Code(code) => !ctrl_alt && ev.code == code,
            Key::AnyChar => {
                return (!ctrl_alt).then(|| Key::char_of(ev).map(Some)).flatten();
            }
            Key::Digit => {
                return (!ctrl_alt)
                    .then(|| {
                        Key::char_of(ev)
                            .filter(|c| ('1'..='9').contains(c))
                            .map(Some)
                    })
                    .flatten();
            }
            Key::Any => true,
        };
        hit.then_some(None)
    }

    /// How the key is written in the help and the footer.
    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
            Key::Code(code) => match code {
                KeyCode::Up => "↑".into(),
                KeyCode::Down => "↓".into(),
                KeyCode::Left => "←".into(),
                KeyCode::Right => "→".into(),
                KeyCode::PageUp => "PgUp".into(),
                KeyCode::PageDown => "PgDn".into(),
                KeyCode::BackTab => "Shift-Tab".into(),
                KeyCode::Tab => "Tab".into(),
                KeyCode::Enter => "Enter".into(),
                KeyCode::Esc => "Esc".into(),
                KeyCode::Home => "Home".into(),
                KeyCode::End => "End".into(),
                KeyCode::Backspace => "Backspace".into(),
                other => other.to_string(),
            },
            Key::AnyChar => "text".into(),
            Key::Digit => "1-9".into(),
            Key::Any => "any key".into(),
        }
    }
}

/// What a binding produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// This action.
    Do(Action),
    /// The action at the position of the matching key in [`Binding::keys`].
    PerKey(&'static [Action]),
    /// [`Action::FilterInput`] with the typed character.
    Type,
    /// [`Action::CommandInput`] with the typed character.
    TypeCommand,
    /// [`Action::Pick`] with the typed digit.
    PickDigit,
    /// [`LogsAction::SearchInput`] with the typed character.
    TypeSearch,
}

/// One row of the binding table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Where it applies.
    pub scope: Scope,
    /// The keys (any of them).
    pub keys: &'static [Key],
    /// What it does.
    pub bound: Bound,
    /// Line in the help overlay.
    pub help: &'static str,
    /// Short word for the footer's key hints; `None` keeps it out of the footer.
    pub hint: Option<&'static str>,
}

impl Binding {
    /// All keys of the binding joined for display: `j ↓`.
    pub fn keys_label(&self) -> String {
        self.keys
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

const fn bind(
    scope: Scope,
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        scope,
        keys,
        bound: Bound::Do(action),
        help,
        hint,
    }
}

const NORMAL: Scope = Scope::In(Mode::Normal);
const FILTER: Scope = Scope::In(Mode::Filter);
const HELP: Scope = Scope::In(Mode::Help);
const BUILD: Scope = Scope::In(Mode::Build);
const COMMAND: Scope = Scope::In(Mode::Command);
const CONFIRM: Scope = Scope::In(Mode::Confirm);
const PICK: Scope = Scope::In(Mode::Pick);
const JSON: Scope = Scope::In(Mode::Json);
const LOGS: Scope = Scope::In(Mode::Logs);
const LOGS_SEARCH: Scope = Scope::In(Mode::LogsSearch);

const fn logs(
    scope: Scope,
    keys: &'static [Key],
    action: LogsAction,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    bind(scope, keys, Action::Logs(action), help, hint)
}

/// Every key binding, in help order. The first match wins, global bindings first.
pub const BINDINGS: &[Binding] = &[
    bind(Scope::Global, &[Key::Ctrl('c')], Action::Quit, "quit", None),
    bind(
        NORMAL,
        &[Key::Char('q')],
        Action::Quit,
        "quit",
        Some("quit"),
    ),
    bind(
        NORMAL,
        &[Key::Char('?')],
        Action::OpenHelp,
        "show this help",
        Some("help"),
    ),
    bind(
        NORMAL,
        &[Key::Code(KeyCode::Tab)],
        Action::NextTab,
        "next tab",
        Some("tabs"),
    ),
    bind(
        NORMAL,
        &[Key::Code(KeyCode::BackTab)],
        Action::PrevTab,
        "previous tab",
        None,
    ),
    Binding {
        scope: NORMAL,
        keys: &[
            Key::Char('1'),
            Key::Char('2'),
            Key::Char('3'),
            Key::Char('4'),
            Key::Char('5'),
        ],
        bound: Bound::PerKey(&[
            Action::GoTab(Tab::Hosts),
            Action::GoTab(Tab::Actors),
            Action::GoTab(Tab::Providers),
            Action::GoTab(Tab::Links),
            Action::GoTab(Tab::Events),
        ]),
        help: "Hosts Actors Providers Links Events",
        hint: None,
    },
    bind(
        NORMAL,
        &[Key::Char('j'), Key::Code(KeyCode::Down)],
        Action::Down,
        "row below",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Char('k'), Key::Code(KeyCode::Up)],
        Action::Up,
        "row above (pauses Events)",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Code(KeyCode::PageDown)],
        Action::PageDown,
        "page down",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Code(KeyCode::PageUp)],
        Action::PageUp,
        "page up (pauses Events)",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Char('g'), Key::Code(KeyCode::Home)],
        Action::Top,
        "first row (pauses Events)",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Char('G'), Key::Code(KeyCode::End)],
        Action::Bottom,
        "last row (follows Events)",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Code(KeyCode::Enter)],
        Action::Enter,
        "drill in: host, actor, provider",
        Some("drill in"),
    ),
    bind(
        NORMAL,
        &[Key::Code(KeyCode::Esc)],
        Action::Back,
        "back (clears a /filter first)",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Char(':')],
        Action::StartCommand,
        "command line (Tab completes, ↑↓ history)",
        Some("command"),
    ),
    bind(
        NORMAL,
        &[Key::Char('/')],
        Action::StartFilter,
        "filter rows (ignores case)",
        Some("filter"),
    ),
    bind(
        NORMAL,
        &[Key::Char('f')],
        Action::ToggleFollow,
        "Events: follow / pause",
        Some("follow"),
    ),
    bind(
        NORMAL,
        &[Key::Char('d')],
        Action::ToggleDetail,
        "show / hide detail pane",
        Some("detail"),
    ),
    bind(
        NORMAL,
        &[Key::Char('b')],
        Action::OpenBuild,
        "build output (dev --build)",
        None,
    ),
    // Navigation (issue 8 §2): sorting, raw JSON, copy, scrolling.
    Binding {
        scope: NORMAL,
        keys: &[Key::Char('o'), Key::Char('O')],
        bound: Bound::PerKey(&[Action::SortNext, Action::SortReverse]),
        help: "sort by next column / reverse",
        hint: Some("sort"),
    },
    bind(
        NORMAL,
        &[Key::Char('y')],
        Action::ShowJson,
        "raw JSON of the selection",
        Some("json"),
    ),
    bind(
        NORMAL,
        &[Key::Char('c')],
        Action::CopyId,
        "copy its id (OSC 52)",
        None,
    ),
    Binding {
        scope: NORMAL,
        keys: &[Key::Char('J'), Key::Char('K')],
        bound: Bound::PerKey(&[Action::ScrollDown, Action::ScrollUp]),
        help: "scroll the detail pane",
        hint: None,
    },
    bind(
        NORMAL,
        &[Key::Char('n')],
        Action::Row(RowVerb::New),
        "start an actor, provider; new link",
        Some("new"),
    ),
    bind(
        NORMAL,
        &[Key::Char('s')],
        Action::Row(RowVerb::Scale),
        "Actors: scale it (type N)",
        Some("scale"),
    ),
    bind(
        NORMAL,
        &[Key::Char('u')],
        Action::Row(RowVerb::Update),
        "Actors: update it (type REF)",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Char('L')],
        Action::Row(RowVerb::Link),
        "Actors: link it to a provider",
        None,
    ),
    bind(
        NORMAL,
        &[Key::Char('x')],
        Action::Row(RowVerb::Stop),
        "stop it (asks); Links: delete it",
        Some("stop"),
    ),
    bind(
        NORMAL,
        &[Key::Char('l')],
        Action::OpenLogs,
        "logs (of the actor row)",
        None,
    ),
    bind(
        FILTER,
        &[Key::Code(KeyCode::Enter)],
        Action::FilterKeep,
        "keep the filter",
        Some("keep"),
    ),
    bind(
        FILTER,
        &[Key::Code(KeyCode::Esc)],
        Action::FilterCancel,
        "cancel: restore old filter",
        Some("cancel"),
    ),
    bind(
        FILTER,
        &[Key::Code(KeyCode::Backspace)],
        Action::FilterBackspace,
        "delete the last character",
        None,
    ),
    bind(
        FILTER,
        &[Key::Ctrl('u')],
        Action::FilterClear,
        "clear the filter text",
        Some("clear"),
    ),
    Binding {
        scope: FILTER,
        keys: &[Key::AnyChar],
        bound: Bound::Type,
        help: "type: rows update live",
        hint: None,
    },
    bind(
        COMMAND,
        &[Key::Code(KeyCode::Enter)],
        Action::CommandSubmit,
        "run the command",
        Some("run"),
    ),
    bind(
        COMMAND,
        &[Key::Code(KeyCode::Esc)],
        Action::CommandCancel,
        "close without running",
        Some("cancel"),
    ),
    bind(
        COMMAND,
        &[Key::Code(KeyCode::Tab)],
        Action::CommandComplete,
        "complete a command, flag or name",
        Some("complete"),
    ),
    bind(
        COMMAND,
        &[Key::Code(KeyCode::Up)],
        Action::CommandOlder,
        "previous command",
        None,
    ),
    bind(
        COMMAND,
        &[Key::Code(KeyCode::Down)],
        Action::CommandNewer,
        "next command",
        None,
    ),
    bind(
        COMMAND,
        &[Key::Code(KeyCode::Backspace)],
        Action::CommandBackspace,
        "delete the last character",
        None,
    ),
    Binding {
        scope: COMMAND,
        keys: &[Key::AnyChar],
        bound: Bound::TypeCommand,
        help: "type a command (:q quits)",
        hint: None,
    },
    bind(
        CONFIRM,
        &[Key::Char('y')],
        Action::ConfirmYes,
        "yes, do it",
        Some("yes"),
    ),
    bind(
        CONFIRM,
        &[Key::Any],
        Action::ConfirmNo,
        "anything else cancels",
        Some("cancel"),
    ),
    Binding {
        scope: PICK,
        keys: &[Key::Digit],
        bound: Bound::PickDigit,
        help: "go to the host of that number",
        hint: Some("choose"),
    },
    bind(
        PICK,
        &[Key::Any],
        Action::PickCancel,
        "anything else cancels",
        Some("cancel"),
    ),
    bind(
        JSON,
        &[Key::Code(KeyCode::Esc), Key::Char('y')],
        Action::CloseJson,
        "close the JSON",
        Some("close"),
    ),
    Binding {
        scope: JSON,
        keys: &[
            Key::Char('j'),
            Key::Char('k'),
            Key::Code(KeyCode::Down),
            Key::Code(KeyCode::Up),
        ],
        bound: Bound::PerKey(&[
            Action::ScrollDown,
            Action::ScrollUp,
            Action::ScrollDown,
            Action::ScrollUp,
        ]),
        help: "line down / up",
        hint: None,
    },
    Binding {
        scope: JSON,
        keys: &[Key::Code(KeyCode::PageDown), Key::Code(KeyCode::PageUp)],
        bound: Bound::PerKey(&[Action::ScrollPageDown, Action::ScrollPageUp]),
        help: "page down / up",
        hint: None,
    },
    Binding {
        scope: JSON,
        keys: &[Key::Char('g'), Key::Char('G')],
        bound: Bound::PerKey(&[Action::ScrollTop, Action::ScrollBottom]),
        help: "top / bottom",
        hint: None,
    },
    bind(
        LOGS,
        &[Key::Code(KeyCode::Esc), Key::Char('q')],
        Action::CloseLogs,
        "back to the tables",
        Some("back"),
    ),
    Binding {
        scope: LOGS,
        keys: &[
            Key::Char('k'),
            Key::Code(KeyCode::Up),
            Key::Char('j'),
            Key::Code(KeyCode::Down),
        ],
        bound: Bound::PerKey(&[
            Action::Logs(LogsAction::Older(1)),
            Action::Logs(LogsAction::Older(1)),
            Action::Logs(LogsAction::Newer(1)),
            Action::Logs(LogsAction::Newer(1)),
        ]),
        help: "line up / down",
        hint: None,
    },
    Binding {
        scope: LOGS,
        keys: &[Key::Code(KeyCode::PageUp), Key::Code(KeyCode::PageDown)],
        bound: Bound::PerKey(&[
            Action::Logs(LogsAction::PageOlder),
            Action::Logs(LogsAction::PageNewer),
        ]),
        help: "page up / down",
        hint: None,
    },
    Binding {
        scope: LOGS,
        keys: &[Key::Char('g'), Key::Char('G')],
        bound: Bound::PerKey(&[
            Action::Logs(LogsAction::Oldest),
            Action::Logs(LogsAction::Newest),
        ]),
        help: "oldest / newest (follows)",
        hint: None,
    },
    logs(
        LOGS,
        &[Key::Char('s')],
        LogsAction::ToggleFollow,
        "follow / pause",
        Some("follow"),
    ),
    logs(
        LOGS,
        &[Key::Char('w')],
        LogsAction::ToggleWrap,
        "wrap long lines",
        Some("wrap"),
    ),
    logs(
        LOGS,
        &[Key::Char('t')],
        LogsAction::ToggleTimestamps,
        "timestamps",
        Some("time"),
    ),
    logs(
        LOGS,
        &[Key::Char('l')],
        LogsAction::CycleLevel,
        "next level filter",
        Some("level"),
    ),
    logs(
        LOGS,
        &[Key::Char('a')],
        LogsAction::AllActors,
        "every actor",
        None,
    ),
    logs(
        LOGS,
        &[Key::Char('/')],
        LogsAction::StartSearch,
        "search (ignores case)",
        Some("search"),
    ),
    Binding {
        scope: LOGS,
        keys: &[Key::Char('n'), Key::Char('N')],
        bound: Bound::PerKey(&[
            Action::Logs(LogsAction::NextMatch),
            Action::Logs(LogsAction::PrevMatch),
        ]),
        help: "next / previous match",
        hint: Some("match"),
    },
    logs(
        LOGS_SEARCH,
        &[Key::Code(KeyCode::Enter)],
        LogsAction::SearchKeep,
        "find the newest match",
        Some("find"),
    ),
    logs(
        LOGS_SEARCH,
        &[Key::Code(KeyCode::Esc)],
        LogsAction::SearchCancel,
        "cancel",
        Some("cancel"),
    ),
    logs(
        LOGS_SEARCH,
        &[Key::Code(KeyCode::Backspace)],
        LogsAction::SearchBackspace,
        "delete the last character",
        None,
    ),
    Binding {
        scope: LOGS_SEARCH,
        keys: &[Key::AnyChar],
        bound: Bound::TypeSearch,
        help: "type the text to find",
        hint: None,
    },
    Binding {
        scope: HELP,
        keys: &[
            Key::Char('j'),
            Key::Char('k'),
            Key::Code(KeyCode::Down),
            Key::Code(KeyCode::Up),
        ],
        bound: Bound::PerKey(&[
            Action::HelpScroll(1),
            Action::HelpScroll(-1),
            Action::HelpScroll(1),
            Action::HelpScroll(-1),
        ]),
        help: "scroll a line (if it does not fit)",
        hint: None,
    },
    Binding {
        scope: HELP,
        keys: &[Key::Code(KeyCode::PageDown), Key::Code(KeyCode::PageUp)],
        bound: Bound::PerKey(&[Action::HelpScroll(10), Action::HelpScroll(-10)]),
        help: "scroll a page",
        hint: None,
    },
    bind(
        HELP,
        &[Key::Any],
        Action::CloseHelp,
        "any other key closes it",
        None,
    ),
    bind(
        BUILD,
        &[Key::Any],
        Action::CloseBuild,
        "close the build output",
        None,
    ),
];

/// The action of a key event in `mode`, or `None` when the key means nothing there.
/// Only presses count: releases and repeats return `None`.
pub fn action(mode: Mode, key: &KeyEvent) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let in_scope = |b: &&Binding| b.scope == Scope::Global || b.scope == Scope::In(mode);
    let (global, local): (Vec<&Binding>, Vec<&Binding>) = BINDINGS
        .iter()
        .filter(in_scope)
        .partition(|b| b.scope == Scope::Global);
    global.into_iter().chain(local).find_map(|b| {
        b.keys
            .iter()
            .enumerate()
            .find_map(|(n, k)| k.matches(key).map(|typed| (n, typed)))
            .and_then(|(n, typed)| match (b.bound, typed) {
                (Bound::Do(a), _) => Some(a),
                (Bound::PerKey(actions), _) => actions.get(n).copied(),
                (Bound::Type, Some(c)) => Some(Action::FilterInput(c)),
                (Bound::TypeCommand, Some(c)) => Some(Action::CommandInput(c)),
                (Bound::PickDigit, Some(c)) => c
                    .to_digit(10)
                    .and_then(|d| u8::try_from(d).ok())
                    .map(Action::Pick),
                (Bound::TypeSearch, Some(c)) => Some(Action::Logs(LogsAction::SearchInput(c))),
                // A Type binding only ever has AnyChar or Digit keys, which always yield a
                // character.
                (Bound::Type | Bound::TypeCommand | Bound::PickDigit | Bound::TypeSearch, None) => {
                    None
                }
            })
    })
}

/// Title of a binding group in the help overlay.
pub fn scope_title(scope: Scope) -> &'static str {
    match scope {
        Scope::Global => "Everywhere",
        Scope::In(Mode::Normal) => "Tables",
        Scope::In(Mode::Filter) => "Typing a filter (after /)",
        Scope::In(Mode::Help) => "This help",
        Scope::In(Mode::Build) => "Build output (after b)",
        Scope::In(Mode::Command) => "Command line (after :)",
        Scope::In(Mode::Confirm) => "Confirming an action",
        Scope::In(Mode::Pick) => "Choosing a host",
        Scope::In(Mode::Json) => "Raw JSON (after y)",
        Scope::In(Mode::Logs) => "Logs (after l or :logs)",
        Scope::In(Mode::LogsSearch) => "Searching the logs (after /)",
    }
}

#[cfg(test)]
mod tests;
