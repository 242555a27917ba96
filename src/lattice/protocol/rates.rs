//! The rates sample: the cumulative per-actor call counters a lattice-tui host publishes once
//! a second on `lattice-tui.rates.{lattice}.{host_id}` — a subject outside `wasmbus.*`, so
//! wasmCloud clients (which subscribe only under `wasmbus.`) never see it.
//!
//! Counters are cumulative since the host started: a lost sample costs only resolution, a
//! console that starts late needs just two samples, and a counter that goes down means the
//! host restarted. Pure data: serde only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Actors one sample may list; a decoded sample with more is refused (a host runs far fewer,
/// and the console keeps a ring per actor).
pub const MAX_RATES_ACTORS: usize = 1024;

/// One host's cumulative call counters at one moment (host clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatesSample {
    /// The publishing host's id (`N…`).
    pub host_id: String,
    /// When the counters were read, by the host's clock.
    pub at: DateTime<Utc>,
    /// One entry per actor the host runs.
    #[serde(default)]
    pub actors: Vec<ActorCounters>,
}

/// Cumulative counters of one actor on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorCounters {
    /// Actor public key (`M…`).
    pub public_key: String,
    /// Invocations (HTTP requests routed to the actor) since the host started.
    pub requests: u64,
    /// Of those, the failed ones.
    pub errors: u64,
}

/// Why bytes on the rates subject are not a usable sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatesDecodeError {
    /// Not JSON of the sample's shape.
    #[error("invalid rates sample: {0}")]
    Invalid(String),
    /// An empty host id.
    #[error("rates sample without a host id")]
    NoHost,
    /// More actors than [`MAX_RATES_ACTORS`].
    #[error("rates sample of {host_id} lists {count} actors (at most {MAX_RATES_ACTORS})")]
    TooManyActors {
        /// The host.
        host_id: String,
        /// How many it listed.
        count: usize,
    },
}

impl RatesSample {
    /// Decodes a sample.
    ///
    /// # Errors
    /// [`RatesDecodeError`] for anything but a well-formed sample.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RatesDecodeError> {
        let s: RatesSample =
            serde_json::from_slice(bytes).map_err(|e| RatesDecodeError::Invalid(e.to_string()))?;
        if s.host_id.is_empty() {
            return Err(RatesDecodeError::NoHost);
        }
        if s.actors.len() > MAX_RATES_ACTORS {
            return Err(RatesDecodeError::TooManyActors {
                host_id: s.host_id,
                count: s.actors.len(),
            });
        }
        Ok(s)
    }

    /// Encodes a sample.
    ///
    /// # Errors
    /// Only if serde_json fails (it does not for this shape).
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = RatesSample {
            host_id: "NH".into(),
            at: DateTime::parse_from_rfc3339("2026-01-01T00:00:01Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            actors: vec![ActorCounters {
                public_key: "MA".into(),
                requests: 7,
                errors: 1,
            }],
        };
        let bytes = s.to_json().unwrap_or_default();
        assert_eq!(RatesSample::from_json(&bytes), Ok(s));
    }

    #[test]
    fn refuses_malformed_samples() {
        for bad in [
            &b""[..],
            b"not json",
            b"[]",
            b"{\"host_id\":\"NH\"}",
            b"{\"host_id\":\"NH\",\"at\":\"yesterday\",\"actors\":[]}",
            b"{\"host_id\":\"NH\",\"at\":\"2026-01-01T00:00:00Z\",\"actors\":[{\"public_key\":\"MA\",\"requests\":-1,\"errors\":0}]}",
            b"{\"host_id\":\"NH\",\"at\":\"2026-01-01T00:00:00Z\",\"actors\":[{\"public_key\":\"MA\",\"requests\":18446744073709551616,\"errors\":0}]}",
        ] {
            assert!(
                matches!(RatesSample::from_json(bad), Err(RatesDecodeError::Invalid(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            RatesSample::from_json(b"{\"host_id\":\"\",\"at\":\"2026-01-01T00:00:00Z\"}"),
            Err(RatesDecodeError::NoHost)
        );
        let many: Vec<String> = (0..=MAX_RATES_ACTORS)
            .map(|i| format!("{{\"public_key\":\"M{i}\",\"requests\":0,\"errors\":0}}"))
            .collect();
        let json = format!(
            "{{\"host_id\":\"NH\",\"at\":\"2026-01-01T00:00:00Z\",\"actors\":[{}]}}",
            many.join(",")
        );
        assert!(matches!(
            RatesSample::from_json(json.as_bytes()),
            Err(RatesDecodeError::TooManyActors { count, .. }) if count == MAX_RATES_ACTORS + 1
        ));
    }
}
