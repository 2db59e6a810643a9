//! The node's background task: applies each map the watcher accepts (hosting, retiring),
//! polls every other node's NODE_STATUS, moves each shard through its lifecycle with
//! [`decide`], and runs the periodic anti-entropy rounds of Ready shards. SYNC requests run
//! the same steps for one shard on demand. One step at a time: a tokio mutex serialises
//! the task and SYNC requests, so a shard's state is never decided twice at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::ae::{self, Mode, RoundError};
use super::decide::{Action, Peer, View, decide};
use super::peers::{Peers, peer_view};
use super::{AE_INTERVAL, Node, ShardMeta, Shards};
use crate::client::ConnectionConfig;
use crate::protocol::cluster::{NodeStatus, ShardState};
use crate::shardmap::ShardMap;
use crate::store::Store;

/// Pause between steps while some shard is not settled (copying, retiring, isolated).
pub const BUSY_TICK: Duration = Duration::from_millis(250);
/// Pause between steps otherwise.
pub const IDLE_TICK: Duration = Duration::from_secs(1);

/// A node with its store and peer connections: what the lifecycle and SYNC work on.
#[derive(Debug)]
pub struct Cluster {
    /// Shard states and counters.
    pub node: Arc<Node>,
    /// The data.
    pub store: Arc<Store>,
    /// Connections to the other nodes.
    pub peers: Peers,
    step: tokio::sync::Mutex<()>,
}

/// Starts the lifecycle task of `node` over `store`, reaching peers with `peers`.
pub fn spawn(
    node: Arc<Node>,
    store: Arc<Store>,
    peers: ConnectionConfig,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) -> Arc<Cluster> {
    let peers = Peers::new(node.name(), peers);
    let cluster = Arc::new(Cluster { node, store, peers, step: tokio::sync::Mutex::new(()) });
    tracker.spawn(run(cluster.clone(), cancel.clone()));
    tracker.spawn(super::handover::run(cluster.clone(), cancel));
    cluster
}

async fn run(c: Arc<Cluster>, cancel: CancellationToken) {
    // Subscribed before the first map is read, so a change in between is not missed.
    let mut updates = c.node.watcher().updates(cancel.clone());
    c.apply_map(c.node.watcher().current()).await;
    let mut announced = false;
    loop {
        let settled = c.step_all().await;
        if !announced && c.node.is_ready() {
            info!(node = c.node.name(), "node ready");
            announced = true;
        }
        let pause = if settled { IDLE_TICK } else { BUSY_TICK };
        tokio::select! {
            _ = cancel.cancelled() => break,
            map = updates.next() => match map {
                Some(map) => c.apply_map(map).await,
                None => break,
            },
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

impl Cluster {
    /// Moves every shard from what is served now to what `map` says: newly hosted shards
    /// start Copying, shards the map takes away start Retiring (their data stays until the
    /// new replicas hold it).
    async fn apply_map(&self, map: Arc<ShardMap>) {
        let _step = self.step.lock().await;
        let old = self.node.shards();
        let me = self.node.name().to_owned();
        let same_shape = old.map.num_shards() == map.num_shards();
        let states: Vec<ShardState> = (1..=map.num_shards())
            .map(|s| {
                let was = if same_shape { old.state(s) } else { ShardState::NotHosted };
                next_state(was, map.hosts(&me, s))
            })
            .collect();
        for (i, (was, now)) in old.states.iter().zip(&states).enumerate() {
            if was != now && same_shape {
                info!(node = %me, shard = i + 1, from = was.name(), to = now.name(), "map applied");
            }
        }
        self.node.meta.lock().resize(states.len(), ShardMeta::default());
        self.node.publish(Shards { map, states });
    }

    /// One step of every shard. Returns whether every shard is settled (Ready or not hosted).
    async fn step_all(self: &Arc<Self>) -> bool {
        let _step = self.step.lock().await;
        let shards = self.node.shards();
        let unsettled = |s: &ShardState| !matches!(s, ShardState::Ready | ShardState::NotHosted);
        let now = Instant::now();
        let due = |shard: u32| {
            self.node.with_meta(shard, |m| m.next_round.is_none_or(|t| t <= now)) == Some(true)
        };
        let busy = shards.states.iter().any(unsettled);
        let rounds_due =
            (1..=shards.map.num_shards()).any(|s| shards.state(s) == ShardState::Ready && due(s));
        if !busy && !rounds_due && !self.isolation_due(&shards) {
            return true;
        }
        let statuses = self.peers.statuses(&shards.map).await;
        for shard in 1..=shards.map.num_shards() {
            if shards.state(shard) != ShardState::NotHosted {
                let round = due(shard).then_some(Mode::Periodic);
                if let Err(why) = self.step_shard(&shards, &statuses, shard, round).await {
                    debug!(node = self.node.name(), shard, %why, "shard step incomplete");
                }
            }
        }
        !self.node.shards().states.iter().any(unsettled)
    }

    /// Whether some Ready shard may have to be isolated (checked without polling peers).
    fn isolation_due(&self, shards: &Shards) -> bool {
        let meta = self.node.meta.lock();
        (1..=shards.map.num_shards()).any(|s| {
            let m = meta.get(s as usize - 1);
            shards.state(s) == ShardState::Ready
                && m.and_then(|m| m.last_synced).is_some_and(|t| t.elapsed() > self.node.grace / 2)
        })
    }

    /// Decides and acts for one shard; runs a `round` of it if it is Ready and one is asked
    /// for (due, or a SYNC).
    async fn step_shard(
        self: &Arc<Self>,
        shards: &Shards,
        statuses: &HashMap<String, Option<NodeStatus>>,
        shard: u32,
        round: Option<Mode>,
    ) -> Result<u64, String> {
        let (replicas, others) = self.views(&shards.map, statuses, shard);
        let unsynced_for =
            self.node.with_meta(shard, |m| m.last_synced.map(|t| t.elapsed())).flatten();
        let view = View {
            own: shards.state(shard),
            replicas: &replicas,
            others: &others,
            unsynced_for,
            grace: self.node.grace,
        };
        match decide(&view) {
            Action::Keep if view.own == ShardState::Ready && round.is_some() => {
                let sources = sources(&replicas, &others);
                let mode = round.unwrap_or(Mode::Periodic);
                self.periodic(&shards.map, shard, &sources, !replicas.is_empty(), mode).await
            }
            Action::Keep => Ok(0),
            Action::Wait(why) => Err(self.waiting(shard, why)),
            Action::ReadyFresh => {
                info!(node = self.node.name(), shard, "shard ready (new cluster: no node held it)");
                self.set_ready(shard);
                Ok(0)
            }
            Action::Pull(sources) => self.copy(&shards.map, shard, &sources, false).await,
            Action::Resync(sources) => self.copy(&shards.map, shard, &sources, true).await,
            Action::Rejoin => {
                warn!(
                    node = self.node.name(),
                    shard, "shard rejoins: every replica lost touch; keeping the data held"
                );
                self.set_ready(shard);
                Ok(0)
            }
            Action::Isolate => {
                warn!(node = self.node.name(), shard, grace = ?self.node.grace,
                    "shard isolated: no peer reached for half the tombstone grace; \
                     it serves nothing until it has resynchronised");
                self.set_state(shard, ShardState::Isolated);
                Err("isolated".to_owned())
            }
            Action::Drop => self.drop_retired(&shards.map, shard).await,
        }
    }

    fn views(
        &self,
        map: &ShardMap,
        statuses: &HashMap<String, Option<NodeStatus>>,
        shard: u32,
    ) -> (PeerViews, PeerViews) {
        let me = self.node.name();
        let view = |name: &String| {
            (name.clone(), peer_view(statuses.get(name).and_then(Option::as_ref), shard))
        };
        let replicas: Vec<_> = map.replicas(shard).iter().filter(|n| *n != me).map(view).collect();
        let others = map
            .nodes()
            .map(|n| &n.name)
            .filter(|n| *n != me && !map.replicas(shard).contains(n))
            .map(view)
            .collect();
        (replicas, others)
    }

    /// A periodic round of a Ready shard with each source. The shard counts as in touch
    /// with its peers when a round with one of them completed (or it has no other replica).
    async fn periodic(
        self: &Arc<Self>,
        map: &ShardMap,
        shard: u32,
        sources: &[String],
        has_replicas: bool,
        mode: Mode,
    ) -> Result<u64, String> {
        let started = Instant::now();
        // Rounds with the peers run together, and each success counts on its own from when
        // its round began: a slow or paused peer neither delays the others nor makes the
        // shard look out of touch, and a round that spanned a pause of this process does
        // not make it look in touch.
        let rounds = sources.iter().map(|peer| async move {
            let (began, began_wall) = (Instant::now(), crate::version::wall_ms());
            let result = ae::round(self, map, peer, shard, mode).await;
            if result.is_ok() {
                self.node.with_meta(shard, |m| {
                    if m.last_synced.is_none_or(|t| t < began) {
                        m.last_synced = Some(began);
                        m.synced_wall_ms = began_wall;
                    }
                });
            }
            result
        });
        let results = join_all(rounds).await;
        let applied: u64 = results.iter().filter_map(|r| r.as_ref().ok()).map(|o| o.applied).sum();
        let failed: Vec<String> =
            results.iter().filter_map(|r| r.as_ref().err()).map(ToString::to_string).collect();
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        // At least eight rounds per tombstone grace, so a shard never isolates itself
        // between two rounds that would have succeeded.
        let interval = AE_INTERVAL.min(self.node.grace / 8);
        let next = Instant::now() + interval.mul_f64(jitter);
        self.node.with_meta(shard, |m| {
            m.next_round = Some(next);
            m.repaired += applied;
            if !has_replicas {
                m.last_synced = Some(started);
                m.synced_wall_ms = crate::version::wall_ms();
            }
            if failed.is_empty() {
                m.last_full = Some(started);
            }
        });
        if failed.is_empty() { Ok(applied) } else { Err(failed.join("; ")) }
    }

    /// Pulls all of `shard` from every source, then marks it Ready. For a resync of an
    /// isolated shard, this node's entries from before the isolation (its last sync, or a
    /// grace ago if that is later) that no source sent are dropped afterwards (their deletes
    /// were missed; the tombstones may be gone). Any source failing leaves the shard as it
    /// is, with nothing dropped.
    async fn copy(
        self: &Arc<Self>,
        map: &ShardMap,
        shard: u32,
        sources: &[String],
        resync: bool,
    ) -> Result<u64, String> {
        let mut applied = 0;
        let mut seen = std::collections::HashSet::new();
        for peer in sources {
            match ae::round(self, map, peer, shard, Mode::Full).await {
                Ok(out) => {
                    applied += out.applied;
                    seen.extend(out.seen);
                }
                Err(e) => return Err(self.waiting(shard, copy_failure(peer, &e))),
            }
        }
        if resync {
            let synced = self.node.with_meta(shard, |m| m.synced_wall_ms).unwrap_or(0);
            // Past the last sync, and older than a grace ago: a peer's tombstone of such a
            // key (deleted after this node last synced, while it was paused or cut off for
            // longer than the grace) may be gone. A younger entry no source sent was never
            // deleted: the tombstone would still be there.
            let grace_ms = u64::try_from(self.node.grace.as_millis()).unwrap_or(u64::MAX);
            let cutoff = synced.max(crate::version::wall_ms().saturating_sub(grace_ms));
            let dropped = self
                .remove_from_shard(map, shard, move |key, version| {
                    crate::version::millis_of(version) < cutoff
                        && !seen.contains(&super::digest::key_hash(key))
                })
                .await;
            info!(
                node = self.node.name(),
                shard, dropped, "dropped entries older than the isolation that no peer holds"
            );
        }
        let from = sources.join(",");
        info!(node = self.node.name(), shard, applied, from, "shard ready (copied)");
        self.set_ready(shard);
        Ok(applied)
    }

    /// Removes the entries of `shard` that `pick` (given key and version) picks, off the
    /// runtime's threads (a walk of the whole store).
    pub(super) async fn remove_from_shard(
        self: &Arc<Self>,
        map: &ShardMap,
        shard: u32,
        pick: impl Fn(&[u8], u64) -> bool + Send + 'static,
    ) -> usize {
        let (store, n) = (self.store.clone(), map.num_shards());
        let removed = tokio::task::spawn_blocking(move || {
            store.remove_matching(&|key, version| {
                crate::shardmap::shard_for_key(key, n) == shard && pick(key, version)
            })
        })
        .await
        .unwrap_or(0);
        self.node.invalidate_digests();
        removed
    }

    fn set_ready(&self, shard: u32) {
        self.node.with_meta(shard, |m| {
            m.last_synced = Some(Instant::now());
            m.last_full = Some(Instant::now());
            m.synced_wall_ms = crate::version::wall_ms();
            m.waiting = None;
        });
        self.set_state(shard, ShardState::Ready);
    }

    pub(super) fn set_state(&self, shard: u32, state: ShardState) {
        let mut s = (*self.node.shards()).clone();
        if let Some(slot) = s.states.get_mut(shard as usize - 1) {
            *slot = state;
        }
        self.node.publish(s);
    }

    /// Records why `shard` is not ready; logs it when the reason changes.
    fn waiting(&self, shard: u32, why: String) -> String {
        let changed = self.node.with_meta(shard, |m| {
            let changed = m.waiting.as_deref() != Some(why.as_str());
            m.waiting = Some(why.clone());
            changed
        });
        if changed == Some(true) {
            info!(node = self.node.name(), shard, %why, "shard not ready");
        }
        why
    }

    /// Runs one step of `shard` now (a SYNC request): a round with every source if it is
    /// Ready, else its lifecycle step. `Ok` with entries applied when the shard is Ready
    /// and every source was reached.
    pub async fn sync(self: &Arc<Self>, shard: u32) -> Result<u64, String> {
        let _step = self.step.lock().await;
        let shards = self.node.shards();
        let statuses = self.peers.statuses(&shards.map).await;
        let result = self.step_shard(&shards, &statuses, shard, Some(Mode::Exact)).await;
        match self.node.shards().state(shard) {
            ShardState::Ready => result,
            other => {
                Err(result.err().unwrap_or_else(|| format!("shard {shard} is {}", other.name())))
            }
        }
    }
}

/// Other nodes with what they reported of one shard.
type PeerViews = Vec<(String, Peer)>;

/// A shard's state after a map change: hosted shards keep their state or start Copying;
/// shards no longer hosted keep their data as Retiring.
fn next_state(was: ShardState, hosted: bool) -> ShardState {
    use ShardState::{Copying, Isolated, NotHosted, Ready, Retiring};
    match (was, hosted) {
        (NotHosted | Retiring, true) => Copying,
        (s @ (Ready | Copying | Isolated), true) => s,
        (Ready | Copying | Isolated | Retiring, false) => Retiring,
        (NotHosted, false) => NotHosted,
    }
}

/// The nodes a Ready shard's periodic round pulls from: its replicas that answered and are
/// not isolated, and retiring holders.
fn sources(replicas: &[(String, Peer)], others: &[(String, Peer)]) -> Vec<String> {
    let good = |p: &Peer| matches!(p, Peer::Up(s) if *s != ShardState::Isolated);
    let holds = |p: &Peer| matches!(p, Peer::Up(s) if s.holds_data());
    let mut out: Vec<String> =
        replicas.iter().filter(|(_, p)| good(p)).map(|(n, _)| n.clone()).collect();
    out.extend(others.iter().filter(|(_, p)| holds(p)).map(|(n, _)| n.clone()));
    out
}

fn copy_failure(peer: &str, e: &RoundError) -> String {
    format!("copy from {peer} failed: {e}")
}
