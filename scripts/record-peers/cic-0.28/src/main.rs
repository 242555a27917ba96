//! One `wasmcloud-control-interface` 0.28.1 client call per invocation, against a lattice on a
//! NATS server; or `encode DIR`: reply documents encoded with the crate's own types.
//!
//! Usage: cic-028 NATS_URL LATTICE COMMAND ARGS...   |   cic-028 encode DIR
//! Prints `OK <result as JSON>` or `ERR <error>`; exit status 0 / 1.

use std::collections::HashMap;
use std::time::Duration;

use wasmcloud_control_interface::{
    ActorAuctionAck, ActorDescription, ActorInstance, ClientBuilder, CtlOperationAck,
    GetClaimsResponse, Host, HostInventory, LinkDefinition, LinkDefinitionList, ProviderAuctionAck,
    ProviderDescription, RegistryCredential,
};

type Res = Result<serde_json::Value, String>;

fn map(args: &[String]) -> HashMap<String, String> {
    args.iter()
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap_or((a.as_str(), ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn opt_map(args: &[String]) -> Option<HashMap<String, String>> {
    if args.is_empty() {
        None
    } else {
        Some(map(args))
    }
}

fn js<T: serde::Serialize>(r: Result<T, Box<dyn std::error::Error + Send + Sync>>) -> Res {
    r.map(|v| serde_json::to_value(v).expect("serialize"))
        .map_err(|e| e.to_string())
}

async fn run(url: &str, lattice: &str, cmd: &str, a: &[String]) -> Res {
    let nc = async_nats::connect(url).await.map_err(|e| e.to_string())?;
    let c = ClientBuilder::new(nc.clone())
        .lattice_prefix(lattice)
        .rpc_timeout(Duration::from_secs(5))
        .auction_timeout(Duration::from_secs(2))
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let arg = |i: usize| a.get(i).cloned().unwrap_or_default();
    let out = match cmd {
        "get-hosts" => js(c.get_hosts().await),
        "inventory" => js(c.get_host_inventory(&arg(0)).await),
        "claims" => js(c.get_claims().await),
        "links" => js(c.query_links().await),
        "link-put" => js(c
            .advertise_link(
                &arg(0),
                &arg(1),
                &arg(2),
                &arg(3),
                map(&a[4.min(a.len())..]),
            )
            .await),
        "link-del" => js(c.remove_link(&arg(0), &arg(1), &arg(2)).await),
        "start-actor" => js(c
            .start_actor(
                &arg(0),
                &arg(1),
                arg(2).parse().unwrap(),
                opt_map(&a[3.min(a.len())..]),
            )
            .await),
        "scale-actor" => js(c
            .scale_actor(
                &arg(0),
                &arg(1),
                &arg(2),
                arg(3).parse().unwrap(),
                opt_map(&a[4.min(a.len())..]),
            )
            .await),
        "stop-actor" => js(c
            .stop_actor(
                &arg(0),
                &arg(1),
                arg(2).parse().unwrap(),
                opt_map(&a[3.min(a.len())..]),
            )
            .await),
        "update-actor" => js(c.update_actor(&arg(0), &arg(1), &arg(2), None).await),
        "start-provider" => {
            let link = a.get(2).filter(|s| !s.is_empty()).cloned();
            let config = a.get(3).cloned();
            let r = js(c.start_provider(&arg(0), &arg(1), link, None, config).await);
            // With no host the lp is sent from a background task: give it time.
            tokio::time::sleep(Duration::from_secs(4)).await;
            r
        }
        "stop-provider" => js(c
            .stop_provider(&arg(0), &arg(1), &arg(2), &arg(3), None)
            .await),
        "stop-host" => js(c
            .stop_host(&arg(0), a.get(1).map(|t| t.parse().unwrap()))
            .await),
        "actor-auction" => js(c
            .perform_actor_auction(&arg(0), map(&a[1.min(a.len())..]))
            .await),
        "provider-auction" => js(c
            .perform_provider_auction(&arg(0), &arg(1), map(&a[2.min(a.len())..]))
            .await),
        "put-registries" => {
            // ARGS: registry user password  |  registry token=TOKEN
            let mut creds = HashMap::new();
            let cred = if let Some(t) = arg(1).strip_prefix("token=") {
                RegistryCredential {
                    token: Some(t.to_string()),
                    registry_type: "oci".into(),
                    ..Default::default()
                }
            } else {
                RegistryCredential {
                    username: Some(arg(1)),
                    password: Some(arg(2)),
                    registry_type: "oci".into(),
                    ..Default::default()
                }
            };
            creds.insert(arg(0), cred);
            let r = js(c.put_registries(creds).await);
            let _ = nc.flush().await;
            r
        }
        other => Err(format!("unknown command {other}")),
    };
    let _ = nc.flush().await;
    out
}

const HOST: &str = "NBSSBPBAAGQF5WVVQKHF2WIECPOVAKZD7WQWDUXQCGDLXH6SXHD7T6UL";
const CLUSTER: &str = "CDLWTMCVTG2BTLYBI4HE7R5GBWA3ZW3VFCNXA6EYJ6G6YRNB3RHTFIAU";
const ECHO: &str = "MB7UJNCX5UXXKVS5CA5YNEN3M63G5E5LGO62VLOSGROGHZJDBPIXQ5XG";
const HTTP: &str = "VAQQ2O3GIXGBY63CC3LJQXD4EQZQ3JKLOQ4GVGNSNBHLVTCADDZCUPUN";
const KVREDIS: &str = "VAZVC4RX54J2NVCMCW7BPCAHGGG5XZXDBXFUMDUXGESTMQEJLC3YVZWB";
const ACCOUNT: &str = "ACTGEJOUJWCENVQ6YG6ICHMCGPYC7H74ZA7LWGK362CJB7YGIRZC235A";

fn s(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn link(actor: &str, provider: &str, contract: &str, values: &[(&str, &str)]) -> LinkDefinition {
    // `LinkDefinition` is #[non_exhaustive]: built from Default like the crate itself does.
    let mut ld = LinkDefinition::default();
    ld.actor_id = actor.into();
    ld.provider_id = provider.into();
    ld.contract_id = contract.into();
    ld.link_name = "default".into();
    ld.values = s(values);
    ld
}

/// The crate's own encoder, `wasmcloud_control_interface::json_serialize` (what it uses for every
/// document it sends).
fn enc<T: serde::Serialize>(v: T) -> Vec<u8> {
    wasmcloud_control_interface::json_serialize(v).expect("serialize")
}

fn encode(dir: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let labels = s(&[
        ("hostcore.arch", "x86_64"),
        ("hostcore.os", "linux"),
        ("hostcore.osfamily", "unix"),
        ("region", "eu-west"),
    ]);
    let docs: Vec<(&str, Vec<u8>)> = vec![
        (
            "host",
            enc(Host {
                cluster_issuers: Some(CLUSTER.into()),
                ctl_host: Some("127.0.0.1".into()),
                id: HOST.into(),
                js_domain: None,
                labels: Some(labels.clone()),
                lattice_prefix: Some("default".into()),
                prov_rpc_host: Some("127.0.0.1".into()),
                rpc_host: Some("127.0.0.1".into()),
                uptime_human: Some("5 minutes, 12 seconds".into()),
                uptime_seconds: 312,
                version: Some("0.63.2".into()),
            }),
        ),
        ("host_default", enc(Host::default())),
        (
            "host_inventory",
            enc(HostInventory {
                actors: vec![ActorDescription {
                    id: ECHO.into(),
                    image_ref: Some("wasmcloud.azurecr.io/echo:0.3.4".into()),
                    instances: vec![
                        ActorInstance {
                            annotations: Some(s(&[("app", "demo")])),
                            instance_id: "2a2f2dcd-f0b1-401b-b1cd-df0594642394".into(),
                            revision: 4,
                        },
                        ActorInstance {
                            annotations: None,
                            instance_id: "8c5d1e2f-3a4b-4c6d-8e9f-0a1b2c3d4e5f".into(),
                            revision: 4,
                        },
                    ],
                    name: Some("echo".into()),
                }],
                host_id: HOST.into(),
                issuer: CLUSTER.into(),
                friendly_name: "silent-breeze-1234".into(),
                labels: labels.clone(),
                providers: vec![ProviderDescription {
                    annotations: Some(HashMap::new()),
                    id: HTTP.into(),
                    image_ref: Some("wasmcloud.azurecr.io/httpserver:0.17.0".into()),
                    contract_id: "wasmcloud:httpserver".into(),
                    link_name: "default".into(),
                    name: Some("HTTP Server".into()),
                    revision: 0,
                }],
            }),
        ),
        ("host_inventory_empty", enc(HostInventory::default())),
        (
            "link_definition_list",
            enc(LinkDefinitionList {
                links: vec![
                    link(ECHO, HTTP, "wasmcloud:httpserver", &[("PORT", "8080")]),
                    link(
                        ECHO,
                        KVREDIS,
                        "wasmcloud:keyvalue",
                        &[("URL", "redis://127.0.0.1:6379/")],
                    ),
                ],
            }),
        ),
        (
            "link_definition_list_empty",
            enc(LinkDefinitionList::default()),
        ),
        (
            "get_claims_response",
            enc(GetClaimsResponse {
                claims: vec![
                    s(&[
                        ("sub", ECHO),
                        ("iss", ACCOUNT),
                        ("name", "echo"),
                        ("call_alias", ""),
                        ("caps", "wasmcloud:httpserver,wasmcloud:builtin:logging"),
                        ("rev", "4"),
                        ("tags", ""),
                        ("version", "0.3.4"),
                        ("contract_id", ""),
                    ]),
                    s(&[
                        ("sub", HTTP),
                        ("iss", ACCOUNT),
                        ("name", "HTTP Server"),
                        ("call_alias", ""),
                        ("caps", ""),
                        ("rev", "0"),
                        ("tags", ""),
                        ("version", "0.17.0"),
                        ("contract_id", "wasmcloud:httpserver"),
                    ]),
                ],
            }),
        ),
        (
            "ctl_operation_ack_accepted",
            enc(CtlOperationAck {
                accepted: true,
                error: String::new(),
            }),
        ),
        (
            "ctl_operation_ack_rejected",
            enc(CtlOperationAck {
                accepted: false,
                error: "Invalid launch actor JSON request".into(),
            }),
        ),
        ("ctl_operation_ack_default", enc(CtlOperationAck::default())),
        (
            "actor_auction_ack",
            enc(ActorAuctionAck {
                actor_ref: "wasmcloud.azurecr.io/echo:0.3.4".into(),
                host_id: HOST.into(),
                constraints: s(&[("region", "eu-west")]),
            }),
        ),
        (
            "provider_auction_ack",
            enc(ProviderAuctionAck {
                host_id: HOST.into(),
                link_name: "default".into(),
                provider_ref: "wasmcloud.azurecr.io/httpserver:0.17.0".into(),
            }),
        ),
    ];
    for (name, mut bytes) in docs {
        // serde_json::to_vec of the crate's value: the bytes its encoder produces (HashMap order
        // varies between runs); a newline added at the end.
        let path = format!("{dir}/{name}.json");
        bytes.push(b'\n');
        std::fs::write(&path, bytes).expect("write");
        println!("wrote {path}");
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("encode") {
        encode(&args[1]);
        return;
    }
    if args.len() < 3 {
        eprintln!("usage: cic-028 NATS_URL LATTICE COMMAND ARGS... | cic-028 encode DIR");
        std::process::exit(2);
    }
    match run(&args[0], &args[1], &args[2], &args[3..]).await {
        Ok(v) => println!("OK {v}"),
        Err(e) => {
            println!("ERR {e}");
            std::process::exit(1);
        }
    }
}
