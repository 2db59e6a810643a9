//! Prometheus metrics and orchestrator probes for `shale server` and `shale router`:
//! `GET /metrics` (Prometheus text format 0.0.4, encoded by `prometheus-client`), `GET
//! /healthz` (the process is alive) and `GET /readyz` (it should get traffic) on a port of
//! their own (`--metrics-port`).
//!
//! Owns: metric names and help texts, reading them out at scrape time, and the small HTTP
//! server. Does not own: the counting (the connection loop's [`crate::net::tally`], the
//! store's, the router's own counters) nor what "ready" means ([`crate::server::readiness`],
//! [`crate::router::Router::is_ready`]).
//!
//! The HTTP server runs on a thread of its own with a single-threaded runtime, so a busy
//! data path cannot delay a probe and a scrape never takes a data-path worker.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use shale::metrics::MetricsServer;
//! use shale::server::{Server, ServerConfig};
//!
//! let server = Server::start(ServerConfig::loopback(0)).await.expect("binds");
//! let metrics = MetricsServer::for_server(&server, "127.0.0.1:0".parse().unwrap()).expect("binds");
//! println!("scrape http://{}/metrics", metrics.local_addr());
//! metrics.stop();
//! server.shutdown().await;
//! # }
//! ```

mod families;
pub mod http;
mod node;
mod router;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use prometheus_client::collector::Collector;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::net::{self, BindError};
use crate::router::Router;
use crate::server::Server;

pub use node::NodeCollector;
pub use router::RouterCollector;

/// What the HTTP endpoints serve: the metrics, and the readiness check.
pub struct Endpoints {
    registry: Registry,
    ready: Box<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints").finish_non_exhaustive()
    }
}

impl Endpoints {
    /// Serves `collector` on `/metrics` and `ready` on `/readyz`.
    pub fn new(
        collector: impl Collector,
        ready: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(collector));
        Self { registry, ready: Box::new(ready) }
    }

    /// The whole `/metrics` body.
    pub fn render(&self) -> String {
        http::route(b"GET /metrics HTTP/1.1", self).0.body
    }

    fn ready(&self) -> bool {
        (self.ready)()
    }
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The port could not be opened.
    #[error("metrics port: {0}")]
    Bind(#[from] BindError),
    /// The thread serving it could not be started.
    #[error("metrics thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// The running metrics endpoint. Stops when dropped (or with [`MetricsServer::stop`]).
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    cancel: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` and serves `endpoints` on a thread of its own.
    pub fn start(addr: SocketAddr, endpoints: Endpoints) -> Result<Self, MetricsError> {
        let listener = net::bind_std(addr)?;
        let bound = listener.local_addr().map_err(|source| BindError { addr, source })?;
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let endpoints = Arc::new(endpoints);
        let thread = std::thread::Builder::new().name("shale-metrics".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let served = runtime.and_then(|rt| {
                rt.block_on(async {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    http::serve(listener, endpoints, stop).await;
                    Ok(())
                })
            });
            if let Err(e) = served {
                warn!(error = %e, "metrics endpoint stopped");
            }
        })?;
        info!(addr = %bound, "metrics, /healthz and /readyz listening");
        Ok(Self { addr: bound, cancel, thread: Some(thread) })
    }

    /// Serves `server`'s metrics, readiness by [`crate::server::readiness`].
    pub fn for_server(server: &Server, addr: SocketAddr) -> Result<Self, MetricsError> {
        let collector = Arc::new(NodeCollector::new(server));
        let ready = collector.clone();
        Self::start(addr, Endpoints::new(collector, move || ready.is_ready()))
    }

    /// Serves `router`'s metrics, ready once it has a map.
    pub fn for_router(router: &Router, addr: SocketAddr) -> Result<Self, MetricsError> {
        let ready = router.clone();
        Self::start(addr, Endpoints::new(RouterCollector::new(router), move || ready.is_ready()))
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the thread to end (it ends within one accept).
    pub fn stop(mut self) {
        self.cancel.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Now, in seconds since the Unix epoch.
fn unix_now() -> f64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap_or_default().as_secs_f64()
}
