//! Copying to the user's clipboard through the terminal: OSC 52 (`ESC ] 52 ; c ; <base64>
//! BEL`), which terminals (and tmux with `set-clipboard on`) turn into a clipboard write, also
//! over SSH. The view asks for a copy ([`Outcome::copy`](crate::ui::Outcome)); the App queues
//! it here and writes the escape between two frames, never in the middle of one.
//!
//! Bounded: at most [`MAX_PENDING`] copies wait for a writer (the oldest is dropped beyond);
//! each is cut to [`MAX_BYTES`] so a huge selection cannot flood the terminal.

use std::collections::VecDeque;
use std::io::Write;

use base64::Engine as _;

/// Copies waiting for the writer.
pub const MAX_PENDING: usize = 16;

/// Longest text copied (terminals cap OSC 52 payloads; ids are ~56 bytes).
pub const MAX_BYTES: usize = 4096;

/// The OSC 52 escape that puts `text` on the clipboard (`c` selection), BEL-terminated.
pub fn osc52(text: &str) -> String {
    let mut end = text.len().min(MAX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[..end]);
    format!("\x1b]52;c;{b64}\x07")
}

/// Copies requested by the view, and where their escapes go.
#[derive(Default)]
pub struct Clipboard {
    pending: VecDeque<String>,
    out: Option<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Clipboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clipboard")
            .field("pending", &self.pending)
            .field("writer", &self.out.is_some())
            .finish()
    }
}

impl Clipboard {
    /// Writes the escapes to `out` (the console's terminal) from now on.
    pub fn set_writer(&mut self, out: Box<dyn Write + Send>) {
        self.out = Some(out);
    }

    /// Queues `text` for the next [`Clipboard::flush`].
    pub fn request(&mut self, text: String) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(text);
    }

    /// The copies not written yet.
    pub fn pending(&self) -> impl Iterator<Item = &str> {
        self.pending.iter().map(String::as_str)
    }

    /// Writes every queued copy to the writer (none set: they wait).
    ///
    /// # Errors
    /// Writing to the terminal failed; the copies are dropped.
    pub fn flush(&mut self) -> std::io::Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        let mut result = Ok(());
        for text in self.pending.drain(..) {
            if result.is_ok() {
                result = out.write_all(osc52(&text).as_bytes());
            }
        }
        result.and_then(|()| out.flush())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_escape_for_a_known_id() {
        assert_eq!(osc52("hello"), "\x1b]52;c;aGVsbG8=\x07");
        let id = "MBCFOPM6JW2APJLXJD3Z5O4CN7CPYJ2B4FTKLJUR5YR5MITIU7HD3WD5";
        assert_eq!(
            osc52(id).as_bytes(),
            [
                b"\x1b]52;c;".as_slice(),
                b"TUJDRk9QTTZKVzJBUEpMWEpEM1o1TzRDTjdDUFlKMkI0RlRLTEpVUjVZUjVNSVRJVTdIRDNXRDU=",
                b"\x07"
            ]
            .concat()
        );
        // Long texts are cut at a character boundary, never split inside one.
        let long = format!("a{}", "é".repeat(MAX_BYTES));
        let e = osc52(&long);
        let b64 = &e["\x1b]52;c;".len()..e.len() - 1];
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        assert_eq!(decoded.len(), MAX_BYTES - 1);
        assert!(String::from_utf8(decoded).is_ok());
    }

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn copies_wait_for_the_writer_and_are_bounded() {
        let mut c = Clipboard::default();
        for i in 0..(MAX_PENDING + 2) {
            c.request(format!("id{i}"));
        }
        c.flush().expect("no writer: nothing to fail");
        assert_eq!(c.pending().count(), MAX_PENDING);
        assert_eq!(c.pending().next(), Some("id2"));
        let sink = Sink::default();
        c.set_writer(Box::new(sink.clone()));
        c.flush().expect("flush");
        assert_eq!(c.pending().count(), 0);
        let written = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf8");
        assert!(written.starts_with(&osc52("id2")), "{written:?}");
        assert_eq!(written.matches("\x1b]52;c;").count(), MAX_PENDING);
    }
}
