//! `wasmcloud:bus/host` for WASI 0.2 components: the host side of `call-sync`, the way a
//! component calls a capability provider or another actor on the lattice (the shape of
//! wasmCloud's pre-1.0 Rust host; the WIT is `assets/wit/wasmcloud-bus/bus.wit`).
//!
//! A call becomes the same [`HostCall`] a waPC actor's `__host_call` makes, handed to the
//! runtime's [`HostCalls`](super::HostCalls) (routing, the link and `caps` checks and the
//! signed RPC live in `core`/`rpc`, not here), so components and actor-era actors are routed
//! and refused alike. The calling actor is the store's actor ([`HostState`]).
//!
//! | `target` | binding | namespace | operation |
//! |---|---|---|---|
//! | `none`, `link(none)` | `default` | before the `/` | after the `/` |
//! | `link(some(n))` | `n` | before the `/` | after the `/` |
//! | `actor(public-key(pk))` | empty | `pk` | after the `/`, or all of it |
//! | `actor(alias(a))` | empty | `a` | after the `/`, or all of it |
//!
//! Operations are written `namespace/Interface.Method`, e.g.
//! `wasmcloud:keyvalue/KeyValue.Increment`. Everything the guest can get wrong (an operation
//! without `/` for a link, a payload over [`MAX_GUEST_BYTES`], an unknown actor, a refused or
//! failed call) is an `err` string for the guest, never a trap: a component can always
//! answer its own request. A guest blocked in a call is still bound by the request's
//! deadline (the runtime's host-side timer).
//!
//! Only `call-sync` and the two variants it takes are offered; wasmCloud's streaming `call`,
//! its futures and `lattice.set-target` are not, so a component importing those does not
//! link here (its load says which import is missing). Components that do not import
//! `wasmcloud:bus` are unaffected.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::invoke::HostState;
use super::{HostCall, MAX_GUEST_BYTES};

wasmtime::component::bindgen!({
    path: "assets/wit/wasmcloud-bus",
    world: "wasmcloud:bus/bus",
    imports: { default: async },
});

use self::wasmcloud::bus::host;
use self::wasmcloud::bus::lattice::{self, ActorIdentifier, TargetEntity};

/// The link name of a call that names none (as for waPC actors).
const DEFAULT_LINK: &str = "default";

/// Longest operation string accepted: 1 KiB. Real ones (`wasmcloud:keyvalue/KeyValue.Get`)
/// are a few dozen bytes; this only keeps a hostile guest's string out of logs and errors.
const MAX_OPERATION_BYTES: usize = 1024;

/// Adds `wasmcloud:bus/lattice` (its types) and `wasmcloud:bus/host` to `linker`.
///
/// # Errors
/// wasmtime refused a definition (a name defined twice).
pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    Bus::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

impl lattice::Host for HostState {}

impl host::Host for HostState {
    async fn call_sync(
        &mut self,
        target: Option<TargetEntity>,
        operation: String,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let call = host_call(self.actor(), target, &operation, payload)?;
        let calls = Arc::clone(self.calls());
        let reply = calls.host_call(call).await?;
        if reply.len() > MAX_GUEST_BYTES {
            return Err(format!(
                "the reply is {} bytes, more than {MAX_GUEST_BYTES}",
                reply.len()
            ));
        }
        Ok(reply)
    }
}

/// The [`HostCall`] of `call-sync(target, operation, payload)` by `actor` (see the module
/// docs' table), or the error text the guest gets.
fn host_call(
    actor: &str,
    target: Option<TargetEntity>,
    operation: &str,
    payload: Vec<u8>,
) -> Result<HostCall, String> {
    if operation.len() > MAX_OPERATION_BYTES {
        return Err(format!(
            "the operation is {} bytes, more than {MAX_OPERATION_BYTES}",
            operation.len()
        ));
    }
    if payload.len() > MAX_GUEST_BYTES {
        return Err(format!(
            "the payload is {} bytes, more than {MAX_GUEST_BYTES}",
            payload.len()
        ));
    }
    let (binding, namespace, operation) = match target {
        None | Some(TargetEntity::Link(None)) => link_call(DEFAULT_LINK, operation)?,
        Some(TargetEntity::Link(Some(name))) => link_call(&name, operation)?,
        Some(TargetEntity::Actor(
            ActorIdentifier::PublicKey(key) | ActorIdentifier::Alias(key),
        )) => {
            let op = operation.split_once('/').map_or(operation, |(_, op)| op);
            (String::new(), key, op.to_string())
        }
    };
    Ok(HostCall {
        actor: actor.to_string(),
        binding,
        namespace,
        operation,
        payload,
    })
}

/// Binding, namespace and operation of a call to the provider linked as `binding`.
fn link_call(binding: &str, operation: &str) -> Result<(String, String, String), String> {
    match operation.split_once('/') {
        Some((ns, op)) if !ns.is_empty() && !op.is_empty() => {
            Ok((binding.to_string(), ns.to_string(), op.to_string()))
        }
        _ => Err(format!(
            "the operation '{operation}' names no interface: a call to a link is written \
             namespace/Interface.Method, e.g. wasmcloud:keyvalue/KeyValue.Increment"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "MCALLER";

    fn parts(c: &HostCall) -> (&str, &str, &str) {
        (&c.binding, &c.namespace, &c.operation)
    }

    #[test]
    fn links_split_the_operation_at_the_slash() {
        let op = "wasmcloud:keyvalue/KeyValue.Increment";
        for target in [None, Some(TargetEntity::Link(None))] {
            let c = host_call(ME, target, op, vec![1]).unwrap();
            assert_eq!(
                parts(&c),
                ("default", "wasmcloud:keyvalue", "KeyValue.Increment")
            );
            assert_eq!((c.actor.as_str(), c.payload.as_slice()), (ME, &[1u8][..]));
        }
        let c = host_call(
            ME,
            Some(TargetEntity::Link(Some("cache".into()))),
            op,
            vec![],
        )
        .unwrap();
        assert_eq!(
            parts(&c),
            ("cache", "wasmcloud:keyvalue", "KeyValue.Increment")
        );
    }

    #[test]
    fn actors_are_the_namespace_with_an_empty_binding() {
        let key = "M".repeat(56);
        let c = host_call(
            ME,
            Some(TargetEntity::Actor(ActorIdentifier::PublicKey(key.clone()))),
            "example:pinger/Pinger.Ping",
            vec![],
        )
        .unwrap();
        assert_eq!(parts(&c), ("", key.as_str(), "Pinger.Ping"));
        let c = host_call(
            ME,
            Some(TargetEntity::Actor(ActorIdentifier::Alias("ponger".into()))),
            "Ponger.Pong",
            vec![],
        )
        .unwrap();
        assert_eq!(parts(&c), ("", "ponger", "Ponger.Pong"));
    }

    #[test]
    fn a_link_call_without_an_interface_is_an_error_string() {
        for op in [
            "KeyValue.Increment",
            "/KeyValue.Get",
            "wasmcloud:keyvalue/",
            "",
        ] {
            let e = host_call(ME, None, op, vec![]).unwrap_err();
            assert!(e.contains("names no interface"), "{op}: {e}");
        }
    }

    #[test]
    fn oversized_operations_and_payloads_are_refused() {
        let e = host_call(ME, None, &"x/".repeat(600), vec![]).unwrap_err();
        assert!(e.contains("more than 1024"), "{e}");
        let e = host_call(
            ME,
            None,
            "wasmcloud:keyvalue/KeyValue.Set",
            vec![0; MAX_GUEST_BYTES + 1],
        )
        .unwrap_err();
        assert!(e.contains("payload is"), "{e}");
    }
}
