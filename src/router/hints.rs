//! Hinted handoff: writes a replica missed, queued per node and replayed when it is back,
//! plus which shards of the node are stale (hints were lost, or the router just started) and
//! which keys still have a write in flight to it. Hints' keys and values are copied into
//! the node's [`HintLog`] (chunks freed whole once replayed), so their memory cap counts
//! real bytes and the memory goes back once they are replayed. The request path asks [`Hints::readable`] with two relaxed
//! loads when nothing is pending; the lock is taken only while something is.
//!
//! A node is readable for a key only when it has no hints queued, the key's shard is not
//! stale, and no write of that key to it is still settling. So a client always reads its
//! own acknowledged write, and a node serves reads again only after its hints are in.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;

pub use super::hintlog::Hint;
use super::hintlog::HintLog;

/// Most hints queued for one node.
pub const MAX_HINTS_PER_NODE: usize = 100_000;
/// Most hint bytes (keys + values + overhead) queued for one node.
pub const MAX_HINT_BYTES_PER_NODE: usize = 64 * 1024 * 1024;
/// Oldest a hint may get; older ones are dropped and their shard marked stale.
pub const MAX_HINT_AGE: Duration = Duration::from_secs(600);
/// Bounds of one node's hint queue; past them hints are dropped and their shard marked
/// stale (resynchronised with SYNC once the node is back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintLimits {
    /// Most hints queued.
    pub max_hints: usize,
    /// Most hint bytes queued.
    pub max_bytes: usize,
    /// Oldest a hint may get.
    pub max_age: Duration,
}

impl Default for HintLimits {
    fn default() -> Self {
        Self {
            max_hints: MAX_HINTS_PER_NODE,
            max_bytes: MAX_HINT_BYTES_PER_NODE,
            max_age: MAX_HINT_AGE,
        }
    }
}

/// A hint ready to send: a versioned SET with its remaining TTL, or a versioned DEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The hint (kept so it can be requeued).
    pub hint: Hint,
    /// `Some(ttl_ms)` (0 = none) for a SET, `None` for a DEL.
    pub set_ttl_ms: Option<u64>,
}

#[derive(Debug, Default)]
struct Queue {
    /// Hints put back after a failed replay: sent again before the log's.
    retry: VecDeque<Hint>,
    log: HintLog,
    /// Hints taken for a replay that has not finished: until it has, the node may still be
    /// missing those writes.
    replaying: usize,
    stale: BTreeSet<u32>,
    settling: HashMap<Bytes, u32>,
}

/// One node's hints, stale shards and settling keys.
#[derive(Debug, Default)]
pub struct Hints {
    limits: HintLimits,
    queue: Mutex<Queue>,
    /// Hints queued + stale shards + settling keys: zero means "nothing to check".
    pending: AtomicUsize,
    hinted: AtomicUsize,
    dropped: AtomicUsize,
    replayed: AtomicUsize,
}

impl Hints {
    /// An empty queue with these bounds.
    pub fn new(limits: HintLimits) -> Self {
        Self { limits, ..Self::default() }
    }

    /// Whether reads of `key` (in `shard`) may go to this node.
    pub fn readable(&self, shard: u32, key: &[u8]) -> bool {
        if self.pending.load(Ordering::Acquire) == 0 {
            return true;
        }
        let q = self.queue.lock();
        q.is_drained() && !q.stale.contains(&shard) && !q.settling.contains_key(key)
    }

    /// Queues a missed write (copying its key and value, never keeping a slice of a client's
    /// buffer); past the bounds the hint is dropped and its shard marked stale (to be
    /// repaired by a SYNC).
    pub fn push(
        &self,
        shard: u32,
        key: &[u8],
        value: Option<&[u8]>,
        ttl: Option<Duration>,
        version: u64,
    ) {
        self.push_outcome(shard, (key, value, &[]), ttl, version);
    }

    /// [`Hints::push`] of a write that may be a read-modify-write's outcome: `ids` (the
    /// commands whose effect it holds) are replayed with it.
    pub fn push_outcome(
        &self,
        shard: u32,
        (key, value, ids): (&[u8], Option<&[u8]>, &[u64]),
        ttl: Option<Duration>,
        version: u64,
    ) {
        let mut q = self.queue.lock();
        self.hinted.fetch_add(1, Ordering::Relaxed);
        let l = &self.limits;
        let bytes = q.log.bytes() + q.log.cost(key, value, ids);
        if q.log.len() + q.retry.len() >= l.max_hints || bytes > l.max_bytes {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            q.stale.insert(shard);
        } else {
            let expires = ttl.map(|t| Instant::now() + t);
            q.log.push(shard, (key, value, ids), expires, version);
        }
        self.sync_pending(&q);
    }

    /// Takes up to `n` hints to replay, oldest first. Hints past [`MAX_HINT_AGE`] are
    /// dropped (their shard goes stale); a SET whose value has expired is replayed as a
    /// DEL at the same version, which is exactly the state the key should be in.
    pub fn take(&self, n: usize, now: Instant) -> Vec<Replay> {
        let mut q = self.queue.lock();
        let mut out = Vec::with_capacity(n.min(q.log.len() + q.retry.len()));
        while out.len() < n {
            let Some(hint) = q.retry.pop_front().or_else(|| q.log.pop()) else {
                break;
            };
            if now.saturating_duration_since(hint.queued) > self.limits.max_age {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                q.stale.insert(hint.shard);
                continue;
            }
            let set_ttl_ms = match (&hint.value, hint.expires) {
                (None, _) => None,
                (Some(_), None) => Some(0),
                (Some(_), Some(at)) if at <= now => None,
                (Some(_), Some(at)) => Some(ms_ceil(at - now)),
            };
            out.push(Replay { hint, set_ttl_ms });
        }
        if q.retry.is_empty() {
            q.retry = VecDeque::new();
        }
        q.replaying += out.len();
        self.sync_pending(&q);
        out
    }

    /// A replay of `n` taken hints finished (delivered, or put back with [`Hints::requeue`]
    /// first).
    pub fn replay_done(&self, n: usize) {
        let mut q = self.queue.lock();
        q.replaying = q.replaying.saturating_sub(n);
        self.sync_pending(&q);
    }

    /// Puts back hints that could not be delivered, in their original order.
    pub fn requeue(&self, failed: Vec<Replay>) {
        let mut q = self.queue.lock();
        for r in failed.into_iter().rev() {
            q.retry.push_front(r.hint);
        }
        self.sync_pending(&q);
    }

    /// Hints queued.
    pub fn len(&self) -> usize {
        let q = self.queue.lock();
        q.log.len() + q.retry.len()
    }

    /// Bytes the queued hints hold.
    pub fn bytes(&self) -> usize {
        self.queue.lock().log.bytes()
    }

    /// Whether no hint is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Shards whose hints were lost, in order.
    pub fn stale_shards(&self) -> Vec<u32> {
        self.queue.lock().stale.iter().copied().collect()
    }

    /// Marks `shard` stale: the node may be missing writes of it (hints were lost, or a
    /// router just started and cannot know what its predecessor failed to deliver). No read
    /// of the shard goes to the node until a SYNC of it there succeeds.
    pub fn mark_stale(&self, shard: u32) {
        let mut q = self.queue.lock();
        q.stale.insert(shard);
        self.sync_pending(&q);
    }

    /// A SYNC brought `shard` up to date.
    pub fn clear_stale(&self, shard: u32) {
        let mut q = self.queue.lock();
        q.stale.remove(&shard);
        self.sync_pending(&q);
    }

    /// A write of `key` to this node is still completing after the client was answered.
    pub fn settle_begin(&self, key: &Bytes) {
        let mut q = self.queue.lock();
        *q.settling.entry(key.clone()).or_insert(0) += 1;
        self.sync_pending(&q);
    }

    /// That write completed (acked, or turned into a hint).
    pub fn settle_end(&self, key: &Bytes) {
        let mut q = self.queue.lock();
        if let Some(n) = q.settling.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                q.settling.remove(key);
                let (len, cap) = (q.settling.len(), q.settling.capacity());
                if cap > 1024 && len < cap / 4 {
                    q.settling.shrink_to(len * 2);
                }
            }
        }
        self.sync_pending(&q);
    }

    /// (hints queued ever, hints dropped ever) for STATS.
    pub fn counters(&self) -> (usize, usize) {
        (self.hinted.load(Ordering::Relaxed), self.dropped.load(Ordering::Relaxed))
    }

    /// `n` hints taken with [`Hints::take`] reached the node.
    pub fn delivered(&self, n: usize) {
        self.replayed.fetch_add(n, Ordering::Relaxed);
    }

    /// Hints delivered to the node since start.
    pub fn replayed(&self) -> usize {
        self.replayed.load(Ordering::Relaxed)
    }

    fn sync_pending(&self, q: &Queue) {
        let hints = q.log.len() + q.retry.len() + q.replaying;
        self.pending.store(hints + q.stale.len() + q.settling.len(), Ordering::Release);
    }
}

impl Queue {
    fn is_drained(&self) -> bool {
        self.log.is_empty() && self.retry.is_empty() && self.replaying == 0
    }
}

fn ms_ceil(d: Duration) -> u64 {
    u64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(h: &Hints, key: &str, value: Option<&str>, ttl: Option<Duration>) {
        h.push(1, key.as_bytes(), value.map(str::as_bytes), ttl, 7);
    }

    #[test]
    fn pending_hints_make_the_node_unreadable_until_taken() {
        let h = Hints::default();
        assert!(h.readable(1, b"k"));
        push(&h, "k", Some("v"), None);
        assert!(!h.readable(1, b"other"), "no reads at all while hints are queued");
        let batch = h.take(10, Instant::now());
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].set_ttl_ms, Some(0));
        assert!(!h.readable(1, b"k"), "not while the replay is in flight");
        h.replay_done(batch.len());
        assert!(h.readable(1, b"k"));
    }

    #[test]
    fn requeue_keeps_order() {
        let h = Hints::default();
        push(&h, "a", Some("1"), None);
        push(&h, "b", None, None);
        let batch = h.take(10, Instant::now());
        h.requeue(batch);
        let again: Vec<_> = h.take(10, Instant::now()).into_iter().map(|r| r.hint.key).collect();
        assert_eq!(again, [Bytes::from_static(b"a"), Bytes::from_static(b"b")]);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_values_replay_as_deletes_and_old_hints_go_stale() {
        let h = Hints::default();
        push(&h, "ttl", Some("v"), Some(Duration::from_secs(1)));
        push(&h, "later", Some("v"), Some(Duration::from_secs(100)));
        tokio::time::advance(Duration::from_secs(2)).await;
        let batch = h.take(10, Instant::now());
        assert_eq!(batch[0].set_ttl_ms, None, "expired SET becomes a DEL");
        assert_eq!(batch[1].set_ttl_ms, Some(98_000));
        h.replay_done(batch.len());
        push(&h, "old", Some("v"), None);
        tokio::time::advance(MAX_HINT_AGE + Duration::from_secs(1)).await;
        assert!(h.take(10, Instant::now()).is_empty());
        assert_eq!(h.stale_shards(), [1]);
        assert!(!h.readable(1, b"x") && h.readable(2, b"x"));
        h.clear_stale(1);
        assert!(h.readable(1, b"x"));
    }

    #[test]
    fn overflow_drops_and_marks_stale() {
        let h = Hints::default();
        for _ in 0..MAX_HINTS_PER_NODE + 1 {
            push(&h, "k", Some("v"), None);
        }
        assert_eq!(h.len(), MAX_HINTS_PER_NODE);
        assert_eq!(h.stale_shards(), [1]);
        assert_eq!(h.counters().1, 1);
    }

    #[test]
    fn settling_keys_are_unreadable_only_for_that_key() {
        let h = Hints::default();
        let k = Bytes::from_static(b"k");
        h.settle_begin(&k);
        assert!(!h.readable(1, b"k"));
        assert!(h.readable(1, b"j"));
        h.settle_end(&k);
        assert!(h.readable(1, b"k"));
    }
}
