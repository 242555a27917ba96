//! Text formatting shared by the screen regions: durations, ages, clock times, short ids,
//! status words with their symbols, and width-aware truncation with `…`.
//!
//! Pure functions of their arguments (the time `now` is always passed in): no I/O, no clock.

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::state::{ActorStatus, HostStatus, LogLevel, ProviderHealth, Timestamp};

/// A count in at most 5 characters: `999`, `12.3k`, `4.5M`.
pub fn count(n: u64) -> String {
    match n {
        0..=99_999 => n.to_string(),
        100_000..=9_999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// The ellipsis that marks truncated text.
pub const ELLIPSIS: char = '…';

/// Display width of `s` in terminal columns.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` columns, ending in `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::with_capacity(max + 3);
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// `text` broken into lines of at most `max` columns, at spaces where possible, inside long
/// words (keys, references) where not. Always at least one line.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    if max == 0 {
        return vec![text.to_string()];
    }
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    for (n, word) in text.split(' ').enumerate() {
        let ww = width(word);
        let sep = usize::from(n > 0 && cur_w > 0);
        if cur_w + sep + ww <= max {
            if sep == 1 {
                cur.push(' ');
            }
            cur.push_str(word);
            cur_w += sep + ww;
            continue;
        }
        if cur_w > 0 {
            lines.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if cur_w + cw > max && cur_w > 0 {
                lines.push(std::mem::take(&mut cur));
                cur_w = 0;
            }
            cur.push(c);
            cur_w += cw;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// First characters of a 56-character key (`N…`, `M…`, `V…`), enough to tell keys apart.
pub fn short_id(id: &str) -> &str {
    crate::state::short_key(id)
}

/// A compact duration: `45s`, `12m 3s`, `5h 12m`, `3d 4h`.
pub fn duration(secs: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;
    match secs {
        s if s < MIN => format!("{s}s"),
        s if s < HOUR => format!("{}m {}s", s / MIN, s % MIN),
        s if s < DAY => format!("{}h {}m", s / HOUR, (s % HOUR) / MIN),
        s => format!("{}d {}h", s / DAY, (s % DAY) / HOUR),
    }
}

/// How long ago `then` was at `now`: `12s ago` (a future `then` reads `0s ago`).
pub fn age(then: Timestamp, now: Timestamp) -> String {
    let secs = (now - then).num_seconds().max(0) as u64;
    format!("{} ago", duration(secs))
}

/// Wall-clock time of day, `HH:MM:SS` (UTC, as received).
pub fn clock(t: Timestamp) -> String {
    t.format("%H:%M:%S").to_string()
}

/// Date and time for the detail pane, `2024-05-01 12:00:03Z`.
pub fn datetime(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Symbol and word of a host status.
pub fn host_status(s: HostStatus) -> &'static str {
    match s {
        HostStatus::Live => "● live",
        HostStatus::Stale => "◐ stale",
        HostStatus::Lost => "○ lost",
    }
}

/// Symbol and word of an actor status.
pub fn actor_status(s: ActorStatus) -> &'static str {
    match s {
        ActorStatus::Running => "● running",
        ActorStatus::StartFailed => "✗ start failed",
        ActorStatus::UpdateFailed => "! update failed",
    }
}

/// Symbol and word of a provider health.
pub fn provider_health(h: ProviderHealth) -> &'static str {
    match h {
        ProviderHealth::Awaiting => "… awaiting",
        ProviderHealth::Healthy => "✓ healthy",
        ProviderHealth::Unhealthy => "! unhealthy",
        ProviderHealth::Failed => "✗ failed",
    }
}

/// Word of a log level, padded to one width.
pub fn level(l: LogLevel) -> &'static str {
    match l {
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// Symbol and word of a connection state string (`connected`, `connecting`, …).
pub fn connection(state: &str) -> (&'static str, String) {
    let symbol = match state {
        "connected" => "●",
        "connecting" | "reconnecting" => "◌",
        "closed" | "disconnected" => "✗",
        _ => "?",
    };
    let word = if state.is_empty() { "unknown" } else { state };
    (symbol, word.to_string())
}

/// `K=V, K=V` of a string map, in key order.
pub fn pairs<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut out = String::new();
    for (k, v) in map {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Whether `hay` contains `needle_lower` (already lower case), ignoring case.
pub fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
        return h.len() >= n.len()
            && h.windows(n.len())
                .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b));
    }
    hay.to_lowercase().contains(needle_lower)
}

/// A rate given per second × 1000, in at most 5 columns: `—` unknown, `0.0`…`9.9`, `10`…`999`,
/// `1.0k`…`999k`, `1.0M`….
pub fn rate(milli: Option<u64>) -> String {
    let Some(m) = milli else {
        return "—".to_string();
    };
    let tenths = |v: u64, unit: u64| format!("{}.{}", v / unit, v % unit * 10 / unit);
    match m {
        0..10_000 => tenths(m, 1_000),
        10_000..1_000_000 => (m / 1_000).to_string(),
        1_000_000..10_000_000 => format!("{}k", tenths(m, 1_000_000)),
        10_000_000..1_000_000_000 => format!("{}k", m / 1_000_000),
        1_000_000_000..10_000_000_000 => format!("{}M", tenths(m, 1_000_000_000)),
        _ => format!("{}M", m / 1_000_000_000),
    }
}

/// Sparkline bars, lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One bar per value, scaled to the largest: zero is the lowest bar, any calls at least the
/// second, the maximum the full block.
pub fn spark(values: &[u64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 || max == 0 {
                BARS[0]
            } else {
                let top = (BARS.len() - 2) as u128;
                let level = 1 + (u128::from(v) * top / u128::from(max)).min(top);
                BARS[usize::try_from(level).unwrap_or(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn rates_fit_five_columns() {
        assert_eq!(rate(None), "—");
        assert_eq!(rate(Some(0)), "0.0");
        assert_eq!(rate(Some(2_550)), "2.5");
        assert_eq!(rate(Some(12_900)), "12");
        assert_eq!(rate(Some(999_999)), "999");
        assert_eq!(rate(Some(1_250_000)), "1.2k");
        assert_eq!(rate(Some(250_000_000)), "250k");
        assert_eq!(rate(Some(3_000_000_000)), "3.0M");
        assert!(
            width(&rate(Some(u64::MAX))) > 5,
            "the extreme still renders"
        );
        for m in [
            0,
            9_999,
            10_000,
            999_999,
            1_000_000,
            999_999_999,
            99_999_999_999,
        ] {
            assert!(width(&rate(Some(m))) <= 5, "{m}: {}", rate(Some(m)));
        }
    }

    #[test]
    fn sparks_scale_to_the_maximum() {
        assert_eq!(spark(&[]), "");
        assert_eq!(spark(&[0, 0, 0]), "▁▁▁");
        assert_eq!(spark(&[0, 1, 100]), "▁▂█");
        assert_eq!(spark(&[u64::MAX, 1, 0]), "█▂▁");
        assert_eq!(spark(&[5, 10]), "▅█");
    }

    #[test]
    fn truncation_respects_width_and_marks_cuts() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello world", 5), "hell…");
        assert_eq!(truncate("hello", 1), "…");
        assert_eq!(truncate("hello", 0), "");
        assert_eq!(truncate("→→→→", 3), "→→…");
        assert_eq!(width(&truncate("日本語テキスト", 5)), 5);
    }

    #[test]
    fn wrapping_breaks_at_spaces_then_inside_long_words() {
        assert_eq!(wrap("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap("NABCDEFGHIJ", 4), vec!["NABC", "DEFG", "HIJ"]);
        assert_eq!(wrap("id NABCDEFG", 4), vec!["id", "NABC", "DEFG"]);
        assert_eq!(wrap("", 4), vec![""]);
        assert_eq!(wrap("abc", 0), vec!["abc"]);
    }

    #[test]
    fn durations_and_ages_are_compact() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(61), "1m 1s");
        assert_eq!(duration(3 * 3600 + 125), "3h 2m");
        assert_eq!(duration(2 * 86400 + 3600), "2d 1h");
        let t = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        assert_eq!(age(t, t + chrono::Duration::seconds(12)), "12s ago");
        assert_eq!(age(t + chrono::Duration::seconds(5), t), "0s ago");
        assert_eq!(clock(t), "12:00:00");
    }

    #[test]
    fn case_insensitive_search() {
        assert!(contains_ci("Node-A running", "node-a"));
        assert!(contains_ci("ÉCHO", "écho"));
        assert!(!contains_ci("abc", "abcd"));
        assert!(contains_ci("anything", ""));
    }

    #[test]
    fn every_status_has_a_symbol_and_a_word() {
        for s in [
            host_status(HostStatus::Lost),
            actor_status(ActorStatus::StartFailed),
            provider_health(ProviderHealth::Unhealthy),
        ] {
            let (sym, word) = s.split_once(' ').unwrap();
            assert_eq!(sym.chars().count(), 1);
            assert!(word.chars().all(|c| c.is_ascii_lowercase() || c == ' '));
        }
        assert_eq!(connection(""), ("?", "unknown".to_string()));
    }
}
