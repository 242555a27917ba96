//! The embedded WebAssembly host: runtime, built-in HTTP server provider and guest I/O.
pub mod guest_io;
pub mod http;
pub mod runtime;
