//! `era-echo`: answers `HttpServer.HandleRequest` with `200`,
//! `content-type: application/octet-stream` and the request's body, byte for byte.

use std::collections::HashMap;

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct EchoActor {}

#[async_trait]
impl HttpServer for EchoActor {
    async fn handle_request(&self, _ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        Ok(HttpResponse {
            status_code: 200,
            header: HashMap::from([(
                "content-type".to_owned(),
                vec!["application/octet-stream".to_owned()],
            )]),
            body: req.body.clone(),
        })
    }
}
