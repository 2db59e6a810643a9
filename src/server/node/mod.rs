//! A server that is one node of a cluster (`--shardmap --node`): which shards it serves and
//! in what state, and the background work that keeps its data in line with its peers.
//!
//! Each shard of the map is, on this node, in one [`ShardState`]:
//!
//! ```text
//!                 map adds it                      a full pull from every source
//!   NotHosted ----------------> Copying ---------------------------------------> Ready
//!       ^                          |  ^   (or: a brand-new cluster, nobody holds it) |
//!       | every new replica        |  |                                            |
//!       | reports Ready            |  +---- resynchronised <---- Isolated <--------+
//!       |                          |                          no peer reached for
//!   Retiring <---------------------+----------------------------- grace / 2
//!              map removes it (from Copying, Ready or Isolated: the data stays until
//!              the shard's new replicas hold it)
//! ```
//!
//! * **Ready** serves everything. **Copying** and **Isolated** take versioned writes from
//!   routers (last-writer-wins merges them with the copy) and answer reads NOT_READY, so a
//!   router reads elsewhere and a client never sees a present key as missing. **Retiring**
//!   serves reads and versioned writes (routers write to old and new replicas during a move)
//!   until every new replica reports Ready, then drops the data.
//! * A shard's *sources* are its other replicas in the map plus every node reporting it
//!   Retiring (the old replicas of a move): a copying replica pulls from all of them, never
//!   only from replicas that are themselves copying, and waits while one cannot be reached.
//!   Only a brand-new cluster (every node of the map answers and none holds the shard)
//!   starts a shard empty and Ready.
//! * Anti-entropy ([`ae`]): every [`AE_INTERVAL`] (jittered) a Ready shard compares
//!   [`digest`]s with each source and pulls the buckets that differ. Repair is the nodes'
//!   job: replicas converge with no router running.
//! * A Ready shard that has not completed a round with any other replica for half the
//!   tombstone grace becomes Isolated: its peers may have dropped tombstones of deletes it
//!   missed, so before serving again it drops its entries older than the isolation and pulls
//!   from its peers.
//!
//! Owns: shard states, admission of commands by state ([`Node::check`]), NODE_STATUS,
//! digests and the lifecycle task. Does not own: the map format or reloading it
//! ([`crate::shardmap`]), the store, or what routers do.

pub mod ae;
mod check;
pub mod coord;
pub mod decide;
pub mod digest;
mod effect;
pub mod elect;
pub mod handover;
mod keylock;
mod known;
mod lifecycle;
mod mapcheck;
pub mod orphans;
pub mod peers;
pub mod report;
mod retire;
mod rmw;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::protocol::Limits;
use crate::protocol::cluster::{NodeStatus, ShardState};
use crate::shardmap::{MapWatcher, ShardMap};
use crate::store::Store;

pub use lifecycle::{Cluster, spawn};

/// Mean time between anti-entropy rounds of a Ready shard (jittered +-20%; at most an
/// eighth of the tombstone grace).
pub const AE_INTERVAL: Duration = Duration::from_secs(10);

/// The writer id of a node's store clock: from its name, in 1..=2047 (routers use the upper
/// half by default).
pub fn node_writer_id(name: &str) -> u16 {
    (crate::shardmap::fnv1_32(name.as_bytes()) % 2047 + 1) as u16
}

/// The map being served and each shard's state on this node.
#[derive(Debug, Clone)]
pub struct Shards {
    /// The map applied.
    pub map: Arc<ShardMap>,
    /// `states[s - 1]`: this node's state for shard `s`.
    pub states: Vec<ShardState>,
}

impl Shards {
    /// The state of shard `s` (1-based).
    pub fn state(&self, s: u32) -> ShardState {
        let i = usize::try_from(s).unwrap_or(0).wrapping_sub(1);
        self.states.get(i).copied().unwrap_or_default()
    }
}

/// Per-shard bookkeeping of the lifecycle task, for decisions and STATS.
#[derive(Debug, Clone, Default)]
pub struct ShardMeta {
    /// The last anti-entropy round that completed with at least one other replica.
    pub last_synced: Option<Instant>,
    /// The last round that completed with every source.
    pub last_full: Option<Instant>,
    /// Wall-clock ms when the shard was last known in sync (the isolation cut-off).
    pub synced_wall_ms: u64,
    /// The next anti-entropy round is due then.
    pub next_round: Option<Instant>,
    /// Why the shard is not Ready, for STATS and the log.
    pub waiting: Option<String>,
    /// Entries applied by anti-entropy.
    pub repaired: u64,
}

/// Cluster counters for STATS and INFO.
#[derive(Debug, Default)]
pub struct NodeStats {
    /// Anti-entropy rounds completed with one peer.
    pub ae_rounds: AtomicU64,
    /// Rounds that failed (peer unreachable, bad reply).
    pub ae_failures: AtomicU64,
    /// Entries applied by anti-entropy.
    pub ae_keys_repaired: AtomicU64,
    /// Bytes of pulled pages.
    pub ae_bytes_pulled: AtomicU64,
    /// Digest walks of the store.
    pub digest_walks: AtomicU64,
    /// Versioned writes refused because their version was too far ahead of this clock.
    pub clock_skew_refusals: AtomicU64,
    /// Late outcomes of a crashed coordinator refused as SUPERSEDED (see `orphans.rs`).
    pub outcomes_superseded: AtomicU64,
    /// Takeover windows that filled up (`orphans::ORPHAN_KEYS_MAX`).
    pub orphan_overflows: AtomicU64,
    /// RMWs sent again after their reply was lost, recognised by their id and not run
    /// again (answered REPLY_LOST, or PARTIAL when counted below).
    pub rmw_reruns_recognised: AtomicU64,
    /// Of those, commands of several keys whose effect this node holds on some of the keys
    /// they changed only (answered PARTIAL; see `effect.rs`).
    pub rmw_reruns_partial: AtomicU64,
    /// Peers that applied another map than this node's when they last answered.
    pub map_peers_disagreeing: AtomicU64,
}

/// This node's name, map, shard states and cluster counters.
#[derive(Debug)]
pub struct Node {
    name: String,
    boot: u64,
    watcher: Arc<MapWatcher>,
    shards: ArcSwap<Shards>,
    meta: Mutex<Vec<ShardMeta>>,
    digests: Mutex<digest::DigestCache>,
    stats: NodeStats,
    grace: Duration,
    coord: coord::Coord,
    orphans: orphans::Orphans,
    rmw_keys: keylock::KeyLocks,
    known: known::KnownIds,
    /// Count and key ids (`effect.rs`), remembered apart so that however many keys commands
    /// change, they never crowd command ids out of `known` or a FENCE answer.
    derived: known::KnownIds,
}

impl Node {
    /// Node `name` of the map `watcher` follows; no shard is Ready until the lifecycle task
    /// ([`spawn`]) has decided it is. `grace` is the store's tombstone life.
    pub fn new(watcher: Arc<MapWatcher>, name: impl Into<String>, grace: Duration) -> Arc<Self> {
        let map = watcher.current();
        let states = vec![ShardState::NotHosted; map.num_shards() as usize];
        let meta = Mutex::new(vec![ShardMeta::default(); states.len()]);
        let name = name.into();
        Arc::new(Self {
            coord: coord::Coord::new(&name, map.num_shards()),
            orphans: orphans::Orphans::new(map.num_shards()),
            rmw_keys: keylock::KeyLocks::default(),
            known: known::KnownIds::default(),
            derived: known::KnownIds::default(),
            name,
            boot: rand::random(),
            watcher,
            shards: ArcSwap::from_pointee(Shards { map, states }),
            meta,
            digests: Mutex::new(digest::DigestCache::default()),
            stats: NodeStats::default(),
            grace,
        })
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The map file being followed.
    pub fn watcher(&self) -> &Arc<MapWatcher> {
        &self.watcher
    }

    /// The served map and shard states.
    pub fn shards(&self) -> Arc<Shards> {
        self.shards.load_full()
    }

    /// Publishes new shard states.
    pub(crate) fn publish(&self, shards: Shards) {
        self.shards.store(Arc::new(shards));
    }

    /// Cluster counters.
    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }

    /// Who coordinates each shard's read-modify-write commands, as this node sees it.
    pub fn coord(&self) -> &coord::Coord {
        &self.coord
    }

    /// A copy of the per-shard bookkeeping.
    pub fn meta(&self) -> Vec<ShardMeta> {
        self.meta.lock().clone()
    }

    /// Whether every shard the map gives this node is Ready (the node's readiness).
    pub fn is_ready(&self) -> bool {
        let s = self.shards.load();
        s.map.shards_of(&self.name).iter().all(|&shard| s.state(shard) == ShardState::Ready)
    }

    /// Counts a versioned write refused for clock skew.
    pub fn count_clock_skew(&self) {
        self.stats.clock_skew_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// The NODE_STATUS reply.
    pub fn status(&self, store: &Store, limits: &Limits) -> NodeStatus {
        let s = self.shards.load();
        NodeStatus {
            name: self.name.clone(),
            boot: self.boot,
            clock: store.hlc().peek(),
            wall_ms: crate::version::wall_ms(),
            max_key: u32::try_from(limits.max_key_size).unwrap_or(u32::MAX),
            max_value: u32::try_from(limits.max_value_size).unwrap_or(u32::MAX),
            map_hash: s.map.placement_hash(),
            shards: s.states.clone(),
        }
    }

    /// The hash of this node's map as NODE_STATUS reports it ([`ShardMap::placement_hash`]).
    pub fn map_hash(&self) -> u64 {
        self.shards.load().map.placement_hash()
    }

    /// What a node of an older version applying this node's map reports: its JSON's hash.
    pub fn map_json_hash(&self) -> u64 {
        self.shards.load().map.json_hash()
    }

    /// `shard`'s digest, from the cache (unless `fresh`) or a walk of `store` (which also
    /// refreshes every other shard this node holds data of).
    pub fn digest(&self, store: &Store, shard: u32, fresh: bool) -> Vec<u64> {
        let s = self.shards.load_full();
        if let Some(d) = self.digests.lock().get(&s.map, shard).filter(|_| !fresh) {
            return d;
        }
        let held: Vec<u32> = (1..=s.map.num_shards())
            .filter(|&x| x == shard || s.state(x) != ShardState::NotHosted)
            .collect();
        self.stats.digest_walks.fetch_add(1, Ordering::Relaxed);
        let all = digest::compute(store, &s.map, &held);
        let mine = all.get(&shard).cloned().unwrap_or_default();
        self.digests.lock().put(s.map.clone(), all);
        mine
    }

    /// Forgets cached digests (after applying a pull or dropping data).
    pub(crate) fn invalidate_digests(&self) {
        self.digests.lock().clear();
    }

    /// Whether a Ready `shard` with other replicas has not completed a round with any of
    /// them for half the tombstone grace.
    fn out_of_touch(&self, shards: &Shards, shard: u32) -> bool {
        let others = shards.map.replicas(shard).iter().any(|n| *n != self.name);
        shards.state(shard) == ShardState::Ready
            && others
            && self
                .with_meta(shard, |m| m.last_synced.is_some_and(|t| t.elapsed() > self.grace / 2))
                == Some(true)
    }

    fn with_meta<R>(&self, shard: u32, f: impl FnOnce(&mut ShardMeta) -> R) -> Option<R> {
        let mut meta = self.meta.lock();
        let i = usize::try_from(shard).ok()?.checked_sub(1)?;
        meta.get_mut(i).map(f)
    }
}
