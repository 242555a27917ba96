//! `nohttp`: a valid `wasi:cli/command` component that does not export
//! `wasi:http/incoming-handler`.

wasip2::cli::command::export!(NoHttp);

struct NoHttp;

impl wasip2::exports::cli::run::Guest for NoHttp {
    fn run() -> Result<(), ()> {
        println!("nohttp: I am a command, not an HTTP handler");
        Ok(())
    }
}
