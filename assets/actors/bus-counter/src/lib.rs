//! `bus-counter`: counts the requests for each path through the lattice. Every request calls
//! `wasmcloud:bus/host.call-sync(link(none), "wasmcloud:keyvalue/KeyValue.Increment", …)` with
//! the msgpack map `{"key": "bus:" + path, "value": 1}` and answers `200 <count>`, or
//! `500 <error>` with the host's error text when the call fails.

use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wit_bindgen::generate!({
    path: "../../wit/wasmcloud-bus",
    world: "wasmcloud:bus/bus",
});

use wasmcloud::bus::host::call_sync;
use wasmcloud::bus::lattice::TargetEntity;

wasip2::http::proxy::export!(BusCounter);

/// `wasmcloud-interface-keyvalue`'s `IncrementRequest`, as a msgpack map with named fields.
#[derive(serde::Serialize)]
struct IncrementRequest<'a> {
    key: &'a str,
    value: i32,
}

struct BusCounter;

/// The new count of `path`, or the error text.
fn increment(path: &str) -> Result<i32, String> {
    let key = format!("bus:{path}");
    let payload = rmp_serde::to_vec_named(&IncrementRequest {
        key: &key,
        value: 1,
    })
    .map_err(|e| format!("cannot encode the request: {e}"))?;
    let reply = call_sync(
        Some(&TargetEntity::Link(None)),
        "wasmcloud:keyvalue/KeyValue.Increment",
        &payload,
    )?;
    rmp_serde::from_slice(&reply).map_err(|e| format!("the reply is no i32: {e}"))
}

impl wasip2::exports::http::incoming_handler::Guest for BusCounter {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default().to_owned();
        let (status, text) = match increment(&path) {
            Ok(n) => (200, n.to_string()),
            Err(e) => (500, e),
        };
        let headers = Fields::from_list(&[(
            "content-length".to_owned(),
            text.len().to_string().into_bytes(),
        )])
        .expect("valid headers");
        let resp = OutgoingResponse::new(headers);
        resp.set_status_code(status).expect("a valid status");
        let body = resp.body().expect("body taken once");
        ResponseOutparam::set(out, Ok(resp));
        let mut stream = body.write().expect("stream taken once");
        stream.write_all(text.as_bytes()).expect("write body");
        // With a content-length, the host may close the stream as soon as the last byte is
        // sent: a failed flush then comes after a complete response and is no error.
        let _ = stream.flush();
        drop(stream);
        OutgoingBody::finish(body, None).expect("finish body");
    }
}
