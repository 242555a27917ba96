//! Fuzz body of `wasm_framing`: `watch::check_framing` (is a watched `.wasm` file
//! completely written?) against wasmparser 0.254.2, the parser wasmtime 48 uses.
//!
//! The *reference walk* reads the same outer framing with wasmparser's own `BinaryReader`:
//! after the 8-byte header, repeatedly `read_u8` (section id), `read_var_u32` (size),
//! `read_bytes(size)`, until the bytes end. Properties checked for every input (a failed check
//! panics):
//!
//! 1. **Agreement on the framing.** Empty → `Incomplete`; bytes that are not a prefix of
//!    `\0asm` (first four bytes) → `Invalid`; a prefix of the magic shorter than 8 bytes →
//!    `Incomplete`. Otherwise `check_framing` says `Complete` exactly when the reference walk
//!    ends exactly at the end of the bytes, `Incomplete` exactly when it stops with wasmparser's
//!    "unexpected end-of-file", and `Invalid` exactly when it stops with any other error (a
//!    section size that is not a valid LEB128 `u32`).
//! 2. **wasmparser can walk what we call complete.** When the framing is `Complete` and the
//!    header is one wasmparser knows (module: version 1, layer 0; component: version 0xd,
//!    layer 1), `wasmparser::Parser` is driven over the top level (`parse(.., eof = true)`,
//!    nested module/component sections and the code section's bodies skipped, as they lie
//!    inside a top-level section's payload). Every section it reports (`Payload::as_section`)
//!    has the id and payload range of the reference walk's section at the same position, in
//!    order; it either ends with `Payload::End(len)` having reported every section, or stops
//!    with an error located (a) in the payload of the next section (a content error: a
//!    custom-section name, a section out of order, a bad count), (b) in that section's header
//!    with one of the two header checks `check_framing` deliberately leaves to the compiler —
//!    "malformed section id" (id ≥ 0x80) and "expected section, got wasm magic number" — or
//!    (c) at the end of the bytes (function/code or data-count mismatch). It never fails with
//!    a framing error (a section size that does not fit) where we said `Complete`. With an
//!    unknown header, wasmparser must reject the version.
//! 3. **Prefixes.** Property 1 also holds for prefixes of the input: all of them up to
//!    [`ALL_PREFIXES_UP_TO`] bytes, else every section boundary ±1 and 32 evenly spaced cuts
//!    (so a file cut at a section boundary is `Complete`, cut anywhere else `Incomplete`).

use std::ops::Range;

use lattice_tui::watch::{Framing, check_framing};
use wasmparser::{BinaryReader, Chunk, Parser, Payload};

/// Inputs up to this size have every prefix checked.
pub const ALL_PREFIXES_UP_TO: usize = 256;

const MAGIC: &[u8; 4] = b"\0asm";
const HEADER: usize = 8;
const EOF: &str = "unexpected end-of-file";

/// One top-level section found by the reference walk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    id: u8,
    /// Where the id byte is.
    header: usize,
    /// The payload.
    payload: Range<usize>,
}

#[derive(Debug)]
enum Walk {
    Complete(Vec<Section>),
    Eof,
    Malformed(#[allow(dead_code, reason = "shown through Debug in panics")] String),
}

/// Runs one input. Panics when a property of the module docs fails.
pub fn run(data: &[u8]) {
    let sections = agree(data);
    if let Some(sections) = &sections {
        parser_walks(data, sections);
    }
    for cut in cuts(data.len(), sections.as_deref()) {
        agree(&data[..cut]);
    }
}

/// Property 1; returns the reference walk's sections when the framing is complete.
fn agree(bytes: &[u8]) -> Option<Vec<Section>> {
    let got = check_framing(bytes);
    let expect = |want: &str| -> ! {
        panic!(
            "check_framing({} bytes, starting {:02x?}) = {got:?}, expected {want}",
            bytes.len(),
            &bytes[..bytes.len().min(16)]
        )
    };
    if bytes.is_empty() || (bytes.len() < HEADER && MAGIC.starts_with(&bytes[..bytes.len().min(4)]))
    {
        if !matches!(got, Framing::Incomplete(_)) {
            expect("Incomplete (empty or a cut header)");
        }
        return None;
    }
    if !bytes.starts_with(MAGIC) {
        if !matches!(got, Framing::Invalid(_)) {
            expect("Invalid (no magic)");
        }
        return None;
    }
    match (reference_walk(bytes), &got) {
        (Walk::Complete(sections), Framing::Complete) => Some(sections),
        (Walk::Eof, Framing::Incomplete(_)) | (Walk::Malformed(_), Framing::Invalid(_)) => None,
        (walk, _) => expect(&format!("the reference walk's {walk:?}")),
    }
}

fn reference_walk(bytes: &[u8]) -> Walk {
    let mut r = BinaryReader::new(&bytes[HEADER..], HEADER);
    let mut sections = Vec::new();
    while !r.eof() {
        let header = r.original_position();
        let step = r.read_u8().and_then(|id| {
            let size = r.read_var_u32()?;
            let start = r.original_position();
            r.read_bytes(size as usize)?;
            Ok(Section {
                id,
                header,
                payload: start..r.original_position(),
            })
        });
        match step {
            Ok(s) => sections.push(s),
            Err(e) if e.message() == EOF => return Walk::Eof,
            Err(e) => return Walk::Malformed(format!("{} at {}", e.message(), e.offset())),
        }
    }
    Walk::Complete(sections)
}

/// Property 2.
fn parser_walks(bytes: &[u8], sections: &[Section]) {
    let known = matches!(&bytes[4..8], [1, 0, 0, 0] | [0x0d, 0, 1, 0]);
    let mut parser = Parser::new(0);
    let mut pos = 0;
    let mut seen = 0;
    loop {
        let chunk = parser.parse(&bytes[pos..], true);
        let (consumed, payload) = match chunk {
            Ok(Chunk::Parsed { consumed, payload }) => (consumed, payload),
            Ok(Chunk::NeedMoreData(n)) => panic!("wasmparser wants {n} more bytes at eof"),
            Err(e) => {
                let (msg, at) = (e.message(), e.offset());
                if !known {
                    assert!(
                        at == 4 && msg.starts_with("unknown binary version"),
                        "unknown header: wasmparser said {msg:?} at {at}"
                    );
                    return;
                }
                let ok = match sections.get(seen) {
                    Some(next) if (next.header..next.payload.start).contains(&at) => {
                        msg == "malformed section id"
                            || msg == "expected section, got wasm magic number"
                    }
                    Some(next) => (next.payload.start..=next.payload.end).contains(&at),
                    None => at == bytes.len(),
                };
                assert!(
                    ok,
                    "wasmparser failed with {msg:?} at {at} on a Complete framing; \
                     sections so far {seen}, next {:?}",
                    sections.get(seen)
                );
                return;
            }
        };
        assert!(
            known,
            "wasmparser accepted the unknown header {:02x?}",
            &bytes[4..8]
        );
        pos += consumed;
        if let Some((id, range)) = payload.as_section() {
            let want = sections.get(seen).unwrap_or_else(|| {
                panic!("wasmparser reports section {id} at {range:?} past the framing's end")
            });
            assert_eq!(
                (id, &range),
                (want.id, &want.payload),
                "section {seen}: wasmparser and the framing disagree"
            );
            seen += 1;
        }
        match payload {
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => pos += unchecked_range.len(),
            Payload::CodeSectionStart { size, .. } => {
                parser.skip_section();
                pos += size as usize;
            }
            Payload::End(at) => {
                assert_eq!(at, bytes.len(), "wasmparser ended early");
                assert_eq!(seen, sections.len(), "wasmparser skipped sections");
                return;
            }
            _ => {}
        }
    }
}

/// Property 3: which prefixes to check.
fn cuts(len: usize, sections: Option<&[Section]>) -> Vec<usize> {
    if len <= ALL_PREFIXES_UP_TO {
        return (0..len).collect();
    }
    let mut cuts: Vec<usize> = (0..32).map(|i| i * len / 32).collect();
    cuts.extend(0..=HEADER);
    for s in sections.unwrap_or_default() {
        for at in [s.header, s.payload.start, s.payload.end] {
            cuts.extend([at.saturating_sub(1), at, at + 1]);
        }
    }
    cuts.retain(|&c| c < len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}
