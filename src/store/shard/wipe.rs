//! Emptying a shard whose every entry has expired in one step, and knowing when that will be.
//!
//! Why: a mass expiry (a cache filled at once with one TTL) otherwise costs the sweeper a
//! removal per key under the shard's lock (two table probes and a slab free, ~0.2 us), and
//! on a machine whose cores are all busy the scheduler preempts the sweeper while it holds
//! the lock: every request to that stripe, and the worker thread serving it, waits for the
//! sweeper to run again (0.5-3 ms at a time, measured). A shard that only holds expired
//! entries is instead swapped for an empty one in O(1) under the lock, and its storage is
//! freed after unlocking, where a preemption stalls nobody.
//!
//! To know that every entry has expired without looking at each, a shard keeps bounds on
//! its entries' deadlines ([`Deadlines`]), and whether any entry has none, widened by every
//! entry it adds and every deadline it changes, and reset only when the shard is empty. They
//! are conservative: removals and overwrites never narrow them, so "all expired" can be
//! missed but never wrongly found, and neither can "none expired yet" (which lets the sweep
//! skip the shard, `scan.rs`).

use super::{Garbage, Shard, Trash};

/// Bounds on the deadlines of a shard's entries since it was last empty, in store-clock
/// nanoseconds, and whether any entry had none (it never expires: no clock reading, even a
/// saturated one, reaches it). With no entry noted, `earliest > latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) struct Deadlines {
    earliest: u64,
    latest: u64,
    forever: bool,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self { earliest: u64::MAX, latest: 0, forever: false }
    }
}

impl Deadlines {
    /// Widens the bounds to cover an entry with `deadline` (`0` = none).
    #[inline]
    pub(super) fn note(&mut self, deadline: u64) {
        if deadline == 0 {
            self.forever = true;
        } else {
            self.earliest = self.earliest.min(deadline);
            self.latest = self.latest.max(deadline);
        }
    }

    /// Whether every entry noted has expired at `now` (as `Entry::is_expired` decides).
    fn all_expired(&self, now: u64) -> bool {
        !self.forever && self.latest <= now
    }

    /// Whether no entry noted can have expired at `now`: all deadlines lie after it.
    pub(super) fn none_expired(&self, now: u64) -> bool {
        now < self.earliest
    }

    /// Whether the bounds cover an entry with `deadline` (for invariant checks).
    #[cfg(test)]
    pub(super) fn covers(&self, deadline: u64) -> bool {
        match deadline {
            0 => self.forever,
            d => (self.earliest..=self.latest).contains(&d),
        }
    }
}

/// Shards with fewer entries are never left for a later wipe: walking them is cheap.
pub(super) const WIPE_WAIT_MIN: usize = 1024;

impl Shard {
    /// If every entry has expired by `now`, empties the shard into `g` (freed after
    /// unlocking) and returns how many entries (keys and tombstones) it held.
    pub(in crate::store) fn wipe_expired(&mut self, now: u64, g: &mut Garbage) -> Option<usize> {
        let held = self.entries.len();
        if held == 0 || !self.deadlines.all_expired(now) {
            return None;
        }
        self.counters.expired += self.len() as u64;
        let storage = self.take_all();
        g.push(Trash::Table(Box::new(storage)));
        Some(held)
    }

    /// When (store-clock nanoseconds) this shard can be wiped whole, if that is worth waiting
    /// for: it holds at least [`WIPE_WAIT_MIN`] entries, not all expired yet, and all will
    /// have expired within `span` of `now` and of its earliest deadline, so no expired key
    /// waits longer than `span` to be reclaimed.
    pub(in crate::store) fn wipe_due(&self, now: u64, span: u64) -> Option<u64> {
        let Deadlines { earliest, latest, forever } = self.deadlines;
        let from = earliest.min(now);
        let worth = self.entries.len() >= WIPE_WAIT_MIN && !forever && latest > now;
        (worth && latest - from <= span).then_some(latest)
    }
}
