//! The metrics of `shale server`: what the connection loop counts, the store's gauges and
//! counters, authentication failures, and for a cluster node its shards and map. Every value
//! is read at scrape time from counters the server keeps anyway.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::families::Out;
use crate::net::NetStats;
use crate::protocol::cluster::ShardState;
use crate::server::Server;
use crate::server::{Node, StoreHandler};

/// Reads a running server's counters on each scrape.
#[derive(Debug)]
pub struct NodeCollector {
    handler: Arc<StoreHandler>,
    net: Arc<NetStats>,
    started_unix: f64,
}

impl NodeCollector {
    /// A collector for `server`.
    pub fn new(server: &Server) -> Self {
        Self {
            handler: server.handler().clone(),
            net: server.net_stats().clone(),
            started_unix: super::unix_now(),
        }
    }

    /// Whether the server is ready: see [`crate::server::readiness`].
    pub fn is_ready(&self) -> bool {
        crate::server::readiness(self.node())
    }

    fn node(&self) -> Option<&Node> {
        self.handler.node().map(|n| &**n)
    }

    fn store(&self, out: &mut Out<'_>) -> fmt::Result {
        let store = self.handler.store();
        let s = store.stats();
        out.gauge(
            "shale_keys",
            "Keys held, expired ones not yet reclaimed included.",
            s.keys as f64,
        )?;
        out.gauge("shale_expiring_keys", "Keys that have a time to live.", s.expiring as f64)?;
        out.gauge("shale_tombstones", "Delete markers held (cluster nodes).", s.tombstones as f64)?;
        out.gauge(
            "shale_used_memory_bytes",
            "Bytes of keys, values and per-entry bookkeeping.",
            s.used_memory as f64,
        )?;
        let max = store.options().maxmemory as f64;
        out.gauge("shale_maxmemory_bytes", "The --maxmemory limit (0: none).", max)?;
        out.counter(
            "shale_evicted_keys",
            "Live keys evicted to stay under maxmemory.",
            s.evictions,
        )?;
        out.counter(
            "shale_expired_keys",
            "Expired keys reclaimed (by reads, the sweep or eviction).",
            s.expired_keys,
        )?;
        out.counter("shale_keyspace_hits", "GETs that found a live key.", s.get_hits)?;
        out.counter("shale_keyspace_misses", "GETs that found no live key.", s.get_misses)?;
        let pass = s.sweep_last_pass_ms as f64 / 1e3;
        out.gauge(
            "shale_sweep_last_pass_seconds",
            "Wall time of the last complete expiry sweep pass.",
            pass,
        )?;
        out.counter("shale_sweep_passes", "Complete expiry sweep passes.", s.sweep_passes)
    }

    fn cluster(&self, out: &mut Out<'_>, node: &Node) -> fmt::Result {
        let shards = node.shards();
        let hosted = shards.map.shards_of(node.name());
        let ready = hosted.iter().filter(|&&s| shards.state(s) == ShardState::Ready);
        out.gauge("shale_shards_hosted", "Shards the map gives this node.", hosted.len() as f64)?;
        out.gauge("shale_shards_ready", "Hosted shards copied and served.", ready.count() as f64)?;
        out.map(node.watcher())
    }
}

impl Collector for NodeCollector {
    fn encode(&self, enc: DescriptorEncoder<'_>) -> fmt::Result {
        let mut out = Out::new(enc);
        out.process(self.started_unix, self.is_ready())?;
        out.net(&self.net)?;
        out.counter(
            "shale_auth_failures",
            "Wrong passwords received (AUTH, HELLO AUTH).",
            self.handler.auth_failures(),
        )?;
        self.store(&mut out)?;
        if let Some(node) = self.node() {
            self.cluster(&mut out, node)?;
        }
        Ok(())
    }
}
