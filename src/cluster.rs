//! `shale cluster`: a local cluster for trying the distributed setup. Writes a shard map,
//! starts one `shale server` process per node (so a node can be killed like a real one)
//! and a router in this process, prints the addresses, and stops everything on Ctrl-C.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::net::Signals;
use crate::router::{Router, RouterConfig, RouterError};
use crate::shardmap::{MapError, ShardMap};

/// Shape of the local cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Server processes.
    pub nodes: u32,
    /// Shards in the map.
    pub shards: u32,
    /// Replicas per shard (at most `nodes`).
    pub replicas: u32,
    /// The router listens here; node `i` (1-based) on `base_port + i`.
    pub base_port: u16,
    /// Where the map file is written.
    pub dir: PathBuf,
}

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Bad shape (zero nodes, more replicas than nodes, ports past 65535).
    #[error("{0}")]
    Config(String),
    /// The map could not be built.
    #[error(transparent)]
    Map(#[from] MapError),
    /// Writing the map or starting a server failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The router failed to start.
    #[error(transparent)]
    Router(#[from] RouterError),
}

/// Builds the map: shard `s` lives on nodes `s-1, s, ...` (mod `nodes`), `replicas` of them.
pub fn build_map(cfg: &ClusterConfig) -> Result<ShardMap, ClusterError> {
    if cfg.nodes == 0 || cfg.shards == 0 || cfg.replicas == 0 || cfg.replicas > cfg.nodes {
        return Err(ClusterError::Config("need nodes >= replicas >= 1 and shards >= 1".into()));
    }
    let port = |i: u32| {
        u16::try_from(u32::from(cfg.base_port) + i)
            .map_err(|_| ClusterError::Config(format!("port of node {i} is past 65535")))
    };
    let names: Vec<String> = (1..=cfg.nodes).map(|i| format!("n{i}")).collect();
    let mut b = ShardMap::builder(cfg.shards);
    for (i, name) in (1..=cfg.nodes).zip(&names) {
        b = b.node(name, "127.0.0.1", port(i)?);
    }
    for s in 1..=cfg.shards {
        let replicas: Vec<&str> =
            (0..cfg.replicas).map(|r| names[((s - 1 + r) % cfg.nodes) as usize].as_str()).collect();
        b = b.shard(s, &replicas);
    }
    Ok(b.build()?)
}

/// Runs the cluster until SIGINT/SIGTERM.
pub async fn run(cfg: ClusterConfig) -> Result<(), ClusterError> {
    let signals = Signals::install();
    let map = build_map(&cfg)?;
    let io = |what: String| move |source| ClusterError::Io { what, source };
    std::fs::create_dir_all(&cfg.dir).map_err(io(format!("creating {}", cfg.dir.display())))?;
    let map_path = cfg.dir.join("shardmap.json");
    std::fs::write(&map_path, map.to_json())
        .map_err(io(format!("writing {}", map_path.display())))?;
    let mut children = Vec::new();
    for node in map.nodes() {
        let child = spawn_server(&node.name, node.port, &map_path)
            .map_err(io(format!("starting node {}", node.name)))?;
        println!("node {} at {} (pid {})", node.name, node.addr_string(), child.id());
        children.push(child);
    }
    let router_cfg = RouterConfig::loopback(cfg.base_port, map_path.clone());
    let router = match Router::start(router_cfg).await {
        Ok(r) => r,
        Err(e) => {
            stop(&mut children);
            return Err(e.into());
        }
    };
    println!("router at {}", SocketAddr::from((Ipv4Addr::LOCALHOST, cfg.base_port)));
    println!("shard map {}", map_path.display());
    println!("press Ctrl-C to stop");
    signals.wait().await;
    router.shutdown().await;
    stop(&mut children);
    Ok(())
}

fn spawn_server(node: &str, port: u16, map: &Path) -> io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["server", "--port", &port.to_string(), "--node", node, "--log-level", "warn"])
        .arg("--shardmap")
        .arg(map)
        .stdin(Stdio::null())
        .spawn()
}

fn stop(children: &mut [Child]) {
    for child in children.iter_mut() {
        // SIGTERM for a graceful stop where `kill` exists; otherwise SIGKILL.
        let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = child.kill();
        }
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(nodes: u32, shards: u32, replicas: u32) -> ClusterConfig {
        ClusterConfig { nodes, shards, replicas, base_port: 7400, dir: PathBuf::from("unused") }
    }

    #[test]
    fn map_spreads_replicas_round_robin() {
        let map = build_map(&cfg(3, 4, 2)).unwrap();
        assert_eq!(map.replicas(1), ["n1", "n2"]);
        assert_eq!(map.replicas(3), ["n3", "n1"]);
        assert_eq!(map.node("n2").map(|n| n.port), Some(7402));
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(build_map(&cfg(2, 4, 3)).is_err());
        assert!(build_map(&cfg(0, 4, 0)).is_err());
        let mut c = cfg(3, 4, 2);
        c.base_port = 65534;
        assert!(build_map(&c).is_err());
    }
}
