//! Links → routes: every link the lattice data reports is kept here, and those for the
//! built-in HTTP provider (on a link name the provider runs under) are applied to the HTTP
//! provider as routes — to the actor here when it runs here, else over lattice RPC to
//! wherever it runs. Also the state of the lattice-data watch, which
//! the supervisor in `lifecycle.rs` reports here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::super::http::{ActorTarget, RemoteTarget, RouteTarget};
use super::super::lattice_data::LinkChange;
use super::super::rpc::wire::WasmCloudEntity;
use super::{AppliedRoute, HTTP_CONTRACT, HostInner};
use crate::lattice::protocol::{EventData, LinkDefinition};
use crate::sync::lock;

impl HostInner {
    /// Applies a change seen in the lattice data: publishes `linkdef_set` / `linkdef_deleted`
    /// and updates routes.
    pub async fn on_link_change(self: &Arc<Self>, change: LinkChange) {
        match change {
            LinkChange::Set(link) => {
                let link = link.with_id();
                // Every put is announced, repeats too, as the OTP host does (consoles
                // de-duplicate by id).
                lock(&self.links).insert(link.id.clone(), link.clone());
                self.send_link(&link, true).await;
                self.events.publish(EventData::LinkdefSet(link)).await;
            }
            LinkChange::Deleted(link) => {
                let link = link.with_id();
                lock(&self.links).remove(&link.id);
                self.send_link(&link, false).await;
                self.events.publish(EventData::LinkdefDeleted(link)).await;
            }
        }
        self.reconcile_routes().await;
        self.reconcile_messaging().await;
    }

    /// Brings the HTTP provider's routes in line with the links, the running actors and the
    /// running provider link names.
    ///
    /// Every link of the built-in HTTP provider under a link name it runs here gets a route:
    /// to the actor here when it runs here, else to the actor wherever it runs, over lattice
    /// RPC (as wasmCloud's httpserver serves every link it is given). A route that only
    /// changes between the two is swapped in place, so its listener stays up. A remote route
    /// whose address another process holds stands by (see [`HostInner::route_standby`]):
    /// retried on every reconciliation and health check, never an error.
    pub async fn reconcile_routes(&self) {
        let _serial = self.reconcile_lock.lock().await;
        let want: BTreeMap<String, (AppliedRoute, RouteTarget)> = {
            let links = lock(&self.links);
            let actors = lock(&self.actors);
            let providers = lock(&self.providers);
            let mut remote_stats = lock(&self.remote_stats);
            let want: BTreeMap<String, (AppliedRoute, RouteTarget)> = links
                .values()
                .filter(|l| {
                    l.contract_id == HTTP_CONTRACT
                        && l.provider_id == self.builtin_http_key
                        && providers.contains_key(&(l.provider_id.clone(), l.link_name.clone()))
                })
                .map(|l| {
                    let target = match actors.get(&l.actor_id) {
                        Some(a) => RouteTarget::Local(ActorTarget {
                            actor_id: l.actor_id.clone(),
                            live: a.live.subscribe(),
                            stats: a.stats.clone(),
                        }),
                        None => RouteTarget::from(RemoteTarget {
                            actor_id: l.actor_id.clone(),
                            origin: WasmCloudEntity::provider(
                                self.builtin_http_key.clone(),
                                HTTP_CONTRACT,
                                l.link_name.clone(),
                            ),
                            rpc: self.rpc.clone(),
                            stats: Arc::clone(remote_stats.entry(l.id.clone()).or_default()),
                        }),
                    };
                    let applied = AppliedRoute {
                        actor_id: l.actor_id.clone(),
                        values: l.values.clone(),
                        remote: target.is_remote(),
                    };
                    (l.id.clone(), (applied, target))
                })
                .collect();
            remote_stats.retain(|id, _| want.contains_key(id));
            want
        };
        let have = lock(&self.routes).clone();
        for (id, applied) in &have {
            let keep = want
                .get(id)
                .is_some_and(|(a, _)| a.actor_id == applied.actor_id && a.values == applied.values);
            if !keep {
                self.http.remove_route(id).await;
                lock(&self.routes).remove(id);
                lock(&self.route_errors).remove(id);
            }
        }
        lock(&self.route_standby).retain(|id, _| want.get(id).is_some_and(|(a, _)| a.remote));
        let mut errors_changed = false;
        for (id, (applied, target)) in want {
            let current = lock(&self.routes).get(&id).cloned();
            if current.as_ref() == Some(&applied) {
                continue;
            }
            match self.http.put_route(&id, target, &applied.values).await {
                Ok(addr) => {
                    let to = if applied.remote { "remote" } else { "local" };
                    tracing::info!(link = %id, actor = %applied.actor_id, %addr, to, "HTTP route up");
                    lock(&self.routes).insert(id.clone(), applied);
                    lock(&self.route_standby).remove(&id);
                    errors_changed |= lock(&self.route_errors).remove(&id).is_some();
                }
                Err(e) if applied.remote && e.is_address_in_use() => {
                    let first = lock(&self.route_standby)
                        .insert(id.clone(), e.to_string())
                        .is_none();
                    if first {
                        tracing::info!(link = %id, actor = %applied.actor_id, error = %e,
                            "another process serves this link's address; standing by");
                    }
                    errors_changed |= lock(&self.route_errors).remove(&id).is_some();
                }
                Err(e) => {
                    tracing::warn!(link = %id, error = %e, "cannot serve HTTP for a link");
                    if current.is_some() {
                        // A swap that failed leaves nothing half-applied.
                        self.http.remove_route(&id).await;
                        lock(&self.routes).remove(&id);
                    }
                    errors_changed |= lock(&self.route_errors)
                        .insert(id.clone(), e.to_string())
                        .is_none();
                }
            }
        }
        if errors_changed {
            self.check_health().await;
        }
    }

    /// Remote routes standing by for an address another process holds: link id → why.
    pub fn route_standby(&self) -> BTreeMap<String, String> {
        lock(&self.route_standby).clone()
    }

    /// Whether the route of link `id` is up (`Some(Ok)`), failed (`Some(Err(why))`), or not
    /// reconciled yet (`None`).
    pub fn route_state(&self, id: &str) -> Option<Result<(), String>> {
        if lock(&self.routes).contains_key(id) {
            return Some(Ok(()));
        }
        lock(&self.route_errors).get(id).cloned().map(Err)
    }

    /// Routes currently applied: link id → actor id.
    pub fn applied_routes(&self) -> BTreeSet<String> {
        lock(&self.routes).keys().cloned().collect()
    }

    /// Makes the known links exactly `current` (the bucket's content after the watch was
    /// down): publishes `linkdef_deleted` for links gone meanwhile and `linkdef_set` for new or
    /// changed ones, then reconciles the routes.
    pub async fn resync_links(self: &Arc<Self>, current: Vec<LinkDefinition>) {
        let current: BTreeMap<String, LinkDefinition> = current
            .into_iter()
            .map(|l| {
                let l = l.with_id();
                (l.id.clone(), l)
            })
            .collect();
        let (gone, changed): (Vec<LinkDefinition>, Vec<LinkDefinition>) = {
            let mut links = lock(&self.links);
            let gone = links
                .iter()
                .filter(|(id, _)| !current.contains_key(*id))
                .map(|(_, l)| l.clone())
                .collect();
            let changed = current
                .values()
                .filter(|l| links.get(&l.id) != Some(l))
                .cloned()
                .collect();
            links.clone_from(&current);
            (gone, changed)
        };
        for link in gone {
            self.events.publish(EventData::LinkdefDeleted(link)).await;
        }
        for link in changed {
            self.events.publish(EventData::LinkdefSet(link)).await;
        }
        self.reconcile_routes().await;
    }

    /// The link name of the link with id `link_id`, if it is known.
    pub fn link_name_of(&self, link_id: &str) -> Option<String> {
        lock(&self.links).get(link_id).map(|l| l.link_name.clone())
    }

    /// Records that the lattice-data watch is down (`Some(why)`) or back (`None`); the
    /// provider's health follows. Returns whether that changed.
    pub fn set_data_watch_error(&self, error: Option<String>) -> bool {
        let mut e = lock(&self.data_watch_error);
        let changed = *e != error;
        *e = error;
        changed
    }
}
