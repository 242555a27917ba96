//! Lattice protocol and transport.
//!
//! [`subjects`] and [`protocol`] are pure wire knowledge; [`bus`] moves bytes over NATS or the
//! in-process lattice; [`monitor`] follows a lattice's events and resyncs by query. Nothing in
//! this module knows about the console, the state reducer or the embedded host.

pub mod bus;
pub mod monitor;
pub mod multi;
pub mod protocol;
pub mod requests;
pub mod subjects;
