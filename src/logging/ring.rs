//! The in-memory log ring the console's logs view reads: a `tracing` [`Layer`] ([`RingLayer`])
//! that turns each event into one [`LogLine`] and pushes it into a fixed-capacity [`LogRing`].
//!
//! Owns the ring and the event → line formatting; knows nothing about the view (the App drains
//! the ring once per frame into `state::logs::LogView`) and never writes to the terminal.
//!
//! Cost and overflow policy, because every log call of the host and of every guest pays it:
//! - one allocation per line (the line's string: actor id, message and the other fields);
//!   the target is the callsite's `&'static str`, the level and stream are enums, and the
//!   fields nobody is shown (`request_id`, a zero `truncated`) are never formatted;
//! - the mutex is held only to stamp the sequence number and move the line in (or, for the
//!   reader, to swap the whole buffer out), never while formatting or allocating;
//! - a full ring overwrites its oldest line and counts it in [`LogRing::dropped`]; a writer
//!   never waits for the reader and never fails.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::state::logs::{LogLevel, LogLine, LogStream};

/// A bounded ring of log lines. Writers push from any thread; one reader takes what arrived.
#[derive(Debug)]
pub struct LogRing {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    lines: VecDeque<LogLine>,
    next_seq: u64,
    dropped: u64,
}

/// What [`LogRing::take`] handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// Lines moved out.
    pub lines: usize,
    /// Lines overwritten before anyone took them, since the ring was made.
    pub dropped: u64,
    /// Lines pushed since the ring was made.
    pub pushed: u64,
}

impl LogRing {
    /// A ring of at most `capacity` lines (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Arc<Self> {
        let capacity = capacity.max(1);
        Arc::new(Self {
            capacity,
            inner: Mutex::new(Inner {
                lines: VecDeque::with_capacity(capacity),
                next_seq: 0,
                dropped: 0,
            }),
        })
    }

    /// Lines kept at most.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Appends `line`, stamping its sequence number; a full ring overwrites its oldest line.
    pub fn push(&self, mut line: LogLine) {
        let evicted = {
            let mut g = crate::sync::lock(&self.inner);
            line.seq = g.next_seq;
            g.next_seq = g.next_seq.wrapping_add(1);
            let evicted = if g.lines.len() >= self.capacity {
                g.dropped = g.dropped.saturating_add(1);
                g.lines.pop_front()
            } else {
                None
            };
            g.lines.push_back(line);
            evicted
        };
        // Freed outside the lock.
        drop(evicted);
    }

    /// Moves every line not taken yet into `out` (which is emptied first), oldest first, by
    /// swapping buffers: the lock is held for a pointer swap, whatever the number of lines.
    pub fn take(&self, out: &mut VecDeque<LogLine>) -> Taken {
        out.clear();
        let mut g = crate::sync::lock(&self.inner);
        std::mem::swap(&mut g.lines, out);
        if g.lines.capacity() < self.capacity {
            // The first swap hands the reader the preallocated buffer; reserve once here
            // rather than grow line by line under the writers' feet.
            let want = self.capacity;
            g.lines.reserve(want);
        }
        Taken {
            lines: out.len(),
            dropped: g.dropped,
            pushed: g.next_seq,
        }
    }

    /// Lines overwritten before anyone took them.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        crate::sync::lock(&self.inner).dropped
    }
}

/// The [`Layer`] that feeds a [`LogRing`]: every event that passes the subscriber's filter
/// becomes one line.
#[derive(Debug, Clone)]
pub struct RingLayer {
    ring: Arc<LogRing>,
}

impl RingLayer {
    /// A layer pushing into `ring`.
    #[must_use]
    pub fn new(ring: Arc<LogRing>) -> Self {
        Self { ring }
    }
}

/// Bytes reserved up front for a line: most lines fit, so the string rarely grows.
const LINE_RESERVE: usize = 96;

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut v = LineVisitor {
            buf: String::with_capacity(LINE_RESERVE),
            actor_len: 0,
            message_end: 0,
            stream: None,
        };
        event.record(&mut v);
        let line = LogLine::from_parts(
            Utc::now(),
            level_of(*meta.level()),
            meta.target(),
            v.stream,
            v.actor_len,
            v.buf,
        );
        self.ring.push(line);
    }
}

fn level_of(l: Level) -> LogLevel {
    match l {
        Level::TRACE => LogLevel::Trace,
        Level::DEBUG => LogLevel::Debug,
        Level::INFO => LogLevel::Info,
        Level::WARN => LogLevel::Warn,
        Level::ERROR => LogLevel::Error,
    }
}

/// Builds a line's string in place: `[actor][message][ key=value…]`, whatever order the
/// fields come in.
struct LineVisitor {
    buf: String,
    actor_len: usize,
    /// End of the actor and message part; other fields go after it.
    message_end: usize,
    stream: Option<LogStream>,
}

/// Fields that are not shown as text: captured apart (`actor`, `stream`) or not shown.
fn skipped(name: &str) -> bool {
    matches!(
        name,
        "request_id" | "log.target" | "log.module_path" | "log.file" | "log.line"
    )
}

impl LineVisitor {
    fn actor(&mut self, id: &str) {
        if self.actor_len == 0 {
            self.buf.insert_str(0, id);
            self.actor_len = id.len();
            self.message_end += id.len();
        }
    }

    fn message(&mut self, text: &str) {
        self.buf.insert_str(self.message_end, text);
        self.message_end += text.len();
    }

    fn message_fmt(&mut self, value: &dyn std::fmt::Debug) {
        if self.message_end == self.buf.len() {
            let _ = write!(self.buf, "{value:?}");
            self.message_end = self.buf.len();
        } else {
            self.message(&format!("{value:?}"));
        }
    }
}

impl Visit for LineVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "actor" => self.actor(value),
            "stream" => {
                self.stream = match value {
                    "stdout" => Some(LogStream::Stdout),
                    "stderr" => Some(LogStream::Stderr),
                    _ => None,
                };
            }
            "message" => self.message(value),
            name if skipped(name) => {}
            name => {
                let _ = write!(self.buf, " {name}={value}");
            }
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "truncated" if value == 0 => {}
            name if skipped(name) => {}
            name => {
                let _ = write!(self.buf, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message_fmt(value),
            // `actor = %id` arrives as Display wrapped in Debug.
            "actor" => {
                let id = format!("{value:?}");
                self.actor(&id);
            }
            "stream" => {
                let s = format!("{value:?}");
                self.record_str(field, s.trim_matches('"'));
            }
            name if skipped(name) => {}
            name => {
                let _ = write!(self.buf, " {name}={value:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    fn texts(lines: &VecDeque<LogLine>) -> Vec<&str> {
        lines.iter().map(LogLine::text).collect()
    }

    fn plain(text: &str) -> LogLine {
        LogLine::new(Utc::now(), LogLevel::Info, "t", None, None, text)
    }

    #[test]
    fn a_full_ring_overwrites_the_oldest_and_counts_it() {
        let ring = LogRing::new(3);
        for i in 0..5 {
            ring.push(plain(&format!("l{i}")));
        }
        let mut out = VecDeque::new();
        let t = ring.take(&mut out);
        assert_eq!(texts(&out), ["l2", "l3", "l4"]);
        assert_eq!(
            t,
            Taken {
                lines: 3,
                dropped: 2,
                pushed: 5
            }
        );
        assert_eq!(ring.dropped(), 2);
    }

    #[test]
    fn take_hands_over_only_what_is_new_and_seqs_show_the_gaps() {
        let ring = LogRing::new(4);
        let mut out = VecDeque::new();
        ring.push(plain("a"));
        ring.push(plain("b"));
        ring.take(&mut out);
        let seqs: Vec<u64> = out.iter().map(|l| l.seq).collect();
        assert_eq!(seqs, [0, 1]);
        ring.take(&mut out);
        assert!(out.is_empty(), "nothing new");
        for i in 0..6 {
            ring.push(plain(&format!("n{i}")));
        }
        let t = ring.take(&mut out);
        let seqs: Vec<u64> = out.iter().map(|l| l.seq).collect();
        // 2..=7 pushed, 4 kept: the gap (2, 3) is exactly what was dropped.
        assert_eq!(seqs, [4, 5, 6, 7]);
        assert_eq!(t.dropped, 2);
        let mut view = crate::state::logs::LogView::new(100);
        view.append([plain("x")].into_iter().map(|mut l| {
            l.seq = 1;
            l
        }));
        view.append(out.drain(..));
        assert_eq!(view.dropped(), 1 + 2, "the view counts the gaps it saw");
    }

    #[test]
    fn concurrent_writers_lose_nothing_they_do_not_count() {
        const PER_THREAD: u64 = 20_000;
        const THREADS: u64 = 4;
        let ring = LogRing::new(1_000);
        let mut got = 0u64;
        let mut last_seq = None;
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let ring = &ring;
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        ring.push(plain(&format!("{t}:{i}")));
                    }
                });
            }
            let mut out = VecDeque::new();
            // Read while they write.
            for _ in 0..50 {
                ring.take(&mut out);
                for l in &out {
                    assert!(last_seq.is_none_or(|s| l.seq > s), "seqs only grow");
                    last_seq = Some(l.seq);
                }
                got += out.len() as u64;
                std::thread::yield_now();
            }
        });
        let mut out = VecDeque::new();
        let t = ring.take(&mut out);
        got += out.len() as u64;
        assert_eq!(t.pushed, PER_THREAD * THREADS);
        assert_eq!(got + t.dropped, t.pushed, "taken + dropped = pushed");
    }

    #[test]
    fn the_layer_tags_guest_lines_and_formats_only_what_is_shown() {
        let ring = LogRing::new(10);
        let subscriber = tracing_subscriber::registry().with(RingLayer::new(Arc::clone(&ring)));
        tracing::subscriber::with_default(subscriber, || {
            let text = "hello from the guest";
            tracing::info!(
                target: "guest",
                actor = "MACTOR",
                request_id = 7u64,
                stream = "stdout",
                truncated = 0usize,
                "{text}"
            );
            tracing::warn!(target: "guest", actor = %"MOTHER", stream = "stderr", "oops");
            tracing::error!(reason = %"disk full", code = 5, "host trouble");
        });
        let mut out = VecDeque::new();
        ring.take(&mut out);
        let got: Vec<_> = out
            .iter()
            .map(|l| (l.level, l.target, l.stream, l.actor(), l.text()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    LogLevel::Info,
                    "guest",
                    Some(LogStream::Stdout),
                    Some("MACTOR"),
                    "hello from the guest"
                ),
                (
                    LogLevel::Warn,
                    "guest",
                    Some(LogStream::Stderr),
                    Some("MOTHER"),
                    "oops"
                ),
                (
                    LogLevel::Error,
                    module_path!(),
                    None,
                    None,
                    "host trouble reason=disk full code=5"
                ),
            ]
        );
    }
}
