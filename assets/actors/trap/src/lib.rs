//! `trap`: panics on every request before answering, so the instance traps (`unreachable`).

use wasip2::http::types::{IncomingRequest, ResponseOutparam};

wasip2::http::proxy::export!(Trap);

struct Trap;

impl wasip2::exports::http::incoming_handler::Guest for Trap {
    fn handle(_request: IncomingRequest, _out: ResponseOutparam) {
        panic!("trap actor: deliberate panic");
    }
}
