//! The shard's write paths: plain writes stamped by the store's clock, last-writer-wins
//! versioned writes, and deletes that may leave a tombstone. Whether a delete leaves one is the
//! caller's decision (it passes the tombstone in, built outside the lock).

use super::{Garbage, Shard};
use crate::store::SetCond;
use crate::store::draft::Draft;

/// How a plain write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Outcome {
    Written,
    /// The NX/XX condition failed.
    Skipped,
    /// Over budget under `NoEviction`, bigger than the whole budget, or the shard is full.
    OutOfMemory,
}

/// How a versioned (last-writer-wins) write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Put {
    /// Written; `replaced_live` says whether a live key was there before.
    Applied {
        replaced_live: bool,
    },
    /// The held entry wins: its version is newer, or equal with content that wins the tie.
    Stale {
        /// The held entry's version.
        held: u64,
    },
    OutOfMemory,
}

impl Shard {
    /// A version for a plain write: from the store's clock, and always newer than the one
    /// held, even if an absurd version was observed and the clock wrapped.
    pub(super) fn stamp(&self, held: u64) -> u64 {
        self.hlc.now().max(held.saturating_add(1))
    }

    /// Puts `draft` in place of the held entry for its key (`held`) or appends it, making
    /// room within the budget first. Tombstones skip the budget: deletes always work.
    /// `false` (with the draft's allocations in `g`) if it does not fit.
    pub(super) fn store(
        &mut self,
        mut held: Option<usize>,
        draft: Draft<'_>,
        now: u64,
        g: &mut Garbage,
    ) -> bool {
        if !draft.is_tombstone() && !self.admit(&mut held, draft.footprint(), now, g) {
            draft.discard(g);
            return false;
        }
        let stored = match held {
            Some(i) => self.replace_at(i, draft, g),
            None => self.insert_new(draft, g),
        };
        stored.map_err(|draft| draft.discard(g)).is_ok()
    }

    /// A plain write: stores `entry` with `deadline` (0 = none) if `cond` allows, stamped
    /// with a fresh version. Whatever it displaces goes to `g`.
    pub(in crate::store) fn set(
        &mut self,
        mut entry: Draft<'_>,
        deadline: u64,
        cond: SetCond,
        now: u64,
        g: &mut Garbage,
    ) -> Outcome {
        let held = self.find_held(entry.hash(), entry.key(), now);
        let live = held.filter(|&i| !self.entries[i].is_tombstone());
        if !cond.allows(live.is_some()) {
            entry.discard(g);
            return Outcome::Skipped;
        }
        entry.set_expiry(deadline);
        entry.set_version(self.stamp(held.map_or(0, |i| self.entries[i].version())));
        // An overwrite is a use of the key: keep its recently-used mark.
        entry.set_visited(live.is_some_and(|i| self.entries[i].is_visited()));
        if self.store(held, entry, now, g) { Outcome::Written } else { Outcome::OutOfMemory }
    }

    /// A last-writer-wins write of `entry` (a key or a tombstone, with its version and
    /// deadline set): applied iff its version is newer than the held entry's, or equal and
    /// its content wins the tie (see [`Shard::beats`]).
    pub(in crate::store) fn put_versioned(
        &mut self,
        mut entry: Draft<'_>,
        now: u64,
        g: &mut Garbage,
    ) -> Put {
        let held = self.find_held(entry.hash(), entry.key(), now);
        if !self.beats(&entry, held) {
            entry.discard(g);
            return Put::Stale { held: held.map_or(0, |i| self.entries[i].version()) };
        }
        let live = held.filter(|&i| !self.entries[i].is_tombstone());
        let replaced_live = live.is_some();
        if !entry.is_tombstone() {
            entry.set_visited(live.is_some_and(|i| self.entries[i].is_visited()));
        }
        if self.store(held, entry, now, g) {
            Put::Applied { replaced_live }
        } else {
            Put::OutOfMemory
        }
    }

    /// Whether `entry` replaces the held entry `held` under last-writer-wins. Versions
    /// decide; at equal versions (two writers that happened to share a version) the content
    /// decides the same way on every replica: a value beats a tombstone, and of two values
    /// the bytewise greater wins. Identical content is the same write: stale. Version 0
    /// never applies.
    fn beats(&self, entry: &Draft<'_>, held: Option<usize>) -> bool {
        let Some(i) = held else { return entry.version() > 0 };
        let old = &self.entries[i];
        match entry.version().cmp(&old.version()) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => match (entry.is_tombstone(), old.is_tombstone()) {
                (true, _) => false,
                (false, true) => true,
                (false, false) => entry.value_bytes() > old.value_slice(&self.slab),
            },
        }
    }

    /// A plain delete of the live `key` if `cond` allows: replaced by `tomb` (stamped with a
    /// fresh version) if given, else removed. `None` if `cond` failed, else whether a live key
    /// was deleted. An absent key gets no tombstone.
    pub(in crate::store) fn delete(
        &mut self,
        hash: u32,
        key: &[u8],
        cond: SetCond,
        tomb: Option<Draft<'_>>,
        now: u64,
        g: &mut Garbage,
    ) -> Option<bool> {
        let live = self.find_live(hash, key, now);
        let allowed = cond.allows(live.is_some());
        let (Some(i), true) = (live, allowed) else {
            if let Some(t) = tomb {
                t.discard(g);
            }
            return allowed.then_some(false);
        };
        match tomb {
            Some(mut t) => {
                t.set_version(self.stamp(self.entries[i].version()));
                if let Err(t) = self.replace_at(i, t, g) {
                    // The slab had no room for the tombstone: delete without one.
                    t.discard(g);
                    self.remove_at(i, g);
                }
            }
            None => {
                self.remove_at(i, g);
            }
        }
        Some(true)
    }

    /// Replaces the deadline of a live key (`0` persists it), stamping a fresh version if it
    /// changed. Returns the old deadline (`0` = none) if the key was live.
    pub(in crate::store) fn set_expiry(
        &mut self,
        hash: u32,
        key: &[u8],
        deadline: u64,
        now: u64,
    ) -> Option<u64> {
        let i = self.find_live(hash, key, now)?;
        let old = self.entries[i].expires_at();
        if old != deadline {
            let version = self.stamp(self.entries[i].version());
            self.redeadline(i, deadline);
            self.entries[i].set_version(version);
        }
        Some(old)
    }
}
