//! A scripted lattice member for monitor tests: answers `ping.hosts`, `get.{host}.inv`,
//! `get.links` and `get.claims` from a shared, mutable state, like a wasmCloud host would.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use lattice_tui::lattice::bus::{Bus, Message};
use lattice_tui::lattice::protocol::{
    ActorDescription, ActorInstance, ClaimsMap, GetClaimsResponse, Host, HostInventory,
    LinkDefinition, LinkDefinitionList, ProviderDescription, StringMap, linkdef_hash,
};
use lattice_tui::lattice::subjects::Subjects;

/// What the fake host answers.
#[derive(Debug, Clone)]
pub struct FakeState {
    pub host: Host,
    pub inventory: HostInventory,
    pub links: Vec<LinkDefinition>,
    pub claims: Vec<ClaimsMap>,
}

impl FakeState {
    /// A host `id` running `actors` (public key, instance count) and one HTTP provider.
    pub fn new(id: &str, name: &str, actors: &[(&str, usize)]) -> Self {
        let host = Host {
            id: id.to_string(),
            issuer: Some("CCLUSTER".into()),
            labels: [("hostcore.os".to_string(), "linux".to_string())].into(),
            friendly_name: name.to_string(),
            uptime_seconds: 10,
            uptime_human: Some("10 seconds".into()),
            version: Some("0.63.2".into()),
            cluster_issuers: None,
            js_domain: None,
            ctl_host: None,
            prov_rpc_host: None,
            rpc_host: None,
            lattice_prefix: Some("default".into()),
        };
        let mut s = Self {
            inventory: HostInventory {
                host_id: id.to_string(),
                issuer: None,
                friendly_name: name.to_string(),
                labels: host.labels.clone(),
                actors: vec![],
                providers: vec![ProviderDescription {
                    id: "VHTTP".into(),
                    image_ref: Some("wasmcloud.azurecr.io/httpserver:0.17.0".into()),
                    contract_id: "wasmcloud:httpserver".into(),
                    link_name: "default".into(),
                    name: Some("HTTP Server".into()),
                    instance_id: "p-1".into(),
                    annotations: None,
                    revision: 0,
                }],
            },
            host,
            links: vec![],
            claims: vec![],
        };
        for (pk, n) in actors {
            s.set_actor(pk, *n);
        }
        s
    }

    /// Sets the instance count of `public_key` (0 removes it).
    pub fn set_actor(&mut self, public_key: &str, count: usize) {
        self.inventory.actors.retain(|a| a.id != public_key);
        if count > 0 {
            self.inventory.actors.push(ActorDescription {
                id: public_key.to_string(),
                image_ref: Some(format!("registry.example/{public_key}:1")),
                name: Some(public_key.to_lowercase()),
                instances: (0..count)
                    .map(|i| ActorInstance {
                        instance_id: format!("{public_key}-{i}"),
                        annotations: Some(StringMap::new()),
                        revision: 1,
                        max_concurrent: 1,
                    })
                    .collect(),
            });
        }
        self.claims
            .retain(|c| c.get("sub").map(String::as_str) != Some(public_key));
        if count > 0 {
            self.claims.push(
                [
                    ("sub", public_key),
                    ("iss", "AACCOUNT"),
                    ("name", &public_key.to_lowercase()),
                    ("rev", "1"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            );
        }
    }

    /// Adds a link from `actor` to the HTTP provider.
    pub fn add_link(&mut self, actor: &str, port: &str) {
        self.links.push(LinkDefinition {
            id: linkdef_hash(actor, "wasmcloud:httpserver", "default"),
            actor_id: actor.to_string(),
            provider_id: "VHTTP".into(),
            link_name: "default".into(),
            contract_id: "wasmcloud:httpserver".into(),
            values: [("PORT".to_string(), port.to_string())].into(),
        });
    }
}

/// The running responder; stops when dropped.
pub struct FakeHost {
    pub state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeHost {
    /// Subscribes on `bus` for `lattice` and answers from `state`.
    pub async fn start(bus: Bus, lattice: &str, state: FakeState) -> FakeHost {
        let s = Subjects::new(lattice);
        let id = state.host.id.clone();
        let mut ping = bus.subscribe(&s.ping_hosts()).await.expect("sub ping");
        let mut inv = bus
            .subscribe(&s.host_inventory(&id))
            .await
            .expect("sub inv");
        let mut get = bus
            .queue_subscribe(
                &format!("{}.get.*", s.ctl_queue_group()),
                s.ctl_queue_group(),
            )
            .await
            .expect("sub get");
        // Answer queries from other connections as soon as this returns.
        super::round_trip(&bus, "the fake host's subscriptions reach the server").await;
        let state = Arc::new(Mutex::new(state));
        let st = state.clone();
        let links_subject = s.get_links();
        let task = tokio::spawn(async move {
            loop {
                let (msg, which): (Option<Message>, u8) = tokio::select! {
                    m = ping.next() => (m, 0),
                    m = inv.next() => (m, 1),
                    m = get.next() => (m, 2),
                };
                let Some(msg) = msg else { return };
                let Some(reply) = msg.reply.clone() else {
                    continue;
                };
                let body = {
                    let st = st.lock().unwrap();
                    match which {
                        0 => serde_json::to_vec(&st.host),
                        1 => serde_json::to_vec(&st.inventory),
                        _ if msg.subject == links_subject => {
                            serde_json::to_vec(&LinkDefinitionList {
                                links: st.links.clone(),
                            })
                        }
                        _ => serde_json::to_vec(&GetClaimsResponse {
                            claims: st.claims.clone(),
                        }),
                    }
                    .expect("serialise")
                };
                let _ = bus.publish(&reply, Bytes::from(body)).await;
            }
        });
        FakeHost { state, task }
    }
}
