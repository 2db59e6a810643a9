//! Store semantics tests: every TTL decision runs on a [`ManualClock`], so deadlines are hit to
//! the nanosecond with no sleeping. Sweeping is tested in `sweep_tests.rs`.

use std::sync::Arc;
use std::time::Duration;

use super::{
    DumpEntry, ENTRY_OVERHEAD, MAX_SHARDS, ManualClock, SetCond, Store, StoreConfig, StoreOptions,
    StoreStats, TtlState,
};

const SEC: Duration = Duration::from_secs(1);

pub(super) fn store_with(shards: usize) -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let store = Store::with_clock(StoreConfig { shards }, Arc::clone(&clock) as _);
    (store, clock)
}

/// A store with `opts` on its own manual clock.
pub(super) fn store_opts(shards: usize, opts: StoreOptions) -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let store = Store::with_options(StoreConfig { shards }, opts, Arc::clone(&clock) as _);
    (store, clock)
}

/// Every entry of a quiescent store, sorted by key (pages have no duplicates when nothing
/// changes between them).
pub(super) fn full_dump(store: &Store) -> Vec<DumpEntry> {
    let (mut all, mut cursor) = (Vec::new(), 0);
    loop {
        let (page, next) = store.dump_page(cursor, 100, usize::MAX, &|_| true);
        all.extend(page);
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    all.sort_by(|a, b| a.key.cmp(&b.key));
    all
}

fn get(store: &Store, key: &[u8]) -> Option<Vec<u8>> {
    store.get(key).map(|b| b.to_vec())
}

#[test]
fn set_get_del_exists_basics() {
    let (s, _) = store_with(4);
    assert!(s.is_empty());
    assert_eq!(get(&s, b"k"), None);
    assert!(s.set(b"k", b"v", None, SetCond::Always));
    assert_eq!(get(&s, b"k"), Some(b"v".to_vec()));
    assert!(s.exists(b"k"));
    assert_eq!(s.len(), 1);
    assert!(s.del(b"k"));
    assert!(!s.del(b"k"), "second delete finds nothing");
    assert!(!s.exists(b"k"));
    assert!(s.is_empty());
    // Empty key and empty value are ordinary keys/values.
    assert!(s.set(b"", b"", None, SetCond::Always));
    assert_eq!(get(&s, b""), Some(Vec::new()));
}

#[test]
fn set_copies_value_out_of_caller_buffer() {
    let (s, _) = store_with(1);
    let mut big = vec![7u8; 4096];
    assert!(s.set(b"k", &big[..16], None, SetCond::Always));
    let held = s.get(b"k").expect("just set");
    let range = big.as_ptr_range();
    assert!(!range.contains(&held.as_ptr()), "value must not alias the caller's buffer");
    big.fill(0);
    assert_eq!(&held[..], &[7u8; 16][..]);
}

#[test]
fn overwrite_replaces_value_and_ttl() {
    let (s, clock) = store_with(1);
    assert!(s.set(b"k", b"a", Some(5 * SEC), SetCond::Always));
    assert!(s.set(b"k", b"b", None, SetCond::Always));
    assert_eq!(s.ttl(b"k"), TtlState::Persistent, "no TTL given = persistent");
    assert!(s.set(b"k", b"c", Some(20 * SEC), SetCond::Always));
    clock.advance(10 * SEC);
    assert_eq!(s.ttl(b"k"), TtlState::Expires(10 * SEC));
    assert_eq!(get(&s, b"k"), Some(b"c".to_vec()));
    assert_eq!(s.len(), 1);
}

#[test]
fn never_stale_at_or_after_deadline() {
    // Each read path, probed at exactly the deadline: all must see the key as absent.
    type Probe = fn(&Store) -> bool;
    let probes: [(&str, Probe); 7] = [
        ("get", |s| s.get(b"k").is_some()),
        ("exists", |s| s.exists(b"k")),
        ("ttl", |s| s.ttl(b"k") != TtlState::Missing),
        ("expire", |s| s.expire(b"k", SEC)),
        ("persist", |s| s.persist(b"k")),
        ("del", |s| s.del(b"k")),
        ("set XX", |s| s.set(b"k", b"x", None, SetCond::IfPresent)),
    ];
    for (name, probe) in probes {
        let (s, clock) = store_with(2);
        assert!(s.set(b"k", b"v", Some(5 * SEC), SetCond::Always));
        clock.set(5_000_000_000 - 1);
        assert_eq!(get(&s, b"k"), Some(b"v".to_vec()), "{name}: live 1ns before");
        clock.set(5_000_000_000);
        assert!(!probe(&s), "{name}: saw the key at its deadline");
        assert_eq!(s.len(), 0, "{name}: expired entry removed on the spot");
        assert_eq!(s.stats().expired_keys, 1, "{name}");
        clock.advance(SEC);
        assert!(!probe(&s), "{name}: saw the key after its deadline");
    }
}

#[test]
fn ttl_states() {
    let (s, clock) = store_with(1);
    assert_eq!(s.ttl(b"none"), TtlState::Missing);
    s.set(b"p", b"v", None, SetCond::Always);
    assert_eq!(s.ttl(b"p"), TtlState::Persistent);
    s.set(b"t", b"v", Some(Duration::from_millis(1500)), SetCond::Always);
    clock.advance(Duration::from_millis(400));
    assert_eq!(s.ttl(b"t"), TtlState::Expires(Duration::from_millis(1100)));
    clock.advance(Duration::from_millis(1100));
    assert_eq!(s.ttl(b"t"), TtlState::Missing);
}

#[test]
fn expire_and_persist() {
    let (s, clock) = store_with(1);
    assert!(!s.expire(b"k", SEC), "missing key");
    assert!(!s.persist(b"k"), "missing key");
    s.set(b"k", b"v", None, SetCond::Always);
    assert!(!s.persist(b"k"), "no TTL to remove");
    assert!(s.expire(b"k", 3 * SEC));
    assert_eq!(s.ttl(b"k"), TtlState::Expires(3 * SEC));
    assert!(s.persist(b"k"));
    clock.advance(10 * SEC);
    assert_eq!(get(&s, b"k"), Some(b"v".to_vec()), "persisted key outlives old TTL");
    assert!(s.expire(b"k", Duration::ZERO), "zero TTL deletes, like Redis");
    assert!(!s.exists(b"k"));
    assert_eq!(s.stats().used_memory, 0);
}

#[test]
fn nx_and_xx() {
    let (s, _) = store_with(1);
    assert!(!s.set(b"k", b"x", None, SetCond::IfPresent), "XX on absent");
    assert!(!s.exists(b"k"), "failed XX creates nothing");
    assert!(s.set(b"k", b"a", None, SetCond::IfAbsent), "NX on absent");
    assert!(!s.set(b"k", b"b", None, SetCond::IfAbsent), "NX on present");
    assert_eq!(get(&s, b"k"), Some(b"a".to_vec()));
    assert!(s.set(b"k", b"c", None, SetCond::IfPresent), "XX on present");
    assert_eq!(get(&s, b"k"), Some(b"c".to_vec()));
}

#[test]
fn expired_key_is_absent_for_nx_and_xx() {
    let (s, clock) = store_with(1);
    s.set(b"k", b"old", Some(SEC), SetCond::Always);
    clock.advance(SEC);
    assert!(s.set(b"k", b"new", None, SetCond::IfAbsent));
    assert_eq!(get(&s, b"k"), Some(b"new".to_vec()));
    assert_eq!(s.ttl(b"k"), TtlState::Persistent);
    s.set(b"j", b"old", Some(SEC), SetCond::Always);
    clock.advance(SEC);
    assert!(!s.set(b"j", b"new", None, SetCond::IfPresent));
    assert!(!s.exists(b"j"));
    assert_eq!(s.stats().expired_keys, 2);
}

#[test]
fn zero_ttl_set_deletes() {
    let (s, _) = store_with(1);
    s.set(b"k", b"v", None, SetCond::Always);
    assert!(!s.set(b"k", b"x", Some(Duration::ZERO), SetCond::IfAbsent), "NX still applies");
    assert_eq!(get(&s, b"k"), Some(b"v".to_vec()));
    assert!(s.set(b"k", b"x", Some(Duration::ZERO), SetCond::Always));
    assert!(!s.exists(b"k"));
    assert!(s.set(b"n", b"x", Some(Duration::ZERO), SetCond::Always));
    assert!(s.is_empty());
    assert_eq!(s.stats().used_memory, 0);
}

#[test]
fn huge_ttls_saturate_without_panic() {
    let (s, clock) = store_with(1);
    clock.set(u64::MAX - 10);
    assert!(s.set(b"k", b"v", Some(Duration::MAX), SetCond::Always));
    assert_eq!(s.ttl(b"k"), TtlState::Expires(Duration::from_nanos(10)));
    assert!(s.expire(b"k", Duration::MAX));
    assert!(s.set(b"tiny", b"v", Some(Duration::from_nanos(1)), SetCond::Always));
    clock.set(u64::MAX);
    assert!(!s.exists(b"k"), "saturated deadline is still a deadline");
    assert!(!s.exists(b"tiny"));
}

#[test]
fn del_of_expired_key_reclaims_but_reports_false() {
    let (s, clock) = store_with(1);
    s.set(b"k", b"v", Some(SEC), SetCond::Always);
    clock.advance(2 * SEC);
    assert_eq!(s.len(), 1, "len counts unswept expired keys, like DBSIZE");
    assert!(!s.del(b"k"));
    assert_eq!(s.len(), 0);
    assert_eq!(s.stats().expired_keys, 1);
}

#[test]
fn stats_counters() {
    let (s, clock) = store_with(4);
    s.set(b"a", b"1", None, SetCond::Always);
    s.set(b"b", b"2", Some(SEC), SetCond::Always);
    assert!(s.get(b"a").is_some());
    assert!(s.get(b"b").is_some());
    assert!(s.get(b"zz").is_none());
    clock.advance(SEC);
    assert!(s.get(b"b").is_none(), "expired read is a miss");
    let st = s.stats();
    let expected = StoreStats {
        keys: 1,
        tombstones: 0,
        expiring: 0,
        expired_keys: 1,
        evictions: 0,
        get_hits: 2,
        get_misses: 2,
        used_memory: 2 + ENTRY_OVERHEAD,
        sweep_last_pass_ms: 0,
        sweep_passes: 0,
    };
    assert_eq!(st, expected);
    s.exists(b"a");
    assert_eq!(s.stats().get_hits, 2, "only get counts hits");
}

#[test]
fn flush_empties_and_keeps_counters() {
    let (s, _) = store_with(8);
    for i in 0..100u32 {
        s.set(&i.to_be_bytes(), b"v", None, SetCond::Always);
    }
    assert!(s.get(&7u32.to_be_bytes()).is_some());
    s.flush();
    assert!(s.is_empty());
    let st = s.stats();
    assert_eq!((st.keys, st.used_memory, st.get_hits), (0, 0, 1));
    assert!(s.set(b"after", b"v", None, SetCond::Always), "usable after flush");
    s.check_invariants();
}

#[test]
fn used_memory_tracks_and_returns_to_zero() {
    let (s, clock) = store_with(2);
    let used = |s: &Store| s.stats().used_memory;
    s.set(b"key", b"12345", None, SetCond::Always);
    assert_eq!(used(&s), 3 + 5 + ENTRY_OVERHEAD);
    s.set(b"key", b"1", None, SetCond::Always);
    assert_eq!(used(&s), 3 + 1 + ENTRY_OVERHEAD, "overwrite adjusts by value delta");
    s.set(b"other", b"xy", Some(SEC), SetCond::Always);
    assert_eq!(used(&s), 4 + 7 + 2 * ENTRY_OVERHEAD);
    clock.advance(SEC);
    assert!(!s.exists(b"other"));
    assert!(s.del(b"key"));
    assert_eq!(used(&s), 0);
    s.check_invariants();
}

#[test]
fn shard_count_is_power_of_two_and_capped() {
    let count = |shards| StoreConfig { shards }.resolved_shards();
    assert_eq!(count(1), 1);
    assert_eq!(count(3), 4);
    assert_eq!(count(64), 64);
    assert_eq!(count(usize::MAX), MAX_SHARDS);
    let auto = count(0);
    assert!(auto.is_power_of_two() && auto >= 4, "{auto}");
    assert_eq!(store_with(5).0.shard_count(), 8);
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn micro_sanity_concurrent_ops() {
    // Not a benchmark: a quick multi-threaded smoke run that checks the books balance.
    let (s, _) = store_with(16);
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for t in 0..4u32 {
            let s = &s;
            scope.spawn(move || {
                for i in 0..20_000u32 {
                    let key = [t.to_be_bytes(), i.to_be_bytes()].concat();
                    assert!(s.set(&key, &i.to_le_bytes(), None, SetCond::Always));
                    assert_eq!(s.get(&key).as_deref(), Some(&i.to_le_bytes()[..]));
                    if i % 2 == 0 {
                        assert!(s.del(&key));
                    }
                }
            });
        }
    });
    eprintln!("micro sanity: 4x20k set+get(+del) in {:?}", started.elapsed());
    assert_eq!(s.len(), 4 * 10_000);
    assert_eq!(s.stats().used_memory, 4 * 10_000 * (8 + 4 + ENTRY_OVERHEAD));
    s.check_invariants();
}

#[test]
fn keys_and_values_of_every_slab_size_match_a_model_and_give_memory_back() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use std::collections::HashMap;
    // Lengths at and around the slab's class edges, the inline limit and the huge-record limit.
    const KEY_LENS: [usize; 9] = [0, 1, 8, 9, 16, 100, 511, 512, 513];
    const VALUE_LENS: [usize; 8] = [0, 1, 7, 8, 40, 256, 257, 1_000];
    let (s, _) = store_with(2);
    let mut rng = StdRng::seed_from_u64(11);
    let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for step in 0..20_000u32 {
        let id = rng.gen_range(0..400u32).to_be_bytes();
        let key: Vec<u8> = id.iter().cycle().take(KEY_LENS[rng.gen_range(0..9)]).copied().collect();
        match rng.gen_range(0..8) {
            0..=4 => {
                let value = vec![step as u8; VALUE_LENS[rng.gen_range(0..8)]];
                assert!(s.set(&key, &value, None, SetCond::Always));
                model.insert(key, value);
            }
            5 | 6 => assert_eq!(s.del(&key), model.remove(&key).is_some()),
            _ => assert_eq!(get(&s, &key), model.get(&key).cloned(), "step {step}"),
        }
        if step % 2_000 == 0 {
            s.check_invariants();
        }
    }
    s.check_invariants();
    for (key, value) in &model {
        assert_eq!(get(&s, key).as_ref(), Some(value));
        assert!(s.del(key));
    }
    assert_eq!(s.stats().used_memory, 0);
    s.check_invariants();
    for slot in &s.slots {
        assert_eq!(slot.0.lock().slab_pages(), (0, 0), "every slab page given back");
    }
}

#[test]
fn prefetch_changes_nothing() {
    let (store, clock) = store_with(4);
    for i in 0..100u32 {
        let ttl = (i % 3 == 0).then_some(SEC);
        assert!(store.set(
            format!("k{i}").as_bytes(),
            &[7; 300][..(i as usize % 300)],
            ttl,
            SetCond::Always
        ));
    }
    store.del(b"k1");
    clock.advance(SEC);
    let before = (full_dump(&store), store.stats().get_hits, store.stats().get_misses);
    let keys: Vec<String> = (0..120).map(|i| format!("k{}", i % 110)).collect();
    store.prefetch(keys.iter().map(|k| k.as_bytes()));
    store.prefetch([&b""[..], b"k2", b"k2", b"missing"]);
    let after = (full_dump(&store), store.stats().get_hits, store.stats().get_misses);
    assert_eq!(before, after);
    assert_eq!(store.get(b"k2").as_deref(), Some(&[7; 300][..2]));
    assert_eq!(store.get(b"k3"), None);
}
