//! The embedded host's HTTP server provider against real sockets on 127.0.0.1 and the
//! example actors built from `assets/actors/` (see `tests/common/actors.rs`).
//!
//! Every await sits inside `within(..)`, so a bug fails a test instead of hanging it.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::actors::actor_wasm;
use common::{scaled, within};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body::{Body, Frame};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use lattice_tui::host::http::{
    ActorTarget, CallStats, HEALTH_PATH, HttpError, HttpLimits, HttpProvider, INFO_PATH,
};
use lattice_tui::host::runtime::{LoadError, Loaded, Runtime, RuntimeConfig};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

/// Upper bound for one await: compiling, a request, a drain.
const T: Duration = Duration::from_secs(30);

type ClientBody = UnsyncBoxBody<Bytes, Infallible>;

fn runtime(cfg: RuntimeConfig) -> Runtime {
    Runtime::new(cfg).expect("runtime")
}

fn default_runtime() -> Runtime {
    runtime(RuntimeConfig::default())
}

async fn load(rt: &Runtime, name: &str, revision: i64) -> Arc<Loaded> {
    let bytes = std::fs::read(actor_wasm(name)).expect("read actor");
    within(T, "load actor", rt.load(bytes, revision))
        .await
        .unwrap_or_else(|e| panic!("load {name}: {e}"))
}

struct Actor {
    target: ActorTarget,
    live: watch::Sender<Arc<Loaded>>,
}

fn actor(id: &str, loaded: Arc<Loaded>) -> Actor {
    let (live, rx) = watch::channel(loaded);
    Actor {
        target: ActorTarget {
            actor_id: id.to_owned(),
            live: rx,
            stats: Arc::new(CallStats::default()),
        },
        live,
    }
}

fn link_values(address: &str, path: Option<&str>) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("address".to_owned(), address.to_owned());
    if let Some(p) = path {
        v.insert("path".to_owned(), p.to_owned());
    }
    v
}

async fn put(
    provider: &HttpProvider,
    link: &str,
    target: &ActorTarget,
    address: &str,
    path: Option<&str>,
) -> SocketAddr {
    within(
        T,
        "put_route",
        provider.put_route(link, target.clone(), &link_values(address, path)),
    )
    .await
    .unwrap_or_else(|e| panic!("put_route {link}: {e}"))
}

/// One client connection (HTTP/1.1 keep-alive).
struct Conn {
    addr: SocketAddr,
    send: SendRequest<ClientBody>,
}

async fn connect(addr: SocketAddr) -> Conn {
    let stream = within(T, "connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let (send, conn) = within(
        T,
        "handshake",
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Conn { addr, send }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Conn {
    async fn request(&mut self, method: Method, path: &str, body: ClientBody) -> Reply {
        self.request_with(method, path, &[], body).await
    }

    async fn request_with(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: ClientBody,
    ) -> Reply {
        within(T, "connection ready", self.send.ready())
            .await
            .expect("connection ready");
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body).expect("request");
        let resp = within(T, "response head", self.send.send_request(req))
            .await
            .expect("response");
        let (parts, body) = resp.into_parts();
        let body = within(T, "response body", body.collect())
            .await
            .expect("response body")
            .to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.request(Method::GET, path, empty()).await
    }
}

fn empty() -> ClientBody {
    Empty::new().boxed_unsync()
}

fn full(bytes: impl Into<Bytes>) -> ClientBody {
    Full::new(bytes.into()).boxed_unsync()
}

/// A request body fed chunk by chunk from a channel (no content-length: chunked).
struct ChanBody(mpsc::Receiver<Bytes>);

impl Body for ChanBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// GET on a new connection.
async fn get(addr: SocketAddr, path: &str) -> Reply {
    connect(addr).await.get(path).await
}

#[tokio::test]
async fn hello_answers_with_its_greeting() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let hello = actor("MHELLO", load(&rt, "hello", 1).await);
    let addr = put(&provider, "l1", &hello.target, "127.0.0.1:0", None).await;

    let reply = get(addr, "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "Hello from lattice-tui!\n");
    assert_eq!(
        reply.headers["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    // Keep-alive: a second request on one connection, and any path under `/`.
    let mut conn = connect(addr).await;
    for path in ["/a", "/b/c?x=1"] {
        assert_eq!(conn.get(path).await.status, StatusCode::OK);
    }
    let stats = hello.target.stats.snapshot();
    assert_eq!((stats.calls, stats.errors, stats.in_flight), (3, 0, 0));
}

#[tokio::test]
async fn echo_reports_the_request_and_echoes_the_body() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let echo = actor("MECHO", load(&rt, "echo", 1).await);
    let addr = put(&provider, "l1", &echo.target, "127.0.0.1:0", Some("/echo")).await;
    let mut conn = connect(addr).await;

    let reply = conn
        .request_with(
            Method::POST,
            "/echo/path?q=1",
            &[("x-test", "yes"), ("content-type", "text/plain")],
            full("some body"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "some body");
    assert_eq!(reply.headers["x-echo-method"], "POST");
    assert_eq!(reply.headers["x-echo-path"], "/echo/path?q=1");
    let headers: serde_json::Value =
        serde_json::from_str(reply.headers["x-echo-headers"].to_str().unwrap()).unwrap();
    assert_eq!(headers["x-test"], "yes");
    assert_eq!(headers["content-type"], "text/plain");

    let reply = conn.get("/echo").await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(doc["method"], "GET");
    assert_eq!(doc["path"], "/echo");
}

#[tokio::test]
async fn echo_streams_a_one_mib_body_both_ways() {
    const CHUNK: usize = 16 * 1024;
    const TOTAL: usize = 1024 * 1024;
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let echo = actor("MECHO", load(&rt, "echo", 1).await);
    let addr = put(&provider, "l1", &echo.target, "127.0.0.1:0", None).await;
    let mut conn = connect(addr).await;

    let (tx, rx) = mpsc::channel::<Bytes>(1);
    within(T, "ready", conn.send.ready()).await.unwrap();
    let req = Request::post("/stream")
        .header("host", addr.to_string())
        .body(ChanBody(rx).boxed_unsync())
        .unwrap();
    let pattern = |i: usize| Bytes::from(vec![u8::try_from(i % 251).unwrap(); CHUNK]);
    tx.send(pattern(0)).await.unwrap();
    // The response head arrives while most of the request body has not been sent yet: the
    // host hands the body to the guest as it comes instead of buffering it.
    let resp = within(T, "response head", conn.send.send_request(req))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut received = Vec::with_capacity(TOTAL);
    for i in 0..TOTAL / CHUNK {
        if i > 0 {
            within(T, "send chunk", tx.send(pattern(i))).await.unwrap();
        }
        // Each chunk comes back before the next one is sent: streaming in both directions.
        while received.len() < (i + 1) * CHUNK {
            let frame = within(T, "echoed chunk", body.frame())
                .await
                .expect("body not finished")
                .expect("frame");
            if let Ok(data) = frame.into_data() {
                received.extend_from_slice(&data);
            }
        }
    }
    drop(tx);
    while let Some(frame) = within(T, "end of body", body.frame()).await {
        if let Ok(data) = frame.unwrap().into_data() {
            received.extend_from_slice(&data);
        }
    }
    assert_eq!(received.len(), TOTAL);
    for (i, chunk) in received.chunks(CHUNK).enumerate() {
        assert!(
            chunk.iter().all(|b| usize::from(*b) == i % 251),
            "chunk {i}"
        );
    }
}

#[tokio::test]
async fn a_trapping_actor_answers_500_and_the_listener_keeps_serving() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let trap = actor("MTRAP", load(&rt, "trap", 1).await);
    let hello = actor("MHELLO", load(&rt, "hello", 1).await);
    let addr = put(
        &provider,
        "trap",
        &trap.target,
        "127.0.0.1:0",
        Some("/trap"),
    )
    .await;
    put(&provider, "hello", &hello.target, &addr.to_string(), None).await;

    let mut conn = connect(addr).await;
    let reply = conn.get("/trap").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    // The client learns nothing of the guest; the counters keep the details.
    assert_eq!(reply.text(), "500 Internal Server Error\n");
    let failure = trap.target.stats.last_failure().expect("failure recorded");
    assert!(failure.contains("wasm trap"), "{failure}");
    // The next request, on the same connection and on a new one, still works.
    assert_eq!(conn.get("/").await.status, StatusCode::OK);
    assert_eq!(get(addr, "/").await.status, StatusCode::OK);
    let stats = trap.target.stats.snapshot();
    assert_eq!((stats.calls, stats.errors), (1, 1));
    assert_eq!(hello.target.stats.snapshot().errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_looping_actor_is_cut_off_without_pinning_the_only_worker() {
    // Scaled like the health bound below, so a slow machine's health probe still falls
    // inside the spin.
    let budget = scaled(Duration::from_millis(500));
    let rt = runtime(RuntimeConfig {
        max_execution_time: budget,
        ..RuntimeConfig::default()
    });
    // A failing assertion below unwinds while the guest may still spin. Dropping the last
    // runtime handle stops the epoch ticker, so the guest would never be cut off and the test
    // would hang in the tokio runtime's shutdown instead of failing: keep one handle for good.
    std::mem::forget(rt.clone());
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let spin = actor("MSPIN", load(&rt, "spin", 1).await);
    let hello = actor("MHELLO", load(&rt, "hello", 1).await);
    let addr = put(
        &provider,
        "spin",
        &spin.target,
        "127.0.0.1:0",
        Some("/spin"),
    )
    .await;
    put(&provider, "hello", &hello.target, &addr.to_string(), None).await;

    let started = Instant::now();
    let spinning = tokio::spawn(async move { get(addr, "/spin").await });
    // While the guest loops, the single worker thread still serves other requests: the
    // guest yields on every epoch tick.
    within(T, "the spin request in the guest", async {
        while spin.target.stats.snapshot().in_flight == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let health_started = Instant::now();
    let health = get(addr, HEALTH_PATH).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(
        // About 5 epoch ticks (50 ms) when the guest yields through tokio's yield_now; a bare
        // yield starves the I/O driver and this takes ~400-600 ms.
        health_started.elapsed() < scaled(Duration::from_millis(250)),
        "health took {:?} while a guest spun",
        health_started.elapsed()
    );
    if spinning.is_finished() {
        let early = spinning.await.unwrap();
        panic!(
            "the spin request ended too early: {} {}",
            early.status,
            early.text()
        );
    }

    let reply = within(T, "spin request", spinning).await.unwrap();
    let took = started.elapsed();
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.text(), "500 Internal Server Error\n");
    let failure = spin.target.stats.last_failure().expect("failure recorded");
    assert!(failure.contains("did not answer within"), "{failure}");
    assert!(
        took >= budget,
        "cut off after {took:?}, before the deadline"
    );
    assert!(took < budget * 4, "cut off only after {took:?}");
    assert_eq!(get(addr, "/").await.status, StatusCode::OK);
    assert_eq!(spin.target.stats.snapshot().errors, 1);
}

#[tokio::test]
async fn an_actor_without_the_http_export_answers_503_with_the_reason() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let loaded = load(&rt, "nohttp", 1).await;
    assert!(!loaded.serves_http());
    let reason = loaded.no_http_reason.clone().expect("a reason");
    assert!(
        reason.contains("does not export wasi:http/incoming-handler"),
        "{reason}"
    );
    assert!(
        loaded
            .exports
            .iter()
            .any(|e| e.starts_with("wasi:cli/run@"))
    );
    let nohttp = actor("MNOHTTP", loaded);
    let addr = put(&provider, "l1", &nohttp.target, "127.0.0.1:0", None).await;

    let reply = get(addr, "/").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.text().contains(&reason), "{}", reply.text());
}

#[tokio::test]
async fn a_component_with_imports_this_host_lacks_loads_and_answers_503() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let bytes = wat::parse_str(
        r#"(component
            (import "wasmcloud:example/missing" (instance
                (export "call" (func))))
        )"#,
    )
    .expect("valid WAT");
    let loaded = within(T, "load", rt.load(bytes, 3)).await.expect("loads");
    let reason = loaded.no_http_reason.clone().expect("a reason");
    assert!(reason.contains("cannot link"), "{reason}");
    assert!(reason.contains("wasmcloud:example/missing"), "{reason}");
    assert_eq!(loaded.imports, ["wasmcloud:example/missing"]);
    let odd = actor("MODD", loaded);
    let addr = put(&provider, "l1", &odd.target, "127.0.0.1:0", None).await;
    let reply = get(addr, "/").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reply.text().contains("wasmcloud:example/missing"),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn unknown_paths_answer_404_with_the_routes() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let hello = actor("MHELLO", load(&rt, "hello", 1).await);
    let addr = put(&provider, "a", &hello.target, "127.0.0.1:0", Some("/api")).await;
    put(
        &provider,
        "b",
        &hello.target,
        &addr.to_string(),
        Some("/v2/app"),
    )
    .await;

    let reply = get(addr, "/apix").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.text().contains("/api, /v2/app"), "{}", reply.text());
    assert_eq!(get(addr, "/api/anything").await.status, StatusCode::OK);
    assert_eq!(get(addr, "/v2/app").await.status, StatusCode::OK);
    assert_eq!(get(addr, "/v2").await.status, StatusCode::NOT_FOUND);
    let reply = get(addr, "/.well-known/lattice/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.text().contains(HEALTH_PATH));
}

#[tokio::test]
async fn well_known_health_and_info() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let hello = actor("MHELLO", load(&rt, "hello", 7).await);
    let digest = hello.target.live.borrow().digest.clone();
    let addr = put(
        &provider,
        "link-1",
        &hello.target,
        "127.0.0.1:0",
        Some("/hi"),
    )
    .await;
    assert_eq!(get(addr, "/hi").await.status, StatusCode::OK);

    let health = get(addr, HEALTH_PATH).await;
    assert_eq!(
        (health.status, health.text().as_str()),
        (StatusCode::OK, "ok\n")
    );
    assert!(provider.healthy());

    let info = get(addr, INFO_PATH).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.headers["content-type"], "application/json");
    let doc: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    assert_eq!(doc["address"], addr.to_string());
    assert_eq!(doc["draining"], false);
    let route = &doc["routes"][0];
    assert_eq!(route["link_id"], "link-1");
    assert_eq!(route["path"], "/hi");
    assert_eq!(route["actor_id"], "MHELLO");
    assert_eq!(route["revision"], 7);
    assert_eq!(route["digest"], digest.as_str());
    assert_eq!(route["serves_http"], true);
    assert_eq!(route["stats"]["calls"], 1);
    assert_eq!(digest.len(), 64);
    assert!(
        digest
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    // Health and info are not actor calls.
    assert_eq!(hello.target.stats.snapshot().calls, 1);
}

#[tokio::test]
async fn drain_finishes_in_flight_requests_and_refuses_new_connections() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let slow = actor("MSLOW", load(&rt, "slow", 1).await);
    let addr = put(&provider, "l1", &slow.target, "127.0.0.1:0", None).await;

    // Connection B is open (and idle) before the drain; it can still ask for health.
    let mut b = connect(addr).await;
    assert_eq!(b.get(HEALTH_PATH).await.status, StatusCode::OK);
    let mut a = connect(addr).await;
    let in_flight = tokio::spawn(async move { a.get("/?ms=1500").await });
    within(T, "request in flight", async {
        while provider.in_flight() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    let draining = {
        let provider = provider.clone();
        tokio::spawn(async move { provider.drain(Duration::from_secs(10)).await })
    };
    within(T, "health turns 503", async {
        loop {
            if b.get(HEALTH_PATH).await.status == StatusCode::SERVICE_UNAVAILABLE {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(!provider.healthy());
    within(T, "new connections refused", async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        !in_flight.is_finished(),
        "the slow request should still run"
    );

    let reply = within(T, "in-flight request", in_flight).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "slept 1500 ms");
    within(T, "drain", draining).await.unwrap();
    assert!(provider.routes().is_empty());
    assert!(matches!(
        provider
            .put_route(
                "again",
                slow.target.clone(),
                &link_values("127.0.0.1:0", None)
            )
            .await,
        Err(HttpError::Draining)
    ));
}

#[tokio::test]
async fn routes_are_added_shared_refused_and_removed() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let hello = actor("MHELLO", load(&rt, "hello", 1).await);
    let echo = actor("MECHO", load(&rt, "echo", 1).await);

    let addr = put(&provider, "hello", &hello.target, "127.0.0.1:0", None).await;
    let same = put(
        &provider,
        "echo",
        &echo.target,
        &addr.to_string(),
        Some("/echo"),
    )
    .await;
    assert_eq!(same, addr, "an existing address gains the route");
    let other = put(&provider, "other", &hello.target, "127.0.0.1:0", None).await;
    assert_ne!(other, addr, "port 0 always binds a new listener");

    let taken = provider
        .put_route(
            "dup",
            echo.target.clone(),
            &link_values(&addr.to_string(), Some("/echo/")),
        )
        .await;
    assert!(
        matches!(&taken, Err(HttpError::RouteTaken { link_id, .. }) if link_id == "echo"),
        "{taken:?}"
    );
    let routes = provider.routes();
    let listed: Vec<(&str, &str)> = routes
        .iter()
        .map(|r| (r.link_id.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.contains(&("echo", "/echo")) && listed.contains(&("hello", "/")));

    assert_eq!(get(addr, "/echo").await.headers["x-echo-method"], "GET");
    // Putting a link again replaces its route: /echo now leads to hello.
    put(
        &provider,
        "echo",
        &hello.target,
        &addr.to_string(),
        Some("/echo"),
    )
    .await;
    assert_eq!(get(addr, "/echo").await.text(), "Hello from lattice-tui!\n");

    within(T, "remove echo", provider.remove_route("echo")).await;
    assert_eq!(get(addr, "/echo").await.text(), "Hello from lattice-tui!\n");
    within(T, "remove hello", provider.remove_route("hello")).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener closes with its last route"
    );
    within(T, "remove unknown", provider.remove_route("nope")).await;
    // The address can be bound again at once.
    let again = put(&provider, "hello", &hello.target, &addr.to_string(), None).await;
    assert_eq!(again, addr);
    assert_eq!(get(addr, "/").await.status, StatusCode::OK);
    assert_eq!(get(other, "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn dropping_the_last_provider_handle_stops_its_listeners() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let hello = actor("MHELLO", load(&rt, "hello", 1).await);
    let addr = put(&provider, "l1", &hello.target, "127.0.0.1:0", None).await;
    let mut idle = connect(addr).await;
    assert_eq!(idle.get("/").await.status, StatusCode::OK);

    let clone = provider.clone();
    drop(provider);
    assert_eq!(
        get(addr, "/").await.status,
        StatusCode::OK,
        "a clone keeps serving"
    );
    drop(clone);
    within(T, "listener closed", async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Open connections are cut too.
    within(T, "idle connection closed", async {
        while !idle.send.is_closed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn bad_and_silent_connections_do_not_disturb_the_listener() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = default_runtime();
    let limits = HttpLimits {
        header_read_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    };
    let provider = HttpProvider::new(rt.clone(), limits);
    let hello = actor("MHELLO", load(&rt, "hello", 1).await);
    let addr = put(&provider, "l1", &hello.target, "127.0.0.1:0", None).await;

    // Garbage instead of HTTP: hyper answers 400 and closes that connection only.
    let mut garbage = within(T, "connect", TcpStream::connect(addr))
        .await
        .unwrap();
    within(
        T,
        "write",
        garbage.write_all(b"\x16\x03\x01 not http at all\r\n\r\n"),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    within(T, "read until close", garbage.read_to_end(&mut answer))
        .await
        .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );

    // A client that connects and says nothing is closed after the header read timeout.
    let mut silent = within(T, "connect", TcpStream::connect(addr))
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    within(T, "silent connection closed", silent.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    assert_eq!(get(addr, "/").await.status, StatusCode::OK);
    assert_eq!(hello.target.stats.snapshot().calls, 1);
}

#[tokio::test]
async fn a_live_swap_serves_the_next_request_while_the_old_one_finishes() {
    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let slow = actor("MACTOR", load(&rt, "slow", 1).await);
    let addr = put(&provider, "l1", &slow.target, "127.0.0.1:0", None).await;
    // Compiled before the old request starts, so only the swap and two small requests fall
    // inside it; it lasts long enough for those even on a loaded machine.
    let v2 = load(&rt, "hello", 2).await;
    let old_ms = scaled(Duration::from_millis(1500)).as_millis();
    let old = tokio::spawn(async move { get(addr, &format!("/?ms={old_ms}")).await });
    within(T, "request in flight", async {
        while slow.target.stats.snapshot().in_flight == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    slow.live.send_replace(v2);

    let reply = get(addr, "/").await;
    assert_eq!(reply.text(), "Hello from lattice-tui!\n");
    let info = get(addr, INFO_PATH).await;
    let doc: serde_json::Value = serde_json::from_slice(&info.body).unwrap();
    assert_eq!(doc["routes"][0]["revision"], 2);
    assert!(
        !old.is_finished(),
        "the old request ({old_ms} ms) ended before the new version answered"
    );
    let old = within(T, "old request", old).await.unwrap();
    assert_eq!(
        (old.status, old.text()),
        (StatusCode::OK, format!("slept {old_ms} ms"))
    );
}

#[tokio::test]
async fn bad_bytes_are_load_errors_not_panics() {
    let rt = default_runtime();
    let hello = std::fs::read(actor_wasm("hello")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"definitely not webassembly".repeat(10)),
        ("core module", b"\0asm\x01\0\0\0".to_vec()),
        ("truncated component", hello[..hello.len() / 2].to_vec()),
        ("component header and junk", {
            let mut b = hello[..8].to_vec();
            b.extend_from_slice(b"junk after the header");
            b
        }),
        ("corrupt component", {
            let mut b = hello.clone();
            for byte in b.iter_mut().skip(64).step_by(97) {
                *byte ^= 0x5a;
            }
            b
        }),
    ];
    for (what, bytes) in cases {
        let err = within(T, what, rt.load(bytes, 1)).await.expect_err(what);
        let message = err.to_string();
        match what {
            "empty" | "garbage" => assert!(matches!(err, LoadError::NotWasm { .. }), "{what}"),
            "core module" => {
                assert!(matches!(err, LoadError::CoreModule(_)), "{what}");
                assert!(message.contains("not a component"), "{message}");
                assert!(message.contains("no waPC actor"), "{message}");
            }
            _ => assert!(matches!(err, LoadError::Compile(_)), "{what}: {err}"),
        }
    }
    // A bare component header is a valid, empty component: it loads and serves nothing.
    let empty = within(T, "empty component", rt.load(hello[..8].to_vec(), 1))
        .await
        .expect("an empty component is valid");
    assert!(empty.exports.is_empty());
    assert!(
        empty
            .no_http_reason
            .as_deref()
            .unwrap_or_default()
            .contains("its exports: none"),
        "{empty:?}"
    );
    // The runtime still loads good components afterwards.
    assert!(load(&rt, "hello", 1).await.serves_http());
}

#[tokio::test]
async fn memory_beyond_the_limit_fails_cleanly() {
    let rt = runtime(RuntimeConfig {
        max_linear_memory: 64 * 1024 * 1024,
        ..RuntimeConfig::default()
    });
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let hog = actor("MHOG", load(&rt, "hog", 1).await);
    let addr = put(&provider, "l1", &hog.target, "127.0.0.1:0", None).await;

    let small = get(addr, "/?mib=16").await;
    assert_eq!(small.status, StatusCode::OK, "{}", small.text());
    assert!(small.text().starts_with("allocated 16 MiB"));
    let big = get(addr, "/?mib=128").await;
    assert_eq!(
        big.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        big.text()
    );
    assert_eq!(big.text(), "500 Internal Server Error\n");
    let failure = hog.target.stats.last_failure().expect("failure recorded");
    assert!(failure.contains("wasm trap"), "{failure}");
    // The host lives on, and so does the actor.
    assert_eq!(get(addr, "/?mib=1").await.status, StatusCode::OK);
}

#[tokio::test]
async fn request_bodies_over_the_limit_get_413() {
    let rt = default_runtime();
    let limits = HttpLimits {
        max_request_body: 1024,
        ..HttpLimits::default()
    };
    let provider = HttpProvider::new(rt.clone(), limits);
    let echo = actor("MECHO", load(&rt, "echo", 1).await);
    let addr = put(&provider, "l1", &echo.target, "127.0.0.1:0", None).await;

    let mut conn = connect(addr).await;
    let declared = conn
        .request(Method::POST, "/", full(vec![b'x'; 4096]))
        .await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    let ok = connect(addr)
        .await
        .request(Method::POST, "/", full(vec![b'y'; 1024]))
        .await;
    assert_eq!((ok.status, ok.body.len()), (StatusCode::OK, 1024));

    // Chunked, no content-length: the guest's read fails at the limit. A guest that reads
    // the whole body before answering (echo's buffer mode) then fails without a response,
    // which becomes a 413.
    let streamed = post_chunked(addr, "/?buffer=1", 4, 1024).await;
    assert_eq!(
        streamed.expect("a response").status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // A guest that answered before reading (echo's streaming mode) can only have its
    // response cut: the client sees a broken body, never a complete-looking one.
    assert!(post_chunked(addr, "/", 4, 1024).await.is_err());
    assert_eq!(echo.target.stats.snapshot().errors, 1);
    // Within the limit both modes work.
    let ok = post_chunked(addr, "/?buffer=1", 1, 1024)
        .await
        .expect("a response");
    assert_eq!((ok.status, ok.body.len()), (StatusCode::OK, 1024));
    assert_eq!(ok.headers["content-length"], "1024");
}

/// POSTs `chunks` chunks of `size` bytes with chunked encoding; `Err` if the response body
/// broke off.
async fn post_chunked(
    addr: SocketAddr,
    path: &str,
    chunks: usize,
    size: usize,
) -> Result<Reply, hyper::Error> {
    let (tx, rx) = mpsc::channel::<Bytes>(chunks);
    for _ in 0..chunks {
        tx.send(Bytes::from(vec![b'z'; size])).await.unwrap();
    }
    drop(tx);
    let mut conn = connect(addr).await;
    within(T, "ready", conn.send.ready()).await.unwrap();
    let req = Request::post(path)
        .header("host", addr.to_string())
        .body(ChanBody(rx).boxed_unsync())
        .unwrap();
    let resp = within(T, "response head", conn.send.send_request(req)).await?;
    let (parts, body) = resp.into_parts();
    let body = within(T, "response body", body.collect()).await?.to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

#[tokio::test]
async fn requests_over_the_in_flight_limit_get_503_at_once() {
    let rt = default_runtime();
    let limits = HttpLimits {
        max_in_flight: 1,
        ..HttpLimits::default()
    };
    let provider = HttpProvider::new(rt.clone(), limits);
    let slow = actor("MSLOW", load(&rt, "slow", 1).await);
    let addr = put(&provider, "l1", &slow.target, "127.0.0.1:0", None).await;

    let first = tokio::spawn(async move { get(addr, "/?ms=600").await });
    within(T, "request in flight", async {
        while provider.in_flight() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let busy = get(addr, "/?ms=1").await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers["retry-after"], "1");
    // Health is not a guest call and is never refused.
    assert_eq!(get(addr, HEALTH_PATH).await.status, StatusCode::OK);
    assert_eq!(
        within(T, "first", first).await.unwrap().status,
        StatusCode::OK
    );
    assert_eq!(get(addr, "/?ms=1").await.status, StatusCode::OK);
}

#[tokio::test]
async fn instances_are_fresh_per_request_unless_reuse_is_asked_for() {
    let fresh = default_runtime();
    let provider = HttpProvider::new(fresh.clone(), HttpLimits::default());
    let count = actor("MCOUNT", load(&fresh, "count", 1).await);
    let addr = put(&provider, "l1", &count.target, "127.0.0.1:0", None).await;
    let mut conn = connect(addr).await;
    for _ in 0..3 {
        assert_eq!(
            conn.get("/").await.text(),
            "1",
            "no state survives a request"
        );
    }

    let reusing = runtime(RuntimeConfig {
        instance_reuse: Some(3),
        ..RuntimeConfig::default()
    });
    let provider = HttpProvider::new(reusing.clone(), HttpLimits::default());
    let count = actor("MCOUNT", load(&reusing, "count", 1).await);
    let trap = actor("MTRAP", load(&reusing, "trap", 1).await);
    let addr = put(&provider, "l1", &count.target, "127.0.0.1:0", None).await;
    put(
        &provider,
        "l2",
        &trap.target,
        &addr.to_string(),
        Some("/trap"),
    )
    .await;
    let mut conn = connect(addr).await;
    let mut seen = Vec::new();
    for _ in 0..7 {
        seen.push(conn.get("/").await.text());
    }
    // One instance serves three requests, then a new one takes over.
    assert_eq!(seen, ["1", "2", "3", "1", "2", "3", "1"]);
    for _ in 0..2 {
        assert_eq!(
            conn.get("/trap").await.status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}

/// Captures formatted tracing output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn guest_output_goes_to_tracing_with_actor_and_request_id() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_env_filter("guest=info")
        .finish();
    // tracing caches each callsite's interest once, process-wide. With one dispatcher
    // registered, a sibling test's thread (no subscriber) that is first to log a guest line
    // caches `never` for that callsite, and this test's lines are dropped before any
    // subscriber sees them (tokio-rs/tracing#3611). A do-nothing global subscriber next to the
    // scoped one makes every registration consult both.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    // current_thread: the guest tasks run on this thread, under this subscriber.
    let _default = tracing::subscriber::set_default(subscriber);

    let rt = default_runtime();
    let provider = HttpProvider::new(rt.clone(), HttpLimits::default());
    let echo = actor("MECHO", load(&rt, "echo", 1).await);
    let trap = actor("MTRAP", load(&rt, "trap", 1).await);
    let addr = put(&provider, "l1", &echo.target, "127.0.0.1:0", None).await;
    put(
        &provider,
        "l2",
        &trap.target,
        &addr.to_string(),
        Some("/trap"),
    )
    .await;
    assert_eq!(get(addr, "/printed").await.status, StatusCode::OK);
    assert_eq!(
        get(addr, "/trap").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    // The guest's output reaches tracing through its own task: wait for both lines.
    let captured_text = || String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let deadline = tokio::time::Instant::now() + scaled(T);
    loop {
        let out = captured_text();
        if out.contains("echo: GET /printed") && out.contains("deliberate panic") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guest's stdout and stderr lines not logged within {:?}:\n{out}",
            scaled(T)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let out = captured_text();
    let echo_line = out
        .lines()
        .find(|l| l.contains("echo: GET /printed"))
        .unwrap_or_else(|| panic!("no echo line in:\n{out}"));
    assert!(echo_line.contains("INFO guest"), "{echo_line}");
    assert!(echo_line.contains("actor=\"MECHO\""), "{echo_line}");
    assert!(echo_line.contains("request_id="), "{echo_line}");
    assert!(echo_line.contains("stream=\"stdout\""), "{echo_line}");
    let panic_line = out
        .lines()
        .find(|l| l.contains("trap actor: deliberate panic"))
        .unwrap_or_else(|| panic!("no panic line in:\n{out}"));
    assert!(panic_line.contains("WARN guest"), "{panic_line}");
    assert!(panic_line.contains("actor=\"MTRAP\""), "{panic_line}");
}
