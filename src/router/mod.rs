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
//! router's own [`crate::cmd::Env`] (`env.rs`), and every data command is run by its
//! declared [`crate::cmd::Route`] (`handler.rs`). Backend connections are the client's
//! multiplexed [`crate::client::Pool`]s, one set per worker thread. What it needs to start
//! is [`RouterConfig`] (`config.rs`).

mod allshards;
pub mod backend;
mod batch;
mod config;
mod env;
pub mod fanout;
pub mod forward;
mod handler;
pub mod health;
pub mod hintlog;
pub mod hints;
mod load;
mod multikey;
pub mod nodeview;
mod probe;
mod repair;
mod rmw;
mod rmw_find;
mod run;
mod scan;
pub mod select;
pub mod settings;
mod single;
mod split;
pub mod stats;
pub mod topology;
mod tx;
pub mod write;

pub use config::{DEFAULT_POOL_SIZE, DEFAULT_ROUTER_BUSY_POLL, DEFAULT_ROUTER_PORT, RouterConfig};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::auth::Gate;
use crate::client::ConnectionConfig;
use crate::cmd::Services;
use crate::cmd::config::Config;
use crate::net::{self, BindError, Bound, NetStats, Running};
use crate::protocol::Reply;
use crate::shardmap::{MAP_POLL_INTERVAL, MapError, MapWatcher, ShardMap};
use settings::Settings;
use stats::RouterStats;
use topology::{BackendSettings, Topology};

use crate::version::Hlc;

/// Why a router could not start.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The shard map is unreadable or invalid (its message names the map).
    #[error(transparent)]
    Map(#[from] MapError),
    /// The listening socket could not be opened.
    #[error(transparent)]
    Bind(#[from] BindError),
}

/// The router's shared state; [`Router`] is a cheap handle to it.
#[derive(Debug)]
struct Inner {
    topology: ArcSwap<Topology>,
    /// The first map's replicas have been brought up to date (or tried to be): reads are
    /// served from then on.
    synced: std::sync::atomic::AtomicBool,
    backend_settings: BackendSettings,
    settings: Arc<Settings>,
    stats: RouterStats,
    net: Arc<NetStats>,
    started: Instant,
    port: u16,
    services: Arc<Services>,
    config: Config,
    gate: Gate,
    hlc: Arc<Hlc>,
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
    bound: Bound,
    router: Router,
    watcher: Arc<MapWatcher>,
}

impl Router {
    /// Loads the map, binds, starts probers and the map watcher, and returns once
    /// listening.
    pub async fn start(cfg: RouterConfig) -> Result<RunningRouter, RouterError> {
        let watcher = open_map(&cfg.map_path)?;
        let map = watcher.current();
        let (listeners, bound) =
            net::bind_service(cfg.addr, cfg.tls.as_ref(), cfg.net.worker_threads)?;
        let addr = bound.main();
        let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
        let conn = ConnectionConfig {
            connect_timeout: cfg.timeouts.connect,
            limits: cfg.net.limits,
            // A coordinator's RMW reply may carry a value twice (GETSET's old and new).
            max_reply_frame: Some(crate::protocol::limits::MAX_FRAME_LEN_HARD),
            password: cfg.backend_password.clone(),
            resolver: cfg.resolver.clone(),
            tls: cfg.backend_tls.clone(),
            ..ConnectionConfig::default()
        };
        let hlc = Arc::new(Hlc::new(cfg.router_id));
        let backend_settings = BackendSettings {
            pool_size: cfg.pool_size,
            workers: cfg.net.worker_threads,
            conn,
            health: cfg.health,
            hlc: hlc.clone(),
            hints: cfg.hints,
        };
        let (topology, fresh) = Topology::build(map.clone(), None, &backend_settings);
        for b in &fresh {
            probe::spawn_prober(b, cfg.health.probe_timeout, cancel.clone(), &tracker);
        }
        mark_stale(&topology, &fresh);
        let net_stats = Arc::new(NetStats::default());
        let services = Arc::new(Services::new(cfg.net.max_connections, cfg.net.idle_timeout));
        let gate = Gate::new(cfg.password.clone());
        let settings = Arc::new(Settings::new(cfg.timeouts, cfg.read_policy, cfg.write_ack));
        let config = env::router_config(&services, &gate, &settings, addr.port());
        let inner = Inner {
            topology: ArcSwap::from_pointee(topology),
            synced: std::sync::atomic::AtomicBool::new(false),
            backend_settings,
            settings,
            stats: RouterStats::default(),
            net: net_stats.clone(),
            started: Instant::now(),
            port: addr.port(),
            services,
            config,
            gate,
            hlc,
            watcher: watcher.clone(),
            cancel: cancel.clone(),
            tracker: tracker.clone(),
        };
        let router = Router { inner: Arc::new(inner) };
        // Probe once and bring the replicas up to date before serving, so no replica that
        // missed writes answers a read meanwhile.
        let first = join_all(fresh.iter().map(|b| b.probe(cfg.health.probe_timeout)));
        let _ = tokio::time::timeout(repair::STARTUP_REPAIR_TIMEOUT, first).await;
        if watcher.has_map() {
            router.first_sync().await;
        }
        watcher.spawn(MAP_POLL_INTERVAL, cancel.clone(), &tracker);
        tracker.spawn(follow_map(router.clone(), watcher.clone(), cancel.clone()));
        tracker.spawn(repair::run(router.clone(), cancel.clone()));
        let acceptor = cfg.tls.as_ref().map(|t| t.acceptor.clone());
        net::reload_tls_on_hangup(acceptor, cfg.backend_tls.clone(), cancel.clone(), &tracker);
        let net_cfg = Arc::new(cfg.net.clone());
        let grace = net_cfg.shutdown_grace;
        let handler = Arc::new(router.clone());
        net::spawn_service(
            listeners,
            bound,
            handler,
            net_cfg,
            net_stats,
            cancel.clone(),
            &tracker,
        )?;
        let tls_addr = bound.tls_field();
        info!(%addr, tls_addr, shards = map.num_shards(), "shale router listening");
        let running = Running::new(addr, cancel, tracker, grace);
        Ok(RunningRouter { running, bound, router, watcher })
    }

    /// The topology requests are routed by now.
    pub fn topology(&self) -> Arc<Topology> {
        self.inner.topology.load_full()
    }

    /// Client connection and per-command counters.
    pub fn net_stats(&self) -> &Arc<NetStats> {
        &self.inner.net
    }

    /// The map watcher (generation, reload failures, whether a map was loaded).
    pub fn watcher(&self) -> &Arc<MapWatcher> {
        &self.inner.watcher
    }

    /// Wrong passwords received from clients since start.
    pub fn auth_failures(&self) -> u64 {
        self.inner.gate.failures()
    }

    /// Forwarded requests that failed with `kind` since start (STATS `failed_<kind>`).
    pub fn failed(&self, kind: forward::Failure) -> u64 {
        self.inner.stats.failed(kind)
    }

    /// Whether this router should get traffic (`GET /readyz`): it has a valid map. The one
    /// place the router's readiness is decided.
    pub fn is_ready(&self) -> bool {
        self.inner.watcher.has_map() && self.inner.synced.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Brings the first map's replicas up to date (bounded), then counts as ready.
    async fn first_sync(&self) {
        let _ = tokio::time::timeout(repair::STARTUP_REPAIR_TIMEOUT, async {
            self.refresh_movers();
            repair::pass(self).await;
        })
        .await;
        self.inner.synced.store(true, std::sync::atomic::Ordering::Release);
    }

    /// The retryable answer to data commands while no map has been loaded yet.
    pub(super) fn no_map(&self) -> Reply {
        let path = self.inner.watcher.path().display();
        let msg = format!("no shard map loaded yet (waiting for {path}); retry later");
        Reply::error(crate::protocol::Status::Unavailable, msg)
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

    /// Brings the shards' movers in line with what the nodes report.
    fn refresh_movers(&self) {
        let topo = self.inner.topology.load();
        if let Some(next) = topo.refreshed() {
            self.inner.topology.store(Arc::new(next));
        }
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

/// Swaps in each new map the watcher accepts. A router that started without a map treats
/// the first one as its start: every replica is merged with its peers.
async fn follow_map(router: Router, watcher: Arc<MapWatcher>, cancel: CancellationToken) {
    let mut updates = watcher.updates(cancel);
    let mut started = watcher.has_map();
    while let Some(map) = updates.next().await {
        router.apply_map(map);
        if !std::mem::replace(&mut started, true) {
            let topo = router.topology();
            mark_stale(&topo, &topo.backends().into_iter().cloned().collect::<Vec<_>>());
            router.first_sync().await;
        }
    }
}

/// The watcher of the map file; one still waiting for the file if it does not exist yet
/// (a ConfigMap may be mounted after the router starts). Any other problem stops the start.
fn open_map(path: &std::path::Path) -> Result<Arc<MapWatcher>, MapError> {
    match ShardMap::load(path).and_then(ShardMap::usable) {
        Ok(map) => Ok(MapWatcher::new(path.to_owned(), map)),
        Err(MapError::Unreadable { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            tracing::warn!(path = %path.display(), "shard map not found; not ready until it appears");
            Ok(MapWatcher::waiting(path.to_owned()))
        }
        Err(e) => Err(e),
    }
}

/// A router that just started (or got its first map) cannot know which writes its
/// predecessor failed to deliver: none of the replicas serves reads until it has pulled its
/// shards from its peers (a SYNC; before the router counts as ready, and in the background
/// after). A node that joins a running router's map later copies its shards from their
/// replicas before it is ready, and this router has sent it nothing to miss.
fn mark_stale(topology: &Topology, fresh: &[Arc<backend::Backend>]) {
    for b in fresh {
        for shard in topology.map().shards_of(b.name()) {
            b.hints().mark_stale(shard);
        }
    }
}

impl RunningRouter {
    /// Whether the router should get traffic: see [`Router::is_ready`].
    pub fn is_ready(&self) -> bool {
        self.router.is_ready()
    }

    /// The bound address: the plain port, or the TLS port of a TLS-only router.
    pub fn local_addr(&self) -> SocketAddr {
        self.running.local_addr()
    }

    /// The bound TLS port, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.bound.tls
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
