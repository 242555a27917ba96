//! Routes to actors on other hosts: the request becomes `HttpServer.HandleRequest` over
//! lattice RPC (PROTOCOL.md §4) and the reply's msgpack `HttpResponse` becomes the response.
//!
//! The invocation comes from this provider's entity (its public key, `wasmcloud:httpserver`,
//! the link name) and goes to the actor's subject, whose queue group gives it to one instance
//! lattice-wide. It is signed by [`RpcLink`]; the actor's host validates it and checks the
//! actor's `caps` claim for `wasmcloud:httpserver`.
//!
//! The body is read whole first (an invocation carries it in one message), within the same
//! limit as a local call (`413` past it), and the invocation must fit one message of the
//! lattice's server (`413` too: this host does not chunk through the object store).
//!
//! What a client sees when no instance can take the call — all `503` with `retry-after: 1`,
//! since the next request finds another instance if one exists:
//! - nothing serves the actor (none runs, or its host just died and the server knows): at once;
//! - no reply within the RPC timeout (the host died with the call in flight): after it;
//! - the bus failed, or the actor's host refused because it is stopping or no longer runs
//!   the actor ([`rpc::is_transient_refusal`]).
//!
//! An error the actor's host answered with (a trap, a deadline, a refused invocation) is a
//! `500` as a local failure is: the text goes to the log, the route's counters and the failure
//! report, the body carries it only with `details_in_body`. Every call, failed or not, counts
//! in the route's own counters; the actor's host counts it in the actor's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::body::{LimitedBody, status_reason, text};
use super::listener::{ListenerCtx, busy, declared_length, too_large, tracked};
use super::{CallStats, Route};
use crate::host::rpc::wire::{WasmCloudEntity, from_msgpack, to_msgpack};
use crate::host::rpc::{self, RpcError, RpcLink};
use crate::host::runtime::{HANDLE_REQUEST, ResponseBody, http_request, http_response};
use crate::lattice::protocol::interfaces::HttpResponse;

/// Room the invocation's envelope takes beside the payload (entities, id, host id and the
/// anti-forgery JWT: about 1 KiB), with a margin.
const INVOCATION_OVERHEAD: usize = 4 * 1024;

/// An actor on another host, as a route leads to it.
#[derive(Clone, Debug)]
pub struct RemoteTarget {
    /// The actor's id (its public key): the invocation's target.
    pub actor_id: String,
    /// Who the invocations come from: this provider (its public key,
    /// `wasmcloud:httpserver`, the link name).
    pub origin: WasmCloudEntity,
    /// This host's side of lattice RPC (signing, the RPC timeout).
    pub rpc: RpcLink,
    /// The route's own counters: the calls made from here.
    pub stats: Arc<CallStats>,
}

impl ListenerCtx {
    /// Serves `req` with the remote actor of `route` (see the module docs).
    pub(super) async fn call_remote(
        &self,
        route: &Route,
        target: &RemoteTarget,
        req: Request<Incoming>,
    ) -> Response<ResponseBody> {
        let stats = &target.stats;
        let Some(guard) = self.admit(stats) else {
            return busy();
        };
        let limit = self.shared.limits.max_request_body;
        let declared = declared_length(&req);
        if declared.is_some_and(|n| n > limit) {
            return too_large(limit);
        }
        let (parts, body) = req.into_parts();
        let exceeded = Arc::new(AtomicBool::new(false));
        let body = LimitedBody {
            inner: body,
            remaining: limit,
            limit,
            exceeded: Arc::clone(&exceeded),
        };
        let body = match body.collect().await {
            Ok(b) => b.to_bytes().to_vec(),
            Err(_) if exceeded.load(Ordering::Acquire) => return too_large(limit),
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("400 Bad Request: the request body could not be read: {e}\n"),
                );
            }
        };
        let request_bytes = u64::try_from(body.len()).unwrap_or(u64::MAX);
        let msg = match to_msgpack(&http_request(&parts, body)) {
            Ok(msg) => msg,
            Err(e) => {
                return self.failed(
                    route,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("cannot encode the HttpRequest: {e}"),
                    request_bytes,
                );
            }
        };
        if let Some(max) = message_limit(&target.rpc)
            && msg.len().saturating_add(INVOCATION_OVERHEAD) > max
        {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body is too large to reach an actor on another host: the lattice carries at most {max} bytes per message\n"
                ),
            );
        }
        let actor = &target.actor_id;
        match target
            .rpc
            .call(
                target.origin.clone(),
                WasmCloudEntity::actor(actor.clone()),
                HANDLE_REQUEST,
                msg,
            )
            .await
        {
            Ok(out) => match from_msgpack::<HttpResponse>(&out) {
                Ok(r) => tracked(http_response(actor, r), stats, guard),
                Err(e) => self.failed(
                    route,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("the actor's reply is no HttpResponse: {e}"),
                    request_bytes,
                ),
            },
            Err(e) => {
                let reason = match &e {
                    RpcError::NoResponders { .. } => Some(format!(
                        "no instance of actor {actor} answers in the lattice"
                    )),
                    RpcError::Timeout { timeout, .. } => Some(format!(
                        "the host of actor {actor} gave no reply within {} ms",
                        timeout.as_millis()
                    )),
                    RpcError::Bus(e) => Some(format!("the lattice failed the call: {e}")),
                    RpcError::Remote(why) if rpc::is_transient_refusal(why) => Some(why.clone()),
                    _ => None,
                };
                match reason {
                    Some(reason) => {
                        tracing::debug!(actor = %actor, %reason, "remote actor unavailable");
                        unavailable(self, route, &reason, request_bytes)
                    }
                    None => {
                        tracing::debug!(actor = %actor, error = %e, "remote actor call failed");
                        self.failed(
                            route,
                            StatusCode::INTERNAL_SERVER_ERROR,
                            &e.to_string(),
                            request_bytes,
                        )
                    }
                }
            }
        }
    }
}

/// `503` with `retry-after: 1` and the host's own reason (no guest text in it), counted and
/// reported as a failure.
fn unavailable(
    ctx: &ListenerCtx,
    route: &Route,
    reason: &str,
    request_bytes: u64,
) -> Response<ResponseBody> {
    let status = StatusCode::SERVICE_UNAVAILABLE;
    // The reason is the host's, never the guest's: clients may always read it.
    ctx.count_failure(route, status, reason, request_bytes);
    let mut resp = text(
        status,
        format!("{} {}: {reason}\n", status.as_u16(), status_reason(status)),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

/// The largest message the lattice's server takes; `None` in-process (no limit).
fn message_limit(rpc: &RpcLink) -> Option<usize> {
    rpc.bus().nats_client().map(|c| c.max_payload())
}
