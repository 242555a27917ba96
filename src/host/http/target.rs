//! What a route leads to ([`RouteTarget`]: an actor on this host, or one elsewhere reached
//! over lattice RPC) and how a route is described ([`RouteInfo`]). Types only; the calls are
//! in `listener` (local) and `remote`.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;

use super::{CallStats, CallStatsSnapshot, RemoteTarget, Route};
use crate::host::runtime::Loaded;

/// An actor running on this host, as a route leads to it.
#[derive(Clone, Debug)]
pub struct ActorTarget {
    /// The actor's id (its public key), used in logs and the info endpoint.
    pub actor_id: String,
    /// The actor's current version; the sender side swaps it on update or hot reload.
    /// Read per request; in-flight requests finish on the version they started with.
    pub live: watch::Receiver<Arc<Loaded>>,
    /// Counters this provider updates.
    pub stats: Arc<CallStats>,
}

/// What a route leads to: an actor here, or one on another host reached over lattice RPC.
#[derive(Clone, Debug)]
pub enum RouteTarget {
    /// The actor runs on this host; its guest is called in this process.
    Local(ActorTarget),
    /// The actor runs elsewhere in the lattice (boxed: its RPC handle is the larger part).
    Remote(Box<RemoteTarget>),
}

impl RouteTarget {
    /// The actor's id (its public key).
    pub fn actor_id(&self) -> &str {
        match self {
            Self::Local(t) => &t.actor_id,
            Self::Remote(t) => &t.actor_id,
        }
    }

    /// The counters of calls through this route.
    pub fn stats(&self) -> &Arc<CallStats> {
        match self {
            Self::Local(t) => &t.stats,
            Self::Remote(t) => &t.stats,
        }
    }

    /// Whether the actor is called over lattice RPC.
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Remote(_))
    }
}

impl From<ActorTarget> for RouteTarget {
    fn from(t: ActorTarget) -> Self {
        Self::Local(t)
    }
}

impl From<RemoteTarget> for RouteTarget {
    fn from(t: RemoteTarget) -> Self {
        Self::Remote(Box::new(t))
    }
}

/// One route, as [`HttpProvider::routes`] and the info endpoint describe it.
#[derive(Clone, Debug, Serialize)]
pub struct RouteInfo {
    /// The link that created the route.
    pub link_id: String,
    /// The listener's bound address.
    pub address: SocketAddr,
    /// The path prefix.
    pub path: String,
    /// The actor the route leads to.
    pub actor_id: String,
    /// Whether the actor runs on another host (called over lattice RPC).
    pub remote: bool,
    /// The revision of the actor's current version (`None` for a remote actor: its host
    /// knows).
    pub revision: Option<i64>,
    /// SHA-256 of the actor's current version (`None` for a remote actor).
    pub digest: Option<String>,
    /// Whether the current version serves HTTP (`None` for a remote actor).
    pub serves_http: Option<bool>,
    /// Why it does not, if it does not.
    pub no_http_reason: Option<String>,
    /// The calls through this route: the actor's counters for a local actor (which count its
    /// RPC calls too), the route's own for a remote one (the calls made from here).
    pub stats: CallStatsSnapshot,
}

pub(super) fn route_info(address: SocketAddr, r: &Route) -> RouteInfo {
    let mut info = RouteInfo {
        link_id: r.link_id.clone(),
        address,
        path: r.path.clone(),
        actor_id: r.target.actor_id().to_owned(),
        remote: r.target.is_remote(),
        revision: None,
        digest: None,
        serves_http: None,
        no_http_reason: None,
        stats: r.target.stats().snapshot(),
    };
    if let RouteTarget::Local(t) = &r.target {
        let loaded = t.live.borrow().clone();
        info.revision = Some(loaded.revision);
        info.digest = Some(loaded.digest.clone());
        info.serves_http = Some(loaded.serves_http());
        info.no_http_reason.clone_from(&loaded.no_http_reason);
    }
    info
}
