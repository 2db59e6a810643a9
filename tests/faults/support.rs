//! A test cluster of real `shale server` processes, each behind a [`FaultProxy`]: nodes
//! reach each other through the proxies (so a partition cuts a node off from its peers),
//! routers reach nodes either directly or through the proxies. Nodes run with
//! `--behind-proxy`, because the map's address of each node is its proxy.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use shale::client::Client;
use shale::protocol::Status;
use shale::shardmap::ShardMap;

use super::common::{Proc, WAIT, free_port, temp_file};
use super::proxy::{FaultProxy, Mode};

/// One node: its real port, its proxy, its process when running.
pub struct Node {
    pub name: String,
    pub port: u16,
    pub proxy: FaultProxy,
    pub proc: Option<Proc>,
}

/// Nodes, their maps and extra flags.
pub struct TestCluster {
    pub nodes: Vec<Node>,
    /// The map nodes read: every node at its proxy.
    pub node_map: PathBuf,
    /// The map routers read: nodes at their real ports, or at their proxies when
    /// [`TestCluster::proxied_routers`] was asked for.
    pub router_map: PathBuf,
    shards: Vec<Vec<String>>,
    node_args: Vec<String>,
    /// Extra flags of one node (a skewed clock, smaller limits).
    pub args_of: HashMap<String, Vec<String>>,
    /// Nodes that read a map file of their own (see [`TestCluster::freeze_map`]).
    map_of: HashMap<String, PathBuf>,
}

impl TestCluster {
    /// Nodes `names`; `shards[s - 1]` lists the replicas of shard `s`. Not started.
    pub async fn new(names: &[&str], shards: &[&[&str]], node_args: &[&str]) -> Self {
        let mut nodes = Vec::new();
        for name in names {
            let port = free_port();
            let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], port))).await;
            nodes.push(Node { name: (*name).to_owned(), port, proxy, proc: None });
        }
        let shards: Vec<Vec<String>> =
            shards.iter().map(|r| r.iter().map(|n| (*n).to_owned()).collect()).collect();
        let node_args = node_args.iter().map(|a| (*a).to_owned()).collect();
        let (node_map, router_map, args_of) = (PathBuf::new(), PathBuf::new(), HashMap::new());
        let map_of = HashMap::new();
        let mut c = Self { nodes, node_map, router_map, shards, node_args, args_of, map_of };
        c.node_map = temp_file("nodes.json", &c.map_json(true));
        c.router_map = temp_file("router.json", &c.map_json(false));
        c
    }

    /// The map's JSON with `shards`, nodes at their proxies or real ports.
    pub fn map_json_with(&self, shards: &[Vec<String>], via_proxy: bool) -> String {
        let mut b = ShardMap::builder(shards.len() as u32);
        for n in &self.nodes {
            let port = if via_proxy { n.proxy.addr.port() } else { n.port };
            b = b.node(&n.name, "127.0.0.1", port);
        }
        for (i, replicas) in shards.iter().enumerate() {
            let names: Vec<&str> = replicas.iter().map(String::as_str).collect();
            b = b.shard(i as u32 + 1, &names);
        }
        b.build().unwrap().to_json()
    }

    fn map_json(&self, via_proxy: bool) -> String {
        self.map_json_with(&self.shards, via_proxy)
    }

    /// Routers reach the nodes through their proxies too (a partition then cuts the node
    /// off from routers as well).
    pub fn proxied_routers(&mut self) {
        self.router_map = temp_file("router.json", &self.map_json(true));
    }

    /// Writes a new shard layout to both maps (nodes and routers follow their files).
    pub fn remap(&mut self, shards: &[&[&str]]) {
        self.shards = shards.iter().map(|r| r.iter().map(|n| (*n).to_owned()).collect()).collect();
        let routers_proxied = std::fs::read_to_string(&self.router_map)
            .is_ok_and(|t| t.contains(&self.nodes[0].proxy.addr.port().to_string()));
        std::fs::write(&self.node_map, self.map_json(true)).unwrap();
        std::fs::write(&self.router_map, self.map_json(routers_proxied)).unwrap();
    }

    fn node(&mut self, name: &str) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.name == name).expect("a node of the cluster")
    }

    /// From its next (re)start, node `name` reads a copy of the nodes' map as it is now,
    /// which later remaps leave alone: a node that has not read a new map yet.
    pub fn freeze_map(&mut self, name: &str) {
        let now = std::fs::read_to_string(&self.node_map).unwrap();
        self.map_of.insert(name.to_owned(), temp_file(&format!("frozen-{name}.json"), &now));
    }

    fn spawn(&self, n: &Node) -> Proc {
        let map = self.map_of.get(&n.name).unwrap_or(&self.node_map).to_str().unwrap();
        let mut args = vec!["server", "--shardmap", map, "--node", &n.name, "--behind-proxy"];
        args.extend(self.node_args.iter().map(String::as_str));
        args.extend(self.args_of.get(&n.name).into_iter().flatten().map(String::as_str));
        Proc::spawn_on(&args, n.port)
    }

    /// Starts every node at once (a brand-new cluster) and waits until all are ready.
    pub fn start_all(&mut self) {
        let procs: Vec<Proc> = self.nodes.iter().map(|n| self.spawn(n)).collect();
        for p in &procs {
            p.wait_log("node ready");
        }
        for (n, p) in self.nodes.iter_mut().zip(procs) {
            n.proc = Some(p);
        }
    }

    /// SIGKILLs a node.
    pub fn kill(&mut self, name: &str) {
        if let Some(p) = self.node(name).proc.take() {
            p.signal("-KILL");
            drop(p);
        }
    }

    /// (Re)starts a node; `wait` for it to be ready.
    pub fn restart(&mut self, name: &str, wait: bool) {
        self.kill(name);
        let idx = self.nodes.iter().position(|n| n.name == name).unwrap();
        let p = self.spawn(&self.nodes[idx]);
        if wait {
            p.wait_log("node ready");
        }
        self.nodes[idx].proc = Some(p);
    }

    /// Pauses a node (SIGSTOP: it neither sends nor answers, like a frozen VM) or resumes it.
    pub fn pause(&self, name: &str, paused: bool) {
        if paused { self.proc(name).stop() } else { self.proc(name).signal("-CONT") }
    }

    /// Cuts a node off (its proxy stops passing bytes) or heals it.
    pub fn partition(&mut self, name: &str, cut: bool) {
        self.node(name).proxy.set(if cut { Mode::Blackhole } else { Mode::Pass });
    }

    /// Sets what a node's proxy does (a slow link, resets).
    pub fn fault(&mut self, name: &str, mode: Mode) {
        self.node(name).proxy.set(mode);
    }

    /// The process of a running node.
    pub fn proc(&self, name: &str) -> &Proc {
        self.nodes.iter().find(|n| n.name == name).and_then(|n| n.proc.as_ref()).expect("running")
    }

    /// Every running node's log, for a failing test's message.
    pub fn logs(&self) -> String {
        let running = self.nodes.iter().filter_map(|n| n.proc.as_ref().map(|p| (n, p)));
        running
            .map(|(n, p)| format!("---- {} ----\n{}", n.name, p.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A client straight to a node's real port.
    pub async fn direct(&self, name: &str) -> Client {
        let n = self.nodes.iter().find(|n| n.name == name).unwrap();
        client(&format!("127.0.0.1:{}", n.port)).await
    }

    /// A router process on this cluster's router map, with extra flags.
    pub fn router(&self, args: &[&str]) -> Proc {
        let map = self.router_map.to_str().unwrap();
        let mut all = vec!["router", "--shardmap", map];
        all.extend_from_slice(args);
        Proc::spawn_on(&all, 0)
    }

    /// What each running node holds for `keys` (None: absent), by node name; a node that
    /// is not ready to serve them yet holds `None` as a whole.
    pub async fn contents(&self, keys: &[String]) -> HashMap<String, Option<Vec<Option<Bytes>>>> {
        let mut out = HashMap::new();
        for n in self.nodes.iter().filter(|n| n.proc.is_some()) {
            let c = self.direct(&n.name).await;
            let mut values = Some(Vec::new());
            for k in keys {
                match c.get(k.clone()).await {
                    Ok(v) => values.as_mut().map(|vs| vs.push(v)),
                    Err(_) => values.take().map(|_| ()),
                };
            }
            out.insert(n.name.clone(), values);
        }
        out
    }
}

/// A client with a generous timeout.
pub async fn client(addr: &str) -> Client {
    Client::builder().addr(addr).request_timeout(WAIT).connect().await.unwrap()
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
pub async fn within<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// `n` key names with a prefix.
pub fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

/// The value of a STATS field of the process at `addr`.
pub async fn stat(addr: &str, field: &str) -> Option<String> {
    let c = client(addr).await;
    let stats = c.stats().await.ok()?;
    stats.get(field).map(str::to_owned)
}

/// `field` of node `node` in a router's STATS (`node_NAME:a=..,b=..`).
pub async fn router_node_stat(router: &str, node: &str, field: &str) -> Option<u64> {
    let line = stat(router, &format!("node_{node}")).await?;
    let prefix = format!("{field}=");
    line.split(',').find_map(|kv| kv.strip_prefix(&prefix)?.parse().ok())
}

/// `key`'s value read through `c` once the cluster can serve it: a refusal that says a
/// shard has no replica ready yet (UNAVAILABLE or NOT_READY, while hints replay or a
/// restarted replica syncs on a loaded machine) is retried for up to 30 s; any other error,
/// or a refusal that lasts, fails the test. It never hides a wrong value.
pub async fn read_settled(c: &Client, key: &str) -> Option<Bytes> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match c.get(key.to_owned()).await {
            Ok(v) => return v,
            Err(e)
                if matches!(e.status(), Some(Status::Unavailable | Status::NotReady))
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{key}: {e}"),
        }
    }
}
