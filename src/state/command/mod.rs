//! The console's command language, pure: the `:` grammar ([`grammar`]: one table of commands
//! for the parser, completion and help) and the lookup of what a command names in the model
//! ([`resolve`]: ids, unique id prefixes, names, references; which host an action goes to).
//!
//! Owns no I/O and sends nothing: turning a resolved command into a control-interface request
//! is `lattice`'s, publishing it is the App's.

pub mod grammar;
pub mod outcome;
pub mod resolve;

pub use grammar::{
    COMMANDS, Command, CommandSpec, Kind, ParseError, View, parse, quote, spec, tokenize,
};
pub use outcome::{Expect, Pending, Status};
pub use resolve::{ActorMatch, ProviderMatch, ResolveError, Target, Thing, Unnamed};

#[cfg(test)]
pub(crate) mod tests;
