//! The embedded WebAssembly host: a lattice member like any other (STYLE.md §2.5).
pub mod lattice_data;
