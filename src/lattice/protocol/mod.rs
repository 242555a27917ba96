//! Wire types of the OTP-era lattice protocol: control-interface documents ([`ctl`]) and
//! lattice CloudEvents ([`events`]), the actor era's interface payloads ([`interfaces`]), and lattice-tui's own rates samples ([`rates`]).
//!
//! Pure: serde and cloudevents-sdk only. No I/O, no async, no clock. The bus, the monitor and
//! the host use these types; nothing here knows about them.

pub mod ctl;
pub mod events;
pub mod interfaces;
pub mod rates;
pub mod snapshot;

pub use ctl::*;
pub use events::*;
pub use rates::*;
pub use snapshot::*;
