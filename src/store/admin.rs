//! Run-time administration of a [`Store`]: the memory limit CONFIG SET changes, the expiry
//! counters INFO's keyspace line reports, and CONFIG RESETSTAT's counter reset. Each takes
//! every shard's lock in turn, never two at once.

use std::time::Duration;

use super::{EvictionPolicy, Store, budget};

impl Store {
    /// `maxmemory` now (0 = none).
    pub fn maxmemory(&self) -> usize {
        self.limit.lock().0
    }

    /// The eviction policy now.
    pub fn eviction(&self) -> EvictionPolicy {
        self.limit.lock().1
    }

    /// Changes `maxmemory` and the eviction policy for every write from now on (CONFIG
    /// SET). Keys already over a smaller limit stay; later growing writes are refused or
    /// evict, as the policy says.
    pub fn set_memory_limit(&self, maxmemory: usize, policy: EvictionPolicy) {
        let mut limit = self.limit.lock();
        *limit = (maxmemory, policy);
        let b = budget(maxmemory, policy, self.slots.len());
        for slot in &self.slots {
            slot.0.lock().set_budget(b);
        }
    }

    /// Keys with a TTL (expired ones not yet reclaimed included) and their average
    /// remaining TTL, for INFO's keyspace line.
    pub fn expiry_stats(&self) -> (usize, Duration) {
        let (mut volatile, mut sum) = (0usize, 0u128);
        for slot in &self.slots {
            let s = slot.0.lock();
            volatile += s.counters.volatile;
            sum += s.counters.deadline_sum;
        }
        if volatile == 0 {
            return (0, Duration::ZERO);
        }
        let avg_deadline = sum / volatile as u128;
        let left = avg_deadline.saturating_sub(u128::from(self.clock.now()));
        (volatile, Duration::from_nanos(u64::try_from(left).unwrap_or(u64::MAX)))
    }

    /// Zeroes the hit, miss, expiry and eviction counters (CONFIG RESETSTAT).
    pub fn reset_stats(&self) {
        for slot in &self.slots {
            let c = &mut slot.0.lock().counters;
            (c.hits, c.misses, c.expired, c.evictions) = (0, 0, 0, 0);
        }
    }
}
