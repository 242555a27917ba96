//! The rates publisher: once a [`RATES_INTERVAL`] the host publishes every actor's cumulative
//! call counters (the HTTP provider's [`CallStats`](super::http::CallStats): requests routed to
//! the actor and the failed ones) as a [`RatesSample`] on `lattice-tui.rates.{lattice}.{host}`.
//!
//! That subject is outside `wasmbus.*`: wasmCloud clients never subscribe to it, and nothing
//! they read (heartbeats, inventories, events, claims, links) changes (PROTOCOL.md §12). The
//! console turns successive samples into rates (`state::reduce::rates`); the embedded host's
//! rates reach it the same way, over the bus. Owns the publish only: the counters are the HTTP
//! provider's (atomics, read without a lock on the request path). A failed publish is logged
//! (throttled) and the next sample carries the totals anyway.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use tokio::time::MissedTickBehavior;

use super::core::HostInner;
use crate::lattice::protocol::{ActorCounters, RatesSample};
use crate::logging::{LogThrottle, WARN_INTERVAL};

/// How often a host publishes its counters.
pub const RATES_INTERVAL: Duration = Duration::from_secs(1);

static PUBLISH_FAILURES: LogThrottle = LogThrottle::new(WARN_INTERVAL);

/// The sample of `inner`'s counters now.
pub(super) fn sample(inner: &HostInner) -> RatesSample {
    RatesSample {
        host_id: inner.host_id(),
        at: Utc::now(),
        actors: inner
            .actor_stats()
            .into_iter()
            .map(|a| ActorCounters {
                public_key: a.public_key,
                requests: a.calls.calls,
                errors: a.calls.errors,
            })
            .collect(),
    }
}

/// Publishes a sample every `every` until shutdown.
pub(super) async fn publish(inner: Arc<HostInner>, every: Duration) {
    let subject = inner.subjects.rates(&inner.host_id());
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let result = match sample(&inner).to_json() {
            Ok(bytes) => inner.bus.publish(&subject, Bytes::from(bytes)).await,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a rates sample");
                continue;
            }
        };
        if let Err(e) = result
            && let Some(suppressed) = PUBLISH_FAILURES.hit()
        {
            tracing::warn!(error = %e, suppressed, "could not publish the rates sample");
        }
    }
}
