//! Invariant checks over a whole shard, for tests.

use super::{Entry, Shard, split_hash};
use crate::store::INLINE_VALUE_MAX;
use crate::store::slab::CLASS_MAX;

impl Shard {
    /// Entry chunks allocated (tests only).
    pub(in crate::store) fn entry_chunks(&self) -> usize {
        self.entries.chunks()
    }

    /// The index table's capacity (tests only).
    pub(in crate::store) fn table_capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Index slots still to move to the grown table: 0 unless a growth is under way
    /// (tests only).
    pub(in crate::store) fn index_moving(&self) -> usize {
        self.table.moving()
    }

    /// Room of the index table held ahead for the next growth (tests only).
    pub(in crate::store) fn index_spare(&self) -> usize {
        self.table.spare_capacity()
    }

    /// Slab pages held and the bytes they span (tests only).
    pub(in crate::store) fn slab_pages(&self) -> (usize, usize) {
        self.slab.pages()
    }

    /// Checks the table/entries invariant and the counters (tests only).
    pub(in crate::store) fn check_invariants(&self) {
        assert_eq!(self.table.len(), self.entries.len());
        self.table.check(self.entries.len(), |&i| self.hash_at(i as usize));
        for (i, e) in self.entries.iter().enumerate() {
            let key = e.key(&self.slab);
            let hash = split_hash(self.hasher.hash_one(key)).1;
            assert_eq!(self.find(hash, key), Some(i), "entry {i} not indexed");
        }
        for e in self.entries.iter() {
            assert!(self.deadlines.covers(e.expires_at()), "deadline bounds miss an entry");
        }
        let used: usize = self.entries.iter().map(|e| e.footprint(&self.slab)).sum();
        assert_eq!(self.counters.used, used);
        let tombs = self.entries.iter().filter(|e| e.is_tombstone()).count();
        assert_eq!(self.counters.tombstones, tombs);
        let volatile: Vec<u64> = self
            .entries
            .iter()
            .filter(|e| !e.is_tombstone() && e.expires_at() != 0)
            .map(|e| e.expires_at())
            .collect();
        assert_eq!(self.counters.volatile, volatile.len(), "volatile count");
        assert_eq!(
            self.counters.deadline_sum,
            volatile.iter().map(|&d| u128::from(d)).sum::<u128>()
        );
        let len = |e: &&Entry| e.record_len();
        let slotted = self.entries.iter().filter(|e| (1..=CLASS_MAX).contains(&len(e)));
        let huge = self.entries.iter().filter(|e| len(e) > CLASS_MAX).count();
        let big: Vec<&Entry> = self.entries.iter().filter(|e| e.is_big()).collect();
        assert!(big.iter().all(|e| e.value_len(&self.slab) > INLINE_VALUE_MAX));
        assert_eq!(self.slab.counts(), (slotted.count(), huge, big.len()), "slab leaks");
    }
}
