//! Link values and paths: `address` / `PORT` / `path` as wasmCloud's httpserver reads them,
//! path normalisation, the reserved well-known prefix and segment-wise prefix matching. Pure.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{DEFAULT_ADDRESS, HttpError, WELL_KNOWN_PREFIX};

/// Parses wasmCloud httpserver link values into (address, path).
///
/// # Errors
/// [`HttpError::InvalidValue`] for a malformed `address`, `PORT` or `path`, or an `address`
/// and `PORT` that disagree.
pub fn parse_link_values(
    values: &BTreeMap<String, String>,
) -> Result<(SocketAddr, String), HttpError> {
    let invalid = |key: &str, value: &str, reason: &str| HttpError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let mut address: Option<SocketAddr> = None;
    let mut port: Option<u16> = None;
    let mut path = "/".to_owned();
    for (key, value) in values {
        match key.to_ascii_lowercase().as_str() {
            "address" => {
                address =
                    Some(value.trim().parse().map_err(|_| {
                        invalid(key, value, "expected IP:PORT, e.g. 127.0.0.1:8080")
                    })?);
            }
            "port" => {
                port = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| invalid(key, value, "expected a port number 0-65535"))?,
                );
            }
            "path" => path = normalize_path(value).map_err(|r| invalid(key, value, r))?,
            _ => {}
        }
    }
    let addr = match (address, port) {
        (Some(a), Some(p)) if a.port() != p => {
            return Err(invalid(
                "PORT",
                &p.to_string(),
                "disagrees with the port in address",
            ));
        }
        (Some(a), _) => a,
        (None, Some(p)) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p),
        (None, None) => DEFAULT_ADDRESS,
    };
    Ok((addr, path))
}

fn normalize_path(raw: &str) -> Result<String, &'static str> {
    let p = raw.trim();
    if !p.starts_with('/') {
        return Err("a path must start with /");
    }
    if p.contains(['?', '#']) || p.chars().any(char::is_whitespace) {
        return Err("a path prefix has no query, fragment or spaces");
    }
    let trimmed = p.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/" } else { trimmed };
    if is_well_known(path) {
        return Err("paths under /.well-known/lattice are reserved for the host");
    }
    Ok(path.to_owned())
}

/// Whether `path` is [`WELL_KNOWN_PREFIX`] or under it (no allocation: this runs per request).
pub(super) fn is_well_known(path: &str) -> bool {
    path.strip_prefix(WELL_KNOWN_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `path` falls under the route prefix `prefix` (segment-wise).
pub(super) fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn link_values_follow_wasmcloud_httpserver() {
        assert_eq!(
            parse_link_values(&values(&[])).unwrap(),
            (DEFAULT_ADDRESS, "/".to_owned())
        );
        assert_eq!(
            parse_link_values(&values(&[("PORT", "8081")])).unwrap(),
            ("127.0.0.1:8081".parse().unwrap(), "/".to_owned())
        );
        assert_eq!(
            parse_link_values(&values(&[("address", "0.0.0.0:9000"), ("path", "/api/")])).unwrap(),
            ("0.0.0.0:9000".parse().unwrap(), "/api".to_owned())
        );
        assert_eq!(
            parse_link_values(&values(&[("ADDRESS", "[::1]:9000"), ("port", "9000")])).unwrap(),
            ("[::1]:9000".parse().unwrap(), "/".to_owned())
        );
        for bad in [
            values(&[("address", "localhost")]),
            values(&[("PORT", "70000")]),
            values(&[("address", "127.0.0.1:1"), ("PORT", "2")]),
            values(&[("path", "api")]),
            values(&[("path", "/a?b")]),
            values(&[("path", "/.well-known/lattice/x")]),
        ] {
            assert!(
                matches!(parse_link_values(&bad), Err(HttpError::InvalidValue { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/v1"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(!prefix_matches("/api/v1", "/api"));
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("//").unwrap(), "/");
        assert_eq!(normalize_path(" /a/b/ ").unwrap(), "/a/b");
        assert!(normalize_path("/.well-known/lattice").is_err());
        assert!(normalize_path("/.well-known/other").is_ok());
        assert!(is_well_known("/.well-known/lattice"));
        assert!(is_well_known("/.well-known/lattice/health"));
        assert!(!is_well_known("/.well-known/latticex"));
        assert!(!is_well_known("/"));
    }
}
