//! Actors: starting them from files (claims checked, compiled once per actor), their instances,
//! stopping and scaling, and the instance budget that bounds how many a host runs.
//!
//! The budget counts instances running plus instances reserved by a start in progress; a
//! start reserves before it reads or compiles anything, so a flood of starts cannot even make
//! the host do the work of ones it would then refuse.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

use super::super::claims;
use super::super::files::{Origin, check_loadable, read_regular_file, resolve_actor_ref};
use super::super::http::CallStats;
use super::super::runtime::MAX_COMPONENT_BYTES;
use super::{
    ActorEntry, HostInner, InstanceInfo, OpError, annotations_match, file_stem, new_instance_id,
};
use crate::lattice::protocol::{
    ActorStartFailed, ActorStarted, ActorStopped, ActorsStartFailed, ActorsStarted, ActorsStopped,
    EventData, StringMap,
};
use crate::sync::lock;

/// Instance slots taken from the host's budget; given back when dropped unless they became
/// running instances.
pub(crate) struct InstanceReservation {
    used: Arc<AtomicUsize>,
    n: usize,
}

impl InstanceReservation {
    /// How many slots it holds.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// The slots are now running instances: they stay counted.
    fn commit(mut self) {
        self.n = 0;
    }
}

impl Drop for InstanceReservation {
    fn drop(&mut self) {
        if self.n > 0 {
            self.used.fetch_sub(self.n, Ordering::AcqRel);
        }
    }
}

/// Saturating `usize` → `u64` for event counts.
fn count64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl HostInner {
    fn over_budget(&self, n: usize, used: usize) -> OpError {
        format!(
            "cannot start {n} more actor instance(s): this host runs at most {} (--max-instances) and {used} are running or starting",
            self.settings.limits.max_instances
        )
    }

    /// Takes `n` instance slots from the budget.
    ///
    /// # Errors
    /// They do not fit under [`super::HostLimits::max_instances`].
    pub fn reserve_instances(&self, n: usize) -> Result<InstanceReservation, OpError> {
        let max = self.settings.limits.max_instances;
        let mut used = self.instances_used.load(Ordering::Acquire);
        loop {
            let Some(next) = used.checked_add(n).filter(|t| *t <= max) else {
                return Err(self.over_budget(n, used));
            };
            match self.instances_used.compare_exchange_weak(
                used,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Ok(InstanceReservation {
                        used: Arc::clone(&self.instances_used),
                        n,
                    });
                }
                Err(now) => used = now,
            }
        }
    }

    /// Whether `n` more instances fit now: the check behind an immediate failure ack. The
    /// reservation made when the work runs is what counts.
    ///
    /// # Errors
    /// They do not fit.
    pub fn check_room(&self, n: usize) -> Result<(), OpError> {
        let used = self.instances_used();
        match used.checked_add(n) {
            Some(t) if t <= self.settings.limits.max_instances => Ok(()),
            _ => Err(self.over_budget(n, used)),
        }
    }

    /// Starts `count` instances of the actor at `actor_ref` (named by `origin`) and returns
    /// its public key. Publishes `actor_started` per instance and `actors_started`, or
    /// `actor_start_failed` + `actors_start_failed` with the reason.
    ///
    /// # Errors
    /// Why it did not start (also published).
    pub async fn start_actor(
        self: &Arc<Self>,
        actor_ref: &str,
        count: u16,
        annotations: StringMap,
        origin: Origin,
    ) -> Result<String, OpError> {
        match self
            .try_start_actor(actor_ref, count, &annotations, origin)
            .await
        {
            Ok(pk) => Ok(pk),
            Err((public_key, error)) => {
                self.publish_start_failed(actor_ref, public_key, annotations, &error)
                    .await;
                Err(error)
            }
        }
    }

    /// `actor_start_failed` + `actors_start_failed` for a start of `actor_ref`.
    pub async fn publish_start_failed(
        &self,
        actor_ref: &str,
        public_key: Option<String>,
        annotations: StringMap,
        error: &str,
    ) {
        tracing::warn!(actor_ref, %error, "actor start failed");
        self.events
            .publish(EventData::ActorStartFailed(ActorStartFailed {
                actor_ref: actor_ref.to_string(),
                error: error.to_string(),
            }))
            .await;
        self.events
            .publish(EventData::ActorsStartFailed(ActorsStartFailed {
                public_key: public_key.unwrap_or_default(),
                image_ref: Some(actor_ref.to_string()),
                annotations,
                host_id: self.host_id(),
                error: error.to_string(),
            }))
            .await;
    }

    /// The running actor started from exactly `actor_ref`, if any.
    pub fn actor_by_ref(&self, actor_ref: &str) -> Option<String> {
        lock(&self.actors)
            .values()
            .find(|a| a.image_ref == actor_ref)
            .map(|a| a.identity.public_key.clone())
    }

    /// Instance count of a running actor.
    pub fn actor_count(&self, public_key: &str) -> Option<usize> {
        lock(&self.actors)
            .get(public_key)
            .map(|a| a.instances.len())
    }

    /// Whether a lattice client could have this host start an instance of `actor_ref`: the
    /// auction's question (PROTOCOL.md §2.4). A host bids only for what it would run: a file
    /// it may load (or an actor it runs already) and room in its instance budget.
    ///
    /// # Errors
    /// Why it could not.
    pub async fn can_run_actor(&self, actor_ref: &str) -> Result<(), OpError> {
        if self.actor_by_ref(actor_ref).is_none() {
            check_loadable(&self.settings.files, actor_ref, Origin::Lattice).await?;
        }
        self.check_room(1)
    }

    async fn try_start_actor(
        self: &Arc<Self>,
        actor_ref: &str,
        count: u16,
        annotations: &StringMap,
        origin: Origin,
    ) -> Result<String, (Option<String>, OpError)> {
        let count = usize::from(count.max(1));
        let slots = self.reserve_instances(count).map_err(|e| (None, e))?;
        if let Some(pk) = self.actor_by_ref(actor_ref) {
            self.add_instances(&pk, slots, annotations, actor_ref).await;
            return Ok(pk);
        }
        let path = resolve_actor_ref(actor_ref).map_err(|e| (None, e))?;
        let source = self
            .settings
            .files
            .check(&path, origin)
            .map_err(|e| (None, e))?;
        let limit = u64::try_from(MAX_COMPONENT_BYTES).unwrap_or(u64::MAX);
        let bytes = read_regular_file(&source, limit)
            .await
            .map_err(|e| (None, e))?;
        let policy = self.settings.policy.clone();
        let stem = file_stem(&path);
        let source_text = source.to_string_lossy().into_owned();
        let (identity, bytes) = tokio::task::spawn_blocking(move || {
            claims::identify(&bytes, &source_text, &stem, &policy).map(|id| (id, bytes))
        })
        .await
        .map_err(|e| (None, format!("claims check failed: {e}")))?
        .map_err(|e| (None, e.to_string()))?;
        let pk = identity.public_key.clone();
        if origin == Origin::Operator {
            self.settings.files.allow_file(&path, source.clone());
        }
        if lock(&self.actors).contains_key(&pk) {
            self.add_instances(&pk, slots, annotations, actor_ref).await;
            return Ok(pk);
        }
        let loaded = self
            .runtime
            .load(bytes, i64::from(identity.rev.unwrap_or(0)))
            .await
            .map_err(|e| (Some(pk.clone()), e.to_string()))?;
        if let Some(reason) = &loaded.no_http_reason {
            tracing::info!(actor = %pk, %reason, "actor started without an HTTP handler");
        }
        let wants_watch = self.settings.watch_all
            || annotations
                .get(super::super::reload::WATCH_ANNOTATION)
                .is_some_and(|v| v == "true");
        let watched = wants_watch && super::super::reload::watch(&self.watcher, &source);
        let rpc = self.serve_actor_rpc(&pk).await.map_err(|e| {
            (
                Some(pk.clone()),
                format!("cannot subscribe to the actor's RPC subject: {e}"),
            )
        })?;
        {
            let mut actors = lock(&self.actors);
            if !actors.contains_key(&pk) {
                let (live, _) = watch::channel(loaded);
                actors.insert(
                    pk.clone(),
                    ActorEntry {
                        identity: identity.clone(),
                        image_ref: actor_ref.to_string(),
                        source,
                        live,
                        stats: Arc::new(CallStats::default()),
                        instances: BTreeMap::new(),
                        watched,
                        last_reload: None,
                        last_error: None,
                        _rpc: rpc,
                    },
                );
            }
        }
        if let Err(e) = self.data.put_claims(&identity.claims_map()).await {
            tracing::warn!(error = %e, actor = %pk, "could not write actor claims to the lattice data");
        }
        self.add_instances(&pk, slots, annotations, actor_ref).await;
        self.reconcile_routes().await;
        Ok(pk)
    }

    /// Turns reserved slots into running instances of `pk` and publishes their events. If the
    /// actor is gone meanwhile, the slots go back.
    async fn add_instances(
        &self,
        pk: &str,
        slots: InstanceReservation,
        annotations: &StringMap,
        actor_ref: &str,
    ) {
        let (ids, claims, image_ref) = {
            let mut actors = lock(&self.actors);
            let Some(a) = actors.get_mut(pk) else { return };
            let ids: Vec<String> = (0..slots.len()).map(|_| new_instance_id()).collect();
            for id in &ids {
                a.instances.insert(
                    id.clone(),
                    InstanceInfo {
                        annotations: annotations.clone(),
                    },
                );
            }
            slots.commit();
            (ids, a.identity.event_claims(), actor_ref.to_string())
        };
        for id in &ids {
            self.events
                .publish(EventData::ActorStarted(ActorStarted {
                    public_key: pk.to_string(),
                    image_ref: Some(image_ref.clone()),
                    api_version: Some("n/a".into()),
                    instance_id: id.clone(),
                    annotations: annotations.clone(),
                    claims: Some(claims.clone()),
                }))
                .await;
        }
        self.events
            .publish(EventData::ActorsStarted(ActorsStarted {
                public_key: pk.to_string(),
                image_ref: Some(image_ref),
                annotations: annotations.clone(),
                host_id: self.host_id(),
                claims: Some(claims),
                count: count64(ids.len()),
            }))
            .await;
    }

    /// Stops up to `count` instances (`None` or 0: all) of `public_key` carrying `filter`.
    ///
    /// # Errors
    /// The actor does not run here, or no instance matches.
    pub async fn stop_actor(
        self: &Arc<Self>,
        public_key: &str,
        count: Option<u16>,
        filter: &StringMap,
    ) -> Result<(), OpError> {
        let (stopped, remaining, gone) = {
            let mut actors = lock(&self.actors);
            let Some(a) = actors.get_mut(public_key) else {
                return Err(format!("actor {public_key} is not running on this host"));
            };
            let limit = match count {
                None | Some(0) => usize::MAX,
                Some(n) => usize::from(n),
            };
            let ids: Vec<String> = a
                .instances
                .iter()
                .filter(|(_, i)| annotations_match(&i.annotations, filter))
                .map(|(id, _)| id.clone())
                .take(limit)
                .collect();
            if ids.is_empty() {
                return Err(format!(
                    "no instance of actor {public_key} matches the given annotations"
                ));
            }
            let stopped: Vec<(String, InstanceInfo)> = ids
                .into_iter()
                .filter_map(|id| a.instances.remove(&id).map(|i| (id, i)))
                .collect();
            self.instances_used
                .fetch_sub(stopped.len(), Ordering::AcqRel);
            let remaining = a.instances.len();
            let gone = if remaining == 0 {
                actors
                    .remove(public_key)
                    .filter(|a| a.watched)
                    .map(|a| a.source)
            } else {
                None
            };
            (stopped, remaining, gone)
        };
        if let Some(source) = gone {
            super::super::reload::unwatch_if_unused(self, &source);
        }
        self.publish_stopped(public_key, &stopped, remaining, filter)
            .await;
        if remaining == 0 {
            self.reconcile_routes().await;
        }
        Ok(())
    }

    async fn publish_stopped(
        &self,
        public_key: &str,
        stopped: &[(String, InstanceInfo)],
        remaining: usize,
        filter: &StringMap,
    ) {
        for (id, info) in stopped {
            self.events
                .publish(EventData::ActorStopped(ActorStopped {
                    public_key: public_key.to_string(),
                    instance_id: id.clone(),
                    annotations: info.annotations.clone(),
                }))
                .await;
        }
        self.events
            .publish(EventData::ActorsStopped(ActorsStopped {
                host_id: self.host_id(),
                public_key: public_key.to_string(),
                count: count64(stopped.len()),
                remaining: count64(remaining),
                annotations: filter.clone(),
            }))
            .await;
    }

    /// Which running actor a scale request means, its instance count, and the count it asks
    /// for. `count: None` means "unbounded" (at least one).
    fn scale_target(
        &self,
        actor_id: Option<&str>,
        actor_ref: &str,
        count: Option<u16>,
    ) -> (Option<String>, usize, usize) {
        let pk = actor_id
            .filter(|id| !id.is_empty() && self.actor_count(id).is_some())
            .map(str::to_string)
            .or_else(|| self.actor_by_ref(actor_ref));
        let current = pk
            .as_deref()
            .and_then(|pk| self.actor_count(pk))
            .unwrap_or(0);
        let desired = match count {
            Some(n) => usize::from(n),
            None => current.max(1),
        };
        (pk, current, desired)
    }

    /// Whether a scale request fits the instance budget now (the immediate-ack check).
    ///
    /// # Errors
    /// The instances it would add do not fit.
    pub fn check_scale_room(
        &self,
        actor_id: Option<&str>,
        actor_ref: &str,
        count: Option<u16>,
    ) -> Result<(), OpError> {
        let (_, current, desired) = self.scale_target(actor_id, actor_ref, count);
        self.check_room(desired.saturating_sub(current))
    }

    /// Scales an actor to `count` instances (`None`: unbounded, i.e. at least one; 0: stop
    /// all). `actor_id` may be absent or empty (washboard, control-interface 0.30): the actor
    /// is then found by its reference, and started from it if it does not run.
    ///
    /// # Errors
    /// Why the scale failed (a failed start is also published).
    pub async fn scale_actor(
        self: &Arc<Self>,
        actor_id: Option<&str>,
        actor_ref: &str,
        count: Option<u16>,
        annotations: StringMap,
        origin: Origin,
    ) -> Result<(), OpError> {
        let (pk, current, desired) = self.scale_target(actor_id, actor_ref, count);
        match pk {
            None if desired == 0 => Ok(()),
            None => {
                let n = u16::try_from(desired).unwrap_or(u16::MAX);
                self.start_actor(actor_ref, n, annotations, origin)
                    .await
                    .map(|_| ())
            }
            Some(pk) if desired > current => {
                let image_ref = lock(&self.actors)
                    .get(&pk)
                    .map(|a| a.image_ref.clone())
                    .unwrap_or_else(|| actor_ref.to_string());
                match self.reserve_instances(desired - current) {
                    Ok(slots) => {
                        self.add_instances(&pk, slots, &annotations, &image_ref)
                            .await;
                        Ok(())
                    }
                    Err(e) => {
                        self.publish_start_failed(&image_ref, Some(pk), annotations, &e)
                            .await;
                        Err(e)
                    }
                }
            }
            Some(pk) if desired < current => {
                let n = u16::try_from(current - desired).unwrap_or(u16::MAX);
                self.stop_actor(&pk, Some(n), &StringMap::new())
                    .await
                    .inspect_err(|e| tracing::warn!(actor = %pk, error = %e, "scale down failed"))
            }
            Some(_) => Ok(()),
        }
    }

    /// Stops every actor (shutdown), with their events.
    pub async fn stop_all_actors(self: &Arc<Self>) {
        let all: Vec<String> = lock(&self.actors).keys().cloned().collect();
        for pk in all {
            let _ = self.stop_actor(&pk, None, &StringMap::new()).await;
        }
    }

    /// Watched actors running from the file `path` (hot reload).
    pub fn watched_actors_of(&self, path: &std::path::Path) -> Vec<String> {
        lock(&self.actors)
            .iter()
            .filter(|(_, a)| a.watched && a.source == path)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Notes that a watched actor's file went missing (the running version keeps serving).
    pub fn note_missing_file(&self, actor_id: &str, path: &std::path::Path) {
        if let Some(a) = lock(&self.actors).get_mut(actor_id) {
            a.last_error = Some(format!(
                "{} is missing; the running version keeps serving",
                path.display()
            ));
        }
    }
}
