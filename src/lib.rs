//! lattice-tui: a terminal console for a wasmCloud-style lattice and a WebAssembly host that
//! joins it.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::dbg_macro
)]
#![warn(missing_docs)]

pub mod lattice;
pub mod state;
pub mod ui;
