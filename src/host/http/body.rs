//! Response helpers and the body wrappers: plain-text answers, the in-flight guard that
//! holds a guest-call permit until the response is done, the size-limited request body and
//! the tracked response body that counts a failure mid-body.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::sync::OwnedSemaphorePermit;

use super::{CallStats, Shared};
use crate::host::runtime::{BoxError, ResponseBody};

pub(super) fn status_reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

pub(super) fn full(body: impl Into<Bytes>) -> ResponseBody {
    Full::new(body.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// A `text/plain` response.
pub(super) fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// One guest call in flight: holds the provider's permit and the counters until the
/// response body is done (or dropped).
pub(super) struct InFlight {
    shared: Arc<Shared>,
    stats: Arc<CallStats>,
    _permit: OwnedSemaphorePermit,
}

impl InFlight {
    pub(super) fn new(
        shared: Arc<Shared>,
        stats: Arc<CallStats>,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        shared.in_flight_count.fetch_add(1, Ordering::AcqRel);
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            shared,
            stats,
            _permit: permit,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.shared.in_flight_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.in_flight_idle.notify_waiters();
        }
    }
}

/// The request body as the guest reads it, failing once it exceeds the size limit.
pub(super) struct LimitedBody {
    pub(super) inner: Incoming,
    pub(super) remaining: u64,
    pub(super) limit: u64,
    pub(super) exceeded: Arc<AtomicBool>,
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
                    if len > self.remaining {
                        self.exceeded.store(true, Ordering::Release);
                        let limit = self.limit;
                        return Poll::Ready(Some(Err(
                            wasmtime_wasi_http::Error::HttpRequestBodySize(Some(limit)),
                        )));
                    }
                    self.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body on its way to the client: keeps the request counted as in flight until
/// it is done and counts a failure mid-body as an error.
pub(super) struct TrackedBody {
    pub(super) inner: ResponseBody,
    pub(super) stats: Arc<CallStats>,
    /// Whether this request is already counted in `errors`.
    pub(super) counted: bool,
    pub(super) _guard: InFlight,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(e))) = &polled {
            if !self.counted {
                self.counted = true;
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
            }
            tracing::warn!(error = %e, "response body failed");
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
