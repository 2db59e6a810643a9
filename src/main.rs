//! The `shale` binary: a thin clap shell over the library.

mod shell;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: a cache and a proxy allocate many small,
/// short-lived buffers (frames, futures) and keep millions of small key blocks, where
/// glibc's malloc costs both CPU (about a sixth of the router's time in profiles) and a
/// 16-byte header plus rounding per block. The library leaves the choice to its users;
/// `--no-default-features` builds the binary with the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "shale", version, about = "A Redis-like distributed cache")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a cache server (binary protocol and Redis text on one port).
    Server(shell::ServerArgs),
    /// Run a router in front of replicated shards.
    Router(shell::RouterArgs),
    /// Start a local cluster (servers + router) for trying the distributed setup.
    Cluster(shell::ClusterArgs),
    /// A redis-cli-style client: one-shot commands, a REPL, latency probes.
    Cli(shale::cli::CliArgs),
    /// Closed-loop benchmark (like redis-benchmark): throughput and latency percentiles.
    Bench(shale::bench::BenchArgs),
    /// Open-loop load at fixed rates with a checker that judges every read.
    Stress(shale::bench::StressArgs),
}

fn main() -> anyhow::Result<()> {
    #[cfg(feature = "mimalloc")]
    shale::cmd::info::set_mem_allocator("mimalloc");
    let command = Cli::parse().command;
    let threads = match &command {
        Cmd::Server(args) => args.threads,
        Cmd::Router(args) => args.threads,
        _ => 0,
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        runtime.worker_threads(threads);
    }
    runtime.enable_all().build()?.block_on(run(command))
}

async fn run(command: Cmd) -> anyhow::Result<()> {
    match command {
        Cmd::Server(args) => shell::run_server(args).await,
        Cmd::Router(args) => shell::run_router(args).await,
        Cmd::Cluster(args) => shell::run_cluster(args).await,
        Cmd::Cli(args) => shale::cli::run(args).await,
        Cmd::Bench(args) => Ok(shale::bench::run_bench(args).await?),
        Cmd::Stress(args) => Ok(shale::bench::run_stress(args).await?),
    }
}
