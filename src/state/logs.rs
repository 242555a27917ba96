//! The logs view's model: the console's own bounded copy of the log lines (the host's log and
//! every guest's stdout/stderr, tagged by actor) and what the user set on it — actor and level
//! filters, follow/pause and the scroll position, `/` search with next/previous match, wrap and
//! timestamps.
//!
//! Pure: no I/O, no clock, no logging framework. Lines come in through [`LogView::append`]
//! (the App copies them from the logging ring once per frame); the renderer reads them back
//! newest-first through [`LogView::shown_before`], so a frame only looks at the lines it shows.
//!
//! Bounds: at most [`LogView::capacity`] lines are kept; past that the oldest go (retention, not
//! loss). Lines the view never received — the ring overwrote them before the App copied them —
//! show up as gaps in [`LogLine::seq`] and are counted in [`LogView::dropped`].

use std::collections::VecDeque;

use super::model::Timestamp;

/// Lines the view (and the ring that feeds it) keep by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A log line's level, least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Very verbose.
    Trace,
    /// Verbose.
    Debug,
    /// Normal operation (guest stdout).
    Info,
    /// Something to look at (guest stderr).
    Warn,
    /// A failure.
    Error,
}

impl LogLevel {
    /// Every level, least severe first.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    /// The level's name, lower case (`warn`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// The level a name (any case; `warning` too) stands for.
    #[must_use]
    pub fn parse(s: &str) -> Option<LogLevel> {
        let s = s.to_ascii_lowercase();
        if s == "warning" {
            return Some(LogLevel::Warn);
        }
        LogLevel::ALL.into_iter().find(|l| l.name() == s)
    }
}

/// Which guest stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// `wasi:cli/stdout`.
    Stdout,
    /// `wasi:cli/stderr`.
    Stderr,
}

/// One log line. The actor id and the text share one string, so a line costs one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Position in the ring's sequence: consecutive for consecutive lines; a gap is lines lost.
    pub seq: u64,
    /// When it was logged.
    pub time: Timestamp,
    /// Its level.
    pub level: LogLevel,
    /// Where it was logged (`guest` for guest output, else the module path).
    pub target: &'static str,
    /// The guest stream, for guest output.
    pub stream: Option<LogStream>,
    /// `buf[..actor_len]` is the actor id (empty: none).
    actor_len: usize,
    /// The actor id, then the text.
    buf: String,
}

impl LogLine {
    /// A line; `seq` is set by whoever orders lines (the ring).
    #[must_use]
    pub fn new(
        time: Timestamp,
        level: LogLevel,
        target: &'static str,
        stream: Option<LogStream>,
        actor: Option<&str>,
        text: &str,
    ) -> Self {
        let actor = actor.unwrap_or_default();
        let mut buf = String::with_capacity(actor.len() + text.len());
        buf.push_str(actor);
        buf.push_str(text);
        Self::from_parts(time, level, target, stream, actor.len(), buf)
    }

    /// A line from a buffer that holds the actor id (its first `actor_len` bytes) and then
    /// the text. An `actor_len` that is not a character boundary of `buf` means no actor.
    #[must_use]
    pub fn from_parts(
        time: Timestamp,
        level: LogLevel,
        target: &'static str,
        stream: Option<LogStream>,
        actor_len: usize,
        buf: String,
    ) -> Self {
        let actor_len = if buf.is_char_boundary(actor_len) {
            actor_len
        } else {
            0
        };
        Self {
            seq: 0,
            time,
            level,
            target,
            stream,
            actor_len,
            buf,
        }
    }

    /// The actor whose output (or whose host event) this is.
    #[must_use]
    pub fn actor(&self) -> Option<&str> {
        self.buf.get(..self.actor_len).filter(|a| !a.is_empty())
    }

    /// The text: the message, then any other fields as ` key=value`.
    #[must_use]
    pub fn text(&self) -> &str {
        self.buf.get(self.actor_len..).unwrap_or_default()
    }
}

/// Byte offsets of every non-overlapping occurrence of `needle` in `hay`, ignoring ASCII
/// case. Empty for an empty needle.
#[must_use]
pub fn find_all(hay: &str, needle: &str) -> Vec<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let mut out = Vec::new();
    if n.is_empty() || n.len() > h.len() {
        return out;
    }
    let mut i = 0;
    while i + n.len() <= h.len() {
        if h[i..i + n.len()].eq_ignore_ascii_case(n) && hay.is_char_boundary(i) {
            out.push(i);
            i += n.len();
        } else {
            i += 1;
        }
    }
    out
}

/// Whether `hay` contains `needle`, ignoring ASCII case.
#[must_use]
pub fn contains(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    !n.is_empty() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// What a key asks of the logs view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogsAction {
    /// Scroll towards older lines by this many (pauses).
    Older(usize),
    /// Scroll towards newer lines by this many.
    Newer(usize),
    /// Scroll one page towards older lines (pauses).
    PageOlder,
    /// Scroll one page towards newer lines.
    PageNewer,
    /// Show the oldest lines (pauses).
    Oldest,
    /// Show the newest lines and follow.
    Newest,
    /// Follow / pause.
    ToggleFollow,
    /// Wrap long lines / cut them.
    ToggleWrap,
    /// Show / hide timestamps.
    ToggleTimestamps,
    /// Next level filter: all → debug → info → warn → error → all.
    CycleLevel,
    /// Drop the actor filter.
    AllActors,
    /// Start typing a search.
    StartSearch,
    /// Type a character of the search.
    SearchInput(char),
    /// Delete the search's last character.
    SearchBackspace,
    /// Keep the typed search and jump to the newest match on screen or above.
    SearchKeep,
    /// Drop the typed search; the previous one stays.
    SearchCancel,
    /// The next (newer) match.
    NextMatch,
    /// The previous (older) match.
    PrevMatch,
}

/// The logs view's model. See the module docs.
#[derive(Debug, Clone)]
pub struct LogView {
    lines: VecDeque<LogLine>,
    capacity: usize,
    /// The seq the next line should have; a larger one means lines were lost.
    next_seq: u64,
    dropped: u64,
    actor: Option<String>,
    level: Option<LogLevel>,
    search: String,
    /// The search being typed, while it is.
    editing: Option<String>,
    /// The line of the current match.
    current: Option<u64>,
    /// The last search found nothing.
    no_match: bool,
    /// `None`: follow the newest line. `Some(seq)`: paused with that line at the bottom.
    anchor: Option<u64>,
    wrap: bool,
    timestamps: bool,
    /// Rows the last frame showed (the page size).
    page: usize,
}

impl Default for LogView {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl LogView {
    /// An empty view keeping at most `capacity` lines (at least one), following, wrapping
    /// off, timestamps on.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 0,
            dropped: 0,
            actor: None,
            level: None,
            search: String::new(),
            editing: None,
            current: None,
            no_match: false,
            anchor: None,
            wrap: false,
            timestamps: true,
            page: 10,
        }
    }

    /// Lines kept at most.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Lines kept now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether no line is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines lost before the view got them (gaps in the sequence).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Takes lines in sequence order (the ring's); counts gaps as dropped and lets the oldest
    /// lines go past [`LogView::capacity`]. Returns whether anything arrived.
    pub fn append(&mut self, new: impl IntoIterator<Item = LogLine>) -> bool {
        let mut any = false;
        for line in new {
            if line.seq < self.next_seq && !self.lines.is_empty() {
                // Out of order or repeated: the ring never sends those; ignore rather than
                // break the order the scrolling relies on.
                continue;
            }
            self.dropped = self
                .dropped
                .saturating_add(line.seq.saturating_sub(self.next_seq));
            self.next_seq = line.seq.saturating_add(1);
            if self.lines.len() >= self.capacity {
                self.lines.pop_front();
            }
            self.lines.push_back(line);
            any = true;
        }
        if any && let Some(a) = self.anchor {
            // The line the view was paused on went: stay at the oldest kept.
            if self.lines.front().is_some_and(|l| l.seq > a) {
                self.anchor = self.lines.front().map(|l| l.seq);
            }
        }
        any
    }

    /// Shows only `actor`'s lines (`None`: every line).
    pub fn set_actor(&mut self, actor: Option<String>) {
        self.actor = actor;
        self.refilter();
    }

    /// The actor filter.
    #[must_use]
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// Shows only lines at `level` or above (`None`: every level).
    pub fn set_level(&mut self, level: Option<LogLevel>) {
        self.level = level;
        self.refilter();
    }

    /// The level filter.
    #[must_use]
    pub fn level(&self) -> Option<LogLevel> {
        self.level
    }

    /// Whether the view follows the newest line.
    #[must_use]
    pub fn following(&self) -> bool {
        self.anchor.is_none()
    }

    /// Whether long lines wrap.
    #[must_use]
    pub fn wrap(&self) -> bool {
        self.wrap
    }

    /// Whether timestamps are shown.
    #[must_use]
    pub fn timestamps(&self) -> bool {
        self.timestamps
    }

    /// The search in effect (highlighted; `n`/`N` move between its matches).
    #[must_use]
    pub fn search(&self) -> &str {
        &self.search
    }

    /// The search being typed, while it is.
    #[must_use]
    pub fn editing(&self) -> Option<&str> {
        self.editing.as_deref()
    }

    /// The line of the current match.
    #[must_use]
    pub fn current_match(&self) -> Option<u64> {
        self.current
    }

    /// Whether the last search or jump found no match.
    #[must_use]
    pub fn no_match(&self) -> bool {
        self.no_match
    }

    /// Records the rows the renderer had, the page size for paging.
    pub fn set_page(&mut self, rows: usize) {
        self.page = rows.max(1);
    }

    /// Whether the filters let `l` through.
    #[must_use]
    pub fn shows(&self, l: &LogLine) -> bool {
        self.level.is_none_or(|min| l.level >= min)
            && self.actor.as_deref().is_none_or(|a| l.actor() == Some(a))
    }

    /// The shown lines at or older than the bottom of the view, newest first: what a frame
    /// draws, bottom up, until it runs out of rows.
    pub fn shown_before(&self) -> impl Iterator<Item = &LogLine> {
        let end = match self.anchor {
            None => self.lines.len(),
            Some(a) => self.index_after(a),
        };
        self.lines.range(..end).rev().filter(move |l| self.shows(l))
    }

    /// Index of the first line newer than `seq`.
    fn index_after(&self, seq: u64) -> usize {
        self.lines.partition_point(|l| l.seq <= seq)
    }

    /// Shown lines newer than `seq`, oldest first.
    fn shown_after(&self, seq: u64) -> impl Iterator<Item = &LogLine> {
        let start = self.index_after(seq);
        self.lines.range(start..).filter(move |l| self.shows(l))
    }

    /// The newest shown line.
    fn newest_shown(&self) -> Option<u64> {
        self.lines
            .iter()
            .rev()
            .find(|l| self.shows(l))
            .map(|l| l.seq)
    }

    /// After a filter change: a paused view stays at the nearest shown line at or before
    /// its anchor.
    fn refilter(&mut self) {
        if self.anchor.is_some() {
            let at = self.shown_before().next().map(|l| l.seq);
            let oldest = self.lines.iter().find(|l| self.shows(l)).map(|l| l.seq);
            self.anchor = at.or(oldest);
        }
    }

    /// Pauses on what the view shows now.
    fn pause(&mut self) {
        if self.anchor.is_none() {
            self.anchor = self.newest_shown();
        }
    }

    /// Applies one key's action.
    pub fn apply(&mut self, action: LogsAction) {
        match action {
            LogsAction::Older(n) => {
                self.pause();
                let to = self
                    .shown_before()
                    .nth(n.min(self.lines.len()))
                    .map(|l| l.seq);
                let oldest = self.lines.iter().find(|l| self.shows(l)).map(|l| l.seq);
                if let Some(seq) = to.or(oldest) {
                    self.anchor = Some(seq);
                }
            }
            LogsAction::Newer(n) => {
                if let Some(a) = self.anchor {
                    let n = n.max(1);
                    if let Some(l) = self.shown_after(a).take(n).last() {
                        self.anchor = Some(l.seq);
                    }
                }
            }
            LogsAction::PageOlder => self.apply(LogsAction::Older(self.page)),
            LogsAction::PageNewer => self.apply(LogsAction::Newer(self.page)),
            LogsAction::Oldest => {
                let page = self.page;
                let top = self
                    .lines
                    .iter()
                    .filter(|l| self.shows(l))
                    .take(page)
                    .last()
                    .map(|l| l.seq);
                if let Some(seq) = top {
                    self.anchor = Some(seq);
                }
            }
            LogsAction::Newest => self.anchor = None,
            LogsAction::ToggleFollow => {
                if self.anchor.is_some() {
                    self.anchor = None;
                } else {
                    self.pause();
                }
            }
            LogsAction::ToggleWrap => self.wrap = !self.wrap,
            LogsAction::ToggleTimestamps => self.timestamps = !self.timestamps,
            LogsAction::CycleLevel => {
                let next = match self.level {
                    None => Some(LogLevel::Debug),
                    Some(LogLevel::Trace) => Some(LogLevel::Debug),
                    Some(LogLevel::Debug) => Some(LogLevel::Info),
                    Some(LogLevel::Info) => Some(LogLevel::Warn),
                    Some(LogLevel::Warn) => Some(LogLevel::Error),
                    Some(LogLevel::Error) => None,
                };
                self.set_level(next);
            }
            LogsAction::AllActors => self.set_actor(None),
            LogsAction::StartSearch => self.editing = Some(String::new()),
            LogsAction::SearchInput(c) => {
                if let Some(e) = &mut self.editing {
                    e.push(c);
                }
            }
            LogsAction::SearchBackspace => {
                if let Some(e) = &mut self.editing {
                    e.pop();
                }
            }
            LogsAction::SearchCancel => self.editing = None,
            LogsAction::SearchKeep => {
                let Some(text) = self.editing.take() else {
                    return;
                };
                self.search = text;
                self.current = None;
                self.no_match = false;
                if !self.search.is_empty() {
                    self.jump(true, true);
                }
            }
            LogsAction::NextMatch => self.jump(false, false),
            LogsAction::PrevMatch => self.jump(true, false),
        }
    }

    /// Moves to the next match older (`back`) or newer than the current one (or than the
    /// bottom of the view; `inclusive`: the bottom line itself counts). Pauses on it.
    fn jump(&mut self, back: bool, inclusive: bool) {
        if self.search.is_empty() {
            return;
        }
        let from = match (self.current, self.anchor) {
            (Some(c), _) => Some(c),
            (None, a) => a.or_else(|| self.newest_shown()),
        };
        let Some(from) = from else {
            self.no_match = true;
            return;
        };
        let needle = self.search.as_str();
        let hit = if back {
            let end = if inclusive {
                self.index_after(from)
            } else {
                self.lines.partition_point(|l| l.seq < from)
            };
            self.lines
                .range(..end)
                .rev()
                .find(|l| self.shows(l) && contains(l.text(), needle))
        } else {
            self.shown_after(from).find(|l| contains(l.text(), needle))
        }
        .map(|l| l.seq);
        match hit {
            Some(seq) => {
                self.no_match = false;
                self.current = Some(seq);
                // Keep the match on screen: where it is when it is already shown, else at
                // the bottom.
                let shown = self.shown_before().take(self.page).any(|l| l.seq == seq);
                if shown {
                    self.pause();
                } else {
                    self.anchor = Some(seq);
                }
            }
            None => self.no_match = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> Timestamp {
        chrono::Utc
            .timestamp_opt(1_700_000_000 + s, 0)
            .single()
            .unwrap_or_default()
    }

    fn line(seq: u64, level: LogLevel, actor: Option<&str>, text: &str) -> LogLine {
        let mut l = LogLine::new(at(seq as i64), level, "guest", None, actor, text);
        l.seq = seq;
        l
    }

    fn texts(v: &LogView, n: usize) -> Vec<String> {
        let mut t: Vec<String> = v
            .shown_before()
            .take(n)
            .map(|l| l.text().to_owned())
            .collect();
        t.reverse();
        t
    }

    fn numbered(n: u64) -> Vec<LogLine> {
        (0..n)
            .map(|i| {
                let actor = if i % 2 == 0 { Some("MA") } else { Some("MB") };
                let level = if i % 5 == 0 {
                    LogLevel::Warn
                } else {
                    LogLevel::Info
                };
                line(i, level, actor, &format!("line {i}"))
            })
            .collect()
    }

    #[test]
    fn a_line_keeps_its_actor_and_text_apart() {
        let l = LogLine::new(at(0), LogLevel::Info, "guest", None, Some("MABC"), "hello");
        assert_eq!((l.actor(), l.text()), (Some("MABC"), "hello"));
        let l = LogLine::new(at(0), LogLevel::Info, "host", None, None, "hi");
        assert_eq!((l.actor(), l.text()), (None, "hi"));
        // A bad split is no actor, never a panic.
        let l = LogLine::from_parts(at(0), LogLevel::Info, "x", None, 1, "é".to_owned());
        assert_eq!((l.actor(), l.text()), (None, "é"));
    }

    #[test]
    fn the_copy_is_bounded_and_gaps_count_as_dropped() {
        let mut v = LogView::new(3);
        assert!(v.append(numbered(5)));
        assert_eq!(v.len(), 3);
        assert_eq!(v.dropped(), 0, "retention is not loss");
        assert_eq!(texts(&v, 10), ["line 2", "line 3", "line 4"]);
        // Lines 5..=9 never arrived: the ring overwrote them.
        assert!(v.append([line(10, LogLevel::Info, None, "line 10")]));
        assert_eq!(v.dropped(), 5);
        assert!(!v.append([]));
        // A repeat is ignored.
        v.append([line(10, LogLevel::Info, None, "again")]);
        assert_eq!(texts(&v, 1), ["line 10"]);
    }

    #[test]
    fn actor_and_level_filters_hide_lines() {
        let mut v = LogView::new(100);
        v.append(numbered(10));
        v.set_actor(Some("MA".into()));
        assert_eq!(
            texts(&v, 10),
            ["line 0", "line 2", "line 4", "line 6", "line 8"]
        );
        v.set_level(Some(LogLevel::Warn));
        assert_eq!(texts(&v, 10), ["line 0"]);
        v.apply(LogsAction::AllActors);
        assert_eq!(texts(&v, 10), ["line 0", "line 5"]);
        // Cycling: warn → error → all → debug.
        v.apply(LogsAction::CycleLevel);
        assert_eq!(v.level(), Some(LogLevel::Error));
        assert!(texts(&v, 10).is_empty());
        v.apply(LogsAction::CycleLevel);
        assert_eq!(v.level(), None);
        assert_eq!(texts(&v, 100).len(), 10);
        v.apply(LogsAction::CycleLevel);
        assert_eq!(v.level(), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("WARNING"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("loud"), None);
    }

    #[test]
    fn following_shows_new_lines_and_pausing_holds_the_view() {
        let mut v = LogView::new(100);
        v.append(numbered(5));
        assert!(v.following());
        assert_eq!(texts(&v, 2), ["line 3", "line 4"]);
        v.apply(LogsAction::ToggleFollow);
        assert!(!v.following());
        v.append((5..8).map(|i| line(i, LogLevel::Info, None, &format!("line {i}"))));
        assert_eq!(texts(&v, 2), ["line 3", "line 4"], "paused: the view holds");
        v.apply(LogsAction::Older(2));
        assert_eq!(texts(&v, 2), ["line 1", "line 2"]);
        v.apply(LogsAction::Newer(1));
        assert_eq!(texts(&v, 2), ["line 2", "line 3"]);
        v.apply(LogsAction::Newest);
        assert!(v.following());
        assert_eq!(texts(&v, 2), ["line 6", "line 7"]);
        // Scrolling up pauses.
        v.apply(LogsAction::Older(1));
        assert!(!v.following());
        assert_eq!(texts(&v, 1), ["line 6"]);
        v.set_page(3);
        v.apply(LogsAction::Oldest);
        assert_eq!(texts(&v, 3), ["line 0", "line 1", "line 2"]);
        v.apply(LogsAction::Older(5));
        assert_eq!(
            texts(&v, 3),
            ["line 0"],
            "the oldest line stays at the bottom"
        );
    }

    #[test]
    fn a_paused_view_whose_line_went_stays_at_the_oldest() {
        let mut v = LogView::new(3);
        v.append(numbered(3));
        v.apply(LogsAction::Older(2));
        assert_eq!(texts(&v, 1), ["line 0"]);
        v.append((3..6).map(|i| line(i, LogLevel::Info, None, &format!("line {i}"))));
        assert!(!v.following());
        assert_eq!(texts(&v, 1), ["line 3"]);
    }

    #[test]
    fn search_jumps_between_matches_and_says_when_there_is_none() {
        let mut v = LogView::new(100);
        v.set_page(2);
        v.append((0..10).map(|i| {
            let text = if i % 3 == 0 {
                format!("Needle {i}")
            } else {
                format!("hay {i}")
            };
            line(i, LogLevel::Info, None, &text)
        }));
        v.apply(LogsAction::StartSearch);
        for c in "neeX".chars() {
            v.apply(LogsAction::SearchInput(c));
        }
        v.apply(LogsAction::SearchBackspace);
        assert_eq!(v.editing(), Some("nee"));
        v.apply(LogsAction::SearchKeep);
        assert_eq!(v.search(), "nee");
        assert_eq!(v.editing(), None);
        // The newest match at or above the bottom: line 9.
        assert_eq!(v.current_match(), Some(9));
        assert!(!v.following(), "a search pauses");
        v.apply(LogsAction::PrevMatch);
        assert_eq!(v.current_match(), Some(6));
        assert_eq!(
            texts(&v, 1),
            ["Needle 6"],
            "off screen: moved to the bottom"
        );
        v.apply(LogsAction::PrevMatch);
        v.apply(LogsAction::PrevMatch);
        assert_eq!(v.current_match(), Some(0));
        v.apply(LogsAction::PrevMatch);
        assert_eq!(v.current_match(), Some(0));
        assert!(v.no_match());
        v.apply(LogsAction::NextMatch);
        assert_eq!(v.current_match(), Some(3));
        assert!(!v.no_match());
        // Esc while typing keeps the old search.
        v.apply(LogsAction::StartSearch);
        v.apply(LogsAction::SearchInput('z'));
        v.apply(LogsAction::SearchCancel);
        assert_eq!(v.search(), "nee");
        // A search nothing matches.
        v.apply(LogsAction::StartSearch);
        v.apply(LogsAction::SearchInput('q'));
        v.apply(LogsAction::SearchKeep);
        assert!(v.no_match());
        assert_eq!(v.current_match(), None);
    }

    #[test]
    fn matches_ignore_ascii_case_and_do_not_overlap() {
        assert_eq!(find_all("aAaA", "aa"), [0, 2]);
        assert_eq!(find_all("échec ÉCHEC", "chec"), [2, 9]);
        assert!(find_all("abc", "").is_empty());
        assert!(contains("Hello World", "o w"));
        assert!(!contains("Hello", ""));
    }
}
