//! `bus-probe`: makes the `wasmcloud:bus/host.call-sync` call its path names and answers
//! `200 <reply length>` or `500 <error>` with the host's error text:
//!
//! - `/huge`: a 16 MiB + 1 byte payload to `wasmcloud:keyvalue/KeyValue.Set` on the default link;
//! - `/noslash`: `KeyValue.Increment` (no interface) on the default link;
//! - `/actor/<key>`: `Pinger.Ping` to the actor with that public key;
//! - `/alias/<alias>`: `Pinger.Ping` to the actor with that call alias.

use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wit_bindgen::generate!({
    path: "../../wit/wasmcloud-bus",
    world: "wasmcloud:bus/bus",
});

use wasmcloud::bus::host::call_sync;
use wasmcloud::bus::lattice::{ActorIdentifier, TargetEntity};

wasip2::http::proxy::export!(BusProbe);

/// One byte more than the host passes on (its `MAX_GUEST_BYTES`).
const HUGE: usize = 16 * 1024 * 1024 + 1;

struct BusProbe;

fn call(path: &str) -> Result<Vec<u8>, String> {
    if path == "/huge" {
        let payload = vec![0x5a; HUGE];
        return call_sync(None, "wasmcloud:keyvalue/KeyValue.Set", &payload);
    }
    if path == "/noslash" {
        return call_sync(Some(&TargetEntity::Link(None)), "KeyValue.Increment", &[]);
    }
    if let Some(key) = path.strip_prefix("/actor/") {
        let target = TargetEntity::Actor(ActorIdentifier::PublicKey(key.to_owned()));
        return call_sync(Some(&target), "Pinger.Ping", &[]);
    }
    if let Some(alias) = path.strip_prefix("/alias/") {
        let target = TargetEntity::Actor(ActorIdentifier::Alias(alias.to_owned()));
        return call_sync(Some(&target), "Pinger.Ping", &[]);
    }
    Err(format!("bus-probe knows no path {path}"))
}

impl wasip2::exports::http::incoming_handler::Guest for BusProbe {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let (status, text) = match call(&path) {
            Ok(reply) => (200, reply.len().to_string()),
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
