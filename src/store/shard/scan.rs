//! Index walks over one shard: the expiry sweep (upwards, from a cursor the shard keeps, and
//! skipped while the shard's earliest deadline lies ahead), the downward scans behind dumps
//! and bulk removal (from a position the caller keeps), and giving memory back when either
//! has emptied much of the shard.
//!
//! Why downwards: entries only move by `swap_remove`, which moves the *last* entry into the
//! freed slot. A scan that has visited every index `>= top` and will next visit `top - 1`
//! can then never miss an entry that exists throughout: a removal moves the last entry to a
//! lower slot, so an unvisited entry (index `< top`) stays below `top`, and a visited one may
//! come back into view (a harmless duplicate). Appends land at the end, above or below `top`;
//! they are new and need not be seen. A position is therefore valid across lock releases
//! with no change counter, and `top` beyond the current length just means "from the end".

use hashbrown::HashTable;

use super::{Garbage, Index, Shard, Trash};
use crate::store::SweepProgress;
use crate::store::entry::EntryRef;

/// Shards whose index table has room for at least this many entries have it shrunk when it
/// falls under a quarter full at the end of a sweep pass; smaller ones are not worth the
/// reallocation.
const SHRINK_MIN_CAPACITY: usize = 1024;

/// Most entries a shrink re-indexes, under the shard's lock: about a sweep chunk's time.
/// Re-indexing costs a key read and an insert per entry (0.1-0.2 us, mostly cache misses),
/// so a shard of 125 000 keys that lost three quarters of them held its lock up to 11 ms to
/// shrink, stalling every request to it. A table over this stays at its size (a peak's
/// index, 5 bytes a slot) until the shard grows into it again or empties below this.
const SHRINK_MAX_LEN: usize = 2048;

impl Shard {
    /// Visits entries downwards from index `top - 1` (`top` is clamped to the length), at most
    /// `max` (at least 1) of them, stopping early when `visit` returns `false` for an entry
    /// (which is then not counted as visited). Returns the new `top`: `0` when the scan is done.
    pub(in crate::store) fn scan_down(
        &self,
        top: usize,
        max: usize,
        mut visit: impl FnMut(EntryRef<'_>) -> bool,
    ) -> usize {
        let mut top = top.min(self.entries.len());
        let stop = top.saturating_sub(max.max(1));
        while top > stop && visit(self.entries[top - 1].view(&self.slab)) {
            top -= 1;
        }
        top
    }

    /// Like [`Shard::scan_down`], removing every entry whose key and version `doomed` picks
    /// (storage into `g`). Returns the new `top` and how many entries were removed.
    pub(in crate::store) fn remove_down(
        &mut self,
        top: usize,
        max: usize,
        doomed: impl Fn(&[u8], u64) -> bool,
        g: &mut Garbage,
    ) -> (usize, usize) {
        let mut top = top.min(self.entries.len());
        let stop = top.saturating_sub(max.max(1));
        let mut removed = 0;
        while top > stop {
            top -= 1;
            let e = &self.entries[top];
            if doomed(e.key(&self.slab), e.version()) {
                // The last entry (already visited, or newly added) moves into `top`.
                self.remove_at(top, g);
                removed += 1;
            }
        }
        if top == 0 {
            self.maybe_shrink(g);
        }
        (top, removed)
    }

    /// Inspects at most `max` entries (at least 1) from the sweep cursor, moving expired keys
    /// and tombstones into `g` so they are freed outside the lock. A shard whose every entry
    /// has expired is emptied whole instead, inspecting none (`wipe.rs`).
    pub(in crate::store) fn sweep_chunk(
        &mut self,
        now: u64,
        max: usize,
        g: &mut Garbage,
    ) -> SweepProgress {
        if let Some(reclaimed) = self.wipe_expired(now, g) {
            return SweepProgress { inspected: 0, reclaimed, pass_complete: true, wiped: true };
        }
        let max = max.max(1);
        // A growth of the index also moves on here, so it ends even when writes stop.
        let len = self.entries.len();
        let (table, rehash) = self.index_parts();
        if let Some(old) = table.step(max, len, rehash) {
            g.push(Trash::Table(Box::new(old)));
        }
        let mut progress = SweepProgress::default();
        // Before the earliest deadline nothing can have expired: the pass has nothing to find
        // (a cache without TTLs, or whose TTLs all lie ahead, costs no walk). While the index
        // grows the walk goes on, so the growth still ends within a pass.
        if self.deadlines.none_expired(now) && !self.table.growing() {
            self.cursor = len;
        } else {
            self.walk(now, max, &mut progress, g);
        }
        if self.cursor >= self.entries.len() {
            self.cursor = 0;
            progress.pass_complete = true;
            self.maybe_shrink(g);
        }
        self.slab.trim(g);
        progress
    }

    /// Inspects up to `max` entries from the cursor on, reclaiming the expired ones.
    fn walk(&mut self, now: u64, max: usize, progress: &mut SweepProgress, g: &mut Garbage) {
        while progress.inspected < max && self.cursor < self.entries.len() {
            progress.inspected += 1;
            if self.entries[self.cursor].is_expired(now) {
                self.reclaim(self.cursor, g);
                progress.reclaimed += 1;
                // swap_remove put the last entry in this slot: inspect it next, same cursor.
            } else {
                self.cursor += 1;
            }
        }
    }

    /// Restarts the sweep cursor at the first entry.
    pub(in crate::store) fn rewind(&mut self) {
        self.cursor = 0;
    }

    /// Gives memory back after mass deletion/expiry: the entry chunks left empty, and the
    /// index table when it is under a quarter full (hysteresis: to 1/2, so this stays
    /// amortised O(1) per removal) and small enough to re-index in one lock hold
    /// ([`SHRINK_MAX_LEN`]). What is freed goes to `g`.
    fn maybe_shrink(&mut self, g: &mut Garbage) {
        let spare = self.entries.take_spare();
        if !spare.is_empty() {
            g.push(Trash::Table(Box::new(spare)));
        }
        let len = self.entries.len();
        let capacity = self.table.capacity();
        if capacity < SHRINK_MIN_CAPACITY || len * 4 >= capacity || len > SHRINK_MAX_LEN {
            return;
        }
        let table = {
            let (_, hash) = self.index_parts();
            let mut table = HashTable::with_capacity(len * 2);
            // Every entry has its slot, so the new table holds exactly the indices below
            // `len` (which fit in u32, see the struct invariant).
            for i in 0..len as u32 {
                table.insert_unique(hash(&i), i, &hash);
            }
            table
        };
        // A rebuild rather than `shrink_to`, which frees the old table itself: that one can
        // be large, and is freed with the rest of `g`, outside the lock.
        let old = std::mem::replace(&mut self.table, Index::from_table(table));
        g.push(Trash::Table(Box::new(old)));
    }
}
