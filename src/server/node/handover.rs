//! The coordination task: every [`COORD_TICK`] it polls every peer's NODE_STATUS, computes
//! each hosted shard's coordinator ([`elect`]) and acts on it ([`Coord`]): steps down when
//! another node is named, and takes over when this one is.
//!
//! A takeover of shard `s` is fenced, so two nodes never both run `s`'s read-modify-writes
//! while they can reach each other, whatever routers believe meanwhile:
//! 1. this node stops answering RMWs of `s` with NOT_COORDINATOR and answers NOT_READY
//!    ("handover in progress") instead;
//! 2. it sends FENCE(`s`) to every other replica of `s` and every other node reporting it
//!    holds `s` (Retiring, or Ready by a map this node has left: a node that has not read
//!    the map yet coordinates `s` by the old one for routers that have not either): each
//!    stops acting for `s`, waits for the RMWs it is running on `s`, and answers. A peer
//!    that does not answer fails the takeover, unless the polls already count it
//!    unreachable (a crashed node's state died with it). While two nodes' maps disagree
//!    they take `s` from each other in turn, each pulling the other's outcomes first:
//!    slower, never split;
//! 3. it pulls `s` with an exact anti-entropy round from every fenced peer holding it, so
//!    every outcome an earlier coordinator produced is here and the store's clock has
//!    passed their versions (its next outcome wins over all of them); for a peer that
//!    crashed, whose outcomes may still arrive as a router's hints, the clock passes the
//!    peer's clock as its last poll told it; then it asks each pulled peer for its RMW ids
//!    again and pulls once more, so ids noted after the first answer come too
//!    (`pull_ids_again`);
//! 4. it acts, unless a FENCE from another node arrived meanwhile.
//!
//! Runs apart from the lifecycle task, whose steps can take seconds (a shard copy), so a
//! dead coordinator is replaced within a few ticks whatever else the node is doing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Cluster;
use super::ae::{self, Mode};
use super::coord::{LEASE_RENEW_TICK, Role};
use super::elect::{self, Candidate, PeerHealth, Step};
use super::mapcheck::{MapAgreement, MapEvent};
use crate::protocol::cluster::ShardState;
use crate::protocol::rmw::{FenceOk, fence_frame};
use crate::shardmap::ShardMap;

/// Logs a coordinator hand-off at info, or at debug when not `loud` (see `loud_handoffs`).
macro_rules! handoff {
    ($loud:expr, $($event:tt)*) => {
        if $loud { info!($($event)*) } else { debug!($($event)*) }
    };
}

/// Pause between two coordination steps.
pub const COORD_TICK: Duration = Duration::from_millis(250);
/// Deadline of one FENCE: the peer's drain wait, with room for the round trip.
pub const FENCE_TIMEOUT: Duration = Duration::from_secs(3);

/// What this node knows of every peer, by name.
type Health = HashMap<String, PeerHealth>;

/// Runs the coordination steps, and the lease renewals beside them, until `cancel`.
pub(super) async fn run(c: Arc<Cluster>, cancel: CancellationToken) {
    let steps = async {
        let (mut health, mut maps) = (Health::new(), MapAgreement::default());
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(COORD_TICK) => {}
            }
            c.coordinate(&mut health).await;
            c.check_maps(&health, &mut maps);
        }
    };
    let renewals = async {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(LEASE_RENEW_TICK) => c.node.coord.renew(),
            }
        }
    };
    tokio::join!(steps, renewals);
}

/// A peer a takeover fences: whether it must answer, and whether it holds the shard's data.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    reachable: bool,
    holds_data: bool,
    /// Its clock now, as estimated from its last poll ([`PeerHealth::clock_now`]).
    clock_now: Option<u64>,
}

impl Cluster {
    /// One coordination step of every shard.
    async fn coordinate(self: &Arc<Self>, health: &mut Health) {
        let shards = self.node.shards();
        let (map, coord, me) = (&shards.map, &self.node.coord, self.node.name());
        let fences: Vec<u64> = (1..=map.num_shards()).map(|s| coord.fences(s)).collect();
        for (name, status) in self.peers.statuses(map).await {
            health.entry(name).or_default().record(status);
        }
        let mut takeovers = Vec::new();
        for s in 1..=map.num_shards() {
            let candidates: Vec<Candidate<'_>> = map
                .replicas(s)
                .iter()
                .map(|name| match health.get(name) {
                    _ if name == me => Candidate {
                        name,
                        ready: shards.state(s) == ShardState::Ready,
                        reachable: true,
                    },
                    Some(h) => Candidate {
                        name,
                        ready: h.state(s) == ShardState::Ready,
                        reachable: h.reachable(),
                    },
                    None => Candidate { name, ready: false, reachable: false },
                })
                .collect();
            let named = elect::coordinator(&candidates);
            let role = coord.role(s);
            match elect::step(role, me, named, coord.lapsed(s)) {
                Step::Keep if role == Role::Acting => {}
                Step::Keep => coord.believe(s, named),
                Step::StepDown => {
                    let loud = self.loud_handoffs();
                    handoff!(
                        loud,
                        node = me,
                        shard = s,
                        coordinator = named,
                        "no longer coordinating"
                    );
                    coord.step_down(s, named);
                }
                Step::TakeOver => {
                    let targets = targets(map, s, me, health);
                    takeovers.push(self.take_over(map, s, fences[s as usize - 1], targets));
                }
            }
        }
        join_all(takeovers).await;
    }

    /// Compares the peers' maps with this node's, as their last polls told them
    /// (`mapcheck.rs`), and logs what lasted too long or ended.
    fn check_maps(&self, health: &Health, maps: &mut MapAgreement) {
        let me = self.node.name();
        let placement = self.node.map_hash();
        let peers: Vec<(&str, Option<u64>)> =
            health.iter().map(|(name, h)| (name.as_str(), h.map_hash())).collect();
        // Only a node of an older version reports the JSON's hash: the map is serialised
        // for it only when some peer reports another hash than this node's.
        let other = |(_, h): &(&str, Option<u64>)| h.is_some_and(|h| h != 0 && h != placement);
        let legacy = if peers.iter().any(other) { self.node.map_json_hash() } else { placement };
        for event in maps.observe([placement, legacy], peers, std::time::Instant::now()) {
            match event {
                MapEvent::Disagrees { peer, theirs, mine, apart } => warn!(
                    node = me,
                    peer,
                    peer_map = format!("{theirs:08x}"),
                    map = format!("{mine:08x}"),
                    apart_s = apart.as_secs(),
                    "a peer applies another shard map than this node: check that every node \
                     and router reads the same map (shards it holds by one map and not the \
                     other change coordinator every few ticks until they agree)"
                ),
                MapEvent::Agrees { peer } => {
                    info!(node = me, peer, "a peer warned about applies this node's map again");
                }
            }
        }
        let apart = u64::try_from(maps.disagreeing()).unwrap_or(u64::MAX);
        self.node.stats.map_peers_disagreeing.store(apart, Ordering::Relaxed);
    }

    /// Whether hand-offs log at info: not while a peer applies another map, when they
    /// repeat every few ticks and the map warning names the cause.
    fn loud_handoffs(&self) -> bool {
        self.node.stats.map_peers_disagreeing.load(Ordering::Relaxed) == 0
    }

    /// Takes over as coordinator of `shard` (see the module docs); `fences` is the shard's
    /// FENCE count from before the poll this decision was made from.
    async fn take_over(
        self: &Arc<Self>,
        map: &ShardMap,
        shard: u32,
        fences: u64,
        targets: Vec<Target>,
    ) {
        let (coord, me) = (&self.node.coord, self.node.name());
        let Some(ticket) = coord.begin_takeover(shard, fences) else { return };
        let pulled = self.fence_and_pull(map, shard, &targets).await;
        if pulled == Ok(true) {
            // Open before acting, so the first RMW already notes what it computes over.
            self.node.orphans.open(shard, self.store.hlc().peek());
        }
        match pulled {
            Ok(_) if coord.finish_takeover(shard, ticket) => {
                let fenced: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                let fenced = fenced.join(",");
                handoff!(self.loud_handoffs(), node = me, shard, fenced, "coordinating the shard");
            }
            Ok(_) => {}
            Err(why) => {
                warn!(node = me, shard, %why, "coordinator takeover incomplete; retrying");
                coord.abandon_takeover(shard, ticket);
            }
        }
    }

    /// Fences every target and pulls the shard from those that answered and hold it.
    /// Returns whether some target was passed over as crashed: its last outcomes may still
    /// arrive here, and the takeover opens a window to tell them apart (`orphans.rs`).
    async fn fence_and_pull(
        self: &Arc<Self>,
        map: &ShardMap,
        shard: u32,
        targets: &[Target],
    ) -> Result<bool, String> {
        let me = self.node.name();
        let calls = targets
            .iter()
            .map(|t| self.peers.call(map, &t.name, fence_frame(shard, me), FENCE_TIMEOUT));
        let (mut pull, mut crashed) = (Vec::new(), false);
        for (t, answer) in targets.iter().zip(join_all(calls).await) {
            match answer {
                Ok(resp) => {
                    // An empty answer is a node from before FENCE answered its clock.
                    let empty = resp.payload.is_empty();
                    let ok = FenceOk::decode(resp.payload).or_else(|| empty.then(FenceOk::default));
                    let Some(ok) = ok else {
                        return Err(format!("fence of {}: a malformed answer", t.name));
                    };
                    ae::observe_clock(&self.store, ok.clock);
                    if t.holds_data {
                        pull.push((&t.name, ok.ids));
                    }
                }
                Err(e) if t.reachable => return Err(format!("fence of {}: {e}", t.name)),
                // Unreachable for several polls and not answering now: a crashed node,
                // whose outcomes died with it (or a partition; see the README's limits).
                // Copies of them may still be on their way here (a router's hints): this
                // node's clock passes the peer's, so its own outcomes win over them.
                Err(_) => {
                    crashed = true;
                    if let Some(clock) = t.clock_now {
                        ae::observe_clock(&self.store, clock);
                    }
                }
            }
        }
        let rounds = pull.iter().map(|(peer, _)| ae::round(self, map, peer, shard, Mode::Exact));
        for ((peer, ids), result) in pull.iter().zip(join_all(rounds).await) {
            result.map_err(|e| format!("pull from {peer}: {e}"))?;
            // Its state is here now, and with it the effect of the commands it noted.
            self.node.keep_rmw_ids(shard, ids);
        }
        let pulled: Vec<&str> = pull.iter().map(|(peer, _)| peer.as_str()).collect();
        self.pull_ids_again(map, shard, &pulled).await;
        Ok(crashed)
    }

    /// An outcome that reached a peer after it answered FENCE, and before the pull read its
    /// key, is not in that answer's ids; the pull's pages carry only the ids the peer still
    /// keeps with the key (its latest 16, and none from a peer older than ids in pages): a
    /// command of it sent again could run again here. So each peer is asked for its ids
    /// once more, and pulled once more after that, and only then are those ids kept: every
    /// id kept is of a state pulled after the peer noted it. A peer that fails either step
    /// keeps what the first answer gave (as before this second step); the takeover goes on.
    async fn pull_ids_again(self: &Arc<Self>, map: &ShardMap, shard: u32, peers: &[&str]) {
        let me = self.node.name();
        let asks =
            peers.iter().map(|p| self.peers.call(map, p, fence_frame(shard, me), FENCE_TIMEOUT));
        let answers = join_all(asks).await.into_iter();
        let again: Vec<(&str, Vec<u64>)> = peers
            .iter()
            .zip(answers)
            .filter_map(|(p, a)| Some((*p, FenceOk::decode(a.ok()?.payload)?.ids)))
            .collect();
        let rounds = again.iter().map(|(peer, _)| ae::round(self, map, peer, shard, Mode::Exact));
        for ((_, ids), result) in again.iter().zip(join_all(rounds).await) {
            if result.is_ok() {
                self.node.keep_rmw_ids(shard, ids);
            }
        }
    }
}

/// Every node a takeover of `shard` by `me` fences: its other replicas, and other nodes
/// reporting they hold the shard (an old replica of a move, Retiring, or Ready by the map
/// before it, which it may still coordinate by).
fn targets(map: &ShardMap, shard: u32, me: &str, health: &Health) -> Vec<Target> {
    let replicas = map.replicas(shard);
    map.nodes()
        .map(|n| n.name.as_str())
        .filter(|name| *name != me)
        .filter_map(|name| {
            let h = health.get(name).cloned().unwrap_or_default();
            let replica = replicas.iter().any(|r| r == name);
            let state = h.state(shard);
            (replica || state.holds_data()).then(|| Target {
                name: name.to_owned(),
                reachable: h.reachable(),
                holds_data: state.holds_data(),
                clock_now: h.clock_now(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::cluster::NodeStatus;

    #[test]
    fn a_takeover_fences_the_other_replicas_and_every_holder() {
        let map = ShardMap::builder(1)
            .node("a", "127.0.0.1", 1)
            .node("b", "127.0.0.1", 2)
            .node("c", "127.0.0.1", 3)
            .node("d", "127.0.0.1", 4)
            .shard(1, &["a", "b"])
            .build()
            .unwrap();
        let status = |state| NodeStatus { shards: vec![state], ..Default::default() };
        let mut health = Health::new();
        health.entry("b".into()).or_default().record(Some(status(ShardState::Copying)));
        health.entry("c".into()).or_default().record(Some(status(ShardState::Retiring)));
        health.entry("d".into()).or_default().record(Some(status(ShardState::NotHosted)));
        let t = targets(&map, 1, "a", &health);
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        // d has not read this map: by its own it holds the shard, and may coordinate it.
        health.entry("d".into()).or_default().record(Some(status(ShardState::Ready)));
        let t = targets(&map, 1, "a", &health);
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["b", "c", "d"]);
        assert!(t[0].reachable && !t[0].holds_data, "a copying replica holds nothing to pull");
        assert!(t[1].holds_data, "an old replica of a move is pulled from");
    }
}
