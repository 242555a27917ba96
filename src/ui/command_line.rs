//! The `:` command line being typed: its text, its history (↑/↓) and Tab completion — of
//! command names and flags from the grammar's one table ([`crate::state::command::COMMANDS`]),
//! and of the actors, providers and hosts the model knows where the usage expects one.
//!
//! Pure editing state; what a submitted line means is the App's (`actions`). File paths are
//! not listed here (that would read the file system, which `ui/` never does): the line says
//! where a path is wanted ([`CommandLine::wants_path`]) and completes from the App's listing.

use std::collections::VecDeque;

use crate::state::Lattice;
use crate::state::command::{COMMANDS, resolve, spec};

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
    /// The candidates of the last Tab that found several, shown beside the line until the
    /// line changes.
    candidates: Vec<String>,
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
        self.candidates.clear();
    }

    /// The candidates of the last Tab that found several (empty once the line changes).
    #[must_use]
    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }

    /// Types a character.
    pub fn push(&mut self, c: char) {
        self.text.push(c);
        self.at = None;
        self.candidates.clear();
    }

    /// Deletes the last character; `false` if there was none.
    pub fn backspace(&mut self) -> bool {
        self.at = None;
        self.candidates.clear();
        self.text.pop().is_some()
    }

    /// Ends the line: returns it (trimmed) and records it in the history if not empty.
    pub fn submit(&mut self) -> String {
        let line = std::mem::take(&mut self.text).trim().to_owned();
        self.at = None;
        self.candidates.clear();
        self.record(&line);
        line
    }

    /// Records a line run without being typed (a row key's command) in the history.
    pub fn record(&mut self, line: &str) {
        let line = line.trim();
        if !line.is_empty() && self.history.front().map(String::as_str) != Some(line) {
            self.history.push_front(line.to_owned());
            self.history.truncate(HISTORY);
        }
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
        self.candidates.clear();
        self.text.clone_from(line);
        self.at = Some(next);
        true
    }

    /// One line forward (↓); past the newest, the draft typed before browsing.
    pub fn newer(&mut self) -> bool {
        self.candidates.clear();
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

    /// Completes the word being typed: the command name (first word), a flag (`--…`), or an
    /// actor, provider or host where the command's usage expects one (its id, or its name
    /// when that is one word). A single candidate replaces the word (and a space follows);
    /// several extend it to their common prefix and are returned (and kept as
    /// [`CommandLine::candidates`], which the footer shows beside the line).
    ///
    /// Where the usage expects a file (`REF`), nothing is completed here:
    /// [`CommandLine::wants_path`] says so and the App lists the directory, then calls
    /// [`CommandLine::complete_path`].
    pub fn complete(&mut self, model: &Lattice) -> Vec<String> {
        self.at = None;
        self.candidates.clear();
        let (before, current) = self.split();
        let candidates: Vec<String> = match before.first() {
            None => COMMANDS.iter().map(|c| c.name.to_owned()).collect(),
            Some(name) => match spec(name) {
                None => Vec::new(),
                Some(c) if current.starts_with("--") => {
                    c.flags.iter().map(|(f, _)| format!("--{f}")).collect()
                }
                Some(c) => {
                    let typed: Vec<&str> = before[1..].iter().map(String::as_str).collect();
                    match expected(c.usage, c.flags, &typed) {
                        Some("ACTOR") => actor_words(model),
                        Some("PROVIDER") => provider_words(model),
                        Some("HOST") => host_words(model),
                        _ => Vec::new(),
                    }
                }
            },
        };
        self.take_hits(&current, candidates)
    }

    /// Where Tab should complete a file path: the partial path typed (maybe empty) and what
    /// kind of file the command takes. `None` when the word being typed is no `REF`.
    #[must_use]
    pub fn wants_path(&self) -> Option<(String, PathKind)> {
        let (before, current) = self.split();
        let name = before.first()?;
        let c = spec(name)?;
        if current.starts_with("--") {
            return None;
        }
        let typed: Vec<&str> = before[1..].iter().map(String::as_str).collect();
        (expected(c.usage, c.flags, &typed) == Some("REF")).then(|| {
            let kind = if name.contains("provider") {
                PathKind::Provider
            } else {
                PathKind::Actor
            };
            (current, kind)
        })
    }

    /// Completes the path being typed from `candidates` (paths as the App listed them; a
    /// directory ends in `/`). A single file is followed by a space, a single directory is
    /// not (the next Tab lists inside it). Several: the common prefix, and the candidates.
    pub fn complete_path(&mut self, candidates: Vec<String>) -> Vec<String> {
        self.at = None;
        let (_, current) = self.split();
        self.take_hits(&current, candidates)
    }

    /// The words before the one being typed, and that word (empty after a space).
    fn split(&self) -> (Vec<String>, String) {
        let ends_in_space = self.text.ends_with(char::is_whitespace);
        let mut words: Vec<String> = self.text.split_whitespace().map(str::to_owned).collect();
        let current = if ends_in_space || words.is_empty() {
            String::new()
        } else {
            words.pop().unwrap_or_default()
        };
        (words, current)
    }

    fn take_hits(&mut self, current: &str, candidates: Vec<String>) -> Vec<String> {
        let mut hits: Vec<String> = candidates
            .into_iter()
            .filter(|c| c.starts_with(current))
            .collect();
        hits.sort();
        hits.dedup();
        let keep = self.text.len() - current.len();
        match hits.as_slice() {
            [] => Vec::new(),
            [one] => {
                self.text.truncate(keep);
                self.text.push_str(one);
                if !one.ends_with('/') {
                    self.text.push(' ');
                }
                Vec::new()
            }
            many => {
                let common = many.iter().skip(1).fold(many[0].as_str(), |acc, n| {
                    let len = acc
                        .char_indices()
                        .zip(n.chars())
                        .take_while(|((_, a), b)| a == b)
                        .last()
                        .map_or(0, |((i, a), _)| i + a.len_utf8());
                    &acc[..len]
                });
                if common.len() > current.len() {
                    self.text.truncate(keep);
                    self.text.push_str(common);
                }
                self.candidates = many.to_vec();
                many.to_vec()
            }
        }
    }

    /// What the next word fills, once the line ends in a space: the usage's placeholder
    /// (`N`, `REF`, `PROVIDER`…), for the footer to show after the cursor. `None` while a word is
    /// being typed or when every required word is there.
    #[must_use]
    pub fn placeholder(&self) -> Option<&'static str> {
        let (before, current) = self.split();
        if !current.is_empty() {
            return None;
        }
        let c = spec(before.first()?)?;
        let typed: Vec<&str> = before[1..].iter().map(String::as_str).collect();
        expected(c.usage, c.flags, &typed)
    }

    /// Opens the line with `text` already typed (a row key's command, waiting for the rest).
    pub fn open_with(&mut self, text: &str) {
        self.text.clear();
        self.text.push_str(text);
        self.at = None;
        self.candidates.clear();
    }

    /// Shows `note` beside the line where Tab's candidates go (a Tab that found nothing).
    pub fn note(&mut self, note: String) {
        self.candidates = vec![note];
    }
}

/// What a `REF` names, so the App offers the right files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// An actor: `.wasm` files (and directories).
    Actor,
    /// A provider: any file (archives, executables) and directories.
    Provider,
}

/// The placeholder of the usage the next positional word fills (`ACTOR`, `N`, …), given the
/// words typed after the command name (flags and their values skipped).
fn expected(
    usage: &'static str,
    flags: &[(&'static str, bool)],
    typed: &[&str],
) -> Option<&'static str> {
    let mut words = typed.iter();
    let mut positional = 0usize;
    while let Some(w) = words.next() {
        match w.strip_prefix("--") {
            // `--flag VALUE`: the value is the next word; none yet means it is being typed.
            Some(flag) if flags.iter().any(|(f, v)| *f == flag && *v) => {
                if words.next().is_none() {
                    return (flag == "host").then_some("HOST");
                }
            }
            // A switch, or `--flag=VALUE`.
            Some(_) => {}
            None => positional += 1,
        }
    }
    let mut depth = 0usize;
    usage
        .split_whitespace()
        .filter(|w| {
            let optional = depth > 0 || w.starts_with('[');
            depth = (depth + w.matches('[').count()).saturating_sub(w.matches(']').count());
            !optional
        })
        .nth(positional)
}

/// A name is offered when it is one word (the line splits on whitespace), the id always.
fn words_of(id: &str, name: Option<&str>) -> Vec<String> {
    let mut w = vec![id.to_owned()];
    if let Some(n) = name.filter(|n| !n.is_empty() && !n.contains(char::is_whitespace)) {
        w.push(n.to_owned());
    }
    w
}

fn actor_words(m: &Lattice) -> Vec<String> {
    resolve::actors(m)
        .iter()
        .flat_map(|a| words_of(&a.id, a.name.as_deref()))
        .collect()
}

fn provider_words(m: &Lattice) -> Vec<String> {
    resolve::providers(m)
        .iter()
        .flat_map(|p| words_of(&p.public_key, p.name.as_deref()))
        .collect()
}

fn host_words(m: &Lattice) -> Vec<String> {
    m.hosts
        .values()
        .flat_map(|h| words_of(&h.id, Some(&h.friendly_name)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::state::command::tests::{ECHO, H2, model};

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
        assert!(
            l.complete(&Lattice::new("default", Default::default()))
                .is_empty()
        );
        assert_eq!(l.text(), "scale ");
        let mut l = typed("st");
        assert_eq!(
            l.complete(&Lattice::new("default", Default::default())),
            [
                "start-actor",
                "start-provider",
                "stop-actor",
                "stop-host",
                "stop-provider"
            ]
        );
        assert_eq!(l.text(), "st");
        let mut l = typed("stop-");
        assert_eq!(
            l.complete(&Lattice::new("default", Default::default())),
            ["stop-actor", "stop-host", "stop-provider"]
        );
        assert_eq!(l.text(), "stop-");
        let mut l = typed("start");
        l.complete(&Lattice::new("default", Default::default()));
        assert_eq!(l.text(), "start-");
        // Only the command name completes.
        let mut l = typed("scale ec");
        assert!(
            l.complete(&Lattice::new("default", Default::default()))
                .is_empty()
        );
        assert_eq!(l.text(), "scale ec");
    }

    #[test]
    fn arguments_complete_from_the_model_where_the_usage_expects_them() {
        let m = model();
        let mut l = typed("scale ec");
        assert!(l.complete(&m).is_empty());
        assert_eq!(l.text(), "scale echo ");
        let mut l = typed("scale MBEC");
        l.complete(&m);
        assert_eq!(l.text(), format!("scale {ECHO} "));
        // Several: the common prefix, and the candidates for the status line.
        let mut l = typed("stop-actor e");
        assert_eq!(l.complete(&m), ["echo", "ever"]);
        assert_eq!(l.text(), "stop-actor e");
        // After --host, a host; after the actor, N: nothing to offer.
        let mut l = typed("scale echo 2 --host t");
        l.complete(&m);
        assert_eq!(l.text(), "scale echo 2 --host two ");
        let mut l = typed("scale echo ");
        assert!(l.complete(&m).is_empty());
        assert_eq!(l.text(), "scale echo ");
        let mut l = typed("stop-host NAT");
        l.complete(&m);
        assert_eq!(l.text(), format!("stop-host {H2} "));
        // A provider named with spaces is offered by id only.
        let mut l = typed("stop-provider V");
        l.complete(&m);
        assert!(l.text().starts_with("stop-provider VAHTTP"), "{}", l.text());
        // Flags.
        let mut l = typed("start-actor a.wasm --w");
        l.complete(&m);
        assert_eq!(l.text(), "start-actor a.wasm --watch ");
    }

    #[test]
    fn the_placeholder_names_the_next_required_word() {
        assert_eq!(typed("scale echo --host one ").placeholder(), Some("N"));
        assert_eq!(typed("scale ").placeholder(), Some("ACTOR"));
        assert_eq!(typed("link echo ").placeholder(), Some("PROVIDER"));
        assert_eq!(typed("start-actor --host one ").placeholder(), Some("REF"));
        assert_eq!(typed("scale echo 3 ").placeholder(), None);
        assert_eq!(typed("scale ec").placeholder(), None);
        assert_eq!(typed("").placeholder(), None);
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
