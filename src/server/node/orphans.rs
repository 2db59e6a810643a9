//! Outcomes a crashed coordinator left on their way: a node that took over a shard from a
//! peer it could not fence (a crash: the peer's state died with it) may still receive that
//! peer's last outcomes, written late by a router (a slow link) or replayed from a hint.
//! Once this node has run a read-modify-write over a key, such a late write of the key can
//! no longer be applied (this node's newer outcome wins) and was not part of what the
//! command computed over: the client it was answered to would hold an increment the
//! replicas lost. This module tells that case apart, so the write is refused with
//! SUPERSEDED and the router runs the command again, instead of a silent STALE.
//!
//! For [`ORPHAN_WINDOW`] after such a takeover, the shard's window records, for each key
//! this node then runs an RMW over, the version the key held just before (its *base*). A
//! versioned write that loses (STALE) with a version above the key's base was never under
//! this node's outcome: it is superseded. Noting a base and applying a versioned write
//! take the window's lock, so a write lands either before the base is read (it is part of
//! the base) or after (it is judged against it).
//!
//! Bounded: at most [`ORPHAN_KEYS_MAX`] bases per shard. Past that, keys run over without a
//! noted base answer STALE as before the window existed; the overflow is counted and
//! logged, since a late outcome of such a key would be lost unseen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use tokio::time::Instant;

/// How long after a takeover from a crashed peer late outcomes are told apart: longer than
/// a router's write timeouts and its first hint replays.
pub const ORPHAN_WINDOW: Duration = Duration::from_secs(30);
/// Most keys one shard's window notes a base for.
pub const ORPHAN_KEYS_MAX: usize = 100_000;

/// One shard's record since a takeover from a crashed peer.
#[derive(Debug)]
pub struct Window {
    /// This node's clock when it took over: every outcome of the crashed peer is at or
    /// below it, every one of this node's since then above it.
    horizon: u64,
    until: Instant,
    bases: HashMap<Bytes, u64>,
    overflowed: bool,
}

/// What a losing versioned write is, judged by a shard's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Late {
    /// Older than what the key held when this node first ran an RMW over it (or the key
    /// was not run over): an ordinary STALE.
    Stale,
    /// A crashed coordinator's outcome this node computed past without: refused.
    Superseded {
        /// The version the key held when this node first ran an RMW over it.
        base: u64,
    },
}

impl Window {
    /// Notes the version `key` holds (`None`: absent) before this node's first RMW over it.
    /// Returns `false` the first time the window is full.
    pub fn note(&mut self, key: &Bytes, held: Option<u64>) -> bool {
        if self.bases.contains_key(key) {
            return true;
        }
        if self.bases.len() >= ORPHAN_KEYS_MAX {
            let first = !self.overflowed;
            self.overflowed = true;
            return !first;
        }
        self.bases.insert(key.clone(), held.unwrap_or(0));
        true
    }

    /// Judges a versioned write of `key` at `version` that lost to what the key holds.
    pub fn judge(&self, key: &[u8], version: u64) -> Late {
        match self.bases.get(key) {
            Some(&base) if version > base && version <= self.horizon => Late::Superseded { base },
            _ => Late::Stale,
        }
    }
}

/// Every shard's window on one node.
#[derive(Debug)]
pub struct Orphans {
    slots: Vec<Mutex<Option<Window>>>,
    start: Instant,
    /// When the last window to end ends, in ms since `start`: every versioned write and
    /// RMW asks, and outside a window it is all they pay.
    last_until_ms: AtomicU64,
}

impl Orphans {
    /// No window open, for shards `1..=shards`.
    pub fn new(shards: u32) -> Self {
        Self {
            slots: (0..shards).map(|_| Mutex::new(None)).collect(),
            start: Instant::now(),
            last_until_ms: AtomicU64::new(0),
        }
    }

    fn ms_since_start(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether some shard may have a window open now.
    pub fn any_open(&self) -> bool {
        self.ms_since_start(Instant::now()) < self.last_until_ms.load(Ordering::Acquire)
    }

    fn slot(&self, shard: u32) -> Option<&Mutex<Option<Window>>> {
        self.slots.get(usize::try_from(shard).ok()?.checked_sub(1)?)
    }

    /// Opens (or extends) `shard`'s window: this node took over from a crashed peer, with
    /// its clock at `horizon`. Bases noted by an earlier window stay true and are kept.
    pub fn open(&self, shard: u32, horizon: u64) {
        let Some(slot) = self.slot(shard) else { return };
        let until = Instant::now() + ORPHAN_WINDOW;
        self.last_until_ms.fetch_max(self.ms_since_start(until) + 1, Ordering::AcqRel);
        let mut w = slot.lock();
        match &mut *w {
            Some(w) => {
                w.horizon = w.horizon.max(horizon);
                w.until = until;
            }
            None => {
                *w = Some(Window { horizon, until, bases: HashMap::new(), overflowed: false });
            }
        }
    }

    /// `shard`'s open window, locked; `None` when there is none (closing one that ended).
    pub fn window(&self, shard: u32) -> Option<MutexGuard<'_, Option<Window>>> {
        if !self.any_open() {
            return None;
        }
        let mut w = self.slot(shard)?.lock();
        match &*w {
            Some(open) if Instant::now() < open.until => Some(w),
            Some(_) => {
                *w = None;
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Bytes {
        Bytes::copy_from_slice(k.as_bytes())
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_write_above_the_base_of_a_key_run_over_is_superseded() {
        let o = Orphans::new(2);
        assert!(o.window(1).is_none() && !o.any_open(), "no window before a takeover");
        o.open(1, 100);
        assert!(o.any_open());
        {
            let mut g = o.window(1).unwrap();
            let w = g.as_mut().unwrap();
            assert!(w.note(&key("k"), Some(40)));
            assert!(w.note(&key("k"), Some(120)), "the first base stays");
            assert!(w.note(&key("new"), None));
            assert_eq!(w.judge(b"k", 50), Late::Superseded { base: 40 });
            assert_eq!(w.judge(b"k", 40), Late::Stale, "the base itself was computed over");
            assert_eq!(w.judge(b"k", 30), Late::Stale);
            assert_eq!(w.judge(b"k", 101), Late::Stale, "above the horizon: not the dead peer's");
            assert_eq!(w.judge(b"new", 7), Late::Superseded { base: 0 });
            assert_eq!(w.judge(b"other", 50), Late::Stale, "a key not run over");
        }
        assert!(o.window(2).is_none(), "other shards have none");
        tokio::time::advance(ORPHAN_WINDOW + Duration::from_millis(2)).await;
        assert!(o.window(1).is_none() && !o.any_open(), "the window ends");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_window_says_so_once_and_a_second_takeover_keeps_the_bases() {
        let o = Orphans::new(1);
        o.open(1, 10);
        {
            let mut g = o.window(1).unwrap();
            let w = g.as_mut().unwrap();
            for i in 0..ORPHAN_KEYS_MAX {
                assert!(w.note(&key(&i.to_string()), Some(1)));
            }
            assert!(!w.note(&key("one more"), Some(1)), "the first overflow is reported");
            assert!(w.note(&key("two more"), Some(1)), "once");
            assert_eq!(w.judge(b"one more", 5), Late::Stale);
        }
        tokio::time::advance(ORPHAN_WINDOW / 2).await;
        o.open(1, 20);
        tokio::time::advance(ORPHAN_WINDOW * 3 / 4).await;
        let g = o.window(1).expect("extended by the second takeover");
        assert_eq!(g.as_ref().unwrap().judge(b"0", 15), Late::Superseded { base: 1 });
    }
}
