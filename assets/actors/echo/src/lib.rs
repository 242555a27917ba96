//! `echo`: reports the request and echoes its body.
//!
//! Every response carries `x-echo-method`, `x-echo-path` (path and query) and `x-echo-headers`
//! (the request headers as a JSON object, names lowercase, repeated names joined with `, `).
//! `GET` and `HEAD` answer a JSON document `{"method","path","headers"}`; every other method
//! streams the request body back chunk by chunk as `application/octet-stream` (nothing is
//! buffered beyond one chunk). With `buffer=1` in the query it instead reads the whole body
//! first and answers with a `content-length` (so a failed read fails before any response).
//! The actor prints one line per request to stdout.

use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Echo);

/// How many bytes one read from the request body asks for.
const CHUNK: usize = 64 * 1024;

struct Echo;

fn method_name(m: &Method) -> String {
    match m {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(s) => s.clone(),
    }
}

/// A JSON string literal; non-ASCII and control characters are `\u` escaped so the result is
/// also a valid HTTP header value.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

fn headers_json(fields: &Fields) -> String {
    let mut merged: Vec<(String, String)> = Vec::new();
    for (name, value) in fields.entries() {
        let value = String::from_utf8_lossy(&value).into_owned();
        match merged.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(&value);
            }
            None => merged.push((name, value)),
        }
    }
    merged.sort();
    let parts: Vec<String> = merged
        .iter()
        .map(|(n, v)| format!("{}:{}", json_str(n), json_str(v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Reads the whole request body, then answers it with a `content-length`.
fn echo_buffered(request: IncomingRequest, out: ResponseOutparam) {
    let incoming = request.consume().expect("body consumed once");
    let mut source = incoming.stream().expect("stream taken once");
    let mut whole = Vec::new();
    std::io::Read::read_to_end(&mut source, &mut whole).expect("read request body");
    drop(source);
    IncomingBody::finish(incoming);

    let fields = Fields::from_list(&[
        (
            "content-type".to_owned(),
            b"application/octet-stream".to_vec(),
        ),
        (
            "content-length".to_owned(),
            whole.len().to_string().into_bytes(),
        ),
    ])
    .expect("valid headers");
    let resp = OutgoingResponse::new(fields);
    let body = resp.body().expect("body taken once");
    ResponseOutparam::set(out, Ok(resp));
    let mut sink = body.write().expect("stream taken once");
    sink.write_all(&whole).expect("write response body");
    // With a content-length, the host may close the stream as soon as the last byte is sent:
    // a failed flush then comes after a complete response and is no error.
    let _ = sink.flush();
    drop(sink);
    OutgoingBody::finish(body, None).expect("finish body");
}

impl wasip2::exports::http::incoming_handler::Guest for Echo {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let method = method_name(&request.method());
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let headers = headers_json(&request.headers());
        println!("echo: {method} {path}");

        if !matches!(method.as_str(), "GET" | "HEAD") && path.contains("buffer=1") {
            echo_buffered(request, out);
            return;
        }
        let report = method == "GET" || method == "HEAD";
        let content_type: &[u8] = if report {
            b"application/json"
        } else {
            b"application/octet-stream"
        };
        let fields = Fields::from_list(&[
            ("content-type".to_owned(), content_type.to_vec()),
            ("x-echo-method".to_owned(), method.clone().into_bytes()),
            ("x-echo-path".to_owned(), path.clone().into_bytes()),
            ("x-echo-headers".to_owned(), headers.clone().into_bytes()),
        ])
        .expect("valid headers");
        let resp = OutgoingResponse::new(fields);
        let body = resp.body().expect("body taken once");
        ResponseOutparam::set(out, Ok(resp));
        let mut sink = body.write().expect("stream taken once");

        if report {
            let doc = format!(
                "{{\"method\":{},\"path\":{},\"headers\":{}}}",
                json_str(&method),
                json_str(&path),
                headers
            );
            sink.write_all(doc.as_bytes()).expect("write report");
        } else {
            let incoming = request.consume().expect("body consumed once");
            let mut source = incoming.stream().expect("stream taken once");
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = std::io::Read::read(&mut source, &mut buf).expect("read request body");
                if n == 0 {
                    break;
                }
                sink.write_all(&buf[..n]).expect("write response body");
            }
            drop(source);
            IncomingBody::finish(incoming);
        }
        // With a content-length, the host may close the stream as soon as the last byte is
        // sent: a failed flush then comes after a complete response and is no error.
        let _ = sink.flush();
        drop(sink);
        OutgoingBody::finish(body, None).expect("finish body");
    }
}
