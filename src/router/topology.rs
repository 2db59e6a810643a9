//! The shard map resolved to live [`Backend`]s. A reload builds a new `Topology`, reusing
//! the backend (pools, health, load signals) of every node whose address and weight did
//! not change, and the router swaps it in atomically; requests in flight keep the old one.
//!
//! During a shard move the old replicas keep the data until every new one is ready (the
//! shard lifecycle in protocol.md): they are the shard's *movers*, written to alongside the
//! replicas and read from while the new replicas copy. A mover is a node that was a replica
//! in the previous map and still reports the shard (Retiring), and stops being one once it
//! reports it gone.

use std::collections::HashMap;
use std::sync::Arc;

use super::backend::Backend;
use super::health::HealthConfig;
use super::hints::HintLimits;
use crate::client::ConnectionConfig;
use crate::shardmap::ShardMap;
use crate::version::Hlc;

/// How backends are built.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// Traffic connections per node, shared by the worker threads (each gets its share,
    /// at least one) and again for background work.
    pub pool_size: usize,
    /// The router's worker threads (`NetConfig::worker_threads`), each with its own pool.
    pub workers: usize,
    /// Connect timeout and limits of backend connections.
    pub conn: ConnectionConfig,
    /// Health thresholds and probe timing.
    pub health: HealthConfig,
    /// The router's clock, which every backend's replies move forward.
    pub hlc: Arc<Hlc>,
    /// Bounds of each node's hint queue.
    pub hints: HintLimits,
}

/// Where one key's requests go.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// The key's shard.
    pub shard: u32,
    /// The shard's replicas, then its movers.
    pub targets: &'a [Arc<Backend>],
    /// How many of `targets` are replicas in the map (the rest are movers: written to and
    /// read from, but a mover's failure never fails a write).
    pub replicas: usize,
}

/// A shard map with its replicas resolved to backends.
#[derive(Debug)]
pub struct Topology {
    map: Arc<ShardMap>,
    by_name: HashMap<String, Arc<Backend>>,
    /// `shards[s - 1]` are the replicas of shard `s`, in map order.
    shards: Vec<Vec<Arc<Backend>>>,
    /// `targets[s - 1]`: the replicas, then the movers of shard `s`.
    targets: Vec<Vec<Arc<Backend>>>,
}

impl Topology {
    /// Resolves `map`, reusing unchanged backends of `previous`. Returns the topology and
    /// the backends that are new (they need probers).
    pub fn build(
        map: Arc<ShardMap>,
        previous: Option<&Topology>,
        settings: &BackendSettings,
    ) -> (Self, Vec<Arc<Backend>>) {
        let mut by_name = HashMap::new();
        let mut fresh = Vec::new();
        for node in map.nodes() {
            let addr = node.addr_string();
            let reused = previous
                .and_then(|p| p.by_name.get(&node.name))
                .filter(|b| b.addr() == addr && b.weight() == node.weight.max(1))
                .cloned();
            let backend = reused.unwrap_or_else(|| {
                let b = Arc::new(Backend::new(&node.name, addr, node.weight, settings));
                fresh.push(b.clone());
                b
            });
            by_name.insert(node.name.clone(), backend);
        }
        let shards: Vec<Vec<Arc<Backend>>> = (1..=map.num_shards())
            .map(|s| map.replicas(s).iter().filter_map(|n| by_name.get(n).cloned()).collect())
            .collect();
        let targets = (1..=map.num_shards()).map(|s| with_movers(&map, &by_name, s)).collect();
        (Self { map, by_name, shards, targets }, fresh)
    }

    /// This topology with movers brought in line with what the nodes now report, or `None`
    /// when nothing changed.
    pub fn refreshed(&self) -> Option<Self> {
        let targets: Vec<Vec<Arc<Backend>>> =
            (1..=self.map.num_shards()).map(|s| with_movers(&self.map, &self.by_name, s)).collect();
        let same = targets
            .iter()
            .zip(&self.targets)
            .all(|(a, b)| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y)));
        (!same).then(|| Self {
            map: self.map.clone(),
            by_name: self.by_name.clone(),
            shards: self.shards.clone(),
            targets,
        })
    }

    /// The map this topology was built from.
    pub fn map(&self) -> &Arc<ShardMap> {
        &self.map
    }

    /// The shard of `key` and where its requests go: its replicas, then its movers.
    pub fn route(&self, key: &[u8]) -> Route<'_> {
        let shard = self.map.shard_for_key(key);
        Route { shard, targets: self.targets_of(shard), replicas: self.replicas_of(shard).len() }
    }

    /// The replicas then the movers of `shard`.
    pub fn targets_of(&self, shard: u32) -> &[Arc<Backend>] {
        usize::try_from(shard)
            .ok()
            .and_then(|s| self.targets.get(s.wrapping_sub(1)))
            .map_or(&[][..], Vec::as_slice)
    }

    /// The replicas of `shard` (empty when it has none or is out of range).
    pub fn replicas_of(&self, shard: u32) -> &[Arc<Backend>] {
        usize::try_from(shard)
            .ok()
            .and_then(|s| self.shards.get(s.wrapping_sub(1)))
            .map_or(&[][..], Vec::as_slice)
    }

    /// The backend of node `name`.
    pub fn backend(&self, name: &str) -> Option<&Arc<Backend>> {
        self.by_name.get(name)
    }

    /// Every backend, sorted by node name.
    pub fn backends(&self) -> Vec<&Arc<Backend>> {
        let mut all: Vec<_> = self.by_name.values().collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }
}

/// Shard `s`'s replicas, then its movers: nodes of the map that are not replicas but whose
/// last NODE_STATUS says they hold the shard (Retiring, or Ready under a map they have not
/// replaced yet).
fn with_movers(
    map: &ShardMap,
    by_name: &HashMap<String, Arc<Backend>>,
    s: u32,
) -> Vec<Arc<Backend>> {
    let replicas = map.replicas(s);
    let mut out: Vec<Arc<Backend>> =
        replicas.iter().filter_map(|n| by_name.get(n).cloned()).collect();
    let mut movers: Vec<&Arc<Backend>> = by_name
        .values()
        .filter(|b| !replicas.iter().any(|n| n == b.name()))
        .filter(|b| b.view().shard_state(s).is_some_and(|state| state.holds_data()))
        .collect();
    movers.sort_by(|a, b| a.name().cmp(b.name()));
    out.extend(movers.into_iter().cloned());
    out
}
