//! SCAN's guarantee (every key present for the whole scan is returned at least once) while
//! other threads grow and shrink the stripes, and EXEC's view ([`Store::lock_all`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::{Keyspace, SetCond, Store, StoreConfig};

fn set(store: &Store, key: &str) {
    store.set(key.as_bytes(), b"v", None, SetCond::Always);
}

/// Scans to the end with `count` per step, calling `between` after each step.
fn scan_all(store: &Store, count: usize, mut between: impl FnMut()) -> HashSet<Bytes> {
    let (mut seen, mut cursor) = (HashSet::new(), 0);
    for _ in 0..1_000_000 {
        let (keys, next) = store.scan(cursor, count, &|_| true);
        seen.extend(keys);
        between();
        cursor = next;
        if cursor == 0 {
            return seen;
        }
    }
    panic!("the scan never ended");
}

#[test]
fn scan_returns_every_stable_key_while_others_churn() {
    let store = Arc::new(Store::new(StoreConfig { shards: 4 }));
    for i in 0..2_000 {
        set(&store, &format!("stable:{i}"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            // Grows every stripe's table (rehashes) and removes keys (moving entries).
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 2_000_000 {
                set(&store, &format!("churn:{i}"));
                if i % 3 == 0 {
                    store.del(format!("churn:{}", i / 2).as_bytes());
                }
                i += 1;
            }
        })
    };
    let mut step = 0u64;
    let seen = scan_all(&store, 16, || {
        // Interleave deterministic churn too, so the test does not rely on scheduling.
        for j in 0..40 {
            set(&store, &format!("mine:{step}:{j}"));
        }
        store.del(format!("mine:{}:0", step / 2).as_bytes());
        step += 1;
    });
    stop.store(true, Ordering::Relaxed);
    churn.join().expect("churn thread");
    for i in 0..2_000 {
        assert!(seen.contains(format!("stable:{i}").as_bytes()), "stable:{i} was skipped");
    }
}

#[test]
fn a_cursor_stays_valid_after_the_store_shrinks() {
    let store = Store::new(StoreConfig::default());
    assert_eq!(store.scan(0, 10, &|_| true), (vec![], 0));
    for i in 0..100 {
        set(&store, &format!("k{i}"));
    }
    let (_, mut cursor) = store.scan(0, 5, &|_| true);
    assert_ne!(cursor, 0);
    store.flush();
    // An old cursor on an emptied store walks on to the end, returning nothing.
    for _ in 0..1_000_000 {
        let (keys, next) = store.scan(cursor, 5, &|_| true);
        assert!(keys.is_empty());
        cursor = next;
        if cursor == 0 {
            return;
        }
    }
    panic!("the scan never ended");
}

#[test]
fn locked_view_runs_the_same_operations() {
    let store = Store::new(StoreConfig::default());
    set(&store, "a");
    {
        let view = store.lock_all();
        assert!(view.exists(b"a"));
        view.set(b"b", b"2", None, SetCond::Always).expect("set");
        assert_eq!(view.len(), 2);
        assert!(view.rename(b"b", b"c", false).expect("rename").done());
        view.flush();
        assert_eq!(view.len(), 0);
    }
    assert_eq!(store.len(), 0, "the view's writes are the store's");
    set(&store, "a");
    assert_eq!(store.get(b"a").as_deref(), Some(&b"v"[..]));
}

#[test]
fn watch_marks_see_writes_creations_and_flushes() {
    let store = Store::new(StoreConfig::default());
    let before = store.watch(b"w");
    assert!(!store.watch(b"w").changed_since(before), "nothing happened");
    set(&store, "w");
    assert!(store.watch(b"w").changed_since(before), "created");
    let live = store.watch(b"w");
    store.get(b"w");
    assert!(!store.watch(b"w").changed_since(live), "a read is no change");
    set(&store, "w");
    assert!(store.watch(b"w").changed_since(live), "written");
    let live = store.watch(b"w");
    store.flush();
    set(&store, "w");
    assert!(store.watch(b"w").changed_since(live), "flushed");
}
