//! A shard's index: the hash table from a key's hash to its entry's index, grown a few
//! slots at a time instead of all at once.
//!
//! Why: a `HashTable` that fills up rehashes every slot into a table twice its size inside
//! the insert that filled it. Entries keep no hash, so each slot costs a read of its key
//! from the slab and a hash, mostly cache misses (~0.2 us). A stripe of 115 000 keys took
//! 18-24 ms to grow, measured, under its lock: every request to the stripe, and the worker
//! thread serving them, waited. Redis grows its dictionaries incrementally for the same
//! reason; this is the same idea over `hashbrown`.
//!
//! How: when the table is full (and past [`GROW_MIN`] slots), it becomes `old` and an empty
//! table of twice the size takes its place. New slots go to the new table, and each insert
//! then moves [`GROW_STEP`] slots over, walking entry indices upwards from a cursor (the
//! sweep moves a chunk's worth too, so a growth ends even when writes stop). Lookups try the
//! new table, then the old one while it holds anything.
//!
//! Invariant (besides the shard's): every entry index is in exactly one of the two tables,
//! and every index below `moved` is in the new one. Entries move only by `swap_remove`; the
//! moved entry's slot is always re-inserted into the new table ([`Index::repoint`]), so
//! the invariant holds wherever it lands.

use hashbrown::HashTable;

/// Tables with fewer slots than this grow the ordinary way: rehashing them is short.
pub(in crate::store) const GROW_MIN: usize = 4096;

/// Slots moved to the new table per insert while a growth is under way (about 13 us of
/// work). A growth starts with the old table full, and the new one has twice its room, so
/// with at least two moved per insert the old table empties before the new one fills.
/// More per insert ends a growth sooner: its old table is freed while the load that filled
/// it still allocates, which reuses the space (with 16, a million-key load kept 1.4 more
/// bytes of RSS per key than with 64).
pub(in crate::store) const GROW_STEP: usize = 64;

/// The table from key hashes to entry indices (see the module docs).
#[derive(Default)]
pub(in crate::store) struct Index {
    /// Where new slots go.
    table: HashTable<u32>,
    /// The table being emptied into `table` during a growth; empty otherwise.
    old: HashTable<u32>,
    /// Every entry index below this has its slot in `table`.
    moved: usize,
}

impl Index {
    /// An index over `table` alone.
    pub(super) fn from_table(table: HashTable<u32>) -> Self {
        Self { table, old: HashTable::new(), moved: 0 }
    }

    /// Slots held: one per entry.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.len() + self.old.len()
    }

    /// How many slots the (new) table has room for.
    pub(super) fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Slots still in the old table: 0 unless a growth is under way (tests).
    #[cfg(test)]
    pub(super) fn moving(&self) -> usize {
        self.old.len()
    }

    /// The index of the first slot under `hash` that `eq` accepts.
    #[inline]
    pub(super) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if let Some(&i) = self.table.find(hash, |&i| eq(i)) {
            return Some(i);
        }
        if self.old.is_empty() {
            return None;
        }
        self.old.find(hash, |&i| eq(i)).copied()
    }

    /// Removes entry `i`'s slot (`hash` is its key's).
    pub(super) fn remove(&mut self, hash: u64, i: u32) {
        if let Ok(slot) = self.table.find_entry(hash, |&x| x == i) {
            slot.remove();
        } else if let Ok(slot) = self.old.find_entry(hash, |&x| x == i) {
            slot.remove();
        }
    }

    /// The entry at `from` moved to `to`: its slot (under `hash`) now says `to`, and is in the
    /// new table, so indices below the cursor stay there.
    pub(super) fn repoint(&mut self, hash: u64, from: u32, to: u32, rehash: impl Fn(&u32) -> u64) {
        if let Some(slot) = self.table.find_mut(hash, |&x| x == from) {
            *slot = to;
        } else if let Ok(slot) = self.old.find_entry(hash, |&x| x == from) {
            slot.remove();
            self.table.insert_unique(hash, to, rehash);
        }
    }

    /// Adds a slot for entry `i`, the last of `len` entries, under `hash`. A full table starts
    /// a growth here, and a growth under way moves [`GROW_STEP`] slots. Returns the emptied
    /// old table when the growth ends, to be freed after unlocking.
    pub(super) fn insert(
        &mut self,
        hash: u64,
        i: u32,
        len: usize,
        rehash: impl Fn(&u32) -> u64,
    ) -> Option<HashTable<u32>> {
        let full = self.table.len() == self.table.capacity();
        if full && self.old.is_empty() && self.table.capacity() >= GROW_MIN {
            let bigger = HashTable::with_capacity(2 * self.table.capacity());
            self.old = std::mem::replace(&mut self.table, bigger);
            self.moved = 0;
        }
        self.table.insert_unique(hash, i, &rehash);
        self.step(GROW_STEP, len, rehash)
    }

    /// Moves the slots of up to `max` entry indices from the cursor on into the new table
    /// (`rehash(i)` is the hash of entry `i`'s key; `len` entries exist). Returns the emptied
    /// old table when the growth ends.
    pub(super) fn step(
        &mut self,
        max: usize,
        len: usize,
        rehash: impl Fn(&u32) -> u64,
    ) -> Option<HashTable<u32>> {
        if self.old.is_empty() {
            return None;
        }
        let end = self.moved.saturating_add(max).min(len);
        // Entry indices fit in u32 (the shard's invariant), so these casts are exact.
        for i in self.moved as u32..end as u32 {
            let hash = rehash(&i);
            if let Ok(slot) = self.old.find_entry(hash, |&x| x == i) {
                slot.remove();
                self.table.insert_unique(hash, i, &rehash);
            }
        }
        self.moved = end;
        if self.moved < len && !self.old.is_empty() {
            return None;
        }
        // Every index is below the cursor, so the old table is empty; if it were not, its
        // slots would still be moved rather than lost.
        for i in self.old.drain() {
            self.table.insert_unique(rehash(&i), i, &rehash);
        }
        self.moved = 0;
        Some(std::mem::take(&mut self.old))
    }

    /// Checks the cursor's invariant: entry indices below it are in the new table (tests).
    #[cfg(test)]
    pub(super) fn check(&self, len: usize, rehash: impl Fn(&u32) -> u64) {
        for i in 0..self.moved.min(len) as u32 {
            let hash = rehash(&i);
            assert!(self.table.find(hash, |&x| x == i).is_some(), "index {i} not moved");
        }
        assert!(self.old.is_empty() || self.moved <= len, "cursor past the entries");
    }
}
