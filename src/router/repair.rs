//! Background repair, so replicas converge: replays each node's hints once it is up
//! (rate-limited; until they are in, the node serves no reads), and resynchronises shards
//! marked stale (hints were lost) by copying them from a caught-up peer with SHARD_DUMP,
//! applied as versioned writes so nothing newer on the node is overwritten.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Router;
use super::backend::{Backend, is_client_fault};
use super::hints::Replay;
use super::topology::Topology;
use crate::client::Error;
use crate::protocol::Status;
use crate::protocol::binary::{shard_dump_frame, versioned_frame};
use crate::protocol::dump::decode_page;

/// How often nodes are checked for hints to replay and shards to resync.
pub const REPAIR_TICK: Duration = Duration::from_millis(100);
/// Hints sent to one node at once.
pub const REPLAY_BATCH: usize = 256;
/// Most hints replayed to one node per tick (about 20 000 a second).
pub const REPLAY_PER_TICK: usize = 2048;
/// Deadline of one replay batch or one dump page.
pub const REPAIR_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest a starting router spends merging replicas before it serves.
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
        pass(&router).await;
    }
}

/// One round: replay each reachable node's hints, or resync its stale shards.
pub async fn pass(router: &Router) {
    let topo = router.topology();
    for node in topo.backends() {
        if node.health().is_ejected() {
            continue;
        }
        if !node.hints().is_empty() {
            replay(node).await;
            continue;
        }
        for shard in node.hints().stale_shards() {
            if resync(&topo, node, shard).await {
                node.hints().clear_stale(shard);
                info!(node = node.name(), shard, "stale shard resynchronised");
            }
        }
        for shard in node.hints().merge_shards() {
            // Best effort: a peer that is down or broken has nothing to contribute now.
            resync(&topo, node, shard).await;
            node.hints().clear_merge(shard);
        }
    }
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
        let deadline = Instant::now() + REPAIR_TIMEOUT;
        let calls = batch.iter().map(|r| node.call(replay_frame(r), deadline));
        let results = join_all(calls).await;
        node.hints().delivered(results.iter().filter(|r| r.is_ok()).count());
        let mut failed = Vec::new();
        for (r, result) in batch.into_iter().zip(results) {
            match result {
                // The node no longer hosts the key: the hint has nowhere to go.
                Err(Error::Server { status: Status::WrongShard, .. }) => {}
                Err(_) => failed.push(r),
                Ok(_) => {}
            }
        }
        if !failed.is_empty() {
            node.hints().requeue(failed);
            return;
        }
    }
}

fn cannot_dump(node: &Backend, shard: u32) -> bool {
    warn!(node = node.name(), shard, "peer cannot dump the shard; replica left as it is");
    true
}

fn replay_frame(r: &Replay) -> crate::protocol::binary::RequestFrame {
    let h = &r.hint;
    match r.set_ttl_ms {
        Some(ttl_ms) => versioned_frame(h.key.clone(), h.value.as_deref(), ttl_ms, h.version),
        None => versioned_frame(h.key.clone(), None, 0, h.version),
    }
}

/// Copies `shard` from a peer into `node`: a caught-up peer if there is one, else any
/// peer that is up (after a router restart every replica is stale; merging each into the
/// others last-writer-wins still makes them converge). A shard with no other replica has
/// nothing to merge. Returns whether it completed.
async fn resync(topo: &Topology, node: &Arc<Backend>, shard: u32) -> bool {
    let peers: Vec<&Arc<Backend>> = topo
        .replicas_of(shard)
        .iter()
        .filter(|b| !Arc::ptr_eq(b, node) && !b.health().is_ejected())
        .collect();
    if topo.replicas_of(shard).len() < 2 {
        return true;
    }
    let source = peers.iter().find(|b| b.hints().caught_up(shard)).or(peers.first());
    let Some(source) = source else {
        warn!(node = node.name(), shard, "stale shard has no peer up to copy from");
        return false;
    };
    let mut cursor = 0;
    loop {
        let deadline = Instant::now() + REPAIR_TIMEOUT;
        let page = match source.call(shard_dump_frame(shard, cursor, 0), deadline).await {
            Ok(resp) if resp.status() == Some(Status::Ok) => decode_page(resp.payload),
            // Not a cluster node (no SHARD_DUMP): there is nothing this router can merge.
            Ok(resp) if resp.status().is_some_and(is_client_fault) => {
                return cannot_dump(node, shard);
            }
            _ => return false,
        };
        let Ok(page) = page else { return cannot_dump(node, shard) };
        let writes = page.records.iter().map(|r| {
            let frame = versioned_frame(r.key.clone(), r.value.as_deref(), r.ttl_ms, r.version);
            node.call(frame, deadline)
        });
        if join_all(writes).await.iter().any(Result::is_err) {
            return false;
        }
        match page.next {
            Some(next) => cursor = next,
            None => return true,
        }
    }
}
