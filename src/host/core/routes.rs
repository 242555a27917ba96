//! Links → routes: every link the lattice data reports is kept here, and those for the
//! built-in HTTP provider (of an actor running here, on a link name the provider runs under)
//! are applied to the HTTP provider as routes. Also the state of the lattice-data watch, which
//! the supervisor in `lifecycle.rs` reports here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::super::http::ActorTarget;
use super::super::lattice_data::LinkChange;
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
    pub async fn reconcile_routes(&self) {
        let _serial = self.reconcile_lock.lock().await;
        let want: BTreeMap<String, (AppliedRoute, ActorTarget)> = {
            let links = lock(&self.links);
            let actors = lock(&self.actors);
            let providers = lock(&self.providers);
            links
                .values()
                .filter(|l| {
                    l.contract_id == HTTP_CONTRACT
                        && l.provider_id == self.builtin_http_key
                        && providers.contains_key(&(l.provider_id.clone(), l.link_name.clone()))
                })
                .filter_map(|l| {
                    let a = actors.get(&l.actor_id)?;
                    Some((
                        l.id.clone(),
                        (
                            AppliedRoute {
                                actor_id: l.actor_id.clone(),
                                values: l.values.clone(),
                            },
                            ActorTarget {
                                actor_id: l.actor_id.clone(),
                                live: a.live.subscribe(),
                                stats: a.stats.clone(),
                            },
                        ),
                    ))
                })
                .collect()
        };
        let have = lock(&self.routes).clone();
        for (id, applied) in &have {
            if want.get(id).map(|(a, _)| a) != Some(applied) {
                self.http.remove_route(id).await;
                lock(&self.routes).remove(id);
                lock(&self.route_errors).remove(id);
            }
        }
        let mut errors_changed = false;
        for (id, (applied, target)) in want {
            if lock(&self.routes).contains_key(&id) {
                continue;
            }
            match self.http.put_route(&id, target, &applied.values).await {
                Ok(addr) => {
                    tracing::info!(link = %id, actor = %applied.actor_id, %addr, "HTTP route up");
                    lock(&self.routes).insert(id.clone(), applied);
                    errors_changed |= lock(&self.route_errors).remove(&id).is_some();
                }
                Err(e) => {
                    tracing::warn!(link = %id, error = %e, "cannot serve HTTP for a link");
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
