//! `era-loop` (hostile guest): its `HttpServer.HandleRequest` handler spins forever and never
//! answers. A host must interrupt it (epoch deadline or fuel).

use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_httpserver::{HttpRequest, HttpResponse, HttpServer, HttpServerReceiver};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, HttpServer)]
struct LoopActor {}

#[async_trait]
impl HttpServer for LoopActor {
    async fn handle_request(&self, _ctx: &Context, _req: &HttpRequest) -> RpcResult<HttpResponse> {
        // black_box keeps the optimizer from proving anything about the counter: a real busy loop.
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}
