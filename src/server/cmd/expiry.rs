//! Time-to-live commands: TTL, PTTL (and the binary TTL opcode), EXPIRE, PEXPIRE, PERSIST.

use crate::protocol::{Reply, TtlUnit};
use crate::store::{Store, TtlState};

/// TTL/PTTL: -2 when absent, -1 when the key never expires, else the remaining time.
///
/// Seconds round to the nearest second, as Redis does, so a fresh `EX 10` reads 10.
pub fn ttl(store: &Store, key: &[u8], unit: TtlUnit) -> Reply {
    match store.ttl(key) {
        TtlState::Missing => Reply::Int(-2),
        TtlState::Persistent => Reply::Int(-1),
        TtlState::Expires(left) => {
            let ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX);
            match unit {
                TtlUnit::Millis => Reply::Int(ms.max(1)),
                TtlUnit::Seconds => Reply::Int((ms + 500) / 1000),
            }
        }
    }
}

/// EXPIRE/PEXPIRE: 1 if the key exists (a zero TTL deletes it), else 0.
pub fn expire(store: &Store, key: &[u8], ttl: std::time::Duration) -> Reply {
    Reply::Int(i64::from(store.expire(key, ttl)))
}

/// PERSIST: 1 if a TTL was removed, else 0.
pub fn persist(store: &Store, key: &[u8]) -> Reply {
    Reply::Int(i64::from(store.persist(key)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::store::{ManualClock, SetCond, StoreConfig};

    #[test]
    fn ttl_states_in_both_units() {
        let clock = Arc::new(ManualClock::new());
        let store = Store::with_clock(StoreConfig::default(), clock.clone());
        assert_eq!(ttl(&store, b"k", TtlUnit::Seconds), Reply::Int(-2));
        store.set(b"k", b"v", None, SetCond::Always);
        assert_eq!(ttl(&store, b"k", TtlUnit::Millis), Reply::Int(-1));
        assert_eq!(expire(&store, b"k", Duration::from_secs(10)), Reply::Int(1));
        assert_eq!(ttl(&store, b"k", TtlUnit::Seconds), Reply::Int(10));
        clock.advance(Duration::from_millis(2_600));
        assert_eq!(ttl(&store, b"k", TtlUnit::Millis), Reply::Int(7_400));
        assert_eq!(ttl(&store, b"k", TtlUnit::Seconds), Reply::Int(7));
        assert_eq!(persist(&store, b"k"), Reply::Int(1));
        assert_eq!(persist(&store, b"k"), Reply::Int(0));
        clock.advance(Duration::from_secs(3600));
        assert_eq!(ttl(&store, b"k", TtlUnit::Millis), Reply::Int(-1));
    }

    #[test]
    fn expire_zero_deletes_and_missing_is_zero() {
        let store = Store::new(StoreConfig::default());
        assert_eq!(expire(&store, b"k", Duration::from_secs(1)), Reply::Int(0));
        store.set(b"k", b"v", None, SetCond::Always);
        assert_eq!(expire(&store, b"k", Duration::ZERO), Reply::Int(1));
        assert_eq!(ttl(&store, b"k", TtlUnit::Millis), Reply::Int(-2));
    }
}
