//! Versions and tombstones: last-writer-wins rules, the "no resurrection" property, tombstone
//! visibility and lifetime, plain writes stamped by the store's clock, and convergence of
//! replicas that see the same versioned writes in different orders.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::tests::{full_dump, store_opts, store_with};
use super::{DEFAULT_TOMBSTONE_TTL, ENTRY_OVERHEAD, SetCond, Store, StoreOptions, TtlState};

const SEC: Duration = Duration::from_secs(1);

fn cluster() -> StoreOptions {
    StoreOptions { tombstones: true, ..StoreOptions::default() }
}

fn get(store: &Store, key: &[u8]) -> Option<Vec<u8>> {
    store.get(key).map(|b| b.to_vec())
}

#[test]
fn versioned_set_is_last_writer_wins() {
    let (s, _) = store_with(2);
    assert!(s.set_versioned(b"k", b"v10", None, 10), "absent: applied");
    assert!(!s.set_versioned(b"k", b"v5", None, 5), "older: ignored");
    assert!(!s.set_versioned(b"k", b"v10", None, 10), "equal and the same: ignored");
    assert!(!s.set_versioned(b"k", b"v1", None, 10), "equal, smaller content: loses the tie");
    assert!(s.set_versioned(b"k", b"v10b", None, 10), "equal, greater content: wins the tie");
    assert_eq!((get(&s, b"k"), s.version_of(b"k")), (Some(b"v10b".to_vec()), Some(10)));
    assert!(!s.del_versioned(b"k", 10), "a delete never wins a tie against a value");
    assert!(s.set_versioned(b"k", b"v11", Some(SEC), 11), "newer: applied");
    assert_eq!((get(&s, b"k"), s.version_of(b"k")), (Some(b"v11".to_vec()), Some(11)));
    assert_eq!(s.ttl(b"k"), TtlState::Expires(SEC), "the newer write's TTL");
    assert!(!s.set_versioned(b"z", b"v", None, 0), "version 0 means none: never applied");
    assert_eq!(s.version_of(b"z"), None);
}

#[test]
fn tombstone_blocks_an_older_delayed_set() {
    // The core property: a delete must not be undone by an older write that arrives late,
    // whether the delete arrived before or after the key existed here.
    let (s, _) = store_with(1);
    assert!(s.set_versioned(b"k", b"v", None, 10));
    assert!(s.del_versioned(b"k", 20), "removed a live key");
    assert!(!s.set_versioned(b"k", b"late", None, 15), "older set after the delete");
    assert!(!s.exists(b"k"));
    assert!(!s.del_versioned(b"absent", 30), "no live key removed");
    assert!(!s.set_versioned(b"absent", b"late", None, 25), "tombstone for an absent key");
    assert_eq!(s.version_of(b"absent"), Some(30));
    assert!(!s.del_versioned(b"k", 19), "older delete is stale");
    assert_eq!(s.version_of(b"k"), Some(20));
    assert!(s.set_versioned(b"k", b"newer", None, 21), "a newer write replaces the tombstone");
    assert_eq!(get(&s, b"k"), Some(b"newer".to_vec()));
    assert!(!s.del_versioned(b"k", 21), "equal-version delete is stale");
    s.check_invariants();
}

#[test]
fn tombstones_are_invisible_to_reads() {
    let (s, _) = store_opts(2, cluster());
    s.set(b"k", b"v", None, SetCond::Always);
    s.set(b"other", b"v", None, SetCond::Always);
    assert!(s.del(b"k"));
    assert_eq!(get(&s, b"k"), None);
    assert!(!s.exists(b"k"));
    assert_eq!(s.ttl(b"k"), TtlState::Missing);
    assert!(!s.expire(b"k", SEC) && !s.persist(b"k") && !s.del(b"k"));
    assert!(!s.set(b"k", b"x", None, SetCond::IfPresent), "XX sees no key");
    assert_eq!(s.len(), 1);
    let st = s.stats();
    assert_eq!((st.keys, st.tombstones), (1, 1));
    assert_eq!(st.used_memory, (1 + ENTRY_OVERHEAD) + (5 + 1 + ENTRY_OVERHEAD));
    assert!(s.version_of(b"k").is_some(), "but it has a version");
    assert!(s.set(b"k", b"back", None, SetCond::IfAbsent), "NX sees no key");
    assert_eq!((s.len(), s.stats().tombstones), (2, 0));
    s.check_invariants();
}

#[test]
fn tombstone_is_reclaimed_by_sweep_after_its_ttl() {
    let (s, clock) = store_opts(4, cluster());
    for i in 0..100u32 {
        s.set_versioned(&i.to_be_bytes(), b"v", None, 5);
        s.del_versioned(&i.to_be_bytes(), 10);
    }
    s.del_versioned(b"never-set", 10);
    assert_eq!(s.stats().tombstones, 101);
    clock.advance(DEFAULT_TOMBSTONE_TTL - Duration::from_nanos(1));
    assert_eq!(s.sweep_pass(), 0, "still guarding");
    clock.advance(Duration::from_nanos(1));
    assert_eq!(s.sweep_pass(), 101);
    let st = s.stats();
    assert_eq!((st.tombstones, st.used_memory, st.expired_keys), (0, 0, 0), "not keys");
    // Past the tombstone's life, a very late write is accepted again: the documented bound.
    assert!(s.set_versioned(b"never-set", b"late", None, 3));
}

#[test]
fn plain_del_leaves_a_tombstone_only_when_enabled() {
    let (plain, _) = store_with(1);
    plain.set(b"k", b"v", None, SetCond::Always);
    assert!(plain.del(b"k"));
    assert_eq!((plain.stats().tombstones, plain.version_of(b"k")), (0, None));

    let (s, _) = store_opts(1, cluster());
    s.set(b"k", b"v", None, SetCond::Always);
    let set_version = s.version_of(b"k").expect("stamped");
    assert!(s.del(b"k"));
    let del_version = s.version_of(b"k").expect("tombstone");
    assert!(del_version > set_version);
    assert!(!s.set_versioned(b"k", b"v", None, set_version), "the old write stays dead");
    assert!(!s.del(b"absent"));
    assert_eq!(s.stats().tombstones, 1, "deleting nothing leaves nothing");
    // Zero-TTL writes and expiries are deletes too.
    for (key, del) in [(b"a", 0), (b"b", 1)] {
        s.set(key, b"v", None, SetCond::Always);
        if del == 0 {
            assert!(s.set(key, b"x", Some(Duration::ZERO), SetCond::Always));
        } else {
            assert!(s.expire(key, Duration::ZERO));
        }
        assert!(!s.exists(key) && s.version_of(key).is_some());
    }
    assert_eq!(s.stats().tombstones, 3);
    s.check_invariants();
}

#[test]
fn plain_writes_are_stamped_newer_than_anything_observed() {
    let (s, _) = store_with(2);
    let future = s.hlc().now() + (3_600_000 << crate::version::MS_SHIFT);
    assert!(s.set_versioned(b"k", b"from the future", None, future));
    assert!(s.set(b"k", b"direct", None, SetCond::Always), "plain writes always apply");
    let v1 = s.version_of(b"k").expect("live");
    assert!(v1 > future, "{v1} <= {future}");
    assert!(s.expire(b"k", 10 * SEC));
    let v2 = s.version_of(b"k").expect("live");
    assert!(s.persist(b"k"));
    let v3 = s.version_of(b"k").expect("live");
    assert!(v1 < v2 && v2 < v3, "{v1} {v2} {v3}");
    assert!(!s.persist(b"k"), "nothing to persist");
    assert_eq!(s.version_of(b"k"), Some(v3), "a no-op is not a new version");
    // Even an absurd version cannot make a plain write lose.
    assert!(s.set_versioned(b"max", b"v", None, u64::MAX - 1));
    assert!(s.set(b"max", b"plain", None, SetCond::Always));
    assert_eq!(s.version_of(b"max"), Some(u64::MAX));
}

#[test]
fn an_expired_entry_counts_as_absent() {
    let (s, clock) = store_with(1);
    assert!(s.set_versioned(b"k", b"v", Some(SEC), 10));
    clock.advance(SEC);
    assert_eq!(s.version_of(b"k"), None);
    assert!(s.set_versioned(b"k", b"older but alive", None, 5));
    assert_eq!(s.version_of(b"k"), Some(5));
    assert!(s.set_versioned(b"t", b"v", Some(Duration::ZERO), 7), "zero TTL = versioned delete");
    assert!(!s.set_versioned(b"t", b"v", None, 6), "which leaves a tombstone");
}

#[test]
fn state_of_reports_value_ttl_and_version_or_the_tombstone() {
    let (s, clock) = store_opts(1, cluster());
    assert_eq!(s.state_of(b"k"), None, "nothing held");
    assert!(s.set_versioned(b"k", b"v", Some(3 * SEC), 10));
    clock.advance(SEC);
    let e = s.state_of(b"k").expect("held");
    assert_eq!((e.value.as_deref(), e.ttl, e.version), (Some(&b"v"[..]), Some(2 * SEC), 10));
    assert!(s.expire(b"k", Duration::ZERO), "a plain delete");
    let tomb = s.state_of(b"k").expect("the tombstone");
    assert!(tomb.value.is_none() && tomb.version > 10, "{tomb:?}");
    let (hits, misses) = (s.stats().get_hits, s.stats().get_misses);
    assert_eq!((hits, misses), (0, 0), "not counted as reads");
}

/// A replicated write: `(key, version, Some(value) or None for a delete, ttl)`.
type Op = (u8, u64, Option<Vec<u8>>, Option<Duration>);

fn random_ops(rng: &mut StdRng, n: u64, keys: u8) -> Vec<Op> {
    let mut versions: Vec<u64> = (1..=n).collect();
    versions.shuffle(rng);
    versions
        .into_iter()
        .map(|v| {
            let key = rng.gen_range(0..keys);
            let value = (rng.gen_range(0..4) != 0).then(|| v.to_le_bytes().repeat(v as usize % 40));
            let ttl = rng.gen_bool(0.3).then(|| Duration::from_secs(rng.gen_range(1..100)));
            (key, v, value, ttl)
        })
        .collect()
}

fn deliver(store: &Store, ops: &[Op]) {
    for (key, version, value, ttl) in ops {
        match value {
            Some(value) => drop(store.set_versioned(&[*key], value, *ttl, *version)),
            None => drop(store.del_versioned(&[*key], *version)),
        }
    }
}

#[test]
fn replicas_converge_whatever_the_delivery_order() {
    let mut rng = StdRng::seed_from_u64(0x5a1e);
    for round in 0..30 {
        let ops = random_ops(&mut rng, 300, 24);
        let (a, _) = store_opts(4, cluster());
        let (b, _) = store_opts(2, StoreOptions::default());
        let mut shuffled = ops.clone();
        shuffled.shuffle(&mut rng);
        deliver(&a, &ops);
        deliver(&b, &shuffled);
        // Duplicated delivery changes nothing either.
        deliver(&b, &ops[..50]);
        let (da, db) = (full_dump(&a), full_dump(&b));
        assert_eq!(da, db, "round {round}");
        // And each key holds its newest write.
        for e in &da {
            let newest = ops.iter().filter(|op| op.0 == e.key[0]).map(|op| op.1).max();
            assert_eq!(Some(e.version), newest, "round {round} key {:?}", e.key);
        }
        a.check_invariants();
        b.check_invariants();
    }
}
