//! `era-hello`: answers `HttpServer.HandleRequest` with `200`, `content-type: text/plain` and the
//! body `hello from an actor-era actor: {METHOD} {path}`.

use std::collections::HashMap;

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct HelloActor {}

#[async_trait]
impl HttpServer for HelloActor {
    async fn handle_request(&self, _ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        let body = format!("hello from an actor-era actor: {} {}", req.method, req.path);
        Ok(HttpResponse {
            status_code: 200,
            header: HashMap::from([("content-type".to_owned(), vec!["text/plain".to_owned()])]),
            body: body.into_bytes(),
        })
    }
}
