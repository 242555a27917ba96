//! Wire types of the OTP-era lattice protocol: control-interface documents ([`ctl`]) and
//! lattice CloudEvents ([`events`]).
//!
//! Pure: serde and cloudevents-sdk only. No I/O, no async, no clock. The bus, the monitor and
//! the host use these types; nothing here knows about them.

pub mod ctl;
pub mod events;
pub mod snapshot;

pub use ctl::*;
pub use events::*;
pub use snapshot::*;
