//! Talking to a host the way a lattice client does: control requests, acks, inventories and
//! waiting for events.

use std::time::Duration;

use bytes::Bytes;
use lattice_tui::lattice::bus::{Bus, Subscription};
use lattice_tui::lattice::protocol::{CtlOperationAck, HostInventory, LatticeEvent};
use lattice_tui::lattice::subjects::Subjects;
use serde_json::{Value, json};

use super::within;

/// How long a test waits for one event or reply before failing.
pub const T: Duration = Duration::from_secs(10);

/// Sends a control request and returns the reply payload (panics on no reply).
pub async fn ask(bus: &Bus, subject: &str, body: Value) -> Bytes {
    bus.request(
        subject,
        Bytes::from(body.to_string()),
        super::scaled(Duration::from_secs(5)),
    )
    .await
    .unwrap_or_else(|e| panic!("{subject}: {e}"))
    .payload
}

/// Sends a command and decodes its ack.
pub async fn ack(bus: &Bus, subject: &str, body: Value) -> CtlOperationAck {
    let raw = ask(bus, subject, body).await;
    serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{subject}: not an ack: {e}"))
}

/// Waits for the next event matching `pred`, skipping others.
pub async fn event(
    sub: &mut Subscription,
    what: &str,
    pred: impl Fn(&LatticeEvent) -> bool,
) -> LatticeEvent {
    within(T, what, async {
        loop {
            let msg = sub.next().await.expect("event subscription open");
            let ev =
                LatticeEvent::from_json(&msg.payload).expect("the host publishes valid events");
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
}

/// The host's inventory.
pub async fn inventory(bus: &Bus, s: &Subjects, host: &str) -> HostInventory {
    serde_json::from_slice(&ask(bus, &s.host_inventory(host), json!({})).await).expect("inventory")
}

/// A host configuration whose lattice clients may start the built test actors
/// (`--allow-file-load target/actors`).
pub fn config_allowing_test_actors(lattice: &str) -> lattice_tui::host::HostConfig {
    let mut cfg = lattice_tui::host::HostConfig::new(lattice);
    let dir = super::actors::actor_wasm("hello")
        .parent()
        .map(std::path::Path::to_path_buf)
        .expect("the actors' directory");
    cfg.allow_file_load = vec![dir];
    cfg
}
