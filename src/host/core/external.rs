//! External providers in the provider table: loading one from a file the file-load policy
//! allows (an archive or an executable; see [`crate::host::providers::external`]), its entry,
//! its events (`provider_started` on each (re)start, `provider_stopped` with the reason when it
//! exits on its own, health checks), and the links it is told about (`….linkdefs.put` /
//! `.del`, msgpack, at start and on every change).

use std::sync::{Arc, Weak};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::super::files::{Origin, read_regular_file, resolve_actor_ref};
use super::super::providers::external::{self, Artifact, Launch, MAX_PROVIDER_BYTES, Note};
use super::super::providers::host_data::HostData;
use super::super::rpc::wire::{provider_subject, to_msgpack};
use super::calls::RpcServing;
use super::{HostInner, ProviderEntry, ProviderStart, new_instance_id};
use crate::lattice::protocol::{
    EventData, HealthCheck, LinkDefinition, ProviderEventClaims, ProviderStartFailed,
    ProviderStarted, ProviderStopped, StringMap,
};
use crate::sync::lock;

/// Notes from one supervisor waiting to be handled.
const NOTE_QUEUE: usize = 16;

fn claims_of(a: &Artifact) -> ProviderEventClaims {
    ProviderEventClaims {
        issuer: Some(a.issuer.clone()),
        tags: Some(vec![]),
        name: Some(a.name.clone()),
        version: a.version.clone(),
        not_before_human: Some("immediately".into()),
        expires_human: Some("never".into()),
    }
}

impl HostInner {
    /// Where archives' binaries are unpacked for this host.
    fn provider_cache(&self) -> std::path::PathBuf {
        std::env::temp_dir()
            .join("lattice-tui-providers")
            .join(self.host_id())
    }

    /// Whether this host could start the provider at `reference` (auctions): a NATS lattice
    /// to give it, and a file the policy allows.
    pub async fn can_run_external(&self, reference: &str) -> bool {
        self.bus.nats_url().is_some()
            && super::super::files::check_loadable(&self.settings.files, reference, Origin::Lattice)
                .await
                .is_ok()
    }

    /// Starts the external provider at `reference` under `link_name`.
    pub(super) async fn start_external(
        self: &Arc<Self>,
        reference: &str,
        link_name: &str,
        annotations: StringMap,
        configuration: Option<String>,
    ) -> ProviderStart {
        let fail = |error: String| {
            EventData::ProviderStartFailed(ProviderStartFailed {
                provider_ref: reference.to_string(),
                link_name: link_name.to_string(),
                error,
            })
        };
        let artifact = match self.load_external(reference, &annotations).await {
            Ok(a) => a,
            Err(e) => {
                self.events.publish(fail(e)).await;
                return ProviderStart::Failed;
            }
        };
        let key = (artifact.public_key.clone(), link_name.to_string());
        if lock(&self.providers).contains_key(&key) {
            let error = format!(
                "provider {reference} with link name {link_name} is already running on this host"
            );
            self.events.publish(fail(error.clone())).await;
            return ProviderStart::AlreadyRunning(error);
        }
        let instance_id = new_instance_id();
        let subject = provider_subject(self.rpc.prefix(), &artifact.public_key, link_name);
        let weak = Arc::downgrade(self);
        let hd = {
            let weak = weak.clone();
            let pk = artifact.public_key.clone();
            let link = link_name.to_string();
            let instance = instance_id.clone();
            Arc::new(move || match weak.upgrade() {
                Some(h) => h.host_data(&pk, &link, &instance, configuration.clone()),
                None => HostData::default(),
            })
        };
        let launch = Launch {
            binary: artifact.binary.clone(),
            subject: subject.clone(),
            host_data: hd,
            host_id: self.host_id(),
            label: format!("{}/{link_name}", artifact.name),
        };
        let (tx, mut rx) = mpsc::channel(NOTE_QUEUE);
        let cancel = self.shutdown.child_token();
        self.tasks.spawn(external::supervise(
            launch,
            self.bus.clone(),
            tx,
            cancel.clone(),
        ));
        match rx.recv().await {
            Some(Note::Running { .. }) => {}
            Some(Note::SpawnFailed(e)) => {
                self.events.publish(fail(e)).await;
                return ProviderStart::Failed;
            }
            other => {
                cancel.cancel();
                self.events
                    .publish(fail(format!("the provider did not start: {other:?}")))
                    .await;
                return ProviderStart::Failed;
            }
        }
        lock(&self.providers).insert(
            key.clone(),
            ProviderEntry {
                builtin: None,
                contract_id: artifact.contract_id.clone(),
                name: artifact.name.clone(),
                image_ref: reference.to_string(),
                instance_id: instance_id.clone(),
                annotations: annotations.clone(),
                healthy: None,
                _serving: Some(RpcServing(cancel)),
            },
        );
        self.announce_external(&artifact, reference, link_name, &instance_id, &annotations)
            .await;
        self.tasks
            .spawn(follow_notes(weak, artifact, reference.to_string(), key, rx));
        ProviderStart::Started
    }

    async fn load_external(
        &self,
        reference: &str,
        annotations: &StringMap,
    ) -> Result<Artifact, String> {
        if self.bus.nats_url().is_none() {
            return Err(format!(
                "{reference}: external providers run only on a NATS lattice (--nats URL): they connect to it themselves"
            ));
        }
        let path = resolve_actor_ref(reference)?;
        let source = self.settings.files.check(&path, Origin::Lattice)?;
        let bytes = read_regular_file(&source, MAX_PROVIDER_BYTES).await?;
        external::prepare(bytes, &source, annotations, &self.provider_cache()).await
    }

    /// `provider_started`, the claims in the lattice data, and the links it must know.
    async fn announce_external(
        &self,
        a: &Artifact,
        reference: &str,
        link_name: &str,
        instance_id: &str,
        annotations: &StringMap,
    ) {
        let claims: crate::lattice::protocol::ClaimsMap = [
            ("sub", a.public_key.clone()),
            ("iss", a.issuer.clone()),
            ("name", a.name.clone()),
            ("call_alias", String::new()),
            ("caps", String::new()),
            ("rev", a.revision.to_string()),
            ("tags", String::new()),
            ("version", a.version.clone().unwrap_or_default()),
            ("contract_id", a.contract_id.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Err(e) = self.data.put_claims(&claims).await {
            tracing::warn!(error = %e, "could not write provider claims");
        }
        self.events
            .publish(EventData::ProviderStarted(ProviderStarted {
                public_key: a.public_key.clone(),
                image_ref: Some(reference.to_string()),
                link_name: link_name.to_string(),
                contract_id: a.contract_id.clone(),
                instance_id: instance_id.to_string(),
                annotations: annotations.clone(),
                claims: Some(claims_of(a)),
            }))
            .await;
        let links: Vec<LinkDefinition> = lock(&self.links)
            .values()
            .filter(|l| l.provider_id == a.public_key && l.link_name == link_name)
            .cloned()
            .collect();
        for l in links {
            self.send_link(&l, true).await;
        }
    }

    /// The host data of `pk` on `link`.
    fn host_data(&self, pk: &str, link: &str, instance: &str, config: Option<String>) -> HostData {
        HostData {
            host_id: self.host_id(),
            lattice_rpc_prefix: self.rpc.prefix().to_string(),
            link_name: link.to_string(),
            lattice_rpc_user_jwt: String::new(),
            lattice_rpc_user_seed: String::new(),
            lattice_rpc_url: self.bus.nats_url().unwrap_or_default(),
            provider_key: pk.to_string(),
            invocation_seed: self.identity.cluster_key_pair().seed().unwrap_or_default(),
            env_values: Default::default(),
            instance_id: instance.to_string(),
            link_definitions: lock(&self.links)
                .values()
                .filter(|l| l.provider_id == pk && l.link_name == link)
                .cloned()
                .collect(),
            cluster_issuers: self.identity.cluster_issuers.clone(),
            config_json: config,
            default_rpc_timeout_ms: u64::try_from(self.rpc.timeout().as_millis()).ok(),
            structured_logging: false,
            log_level: Some("info".into()),
        }
    }

    /// Tells a running external provider about a link (`put`) or its removal.
    pub(super) async fn send_link(&self, l: &LinkDefinition, put: bool) {
        let running = lock(&self.providers)
            .get(&(l.provider_id.clone(), l.link_name.clone()))
            .is_some_and(|p| p.builtin.is_none());
        if !running {
            return;
        }
        let subject = format!(
            "{}.linkdefs.{}",
            provider_subject(self.rpc.prefix(), &l.provider_id, &l.link_name),
            if put { "put" } else { "del" }
        );
        match to_msgpack(l) {
            Ok(body) => {
                if let Err(e) = self.bus.publish(&subject, Bytes::from(body)).await {
                    tracing::warn!(%subject, error = %e, "cannot tell the provider about a link");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode a link for a provider"),
        }
    }
}

/// Turns one supervisor's notes into events until it ends.
async fn follow_notes(
    host: Weak<HostInner>,
    a: Artifact,
    reference: String,
    key: (String, String),
    mut rx: mpsc::Receiver<Note>,
) {
    while let Some(note) = rx.recv().await {
        let Some(h) = host.upgrade() else { return };
        let (instance, annotations) = match lock(&h.providers).get(&key) {
            Some(p) => (p.instance_id.clone(), p.annotations.clone()),
            // Stopped meanwhile: its own stop published the event.
            None => return,
        };
        let stopped = |reason: String| {
            EventData::ProviderStopped(ProviderStopped {
                public_key: key.0.clone(),
                link_name: key.1.clone(),
                contract_id: a.contract_id.clone(),
                instance_id: instance.clone(),
                annotations: annotations.clone(),
                reason,
            })
        };
        match note {
            Note::Running { .. } => {
                h.announce_external(&a, &reference, &key.1, &instance, &annotations)
                    .await;
            }
            Note::Exited { reason } => {
                h.events
                    .publish(stopped(format!(
                        "the provider exited unexpectedly ({reason}); restarting it"
                    )))
                    .await;
            }
            Note::Health(ok) => {
                let before = lock(&h.providers)
                    .get_mut(&key)
                    .and_then(|p| p.healthy.replace(ok));
                let hc = HealthCheck {
                    public_key: key.0.clone(),
                    contract_id: a.contract_id.clone(),
                    link_name: key.1.clone(),
                };
                h.events
                    .publish(super::providers::health_event(before, ok, hc))
                    .await;
            }
            Note::SpawnFailed(e) => {
                tracing::warn!(provider = %a.name, error = %e, "the provider could not be restarted");
                lock(&h.providers).remove(&key);
                h.events
                    .publish(stopped(format!("the provider could not be restarted: {e}")))
                    .await;
                return;
            }
        }
    }
}
