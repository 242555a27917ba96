//! The embedded host (in progress): identity, claims, event publishing and the lattice data.

pub mod claims;
pub mod events;
pub mod identity;
pub mod lattice_data;
