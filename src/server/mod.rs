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
mod shards;
mod sync;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::auth::Password;
use crate::net::{self, BindError, NetConfig, NetStats, Running};
use crate::shardmap::watch::MAP_POLL_INTERVAL;
use crate::store::{Store, StoreConfig, StoreOptions, SweepConfig, SystemClock, spawn_sweeper};

pub use env::policy_name;
pub use handler::{MAX_VERSION_SKEW, StoreHandler};
pub use shards::{Served, ShardFilter};

/// Default port of `shale server`.
pub const DEFAULT_PORT: u16 = 7379;

/// Everything a server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Connection limits and timeouts.
    pub net: NetConfig,
    /// Store shape.
    pub store: StoreConfig,
    /// Tombstones, clock id, maxmemory and eviction.
    pub store_options: StoreOptions,
    /// Background expiry sweep.
    pub sweep: SweepConfig,
    /// Serve only some shards of a cluster map (`--shardmap --node`); `None` serves all keys.
    pub shards: Option<Arc<ShardFilter>>,
    /// Clients must AUTH with this first (`--requirepass`); `None` lets everyone in. A
    /// cluster node also uses it to authenticate to its peers for shard copies.
    pub password: Option<Password>,
}

impl ServerConfig {
    /// Defaults, listening on 127.0.0.1 at `port`.
    pub fn loopback(port: u16) -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            net: NetConfig::default(),
            store: StoreConfig::default(),
            store_options: StoreOptions::default(),
            sweep: SweepConfig::default(),
            shards: None,
            password: None,
        }
    }
}

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
#[derive(Debug)]
pub struct Server {
    running: Running,
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
        let listener = net::bind(cfg.addr)?;
        let addr = listener.local_addr().map_err(|source| BindError { addr: cfg.addr, source })?;
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let stats = Arc::new(NetStats::default());
        let handler = StoreHandler::new(store.clone(), stats.clone(), &cfg.net, addr.port());
        let handler = handler.with_shards(cfg.shards.clone()).with_password(cfg.password.clone());
        let handler = Arc::new(handler);
        spawn_sweeper(store, cfg.sweep, cancel.clone(), &tracker);
        if let Some(shards) = &cfg.shards {
            shards.watcher().spawn(MAP_POLL_INTERVAL, cancel.clone(), &tracker);
            let peers = sync::peer_config(cfg.password.clone());
            let store = handler.store().clone();
            tracker.spawn(sync::run(shards.clone(), store, peers, cancel.clone()));
        }
        let net_cfg = Arc::new(cfg.net.clone());
        let grace = net_cfg.shutdown_grace;
        let serve = net::serve(
            listener,
            handler.clone(),
            net_cfg,
            stats.clone(),
            cancel.clone(),
            tracker.clone(),
        );
        tracker.spawn(serve);
        info!(%addr, "shale server listening");
        Ok(Self { running: Running::new(addr, cancel, tracker, grace), handler, stats })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.running.local_addr()
    }

    /// The store being served.
    pub fn store(&self) -> &Arc<Store> {
        self.handler.store()
    }

    /// Connection counters.
    pub fn net_stats(&self) -> &Arc<NetStats> {
        &self.stats
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
