//! `builtin:keyvalue`: the `wasmcloud:keyvalue` contract with every operation of
//! `wasmcloud-interface-keyvalue` 0.12 (`KeyValue.Get`, `Set`, `Del`, `Contains`, `Increment`,
//! `ListAdd`, `ListClear`, `ListDel`, `ListRange`, `SetAdd`, `SetDel`, `SetQuery`,
//! `SetIntersection`, `SetUnion`, `SetClear`), payloads in msgpack as the interface encodes
//! them.
//!
//! Two stores behind one [`Store`] seam: in memory on the in-process lattice, and a JetStream
//! KV bucket (`LATTICETUI_KV_{prefix}_{link}`) over NATS, so every host of the lattice running
//! the provider under the same link name sees the same data. Every change is a
//! compare-and-set on the key's revision, retried on a conflict, so concurrent `Increment`s on
//! several hosts never lose an update. Values are stored as bytes: strings as they are,
//! counters as decimal text, lists and sets as JSON arrays of strings. Keys are stored
//! base64url-encoded in the bucket (NATS keys allow few characters).
//!
//! `Set`'s `expires` is honoured in memory; the JetStream bucket has no per-key expiry (its
//! limits are per bucket), so there it is ignored with a debug line.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use base64::Engine as _;
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host::rpc::wire::{from_msgpack, to_msgpack};
use crate::lattice::protocol::interfaces::{
    GetResponse, IncrementRequest, ListAddRequest, ListDelRequest, ListRangeRequest, SetAddRequest,
    SetRequest,
};
use crate::sync::lock;

/// How often a compare-and-set is retried before the operation fails.
const MAX_CAS_RETRIES: usize = 64;

/// Largest value the provider stores: 1 MiB (NATS' default maximum message).
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// A key's value and its revision.
type Versioned = (Vec<u8>, u64);

/// Where values live.
#[derive(Debug)]
pub enum Store {
    /// One map, for the in-process lattice.
    Memory(MemoryStore),
    /// A JetStream KV bucket.
    Nats(Box<kv::Store>),
}

/// A value in memory: bytes, revision, expiry.
type MemoryEntry = (Vec<u8>, u64, Option<Instant>);

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, MemoryEntry>>,
    next: Mutex<u64>,
}

fn encode_key(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The bucket of `link_name` on lattice `prefix`: `LATTICETUI_KV_{prefix}_{link}` with every
/// character outside `[A-Za-z0-9_-]` replaced by `_`.
pub fn bucket_name(prefix: &str, link_name: &str) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("LATTICETUI_KV_{}_{}", clean(prefix), clean(link_name))
}

impl Store {
    /// A fresh in-memory store.
    pub fn memory() -> Self {
        Store::Memory(MemoryStore::default())
    }

    /// Opens (or creates) the lattice's bucket for `link_name`.
    ///
    /// # Errors
    /// JetStream is not available or refuses the bucket.
    pub async fn nats(
        client: async_nats::Client,
        prefix: &str,
        link_name: &str,
    ) -> Result<Self, String> {
        let js = jetstream::new(client);
        let bucket = bucket_name(prefix, link_name);
        let store = match js.get_key_value(bucket.clone()).await {
            Ok(s) => s,
            Err(_) => match js
                .create_key_value(kv::Config {
                    bucket: bucket.clone(),
                    history: 1,
                    max_value_size: i32::try_from(MAX_VALUE_BYTES).unwrap_or(i32::MAX),
                    ..Default::default()
                })
                .await
            {
                Ok(s) => s,
                Err(create) => js
                    .get_key_value(bucket.clone())
                    .await
                    .map_err(|_| format!("cannot open the key-value bucket {bucket}: {create}"))?,
            },
        };
        Ok(Store::Nats(Box::new(store)))
    }

    async fn get(&self, key: &str) -> Result<Option<Versioned>, String> {
        match self {
            Store::Memory(m) => {
                let mut map = lock(&m.map);
                if let Some((_, _, Some(at))) = map.get(key)
                    && Instant::now() >= *at
                {
                    map.remove(key);
                }
                Ok(map.get(key).map(|(v, r, _)| (v.clone(), *r)))
            }
            Store::Nats(s) => match s.entry(encode_key(key)).await {
                Ok(Some(e)) if e.operation == kv::Operation::Put => {
                    Ok(Some((e.value.to_vec(), e.revision)))
                }
                Ok(_) => Ok(None),
                Err(e) => Err(format!("cannot read {key}: {e}")),
            },
        }
    }

    /// Writes `value` if the key is still at `rev` (`None`: absent). `Ok(false)` on a
    /// conflict.
    async fn cas(
        &self,
        key: &str,
        rev: Option<u64>,
        value: Vec<u8>,
        expires: Option<Duration>,
    ) -> Result<bool, String> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "the value is {} bytes, more than {MAX_VALUE_BYTES}",
                value.len()
            ));
        }
        match self {
            Store::Memory(m) => {
                let mut map = lock(&m.map);
                let now_rev = map.get(key).map(|(_, r, _)| *r);
                if now_rev != rev {
                    return Ok(false);
                }
                let mut next = lock(&m.next);
                *next = next.saturating_add(1);
                let at = expires.map(|d| Instant::now() + d);
                map.insert(key.to_string(), (value, *next, at));
                Ok(true)
            }
            Store::Nats(s) => {
                if expires.is_some() {
                    tracing::debug!(
                        key,
                        "per-key expiry is not supported by the JetStream bucket; ignored"
                    );
                }
                let k = encode_key(key);
                let r = match rev {
                    None => s
                        .create(&k, Bytes::from(value))
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Some(rev) => s
                        .update(&k, Bytes::from(value), rev)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                };
                match r {
                    Ok(()) => Ok(true),
                    // A wrong last sequence (or an existing key on create) is a conflict.
                    Err(e) if e.contains("wrong last sequence") || e.contains("exist") => Ok(false),
                    Err(e) => Err(format!("cannot write {key}: {e}")),
                }
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<bool, String> {
        let existed = self.get(key).await?.is_some();
        match self {
            Store::Memory(m) => {
                lock(&m.map).remove(key);
            }
            Store::Nats(s) => {
                s.delete(encode_key(key))
                    .await
                    .map_err(|e| format!("cannot delete {key}: {e}"))?;
            }
        }
        Ok(existed)
    }

    /// Reads `key`, applies `f` to its value and writes the result, retrying on conflicts.
    async fn update<T>(
        &self,
        key: &str,
        mut f: impl FnMut(Option<&[u8]>) -> Result<(Vec<u8>, T), String>,
    ) -> Result<T, String> {
        for _ in 0..MAX_CAS_RETRIES {
            let cur = self.get(key).await?;
            let (value, out) = f(cur.as_ref().map(|(v, _)| v.as_slice()))?;
            if self.cas(key, cur.map(|(_, r)| r), value, None).await? {
                return Ok(out);
            }
        }
        Err(format!(
            "{key} changed {MAX_CAS_RETRIES} times while it was being updated; try again"
        ))
    }
}

fn strings(v: Option<&[u8]>) -> Result<Vec<String>, String> {
    match v {
        None => Ok(vec![]),
        Some(b) => serde_json::from_slice(b).map_err(|_| "the key does not hold a list".into()),
    }
}

fn json(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn arg<T: DeserializeOwned>(op: &str, msg: &[u8]) -> Result<T, String> {
    from_msgpack(msg).map_err(|e| format!("deserialization error in KeyValue.{op}: {e}"))
}

fn reply<T: Serialize>(v: &T) -> Result<Vec<u8>, String> {
    to_msgpack(v).map_err(|e| e.to_string())
}

/// Runs one `KeyValue.*` operation on `store`.
///
/// # Errors
/// The operation is unknown, its payload is not what the interface sends, or the store
/// failed; the text is what the caller's `RpcError` carries.
pub async fn handle(store: &Store, operation: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
    let op = operation.strip_prefix("KeyValue.").unwrap_or(operation);
    match op {
        "Get" => {
            let key: String = arg(op, msg)?;
            let r = match store.get(&key).await? {
                Some((v, _)) => GetResponse {
                    value: String::from_utf8_lossy(&v).into_owned(),
                    exists: true,
                },
                None => GetResponse::default(),
            };
            reply(&r)
        }
        "Set" => {
            let req: SetRequest = arg(op, msg)?;
            let expires = (req.expires > 0).then(|| Duration::from_secs(u64::from(req.expires)));
            for _ in 0..MAX_CAS_RETRIES {
                let rev = store.get(&req.key).await?.map(|(_, r)| r);
                if store
                    .cas(&req.key, rev, req.value.clone().into_bytes(), expires)
                    .await?
                {
                    return reply(&());
                }
            }
            Err(format!("{} kept changing while it was being set", req.key))
        }
        "Del" | "ListClear" | "SetClear" => {
            let key: String = arg(op, msg)?;
            reply(&store.delete(&key).await?)
        }
        "Contains" => {
            let key: String = arg(op, msg)?;
            reply(&store.get(&key).await?.is_some())
        }
        "Increment" => {
            let req: IncrementRequest = arg(op, msg)?;
            let n = store
                .update(&req.key, |v| {
                    let cur = match v {
                        None => 0i32,
                        Some(b) => std::str::from_utf8(b)
                            .ok()
                            .and_then(|s| s.trim().parse::<i32>().ok())
                            .ok_or_else(|| format!("the value of {} is not a number", req.key))?,
                    };
                    let next = cur.saturating_add(req.value);
                    Ok((next.to_string().into_bytes(), next))
                })
                .await?;
            reply(&n)
        }
        "ListAdd" => {
            let req: ListAddRequest = arg(op, msg)?;
            let len = store
                .update(&req.list_name, |v| {
                    let mut l = strings(v)?;
                    l.push(req.value.clone());
                    Ok((json(&l), u32::try_from(l.len()).unwrap_or(u32::MAX)))
                })
                .await?;
            reply(&len)
        }
        "ListDel" => {
            let req: ListDelRequest = arg(op, msg)?;
            let found = store
                .update(&req.list_name, |v| {
                    let mut l = strings(v)?;
                    let found = l.iter().position(|x| *x == req.value).map(|i| l.remove(i));
                    Ok((json(&l), found.is_some()))
                })
                .await?;
            reply(&found)
        }
        "ListRange" => {
            let req: ListRangeRequest = arg(op, msg)?;
            let l = strings(
                store
                    .get(&req.list_name)
                    .await?
                    .as_ref()
                    .map(|(v, _)| v.as_slice()),
            )?;
            let start = usize::try_from(req.start.max(0)).unwrap_or(0);
            let stop = usize::try_from(req.stop.max(0)).unwrap_or(0);
            let out: Vec<String> = l
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i >= start && *i <= stop)
                .map(|(_, s)| s)
                .collect();
            reply(&out)
        }
        "SetAdd" | "SetDel" => {
            let req: SetAddRequest = arg(op, msg)?;
            let add = op == "SetAdd";
            let changed = store
                .update(&req.set_name, |v| {
                    let mut s: BTreeSet<String> = strings(v)?.into_iter().collect();
                    let changed = if add {
                        s.insert(req.value.clone())
                    } else {
                        s.remove(&req.value)
                    };
                    Ok((json(&s), u32::from(changed)))
                })
                .await?;
            reply(&changed)
        }
        "SetQuery" => {
            let key: String = arg(op, msg)?;
            let s = strings(store.get(&key).await?.as_ref().map(|(v, _)| v.as_slice()))?;
            reply(&s)
        }
        "SetIntersection" | "SetUnion" => {
            let keys: Vec<String> = arg(op, msg)?;
            let mut acc: Option<BTreeSet<String>> = None;
            for k in &keys {
                let s: BTreeSet<String> =
                    strings(store.get(k).await?.as_ref().map(|(v, _)| v.as_slice()))?
                        .into_iter()
                        .collect();
                acc = Some(match acc {
                    None => s,
                    Some(a) if op == "SetUnion" => a.union(&s).cloned().collect(),
                    Some(a) => a.intersection(&s).cloned().collect(),
                });
            }
            let out: Vec<String> = acc.unwrap_or_default().into_iter().collect();
            reply(&out)
        }
        _ => Err(format!("method not handled KeyValue::{op}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call<T: DeserializeOwned>(s: &Store, op: &str, arg: &impl Serialize) -> T {
        let out = handle(s, op, &to_msgpack(arg).unwrap()).await.unwrap();
        from_msgpack(&out).unwrap()
    }

    #[tokio::test]
    async fn every_operation_in_memory() {
        let s = Store::memory();
        let n: i32 = call(
            &s,
            "KeyValue.Increment",
            &IncrementRequest {
                key: "c".into(),
                value: 2,
            },
        )
        .await;
        assert_eq!(n, 2);
        let n: i32 = call(
            &s,
            "KeyValue.Increment",
            &IncrementRequest {
                key: "c".into(),
                value: -5,
            },
        )
        .await;
        assert_eq!(n, -3);
        let out = handle(
            &s,
            "KeyValue.Set",
            &to_msgpack(&SetRequest {
                key: "k".into(),
                value: "v".into(),
                expires: 0,
            })
            .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(out, vec![0xc0]);
        let g: GetResponse = call(&s, "KeyValue.Get", &"k").await;
        assert_eq!(
            g,
            GetResponse {
                value: "v".into(),
                exists: true
            }
        );
        let c: bool = call(&s, "KeyValue.Contains", &"nope").await;
        assert!(!c);
        let d: bool = call(&s, "KeyValue.Del", &"k").await;
        assert!(d);
        let g: GetResponse = call(&s, "KeyValue.Get", &"k").await;
        assert!(!g.exists);
        for v in ["a", "b", "c"] {
            let _: u32 = call(
                &s,
                "KeyValue.ListAdd",
                &ListAddRequest {
                    list_name: "l".into(),
                    value: v.into(),
                },
            )
            .await;
        }
        let r: Vec<String> = call(
            &s,
            "KeyValue.ListRange",
            &ListRangeRequest {
                list_name: "l".into(),
                start: 1,
                stop: 5,
            },
        )
        .await;
        assert_eq!(r, ["b", "c"]);
        let _: u32 = call(
            &s,
            "KeyValue.SetAdd",
            &SetAddRequest {
                set_name: "s1".into(),
                value: "x".into(),
            },
        )
        .await;
        let _: u32 = call(
            &s,
            "KeyValue.SetAdd",
            &SetAddRequest {
                set_name: "s1".into(),
                value: "y".into(),
            },
        )
        .await;
        let _: u32 = call(
            &s,
            "KeyValue.SetAdd",
            &SetAddRequest {
                set_name: "s2".into(),
                value: "y".into(),
            },
        )
        .await;
        let i: Vec<String> = call(&s, "KeyValue.SetIntersection", &vec!["s1", "s2"]).await;
        assert_eq!(i, ["y"]);
        let u: Vec<String> = call(&s, "KeyValue.SetUnion", &vec!["s1", "s2"]).await;
        assert_eq!(u, ["x", "y"]);
        let err = handle(&s, "KeyValue.Nope", &[]).await.unwrap_err();
        assert_eq!(err, "method not handled KeyValue::Nope");
        let err = handle(&s, "KeyValue.Get", b"\xc1").await.unwrap_err();
        assert!(err.contains("deserialization error"), "{err}");
    }
}
