//! The one seam both kinds of actor implement: "invoke operation with payload"
//! ([`Runtime::invoke`]), which lattice RPC and the built-in providers call.
//!
//! A waPC module gets the operation as it is (`__guest_call`). A component that exports only
//! `wasi:http` understands one operation, `HttpServer.HandleRequest`: its msgpack
//! `HttpRequest` becomes a `wasi:http` request and the response comes back as a msgpack
//! `HttpResponse` (its body read up to [`MAX_GUEST_BYTES`]).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::wapc_http::HANDLE_REQUEST;
use super::{HandleError, Loaded, MAX_GUEST_BYTES, ResponseBody, Runtime, WapcError};
use crate::host::rpc::wire::{from_msgpack, to_msgpack};
use crate::lattice::protocol::interfaces::{HttpRequest, HttpResponse};

impl Runtime {
    /// Runs `operation` with `msg` on `loaded` for `actor` and returns the reply payload.
    ///
    /// # Errors
    /// [`WapcError::Guest`] with the actor's error text, or for an operation a component does
    /// not understand; traps, deadlines and instantiation failures as they are.
    pub async fn invoke(
        &self,
        loaded: &Arc<Loaded>,
        actor: &str,
        operation: &str,
        msg: Vec<u8>,
    ) -> Result<Vec<u8>, WapcError> {
        if let Some(module) = loaded.wapc.as_ref() {
            return self
                .invoke_wapc(loaded, module, actor, operation, msg)
                .await;
        }
        if operation != HANDLE_REQUEST {
            return Err(WapcError::Guest(format!(
                "this actor is a component and serves only {HANDLE_REQUEST} (through wasi:http), not {operation}"
            )));
        }
        let req: HttpRequest = from_msgpack(&msg)
            .map_err(|e| WapcError::Guest(format!("the payload is no HttpRequest: {e}")))?;
        let http_req = to_hyper(&req).map_err(WapcError::Guest)?;
        let resp = self
            .handle(loaded, actor, http_req)
            .await
            .map_err(|e| match e {
                HandleError::Trap(e) => WapcError::Trap(e),
                HandleError::Deadline(d) => WapcError::Deadline(d),
                HandleError::Instantiate(e) => WapcError::Instantiate(e),
                other => WapcError::Guest(other.to_string()),
            })?;
        let (parts, body) = resp.into_parts();
        let body = collect_limited(body, MAX_GUEST_BYTES)
            .await
            .map_err(|e| WapcError::Guest(format!("the actor's response body failed: {e}")))?;
        let out = HttpResponse {
            status_code: parts.status.as_u16(),
            header: super::wapc_http::header_map(&parts.headers),
            body,
        };
        to_msgpack(&out).map_err(|e| WapcError::Guest(e.to_string()))
    }
}

/// Reads a response body up to `limit` bytes (frame by frame: `http_body_util::Limited`'s
/// error conversion defeats the `Send` proof of the futures that call this).
async fn collect_limited(mut body: ResponseBody, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.len()) > limit {
                return Err(format!("the body is larger than {limit} bytes"));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// A `wasi:http` request of an `HttpRequest` (the host is `localhost` unless a `host` header
/// says otherwise).
fn to_hyper(req: &HttpRequest) -> Result<hyper::Request<Full<Bytes>>, String> {
    let path = if req.path.starts_with('/') {
        req.path.clone()
    } else {
        format!("/{}", req.path)
    };
    let uri = if req.query_string.is_empty() {
        path
    } else {
        format!("{path}?{}", req.query_string)
    };
    let mut b = hyper::Request::builder()
        .method(req.method.as_str())
        .uri(uri);
    let mut has_host = false;
    for (name, values) in &req.header {
        has_host |= name.eq_ignore_ascii_case("host");
        for v in values {
            b = b.header(name.as_str(), v.as_str());
        }
    }
    if !has_host {
        b = b.header("host", "localhost");
    }
    b.body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|e| format!("the HttpRequest is no valid HTTP request: {e}"))
}
