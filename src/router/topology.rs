//! The shard map resolved to live [`Backend`]s. A reload builds a new `Topology`, reusing
//! the backend (pools, health, load signals) of every node whose address and weight did
//! not change, and the router swaps it in atomically; requests in flight keep the old one.

use std::collections::HashMap;
use std::sync::Arc;

use super::backend::Backend;
use super::health::HealthConfig;
use crate::client::ConnectionConfig;
use crate::shardmap::ShardMap;

/// How backends are built.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// Traffic connections per node.
    pub pool_size: usize,
    /// Connect timeout and limits of backend connections.
    pub conn: ConnectionConfig,
    /// Health thresholds and probe timing.
    pub health: HealthConfig,
}

/// A shard map with its replicas resolved to backends.
#[derive(Debug)]
pub struct Topology {
    map: Arc<ShardMap>,
    by_name: HashMap<String, Arc<Backend>>,
    /// `shards[s - 1]` are the replicas of shard `s`, in map order.
    shards: Vec<Vec<Arc<Backend>>>,
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
                let b = Arc::new(Backend::new(
                    &node.name,
                    addr,
                    node.weight,
                    settings.pool_size,
                    settings.conn.clone(),
                    settings.health,
                ));
                fresh.push(b.clone());
                b
            });
            by_name.insert(node.name.clone(), backend);
        }
        let shards = (1..=map.num_shards())
            .map(|s| map.replicas(s).iter().filter_map(|n| by_name.get(n).cloned()).collect())
            .collect();
        (Self { map, by_name, shards }, fresh)
    }

    /// The map this topology was built from.
    pub fn map(&self) -> &Arc<ShardMap> {
        &self.map
    }

    /// The shard of `key` and its replicas (empty when the shard has none).
    pub fn route(&self, key: &[u8]) -> (u32, &[Arc<Backend>]) {
        let shard = self.map.shard_for_key(key);
        (shard, self.replicas_of(shard))
    }

    /// The replicas of `shard` (empty when it has none or is out of range).
    pub fn replicas_of(&self, shard: u32) -> &[Arc<Backend>] {
        usize::try_from(shard)
            .ok()
            .and_then(|s| self.shards.get(s.wrapping_sub(1)))
            .map_or(&[][..], Vec::as_slice)
    }

    /// Every backend, sorted by node name.
    pub fn backends(&self) -> Vec<&Arc<Backend>> {
        let mut all: Vec<_> = self.by_name.values().collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }
}
