//! Keeping a cluster node's data in line with the shard map: at start, and whenever the
//! map adds a shard, the shard is copied from a peer that hosts it (SHARD_DUMP pages,
//! applied last-writer-wins, remaining TTLs kept) before it is served; when the map
//! removes a shard, it stops being served at once and its data is dropped. Map updates
//! are processed one at a time, in order.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::shards::{Served, ShardFilter};
use crate::auth::Password;
use crate::client::{Connection, ConnectionConfig};
use crate::protocol::Status;
use crate::protocol::binary::shard_dump_frame;
use crate::protocol::dump::{DumpRecord, decode_page};
use crate::shardmap::ShardMap;
use crate::store::{DumpEntry, Store};
use crate::tls::TlsConnector;

/// Deadline of one dump page from a peer.
pub const COPY_PAGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connect timeout to a peer.
pub const COPY_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How a node connects to its peers: nodes of one cluster are expected to share a
/// password, so a node authenticates with its own; with `tls`, over TLS.
pub fn peer_config(password: Option<Password>, tls: Option<Arc<TlsConnector>>) -> ConnectionConfig {
    ConnectionConfig { connect_timeout: COPY_CONNECT_TIMEOUT, password, tls, ..Default::default() }
}

/// Applies the current map, then every map the watcher accepts, until `cancel` fires.
/// Peers are reached with `peers`.
pub async fn run(
    filter: Arc<ShardFilter>,
    store: Arc<Store>,
    peers: ConnectionConfig,
    cancel: CancellationToken,
) {
    // Subscribed before the first map is read, so a change in between is not missed.
    let mut updates = filter.watcher().updates(cancel.clone());
    let first = filter.watcher().current();
    apply(&filter, &store, first, &peers, &cancel).await;
    info!(node = filter.node(), "node ready");
    while let Some(map) = updates.next().await {
        apply(&filter, &store, map, &peers, &cancel).await;
    }
}

/// Moves the node from what it serves now to what `map` says.
async fn apply(
    filter: &ShardFilter,
    store: &Arc<Store>,
    map: Arc<ShardMap>,
    peers: &ConnectionConfig,
    cancel: &CancellationToken,
) {
    let old = filter.served();
    let node = filter.node();
    let hosted: BTreeSet<u32> = map.shards_of(node).into_iter().collect();
    let was_ready = |s: u32| {
        old.map.num_shards() == map.num_shards() && old.ready.get(s as usize - 1) == Some(&true)
    };
    // Shards that stay keep serving; removed ones stop at once; added ones wait for a copy.
    let mut ready: Vec<bool> =
        (1..=map.num_shards()).map(|s| hosted.contains(&s) && was_ready(s)).collect();
    filter.publish(Served { map: map.clone(), ready: ready.clone() });
    let dropped = {
        let (map, old, node) = (map.clone(), old.clone(), node.to_owned());
        let store = store.clone();
        let gone = move |key: &[u8]| {
            let was = old.map.shard_for_key(key);
            old.ready.get(was as usize - 1) == Some(&true)
                && !map.hosts(&node, map.shard_for_key(key))
        };
        tokio::task::spawn_blocking(move || store.remove_matching(&gone)).await.unwrap_or(0)
    };
    if dropped > 0 {
        info!(node, dropped, "dropped keys of shards this node no longer hosts");
    }
    let to_copy: Vec<u32> = hosted.iter().copied().filter(|&s| !ready[s as usize - 1]).collect();
    for shard in to_copy {
        if cancel.is_cancelled() {
            return;
        }
        copy_shard(&map, node, shard, store, peers).await;
        ready[shard as usize - 1] = true;
        filter.publish(Served { map: map.clone(), ready: ready.clone() });
    }
}

/// Copies `shard` from the first peer that can serve it, starting at a different peer per
/// shard so copies spread out. Starts the shard empty (and says so) if none can.
async fn copy_shard(
    map: &ShardMap,
    node: &str,
    shard: u32,
    store: &Store,
    conn: &ConnectionConfig,
) {
    let peers: Vec<_> = map.replicas(shard).iter().filter(|n| n.as_str() != node).collect();
    if peers.is_empty() {
        info!(node, shard, "no peer hosts this shard; starting it empty");
        return;
    }
    let start = shard as usize % peers.len();
    for peer in peers.iter().cycle().skip(start).take(peers.len()) {
        let Some(spec) = map.node(peer) else { continue };
        match copy_from(&spec.addr_string(), shard, store, conn).await {
            Ok(keys) => {
                info!(node, shard, peer = peer.as_str(), keys, "shard copied");
                return;
            }
            Err(why) => {
                warn!(node, shard, peer = peer.as_str(), %why, "shard copy failed, trying another peer")
            }
        }
    }
    warn!(node, shard, "no peer could serve the shard; starting it empty");
}

/// Pages through a peer's dump of `shard`, applying every entry. Returns entries applied.
async fn copy_from(
    addr: &str,
    shard: u32,
    store: &Store,
    cfg: &ConnectionConfig,
) -> Result<usize, String> {
    let conn = Connection::connect(addr, cfg).await.map_err(|e| e.to_string())?;
    let (mut cursor, mut applied) = (0, 0);
    loop {
        let resp = conn.call(shard_dump_frame(shard, cursor, 0), COPY_PAGE_TIMEOUT).await;
        let resp = resp.map_err(|e| e.to_string())?;
        if resp.status() != Some(Status::Ok) {
            return Err(String::from_utf8_lossy(&resp.payload).into_owned());
        }
        let page = decode_page(resp.payload).map_err(|e| e.to_string())?;
        for record in &page.records {
            // A refused copy would leave the replicas different: stop and try another peer.
            store.try_apply(&to_entry(record)).map_err(|e| format!("applying the copy: {e}"))?;
            applied += 1;
        }
        match page.next {
            Some(next) => cursor = next,
            None => return Ok(applied),
        }
    }
}

fn to_entry(r: &DumpRecord) -> DumpEntry {
    DumpEntry {
        key: r.key.clone(),
        value: r.value.clone(),
        ttl: (r.ttl_ms > 0).then(|| Duration::from_millis(r.ttl_ms)),
        version: r.version,
    }
}

/// The wire form of a store entry.
pub fn to_record(e: DumpEntry) -> DumpRecord {
    let ttl_ms = e.ttl.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1));
    DumpRecord { key: e.key, value: e.value, ttl_ms, version: e.version }
}
