use super::*;
use ratatui::crossterm::event::KeyEventState;

fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    key(c, KeyModifiers::NONE)
}

#[test]
fn table_of_mode_and_key_to_action() {
    use Action as A;
    use Mode::{Filter, Help, Normal};
    let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let shift_g = key(KeyCode::Char('G'), KeyModifiers::SHIFT);
    let cases: Vec<(Mode, KeyEvent, Option<Action>)> = vec![
        (Normal, ch('q'), Some(A::Quit)),
        (Normal, ctrl_c, Some(A::Quit)),
        (Filter, ctrl_c, Some(A::Quit)),
        (Help, ctrl_c, Some(A::Quit)),
        (Normal, ch('?'), Some(A::OpenHelp)),
        (
            Normal,
            key(KeyCode::Char('?'), KeyModifiers::SHIFT),
            Some(A::OpenHelp),
        ),
        (Normal, code(KeyCode::Tab), Some(A::NextTab)),
        (
            Normal,
            key(KeyCode::BackTab, KeyModifiers::SHIFT),
            Some(A::PrevTab),
        ),
        (Normal, ch('1'), Some(A::GoTab(Tab::Hosts))),
        (Normal, ch('2'), Some(A::GoTab(Tab::Actors))),
        (Normal, ch('3'), Some(A::GoTab(Tab::Providers))),
        (Normal, ch('4'), Some(A::GoTab(Tab::Links))),
        (Normal, ch('5'), Some(A::GoTab(Tab::Events))),
        (Normal, ch('6'), None),
        (Normal, ch('j'), Some(A::Down)),
        (Normal, code(KeyCode::Down), Some(A::Down)),
        (Normal, ch('k'), Some(A::Up)),
        (Normal, code(KeyCode::Up), Some(A::Up)),
        (Normal, code(KeyCode::PageDown), Some(A::PageDown)),
        (Normal, code(KeyCode::PageUp), Some(A::PageUp)),
        (Normal, ch('g'), Some(A::Top)),
        (Normal, code(KeyCode::Home), Some(A::Top)),
        (Normal, ch('G'), Some(A::Bottom)),
        (Normal, shift_g, Some(A::Bottom)),
        (
            Normal,
            key(KeyCode::Char('g'), KeyModifiers::SHIFT),
            Some(A::Bottom),
        ),
        (Normal, code(KeyCode::End), Some(A::Bottom)),
        (Normal, code(KeyCode::Enter), Some(A::Enter)),
        (Normal, code(KeyCode::Esc), Some(A::Back)),
        (Normal, ch('/'), Some(A::StartFilter)),
        (Normal, ch('f'), Some(A::ToggleFollow)),
        (Normal, ch('d'), Some(A::ToggleDetail)),
        (Normal, key(KeyCode::Char('d'), KeyModifiers::CONTROL), None),
        (Normal, key(KeyCode::Char('q'), KeyModifiers::ALT), None),
        (Normal, ch('z'), None),
        (Normal, ch('x'), Some(A::Row(RowVerb::Stop))),
        (Normal, ch('s'), Some(A::Row(RowVerb::Scale))),
        (Normal, ch('n'), Some(A::Row(RowVerb::New))),
        (Normal, ch('u'), Some(A::Row(RowVerb::Update))),
        (Normal, ch('L'), Some(A::Row(RowVerb::Link))),
        (
            Normal,
            key(KeyCode::Char('l'), KeyModifiers::SHIFT),
            Some(A::Row(RowVerb::Link)),
        ),
        (Mode::Pick, ch('1'), Some(A::Pick(1))),
        (Mode::Pick, ch('9'), Some(A::Pick(9))),
        (Mode::Pick, ch('0'), Some(A::PickCancel)),
        (Mode::Pick, code(KeyCode::Esc), Some(A::PickCancel)),
        (Filter, ch('q'), Some(A::FilterInput('q'))),
        (Filter, ch('j'), Some(A::FilterInput('j'))),
        (Filter, ch('/'), Some(A::FilterInput('/'))),
        (Filter, ch(' '), Some(A::FilterInput(' '))),
        (Filter, shift_g, Some(A::FilterInput('G'))),
        (Filter, code(KeyCode::Backspace), Some(A::FilterBackspace)),
        (
            Filter,
            key(KeyCode::Char('u'), KeyModifiers::CONTROL),
            Some(A::FilterClear),
        ),
        (Filter, code(KeyCode::Enter), Some(A::FilterKeep)),
        (Filter, code(KeyCode::Esc), Some(A::FilterCancel)),
        (Filter, code(KeyCode::Down), None),
        (Help, ch('q'), Some(A::CloseHelp)),
        (Help, code(KeyCode::Esc), Some(A::CloseHelp)),
        (Help, ch('?'), Some(A::CloseHelp)),
        (Help, ch('j'), Some(A::HelpScroll(1))),
        (Help, code(KeyCode::PageUp), Some(A::HelpScroll(-10))),
    ];
    for (mode, ev, want) in cases {
        assert_eq!(action(mode, &ev), want, "{mode:?} {ev:?}");
    }
}

#[test]
fn releases_and_repeats_are_ignored() {
    for kind in [KeyEventKind::Release, KeyEventKind::Repeat] {
        for mode in [Mode::Normal, Mode::Filter, Mode::Help] {
            let ev = KeyEvent {
                code: KeyCode::Char('q'),
                modifiers: KeyModifiers::NONE,
                kind,
                state: KeyEventState::NONE,
            };
            assert_eq!(action(mode, &ev), None);
        }
    }
}

#[test]
fn every_binding_is_reachable_and_documented() {
    for (i, b) in BINDINGS.iter().enumerate() {
        assert!(!b.help.is_empty());
        assert!(!b.keys.is_empty());
        if let Bound::PerKey(actions) = b.bound {
            assert_eq!(actions.len(), b.keys.len(), "{}", b.help);
        }
        for k in b.keys {
            let ev = match *k {
                Key::Char(c) => ch(c),
                Key::Ctrl(c) => key(KeyCode::Char(c), KeyModifiers::CONTROL),
                Key::Code(c) => code(c),
                Key::AnyChar => ch('z'),
                Key::Digit => ch('5'),
                Key::Any => ch('z'),
            };
            let mode = match b.scope {
                Scope::Global => Mode::Normal,
                Scope::In(m) => m,
            };
            let first = BINDINGS
                .iter()
                .position(|o| {
                    (o.scope == Scope::Global || o.scope == Scope::In(mode))
                        && o.keys.iter().any(|k| k.matches(&ev).is_some())
                })
                .unwrap();
            // A binding shadowed by an earlier one would be dead code and wrong help.
            assert_eq!(first, i, "binding {i} ({}) is shadowed", b.help);
        }
    }
}

#[test]
fn labels_read_like_keys() {
    assert_eq!(Key::Ctrl('c').label(), "Ctrl-C");
    assert_eq!(Key::Code(KeyCode::BackTab).label(), "Shift-Tab");
    assert_eq!(Key::Code(KeyCode::PageDown).label(), "PgDn");
    assert_eq!(Key::Code(KeyCode::Enter).label(), "Enter");
    assert_eq!(Key::Code(KeyCode::Esc).label(), "Esc");
    assert_eq!(BINDINGS[6].keys_label(), "j ↓");
    assert_eq!(BINDINGS[5].keys_label(), "1 2 3 4 5");
}

#[test]
fn the_logs_view_keys() {
    use Action as A;
    use LogsAction as L;
    use Mode::{Logs, LogsSearch, Normal};
    let cases: Vec<(Mode, KeyEvent, Option<Action>)> = vec![
        (Normal, ch('l'), Some(A::OpenLogs)),
        (Logs, code(KeyCode::Esc), Some(A::CloseLogs)),
        (Logs, ch('q'), Some(A::CloseLogs)),
        (Logs, ch('k'), Some(A::Logs(L::Older(1)))),
        (Logs, code(KeyCode::Down), Some(A::Logs(L::Newer(1)))),
        (Logs, code(KeyCode::PageUp), Some(A::Logs(L::PageOlder))),
        (Logs, ch('G'), Some(A::Logs(L::Newest))),
        (Logs, ch('g'), Some(A::Logs(L::Oldest))),
        (Logs, code(KeyCode::End), None),
        (Logs, ch('s'), Some(A::Logs(L::ToggleFollow))),
        (Logs, ch('w'), Some(A::Logs(L::ToggleWrap))),
        (Logs, ch('t'), Some(A::Logs(L::ToggleTimestamps))),
        (Logs, ch('l'), Some(A::Logs(L::CycleLevel))),
        (Logs, ch('a'), Some(A::Logs(L::AllActors))),
        (Logs, ch('/'), Some(A::Logs(L::StartSearch))),
        (Logs, ch('n'), Some(A::Logs(L::NextMatch))),
        (Logs, ch('N'), Some(A::Logs(L::PrevMatch))),
        (Logs, ch('x'), None),
        (LogsSearch, ch('q'), Some(A::Logs(L::SearchInput('q')))),
        (LogsSearch, ch('n'), Some(A::Logs(L::SearchInput('n')))),
        (
            LogsSearch,
            code(KeyCode::Enter),
            Some(A::Logs(L::SearchKeep)),
        ),
        (
            LogsSearch,
            code(KeyCode::Esc),
            Some(A::Logs(L::SearchCancel)),
        ),
        (
            LogsSearch,
            code(KeyCode::Backspace),
            Some(A::Logs(L::SearchBackspace)),
        ),
    ];
    for (mode, ev, want) in cases {
        assert_eq!(action(mode, &ev), want, "{mode:?} {ev:?}");
    }
}

#[test]
fn the_command_line_and_the_confirmation_keys() {
    use Action as A;
    use Mode::{Command, Confirm, Normal};
    let cases: Vec<(Mode, KeyEvent, Option<Action>)> = vec![
        (Normal, ch(':'), Some(A::StartCommand)),
        (Command, ch('q'), Some(A::CommandInput('q'))),
        (Command, ch(':'), Some(A::CommandInput(':'))),
        (Command, code(KeyCode::Enter), Some(A::CommandSubmit)),
        (Command, code(KeyCode::Esc), Some(A::CommandCancel)),
        (Command, code(KeyCode::Tab), Some(A::CommandComplete)),
        (Command, code(KeyCode::Up), Some(A::CommandOlder)),
        (Command, code(KeyCode::Down), Some(A::CommandNewer)),
        (Command, code(KeyCode::Backspace), Some(A::CommandBackspace)),
        (Confirm, ch('y'), Some(A::ConfirmYes)),
        (Confirm, ch('Y'), Some(A::ConfirmNo)),
        (Confirm, ch('n'), Some(A::ConfirmNo)),
        (Confirm, code(KeyCode::Enter), Some(A::ConfirmNo)),
    ];
    for (mode, ev, want) in cases {
        assert_eq!(action(mode, &ev), want, "{mode:?} {ev:?}");
    }
}

#[test]
fn the_navigation_keys() {
    use Action as A;
    use Mode::{Json, Normal};
    let shift = |c| key(KeyCode::Char(c), KeyModifiers::SHIFT);
    let cases: Vec<(Mode, KeyEvent, Option<Action>)> = vec![
        (Normal, code(KeyCode::Esc), Some(A::Back)),
        (Normal, ch('o'), Some(A::SortNext)),
        (Normal, shift('o'), Some(A::SortReverse)),
        (Normal, ch('O'), Some(A::SortReverse)),
        (Normal, ch('y'), Some(A::ShowJson)),
        (Normal, ch('c'), Some(A::CopyId)),
        (Normal, shift('j'), Some(A::ScrollDown)),
        (Normal, ch('K'), Some(A::ScrollUp)),
        (Json, code(KeyCode::Esc), Some(A::CloseJson)),
        (Json, ch('y'), Some(A::CloseJson)),
        (Json, ch('j'), Some(A::ScrollDown)),
        (Json, code(KeyCode::Up), Some(A::ScrollUp)),
        (Json, code(KeyCode::PageDown), Some(A::ScrollPageDown)),
        (Json, code(KeyCode::PageUp), Some(A::ScrollPageUp)),
        (Json, ch('g'), Some(A::ScrollTop)),
        (Json, ch('G'), Some(A::ScrollBottom)),
        (Json, ch('q'), None),
    ];
    for (mode, ev, want) in cases {
        assert_eq!(action(mode, &ev), want, "{mode:?} {ev:?}");
    }
}
