//! rpc-015: drives the actor era's RPC wire with `wasmbus-rpc` 0.15's own code, so that a
//! recorder on `>` captures real bytes (see README.md next to this file).
//!
//!   rpc-015 keygen KEYS.json
//!       new fixed test keys (nkeys 0.3): cluster, host, actor, unlinked actor, provider,
//!       foreign cluster, plus the instance id. Run once; the fixtures keep them.
//!   rpc-015 record NATS_URL MONITOR_HOST:PORT KEYS.json PROVIDER_BIN OUT_DIR
//!       starts the provider with a host-data line on stdin and runs the session's steps.
//!       Before each step it publishes a marker on `recorder.step` (JSON `{"step","what"}`) so
//!       the capture can be cut into steps; writes OUT_DIR/host_data.b64, host_data.json,
//!       subsz.json, connz.json, results.json, provider-stderr.log.
//!
//! Everything sent is built from the SDK's types and written by the SDK's serializers:
//! `HostData` (serde_json + base64 0.13, as `load_host_data` reads it), `LinkDefinition`
//! (`wasmbus_rpc::common::serialize`), invocations by `RpcClient` (through the interface
//! crates' `KeyValueSender` / `HttpServerSender`, which serialize the operation payloads with
//! their own types and name the operations), provider → actor through the SDK's own
//! `ProviderTransport` on a `HostBridge`. The refused invocations start as an `RpcClient`
//! invocation sent to a side subject, are decoded with the SDK's `Invocation`, changed in one
//! field (or re-signed with wascap's `Claims::encode`), re-encoded with the SDK's serializer and
//! forwarded to the provider.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmbus_rpc::async_nats;
use wasmbus_rpc::common::{deserialize, serialize, Context, Message, SendOpts, Transport};
use wasmbus_rpc::core::{HostData, Invocation, LinkDefinition, WasmCloudEntity};
use wasmbus_rpc::error::RpcResult;
use wasmbus_rpc::provider::prelude::async_trait;
use wasmbus_rpc::rpc_client::RpcClient;
use wasmbus_rpc::wascap::jwt;
use wasmbus_rpc::wascap::prelude::{Claims, KeyPair};
use wasmcloud_interface_httpserver::{HttpRequest, HttpServer, HttpServerSender};
use wasmcloud_interface_keyvalue::{IncrementRequest, KeyValue, KeyValueSender, SetRequest};

type Error = Box<dyn std::error::Error + Send + Sync>;

const LATTICE: &str = "default";
const LINK_NAME: &str = "default";
const CONTRACT: &str = "wasmcloud:keyvalue";
/// Side lattice prefix for invocations the recorder alters before forwarding them.
const SIDE_LATTICE: &str = "mitm";
/// Over wasmbus-rpc 0.15's chunking threshold (900 KiB = 921,600 bytes of operation payload).
const BIG_VALUE_LEN: usize = 921_700;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("keygen") if args.len() == 2 => keygen(Path::new(&args[1])),
        Some("record") if args.len() == 6 => {
            record(&args[1], &args[2], Path::new(&args[3]), Path::new(&args[4]), &args[5].clone().into())
                .await
        }
        _ => Err("usage: rpc-015 keygen KEYS.json | rpc-015 record NATS_URL MONITOR KEYS.json PROVIDER_BIN OUT_DIR".into()),
    }
}

fn keygen(out: &Path) -> Result<(), Error> {
    let cluster = KeyPair::new_cluster();
    let foreign = KeyPair::new_cluster();
    let host = KeyPair::new_server();
    let actor = KeyPair::new_module();
    let unlinked = KeyPair::new_module();
    let provider = KeyPair::new_service();
    let doc = json!({
        "note": "Fixed test keys for tests/fixtures/rpc (made by `rpc-015 keygen`, nkeys 0.3). Test-only: never use them for anything else.",
        "lattice_prefix": LATTICE,
        "link_name": LINK_NAME,
        "contract_id": CONTRACT,
        "cluster_seed": cluster.seed()?,
        "cluster_public_key": cluster.public_key(),
        "host_seed": host.seed()?,
        "host_id": host.public_key(),
        "actor_seed": actor.seed()?,
        "actor_public_key": actor.public_key(),
        "unlinked_actor_seed": unlinked.seed()?,
        "unlinked_actor_public_key": unlinked.public_key(),
        "provider_seed": provider.seed()?,
        "provider_public_key": provider.public_key(),
        "foreign_cluster_seed": foreign.seed()?,
        "foreign_cluster_public_key": foreign.public_key(),
        "instance_id": wasmbus_rpc::rpc_client::make_uuid(),
    });
    std::fs::write(out, serde_json::to_string_pretty(&doc)? + "\n")?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

struct Keys {
    doc: Json,
    cluster: Arc<KeyPair>,
    foreign: Arc<KeyPair>,
}

impl Keys {
    fn load(path: &Path) -> Result<Keys, Error> {
        let doc: Json = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let kp = |k: &str| -> Result<Arc<KeyPair>, Error> {
            Ok(Arc::new(KeyPair::from_seed(
                doc[k].as_str().ok_or(format!("keys: no {k}"))?,
            )?))
        };
        let (cluster, foreign) = (kp("cluster_seed")?, kp("foreign_cluster_seed")?);
        Ok(Keys {
            cluster,
            foreign,
            doc,
        })
    }
    fn s(&self, k: &str) -> String {
        self.doc[k].as_str().unwrap_or_default().to_string()
    }
}

/// An interface crate's `Transport` that sends through an `RpcClient` (what a host does for an
/// actor's `__host_call`, and what wash's `call` did).
#[derive(Clone)]
struct RpcTransport {
    client: RpcClient,
    origin: WasmCloudEntity,
    target: WasmCloudEntity,
    lattice: String,
}

#[async_trait]
impl Transport for RpcTransport {
    async fn send(
        &self,
        _ctx: &Context,
        req: Message<'_>,
        _opts: Option<SendOpts>,
    ) -> RpcResult<Vec<u8>> {
        self.client
            .send(self.origin.clone(), self.target.clone(), &self.lattice, req)
            .await
    }
    fn set_timeout(&self, _interval: Duration) {}
}

struct Session {
    nc: async_nats::Client,
    keys: Keys,
    monitor: String,
    out: PathBuf,
    results: Vec<Json>,
}

fn actor_entity(pk: &str) -> WasmCloudEntity {
    WasmCloudEntity {
        public_key: pk.to_string(),
        link_name: String::new(),
        contract_id: String::new(),
    }
}

fn outcome<T: serde::Serialize>(r: &RpcResult<T>) -> Json {
    match r {
        Ok(v) => json!({"ok": v}),
        Err(e) => json!({"error": e.to_string(), "error_debug": format!("{e:?}")}),
    }
}

impl Session {
    fn provider_entity(&self) -> WasmCloudEntity {
        WasmCloudEntity {
            public_key: self.keys.s("provider_public_key"),
            link_name: LINK_NAME.to_string(),
            contract_id: CONTRACT.to_string(),
        }
    }

    fn provider_subject(&self, suffix: &str) -> String {
        format!(
            "wasmbus.rpc.{LATTICE}.{}.{LINK_NAME}{suffix}",
            self.keys.s("provider_public_key")
        )
    }

    fn rpc_client(&self, key: &Arc<KeyPair>) -> RpcClient {
        RpcClient::new(
            self.nc.clone(),
            self.keys.s("host_id"),
            Some(Duration::from_millis(2000)),
            key.clone(),
        )
    }

    fn kv(
        &self,
        origin_pk: &str,
        key: &Arc<KeyPair>,
        lattice: &str,
    ) -> KeyValueSender<RpcTransport> {
        KeyValueSender::via(RpcTransport {
            client: self.rpc_client(key),
            origin: actor_entity(origin_pk),
            target: self.provider_entity(),
            lattice: lattice.to_string(),
        })
    }

    fn link(&self) -> LinkDefinition {
        let mut ld = LinkDefinition::default();
        ld.actor_id = self.keys.s("actor_public_key");
        ld.provider_id = self.keys.s("provider_public_key");
        ld.link_name = LINK_NAME.to_string();
        ld.contract_id = CONTRACT.to_string();
        ld.values = HashMap::from([("NOTE".to_string(), "recorded by rpc-015".to_string())]);
        ld
    }

    async fn step(&mut self, name: &str, what: &str) -> Result<(), Error> {
        eprintln!("--> {name}: {what}");
        let marker = json!({"step": name, "what": what});
        self.nc
            .publish(
                "recorder.step".to_string(),
                serde_json::to_vec(&marker)?.into(),
            )
            .await?;
        self.nc.flush().await?;
        Ok(())
    }

    fn result(&mut self, name: &str, r: Json) {
        eprintln!("    {name}: {r}");
        self.results.push(json!({"step": name, "result": r}));
    }

    async fn monitor_get(&self, path: &str) -> Result<Json, Error> {
        let mut s = tokio::net::TcpStream::connect(&self.monitor).await?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.monitor).as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        let text = String::from_utf8(buf)?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .ok_or("monitor: no body")?;
        Ok(serde_json::from_str(body)?)
    }

    /// Sends `send` to the side lattice, takes the invocation the SDK wrote there, lets `alter`
    /// change it, forwards it to the provider and answers the sender with the provider's reply.
    async fn altered<F, S, Fut, T>(&mut self, alter: F, send: S) -> Result<RpcResult<T>, Error>
    where
        F: FnOnce(&mut Invocation) -> Result<(), Error>,
        S: FnOnce() -> Fut,
        Fut: std::future::Future<Output = RpcResult<T>>,
    {
        let side = format!(
            "wasmbus.rpc.{SIDE_LATTICE}.{}.{LINK_NAME}",
            self.keys.s("provider_public_key")
        );
        let mut sub = self.nc.subscribe(side).await?;
        self.nc.flush().await?;
        let nc = self.nc.clone();
        let real = self.provider_subject("");
        let relay = async move {
            let msg = sub.next().await.ok_or("side subscription closed")?;
            let mut inv: Invocation = deserialize(&msg.payload)?;
            alter(&mut inv)?;
            let reply = nc.request(real, serialize(&inv)?.into()).await?;
            if let Some(to) = msg.reply {
                nc.publish(to, reply.payload).await?;
                nc.flush().await?;
            }
            Ok::<(), Error>(())
        };
        let (r, relayed) = tokio::join!(send(), relay);
        relayed?;
        Ok(r)
    }
}

async fn record(
    url: &str,
    monitor: &str,
    keys: &Path,
    provider: &Path,
    out: &PathBuf,
) -> Result<(), Error> {
    std::fs::create_dir_all(out)?;
    let keys = Keys::load(keys)?;
    let nc = async_nats::connect(url).await?;
    let mut s = Session {
        nc,
        keys,
        monitor: monitor.to_string(),
        out: out.clone(),
        results: Vec::new(),
    };
    let actor = s.keys.s("actor_public_key");
    let cluster = s.keys.cluster.clone();

    // a. host data and the provider process
    let mut hd = HostData::default();
    hd.host_id = s.keys.s("host_id");
    hd.lattice_rpc_prefix = LATTICE.to_string();
    hd.link_name = LINK_NAME.to_string();
    hd.lattice_rpc_user_jwt = String::new();
    hd.lattice_rpc_user_seed = String::new();
    hd.lattice_rpc_url = url.to_string();
    hd.provider_key = s.keys.s("provider_public_key");
    hd.invocation_seed = s.keys.s("cluster_seed");
    hd.env_values = HashMap::from([(
        "KV_MEMORY_NOTE".to_string(),
        "env value from host data".to_string(),
    )]);
    hd.instance_id = s.keys.s("instance_id");
    hd.link_definitions = Vec::new();
    hd.cluster_issuers = vec![s.keys.s("cluster_public_key")];
    hd.config_json = Some("{\"recorded\":true}".to_string());
    hd.default_rpc_timeout_ms = Some(2000);
    hd.structured_logging = false;
    hd.log_level = Some("info".to_string());
    let json_bytes = serde_json::to_vec(&hd)?;
    let line = base64::encode(&json_bytes);
    std::fs::write(out.join("host_data.b64"), format!("{line}\n"))?;
    std::fs::write(out.join("host_data.json"), &json_bytes)?;

    s.step(
        "provider_start",
        "start the provider, write the host-data line (base64 of HostData JSON + \\n) to its stdin",
    )
    .await?;
    let log = std::fs::File::create(out.join("provider-stderr.log"))?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(provider)
        .stdin(std::process::Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    stdin.write_all(format!("{line}\n").as_bytes()).await?;
    stdin.flush().await?;

    // Wait for its five subscriptions (health is subscribed last).
    let health = s.provider_subject(".health");
    let deadline = Instant::now() + Duration::from_secs(20);
    let subsz = loop {
        let subsz = s.monitor_get("/subsz?subs=1").await?;
        let has_health = subsz["subscriptions_list"]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| e["subject"] == health.as_str()));
        if has_health {
            break subsz;
        }
        if Instant::now() > deadline {
            return Err("provider did not subscribe within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    std::fs::write(
        out.join("subsz.json"),
        serde_json::to_string_pretty(&subsz)? + "\n",
    )?;
    let connz = s.monitor_get("/connz?subs=detail").await?;
    std::fs::write(
        out.join("connz.json"),
        serde_json::to_string_pretty(&connz)? + "\n",
    )?;
    s.result(
        "provider_start",
        json!({"subscribed_after_ms": started.elapsed().as_millis() as u64}),
    );

    // b. link put (the host publishes; no reply)
    s.step(
        "linkdefs_put",
        "publish the LinkDefinition actor -> provider (SDK serialize) on ….linkdefs.put",
    )
    .await?;
    s.nc.publish(
        s.provider_subject(".linkdefs.put"),
        serialize(&s.link())?.into(),
    )
    .await?;
    s.nc.flush().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // c. health check, as the OTP host sends it
    s.step(
        "health",
        "request ….health with msgpack {\"placeholder\":true}",
    )
    .await?;
    let placeholder = BTreeMap::from([("placeholder", true)]);
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        s.nc.request(health.clone(), serialize(&placeholder)?.into()),
    )
    .await??;
    let hr: RpcResult<wasmbus_rpc::core::HealthCheckResponse> = deserialize(&reply.payload);
    s.result("health", outcome(&hr));

    // d. invocations actor -> provider
    let kv = s.kv(&actor, &cluster, LATTICE);
    let ctx = Context::default();
    s.step(
        "kv_set",
        "KeyValue.Set {key greeting, value hello, expires 0}",
    )
    .await?;
    let r = kv
        .set(
            &ctx,
            &SetRequest {
                key: "greeting".into(),
                value: "hello".into(),
                expires: 0,
            },
        )
        .await;
    s.result("kv_set", outcome(&r));
    s.step("kv_get", "KeyValue.Get \"greeting\"").await?;
    let r = kv.get(&ctx, "greeting").await;
    s.result("kv_get", outcome(&r));
    s.step(
        "kv_increment",
        "KeyValue.Increment {key counter:/hits, value 1}",
    )
    .await?;
    let r = kv
        .increment(
            &ctx,
            &IncrementRequest {
                key: "counter:/hits".into(),
                value: 1,
            },
        )
        .await;
    s.result("kv_increment", outcome(&r));

    // e. refused invocations
    s.step(
        "err_unlinked",
        "KeyValue.Get \"greeting\" from an actor with no link",
    )
    .await?;
    let r = s
        .kv(&s.keys.s("unlinked_actor_public_key"), &cluster, LATTICE)
        .get(&ctx, "greeting")
        .await;
    s.result("err_unlinked", outcome(&r));

    s.step(
        "err_foreign_issuer",
        "KeyValue.Get \"greeting\" signed by a cluster key not in cluster_issuers",
    )
    .await?;
    let foreign = s.keys.foreign.clone();
    let r = s.kv(&actor, &foreign, LATTICE).get(&ctx, "greeting").await;
    s.result("err_foreign_issuer", outcome(&r));

    let side = s.kv(&actor, &cluster, SIDE_LATTICE);
    s.step("err_tampered", "KeyValue.Get \"greeting\" signed by the SDK on the side subject, msg replaced by \"password\" (same length) before forwarding").await?;
    let r = s
        .altered(
            |inv| {
                inv.msg = serialize(&"password")?;
                Ok(())
            },
            || side.get(&ctx, "greeting"),
        )
        .await?;
    s.result("err_tampered", outcome(&r));

    s.step("err_tampered_shorter", "KeyValue.Get \"greeting\" signed by the SDK, msg replaced by the shorter \"secret\": content_length (9) now exceeds msg (7)").await?;
    let r = s
        .altered(
            |inv| {
                inv.msg = serialize(&"secret")?;
                Ok(())
            },
            || side.get(&ctx, "greeting"),
        )
        .await?;
    s.result("err_tampered_shorter", outcome(&r));

    let foreign_kp = foreign.clone();
    s.step("err_forged", "KeyValue.Get \"greeting\": the SDK's claims (iss = cluster key) re-signed with a foreign key").await?;
    let r = s
        .altered(
            move |inv| {
                let claims = Claims::<jwt::Invocation>::decode(&inv.encoded_claims)?;
                inv.encoded_claims = claims.encode(&foreign_kp)?;
                Ok(())
            },
            || side.get(&ctx, "greeting"),
        )
        .await?;
    s.result("err_forged", outcome(&r));

    let kp = cluster.clone();
    s.step("err_expired", "KeyValue.Get \"greeting\": the SDK's claims with exp = iat - 60, re-signed with the cluster key").await?;
    let r = s
        .altered(
            move |inv| {
                let mut claims = Claims::<jwt::Invocation>::decode(&inv.encoded_claims)?;
                claims.expires = Some(claims.issued_at.saturating_sub(60));
                inv.encoded_claims = claims.encode(&kp)?;
                Ok(())
            },
            || side.get(&ctx, "greeting"),
        )
        .await?;
    s.result("err_expired", outcome(&r));

    let kp = cluster.clone();
    s.step("err_not_yet_valid", "KeyValue.Get \"greeting\": the SDK's claims with nbf = iat + 3600, re-signed with the cluster key").await?;
    let r = s
        .altered(
            move |inv| {
                let mut claims = Claims::<jwt::Invocation>::decode(&inv.encoded_claims)?;
                claims.not_before = Some(claims.issued_at + 3600);
                inv.encoded_claims = claims.encode(&kp)?;
                Ok(())
            },
            || side.get(&ctx, "greeting"),
        )
        .await?;
    s.result("err_not_yet_valid", outcome(&r));

    // f. provider -> actor through the SDK's provider transport (HostBridge from the same host data)
    s.step("to_actor", "HttpServer.HandleRequest provider -> actor via HttpServerSender::for_actor(ld) (ProviderTransport, RpcClient::send_timeout 2000 ms); nobody answers").await?;
    wasmbus_rpc::provider::init_host_bridge_for_test(s.nc.clone(), &hd)?;
    let ld = s.link();
    let http = HttpServerSender::for_actor(&ld);
    let req = HttpRequest {
        method: "GET".into(),
        path: "/hello".into(),
        query_string: "name=era".into(),
        header: HashMap::from([("accept".to_string(), vec!["text/plain".to_string()])]),
        body: b"ping".to_vec(),
    };
    let t0 = Instant::now();
    let r = http.handle_request(&ctx, &req).await;
    let mut o = outcome(&r.map(|resp| resp.status_code));
    o["elapsed_ms"] = json!(t0.elapsed().as_millis() as u64);
    s.result("to_actor", o);

    // g. chunked request and chunked response (object store bucket = lattice prefix)
    let big = "b".repeat(BIG_VALUE_LEN);
    s.step("chunked_set", "KeyValue.Set {key big, value 'b' x 921700}: over the 900 KiB threshold, chunked through the object store").await?;
    let r = kv
        .set(
            &ctx,
            &SetRequest {
                key: "big".into(),
                value: big.clone(),
                expires: 0,
            },
        )
        .await;
    s.result("chunked_set", outcome(&r));
    s.step(
        "chunked_get",
        "KeyValue.Get \"big\": the reply is over the threshold, chunked by the provider ({id}-r)",
    )
    .await?;
    let r = kv.get(&ctx, "big").await;
    s.result(
        "chunked_get",
        match &r {
            Ok(g) => json!({"ok": {"exists": g.exists, "value_len": g.value.len(), "value_matches": g.value == big}}),
            Err(_) => outcome(&r),
        },
    );

    // h. link del, a call after it, shutdown
    s.step(
        "linkdefs_del",
        "publish the same LinkDefinition on ….linkdefs.del",
    )
    .await?;
    s.nc.publish(
        s.provider_subject(".linkdefs.del"),
        serialize(&s.link())?.into(),
    )
    .await?;
    s.nc.flush().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.step(
        "err_after_linkdel",
        "KeyValue.Get \"greeting\" from the actor whose link was deleted",
    )
    .await?;
    let r = kv.get(&ctx, "greeting").await;
    s.result("err_after_linkdel", outcome(&r));

    s.step(
        "shutdown",
        "request ….shutdown with JSON {\"host_id\":…}; wait for the process to exit",
    )
    .await?;
    let body = serde_json::to_vec(&json!({"host_id": s.keys.s("host_id")}))?;
    let t0 = Instant::now();
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        s.nc.request(s.provider_subject(".shutdown"), body.into()),
    )
    .await??;
    let reply_text = String::from_utf8_lossy(&reply.payload).to_string();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    let exit = match status {
        Ok(Ok(st)) => {
            json!({"code": st.code(), "success": st.success(), "ms_since_shutdown_request": t0.elapsed().as_millis() as u64})
        }
        Ok(Err(e)) => json!({"wait_error": e.to_string()}),
        Err(_) => {
            let _ = child.kill().await;
            json!({"timeout": "provider still running 30 s after shutdown; killed"})
        }
    };
    drop(stdin);
    s.result("shutdown", json!({"reply": reply_text, "exit": exit}));
    s.step("end", "session over").await?;

    std::fs::write(
        s.out.join("results.json"),
        serde_json::to_string_pretty(&s.results)? + "\n",
    )?;
    Ok(())
}
