//! Memory admission and CLOCK eviction for one shard.
//!
//! Every key carries a *visited* bit, set when `get` reads it. When a write would push the
//! shard past its budget under [`EvictionPolicy::Clock`], a hand walks the entry vector from
//! where it last stopped: an expired entry is reclaimed whatever its bit; a visited key loses
//! its bit and survives this lap; a tombstone is skipped (it guards replication order and
//! expires on its own); an unvisited key is evicted. Keys read at least once per lap of the
//! hand therefore stay, and a cold key is gone within one lap. This is CLOCK with SIEVE's
//! rule that new keys start unvisited, so a scan of one-off keys cannot flush hot ones. New
//! keys are appended at the end of the vector, so the hand reaches them last; when an
//! eviction's `swap_remove` moves the newest key under the hand, the hand steps past it so it
//! still gets a full lap.
//!
//! Bounded work: the hand inspects at most [`EVICT_SCAN_MAX`] entries per write looking for a
//! victim; past that it evicts whatever it points at (tombstones included), O(1) each, until
//! the write fits. So a write costs at most `EVICT_SCAN_MAX` inspections plus the evictions
//! its own size requires, and `used_memory` never exceeds the budget because of it.
//!
//! This module owns the policy only; removal and accounting are the shard's.

use super::{Garbage, Shard};
use crate::store::EvictionPolicy;

/// Entries the eviction hand may inspect per write while looking for a cold victim.
pub const EVICT_SCAN_MAX: usize = 64;

impl Shard {
    /// Whether a write that turns the entry at `held` (if any) into one of `new_fp` bytes
    /// fits the budget, evicting under [`EvictionPolicy::Clock`] until it does. `held` is
    /// never evicted, and is updated if an eviction moves it.
    pub(super) fn admit(
        &mut self,
        held: &mut Option<usize>,
        new_fp: usize,
        now: u64,
        g: &mut Garbage,
    ) -> bool {
        let budget = self.budget.bytes;
        let old_fp = held.map_or(0, |i| self.footprint(i));
        let after = self.counters.used.saturating_sub(old_fp).saturating_add(new_fp);
        // Shrinking writes are always fine, even over budget: they move towards it.
        if after <= budget || new_fp <= old_fp {
            return true;
        }
        if new_fp > budget {
            return false;
        }
        match self.budget.policy {
            EvictionPolicy::NoEviction => false,
            EvictionPolicy::Clock => {
                self.evict(after - budget, held, now, g);
                true
            }
        }
    }

    /// Evicts until `need` bytes are freed or only `held` is left (which, as the write fits
    /// the budget alone, also makes room).
    fn evict(&mut self, need: usize, held: &mut Option<usize>, now: u64, g: &mut Garbage) {
        let keep = usize::from(held.is_some());
        let (mut freed, mut inspected) = (0, 0);
        while freed < need && self.entries.len() > keep {
            if self.hand >= self.entries.len() {
                self.hand = 0;
            }
            let h = self.hand;
            inspected += 1;
            if *held == Some(h) || !self.is_victim(h, inspected > EVICT_SCAN_MAX, now) {
                self.hand += 1;
                continue;
            }
            let last = self.entries.len() - 1;
            let expired = self.entries[h].is_expired(now);
            let victim = if expired { self.reclaim(h, g) } else { self.remove_at(h, g) };
            if !expired && !victim.tombstone {
                self.counters.evictions += 1;
            }
            freed += victim.footprint;
            if *held == Some(last) {
                *held = Some(h);
            }
            // The former last entry, usually the newest, now sits under the hand. Step past
            // it: inspecting it now would evict new keys before anyone could read them.
            self.hand = h + 1;
        }
        self.counters.evict_inspected += inspected as u64;
    }

    /// Whether the entry under the hand goes; a visited key loses its bit instead.
    fn is_victim(&mut self, h: usize, forced: bool, now: u64) -> bool {
        let e = &mut self.entries[h];
        if forced || e.is_expired(now) {
            return true;
        }
        if e.is_tombstone() {
            return false;
        }
        if e.is_visited() {
            e.set_visited(false);
            return false;
        }
        true
    }
}
