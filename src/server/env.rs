//! The server's [`Env`]: its INFO sections (memory, stats and keyspace from the store), its
//! CONFIG parameters wired to the real settings, CONFIG RESETSTAT, and what a cluster
//! node answers its peers and routers (dump pages, NODE_STATUS).

use std::sync::Arc;
use std::time::Instant;

use crate::auth::Gate;
use crate::cmd::config::{Config, parse_enum, parse_memory};
use crate::cmd::info::human;
use crate::cmd::internal::needs_cluster;
use crate::cmd::{ConnCounts, Env, Role, Section, Services};
use crate::net::NetConfig;
use crate::protocol::cluster::BucketSet;
use crate::protocol::dump::{DUMP_PAGE_MAX_BYTES, DUMP_PAGE_MAX_ITEMS, DumpPage, encode_page};
use crate::protocol::rmw::encode_page_ids;
use crate::protocol::{ErrorReply, Reply};
use crate::store::{EvictionPolicy, Store};

use super::handler::StoreHandler;
use super::node::ae::to_record;
use super::node::digest::bucket_of;
use super::node::report;

/// Redis's eviction policies, as CONFIG SET accepts them.
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// The Redis name of a policy: shale's CLOCK eviction approximates LRU over all keys, as
/// Redis's own `allkeys-lru` does.
pub fn policy_name(p: EvictionPolicy) -> &'static str {
    match p {
        EvictionPolicy::NoEviction => "noeviction",
        EvictionPolicy::Clock => "allkeys-lru",
    }
}

fn parse_policy(v: &[u8]) -> Result<EvictionPolicy, String> {
    match parse_enum(v, POLICIES)? {
        "noeviction" => Ok(EvictionPolicy::NoEviction),
        "allkeys-lru" => Ok(EvictionPolicy::Clock),
        other => Err(format!("shale supports noeviction and allkeys-lru, not {other}")),
    }
}

/// CONFIG's parameters for a server: the shared ones, `requirepass`, the value limit and
/// the store's memory limit.
pub fn server_config(
    store: &Arc<Store>,
    services: &Arc<Services>,
    gate: &Gate,
    net: &NetConfig,
    port: u16,
) -> Config {
    let max_value = net.limits.max_value_size;
    gate.config_param(Config::shared(services.clone(), port))
        .fixed("proto-max-bulk-len", move || max_value.to_string())
        .bound(store.clone())
        .mutable(
            "maxmemory",
            |s| s.maxmemory().to_string(),
            |s, v, apply| {
                let n = usize::try_from(parse_memory(v)?)
                    .map_err(|_| "argument must be a memory value")?;
                if apply {
                    s.set_memory_limit(n, s.eviction());
                }
                Ok(())
            },
        )
        .mutable(
            "maxmemory-policy",
            |s| policy_name(s.eviction()).to_owned(),
            |s, v, apply| {
                let policy = parse_policy(v)?;
                if apply {
                    s.set_memory_limit(s.maxmemory(), policy);
                }
                Ok(())
            },
        )
        .build()
}

impl Env for StoreHandler {
    fn role(&self) -> Role {
        Role::Server
    }

    fn services(&self) -> &Services {
        &self.services
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn started(&self) -> Instant {
        self.started
    }

    fn requires_auth(&self) -> bool {
        self.gate.requires_auth()
    }

    fn conn_counts(&self) -> ConnCounts {
        self.net.counts()
    }

    fn info(&self) -> Vec<Section> {
        let st = self.store.stats();
        let max = self.store.maxmemory();
        let mut memory = Section::new("Memory");
        memory
            .field("used_memory", st.used_memory)
            .field("used_memory_human", human(st.used_memory as u64));
        memory.field("maxmemory", max).field("maxmemory_human", human(max as u64));
        memory.field("maxmemory_policy", policy_name(self.store.eviction()));
        let mut stats = Section::new("Stats");
        stats.field("keys", st.keys).field("tombstones", st.tombstones);
        stats.field("expired_keys", st.expired_keys).field("evictions", st.evictions);
        stats.field("evicted_keys", st.evictions).field("get_hits", st.get_hits);
        stats.field("get_misses", st.get_misses).field("keyspace_hits", st.get_hits);
        stats.field("keyspace_misses", st.get_misses).field("commands", self.net.counts().commands);
        stats
            .field("sweep_last_pass_ms", st.sweep_last_pass_ms)
            .field("sweep_passes", st.sweep_passes);
        let mut keyspace = Section::new("Keyspace");
        if st.keys > 0 {
            let (expires, avg) = self.store.expiry_stats();
            let line = format!("keys={},expires={expires},avg_ttl={}", st.keys, avg.as_millis());
            keyspace.field("db0", line);
        }
        let mut sections = vec![memory, stats, keyspace];
        if let Some(c) = &self.cluster {
            let mut cluster = Section::new("Cluster");
            cluster.fields = report::fields(&c.node, &self.store, c.node.watcher().rejected());
            sections.push(cluster);
        }
        sections
    }

    fn reset_stats(&self) {
        self.net.reset();
        self.store.reset_stats();
    }

    fn clock_skew_refused(&self) {
        if let Some(c) = &self.cluster {
            c.node.count_clock_skew();
        }
    }

    /// One page of a shard's entries (in `buckets`, if given); the shard's state was
    /// checked already ([`super::node`]'s admission table).
    fn shard_dump(
        &self,
        shard: u32,
        buckets: Option<&BucketSet>,
        cursor: u64,
        max_items: u32,
        ids: bool,
    ) -> Result<Reply, ErrorReply> {
        let Some(cluster) = &self.cluster else { return Err(needs_cluster()) };
        let map = cluster.node.shards().map.clone();
        let wanted = |key: &[u8]| {
            map.shard_for_key(key) == shard && buckets.is_none_or(|b| b.contains(bucket_of(key)))
        };
        let max = match max_items as usize {
            0 => DUMP_PAGE_MAX_ITEMS,
            n => n.min(DUMP_PAGE_MAX_ITEMS),
        };
        let (entries, next) = self.store.dump_page(cursor, max, DUMP_PAGE_MAX_BYTES, &wanted);
        let page = DumpPage { records: entries.into_iter().map(to_record).collect(), next };
        if !ids {
            return Ok(Reply::Bulk(encode_page(&page)));
        }
        let node = &cluster.node;
        let ids: Vec<Vec<u64>> = page
            .records
            .iter()
            .map(|r| node.rmw_ids_held(&self.store, &r.key, r.version))
            .collect();
        Ok(Reply::Bulk(encode_page_ids(&page, &ids)))
    }

    fn node_status(&self) -> Result<Reply, ErrorReply> {
        let Some(cluster) = &self.cluster else { return Err(needs_cluster()) };
        Ok(Reply::Bulk(cluster.node.status(&self.store, &self.limits).encode()))
    }
}
