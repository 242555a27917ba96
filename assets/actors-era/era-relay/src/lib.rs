//! `era-relay`: forwards every `HttpServer.HandleRequest`, unchanged, to the actor whose call
//! alias is `lattice-tui/echo` (an actor-to-actor call: binding `""`, namespace the alias) and
//! answers with that actor's response. If the call fails, answers `502` with the error's text
//! (`content-type: text/plain`).

use std::collections::HashMap;

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{
    HttpRequest, HttpResponse, HttpServer, HttpServerReceiver, HttpServerSender,
};

/// The call alias of the actor every request is forwarded to.
const TARGET: &str = "lattice-tui/echo";

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct RelayActor {}

#[async_trait]
impl HttpServer for RelayActor {
    async fn handle_request(&self, ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        match HttpServerSender::to_actor(TARGET)
            .handle_request(ctx, req)
            .await
        {
            Ok(resp) => Ok(resp),
            Err(e) => Ok(HttpResponse {
                status_code: 502,
                header: HashMap::from([("content-type".to_owned(), vec!["text/plain".to_owned()])]),
                body: e.to_string().into_bytes(),
            }),
        }
    }
}
