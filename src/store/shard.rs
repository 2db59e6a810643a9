//! One shard of the store: a dense entry vector (in chunks, `paged.rs`), an index table over
//! it, the slab holding the entries' bytes, its sweep cursor, its eviction hand and its
//! counters. Everything here runs under the shard's mutex, which [`super::Store`] owns. This
//! file holds the structure, its bookkeeping and the reads; `shard/write.rs` the writes,
//! `shard/evict.rs` memory admission and eviction, and `shard/scan.rs` the index walks
//! (sweep, dump, bulk removal). The slab's internals are in `slab.rs`.
//!
//! ```text
//! table: HashTable<u32>          entries: Paged<Entry> (24 B each)   slab (per size class)
//! +----+----+----+----+          +------------------------------+    +------------------+
//! |  2 |    |  0 |  1 |  ---->   | 0: deadline|version|meta|slot | -> | key[+value] slot |
//! +----+----+----+----+          | 1: ...                       |    | ...              |
//!  (4 bytes + 1 control byte     | 2: ...                       |    +------------------+
//!   per bucket, no key copy)     +------------------------------+
//! ```
//!
//! The table grows a few slots per insert, not all at once (`shard/index.rs`).
//! The key lives once, in the slab; the table only holds indices and compares through a
//! closure that looks the key up, and rehashes (on growth, and to find a moved entry's
//! bucket) by hashing the key again with the store's hasher. Slab slots never move while in
//! use, so entries can move without touching their bytes. Dense entries let the sweeper,
//! the eviction hand and dumps walk a shard by index. Removal is `swap_remove`, then the
//! moved entry's table slot is repointed. **Entries only ever move that way** (the last
//! entry into a lower slot); dumps rely on it (see `scan.rs`).
//!
//! Entries are keys or tombstones. Tombstones are invisible to reads and NX/XX conditions but
//! hold a version that writes must beat. An expired entry of either kind counts as absent and
//! is removed when found.
//!
//! This module does not pick shards, read clocks or decide whether deletes leave tombstones.
//! Writes arrive as a [`Draft`] built before locking; committing one copies the key and a small
//! value into a slab slot (allocating only when a slab page grows), and what is freed comes
//! back as [`Garbage`] for the caller to drop after unlocking. Reads copy small inline values
//! under the lock.

#[cfg(test)]
mod check;
mod evict;
mod index;
mod keys;
mod scan;
mod strings;
mod warm;
mod wipe;
mod write;

pub use evict::EVICT_SCAN_MAX;
use index::Index;
#[cfg(test)]
pub(super) use index::{GROW_MIN, GROW_STEP};
pub(super) use strings::{Done, Step};
use wipe::Deadlines;
pub(super) use write::{Outcome, Put};

use std::sync::Arc;
use std::time::Duration;

use ahash::RandomState;
use bytes::Bytes;
use hashbrown::HashTable;

use super::draft::Draft;
use super::entry::{Entry, EntryRef, split_hash, table_hash};
use super::paged::Paged;
use super::slab::{Garbage, Slab, Trash};
use super::{EvictionPolicy, TtlState};
use crate::version::Hlc;

/// Per-shard counters; they live under the shard mutex so no atomics are contended.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counters {
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) expired: u64,
    pub(super) evictions: u64,
    /// Entries the eviction hand has looked at (for tests of bounded work).
    pub(super) evict_inspected: u64,
    pub(super) used: usize,
    pub(super) tombstones: usize,
    /// Keys (not tombstones) with a deadline, expired-but-unreclaimed ones included, and
    /// the sum of their deadlines (for INFO keyspace's `expires` and `avg_ttl`).
    pub(super) volatile: usize,
    pub(super) deadline_sum: u128,
}

/// A shard's memory limit: bytes of `used_memory` (`usize::MAX` = unlimited) and what to do
/// when a write would exceed them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    pub(super) bytes: usize,
    pub(super) policy: EvictionPolicy,
}

impl Default for Budget {
    fn default() -> Self {
        Self { bytes: usize::MAX, policy: EvictionPolicy::NoEviction }
    }
}

/// What removing an entry freed, for the caller's bookkeeping (its storage is already back
/// in the slab or in [`Garbage`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Gone {
    pub(super) footprint: usize,
    pub(super) tombstone: bool,
}

/// A shard's storage, taken out whole by [`Shard::take_all`] to be freed outside the lock.
pub(super) type Storage = (Paged<Entry>, Index, Slab);

/// A shard's contents. Invariant: `table` holds exactly the indices `0..entries.len()`, each
/// under the table hash of the key of the entry at that index; `counters.used`,
/// `counters.tombstones` and `counters.volatile` match the entries; `slab` holds exactly the
/// entries' records and big values. Indices fit in `u32` because
/// [`Shard::insert_new`] refuses to grow past `u32::MAX` entries.
pub(super) struct Shard {
    entries: Paged<Entry>,
    table: Index,
    slab: Slab,
    cursor: usize,
    hand: usize,
    budget: Budget,
    /// The store's clock (shared by all shards), which stamps plain writes.
    hlc: Arc<Hlc>,
    /// The store's key hasher: entries keep no hash, so the table rehashes their keys.
    hasher: RandomState,
    pub(super) counters: Counters,
    /// Bounds on the entries' deadlines, to empty a wholly expired shard at once (`wipe.rs`).
    deadlines: Deadlines,
    /// Key creations by hash bucket, for WATCH on absent keys (see `keys.rs`).
    created: [u32; keys::CREATED_BUCKETS],
}

impl Shard {
    pub(super) fn new(budget: Budget, hlc: Arc<Hlc>, hasher: RandomState) -> Self {
        Self {
            entries: Paged::default(),
            table: Index::default(),
            slab: Slab::default(),
            cursor: 0,
            hand: 0,
            budget,
            hlc,
            hasher,
            counters: Counters::default(),
            deadlines: Deadlines::default(),
            created: [0; keys::CREATED_BUCKETS],
        }
    }

    /// Keys held, including expired ones not yet reclaimed, not counting tombstones.
    pub(super) fn len(&self) -> usize {
        self.entries.len() - self.counters.tombstones
    }

    fn find(&self, hash: u32, key: &[u8]) -> Option<usize> {
        let (entries, slab) = (&self.entries, &self.slab);
        self.table
            .find(table_hash(hash), |i| entries[i as usize].key(slab) == key)
            .map(|i| i as usize)
    }

    /// The index, and its rehash function (the table hash of the entry at an index), borrowed
    /// apart so the index can change while it hashes entries.
    fn index_parts(&mut self) -> (&mut Index, impl Fn(&u32) -> u64 + '_) {
        let (hasher, entries, slab) = (&self.hasher, &self.entries, &self.slab);
        (&mut self.table, move |&i: &u32| rehash(hasher, entries, slab, i))
    }

    /// The table hash of the entry at `i`, from its key (entries keep no hash).
    fn hash_at(&self, i: usize) -> u64 {
        rehash(&self.hasher, &self.entries, &self.slab, i as u32)
    }

    /// Index of the unexpired entry (key or tombstone) for `key`; an expired one is removed
    /// on the spot (a big value it held is freed right here, under the lock: reads have no
    /// garbage to hand back, and expiry found by a read is the rare case).
    fn find_held(&mut self, hash: u32, key: &[u8], now: u64) -> Option<usize> {
        let i = self.find(hash, key)?;
        if self.entries[i].is_expired(now) {
            let mut garbage = Garbage::default();
            self.reclaim(i, &mut garbage);
            return None;
        }
        Some(i)
    }

    /// Index of the live key (not a tombstone) for `key`.
    fn find_live(&mut self, hash: u32, key: &[u8], now: u64) -> Option<usize> {
        self.find_held(hash, key, now).filter(|&i| !self.entries[i].is_tombstone())
    }

    /// Removes the expired entry at `i`, counting it if it was a key.
    fn reclaim(&mut self, i: usize, g: &mut Garbage) -> Gone {
        let gone = self.remove_at(i, g);
        if !gone.tombstone {
            self.counters.expired += 1;
        }
        gone
    }

    /// What the entry at `i` adds to `used_memory`.
    fn footprint(&self, i: usize) -> usize {
        self.entries[i].footprint(&self.slab)
    }

    fn account(&mut self, fp: usize, tombstone: bool, deadline: u64, added: bool) {
        let tomb = usize::from(tombstone);
        let volatile = !tombstone && deadline != 0;
        if added {
            self.deadlines.note(deadline);
            self.counters.used += fp;
            self.counters.tombstones += tomb;
        } else {
            self.counters.used = self.counters.used.saturating_sub(fp);
            self.counters.tombstones -= tomb;
        }
        if volatile {
            self.count_deadline(deadline, added);
        }
    }

    /// Adds (or removes) one volatile key's deadline to the expiry counters.
    fn count_deadline(&mut self, deadline: u64, added: bool) {
        let c = &mut self.counters;
        if added {
            c.volatile += 1;
            c.deadline_sum += u128::from(deadline);
        } else {
            c.volatile -= 1;
            c.deadline_sum -= u128::from(deadline);
        }
    }

    /// Replaces the live entry at `i`'s deadline, keeping the expiry counters.
    fn redeadline(&mut self, i: usize, deadline: u64) {
        let old = self.entries[i].expires_at();
        if old != 0 {
            self.count_deadline(old, false);
        }
        if deadline != 0 {
            self.count_deadline(deadline, true);
        }
        self.deadlines.note(deadline);
        self.entries[i].set_expiry(deadline);
    }

    /// Sets the memory budget (maxmemory share and policy) from now on.
    pub(super) fn set_budget(&mut self, budget: Budget) {
        self.budget = budget;
    }

    /// Removes the entry at `i`, keeping the table invariant; its storage goes back to the
    /// slab (or to `g`).
    fn remove_at(&mut self, i: usize, g: &mut Garbage) -> Gone {
        let gone = Gone { footprint: self.footprint(i), tombstone: self.entries[i].is_tombstone() };
        let deadline = self.entries[i].expires_at();
        // Indices fit in u32 (see the struct invariant).
        self.table.remove(self.hash_at(i), i as u32);
        let Some(entry) = self.entries.swap_remove(i) else {
            return gone;
        };
        if i < self.entries.len() {
            // The former last entry now sits at `i`; repoint its table slot. Both indices are
            // below the old length, which fits in u32 (see the struct invariant).
            let old = self.entries.len() as u32;
            let hash = self.hash_at(i);
            let (table, rehash) = self.index_parts();
            table.repoint(hash, old, i as u32, rehash);
        }
        entry.release(&mut self.slab, false, g);
        self.account(gone.footprint, gone.tombstone, deadline, false);
        if self.entries.len() == 0 {
            self.deadlines = Deadlines::default();
        }
        gone
    }

    /// Replaces the entry at `i` with `draft` for the same key (so the table slot stays
    /// valid); gives the draft back if the slab has no room for it.
    fn replace_at<'a>(
        &mut self,
        i: usize,
        draft: Draft<'a>,
        g: &mut Garbage,
    ) -> Result<(), Draft<'a>> {
        let (old_fp, old_tomb) = (self.footprint(i), self.entries[i].is_tombstone());
        let old_at = self.entries[i].expires_at();
        let (new_fp, new_tomb, new_at) =
            (draft.footprint(), draft.is_tombstone(), draft.expires_at());
        let hash = draft.hash();
        if let Err(draft) = draft.overwrite(&mut self.entries[i], &mut self.slab) {
            self.entries[i] = draft.commit(&mut self.slab, Some(&self.entries[i]), g)?;
        }
        self.account(new_fp, new_tomb, new_at, true);
        self.account(old_fp, old_tomb, old_at, false);
        if old_tomb && !new_tomb {
            self.note_created(hash);
        }
        Ok(())
    }

    /// Appends `draft` as a new entry; gives it back if the shard already holds `u32::MAX`
    /// entries or the slab has no room for it.
    fn insert_new<'a>(&mut self, draft: Draft<'a>, g: &mut Garbage) -> Result<(), Draft<'a>> {
        let index = match u32::try_from(self.entries.len()) {
            Ok(index) if index < u32::MAX => index,
            _ => return Err(draft),
        };
        let (fp, tomb, at) = (draft.footprint(), draft.is_tombstone(), draft.expires_at());
        let hash = draft.hash();
        let entry = draft.commit(&mut self.slab, None, g)?;
        if !tomb {
            self.note_created(hash);
        }
        self.account(fp, tomb, at, true);
        self.entries.push(entry);
        let len = self.entries.len();
        let (table, rehash) = self.index_parts();
        if let Some(old) = table.insert(table_hash(hash), index, len, rehash) {
            g.push(Trash::Table(Box::new(old)));
        }
        if let Some(room) = table.wants_spare() {
            g.want_table(room);
        }
        Ok(())
    }

    /// Takes `table` as the index's spare for its next growth if it wants one (see
    /// `shard/index.rs`); gives back what is to be freed after unlocking.
    pub(super) fn offer_table(&mut self, table: HashTable<u32>) -> Option<HashTable<u32>> {
        self.table.offer(table)
    }

    /// The live value of `key`, marking it recently used. Counts a hit or a miss.
    pub(super) fn get(&mut self, hash: u32, key: &[u8], now: u64) -> Option<Bytes> {
        match self.find_live(hash, key, now) {
            Some(i) => {
                self.counters.hits += 1;
                let e = &mut self.entries[i];
                if !e.is_visited() {
                    e.set_visited(true);
                }
                Some(e.value(&self.slab))
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

    /// The version of the unexpired key or tombstone for `key`.
    pub(super) fn version_of(&mut self, hash: u32, key: &[u8], now: u64) -> Option<u64> {
        self.held(hash, key, now, |e| e.version())
    }

    /// `f` of the unexpired key or tombstone for `key`, if there is one.
    pub(super) fn held<R>(
        &mut self,
        hash: u32,
        key: &[u8],
        now: u64,
        f: impl FnOnce(EntryRef<'_>) -> R,
    ) -> Option<R> {
        let i = self.find_held(hash, key, now)?;
        Some(f(self.entries[i].view(&self.slab)))
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

    /// Empties the shard, handing the old storage back so it is freed outside the lock.
    pub(super) fn take_all(&mut self) -> Storage {
        self.cursor = 0;
        self.hand = 0;
        self.counters.used = 0;
        self.counters.tombstones = 0;
        self.counters.volatile = 0;
        self.counters.deadline_sum = 0;
        self.deadlines = Deadlines::default();
        let entries = std::mem::take(&mut self.entries);
        (entries, std::mem::take(&mut self.table), std::mem::take(&mut self.slab))
    }
}

/// The table hash of the entry at index `i`, from its key: the table's rehash function.
#[inline]
fn rehash(hasher: &RandomState, entries: &Paged<Entry>, slab: &Slab, i: u32) -> u64 {
    table_hash(split_hash(hasher.hash_one(entries[i as usize].key(slab))).1)
}
