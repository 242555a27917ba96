//! The host's background tasks and its stop routine.
//!
//! - **Heartbeats** every interval and right after a `ping.hosts`; **health checks** every
//!   [`HEALTH_CHECK_INTERVAL`](super::HEALTH_CHECK_INTERVAL), which also retry remote HTTP
//!   routes standing by for their address.
//! - **The lattice-data watch is supervised**: when it ends (its task died, a fault), the host
//!   says so (an error in the log, the built-in provider turns unhealthy with a
//!   `health_check_failed`, the console's header shows it), restarts it with backoff
//!   ([`WATCH_RESTART_MIN`] doubling to [`WATCH_RESTART_MAX`]), brings its links back in line
//!   with the bucket (`linkdef_deleted` for links removed meanwhile) and turns healthy again.
//! - **Failure reports** of the HTTP provider become `invocation_failed` events on
//!   `wasmbus.rpcevt.{lattice}`.
//! - **Stopping** finishes whatever the lattice does: drain HTTP (bounded by the grace), then
//!   announce — actor and provider events, `host_stopped`, flush — within
//!   [`STOP_ANNOUNCE_TIMEOUT`]; if the lattice is unreachable the log says `host_stopped` could
//!   not be delivered and the stop completes anyway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::HEALTH_CHECK_INTERVAL;
use super::core::{HTTP_CONTRACT, HostInner};
use super::http::CallFailure;
use super::lattice_data::LinkWatch;
use crate::lattice::protocol::{EventData, InvocationEntity, InvocationResult};

/// How long the stop routine may spend telling the lattice that the host stops (the actors'
/// and providers' stop events, `host_stopped`, the flush). An unreachable lattice must not
/// keep a stopping host alive: past this the stop completes and the log says `host_stopped`
/// could not be delivered.
pub const STOP_ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the host's tasks get to end after the stop was announced.
const TASKS_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// First wait before restarting a lattice-data watch that ended.
pub const WATCH_RESTART_MIN: Duration = Duration::from_millis(250);
/// Longest wait between restart attempts.
pub const WATCH_RESTART_MAX: Duration = Duration::from_secs(10);
/// A restarted watch that lived this long before ending again restarts from the minimum wait.
const WATCH_STABLE_AFTER: Duration = Duration::from_secs(30);

/// Operation of an HTTP request handed to an actor, as the actor-era provider names it.
const HTTP_OPERATION: &str = "HttpServer.HandleRequest";

pub(super) fn heartbeat_event(inner: &HostInner) -> EventData {
    EventData::HostHeartbeat(inner.heartbeat())
}

pub(super) async fn heartbeats(inner: Arc<HostInner>, every: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            _ = tick.tick() => {}
            _ = inner.heartbeat_now.notified() => {}
        }
        inner.events.publish(heartbeat_event(&inner)).await;
    }
}

pub(super) async fn health_checks(inner: Arc<HostInner>) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + HEALTH_CHECK_INTERVAL,
        HEALTH_CHECK_INTERVAL,
    );
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Remote routes standing by for an address try it again (its holder may be gone).
        if !inner.route_standby().is_empty() {
            inner.reconcile_routes().await;
        }
        inner.check_health().await;
    }
}

/// Follows the lattice-data watch, restarting it whenever it ends, until shutdown.
pub(super) async fn follow_links(inner: Arc<HostInner>, first: LinkWatch) {
    let mut watch = first;
    let mut delay = WATCH_RESTART_MIN;
    loop {
        let started = Instant::now();
        loop {
            let change = tokio::select! {
                biased;
                _ = inner.shutdown.cancelled() => return,
                c = watch.next() => c,
            };
            match change {
                Some(c) => inner.on_link_change(c).await,
                None => break,
            }
        }
        if started.elapsed() >= WATCH_STABLE_AFTER {
            delay = WATCH_RESTART_MIN;
        }
        let why = "the lattice data watch ended; links may be stale until it is back";
        tracing::error!("{why}; restarting it");
        if inner.set_data_watch_error(Some(why.to_string())) {
            inner.check_health().await;
        }
        watch = loop {
            tokio::select! {
                biased;
                _ = inner.shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = delay.saturating_mul(2).min(WATCH_RESTART_MAX);
            let restarted = async {
                let w = inner.data.watch_links().await?;
                let current = inner.data.links().await?;
                Ok::<_, super::lattice_data::DataError>((w, current))
            };
            match restarted.await {
                Ok((w, current)) => {
                    inner.resync_links(current).await;
                    break w;
                }
                Err(e) => {
                    let why = format!("the lattice data watch is down and cannot restart: {e}");
                    tracing::warn!(retry_in = ?delay, "{why}");
                    inner.set_data_watch_error(Some(why));
                }
            }
        };
        tracing::info!("lattice data watch restarted");
        if inner.set_data_watch_error(None) {
            inner.check_health().await;
        }
    }
}

/// Publishes the HTTP provider's failure reports as `invocation_failed` until shutdown.
pub(super) async fn report_failures(inner: Arc<HostInner>, mut rx: mpsc::Receiver<CallFailure>) {
    loop {
        let failure = tokio::select! {
            biased;
            _ = inner.shutdown.cancelled() => return,
            f = rx.recv() => f,
        };
        let Some(f) = failure else { return };
        let link_name = inner.link_name_of(&f.link_id).unwrap_or_default();
        inner
            .events
            .publish(EventData::InvocationFailed(InvocationResult {
                source: InvocationEntity {
                    public_key: inner.builtin_http_key().to_string(),
                    contract_id: HTTP_CONTRACT.to_string(),
                    link_name,
                },
                dest: InvocationEntity {
                    public_key: f.actor_id,
                    ..InvocationEntity::default()
                },
                operation: HTTP_OPERATION.to_string(),
                bytes: f.request_bytes,
                error: Some(format!("HTTP {}: {}", f.status, f.reason)),
            }))
            .await;
    }
}

/// Stop order: stop taking requests (control subscriptions end with the token), drain HTTP,
/// then announce within [`STOP_ANNOUNCE_TIMEOUT`] (actors and providers with their events,
/// `host_stopped`, flush), then let the tasks end.
pub(super) async fn stop(inner: &Arc<HostInner>, grace: Duration) {
    tracing::info!("host stopping: draining HTTP requests");
    inner.http.drain(grace).await;
    let announce = async {
        inner.stop_all_actors().await;
        inner.stop_all_providers().await;
        inner.events.try_publish(inner.host_stopped()).await?;
        inner.events.flush().await
    };
    match tokio::time::timeout(STOP_ANNOUNCE_TIMEOUT, announce).await {
        Ok(Ok(())) => tracing::info!("host_stopped delivered"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "host_stopped could not be delivered; stopping anyway");
        }
        Err(_) => tracing::warn!(
            "host_stopped could not be delivered within {STOP_ANNOUNCE_TIMEOUT:?} (the lattice is unreachable); stopping anyway"
        ),
    }
    inner.tasks.close();
    if tokio::time::timeout(TASKS_STOP_TIMEOUT, inner.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some host tasks did not finish within {TASKS_STOP_TIMEOUT:?} of stopping");
    }
    tracing::info!("host stopped");
}
