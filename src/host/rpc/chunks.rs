//! Large payloads (PROTOCOL.md §4.4): a payload over [`CHUNK_THRESHOLD`] travels through the
//! JetStream object store named after the lattice prefix — object `{invocation id}` for a
//! request, `{invocation id}-r` for a reply — and the message carries an empty `msg` with the
//! real size in `content_length`, as `wasmbus-rpc` 0.15 does (`chunkify.rs`). The reader
//! deletes the object. Only over NATS: the in-process bus carries payloads inline.

use async_nats::jetstream::{self, object_store};
use tokio::io::AsyncReadExt;

/// Payloads larger than this go through the object store (`wasmbus-rpc`: 900 KiB).
pub const CHUNK_THRESHOLD: usize = 900 * 1024;

/// Largest chunked payload this host reads: what a guest may hand over or receive.
pub const MAX_CHUNKED: u64 = crate::host::runtime::MAX_GUEST_BYTES as u64;

/// How much longer a chunked call may take (`wasmbus-rpc`'s `CHUNK_RPC_EXTRA_TIME`).
pub const CHUNK_EXTRA_TIME: std::time::Duration = std::time::Duration::from_secs(13);

/// The reply object's name for invocation `id`.
pub fn reply_name(id: &str) -> String {
    format!("{id}-r")
}

async fn store(
    client: &async_nats::Client,
    bucket: &str,
) -> Result<object_store::ObjectStore, String> {
    let js = jetstream::new(client.clone());
    match js.get_object_store(bucket).await {
        Ok(s) => Ok(s),
        Err(_) => match js
            .create_object_store(object_store::Config {
                bucket: bucket.to_string(),
                ..Default::default()
            })
            .await
        {
            Ok(s) => Ok(s),
            // Another host may have created it in between.
            Err(create) => js
                .get_object_store(bucket)
                .await
                .map_err(|_| format!("cannot open the object store {bucket}: {create}")),
        },
    }
}

/// Stores `bytes` as object `name` in `bucket`.
///
/// # Errors
/// JetStream refused.
pub async fn put(
    client: &async_nats::Client,
    bucket: &str,
    name: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let s = store(client, bucket).await?;
    let mut r = bytes;
    s.put(name, &mut r)
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot store the payload {name}: {e}"))
}

/// Reads and deletes object `name` of `bucket`, which must hold exactly `len` bytes (at most
/// [`MAX_CHUNKED`]).
///
/// # Errors
/// Too large, missing, short, or JetStream failed.
pub async fn take(
    client: &async_nats::Client,
    bucket: &str,
    name: &str,
    len: u64,
) -> Result<Vec<u8>, String> {
    if len > MAX_CHUNKED {
        return Err(format!(
            "the payload is {len} bytes, more than this host takes ({MAX_CHUNKED})"
        ));
    }
    let s = store(client, bucket).await?;
    let mut obj = s
        .get(name)
        .await
        .map_err(|e| format!("cannot read the payload {name}: {e}"))?;
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    (&mut obj)
        .take(len.saturating_add(1))
        .read_to_end(&mut out)
        .await
        .map_err(|e| format!("cannot read the payload {name}: {e}"))?;
    if let Err(e) = s.delete(name).await {
        tracing::debug!(object = name, error = %e, "cannot delete a read payload");
    }
    if u64::try_from(out.len()).unwrap_or(u64::MAX) != len {
        return Err(format!(
            "the payload {name} has {} bytes, not the {len} announced",
            out.len()
        ));
    }
    Ok(out)
}
