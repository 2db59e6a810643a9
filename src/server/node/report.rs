//! The "Cluster" section of a node's INFO and STATS: readiness (which shards are ready,
//! copying, retiring or isolated, and why not), anti-entropy (rounds, keys repaired, bytes
//! pulled, how long since each shard last agreed with every peer), clock state, and who
//! coordinates each shard's read-modify-write commands.

use std::sync::atomic::Ordering;

use super::Node;
use crate::protocol::cluster::ShardState;
use crate::store::Store;

/// `name:value` fields of the Cluster section.
pub fn fields(node: &Node, store: &Store, map_rejected: u64) -> Vec<(String, String)> {
    let shards = node.shards();
    let meta = node.meta();
    let count = |want: ShardState| shards.states.iter().filter(|s| **s == want).count().to_string();
    let n = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed).to_string();
    let secs = |t: Option<tokio::time::Instant>| {
        t.map_or("-1".to_owned(), |t| t.elapsed().as_secs().to_string())
    };
    let oldest_full = (1..=shards.map.num_shards())
        .filter(|&s| shards.state(s) == ShardState::Ready)
        .filter_map(|s| meta.get(s as usize - 1))
        .map(|m| m.last_full.map_or(u64::MAX, |t| t.elapsed().as_secs()))
        .max();
    let ahead = crate::version::ahead_of_wall_ms(store.hlc().peek());
    let mut out = vec![
        ("node_name".to_owned(), node.name().to_owned()),
        ("node_ready".to_owned(), u8::from(node.is_ready()).to_string()),
        ("shards_hosted".to_owned(), shards.map.shards_of(node.name()).len().to_string()),
        ("shards_ready".to_owned(), count(ShardState::Ready)),
        ("shards_copying".to_owned(), count(ShardState::Copying)),
        ("shards_retiring".to_owned(), count(ShardState::Retiring)),
        ("shards_isolated".to_owned(), count(ShardState::Isolated)),
        ("ae_rounds".to_owned(), n(&node.stats.ae_rounds)),
        ("ae_failures".to_owned(), n(&node.stats.ae_failures)),
        ("ae_keys_repaired".to_owned(), n(&node.stats.ae_keys_repaired)),
        ("ae_bytes_pulled".to_owned(), n(&node.stats.ae_bytes_pulled)),
        ("ae_digest_walks".to_owned(), n(&node.stats.digest_walks)),
        (
            "ae_oldest_full_pass_s".to_owned(),
            oldest_full.map_or("-1".to_owned(), |s| s.to_string()),
        ),
        ("clock_ahead_of_wall_ms".to_owned(), ahead.to_string()),
        ("clock_skew_refusals".to_owned(), n(&node.stats.clock_skew_refusals)),
        ("outcomes_superseded".to_owned(), n(&node.stats.outcomes_superseded)),
        ("rmw_reruns_recognised".to_owned(), n(&node.stats.rmw_reruns_recognised)),
        ("rmw_reruns_partial".to_owned(), n(&node.stats.rmw_reruns_partial)),
        ("orphan_overflows".to_owned(), n(&node.stats.orphan_overflows)),
        ("map_rejected".to_owned(), map_rejected.to_string()),
        ("map_hash".to_owned(), format!("{:08x}", node.map_hash())),
        ("map_peers_disagreeing".to_owned(), n(&node.stats.map_peers_disagreeing)),
        ("shards_coordinated".to_owned(), node.coord.acting().to_string()),
        ("coord_takeovers".to_owned(), n(&node.coord.stats.takeovers)),
        ("coord_fenced".to_owned(), n(&node.coord.stats.fenced)),
        ("rmw_commands".to_owned(), n(&node.coord.stats.rmw_commands)),
        ("rmw_refused".to_owned(), n(&node.coord.stats.rmw_refused)),
    ];
    for s in 1..=shards.map.num_shards() {
        let state = shards.state(s);
        if state == ShardState::NotHosted {
            continue;
        }
        let m = meta.get(s as usize - 1).cloned().unwrap_or_default();
        let mut v = format!(
            "state={},last_sync_s={},last_full_pass_s={},repaired={}",
            state.name(),
            secs(m.last_synced),
            secs(m.last_full),
            m.repaired
        );
        let coordinator = node.coord.believed(s).unwrap_or_else(|| "-".to_owned());
        v.push_str(&format!(",coordinator={coordinator}"));
        if let Some(why) = m.waiting.filter(|_| state != ShardState::Ready) {
            v.push_str(&format!(",waiting={}", why.replace([',', '\r', '\n'], " ")));
        }
        out.push((format!("shard_{s}"), v));
    }
    out
}
