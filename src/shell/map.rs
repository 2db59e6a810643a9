//! `shale map`: write a balanced shard map, plan the next one when nodes join or leave, and
//! check a map. The planning is [`shale::shardmap::plan`]; the checks are
//! [`shale::shardmap::check`]. Maps go to stdout or `-o FILE` (written atomically); what moves
//! goes to stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use shale::server::DEFAULT_PORT;
use shale::shardmap::ShardMap;
use shale::shardmap::check::problems;
use shale::shardmap::plan::{self, Move, NodeDef};

use super::map_error;

#[derive(Args)]
pub struct MapArgs {
    #[command(subcommand)]
    pub command: MapCmd,
}

#[derive(Subcommand)]
pub enum MapCmd {
    /// Write a balanced map: replicas of a shard on distinct nodes, nodes' shard counts
    /// within one of their weighted share.
    Init(InitArgs),
    /// Read a map and write the next one with NODE added, moving the fewest replicas.
    AddNode(AddArgs),
    /// Read a map and write the next one without NODE, in two steps: the first moves its
    /// replicas to the others (fewest moves) and keeps NODE listed with no shards so they
    /// can copy from it; run it again once the moves are done to drop NODE from the map.
    RemoveNode(RemoveArgs),
    /// Validate a map: one line per problem, exit status 1 if there is any.
    Check(CheckArgs),
}

#[derive(Args)]
pub struct InitArgs {
    /// Nodes, comma-separated: `[NAME=]HOST[:PORT]`. The name defaults to the node as
    /// written (e.g. `shale-0.shale-nodes`; start that server with `--node` set to it).
    #[arg(long, value_delimiter = ',', required = true)]
    pub nodes: Vec<String>,
    /// Shards in the map (fixed for the cluster's life: keys hash to them).
    #[arg(long)]
    pub shards: u32,
    /// Replicas per shard (at most the number of nodes).
    #[arg(long, default_value_t = 2)]
    pub replicas: u32,
    /// Port of nodes given without one.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Node weights, comma-separated, in the order of --nodes (default 1 each).
    #[arg(long, value_delimiter = ',')]
    pub weights: Vec<u32>,
    /// Write the map here instead of stdout.
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct AddArgs {
    /// The current map.
    pub map: PathBuf,
    /// The node to add, `[NAME=]HOST[:PORT]` (repeat for several).
    #[arg(long = "node", required = true)]
    pub nodes: Vec<String>,
    /// Port of a node given without one.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Weight of the added nodes.
    #[arg(long, default_value_t = 1)]
    pub weight: u32,
    /// Write the map here instead of stdout (may be the map itself).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// The current map.
    pub map: PathBuf,
    /// Names of the nodes to remove.
    #[arg(required = true)]
    pub nodes: Vec<String>,
    /// Write the map here instead of stdout (may be the map itself).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct CheckArgs {
    /// The map file.
    pub map: PathBuf,
}

pub fn run(args: MapArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MapCmd::Init(a) => {
            let mut nodes =
                a.nodes.iter().map(|s| node_def(s, a.port, 1)).collect::<Result<Vec<_>, _>>()?;
            if !a.weights.is_empty() && a.weights.len() != nodes.len() {
                return Err(anyhow!(
                    "--weights has {} values for {} nodes",
                    a.weights.len(),
                    nodes.len()
                ));
            }
            for (node, &weight) in nodes.iter_mut().zip(&a.weights) {
                node.weight = weight;
            }
            let map = plan::init(&nodes, a.shards, a.replicas)?;
            eprintln!("{} shards x {} replicas over {} nodes", a.shards, a.replicas, nodes.len());
            emit(&map, a.out.as_deref())
        }
        MapCmd::AddNode(a) => {
            let map = load(&a.map)?;
            let added = a
                .nodes
                .iter()
                .map(|s| node_def(s, a.port, a.weight))
                .collect::<Result<Vec<_>, _>>()?;
            let (next, moves) = plan::add_nodes(&map, &added)?;
            report(&moves);
            emit(&next, a.out.as_deref())
        }
        MapCmd::RemoveNode(a) => {
            let map = load(&a.map)?;
            let names: Vec<&str> = a.nodes.iter().map(String::as_str).collect();
            let (next, moves) = plan::remove_nodes(&map, &names)?;
            if next.node(names[0]).is_some() {
                report(&moves);
                eprintln!(
                    "{} stay(s) in \"nodes\" with no shards until the moves finish (routers \
                     report ready_shards); then run remove-node again to drop it",
                    names.join(", ")
                );
            } else {
                eprintln!("{} hold(s) no shards: dropped from \"nodes\"", names.join(", "));
            }
            emit(&next, a.out.as_deref())
        }
        MapCmd::Check(a) => {
            let text = std::fs::read_to_string(&a.map)
                .map_err(|e| anyhow!("cannot read {}: {e}", a.map.display()))?;
            let found = problems(&text);
            for p in &found {
                println!("{}: {p}", a.map.display());
            }
            Ok(if found.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// `[NAME=]HOST[:PORT]`, with `[v6]:PORT` for IPv6.
fn node_def(spec: &str, default_port: u16, weight: u32) -> anyhow::Result<NodeDef> {
    let (name, at) = match spec.split_once('=') {
        Some((name, at)) => (name.to_owned(), at),
        None => (spec.to_owned(), spec),
    };
    let bad = || anyhow!("node '{spec}': expected [NAME=]HOST[:PORT]");
    let (address, port) = if let Some(rest) = at.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = tail.strip_prefix(':').map(str::parse).transpose().map_err(|_| bad())?;
        (host.to_owned(), port.unwrap_or(default_port))
    } else {
        match at.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => {
                (host.to_owned(), port.parse().map_err(|_| bad())?)
            }
            _ => (at.to_owned(), default_port),
        }
    };
    Ok(NodeDef { name, address, port, weight })
}

fn load(path: &Path) -> anyhow::Result<ShardMap> {
    ShardMap::load(path).map_err(|e| anyhow!(map_error(path, &e)))
}

/// Prints the moves, then how many, to stderr.
fn report(moves: &[Move]) {
    for m in moves {
        eprintln!("shard {}: {} -> {}", m.shard, m.from, m.to);
    }
    eprintln!(
        "{} replica(s) move; each receiving node copies its new shards from a peer",
        moves.len()
    );
}

/// Writes the map to `out` (through a temporary file and a rename) or stdout.
fn emit(map: &ShardMap, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let text = map.to_json() + "\n";
    match out {
        None => print!("{text}"),
        Some(path) => {
            let tmp = path.with_extension("tmp");
            let io = |e: std::io::Error| anyhow!("cannot write {}: {e}", path.display());
            std::fs::write(&tmp, text).map_err(io)?;
            std::fs::rename(&tmp, path).map_err(io)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
