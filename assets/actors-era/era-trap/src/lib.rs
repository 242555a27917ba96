//! `era-trap` (hostile guest): its `HttpServer.HandleRequest` handler panics. On
//! wasm32-unknown-unknown a panic aborts, which is the `unreachable` instruction: the host's
//! `__guest_call` traps instead of returning.

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct TrapActor {}

#[async_trait]
impl HttpServer for TrapActor {
    async fn handle_request(&self, _ctx: &Context, req: &HttpRequest) -> RpcResult<HttpResponse> {
        panic!("era-trap: {} {} always panics", req.method, req.path);
    }
}
