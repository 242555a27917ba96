//! The answers of one resync by query (`ping.hosts`, `get.{host}.inv`, `get.links`,
//! `get.claims`), gathered by the monitor and folded into the model by the reducer.
//! Pure data.

use serde::{Deserialize, Serialize};

use super::ctl::{ClaimsMap, Host, HostInventory, LinkDefinition};

/// What the lattice answered to a full query round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatticeSnapshot {
    /// Every `ping.hosts` reply.
    pub hosts: Vec<Host>,
    /// Inventories of the hosts that answered `get.{host}.inv`.
    pub inventories: Vec<HostInventory>,
    /// `get.links`, or `None` when nobody answered (keep what is known).
    pub links: Option<Vec<LinkDefinition>>,
    /// `get.claims`, or `None` when nobody answered.
    pub claims: Option<Vec<ClaimsMap>>,
    /// Queries that failed, as readable text.
    pub errors: Vec<String>,
}
