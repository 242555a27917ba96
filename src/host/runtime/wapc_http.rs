//! HTTP for the actor era's actors: a request to a waPC actor becomes
//! `HttpServer.HandleRequest` with a msgpack [`HttpRequest`] and its [`HttpResponse`] becomes
//! the HTTP response (`wasmcloud-interface-httpserver`'s shapes), next to the `wasi:http` path
//! components take.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};

use super::{HandleError, Loaded, ResponseBody, Runtime, WapcError};
use crate::host::rpc::wire::{from_msgpack, to_msgpack};
use crate::lattice::protocol::interfaces::{HeaderMap, HttpRequest, HttpResponse};

/// The operation an HTTP request becomes.
pub const HANDLE_REQUEST: &str = "HttpServer.HandleRequest";

/// An HTTP header map as `wasmcloud-interface-httpserver`'s `HeaderMap` (values in order).
pub fn header_map(headers: &http::HeaderMap) -> HeaderMap {
    let mut header = HeaderMap::new();
    for (name, value) in headers {
        header
            .entry(name.as_str().to_string())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    header
}

/// The msgpack `HttpRequest` of a request head and its whole body.
pub fn http_request(parts: &http::request::Parts, body: Vec<u8>) -> HttpRequest {
    let header = header_map(&parts.headers);
    HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query_string: parts.uri.query().unwrap_or_default().to_string(),
        header,
        body,
    }
}

/// The HTTP response of an actor's `HttpResponse`; headers that are no valid HTTP are
/// dropped with a warning, an invalid status is a 500.
pub fn http_response(actor: &str, r: HttpResponse) -> hyper::Response<ResponseBody> {
    let status = StatusCode::from_u16(r.status_code).unwrap_or_else(|_| {
        tracing::warn!(
            actor,
            status = r.status_code,
            "the actor answered with an invalid status"
        );
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let mut resp = hyper::Response::new(
        Full::new(Bytes::from(r.body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    for (name, values) in r.header {
        let Ok(name) = HeaderName::try_from(name.as_str()) else {
            tracing::warn!(actor, header = %name, "the actor sent an invalid header name; dropped");
            continue;
        };
        for v in values {
            match HeaderValue::try_from(v.as_str()) {
                Ok(v) => {
                    resp.headers_mut().append(name.clone(), v);
                }
                Err(_) => {
                    tracing::warn!(actor, header = %name, "the actor sent an invalid header value; dropped")
                }
            }
        }
    }
    resp
}

impl Runtime {
    /// Serves one HTTP request with a waPC actor.
    pub(super) async fn handle_wapc<B>(
        &self,
        loaded: &Arc<Loaded>,
        actor: &str,
        req: hyper::Request<B>,
    ) -> Result<hyper::Response<ResponseBody>, HandleError>
    where
        B: Body<Data = Bytes> + Send + 'static,
    {
        let Some(module) = loaded.wapc.as_ref() else {
            return Err(HandleError::NoHttp("not a waPC actor".into()));
        };
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|_| HandleError::BadRequest("the request body could not be read".into()))?
            .to_bytes()
            .to_vec();
        let msg = to_msgpack(&http_request(&parts, body))
            .map_err(|e| HandleError::BadRequest(e.to_string()))?;
        let out = self
            .invoke_wapc(loaded, module, actor, HANDLE_REQUEST, msg)
            .await
            .map_err(|e| match e {
                WapcError::Guest(e) => HandleError::GuestError(e),
                WapcError::Trap(e) => HandleError::Trap(e),
                WapcError::Deadline(d) => HandleError::Deadline(d),
                WapcError::Instantiate(e) => HandleError::Instantiate(e),
            })?;
        let r: HttpResponse = from_msgpack(&out).map_err(|e| {
            HandleError::GuestError(format!("the actor's reply is no HttpResponse: {e}"))
        })?;
        Ok(http_response(actor, r))
    }
}
