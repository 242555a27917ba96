//! Reading a build's stdout and stderr as bounded, printable lines.
//!
//! Owns the line splitting, truncation and sanitising (terminal escape sequences and control
//! characters removed, so build output cannot repaint the console). Must not touch the build
//! process or the event channel. Bounded: a line keeps at most [`MAX_LINE_BYTES`]; the rest of it
//! is read and discarded, so a line with no newline cannot grow memory.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longest line kept, in bytes. Compiler diagnostics are well under 200 bytes a line; minified
/// code or a base64 blob can be megabytes. 4 KiB keeps every real message whole.
pub const MAX_LINE_BYTES: usize = 4096;

/// Appended to a line that was cut at [`MAX_LINE_BYTES`].
const TRUNCATED_MARK: &str = " …";

/// Reads the next line (without its `\n`), at most `max` bytes of it; `None` at end of input.
///
/// # Errors
/// The reader's I/O errors.
pub async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut truncated = false;
    let mut saw_any = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            if !saw_any {
                return Ok(None);
            }
            break;
        }
        saw_any = true;
        let (take, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        truncated |= take > room;
        reader.consume(take + usize::from(newline));
        if newline {
            break;
        }
    }
    let mut text = sanitize(&String::from_utf8_lossy(&line));
    if truncated {
        text.push_str(TRUNCATED_MARK);
    }
    Ok(Some(text))
}

/// Makes a line safe to show in a terminal UI: drops ANSI escape sequences (colours, cursor
/// moves, OSC titles and links), keeps only what follows the last `\r` (progress lines), turns
/// tabs into spaces and drops other control characters.
pub fn sanitize(line: &str) -> String {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = line.rsplit('\r').next().unwrap_or(line);
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte in @..=~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ST (ESC \).
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // Two-character escapes (ESC c, ESC 7, …).
                _ => {}
            },
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_escapes_and_controls() {
        assert_eq!(
            sanitize("\u{1b}[1m\u{1b}[32mCompiling\u{1b}[0m hello"),
            "Compiling hello"
        );
        assert_eq!(sanitize("a\tb\u{7}c\r"), "a bc");
        assert_eq!(sanitize("10%\r50%\r100%"), "100%");
        assert_eq!(
            sanitize("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{7} done"),
            "link done"
        );
        assert_eq!(sanitize("plain ünïcode"), "plain ünïcode");
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let long = "x".repeat(10_000);
        let input = format!("one\r\n{long}\nthree");
        let mut reader = tokio::io::BufReader::with_capacity(64, input.as_bytes());
        assert_eq!(
            next_line(&mut reader, 100).await.unwrap().as_deref(),
            Some("one")
        );
        let cut = next_line(&mut reader, 100).await.unwrap().unwrap();
        assert_eq!(cut, format!("{}{TRUNCATED_MARK}", "x".repeat(100)));
        assert_eq!(
            next_line(&mut reader, 100).await.unwrap().as_deref(),
            Some("three")
        );
        assert_eq!(next_line(&mut reader, 100).await.unwrap(), None);
    }
}
