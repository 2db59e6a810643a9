//! One shard of the store: a dense entry vector, an index table over it, its sweep cursor and
//! its counters. Everything here runs under the shard's mutex, which [`super::Store`] owns.
//!
//! ```text
//! table: HashTable<u32>          entries: Vec<Entry>
//! +----+----+----+----+          +-----------------------------------------+
//! |  2 |    |  0 |  1 |  ---->   | 0: data(key[+value]) | deadline | hash  |
//! +----+----+----+----+          | 1: ...                                  |
//!  (4 bytes + 1 control byte     | 2: ...                                  |
//!   per slot, no key copy)       +-----------------------------------------+
//! ```
//!
//! The key lives once, in `entries`; the table only holds indices and compares through a
//! closure that looks the key up, rehashing from each entry's stored 32-bit hash. Dense
//! entries let the sweeper walk a shard by index with a plain cursor. Removal is
//! `swap_remove`, then the moved entry's table slot is repointed.
//!
//! This module does not pick shards or read clocks, and writes never allocate key or value
//! storage here: the store builds entries before locking and frees what comes back (replaced,
//! rejected or swept entries) after unlocking. Reads copy small inline values under the lock.

use std::time::Duration;

use bytes::Bytes;
use hashbrown::HashTable;

use super::entry::{Entry, Expiry, table_hash};
use super::{SetCond, SweepProgress, TtlState};

/// Shards whose entry vector is at least this big are shrunk when they fall under a quarter
/// full at the end of a sweep pass; smaller ones are not worth the reallocation.
const SHRINK_MIN_CAPACITY: usize = 1024;

/// Per-shard counters; they live under the shard mutex so no atomics are contended.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counters {
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) expired: u64,
    pub(super) used: usize,
}

/// A shard's contents. Invariant: `table` holds exactly the indices `0..entries.len()`, each
/// under the table hash of the entry at that index. Indices fit in `u32` because
/// [`Shard::set`] refuses to grow past `u32::MAX` entries.
#[derive(Default)]
pub(super) struct Shard {
    entries: Vec<Entry>,
    table: HashTable<u32>,
    cursor: usize,
    pub(super) counters: Counters,
}

impl Shard {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    fn find(&self, hash: u32, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.table
            .find(table_hash(hash), |&i| {
                let e = &entries[i as usize];
                e.hash() == hash && e.key() == key
            })
            .map(|&i| i as usize)
    }

    /// Index of the live entry for `key`; an expired one is removed on the spot and counted.
    fn find_live(&mut self, hash: u32, key: &[u8], now: u64) -> Option<usize> {
        let i = self.find(hash, key)?;
        if self.entries[i].is_expired(now) {
            self.remove_at(i);
            self.counters.expired += 1;
            return None;
        }
        Some(i)
    }

    /// Removes the entry at `i`, keeping the table invariant.
    fn remove_at(&mut self, i: usize) -> Entry {
        let hash = table_hash(self.entries[i].hash());
        if let Ok(slot) = self.table.find_entry(hash, |&x| x as usize == i) {
            slot.remove();
        }
        let entry = self.entries.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            // The former last entry now sits at `i`; repoint its table slot. Both indices are
            // below the old length, which fits in u32 (see the struct invariant).
            let old = self.entries.len() as u32;
            if let Some(slot) = self.table.find_mut(table_hash(moved.hash()), |&x| x == old) {
                *slot = i as u32;
            }
        }
        self.counters.used = self.counters.used.saturating_sub(entry.footprint());
        entry
    }

    /// Appends a new entry; gives it back if the shard already holds `u32::MAX` entries.
    fn insert_new(&mut self, entry: Entry) -> Result<(), Entry> {
        let Ok(index) = u32::try_from(self.entries.len()) else {
            return Err(entry);
        };
        let hash = table_hash(entry.hash());
        self.counters.used += entry.footprint();
        self.entries.push(entry);
        let entries = &self.entries;
        self.table.insert_unique(hash, index, |&i| table_hash(entries[i as usize].hash()));
        Ok(())
    }

    pub(super) fn get(&mut self, hash: u32, key: &[u8], now: u64) -> Option<Bytes> {
        match self.find_live(hash, key, now) {
            Some(i) => {
                self.counters.hits += 1;
                Some(self.entries[i].value())
            }
            None => {
                self.counters.misses += 1;
                None
            }
        }
    }

    pub(super) fn exists(&mut self, hash: u32, key: &[u8], now: u64) -> bool {
        self.find_live(hash, key, now).is_some()
    }

    /// Stores `entry` if `cond` allows. Returns whether it wrote, and whatever entry is left
    /// over (the replaced one, or `entry` itself if unused) so the caller frees it unlocked.
    pub(super) fn set(
        &mut self,
        mut entry: Entry,
        expiry: Expiry,
        cond: SetCond,
        now: u64,
    ) -> (bool, Option<Entry>) {
        let found = self.find_live(entry.hash(), entry.key(), now);
        let allowed = match cond {
            SetCond::Always => true,
            SetCond::IfAbsent => found.is_none(),
            SetCond::IfPresent => found.is_some(),
        };
        if !allowed {
            return (false, Some(entry));
        }
        match expiry {
            Expiry::Never => {}
            Expiry::At(at) => entry.set_expiry(at),
            Expiry::Now => return (true, found.map(|i| self.remove_at(i))),
        }
        match found {
            // Same key, same hash: the table slot stays valid.
            Some(i) => {
                let used = self.counters.used.saturating_sub(self.entries[i].footprint());
                self.counters.used = used + entry.footprint();
                (true, Some(std::mem::replace(&mut self.entries[i], entry)))
            }
            None => match self.insert_new(entry) {
                Ok(()) => (true, None),
                Err(entry) => (false, Some(entry)),
            },
        }
    }

    /// Removes a live key; an expired one is reclaimed and counted but reported as absent.
    pub(super) fn remove_live(&mut self, hash: u32, key: &[u8], now: u64) -> Option<Entry> {
        let i = self.find_live(hash, key, now)?;
        Some(self.remove_at(i))
    }

    pub(super) fn ttl(&mut self, hash: u32, key: &[u8], now: u64) -> TtlState {
        match self.find_live(hash, key, now) {
            None => TtlState::Missing,
            Some(i) => match self.entries[i].expires_at() {
                0 => TtlState::Persistent,
                // Live means now < at, so the subtraction cannot underflow.
                at => TtlState::Expires(Duration::from_nanos(at - now)),
            },
        }
    }

    /// Replaces the deadline of a live key. `Expiry::Now` deletes it; `Expiry::Never`
    /// persists it. Returns the old deadline (`0` = none) if the key was live.
    pub(super) fn set_expiry(
        &mut self,
        hash: u32,
        key: &[u8],
        expiry: Expiry,
        now: u64,
    ) -> Option<u64> {
        let i = self.find_live(hash, key, now)?;
        let old = self.entries[i].expires_at();
        match expiry {
            Expiry::Now => drop(self.remove_at(i)),
            Expiry::Never => self.entries[i].set_expiry(0),
            Expiry::At(at) => self.entries[i].set_expiry(at),
        }
        Some(old)
    }

    /// Empties the shard, handing the old storage back so it is freed outside the lock.
    pub(super) fn take_all(&mut self) -> (Vec<Entry>, HashTable<u32>) {
        self.cursor = 0;
        self.counters.used = 0;
        (std::mem::take(&mut self.entries), std::mem::take(&mut self.table))
    }

    /// Inspects at most `max` entries (at least 1) from the cursor, moving expired ones into
    /// `garbage` so they are freed outside the lock.
    pub(super) fn sweep_chunk(
        &mut self,
        now: u64,
        max: usize,
        garbage: &mut Vec<Entry>,
    ) -> SweepProgress {
        let max = max.max(1);
        let mut progress = SweepProgress::default();
        while progress.inspected < max && self.cursor < self.entries.len() {
            progress.inspected += 1;
            if self.entries[self.cursor].is_expired(now) {
                garbage.push(self.remove_at(self.cursor));
                self.counters.expired += 1;
                progress.reclaimed += 1;
                // swap_remove put the last entry in this slot: inspect it next, same cursor.
            } else {
                self.cursor += 1;
            }
        }
        if self.cursor >= self.entries.len() {
            self.cursor = 0;
            progress.pass_complete = true;
            self.maybe_shrink();
        }
        progress
    }

    /// Restarts the sweep cursor at the first entry.
    pub(super) fn rewind(&mut self) {
        self.cursor = 0;
    }

    /// Gives memory back after mass deletion/expiry. Hysteresis (shrink below 1/4, to 1/2)
    /// keeps this amortised O(1) per removal.
    fn maybe_shrink(&mut self) {
        let len = self.entries.len();
        if self.entries.capacity() < SHRINK_MIN_CAPACITY || len * 4 >= self.entries.capacity() {
            return;
        }
        self.entries.shrink_to(len * 2);
        let entries = &self.entries;
        self.table.shrink_to(len * 2, |&i| table_hash(entries[i as usize].hash()));
    }

    /// Checks the table/entries invariant and the memory counter (tests only).
    #[cfg(test)]
    pub(super) fn check_invariants(&self) {
        assert_eq!(self.table.len(), self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            assert_eq!(self.find(e.hash(), e.key()), Some(i), "entry {i} not indexed");
        }
        let used: usize = self.entries.iter().map(Entry::footprint).sum();
        assert_eq!(self.counters.used, used);
    }
}
