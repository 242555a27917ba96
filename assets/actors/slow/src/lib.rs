//! `slow`: sleeps `?ms=N` milliseconds (default 1000) on the host's monotonic clock, then
//! answers `200 slept N ms` as `text/plain`.

use std::io::Write as _;

use wasip2::clocks::monotonic_clock;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Slow);

/// The sleep when the query names none.
const DEFAULT_MS: u64 = 1000;

struct Slow;

fn query_u64(path: &str, key: &str) -> Option<u64> {
    let query = path.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if k == key { v.parse().ok() } else { None }
    })
}

impl wasip2::exports::http::incoming_handler::Guest for Slow {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let ms = query_u64(&path, "ms").unwrap_or(DEFAULT_MS);
        monotonic_clock::subscribe_duration(ms * 1_000_000).block();

        let headers = Fields::from_list(&[(
            "content-type".to_owned(),
            b"text/plain; charset=utf-8".to_vec(),
        )])
        .expect("valid headers");
        let resp = OutgoingResponse::new(headers);
        let body = resp.body().expect("body taken once");
        ResponseOutparam::set(out, Ok(resp));
        let mut stream = body.write().expect("stream taken once");
        write!(stream, "slept {ms} ms").expect("write body");
        // With a content-length, the host may close the stream as soon as the last byte is
        // sent: a failed flush then comes after a complete response and is no error.
        let _ = stream.flush();
        drop(stream);
        OutgoingBody::finish(body, None).expect("finish body");
    }
}
