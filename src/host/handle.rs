//! [`HostHandle`]: a host on a runtime (and threads) of its own, so guest code never runs on
//! the caller's (the console's) workers, driven from any other runtime.

use std::time::Duration;

use super::{Host, HostConfig, HostError, start};
use crate::lattice::bus::Bus;

/// A host on a runtime (and threads) of its own, driven from any other runtime.
pub struct HostHandle {
    host: Host,
    rt: tokio::runtime::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a host on a dedicated multi-thread runtime with `worker_threads` workers, so guest
/// code never runs on the caller's (the console's) workers.
///
/// # Errors
/// The runtime or the host could not start.
pub async fn spawn(
    bus: Bus,
    cfg: HostConfig,
    worker_threads: usize,
) -> Result<HostHandle, HostError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads.max(1))
        .thread_name("lattice-host")
        .enable_all()
        .build()
        .map_err(|e| HostError::Thread(e.to_string()))?;
    let handle = rt.handle().clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("lattice-host-main".into())
        .spawn(move || {
            rt.block_on(async move {
                // The host's own connection, made here so its I/O runs on the host's threads:
                // the caller's (made on its runtime) would put two cross-thread wake-ups on
                // every RPC and control message (about 100 µs per lattice RPC on a 2-vCPU VM).
                let bus = match bus.sibling(cfg.subscription_capacity).await {
                    Ok(own) => {
                        drop(bus);
                        own
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.into()));
                        return;
                    }
                };
                match start(bus, cfg).await {
                    Ok(host) => {
                        let _ = tx.send(Ok(host.clone()));
                        host.stopped().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
            // Give detached tasks (connections being closed) a moment, then drop the runtime.
            rt.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(|e| HostError::Thread(e.to_string()))?;
    let host = rx
        .await
        .map_err(|_| HostError::Thread("the host thread ended during start-up".into()))??;
    Ok(HostHandle {
        host,
        rt: handle,
        thread: Some(thread),
    })
}

impl HostHandle {
    /// The host (its async methods must run on the host's runtime: use [`HostHandle::run`]).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Runs `f(host)` on the host's runtime and returns its output.
    ///
    /// # Errors
    /// The host runtime is gone.
    pub async fn run<F, Fut, T>(&self, f: F) -> Result<T, HostError>
    where
        F: FnOnce(Host) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let host = self.host.clone();
        self.rt
            .spawn(async move { f(host).await })
            .await
            .map_err(|e| HostError::Thread(format!("host task failed: {e}")))
    }

    /// Stops the host and waits until `host_stopped` is flushed and its runtime is gone.
    pub async fn shutdown(mut self) {
        self.host.stop();
        let host = self.host.clone();
        let _ = self.rt.spawn(async move { host.stopped().await }).await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}
