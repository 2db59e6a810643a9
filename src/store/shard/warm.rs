//! Cache warming for a run of lookups: the three stages [`super::super::Store::prefetch`]
//! runs over a pipelined batch before executing it, and the one prefetch instruction they
//! need.
//!
//! A lookup walks table slot -> entry -> slab record, three dependent cache misses for a
//! key that is not hot. One key at a time the core waits out each miss in turn; a batch can
//! instead ask for all the slots, then all the entries, then all the records, so the misses
//! overlap. No stage may read a line an earlier stage has not asked for: each takes the
//! stripe's lock per key, and a lock's atomic instruction waits for the loads before it, so
//! one missing line would stall the whole batch. The stages only issue prefetches: they
//! change nothing, and a stale index (the shard changed between stages) costs a wasted
//! prefetch, never a wrong answer.
//!
//! This file holds the crate's only `unsafe`: the prefetch intrinsic is `unsafe` solely
//! because it is a `#[target_feature]` function, and it never dereferences its argument.

use super::{Shard, table_hash};

impl Shard {
    /// Stage one: starts loading the table slot that stage two will read for `hash`.
    /// Finding it reads only the table's tag bytes (one per slot, a quarter of the slots'
    /// size, so more often in cache), not the slot.
    pub(in crate::store) fn warm_slot(&self, hash: u32) {
        if let Some(slot) = self.table.first_candidate(table_hash(hash)) {
            prefetch(slot);
        }
    }

    /// Stage two: the entry index the table holds for `hash`, read from its slot without
    /// touching the entry (whose load is started instead).
    pub(in crate::store) fn warm_entry(&self, hash: u32) -> Option<u32> {
        let entries = &self.entries;
        let mut found = None;
        // Always answering "no match" keeps `find` from comparing keys, which would wait for
        // the very loads this starts; it stops at the first group with an empty bucket.
        let _ = self.table.find(table_hash(hash), |i| {
            if found.is_none() {
                found = Some(i);
                if let Some(e) = entries.get(i as usize) {
                    prefetch(e);
                }
            }
            false
        });
        found
    }

    /// Stage three: starts loading the key (and inline value) of the entry at `i`. Entries
    /// keep no hash to check that `i` still holds the key stage two looked for; if the shard
    /// changed in between, this warms some other key's record, which is harmless.
    pub(in crate::store) fn warm_record(&self, i: u32) {
        if let Some(e) = self.entries.get(i as usize) {
            let record = self.slab.record(e.record_len(), e.slot);
            if let Some(last) = record.last() {
                prefetch(record.as_ptr());
                prefetch(last);
            }
        }
    }
}

/// Asks the CPU to start loading the cache line holding `p` into all cache levels.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `_mm_prefetch` is unsafe only as a `#[target_feature(enable = "sse")]` function;
    // SSE is part of the x86_64 baseline, and a prefetch never faults or dereferences, even
    // for a dangling address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
