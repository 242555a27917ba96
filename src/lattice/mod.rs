//! Lattice protocol and transport.

pub mod bus;
