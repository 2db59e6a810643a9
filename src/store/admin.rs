//! Run-time administration of a [`Store`]: the memory limit CONFIG SET changes, the expiry
//! counters INFO's keyspace line reports, and CONFIG RESETSTAT's counter reset. The limit
//! change takes every stripe at once (then the limit's own lock, the order every path
//! holding both uses); the others take the stripes in turn, never two at once.

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
        let locked = self.lock_all();
        *self.limit.lock() = (maxmemory, policy);
        locked.set_budget(budget(maxmemory, policy, self.slots.len()));
    }

    /// Keys with a TTL (expired ones not yet reclaimed included) and their average
    /// remaining TTL, for INFO's keyspace line.
    pub fn expiry_stats(&self) -> (usize, Duration) {
        self.check_not_held();
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
        self.check_not_held();
        for slot in &self.slots {
            let c = &mut slot.0.lock().counters;
            (c.hits, c.misses, c.expired, c.evictions) = (0, 0, 0, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::store::{EvictionPolicy, ManualClock, SetCond, Store, StoreConfig, StoreError};

    fn store() -> (Store, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        (Store::with_clock(StoreConfig { shards: 4 }, clock.clone()), clock)
    }

    #[test]
    fn expiry_stats_follow_every_write() {
        let (s, clock) = store();
        let secs = |n| Some(Duration::from_secs(n));
        assert_eq!(s.expiry_stats(), (0, Duration::ZERO));
        s.set(b"a", b"1", secs(10), SetCond::Always);
        s.set(b"b", b"1", secs(30), SetCond::Always);
        s.set(b"c", b"1", None, SetCond::Always);
        assert_eq!(s.expiry_stats(), (2, Duration::from_secs(20)));
        clock.advance(Duration::from_secs(5));
        assert_eq!(s.expiry_stats(), (2, Duration::from_secs(15)));
        s.set(b"a", b"2", None, SetCond::Always); // an overwrite drops the TTL
        s.expire(b"c", Duration::from_secs(5));
        s.persist(b"b");
        assert_eq!(s.expiry_stats(), (1, Duration::from_secs(5)));
        s.del(b"c");
        assert_eq!(s.expiry_stats().0, 0);
        s.set(b"d", b"1", secs(1), SetCond::Always);
        s.flush();
        assert_eq!(s.expiry_stats().0, 0);
        s.check_invariants();
    }

    #[test]
    fn the_memory_limit_changes_while_serving() {
        let (s, _) = store();
        assert!(s.try_set(b"k", b"v", None, SetCond::Always).is_ok());
        s.set_memory_limit(4, EvictionPolicy::NoEviction);
        assert_eq!((s.maxmemory(), s.eviction()), (4, EvictionPolicy::NoEviction));
        let refused = s.try_set(b"big", &[0; 64], None, SetCond::Always);
        assert!(matches!(refused, Err(StoreError::OutOfMemory { maxmemory: 4 })));
        s.set_memory_limit(0, EvictionPolicy::Clock);
        assert!(s.try_set(b"big", &[0; 64], None, SetCond::Always).is_ok());
    }

    #[test]
    fn reset_stats_zeroes_the_counters() {
        let (s, _) = store();
        s.get(b"nope");
        s.set(b"k", b"v", None, SetCond::Always);
        s.get(b"k");
        s.reset_stats();
        let st = s.stats();
        assert_eq!((st.get_hits, st.get_misses, st.keys), (0, 0, 1));
    }
}
