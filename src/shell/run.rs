//! How `server`, `router` and `cluster` start from their parsed flags ([`super`] declares
//! the flags).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::anyhow;
use shale::auth::Password;
use shale::cluster::ClusterConfig;
use shale::metrics::MetricsServer;
use shale::net::Signals;
use shale::router::forward::Timeouts;
use shale::router::{Router, RouterConfig, RouterError};
use shale::server::{DEFAULT_PORT, Node, Server, ServerConfig};
use shale::shardmap::ShardMap;
use shale::shardmap::watch::MapWatcher;

use super::{ClusterArgs, RouterArgs, ServerArgs, flag, init_logging, map_error};

/// `--threads`: connection worker threads, 0 meaning one per core.
fn worker_threads(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

pub async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    if args.disable_thp {
        disable_thp();
    }
    anyhow::ensure!(
        args.max_key_size <= shale::protocol::limits::MAX_KEY_SIZE_HARD,
        "--max-key-size is at most 64KiB (key_len is a u16)"
    );
    shale::version::set_debug_offset_ms(args.debug_clock_offset_ms);
    let cluster = match (&args.shardmap, &args.node) {
        (Some(path), Some(node)) => Some(load_node_map(path, node, &args)?),
        _ => None,
    };
    let port = match (&cluster, args.port) {
        (Some((map, node)), None) => map.node(node).map_or(DEFAULT_PORT, |n| n.port),
        (_, port) => port.unwrap_or(DEFAULT_PORT),
    };
    let mut cfg = ServerConfig::loopback(port);
    cfg.password = args.security.password(args.bind)?;
    cfg.addr = SocketAddr::new(args.bind, port);
    cfg.tls = args.tls.listen(args.bind, port)?;
    if args.replication_tls.tls_replication {
        cfg.peer_tls = Some(args.tls.peer_connector()?);
    }
    cfg.store.shards = args.stripes;
    cfg.net.max_connections = args.max_connections;
    cfg.net.worker_threads = worker_threads(args.threads);
    cfg.net.busy_poll = args.busy_poll;
    cfg.net.balance = args.balance;
    cfg.net.limits.max_key_size = args.max_key_size;
    cfg.net.limits.max_value_size = args.max_value_size;
    cfg.net.idle_timeout = (!args.idle_timeout.is_zero()).then_some(args.idle_timeout);
    cfg.store_options.maxmemory = args.maxmemory;
    cfg.store_options.eviction = args.eviction;
    if let (Some((map, node)), Some(path)) = (cluster, args.shardmap) {
        // Cluster nodes keep DEL tombstones so a delayed older write can't resurrect a key,
        // and stamp direct writes with a clock id of their own.
        cfg.store_options.tombstones = true;
        cfg.store_options.tombstone_ttl = args.tombstone_grace;
        cfg.store_options.clock_id = shale::server::node_writer_id(&node);
        let watcher = MapWatcher::new(path, map);
        cfg.node = Some(Node::new(watcher, node, args.tombstone_grace));
    }
    let signals = Signals::install();
    let server = Server::start(cfg).await?;
    let metrics = args.metrics.addr().map(|a| MetricsServer::for_server(&server, a)).transpose()?;
    signals.wait().await;
    server.shutdown().await;
    drop(metrics);
    Ok(())
}

/// Turns transparent huge pages off for the whole process (every thread, memory mapped
/// before or after). A failure only costs memory, so it is logged, not fatal.
fn disable_thp() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::warn!("cannot turn transparent huge pages off: {e}");
    }
}

/// Loads the map of a cluster node and checks that `node` is in it and that `--port`, if
/// given, is the map's port for it.
fn load_node_map(path: &Path, node: &str, args: &ServerArgs) -> anyhow::Result<(ShardMap, String)> {
    let map = ShardMap::load(path)
        .and_then(ShardMap::usable)
        .map_err(|e| anyhow!(map_error(path, &e)))?;
    let spec =
        map.node(node).ok_or_else(|| anyhow!("node '{node}' is not in {}", path.display()))?;
    if let Some(port) = args.port.filter(|p| *p != spec.port && !args.behind_proxy) {
        anyhow::bail!(
            "--port {port} disagrees with node {node}'s port {} in {}: leave --port out, fix \
             the map, or pass --behind-proxy if the map's address is a proxy in front of this node",
            spec.port,
            path.display()
        );
    }
    Ok((map, node.to_owned()))
}

pub async fn run_router(args: RouterArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    if args.disable_thp {
        disable_thp();
    }
    shale::version::set_debug_offset_ms(args.debug_clock_offset_ms);
    let map_path = args.shardmap.clone();
    let mut cfg = RouterConfig::loopback(args.port, args.shardmap);
    cfg.password = args.security.password(args.bind)?;
    let backend_file = args.backend_password_file.as_deref();
    cfg.backend_password = Password::from_flag_or_file(args.backend_password, backend_file)
        .map_err(flag("--backend-password"))?;
    cfg.addr = SocketAddr::new(args.bind, args.port);
    cfg.tls = args.tls.listen(args.bind, args.port)?;
    cfg.backend_tls = args.backend_tls.connector()?;
    cfg.read_policy = args.read_policy;
    cfg.net.max_connections = args.max_connections;
    cfg.net.worker_threads = worker_threads(args.threads);
    cfg.net.busy_poll = args.busy_poll;
    cfg.net.balance = args.balance;
    cfg.write_ack = args.write_ack;
    cfg.hints.max_hints = args.max_hints_per_node;
    if let Some(id) = args.router_id {
        cfg.router_id = id;
    }
    cfg.timeouts = Timeouts {
        connect: args.connect_timeout,
        read_try: args.read_timeout,
        write: args.write_timeout,
        request: args.request_timeout,
    };
    let signals = Signals::install();
    let router = Router::start(cfg).await.map_err(|e| match e {
        RouterError::Map(e) => anyhow!(map_error(&map_path, &e)),
        other => anyhow!(other),
    })?;
    let metrics =
        args.metrics.addr().map(|a| MetricsServer::for_router(router.router(), a)).transpose()?;
    signals.wait().await;
    router.shutdown().await;
    drop(metrics);
    Ok(())
}

pub async fn run_cluster(args: ClusterArgs) -> anyhow::Result<()> {
    init_logging("warn");
    let dir = args
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("shale-cluster-{}", args.base_port)));
    let cfg = ClusterConfig {
        nodes: args.nodes,
        shards: args.shards,
        replicas: args.replicas,
        base_port: args.base_port,
        dir,
    };
    Ok(shale::cluster::run(cfg).await?)
}
