//! Fuzz body of `link_values`: `host::parse_link_values`, the built-in HTTP provider's reading
//! of a link definition's values (`ADDRESS`, `PORT`, `PATH`, any case) into the address to
//! listen on and the route's path prefix.
//!
//! Input: the bytes as UTF-8 (lossy), one `key=value` per line (split at the first `=`; a line
//! without one is a key with an empty value), collected into a `BTreeMap<String, String>` (a
//! repeated key keeps its last value), at most [`MAX_PAIRS`] pairs.
//!
//! Checked (a failed check panics): the call returns `Ok` or `Err`, never panics, and on
//! `Ok((addr, path))`:
//! 1. `path` starts with `/`, has no `?`, `#` or whitespace, ends in `/` only when it is `/`,
//!    and is not `/.well-known/lattice` or under it (reserved for the host);
//! 2. with no key that reads as `address` or `port` (ASCII case-insensitive), `addr` is
//!    `host::http::DEFAULT_ADDRESS`; with a `port` key and no `address`, `addr` is 127.0.0.1 on
//!    that port;
//! 3. round trip: `{"ADDRESS": addr.to_string(), "PATH": path}` parses back to the same
//!    `(addr, path)`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use lattice_tui::host::http::{DEFAULT_ADDRESS, WELL_KNOWN_PREFIX};
use lattice_tui::host::parse_link_values;

/// Pairs looked at per input.
pub const MAX_PAIRS: usize = 64;

/// Runs one input. Panics when a check of the module docs fails.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let values: BTreeMap<String, String> = text
        .split('\n')
        .take(MAX_PAIRS)
        .map(|line| match line.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (line.to_owned(), String::new()),
        })
        .collect();
    let Ok((addr, path)) = parse_link_values(&values) else {
        return;
    };
    assert!(path.starts_with('/'), "path {path:?} from {values:?}");
    assert!(
        !path.contains(['?', '#']) && !path.chars().any(char::is_whitespace),
        "path {path:?} has a query, fragment or space ({values:?})"
    );
    assert!(
        path == "/" || !path.ends_with('/'),
        "path {path:?} keeps a trailing / ({values:?})"
    );
    assert!(
        !(path == WELL_KNOWN_PREFIX
            || path
                .strip_prefix(WELL_KNOWN_PREFIX)
                .is_some_and(|rest| rest.starts_with('/'))),
        "path {path:?} is reserved for the host ({values:?})"
    );
    let has = |name: &str| values.keys().any(|k| k.eq_ignore_ascii_case(name));
    if !has("address") {
        if has("port") {
            assert_eq!(
                addr.ip(),
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                "a bare PORT listens on 127.0.0.1 ({values:?})"
            );
        } else {
            assert_eq!(addr, DEFAULT_ADDRESS, "no ADDRESS or PORT ({values:?})");
        }
    }
    let again: BTreeMap<String, String> = [
        ("ADDRESS".to_owned(), addr.to_string()),
        ("PATH".to_owned(), path.clone()),
    ]
    .into();
    match parse_link_values(&again) {
        Ok(back) => assert_eq!(back, (addr, path), "round trip of {values:?}"),
        Err(e) => panic!("round trip of {values:?} via {again:?} failed: {e}"),
    }
}
