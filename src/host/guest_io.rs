//! Guest stdout and stderr, forwarded to `tracing` (target `guest`, fields `actor`,
//! `request_id`, `stream`), one event per line.
//!
//! Owns the line buffering and its bounds. It must not write to the process's stdout or
//! stderr (the terminal hosts a TUI; STYLE pitfall 13) and knows nothing about HTTP or
//! wasmtime stores beyond the WASI output-stream traits it implements.
//!
//! Bounds and overflow policy:
//! - a line longer than [`MAX_LINE_BYTES`] is cut there; the rest of it up to the next newline
//!   is dropped and the event carries `truncated = <dropped bytes>`;
//! - at most [`MAX_LINES_PER_STORE`] lines per stream and store are logged; later lines are
//!   counted, not logged, and one summary event reports how many were dropped when the
//!   store goes away;
//! - an actor logs at most [`GUEST_LINES_PER_SEC`] lines a second across all its requests and
//!   instances (bursts up to [`GUEST_LINE_BURST`]); past that, lines are dropped and one
//!   warning per interval says how many ([`OutputBudget`]), so a client hammering an actor
//!   that prints on every request cannot fill the disk through the host's log;
//! - so memory per stream is at most [`MAX_LINE_BYTES`] whatever the guest writes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Longest line logged, in bytes. 4 KiB keeps a log line readable in the console's log pane
/// and in a log file while leaving room for a JSON document or a stack trace line.
pub const MAX_LINE_BYTES: usize = 4 * 1024;

/// Lines logged per stream per store (one request, or one reused instance). 1,000 lines is
/// far more than a well-behaved handler prints; past it a chatty guest cannot flood the log.
pub const MAX_LINES_PER_STORE: u64 = 1_000;

/// Lines one actor may log per second, all its requests and instances together: far more
/// than anyone reads, far less than a guest printing on every request at 10,000 requests a
/// second writes.
pub const GUEST_LINES_PER_SEC: u32 = 200;

/// Lines one actor may log at once above [`GUEST_LINES_PER_SEC`] (a start-up banner, a burst
/// of errors).
pub const GUEST_LINE_BURST: u32 = 2_000;

/// What `check-write` grants per call. Writes are consumed synchronously, so this only bounds
/// how much one `write` call may hand over (the guest's own buffer), not host memory.
const WRITE_PERMIT_BYTES: usize = 64 * 1024;

/// Which guest stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestStream {
    /// `wasi:cli/stdout`; logged at INFO.
    Stdout,
    /// `wasi:cli/stderr` (panic messages land here); logged at WARN.
    Stderr,
}

impl GuestStream {
    fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// One complete (possibly cut) line, ready to log.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    /// The line without its newline, at most [`MAX_LINE_BYTES`] bytes.
    pub text: Vec<u8>,
    /// Bytes of this line that were dropped because it was too long.
    pub truncated: usize,
}

/// Splits a byte stream into bounded lines. Pure; no I/O.
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    truncated: usize,
}

impl LineBuffer {
    /// Feeds bytes; calls `emit` for every line completed by a newline.
    pub fn push(&mut self, mut bytes: &[u8], mut emit: impl FnMut(Line)) {
        while !bytes.is_empty() {
            let (chunk, newline) = match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => (&bytes[..i], Some(i)),
                None => (bytes, None),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.buf.len());
            let keep = chunk.len().min(room);
            self.buf.extend_from_slice(&chunk[..keep]);
            self.truncated += chunk.len() - keep;
            match newline {
                Some(i) => {
                    emit(self.take());
                    bytes = &bytes[i + 1..];
                }
                None => bytes = &[],
            }
        }
    }

    /// The pending partial line, if any (used when the stream goes away).
    pub fn finish(&mut self) -> Option<Line> {
        if self.buf.is_empty() && self.truncated == 0 {
            None
        } else {
            Some(self.take())
        }
    }

    /// Bytes held for the current partial line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self) -> Line {
        let mut text = std::mem::take(&mut self.buf);
        if text.last() == Some(&b'\r') {
            text.pop();
        }
        Line {
            text,
            truncated: std::mem::take(&mut self.truncated),
        }
    }
}

/// Per-stream state: the buffer and the line budget.
#[derive(Debug, Default)]
struct StreamState {
    lines: LineBuffer,
    logged: u64,
    dropped: u64,
}

/// An actor's line budget: a token bucket of [`GUEST_LINE_BURST`] lines refilled at
/// [`GUEST_LINES_PER_SEC`], shared by every store of the actor (one per component version).
#[derive(Debug)]
pub struct OutputBudget {
    state: Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    tokens: f64,
    refilled: Instant,
    dropped: u64,
    reported: Option<Instant>,
}

/// Whether a line may be logged.
#[derive(Debug, PartialEq, Eq)]
pub enum Budget {
    /// Log it.
    Log,
    /// Drop it; `Some(n)`: warn now that `n` lines were dropped since the last warning.
    Drop(Option<u64>),
}

impl Default for OutputBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl OutputBudget {
    /// A full budget.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(BudgetState {
                tokens: f64::from(GUEST_LINE_BURST),
                refilled: Instant::now(),
                dropped: 0,
                reported: None,
            }),
        }
    }

    /// Takes one line from the budget at `now`.
    pub fn take_at(&self, now: Instant) -> Budget {
        let mut s = crate::sync::lock(&self.state);
        let elapsed = now.saturating_duration_since(s.refilled).as_secs_f64();
        s.tokens =
            (s.tokens + elapsed * f64::from(GUEST_LINES_PER_SEC)).min(f64::from(GUEST_LINE_BURST));
        s.refilled = s.refilled.max(now);
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            return Budget::Log;
        }
        s.dropped = s.dropped.saturating_add(1);
        let due = s
            .reported
            .is_none_or(|r| now.saturating_duration_since(r) >= crate::logging::WARN_INTERVAL);
        if due {
            s.reported = Some(now);
            Budget::Drop(Some(std::mem::take(&mut s.dropped)))
        } else {
            Budget::Drop(None)
        }
    }
}

#[derive(Debug)]
struct Shared {
    actor: Arc<str>,
    budget: Arc<OutputBudget>,
    request_id: AtomicU64,
    stdout: Mutex<StreamState>,
    stderr: Mutex<StreamState>,
}

impl Shared {
    fn state(&self, which: GuestStream) -> MutexGuard<'_, StreamState> {
        let m = match which {
            GuestStream::Stdout => &self.stdout,
            GuestStream::Stderr => &self.stderr,
        };
        crate::sync::lock(m)
    }

    fn write(&self, which: GuestStream, bytes: &[u8]) {
        let request_id = self.request_id.load(Ordering::Relaxed);
        let mut state = self.state(which);
        let StreamState {
            lines,
            logged,
            dropped,
        } = &mut *state;
        lines.push(bytes, |line| {
            if *logged < MAX_LINES_PER_STORE {
                if self.admit(request_id) {
                    *logged += 1;
                    log_line(&self.actor, request_id, which, &line);
                }
            } else {
                *dropped += 1;
            }
        });
    }

    /// Whether the actor's budget lets one more line through (warning, at most once per
    /// interval, about the lines it does not).
    fn admit(&self, request_id: u64) -> bool {
        match self.budget.take_at(Instant::now()) {
            Budget::Log => true,
            Budget::Drop(report) => {
                if let Some(dropped_lines) = report {
                    tracing::warn!(
                        target: "guest",
                        actor = %self.actor,
                        request_id,
                        dropped_lines,
                        "guest output over {GUEST_LINES_PER_SEC} lines a second: lines dropped"
                    );
                }
                false
            }
        }
    }

    /// Logs partial lines and the dropped-line summary; resets the budget.
    fn flush(&self, which: GuestStream) {
        let request_id = self.request_id.load(Ordering::Relaxed);
        let mut state = self.state(which);
        if let Some(line) = state.lines.finish() {
            if state.logged < MAX_LINES_PER_STORE {
                if self.admit(request_id) {
                    log_line(&self.actor, request_id, which, &line);
                }
            } else {
                state.dropped += 1;
            }
        }
        if state.dropped > 0 {
            tracing::warn!(
                target: "guest",
                actor = %self.actor,
                request_id,
                stream = which.name(),
                dropped_lines = state.dropped,
                "guest output over the limit of {MAX_LINES_PER_STORE} lines was dropped"
            );
        }
        state.logged = 0;
        state.dropped = 0;
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.flush(GuestStream::Stdout);
        self.flush(GuestStream::Stderr);
    }
}

fn log_line(actor: &str, request_id: u64, which: GuestStream, line: &Line) {
    let text = String::from_utf8_lossy(&line.text);
    match which {
        GuestStream::Stdout => tracing::info!(
            target: "guest",
            actor,
            request_id,
            stream = "stdout",
            truncated = line.truncated,
            "{text}"
        ),
        GuestStream::Stderr => tracing::warn!(
            target: "guest",
            actor,
            request_id,
            stream = "stderr",
            truncated = line.truncated,
            "{text}"
        ),
    }
}

/// The output side of one store: hands out the guest's stdout and stderr streams.
///
/// Cheap to clone. When the last clone (and every stream) is gone, partial lines are logged.
#[derive(Clone, Debug)]
pub struct GuestLog {
    shared: Arc<Shared>,
}

impl GuestLog {
    /// A log for `actor`, starting with request `request_id`, with a budget of its own.
    pub fn new(actor: &str, request_id: u64) -> Self {
        Self::with_budget(actor, request_id, Arc::new(OutputBudget::new()))
    }

    /// A log for `actor` that draws on the actor's shared `budget`.
    pub fn with_budget(actor: &str, request_id: u64, budget: Arc<OutputBudget>) -> Self {
        Self {
            shared: Arc::new(Shared {
                actor: actor.into(),
                budget,
                request_id: AtomicU64::new(request_id),
                stdout: Mutex::default(),
                stderr: Mutex::default(),
            }),
        }
    }

    /// Starts a new request on a reused instance: flushes what the previous one left and
    /// tags later lines with `request_id`.
    pub fn begin_request(&self, request_id: u64) {
        self.shared.flush(GuestStream::Stdout);
        self.shared.flush(GuestStream::Stderr);
        self.shared.request_id.store(request_id, Ordering::Relaxed);
    }

    /// The stream to give the guest as stdout or stderr.
    pub fn stream(&self, which: GuestStream) -> GuestOutput {
        GuestOutput {
            shared: Arc::clone(&self.shared),
            which,
        }
    }
}

/// A guest output stream (stdout or stderr) that logs lines through `tracing`.
#[derive(Clone, Debug)]
pub struct GuestOutput {
    shared: Arc<Shared>,
    which: GuestStream,
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.shared.write(self.which, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Lines are logged as they complete; a partial line waits for its newline (or the
        // end of the store) so that one logical line stays one event.
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT_BYTES)
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.shared.write(self.which, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_budget_allows_a_burst_then_the_rate_and_reports_drops_once_per_interval() {
        let budget = OutputBudget::new();
        let t0 = Instant::now();
        for _ in 0..GUEST_LINE_BURST {
            assert_eq!(budget.take_at(t0), Budget::Log);
        }
        // Empty: the first drop is reported at once, the next ones are folded in.
        assert_eq!(budget.take_at(t0), Budget::Drop(Some(1)));
        for _ in 0..99 {
            assert_eq!(budget.take_at(t0), Budget::Drop(None));
        }
        // A second refills GUEST_LINES_PER_SEC lines, no more.
        let t1 = t0 + std::time::Duration::from_secs(1);
        for _ in 0..GUEST_LINES_PER_SEC {
            assert_eq!(budget.take_at(t1), Budget::Log);
        }
        assert_eq!(budget.take_at(t1), Budget::Drop(None));
        // The next report comes an interval after the last one and counts every drop since.
        let t2 = t0 + crate::logging::WARN_INTERVAL;
        let refill = GUEST_LINES_PER_SEC * 4;
        for _ in 0..refill {
            assert_eq!(budget.take_at(t2), Budget::Log);
        }
        assert_eq!(budget.take_at(t2), Budget::Drop(Some(101)));
    }

    fn lines(input: &[&[u8]]) -> (Vec<Line>, LineBuffer) {
        let mut buf = LineBuffer::default();
        let mut out = Vec::new();
        for chunk in input {
            buf.push(chunk, |l| out.push(l));
        }
        (out, buf)
    }

    #[test]
    fn splits_lines_across_writes() {
        let (out, mut buf) = lines(&[b"hel", b"lo\nwor", b"ld\r\n\npartial"]);
        let texts: Vec<&[u8]> = out.iter().map(|l| l.text.as_slice()).collect();
        assert_eq!(texts, vec![&b"hello"[..], b"world", b""]);
        assert!(out.iter().all(|l| l.truncated == 0));
        assert_eq!(
            buf.finish(),
            Some(Line {
                text: b"partial".to_vec(),
                truncated: 0
            })
        );
        assert_eq!(buf.finish(), None);
    }

    #[test]
    fn long_lines_are_cut_and_memory_stays_bounded() {
        let mut buf = LineBuffer::default();
        let mut out = Vec::new();
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..8 {
            buf.push(&chunk, |l| out.push(l));
            assert!(buf.pending() <= MAX_LINE_BYTES);
        }
        assert!(out.is_empty(), "no newline yet");
        buf.push(b"\nnext\n", |l| out.push(l));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text.len(), MAX_LINE_BYTES);
        assert_eq!(out[0].truncated, 8 * 1024 * 1024 - MAX_LINE_BYTES);
        assert_eq!(out[1].text, b"next");
        assert_eq!(out[1].truncated, 0);
    }

    #[test]
    fn line_budget_counts_dropped_lines() {
        let log = GuestLog::new("actor", 1);
        let many = "line\n".repeat(usize::try_from(MAX_LINES_PER_STORE).unwrap_or(0) + 25);
        log.shared.write(GuestStream::Stdout, many.as_bytes());
        {
            let state = log.shared.state(GuestStream::Stdout);
            assert_eq!(state.logged, MAX_LINES_PER_STORE);
            assert_eq!(state.dropped, 25);
        }
        log.begin_request(2);
        let state = log.shared.state(GuestStream::Stdout);
        assert_eq!((state.logged, state.dropped), (0, 0));
        assert_eq!(log.shared.request_id.load(Ordering::Relaxed), 2);
    }
}
