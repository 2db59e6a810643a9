//! The router: one address in front of replicated shards. Each key maps to a shard with
//! FNV-1 32 (`hash % numShards + 1`); reads go to one healthy replica (random or P2C) with
//! failover to each other replica at most once; writes fan out to every replica at once.
//! Health is tracked passively (request failures) and actively (probes), with backoff.
//!
//! Built from small parts, each testable alone: [`health`], [`backend`] (a node: pools,
//! health, load), [`select`] (read policy), [`forward`] (failover and fan-out), [`topology`]
//! (the map, from [`crate::shardmap`], resolved to backends). The router plugs into
//! [`crate::net`] like the server does; only its [`crate::net::Handler`] differs: the
//! connection commands run through the same [`crate::cmd`] code as on a server, with the
//! router's own [`crate::cmd::Env`] (`env.rs`), and the data commands it forwards are
//! listed in `handler.rs` until issue 15 routes every command by its declared
//! [`crate::cmd::Route`]. Backend connections are the client's multiplexed
//! [`crate::client::Pool`]s.

pub mod backend;
mod env;
pub mod forward;
mod handler;
pub mod health;
pub mod hints;
mod probe;
mod repair;
pub mod select;
pub mod stats;
pub mod topology;
pub mod write;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::auth::{Gate, Password};
use crate::client::ConnectionConfig;
use crate::cmd::Services;
use crate::cmd::config::Config;
use crate::net::{self, BindError, NetConfig, NetStats, Running};
use crate::shardmap::{MAP_POLL_INTERVAL, MapError, MapWatcher, ShardMap};
use forward::Timeouts;
use health::HealthConfig;
use select::ReadPolicy;
use stats::RouterStats;
use topology::{BackendSettings, Topology};
use write::WriteAck;

use crate::version::Hlc;

/// Default port of `shale router`.
pub const DEFAULT_ROUTER_PORT: u16 = 7380;
/// Default multiplexed connections per backend node.
pub const DEFAULT_POOL_SIZE: usize = 2;

/// Everything a router needs to start.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Client-side connection limits and timeouts.
    pub net: NetConfig,
    /// The shard map file, followed for changes.
    pub map_path: PathBuf,
    /// How reads choose a replica.
    pub read_policy: ReadPolicy,
    /// Backend timeouts.
    pub timeouts: Timeouts,
    /// Traffic connections per backend node.
    pub pool_size: usize,
    /// Health thresholds and probe timing.
    pub health: HealthConfig,
    /// How many replicas must ack a write before the client is answered.
    pub write_ack: WriteAck,
    /// Tie-breaker of this router's version clock; distinct per router.
    pub router_id: u8,
    /// Clients must AUTH with this first (`--requirepass`); `None` lets everyone in.
    pub password: Option<Password>,
    /// Sent as AUTH on every backend connection, probes included (`--backend-password`).
    pub backend_password: Option<Password>,
}

impl RouterConfig {
    /// Defaults, listening on 127.0.0.1 at `port`, routing by the map at `map_path`.
    pub fn loopback(port: u16, map_path: impl Into<PathBuf>) -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            net: NetConfig::default(),
            map_path: map_path.into(),
            read_policy: ReadPolicy::Random,
            timeouts: Timeouts::default(),
            pool_size: DEFAULT_POOL_SIZE,
            health: HealthConfig::default(),
            write_ack: WriteAck::All,
            router_id: rand::random(),
            password: None,
            backend_password: None,
        }
    }
}

/// Why a router could not start.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The shard map is missing or invalid.
    #[error("shard map: {0}")]
    Map(#[from] MapError),
    /// The listening socket could not be opened.
    #[error(transparent)]
    Bind(#[from] BindError),
}

/// The router's shared state; [`Router`] is a cheap handle to it.
#[derive(Debug)]
struct Inner {
    topology: ArcSwap<Topology>,
    backend_settings: BackendSettings,
    read_policy: ReadPolicy,
    timeouts: Timeouts,
    stats: RouterStats,
    net: Arc<NetStats>,
    started: Instant,
    port: u16,
    services: Arc<Services>,
    config: Config,
    gate: Gate,
    hlc: Hlc,
    write_ack: WriteAck,
    watcher: Arc<MapWatcher>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// A handle on a router: the request handler and a view of its topology and counters.
#[derive(Debug, Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

/// A running router. Call [`RunningRouter::shutdown`] to stop it.
#[derive(Debug)]
pub struct RunningRouter {
    running: Running,
    router: Router,
    watcher: Arc<MapWatcher>,
}

impl Router {
    /// Loads the map, binds, starts probers and the map watcher, and returns once
    /// listening.
    pub async fn start(cfg: RouterConfig) -> Result<RunningRouter, RouterError> {
        let map = Arc::new(ShardMap::load(&cfg.map_path)?);
        let listener = net::bind(cfg.addr)?;
        let addr = listener.local_addr().map_err(|source| BindError { addr: cfg.addr, source })?;
        let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
        let conn = ConnectionConfig {
            connect_timeout: cfg.timeouts.connect,
            limits: cfg.net.limits,
            password: cfg.backend_password.clone(),
            ..ConnectionConfig::default()
        };
        let backend_settings =
            BackendSettings { pool_size: cfg.pool_size, conn, health: cfg.health };
        let (topology, fresh) = Topology::build(map.clone(), None, &backend_settings);
        for b in &fresh {
            probe::spawn_prober(b, cfg.health.probe_timeout, cancel.clone(), &tracker);
            // A router that just started cannot know which writes its predecessor failed to
            // deliver: every replica is merged with its peers (before serving, see below).
            for shard in map.shards_of(b.name()) {
                b.hints().mark_merge(shard);
            }
        }
        let net_stats = Arc::new(NetStats::default());
        let services = Arc::new(Services::new(cfg.net.max_connections, cfg.net.idle_timeout));
        let gate = Gate::new(cfg.password.clone());
        let config = env::router_config(&services, &gate, addr.port());
        let watcher = MapWatcher::new(cfg.map_path.clone(), (*map).clone());
        let inner = Inner {
            topology: ArcSwap::from_pointee(topology),
            backend_settings,
            read_policy: cfg.read_policy,
            timeouts: cfg.timeouts,
            stats: RouterStats::default(),
            net: net_stats.clone(),
            started: Instant::now(),
            port: addr.port(),
            services,
            config,
            gate,
            hlc: Hlc::new(cfg.router_id),
            write_ack: cfg.write_ack,
            watcher: watcher.clone(),
            cancel: cancel.clone(),
            tracker: tracker.clone(),
        };
        let router = Router { inner: Arc::new(inner) };
        // Merge the replicas before serving, so no stale replica answers a read meanwhile.
        let _ = tokio::time::timeout(repair::STARTUP_REPAIR_TIMEOUT, repair::pass(&router)).await;
        watcher.spawn(MAP_POLL_INTERVAL, cancel.clone(), &tracker);
        tracker.spawn(follow_map(router.clone(), watcher.clone(), cancel.clone()));
        tracker.spawn(repair::run(router.clone(), cancel.clone()));
        let net_cfg = Arc::new(cfg.net.clone());
        let grace = net_cfg.shutdown_grace;
        let serve = net::serve(
            listener,
            Arc::new(router.clone()),
            net_cfg,
            net_stats,
            cancel.clone(),
            tracker.clone(),
        );
        tracker.spawn(serve);
        info!(%addr, shards = map.num_shards(), "shale router listening");
        Ok(RunningRouter { running: Running::new(addr, cancel, tracker, grace), router, watcher })
    }

    /// The topology requests are routed by now.
    pub fn topology(&self) -> Arc<Topology> {
        self.inner.topology.load_full()
    }

    /// Routes by `map` from now on (requests in flight finish on the old one).
    fn apply_map(&self, map: Arc<ShardMap>) {
        let old = self.inner.topology.load_full();
        if **old.map() == *map {
            return;
        }
        let (topology, fresh) = Topology::build(map, Some(&old), &self.inner.backend_settings);
        for b in &fresh {
            let timeout = self.inner.backend_settings.health.probe_timeout;
            probe::spawn_prober(b, timeout, self.inner.cancel.clone(), &self.inner.tracker);
        }
        info!(shards = topology.map().num_shards(), new_nodes = fresh.len(), "routing by new map");
        self.inner.topology.store(Arc::new(topology));
    }

    /// Re-reads the map file now (after a WRONG_SHARD). Returns true so the caller retries
    /// once whether or not the map changed: the node may have finished a shard copy.
    fn refresh_map(&self) -> bool {
        if let Ok(true) = self.inner.watcher.reload() {
            self.apply_map(self.inner.watcher.current());
        }
        true
    }
}

/// Swaps in each new map the watcher accepts.
async fn follow_map(router: Router, watcher: Arc<MapWatcher>, cancel: CancellationToken) {
    let mut updates = watcher.updates(cancel);
    while let Some(map) = updates.next().await {
        router.apply_map(map);
    }
}

impl RunningRouter {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.running.local_addr()
    }

    /// The router handle (topology, counters).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Re-reads the map file now (as SIGHUP does). Returns whether the map changed.
    pub fn reload(&self) -> Result<bool, MapError> {
        self.watcher.reload()
    }

    /// A token that, when cancelled, begins shutdown.
    pub fn cancel_token(&self) -> CancellationToken {
        self.running.cancel_token()
    }

    /// Stops accepting, drains in-flight replies within the grace period, stops probers and
    /// the map watcher.
    pub async fn shutdown(self) -> bool {
        self.running.shutdown().await
    }
}
