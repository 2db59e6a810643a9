//! The `shale` binary: a thin clap shell over the library.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use shale::cluster::ClusterConfig;
use shale::net::wait_for_signal;
use shale::router::forward::Timeouts;
use shale::router::select::ReadPolicy;
use shale::router::shardmap::ShardMap;
use shale::router::watch::MapWatcher;
use shale::router::write::WriteAck;
use shale::router::{Router, RouterConfig};
use shale::server::{DEFAULT_PORT, Server, ServerConfig, ShardFilter};
use shale::store::EvictionPolicy;
use shale::units::{parse_duration, parse_size};

#[derive(Parser)]
#[command(name = "shale", version, about = "A Redis-like distributed cache")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a cache server (binary protocol and Redis text on one port).
    Server(ServerArgs),
    /// Run a router in front of replicated shards.
    Router(RouterArgs),
    /// Start a local cluster (servers + router) for trying the distributed setup.
    Cluster(ClusterArgs),
    /// A redis-cli-style client: one-shot commands, a REPL, latency probes.
    Cli(shale::cli::CliArgs),
    /// Closed-loop benchmark (like redis-benchmark): throughput and latency percentiles.
    Bench(shale::bench::BenchArgs),
    /// Open-loop load at fixed rates with a checker that judges every read.
    Stress(shale::bench::StressArgs),
}

#[derive(Args)]
struct RouterArgs {
    /// The shard map file (JSON), followed for changes and on SIGHUP.
    #[arg(long)]
    shardmap: PathBuf,
    /// Address to listen on. Loopback by default.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on.
    #[arg(long, default_value_t = shale::router::DEFAULT_ROUTER_PORT)]
    port: u16,
    /// How reads pick a replica: random or p2c.
    #[arg(long, default_value = "random")]
    read_policy: ReadPolicy,
    /// Backend connect timeout.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Timeout of one read attempt on one replica.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    read_timeout: Duration,
    /// Timeout of a write fan-out.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    write_timeout: Duration,
    /// Timeout of a whole request, failovers included.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Most concurrent client connections.
    #[arg(long, default_value_t = shale::net::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Replicas that must ack a write before the client is answered: all, quorum or one.
    #[arg(long, default_value = "all")]
    write_ack: WriteAck,
    /// Tie-breaker of this router's version clock (distinct per router; random if unset).
    #[arg(long)]
    router_id: Option<u8>,
    /// Log level or tracing filter (RUST_LOG overrides).
    #[arg(long, default_value = "info")]
    log_level: String,
}

#[derive(Args)]
struct ClusterArgs {
    /// Server processes.
    #[arg(long, default_value_t = 3)]
    nodes: u32,
    /// Shards in the map.
    #[arg(long, default_value_t = 16)]
    shards: u32,
    /// Replicas per shard.
    #[arg(long, default_value_t = 2)]
    replicas: u32,
    /// The router's port; node i listens on base-port + i.
    #[arg(long, default_value_t = 7400)]
    base_port: u16,
    /// Directory for the shard map (default: a folder under the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServerArgs {
    /// Address to listen on. Loopback by default.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Store shards (a power of two); 0 = 4 x cores.
    #[arg(long, default_value_t = 0)]
    shards: usize,
    /// Most concurrent client connections.
    #[arg(long, default_value_t = shale::net::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Largest key, e.g. 8KiB.
    #[arg(long, default_value = "8KiB", value_parser = parse_size)]
    max_key_size: usize,
    /// Largest value, e.g. 1MiB.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    max_value_size: usize,
    /// Close connections idle this long (0 = never).
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Log level or tracing filter (RUST_LOG overrides).
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Memory limit for keys and values (0 = none), e.g. 2GiB.
    #[arg(long, default_value = "0", value_parser = parse_size)]
    maxmemory: usize,
    /// What a write does past --maxmemory: noeviction (answer OOM) or clock (evict cold keys).
    #[arg(long, default_value = "noeviction", value_parser = parse_eviction)]
    eviction: EvictionPolicy,
    /// Serve one node of a cluster: the shard map file (requires --node).
    #[arg(long, requires = "node")]
    shardmap: Option<PathBuf>,
    /// This server's node name in the shard map; keys of other shards get WRONG_SHARD.
    #[arg(long, requires = "shardmap")]
    node: Option<String>,
}

fn parse_eviction(s: &str) -> Result<EvictionPolicy, String> {
    match s {
        "noeviction" => Ok(EvictionPolicy::NoEviction),
        "clock" => Ok(EvictionPolicy::Clock),
        other => Err(format!("unknown eviction policy '{other}' (use noeviction or clock)")),
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    anyhow::ensure!(
        args.max_key_size <= shale::protocol::limits::MAX_KEY_SIZE_HARD,
        "--max-key-size is at most 64KiB (key_len is a u16)"
    );
    let mut cfg = ServerConfig::loopback(args.port);
    cfg.addr = SocketAddr::new(args.bind, args.port);
    cfg.store.shards = args.shards;
    cfg.net.max_connections = args.max_connections;
    cfg.net.limits.max_key_size = args.max_key_size;
    cfg.net.limits.max_value_size = args.max_value_size;
    cfg.net.idle_timeout = (!args.idle_timeout.is_zero()).then_some(args.idle_timeout);
    cfg.store_options.maxmemory = args.maxmemory;
    cfg.store_options.eviction = args.eviction;
    if let (Some(path), Some(node)) = (args.shardmap, args.node) {
        let map = ShardMap::load(&path).context("loading the shard map")?;
        anyhow::ensure!(map.node(&node).is_some(), "node '{node}' is not in {}", path.display());
        // Cluster nodes keep DEL tombstones so a delayed older write can't resurrect a key,
        // and stamp direct writes with a clock id of their own.
        cfg.store_options.tombstones = true;
        cfg.store_options.clock_id = shale::router::hash::fnv1_32(node.as_bytes()).to_be_bytes()[3];
        cfg.shards = Some(ShardFilter::new(MapWatcher::new(path, map), node));
    }
    let server = Server::start(cfg).await.context("starting server")?;
    wait_for_signal().await;
    server.shutdown().await;
    Ok(())
}

async fn run_router(args: RouterArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    let mut cfg = RouterConfig::loopback(args.port, args.shardmap);
    cfg.addr = SocketAddr::new(args.bind, args.port);
    cfg.read_policy = args.read_policy;
    cfg.net.max_connections = args.max_connections;
    cfg.write_ack = args.write_ack;
    if let Some(id) = args.router_id {
        cfg.router_id = id;
    }
    cfg.timeouts = Timeouts {
        connect: args.connect_timeout,
        read_try: args.read_timeout,
        write: args.write_timeout,
        request: args.request_timeout,
    };
    let router = Router::start(cfg).await.context("starting router")?;
    wait_for_signal().await;
    router.shutdown().await;
    Ok(())
}

async fn run_cluster(args: ClusterArgs) -> anyhow::Result<()> {
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Server(args) => run_server(args).await,
        Cmd::Router(args) => run_router(args).await,
        Cmd::Cluster(args) => run_cluster(args).await,
        Cmd::Cli(args) => shale::cli::run(args).await,
        Cmd::Bench(args) => Ok(shale::bench::run_bench(args).await?),
        Cmd::Stress(args) => Ok(shale::bench::run_stress(args).await?),
    }
}
