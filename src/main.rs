//! The `shale` binary: a thin clap shell over the library.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use shale::net::wait_for_signal;
use shale::server::{DEFAULT_PORT, Server, ServerConfig};
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
    let server = Server::start(cfg).await.context("starting server")?;
    wait_for_signal().await;
    server.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Server(args) => run_server(args).await,
    }
}
