//! The `:` command line being typed: its text, its history (↑/↓) and Tab completion of
//! command names from the grammar's one table ([`crate::state::command::COMMANDS`]).
//!
//! Pure editing state; what a submitted line means is the App's (`actions`).

use std::collections::VecDeque;

use crate::state::command::COMMANDS;

/// Lines kept in the history; the oldest goes first.
pub const HISTORY: usize = 100;

/// The command line.
#[derive(Debug, Clone, Default)]
pub struct CommandLine {
    text: String,
    history: VecDeque<String>,
    /// Position in the history while browsing it (0 = newest).
    at: Option<usize>,
    /// The text typed before browsing started, restored when browsing past the newest.
    draft: String,
}

impl CommandLine {
    /// The text typed so far.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Starts a fresh line.
    pub fn open(&mut self) {
        self.text.clear();
        self.at = None;
    }

    /// Types a character.
    pub fn push(&mut self, c: char) {
        self.text.push(c);
        self.at = None;
    }

    /// Deletes the last character; `false` if there was none.
    pub fn backspace(&mut self) -> bool {
        self.at = None;
        self.text.pop().is_some()
    }

    /// Ends the line: returns it (trimmed) and records it in the history if not empty.
    pub fn submit(&mut self) -> String {
        let line = std::mem::take(&mut self.text).trim().to_owned();
        self.at = None;
        if !line.is_empty() && self.history.front() != Some(&line) {
            self.history.push_front(line.clone());
            self.history.truncate(HISTORY);
        }
        line
    }

    /// One line back in the history (↑); `false` at the oldest.
    pub fn older(&mut self) -> bool {
        let next = self.at.map_or(0, |i| i + 1);
        let Some(line) = self.history.get(next) else {
            return false;
        };
        if self.at.is_none() {
            self.draft.clone_from(&self.text);
        }
        self.text.clone_from(line);
        self.at = Some(next);
        true
    }

    /// One line forward (↓); past the newest, the draft typed before browsing.
    pub fn newer(&mut self) -> bool {
        match self.at {
            None => false,
            Some(0) => {
                self.at = None;
                self.text = std::mem::take(&mut self.draft);
                true
            }
            Some(i) => {
                self.at = Some(i - 1);
                if let Some(line) = self.history.get(i - 1) {
                    self.text.clone_from(line);
                }
                true
            }
        }
    }

    /// Completes the command name being typed (the first word): to the only command that
    /// starts so, or to the longest prefix all candidates share. Returns the candidates when
    /// several remain (for the status line).
    pub fn complete(&mut self) -> Vec<&'static str> {
        if self.text.contains(char::is_whitespace) {
            return Vec::new();
        }
        let typed = self.text.as_str();
        let names: Vec<&'static str> = COMMANDS
            .iter()
            .map(|c| c.name)
            .filter(|n| n.starts_with(typed))
            .collect();
        match names.as_slice() {
            [] => Vec::new(),
            [one] => {
                self.text = format!("{one} ");
                Vec::new()
            }
            many => {
                let common = many.iter().skip(1).fold(many[0], |acc, n| {
                    let len = acc
                        .chars()
                        .zip(n.chars())
                        .take_while(|(a, b)| a == b)
                        .count();
                    &acc[..len]
                });
                if common.len() > self.text.len() {
                    self.text = common.to_owned();
                }
                many.to_vec()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> CommandLine {
        let mut l = CommandLine::default();
        for c in s.chars() {
            l.push(c);
        }
        l
    }

    #[test]
    fn tab_completes_a_unique_name_and_extends_a_shared_prefix() {
        let mut l = typed("sc");
        assert!(l.complete().is_empty());
        assert_eq!(l.text(), "scale ");
        let mut l = typed("st");
        assert_eq!(
            l.complete(),
            [
                "start-actor",
                "stop-actor",
                "start-provider",
                "stop-provider",
                "stop-host"
            ]
        );
        assert_eq!(l.text(), "st");
        let mut l = typed("stop-");
        assert_eq!(l.complete(), ["stop-actor", "stop-provider", "stop-host"]);
        assert_eq!(l.text(), "stop-");
        let mut l = typed("start");
        l.complete();
        assert_eq!(l.text(), "start-");
        // Only the command name completes.
        let mut l = typed("scale ec");
        assert!(l.complete().is_empty());
        assert_eq!(l.text(), "scale ec");
    }

    #[test]
    fn history_browses_back_and_returns_to_the_draft() {
        let mut l = CommandLine::default();
        for line in ["hosts", "scale echo 2", "scale echo 2", "  actors "] {
            for c in line.chars() {
                l.push(c);
            }
            l.submit();
        }
        l.open();
        l.push('s');
        assert!(l.older());
        assert_eq!(l.text(), "actors");
        assert!(l.older());
        assert_eq!(l.text(), "scale echo 2", "a repeated line is kept once");
        assert!(l.older());
        assert_eq!(l.text(), "hosts");
        assert!(!l.older());
        assert!(l.newer());
        assert!(l.newer());
        assert!(l.newer());
        assert_eq!(l.text(), "s", "past the newest: the draft");
        assert!(!l.newer());
    }

    #[test]
    fn the_history_is_bounded() {
        let mut l = CommandLine::default();
        for i in 0..HISTORY + 10 {
            for c in format!("scale a {i}").chars() {
                l.push(c);
            }
            l.submit();
        }
        let mut n = 0;
        while l.older() {
            n += 1;
        }
        assert_eq!(n, HISTORY);
        assert_eq!(l.text(), "scale a 10", "the oldest kept");
    }
}
