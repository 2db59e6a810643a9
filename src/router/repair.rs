//! Background repair, the fast path to convergence (the nodes' own anti-entropy is the
//! slow one, and needs no router): replays each node's hints once it is up (rate-limited;
//! until they are in, the node serves no reads), and brings stale shards up to date with a
//! SYNC, which makes the node pull the shard from all its peers. A shard is stale on a node
//! when hints for it were lost (overflow, age) and, on a router that just started, on every
//! node: the router cannot know what its predecessor failed to deliver.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Router;
use super::backend::Backend;
use super::fanout::Answer;
use super::hints::Replay;
use super::topology::Topology;
use crate::protocol::Status;
use crate::protocol::cluster::sync_frame;
use crate::protocol::rmw::outcome_frame;

/// How often nodes are checked for hints to replay and shards to resync.
pub const REPAIR_TICK: Duration = Duration::from_millis(100);
/// Hints sent to one node at once.
pub const REPLAY_BATCH: usize = 256;
/// Most hints replayed to one node per tick (about 20 000 a second).
pub const REPLAY_PER_TICK: usize = 2048;
/// Deadline of one replay batch.
pub const REPAIR_TIMEOUT: Duration = Duration::from_secs(2);
/// Deadline of one SYNC (the node may copy a whole shard from its peers).
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest a starting router spends bringing replicas up to date before it serves.
pub const STARTUP_REPAIR_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs until `cancel` fires.
pub async fn run(router: Router, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(REPAIR_TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        router.refresh_movers();
        pass(&router).await;
    }
}

/// One round: replay each reachable node's hints, or sync its stale shards. A node that
/// restarted copied its shards from peers that may have been missing writes the router
/// still held as hints: its shards go stale too, and are synced once those peers are caught
/// up.
pub async fn pass(router: &Router) {
    let topo = router.topology();
    for node in topo.backends() {
        if node.view().restart_seen() {
            for shard in topo.map().shards_of(node.name()) {
                node.hints().mark_stale(shard);
            }
            node.view().restart_handled();
        }
    }
    let topo = &topo;
    let up = topo.backends().into_iter().filter(|b| !b.health().is_ejected());
    let work = up.map(|node| async move {
        if !node.hints().is_empty() {
            replay(node).await;
            return;
        }
        let stale = node.hints().stale_shards();
        let ready = stale.into_iter().filter(|&s| peers_caught_up(topo, node, s));
        let syncs = ready.collect::<Vec<_>>().into_iter().map(|shard| async move {
            if sync(node, shard).await {
                node.hints().clear_stale(shard);
                info!(node = node.name(), shard, "stale shard brought up to date");
            }
        });
        join_all(syncs).await;
    });
    join_all(work).await;
}

/// Whether every other replica of `shard` has received every write the router holds for
/// it (no hints queued): only then does a SYNC from them give `node` those writes too.
/// (Writes whose hints were lost are nowhere in the router: waiting would not help, and a
/// SYNC pulls whatever the peers have.) A replica that is down does not hold up the sync.
fn peers_caught_up(topo: &Topology, node: &Backend, shard: u32) -> bool {
    topo.replicas_of(shard)
        .iter()
        .filter(|b| b.name() != node.name())
        .all(|b| b.health().is_ejected() || b.hints().is_empty())
}

/// Sends up to [`REPLAY_PER_TICK`] hints; undelivered ones go back to the queue.
async fn replay(node: &Arc<Backend>) {
    let mut sent = 0;
    while sent < REPLAY_PER_TICK {
        let batch = node.hints().take(REPLAY_BATCH, Instant::now());
        if batch.is_empty() {
            info!(node = node.name(), "hints replayed");
            return;
        }
        sent += batch.len();
        let taken = batch.len();
        let deadline = Instant::now() + REPAIR_TIMEOUT;
        let calls = batch.iter().map(|r| node.call(replay_frame(r), deadline));
        let results = join_all(calls).await;
        node.hints().delivered(results.iter().filter(|r| r.is_ok()).count());
        let mut failed = Vec::new();
        for (r, result) in batch.into_iter().zip(results) {
            match Answer::of(node, result) {
                // Applied; or the node holds something newer (this write was superseded);
                // or the key is no longer its own, or the hint is bad: nowhere to go.
                Answer::Acked(_) | Answer::Stale(_) | Answer::WrongShard(_) => {}
                Answer::ClientFault(e) => debug!(node = node.name(), %e, "hint dropped"),
                // Newer than the hint too; but if the hint was a read-modify-write's outcome
                // (its client answered when the hint was made: PARTIAL, or OK with the node
                // ejected), it was lost with the coordinator that alone held it.
                Answer::Superseded(_, why) => {
                    warn!(node = node.name(), %why, "hinted write superseded after a takeover");
                }
                Answer::NodeFault(..) => failed.push(r),
            }
        }
        let again = !failed.is_empty();
        if again {
            node.hints().requeue(failed);
        }
        node.hints().replay_done(taken);
        if again {
            return;
        }
    }
}

fn replay_frame(r: &Replay) -> crate::protocol::binary::RequestFrame {
    let h = &r.hint;
    let (value, ttl_ms) = match r.set_ttl_ms {
        Some(ttl_ms) => (h.value.as_deref(), ttl_ms),
        None => (None, 0),
    };
    outcome_frame(h.key.clone(), value, ttl_ms, h.version, &h.ids)
}

/// Asks `node` to pull `shard` from all its peers now. Returns whether it is up to date.
/// A server that is not a cluster node (no SYNC) has no peers to pull from: nothing more
/// can be done, so it counts as done.
pub async fn sync(node: &Backend, shard: u32) -> bool {
    match node.call(sync_frame(shard), Instant::now() + SYNC_TIMEOUT).await {
        Ok(resp) if resp.status() == Some(Status::Ok) => true,
        Ok(resp) => resp.status() == Some(Status::InvalidArgument),
        Err(e) => {
            debug!(node = node.name(), shard, error = %e, "sync not done");
            node.repair_failed(format!("sync of shard {shard}: {e}"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use tokio::time::Instant;

    use super::*;
    use crate::cmd::{Command, from_frame};
    use crate::protocol::Limits;
    use crate::router::hintlog::Hint;

    /// A hinted outcome is replayed with its RMW ids, so the replica knows which commands
    /// its state holds when it coordinates next.
    #[test]
    fn a_replayed_outcome_carries_its_ids() {
        let hint = Hint {
            shard: 1,
            key: Bytes::from_static(b"k"),
            value: Some(Bytes::from_static(b"5")),
            expires: None,
            version: 9,
            ids: vec![11, 12],
            queued: Instant::now(),
        };
        let set = Replay { hint: hint.clone(), set_ttl_ms: Some(0) };
        let Ok(Command::VSet(a)) = from_frame(replay_frame(&set), &Limits::default()) else {
            panic!("a VSET")
        };
        assert_eq!((&a.value[..], a.ids.as_slice()), (&b"5"[..], &[11, 12][..]));
        let del = Replay { hint: Hint { value: None, ..hint }, set_ttl_ms: None };
        let Ok(Command::VDel(a)) = from_frame(replay_frame(&del), &Limits::default()) else {
            panic!("a VDEL")
        };
        assert_eq!(a.ids.as_slice(), &[11, 12]);
    }
}
