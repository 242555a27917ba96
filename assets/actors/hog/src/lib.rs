//! `hog`: allocates `?mib=N` MiB (default 512) of linear memory, touches every page, then
//! answers `200 allocated N MiB`. Beyond the host's memory limit the allocation fails and the
//! guest aborts (a trap).

use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Hog);

/// The allocation when the query names none.
const DEFAULT_MIB: usize = 512;
/// A WebAssembly page.
const PAGE: usize = 64 * 1024;

struct Hog;

fn query_usize(path: &str, key: &str) -> Option<usize> {
    let query = path.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if k == key { v.parse().ok() } else { None }
    })
}

impl wasip2::exports::http::incoming_handler::Guest for Hog {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let mib = query_usize(&path, "mib").unwrap_or(DEFAULT_MIB);
        let mut block = vec![0u8; mib * 1024 * 1024];
        for i in (0..block.len()).step_by(PAGE) {
            block[i] = 1;
        }
        let touched = std::hint::black_box(&block).iter().step_by(PAGE).count();

        let headers = Fields::from_list(&[(
            "content-type".to_owned(),
            b"text/plain; charset=utf-8".to_vec(),
        )])
        .expect("valid headers");
        let resp = OutgoingResponse::new(headers);
        let body = resp.body().expect("body taken once");
        ResponseOutparam::set(out, Ok(resp));
        let mut stream = body.write().expect("stream taken once");
        write!(stream, "allocated {mib} MiB ({touched} pages)").expect("write body");
        // With a content-length, the host may close the stream as soon as the last byte is
        // sent: a failed flush then comes after a complete response and is no error.
        let _ = stream.flush();
        drop(stream);
        OutgoingBody::finish(body, None).expect("finish body");
    }
}
