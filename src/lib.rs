//! lattice-tui: a terminal console and WebAssembly host for a wasmCloud-style lattice over NATS.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]
#![warn(missing_docs)]

pub mod lattice;
