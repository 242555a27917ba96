//! The embedded host (in progress): identity, claims and event publishing.

pub mod claims;
pub mod events;
pub mod identity;
