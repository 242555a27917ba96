//! The StateMonitor: the model of a lattice ([`model`]) and the pure reducer that folds events,
//! resync answers and clock ticks into it ([`reduce`]); the command language ([`command`]);
//! the logs view's model ([`logs`]).
//!
//! Pure: depends only on `lattice::protocol` wire types, serde and chrono data types. No I/O,
//! no clock, no tokio, no logging; `now` is always passed in.

pub mod command;
pub mod lattices;
pub mod logs;
pub mod model;
pub mod rates;
pub mod reduce;
pub mod summary;

pub use model::*;
pub use rates::{ActorRates, Bucket, BucketView, HostRates, RateView, Rates};
pub use reduce::*;
pub use summary::{level_of, short_key, summary};
