//! Deciding whether a watched artifact has settled, and reading it: two `stat`s a short interval
//! apart must agree, the bytes read must match the second `stat`, and the bytes must look like a
//! complete WebAssembly binary (the `\0asm` magic, then section framing that ends exactly at
//! end of file).
//!
//! Owns the file reads of the artifact watcher (on `spawn_blocking`, never on a runtime worker).
//! Must not touch notify, the watcher's bookkeeping, or anything beyond the framing of the wasm
//! binary format: validating and compiling is the host's job. No queues, so no overflow policy.

use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

/// The first four bytes of every WebAssembly module and component.
pub const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Magic plus the 4-byte version (module) or version and layer (component).
const WASM_HEADER_LEN: usize = 8;

/// What identifies one version of a file on disk without reading it. Two equal signatures taken
/// `stable_interval` apart mean nobody appended, truncated or replaced the file in between (size
/// catches appends that land in the same coarse mtime tick; the inode catches a rename over it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    len: u64,
    modified: Option<SystemTime>,
    dev: u64,
    ino: u64,
}

impl Signature {
    fn of(meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// One look at the file.
#[derive(Debug)]
pub enum Reading {
    /// No such file.
    Missing,
    /// It changed while we looked: look again after another quiet period.
    Unstable,
    /// A WebAssembly binary that looks cut short (empty, a short header, a section running past
    /// the end): most likely still being written, so it gets a grace period before it counts as
    /// invalid.
    Incomplete {
        /// What is missing.
        reason: String,
        /// The version looked at.
        sig: Signature,
    },
    /// Settled, and not loadable.
    Invalid {
        /// Why.
        reason: String,
        /// The version looked at, when the file could be `stat`ed.
        sig: Option<Signature>,
    },
    /// Settled and complete.
    Ready {
        /// The version read.
        sig: Signature,
        /// Its contents.
        bytes: Arc<[u8]>,
    },
}

/// The first `stat` of a settle attempt; `Err` is the reading to report at once.
pub fn first_look(path: &Path) -> Result<Signature, Reading> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(Reading::Invalid {
            reason: "it is a directory".to_owned(),
            sig: None,
        }),
        Ok(meta) => Ok(Signature::of(&meta)),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(Reading::Missing),
        Err(e) => Err(Reading::Invalid {
            reason: format!("cannot stat it: {e}"),
            sig: None,
        }),
    }
}

/// The second look, `stable_interval` after [`first_look`]: `stat` again, read the bytes (at most
/// `max_size`), `stat` once more, and classify. Blocking: call it on `spawn_blocking`.
pub fn second_look(path: &Path, first: Signature, max_size: u64) -> Reading {
    let second = match std::fs::metadata(path) {
        Ok(meta) => Signature::of(&meta),
        // It vanished between the two looks: not settled yet.
        Err(e) if e.kind() == ErrorKind::NotFound => return Reading::Unstable,
        Err(e) => {
            return Reading::Invalid {
                reason: format!("cannot stat it: {e}"),
                sig: None,
            };
        }
    };
    if second != first {
        return Reading::Unstable;
    }
    if second.len > max_size {
        return Reading::Invalid {
            reason: format!(
                "it is {} bytes, more than the {max_size}-byte limit",
                second.len
            ),
            sig: Some(second),
        };
    }
    let bytes = match read_at_most(path, second.len, max_size) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Reading::Unstable,
        Err(e) => {
            return Reading::Invalid {
                reason: format!("cannot read it: {e}"),
                sig: Some(second),
            };
        }
    };
    // A write during the read, or a rename over the path, shows up here.
    match std::fs::metadata(path) {
        Ok(meta) if Signature::of(&meta) == second && bytes.len() as u64 == second.len => {}
        _ => return Reading::Unstable,
    }
    match check_framing(&bytes) {
        Framing::Complete => Reading::Ready {
            sig: second,
            bytes: bytes.into(),
        },
        Framing::Incomplete(reason) => Reading::Incomplete {
            reason,
            sig: second,
        },
        Framing::Invalid(reason) => Reading::Invalid {
            reason,
            sig: Some(second),
        },
    }
}

/// Reads the file, never more than `max_size + 1` bytes (so a file growing past the limit while
/// we read is noticed, not slurped).
fn read_at_most(path: &Path, expected: u64, max_size: u64) -> std::io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let capacity = usize::try_from(expected.min(max_size)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The outcome of [`check_framing`].
#[derive(Debug, PartialEq, Eq)]
pub enum Framing {
    /// Magic, header and sections that end exactly at the end of the bytes.
    Complete,
    /// Looks like the start of a WebAssembly binary that is cut short.
    Incomplete(String),
    /// Not a WebAssembly binary.
    Invalid(String),
}

/// Checks the outer framing shared by core modules and components: the 8-byte header, then
/// sections of `id: u8, size: u32 (LEB128), payload: [u8; size]` up to the end of the bytes.
/// It does not look inside sections; a file that passes may still fail to compile.
pub fn check_framing(bytes: &[u8]) -> Framing {
    if bytes.is_empty() {
        return Framing::Incomplete("the file is empty".to_owned());
    }
    let head = &bytes[..bytes.len().min(WASM_MAGIC.len())];
    if !WASM_MAGIC.starts_with(head) {
        return Framing::Invalid(format!(
            "not a WebAssembly binary: it starts with {}, not 00 61 73 6d (\\0asm)",
            hex_prefix(bytes)
        ));
    }
    if bytes.len() < WASM_HEADER_LEN {
        return Framing::Incomplete(format!(
            "only {} bytes, shorter than the {WASM_HEADER_LEN}-byte WebAssembly header",
            bytes.len()
        ));
    }
    let mut pos = WASM_HEADER_LEN;
    while pos < bytes.len() {
        let at = pos;
        let id = bytes[pos];
        pos += 1;
        let (size, used) = match leb128_u32(&bytes[pos..]) {
            Leb::Value(size, used) => (size, used),
            Leb::Truncated => {
                return Framing::Incomplete(format!(
                    "truncated: the section header at byte {at} is cut short"
                ));
            }
            Leb::Malformed => {
                return Framing::Invalid(format!(
                    "malformed WebAssembly binary: bad section size at byte {at}"
                ));
            }
        };
        pos += used;
        let remaining = bytes.len() - pos;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > remaining {
            return Framing::Incomplete(format!(
                "truncated: section {id} at byte {at} declares {size} bytes, {remaining} present"
            ));
        }
        pos += size;
    }
    Framing::Complete
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(WASM_MAGIC.len())
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

enum Leb {
    Value(u32, usize),
    Truncated,
    Malformed,
}

/// Unsigned LEB128, at most 5 bytes for a u32.
fn leb128_u32(bytes: &[u8]) -> Leb {
    const MAX_LEN: usize = 5;
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().take(MAX_LEN).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return match u32::try_from(value) {
                Ok(v) => Leb::Value(v, i + 1),
                Err(_) => Leb::Malformed,
            };
        }
    }
    if bytes.len() < MAX_LEN {
        Leb::Truncated
    } else {
        Leb::Malformed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module)` with one custom section `"x"` holding one byte.
    const SMALL: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
        0x00, 0x03, 0x01, b'x', 0x2a, // custom section: name "x", payload 0x2a
    ];

    #[test]
    fn complete_module_and_every_prefix() {
        assert_eq!(check_framing(SMALL), Framing::Complete);
        assert_eq!(check_framing(&SMALL[..8]), Framing::Complete);
        for cut in [0, 1, 3, 4, 7, 9, 10, 12] {
            assert!(
                matches!(check_framing(&SMALL[..cut]), Framing::Incomplete(_)),
                "prefix of {cut} bytes: {:?}",
                check_framing(&SMALL[..cut])
            );
        }
    }

    #[test]
    fn garbage_is_invalid() {
        match check_framing(b"hello world") {
            Framing::Invalid(reason) => assert!(reason.contains("68 65 6c 6c"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(check_framing(b"\0x"), Framing::Invalid(_)));
        let mut bad_leb = SMALL[..8].to_vec();
        bad_leb.extend_from_slice(&[0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
        assert!(matches!(check_framing(&bad_leb), Framing::Invalid(_)));
    }

    #[test]
    fn component_header_frames_too() {
        let component = [
            0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x02, 0x01, b'c',
        ];
        assert_eq!(check_framing(&component), Framing::Complete);
    }

    #[test]
    fn real_modules_frame() {
        for wat in [
            "(module)",
            r#"(module (func (export "f") (result i32) i32.const 7) (memory 1) (data (i32.const 0) "hi"))"#,
            r#"(component (core module (func (export "g"))))"#,
        ] {
            let bytes = wat::parse_str(wat).unwrap();
            assert_eq!(check_framing(&bytes), Framing::Complete, "{wat}");
            // A prefix is never invalid; it is complete only when it ends on a section boundary
            // (the documented limit), so one byte past the header is always incomplete.
            for cut in 1..bytes.len() {
                let framing = check_framing(&bytes[..cut]);
                assert!(
                    !matches!(framing, Framing::Invalid(_)),
                    "{wat} cut {cut}: {framing:?}"
                );
            }
            if bytes.len() > 9 {
                assert!(matches!(check_framing(&bytes[..9]), Framing::Incomplete(_)));
            }
        }
    }
}
