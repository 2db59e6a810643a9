//! `shale cluster`: a local cluster for trying the distributed setup. Writes a shard map,
//! starts one `shale server` process per node (so a node can be killed like a real one),
//! waits until every node is ready, starts a router in this process, prints the addresses,
//! reports every node that exits, and stops everything on Ctrl-C.
//!
//! It refuses, before writing anything, when its directory holds a running cluster's map
//! (rewriting a live map would make that cluster reshard and drop data) or when a port it
//! needs is taken.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::{Connection, ConnectionConfig};
use crate::net::Signals;
use crate::protocol::cluster::{NodeStatus, ShardState, node_status_frame};
use crate::router::{Router, RouterConfig, RouterError};
use crate::shardmap::{MapError, ShardMap};

/// Longest the launcher waits for every node to be ready.
pub const NODE_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The file, next to the map, that records the launcher's pid while the cluster runs.
pub const PID_FILE: &str = "cluster.pid";

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

/// Why the cluster could not start (or stopped badly).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Bad shape (zero nodes, more replicas than nodes, ports past 65535).
    #[error("{0}")]
    Config(String),
    /// The directory holds the map of a cluster that is running.
    #[error(
        "{} belongs to a running cluster (launcher pid {pid}); stop it first or pass another --dir",
        dir.display()
    )]
    Running {
        /// The directory.
        dir: PathBuf,
        /// The running launcher.
        pid: u32,
    },
    /// A port the cluster needs is taken.
    #[error("port {port} ({what}) is already in use; pick another --base-port")]
    PortInUse {
        /// The port.
        port: u16,
        /// What would have listened there.
        what: String,
    },
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
    /// A node exited before it was ready.
    #[error("node {node} exited during startup ({status}); see its messages above")]
    NodeDied {
        /// The node.
        node: String,
        /// How it ended.
        status: String,
    },
    /// A node did not become ready in time.
    #[error("node {node} was not ready within {NODE_READY_TIMEOUT:?}")]
    NotReady {
        /// The node.
        node: String,
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
    let names: Vec<String> = (1..=cfg.nodes).map(|i| format!("n{i}")).collect();
    let mut b = ShardMap::builder(cfg.shards);
    for (i, name) in (1..=cfg.nodes).zip(&names) {
        b = b.node(name, "127.0.0.1", node_port(cfg, i)?);
    }
    for s in 1..=cfg.shards {
        let replicas: Vec<&str> =
            (0..cfg.replicas).map(|r| names[((s - 1 + r) % cfg.nodes) as usize].as_str()).collect();
        b = b.shard(s, &replicas);
    }
    Ok(b.build()?)
}

fn node_port(cfg: &ClusterConfig, i: u32) -> Result<u16, ClusterError> {
    u16::try_from(u32::from(cfg.base_port) + i)
        .map_err(|_| ClusterError::Config(format!("port of node {i} is past 65535")))
}

/// Runs the cluster until SIGINT/SIGTERM.
pub async fn run(cfg: ClusterConfig) -> Result<(), ClusterError> {
    let signals = Signals::install();
    let map = build_map(&cfg)?;
    preflight(&cfg, &map)?;
    let map_path = write_files(&cfg, &map)?;
    let mut nodes = Nodes::default();
    let result = start(&cfg, &map, &map_path, &mut nodes, signals).await;
    nodes.stop();
    let _ = std::fs::remove_file(cfg.dir.join(PID_FILE));
    result
}

async fn start(
    cfg: &ClusterConfig,
    map: &ShardMap,
    map_path: &Path,
    nodes: &mut Nodes,
    signals: Signals,
) -> Result<(), ClusterError> {
    for node in map.nodes() {
        let child = spawn_server(&node.name, map_path)
            .map_err(io_err(format!("starting node {}", node.name)))?;
        nodes.0.push((node.name.clone(), child));
    }
    for node in map.nodes() {
        wait_ready(&node.name, &node.addr_string(), nodes).await?;
    }
    let router = Router::start(RouterConfig::loopback(cfg.base_port, map_path.to_owned())).await?;
    for (name, child) in &nodes.0 {
        let addr = map.node(name).map(|n| n.addr_string()).unwrap_or_default();
        println!("node {name} at {addr} (pid {})", child.id());
    }
    println!("shard map {}", map_path.display());
    println!("router at {}", SocketAddr::from((Ipv4Addr::LOCALHOST, cfg.base_port)));
    println!("press Ctrl-C to stop");
    tokio::select! {
        () = signals.wait() => {}
        () = nodes.report_exits() => {}
    }
    router.shutdown().await;
    Ok(())
}

/// Refuses a directory that holds a running cluster's map and ports that are taken.
fn preflight(cfg: &ClusterConfig, map: &ShardMap) -> Result<(), ClusterError> {
    if let Some(pid) = running_launcher(&cfg.dir) {
        return Err(ClusterError::Running { dir: cfg.dir.clone(), pid });
    }
    let mut ports = vec![(cfg.base_port, "the router".to_owned())];
    ports.extend(map.nodes().map(|n| (n.port, format!("node {}", n.name))));
    for (port, what) in ports {
        if std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            return Err(ClusterError::PortInUse { port, what });
        }
    }
    Ok(())
}

/// The pid in `dir`'s pid file, if that process is alive.
fn running_launcher(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join(PID_FILE)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    let alive = Path::new(&format!("/proc/{pid}")).exists() || signal(pid, "-0");
    (alive && pid != std::process::id()).then_some(pid)
}

fn write_files(cfg: &ClusterConfig, map: &ShardMap) -> Result<PathBuf, ClusterError> {
    std::fs::create_dir_all(&cfg.dir).map_err(io_err(format!("creating {}", cfg.dir.display())))?;
    let pid_path = cfg.dir.join(PID_FILE);
    std::fs::write(&pid_path, std::process::id().to_string())
        .map_err(io_err(format!("writing {}", pid_path.display())))?;
    let map_path = cfg.dir.join("shardmap.json");
    std::fs::write(&map_path, map.to_json())
        .map_err(io_err(format!("writing {}", map_path.display())))?;
    Ok(map_path)
}

fn io_err(what: String) -> impl FnOnce(io::Error) -> ClusterError {
    move |source| ClusterError::Io { what, source }
}

/// Polls the node's NODE_STATUS until every shard it hosts is ready, failing early if its
/// process exits.
async fn wait_ready(name: &str, addr: &str, nodes: &mut Nodes) -> Result<(), ClusterError> {
    let deadline = Instant::now() + NODE_READY_TIMEOUT;
    let cfg =
        ConnectionConfig { connect_timeout: Duration::from_millis(200), ..Default::default() };
    while Instant::now() < deadline {
        if let Some((node, status)) = nodes.exited().into_iter().next() {
            return Err(ClusterError::NodeDied { node, status: describe(status) });
        }
        if let Ok(conn) = Connection::connect(addr, &cfg).await {
            let status = conn.call(node_status_frame(), Duration::from_secs(1)).await;
            let ready = status.ok().and_then(|r| NodeStatus::decode(&r.payload)).is_some_and(|s| {
                s.shards.iter().all(|st| matches!(st, ShardState::Ready | ShardState::NotHosted))
            });
            if ready {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(ClusterError::NotReady { node: name.to_owned() })
}

fn spawn_server(node: &str, map: &Path) -> io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["server", "--node", node, "--log-level", "warn"])
        .arg("--shardmap")
        .arg(map)
        .stdin(Stdio::null())
        .spawn()
}

/// The node processes.
#[derive(Debug, Default)]
struct Nodes(Vec<(String, Child)>);

impl Nodes {
    /// Nodes that have exited since the last call, reaped (so none stays a zombie).
    fn exited(&mut self) -> Vec<(String, ExitStatus)> {
        let mut out = Vec::new();
        self.0.retain_mut(|(name, child)| match child.try_wait() {
            Ok(Some(status)) => {
                out.push((name.clone(), status));
                false
            }
            _ => true,
        });
        out
    }

    /// Reports each node that exits, until none is left.
    async fn report_exits(&mut self) {
        while !self.0.is_empty() {
            for (name, status) in self.exited() {
                eprintln!("node {name} exited ({})", describe(status));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("every node has exited");
    }

    fn stop(&mut self) {
        for (_, child) in &mut self.0 {
            // SIGTERM for a graceful stop where `kill` exists; otherwise SIGKILL.
            if !signal(child.id(), "-TERM") {
                let _ = child.kill();
            }
        }
        for (_, child) in &mut self.0 {
            let _ = child.wait();
        }
        self.0.clear();
    }
}

fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(&status) {
        return format!("killed by signal {sig}");
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "unknown status".to_owned(),
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
