//! `hello`: answers every request with `200 Hello from lattice-tui!` as `text/plain`.

use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Hello);

/// The greeting, the whole response body.
const GREETING: &[u8] = b"Hello from lattice-tui!\n";

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let headers = Fields::from_list(&[
            (
                "content-type".to_owned(),
                b"text/plain; charset=utf-8".to_vec(),
            ),
            (
                "content-length".to_owned(),
                GREETING.len().to_string().into_bytes(),
            ),
        ])
        .expect("valid headers");
        let resp = OutgoingResponse::new(headers);
        let body = resp.body().expect("body taken once");
        ResponseOutparam::set(out, Ok(resp));
        let mut stream = body.write().expect("stream taken once");
        stream.write_all(GREETING).expect("write body");
        // With a content-length, the host may close the stream as soon as the last byte is
        // sent: a failed flush then comes after a complete response and is no error.
        let _ = stream.flush();
        drop(stream);
        OutgoingBody::finish(body, None).expect("finish body");
    }
}
