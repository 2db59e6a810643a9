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
//! The new table itself is allocated ahead, outside the lock: once the table is seven
//! eighths full, writes ask their caller for a spare of twice the room
//! ([`Index::wants_spare`]), which the store allocates after unlocking and hands back
//! under the lock ([`Index::offer`]). Allocating it inside the insert that fills the table
//! held the stripe 0.13 ms for a 229 376-slot table, 4.3 ms for 7.3 million slots, and
//! 4.7-8.8 ms for the smaller one with transparent huge pages on (the kernel zeroes and
//! compacts on first touch), measured. A write path that cannot unlock in between
//! (a transaction holding every stripe) leaves the growth to allocate as before.
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
    /// An empty table allocated ahead for the next growth (no allocation if none).
    spare: HashTable<u32>,
}

impl Index {
    /// An index over `table` alone.
    pub(super) fn from_table(table: HashTable<u32>) -> Self {
        Self { table, old: HashTable::new(), moved: 0, spare: HashTable::new() }
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

    /// Whether a growth is under way.
    pub(super) fn growing(&self) -> bool {
        !self.old.is_empty()
    }

    /// Slots still in the old table: 0 unless a growth is under way (tests).
    #[cfg(test)]
    pub(super) fn moving(&self) -> usize {
        self.old.len()
    }

    /// The room of the spare table the next growth needs, while one would help: the table
    /// grows the incremental way, no growth is under way, it is seven eighths full, and no
    /// spare of that room is held.
    #[inline]
    pub(super) fn wants_spare(&self) -> Option<usize> {
        let (len, capacity) = (self.table.len(), self.table.capacity());
        let needed = 2 * capacity;
        let near_full = len >= capacity - capacity / 8;
        let wanted = capacity >= GROW_MIN && near_full && !self.growing();
        (wanted && self.spare.capacity() < needed).then_some(needed)
    }

    /// Takes `table` (empty) as the spare for the next growth if one of its room is
    /// wanted; gives it back otherwise, to be freed after unlocking.
    pub(super) fn offer(&mut self, table: HashTable<u32>) -> Option<HashTable<u32>> {
        match self.wants_spare() {
            Some(needed) if table.is_empty() && table.capacity() >= needed => {
                Some(std::mem::replace(&mut self.spare, table)).filter(|t| t.capacity() > 0)
            }
            _ => Some(table),
        }
    }

    /// Room of the spare table held (tests).
    #[cfg(test)]
    pub(super) fn spare_capacity(&self) -> usize {
        self.spare.capacity()
    }

    /// Where the first slot whose tag matches `hash` lies, without reading it (the caller
    /// prefetches it). Only the current table: during a growth a key may be in the old.
    #[inline]
    pub(super) fn first_candidate(&self, hash: u64) -> Option<*const u32> {
        let mut at = None;
        let _ = self.table.find(hash, |slot| {
            at = Some(std::ptr::from_ref(slot));
            true
        });
        at
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
            let needed = 2 * self.table.capacity();
            let bigger = match std::mem::take(&mut self.spare) {
                spare if spare.capacity() >= needed => spare,
                // None was supplied in time: allocate here, under the lock.
                _ => HashTable::with_capacity(needed),
            };
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
        assert!(self.spare.is_empty(), "a spare table holds slots");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entry `i`'s hash in these tests: any fixed spread will do.
    fn hash(i: &u32) -> u64 {
        u64::from(*i).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Inserts entries from `*len` on until the next growth starts (or `limit` entries),
    /// offering a spare whenever one is wanted if `supply`; returns the spare's room.
    fn fill(index: &mut Index, len: &mut u32, limit: u32, supply: bool) -> Option<usize> {
        let mut supplied = None;
        while *len < limit {
            push(index, len);
            if index.moving() > 0 {
                break;
            }
            if let (true, Some(room)) = (supply, index.wants_spare()) {
                assert!(index.offer(HashTable::with_capacity(room)).is_none());
                supplied = Some(index.spare_capacity());
            }
        }
        supplied
    }

    /// Inserts entries until the growth under way has ended.
    fn finish(index: &mut Index, len: &mut u32) {
        while index.moving() > 0 {
            push(index, len);
        }
    }

    /// Adds entry `*len`, as a shard's insert does.
    fn push(index: &mut Index, len: &mut u32) {
        let i = *len;
        *len += 1;
        let _ = index.insert(hash(&i), i, *len as usize, hash);
    }

    #[test]
    fn a_growth_takes_the_spare_and_grows_without_one_too() {
        let mut index = Index::default();
        let mut len = 0;
        // Past the ordinary growths and the first incremental one, with no spare supplied.
        fill(&mut index, &mut len, 1 << 20, false);
        assert!(index.moving() > 0 && index.capacity() >= 2 * GROW_MIN);
        finish(&mut index, &mut len);
        index.check(len as usize, hash);
        // The next growth, with a spare supplied when the table is seven eighths full.
        let before = index.capacity();
        let room = fill(&mut index, &mut len, 1 << 20, true).expect("a spare was wanted");
        assert!(index.moving() > 0, "no growth");
        assert_eq!(index.capacity(), room, "the growth took the spare");
        assert_eq!(index.spare_capacity(), 0);
        assert!(room >= 2 * before);
        // Another table is refused while a growth is under way, and given back.
        assert!(index.offer(HashTable::with_capacity(4 * room)).is_some());
        finish(&mut index, &mut len);
        index.check(len as usize, hash);
        for i in 0..len {
            assert_eq!(index.find(hash(&i), |x| x == i), Some(i), "entry {i}");
        }
    }
}
