//! Fuzz body of `cli_parse`: the command line's `cli::parse_duration` (`10s`, `500ms`, `2m`,
//! plain seconds) and `cli::parse_size` (`268435456`, `64KiB`, `256MiB`, `1GiB`).
//!
//! Input: the whole input (UTF-8, lossy) is given to both parsers as text; its first 8 bytes
//! (zero-padded, little-endian) are also a number `n` for the round trips.
//!
//! Checked (a failed check panics): neither parser panics; an `Ok` duration is finite (its
//! `as_secs_f64` is), and when it is under 2^40 s, its `{millis}ms` spelling parses back to
//! within 1 ms of it (plus the `f64` rounding of item 2: `ms` values are divided as `f64`, so
//! `"44158114609ms"` is 44158114.608999997 s, not .609). Round trips on `n`:
//! 1. `parse_size(n)` is `Ok(n)`; `parse_size("{n}{unit}")` (also as `" {n} {unit} "`) is
//!    `Ok(n * mult)` when that does not overflow and `Err` when it does, for every unit
//!    (`B`, `K`/`k`/`KiB`, `M`/`MiB`, `G`/`GiB`);
//! 2. for `n ≤ 2^53` (exact in an `f64`): `parse_duration("{n}")` and `"{n}s"` are exactly
//!    `n` seconds, `"{n}m"` exactly `60 n` seconds (when `60 n ≤ 2^53`), and `"{n}ms"` is `n`
//!    milliseconds to within the rounding of an `f64` division (2 ns + 2^-50 relative).

use std::time::Duration;

use lattice_tui::cli::{parse_duration, parse_size};

const SIZE_UNITS: [(&str, u64); 8] = [
    ("B", 1),
    ("K", 1 << 10),
    ("k", 1 << 10),
    ("KiB", 1 << 10),
    ("M", 1 << 20),
    ("MiB", 1 << 20),
    ("G", 1 << 30),
    ("GiB", 1 << 30),
];

/// Largest integer below which every integer is exact in an `f64`.
const EXACT: u64 = 1 << 53;

/// What an `f64` division and `Duration::try_from_secs_f64` may be off by near `d`:
/// 2 ns plus 2^-50 of it.
fn rounding(d: Duration) -> Duration {
    Duration::from_nanos(2 + (d.as_nanos() >> 50) as u64)
}

/// Runs one input. Panics when a check of the module docs fails.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = parse_duration(&text) {
        assert!(d.as_secs_f64().is_finite(), "{text:?} → {d:?}");
        if d.as_secs() < 1 << 40 {
            let ms = format!("{}ms", d.as_millis());
            let back = parse_duration(&ms).unwrap_or_else(|e| panic!("{ms:?} ({text:?}): {e}"));
            let slack = Duration::from_millis(1) + rounding(d);
            assert!(
                back.abs_diff(d) <= slack,
                "{text:?} → {d:?}, but {ms:?} → {back:?}"
            );
        }
    }
    let _ = parse_size(&text);

    let mut word = [0u8; 8];
    let head = &data[..data.len().min(8)];
    word[..head.len()].copy_from_slice(head);
    let n = u64::from_le_bytes(word);

    assert_eq!(parse_size(&n.to_string()), Ok(n), "parse_size({n})");
    for (unit, mult) in SIZE_UNITS {
        for s in [format!("{n}{unit}"), format!(" {n} {unit} ")] {
            match (parse_size(&s), n.checked_mul(mult)) {
                (Ok(v), Some(want)) => assert_eq!(v, want, "parse_size({s:?})"),
                (Err(_), None) => {}
                (got, want) => panic!("parse_size({s:?}) = {got:?}, expected {want:?}"),
            }
        }
    }

    if n <= EXACT {
        for s in [n.to_string(), format!("{n}s")] {
            assert_eq!(
                parse_duration(&s),
                Ok(Duration::from_secs(n)),
                "parse_duration({s:?})"
            );
        }
        if let Some(secs) = n.checked_mul(60).filter(|&s| s <= EXACT) {
            assert_eq!(
                parse_duration(&format!("{n}m")),
                Ok(Duration::from_secs(secs)),
                "parse_duration(\"{n}m\")"
            );
        }
        let ms = format!("{n}ms");
        let got = parse_duration(&ms).unwrap_or_else(|e| panic!("parse_duration({ms:?}): {e}"));
        let want = Duration::from_millis(n);
        assert!(
            got.abs_diff(want) <= rounding(want),
            "parse_duration({ms:?}) = {got:?}, expected {want:?}"
        );
    }
}
