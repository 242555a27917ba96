//! `count`: answers `200 <n>` where n counts the requests this instance has served, starting
//! at 1. With a fresh instance per request it always answers 1; with instance reuse it counts
//! up, which is exactly the state leaking between requests that reuse trades for speed.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Count);

static SERVED: AtomicU64 = AtomicU64::new(0);

struct Count;

impl wasip2::exports::http::incoming_handler::Guest for Count {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let n = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
        let resp = OutgoingResponse::new(Fields::new());
        let body = resp.body().expect("body taken once");
        ResponseOutparam::set(out, Ok(resp));
        let mut stream = body.write().expect("stream taken once");
        write!(stream, "{n}").expect("write body");
        // With a content-length, the host may close the stream as soon as the last byte is
        // sent: a failed flush then comes after a complete response and is no error.
        let _ = stream.flush();
        drop(stream);
        OutgoingBody::finish(body, None).expect("finish body");
    }
}
