//! Index walks over one shard: the expiry sweep (upwards, from a cursor the shard keeps) and
//! the downward scans behind dumps and bulk removal (from a position the caller keeps).
//!
//! Why downwards: entries only move by `swap_remove`, which moves the *last* entry into the
//! freed slot. A scan that has visited every index `>= top` and will next visit `top - 1`
//! can then never miss an entry that exists throughout: a removal moves the last entry to a
//! lower slot, so an unvisited entry (index `< top`) stays below `top`, and a visited one may
//! come back into view (a harmless duplicate). Appends land at the end, above or below `top`;
//! they are new and need not be seen. A position is therefore valid across lock releases
//! with no change counter, and `top` beyond the current length just means "from the end".

use super::{Garbage, Shard};
use crate::store::SweepProgress;
use crate::store::entry::EntryRef;

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
    /// and tombstones into `g` so they are freed outside the lock.
    pub(in crate::store) fn sweep_chunk(
        &mut self,
        now: u64,
        max: usize,
        g: &mut Garbage,
    ) -> SweepProgress {
        let max = max.max(1);
        let mut progress = SweepProgress::default();
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
        if self.cursor >= self.entries.len() {
            self.cursor = 0;
            progress.pass_complete = true;
            self.maybe_shrink(g);
        }
        self.slab.trim(g);
        progress
    }

    /// Restarts the sweep cursor at the first entry.
    pub(in crate::store) fn rewind(&mut self) {
        self.cursor = 0;
    }
}
