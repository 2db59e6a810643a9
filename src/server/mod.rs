//! The shale server: the store-backed handler plugged into [`crate::net`], plus the
//! background sweeper, started and stopped together. Commands themselves live in
//! [`crate::cmd`]; this module supplies their [`crate::cmd::Env`] (INFO, CONFIG, shard
//! dumps) and the `--node` shard ownership.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use shale::server::{Server, ServerConfig};
//!
//! let server = Server::start(ServerConfig::loopback(0)).await.expect("binds");
//! println!("listening on {}", server.local_addr());
//! server.shutdown().await;
//! # }
//! ```

mod env;
mod handler;
pub mod node;
mod shard_ops;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::auth::Password;
use crate::net::{self, BindError, Bound, NetConfig, NetStats, Running, TlsListen};
use crate::shardmap::MAP_POLL_INTERVAL;
use crate::store::{Store, StoreConfig, StoreOptions, SweepConfig, SystemClock, spawn_sweeper};
use crate::tls::TlsConnector;

pub use env::policy_name;
pub use handler::{MAX_VERSION_SKEW, StoreHandler};
pub use node::{Node, node_writer_id};

/// Default port of `shale server`.
pub const DEFAULT_PORT: u16 = 7379;

/// Everything a server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// A TLS port too, or instead (`--tls-port`); its certificates reload on SIGHUP.
    pub tls: Option<TlsListen>,
    /// TLS to the peers shard copies come from (`--tls-replication yes`); `None` is plain.
    pub peer_tls: Option<Arc<TlsConnector>>,
    /// Connection limits and timeouts.
    pub net: NetConfig,
    /// Store shape.
    pub store: StoreConfig,
    /// Tombstones, clock id, maxmemory and eviction.
    pub store_options: StoreOptions,
    /// Background expiry sweep.
    pub sweep: SweepConfig,
    /// Serve as one node of a cluster map (`--shardmap --node`); `None` serves all keys.
    pub node: Option<Arc<Node>>,
    /// Clients must AUTH with this first (`--requirepass`); `None` lets everyone in. A
    /// cluster node also uses it to authenticate to its peers for shard copies.
    pub password: Option<Password>,
}

impl ServerConfig {
    /// Defaults, listening on 127.0.0.1 at `port`.
    pub fn loopback(port: u16) -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            tls: None,
            peer_tls: None,
            net: NetConfig::default(),
            store: StoreConfig::default(),
            store_options: StoreOptions::default(),
            sweep: SweepConfig::default(),
            node: None,
            password: None,
        }
    }
}

/// Whether a server is ready for traffic. A plain server is ready once it listens; a cluster
/// node once every shard its current map gives it is Ready (copied, in touch with its
/// peers). The one place readiness is decided, so its rules can change here alone.
pub fn readiness(node: Option<&Node>) -> bool {
    node.is_none_or(Node::is_ready)
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
#[derive(Debug)]
pub struct Server {
    running: Running,
    bound: Bound,
    handler: Arc<StoreHandler>,
    stats: Arc<NetStats>,
}

impl Server {
    /// Binds, starts the sweeper and the accept loop, and returns once it is listening.
    pub async fn start(cfg: ServerConfig) -> Result<Self, BindError> {
        let store =
            Arc::new(Store::with_options(cfg.store, cfg.store_options, Arc::new(SystemClock)));
        Self::start_with_store(cfg, store).await
    }

    /// Like [`Server::start`] over a given store (for instance one with a manual clock).
    pub async fn start_with_store(cfg: ServerConfig, store: Arc<Store>) -> Result<Self, BindError> {
        let (listeners, bound) =
            net::bind_service(cfg.addr, cfg.tls.as_ref(), cfg.net.worker_threads)?;
        let addr = bound.main();
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let stats = Arc::new(NetStats::default());
        let cluster = cfg.node.as_ref().map(|node| {
            node.watcher().spawn(MAP_POLL_INTERVAL, cancel.clone(), &tracker);
            let peers = node::peers::peer_config(cfg.password.clone(), cfg.peer_tls.clone());
            node::spawn(node.clone(), store.clone(), peers, cancel.clone(), &tracker)
        });
        let handler = StoreHandler::new(store.clone(), stats.clone(), &cfg.net, addr.port());
        let handler = handler.with_cluster(cluster).with_password(cfg.password.clone());
        let handler = Arc::new(handler);
        spawn_sweeper(store, cfg.sweep, cancel.clone(), &tracker);
        let acceptor = cfg.tls.as_ref().map(|t| t.acceptor.clone());
        net::reload_tls_on_hangup(acceptor, cfg.peer_tls.clone(), cancel.clone(), &tracker);
        let net_cfg = Arc::new(cfg.net.clone());
        let grace = net_cfg.shutdown_grace;
        let h = handler.clone();
        net::spawn_service(listeners, bound, h, net_cfg, stats.clone(), cancel.clone(), &tracker)?;
        info!(%addr, tls_addr = bound.tls_field(), "shale server listening");
        Ok(Self { running: Running::new(addr, cancel, tracker, grace), bound, handler, stats })
    }

    /// The bound address: the plain port, or the TLS port of a TLS-only server.
    pub fn local_addr(&self) -> SocketAddr {
        self.running.local_addr()
    }

    /// The bound TLS port, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.bound.tls
    }

    /// The store being served.
    pub fn store(&self) -> &Arc<Store> {
        self.handler.store()
    }

    /// Connection counters.
    pub fn net_stats(&self) -> &Arc<NetStats> {
        &self.stats
    }

    /// The request handler (store, shard filter, authentication counters).
    pub fn handler(&self) -> &Arc<StoreHandler> {
        &self.handler
    }

    /// Whether this server should get traffic now (`GET /readyz`); see [`readiness`].
    pub fn is_ready(&self) -> bool {
        readiness(self.handler.node().map(|n| &**n))
    }

    /// A token that, when cancelled, begins shutdown.
    pub fn cancel_token(&self) -> CancellationToken {
        self.running.cancel_token()
    }

    /// Stops accepting, drains in-flight replies within the grace period, stops the
    /// sweeper. Returns whether everything finished in time.
    pub async fn shutdown(self) -> bool {
        self.running.shutdown().await
    }
}
