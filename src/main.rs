//! The `shale` binary: a thin clap shell over the library.

mod shell;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: a cache and a proxy allocate many small,
/// short-lived buffers (frames, futures) and keep millions of small key blocks, where
/// glibc's malloc costs both CPU (about a sixth of the router's time in profiles) and a
/// 16-byte header plus rounding per block. The library leaves the choice to its users;
/// `--no-default-features` builds the binary with the system allocator. `shell::alloc`
/// says why it is not the `mimalloc` crate's allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: shell::alloc::Mimalloc = shell::alloc::Mimalloc;

/// Threads of a server's or router's background runtime.
const BACKGROUND_THREADS: usize = 1;

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
    /// Write, plan (add or remove nodes) and check shard maps.
    Map(shell::map::MapArgs),
}

/// Runs the command. A failure is one line on stderr and exit status 1: the errors say what
/// went wrong themselves, so neither a backtrace (even with RUST_BACKTRACE set) nor a
/// "Caused by" list repeating the cause is printed.
fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    shale::cmd::info::set_mem_allocator("mimalloc");
    let command = match Cli::try_parse() {
        Ok(cli) => cli.command,
        // A bad value is one line (clap adds a "--help" footer); other usage errors keep
        // clap's full text, which lists what is missing.
        Err(e) if matches!(e.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) => {
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or_default());
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    if let Cmd::Map(args) = command {
        return report(shell::map::run(args));
    }
    // A server or router serves connections on worker threads of its own (`--threads`);
    // this runtime only runs its background work (probes, repair, map watching).
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if matches!(command, Cmd::Server(_) | Cmd::Router(_)) {
        runtime.worker_threads(BACKGROUND_THREADS).thread_name("shale-background");
    }
    let ran = match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(command)).map(|()| ExitCode::SUCCESS),
        Err(e) => Err(anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    report(ran)
}

fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        // `{e}` is the outermost message only; the shell words each error as one line.
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

async fn run(command: Cmd) -> anyhow::Result<()> {
    match command {
        Cmd::Server(args) => shell::run_server(args).await,
        Cmd::Router(args) => shell::run_router(args).await,
        Cmd::Cluster(args) => shell::run_cluster(args).await,
        Cmd::Cli(args) => shale::cli::run(args).await,
        Cmd::Bench(args) => Ok(shale::bench::run_bench(args).await?),
        Cmd::Stress(args) => Ok(shale::bench::run_stress(args).await?),
        Cmd::Map(_) => Ok(()),
    }
}
