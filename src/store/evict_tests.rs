//! `maxmemory`: refusal under `NoEviction` (and that deletes still work), and CLOCK eviction:
//! the limit holds, read keys survive, expired keys go first, and work per write is bounded.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::tests::store_opts;
use super::{
    ENTRY_OVERHEAD, EVICT_SCAN_MAX, EvictionPolicy, SetCond, Store, StoreError, StoreOptions,
};

const SEC: Duration = Duration::from_secs(1);
/// The footprint of one `key(i)` with an 8-byte value.
const FP: usize = 4 + 8 + ENTRY_OVERHEAD;

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

fn limited(maxmemory: usize, eviction: EvictionPolicy) -> StoreOptions {
    StoreOptions { maxmemory, eviction, ..StoreOptions::default() }
}

fn inspected(s: &Store) -> u64 {
    s.slots.iter().map(|slot| slot.0.lock().counters.evict_inspected).sum()
}

#[test]
fn noeviction_refuses_past_the_limit_and_accepts_after_a_delete() {
    let (s, _) = store_opts(1, limited(10 * FP, EvictionPolicy::NoEviction));
    for i in 0..10 {
        assert_eq!(s.try_set(&key(i), &[0; 8], None, SetCond::Always), Ok(true));
    }
    let oom = Err(StoreError::OutOfMemory { maxmemory: 10 * FP });
    assert_eq!(s.try_set(&key(10), &[0; 8], None, SetCond::Always), oom);
    assert!(!s.set(&key(10), &[0; 8], None, SetCond::Always), "plain set says false");
    assert_eq!(s.try_set(&key(10), &[0; 8], None, SetCond::IfPresent), Ok(false), "XX miss");
    assert_eq!(s.try_set(&key(0), &[0; 8], None, SetCond::IfAbsent), Ok(false), "NX miss");
    assert_eq!(s.try_set(&key(0), &[1; 8], None, SetCond::Always), Ok(true), "same size");
    assert_eq!(s.try_set(&key(0), &[1; 9], None, SetCond::Always), oom, "growing overwrite");
    assert_eq!(s.try_set_versioned(&key(11), &[0; 8], None, 5), oom);
    assert!(!s.exists(&key(10)) && !s.exists(&key(11)));
    assert!(s.del(&key(3)));
    assert_eq!(s.try_set(&key(10), &[0; 8], None, SetCond::Always), Ok(true));
    let st = s.stats();
    assert_eq!((st.used_memory, st.keys, st.evictions), (10 * FP, 10, 0));
    s.check_invariants();
}

#[test]
fn deletes_and_shrinking_writes_work_when_full() {
    let (s, _) = store_opts(1, limited(10 * FP, EvictionPolicy::NoEviction));
    for i in 0..10 {
        s.set(&key(i), &[0; 8], None, SetCond::Always);
    }
    assert!(!s.del_versioned(b"absent", 5), "nothing live removed");
    assert_eq!(s.version_of(b"absent"), Some(5), "but the tombstone is recorded");
    assert!(s.stats().used_memory > 10 * FP, "even though it goes over");
    assert_eq!(s.try_set(&key(1), b"", None, SetCond::Always), Ok(true), "shrinks");
    assert!(s.del_versioned(&key(2), u64::MAX - 1));
    assert!(s.expire(&key(3), Duration::ZERO));
    assert!(s.set(&key(4), b"", Some(Duration::ZERO), SetCond::Always));
    assert_eq!(s.len(), 7);
}

#[test]
fn a_value_larger_than_the_shard_budget_is_refused_even_with_eviction() {
    let (s, _) = store_opts(2, limited(20 * FP, EvictionPolicy::Clock));
    for i in 0..10 {
        s.set(&key(i), &[0; 8], None, SetCond::Always);
    }
    let huge = vec![0; 10 * FP];
    let got = s.try_set(b"huge", &huge, None, SetCond::Always);
    assert_eq!(got, Err(StoreError::OutOfMemory { maxmemory: 20 * FP }));
    assert_eq!((s.len(), s.stats().evictions), (10, 0), "nothing evicted for nothing");
}

#[test]
fn clock_keeps_used_memory_within_the_limit() {
    let max = 64 * 1024;
    let (s, _) = store_opts(4, limited(max, EvictionPolicy::Clock));
    let mut rng = StdRng::seed_from_u64(3);
    for i in 0..20_000u32 {
        let value = vec![0; rng.gen_range(0..300)];
        assert_eq!(s.try_set(&key(i % 7_000), &value, None, SetCond::Always), Ok(true));
        if i % 3 == 0 {
            s.get(&key(rng.gen_range(0..=i)));
        }
        let used = s.stats().used_memory;
        assert!(used <= max, "write {i}: {used} > {max}");
    }
    let st = s.stats();
    assert!(st.evictions > 10_000, "{st:?}");
    assert!(st.used_memory > max * 9 / 10, "eviction frees only what it must: {st:?}");
    s.check_invariants();
}

#[test]
fn frequently_read_keys_survive_and_cold_keys_go() {
    let (s, _) = store_opts(1, limited(100 * FP, EvictionPolicy::Clock));
    let (hot, cold) = (0..20u32, 100..120u32);
    for i in hot.clone().chain(cold.clone()) {
        s.set(&key(i), &[0; 8], None, SetCond::Always);
    }
    for i in 1_000..6_000u32 {
        s.set(&key(i), &[1; 8], None, SetCond::Always);
        if i % 10 == 0 {
            for k in hot.clone() {
                assert!(s.get(&key(k)).is_some(), "hot key {k} evicted at write {i}");
            }
        }
    }
    assert!(cold.clone().all(|k| !s.exists(&key(k))), "unread keys were evicted");
    assert_eq!(s.len(), 100);
    assert_eq!(s.stats().evictions, 40 + 5_000 - 100);
}

#[test]
fn clock_reclaims_expired_entries_before_live_ones() {
    let (s, clock) = store_opts(1, limited(100 * FP, EvictionPolicy::Clock));
    for i in 0..100u32 {
        s.set(&key(i), &[0; 8], (i % 2 == 0).then_some(SEC), SetCond::Always);
        s.get(&key(i));
    }
    clock.advance(SEC);
    for i in 100..150u32 {
        s.set(&key(i), &[0; 8], None, SetCond::Always);
    }
    let st = s.stats();
    assert_eq!((st.expired_keys, st.evictions, st.keys), (50, 0, 100), "{st:?}");
    assert!((1..100).step_by(2).all(|i| s.exists(&key(i))), "every live key kept");
}

#[test]
fn eviction_work_per_write_is_bounded() {
    let (s, _) = store_opts(1, limited(1_000 * FP, EvictionPolicy::Clock));
    for i in 0..1_000u32 {
        s.set(&key(i), &[0; 8], None, SetCond::Always);
        s.get(&key(i));
    }
    // Every key is visited: nothing is evictable within the bound.
    let before = inspected(&s);
    assert!(s.set(&key(5_000), &[0; 8], None, SetCond::Always));
    let spent = inspected(&s) - before;
    assert_eq!(spent, EVICT_SCAN_MAX as u64 + 1, "the bound, then the entry under the hand");
    assert_eq!((s.stats().evictions, s.len()), (1, 1_000));
    // A write that needs ten victims pays the bound plus one look per victim.
    let before = inspected(&s);
    assert!(s.set(b"wide", &vec![0; 9 * FP + 8], None, SetCond::Always));
    let spent = inspected(&s) - before;
    assert!(spent <= EVICT_SCAN_MAX as u64 + 10, "{spent}");
    assert_eq!(s.stats().evictions, 11);
    s.check_invariants();
}
