//! `era-counter`: on `HttpServer.HandleRequest`, calls `KeyValue.Increment` on the `"default"`
//! link with key `counter:{path}` and value 1, and answers `200` with the new count as decimal
//! text (`content-type: text/plain`). If the call fails, answers `500` with the error's text
//! (`Host send error {the host's error}` when the host refused or the provider failed).

use std::collections::HashMap;

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};
use wasmcloud_interface_keyvalue::{IncrementRequest, KeyValue, KeyValueSender};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct CounterActor {}

#[async_trait]
impl HttpServer for CounterActor {
    async fn handle_request(&self, ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        let increment = IncrementRequest {
            key: format!("counter:{}", req.path),
            value: 1,
        };
        let (status_code, body) = match KeyValueSender::new().increment(ctx, &increment).await {
            Ok(count) => (200, count.to_string()),
            Err(e) => (500, e.to_string()),
        };
        Ok(HttpResponse {
            status_code,
            header: HashMap::from([("content-type".to_owned(), vec!["text/plain".to_owned()])]),
            body: body.into_bytes(),
        })
    }
}
