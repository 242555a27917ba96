//! Publishing the host's lattice events: CloudEvents on `wasmbus.evt.{lattice}` with the host
//! key as `source` (PROTOCOL.md §3.1; `n/a` for link events, as 0.60+ hosts do), and
//! invocation results on `wasmbus.rpcevt.{lattice}`.
//!
//! Owns the envelope (UUID v4 id, UTC time) and the publish; the event data comes from the
//! callers. A failed publish is logged (one line per interval, with a count), never fatal: the
//! lattice heals through heartbeats.

use bytes::Bytes;
use chrono::Utc;

use crate::lattice::bus::{Bus, BusError};
use crate::lattice::protocol::{EventData, LatticeEvent, NO_SOURCE};
use crate::lattice::subjects::Subjects;
use crate::logging::{LogThrottle, WARN_INTERVAL};

/// One warning per interval for failed publishes: during an outage every event fails.
static PUBLISH_FAILURES: LogThrottle = LogThrottle::new(WARN_INTERVAL);

/// Publishes events for one host.
#[derive(Clone)]
pub struct EventPublisher {
    bus: Bus,
    subject: String,
    rpc_subject: String,
    host_id: String,
}

impl EventPublisher {
    /// Events of `host_id` in the lattice of `subjects`.
    pub fn new(bus: Bus, subjects: &Subjects, host_id: String) -> Self {
        Self {
            bus,
            subject: subjects.events(),
            rpc_subject: subjects.rpc_events(),
            host_id,
        }
    }

    /// Publishes one event; errors are logged.
    pub async fn publish(&self, data: EventData) {
        if let Err(e) = self.try_publish(data).await
            && let Some(suppressed) = PUBLISH_FAILURES.hit()
        {
            tracing::warn!(error = %e, suppressed, "could not publish a lattice event");
        }
    }

    /// Publishes one event.
    ///
    /// # Errors
    /// The event cannot be encoded or the bus refuses it.
    pub async fn try_publish(&self, data: EventData) -> Result<(), BusError> {
        let (source, subject) = match &data {
            EventData::LinkdefSet(_) | EventData::LinkdefDeleted(_) => (NO_SOURCE, &self.subject),
            EventData::InvocationSucceeded(_) | EventData::InvocationFailed(_) => {
                (self.host_id.as_str(), &self.rpc_subject)
            }
            _ => (self.host_id.as_str(), &self.subject),
        };
        let kind = data.kind();
        let ev = LatticeEvent::new(uuid::Uuid::new_v4().to_string(), source, Utc::now(), data);
        let bytes = ev
            .to_json()
            .map_err(|e| BusError::Publish(format!("cannot encode {kind}: {e}")))?;
        tracing::debug!(%kind, "publishing lattice event");
        self.bus.publish(subject, Bytes::from(bytes)).await
    }

    /// Waits until published events have reached the server.
    ///
    /// # Errors
    /// The bus cannot flush.
    pub async fn flush(&self) -> Result<(), BusError> {
        self.bus.flush().await
    }
}
