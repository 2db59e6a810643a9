//! Walking the live keys with their remaining TTLs ([`Store::for_each_key`]): how a
//! cluster node counts one cluster shard's keys (DBSIZE and INFO keyspace through a
//! router), which the store's per-stripe counters cannot tell, since stripes are not
//! cluster shards.

use std::time::Duration;

use super::Store;
use super::dump::SCAN_CHUNK;

impl Store {
    /// Calls `visit(key, ttl)` for every unexpired key (not tombstones), `ttl` being the
    /// time it has left (`None`: no expiry), [`SCAN_CHUNK`] entries per lock hold. Keys
    /// written or removed during the walk may or may not be visited. `visit` runs under a
    /// stripe lock: keep it cheap and never call back into the store.
    pub fn for_each_key(&self, visit: &mut dyn FnMut(&[u8], Option<Duration>)) {
        for slot in &self.slots {
            let mut top = usize::MAX;
            while top > 0 {
                let s = slot.0.lock();
                let now = self.clock.now();
                top = s.scan_down(top, SCAN_CHUNK, |e| {
                    if !e.is_tombstone() && !e.is_expired(now) {
                        let ttl = match e.expires_at() {
                            0 => None,
                            at => Some(Duration::from_nanos(at.saturating_sub(now))),
                        };
                        visit(e.key(), ttl);
                    }
                    true
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SetCond, StoreConfig};

    #[test]
    fn visits_live_keys_with_their_ttls() {
        let s = Store::new(StoreConfig { shards: 4 });
        for i in 0..100 {
            let ttl = (i % 4 == 0).then(|| Duration::from_secs(100));
            s.set(format!("k{i}").as_bytes(), b"v", ttl, SetCond::Always);
        }
        s.del_versioned(b"tombstone", 5);
        s.set(b"gone", b"v", None, SetCond::Always);
        s.del(b"gone");
        let (mut keys, mut expiring, mut longest) = (0, 0, Duration::ZERO);
        s.for_each_key(&mut |_, ttl| {
            keys += 1;
            if let Some(t) = ttl {
                expiring += 1;
                longest = longest.max(t);
            }
        });
        assert_eq!((keys, expiring), (100, 25));
        assert!(longest <= Duration::from_secs(100) && longest > Duration::from_secs(90));
    }
}
