//! Dumps and bulk removal: page limits, filters, the end-of-dump cursor, coverage while the
//! store changes between pages, and applying a dump elsewhere.

use std::collections::HashSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::tests::{full_dump, store_opts, store_with};
use super::{DUMP_SCAN_MAX, DumpEntry, INLINE_VALUE_MAX, SetCond, Store, StoreOptions};

const SEC: Duration = Duration::from_secs(1);

fn key(prefix: &str, i: u32) -> Vec<u8> {
    format!("{prefix}{i:05}").into_bytes()
}

/// Pages through `store` with the given limits, checking them, until the cursor is `None`.
fn all_pages(
    store: &Store,
    max_items: usize,
    max_bytes: usize,
    filter: &dyn Fn(&[u8]) -> bool,
) -> Vec<Vec<DumpEntry>> {
    let (mut pages, mut cursor) = (Vec::new(), 0);
    loop {
        let (page, next) = store.dump_page(cursor, max_items, max_bytes, filter);
        let bytes: usize =
            page.iter().map(|e| e.key.len() + e.value.as_ref().map_or(0, |v| v.len())).sum();
        assert!(page.len() <= max_items.max(1), "{} items", page.len());
        assert!(bytes <= max_bytes || page.len() == 1, "{bytes} bytes in {} items", page.len());
        pages.push(page);
        match next {
            Some(next) => cursor = next,
            None => return pages,
        }
    }
}

#[test]
fn dump_pages_respect_limits_and_end_with_none() {
    let (s, _) = store_with(4);
    for i in 0..300 {
        s.set(&key("k", i), b"0123456789", None, SetCond::Always);
    }
    let want: HashSet<Vec<u8>> = (0..300).map(|i| key("k", i)).collect();
    // (max_items, max_bytes): item-bound pages, byte-bound pages (3 x 16 bytes), and limits
    // smaller than one entry, which still give one entry per page.
    for (items, bytes) in [(7, usize::MAX), (1000, 50), (0, 0), (1, 1)] {
        let pages = all_pages(&s, items, bytes, &|_| true);
        let got: Vec<Vec<u8>> = pages.iter().flatten().map(|e| e.key.to_vec()).collect();
        assert_eq!(got.len(), 300, "nothing changed, so no duplicates ({items}, {bytes})");
        assert_eq!(got.into_iter().collect::<HashSet<_>>(), want);
        let expect_pages = match (items, bytes) {
            (7, _) => 300usize.div_ceil(7),
            (1000, _) => 100,
            _ => 300,
        };
        assert_eq!(pages.len(), expect_pages, "({items}, {bytes})");
    }
}

#[test]
fn dump_carries_values_ttls_versions_and_tombstones() {
    let (s, clock) = store_opts(2, StoreOptions { tombstones: true, ..StoreOptions::default() });
    let big = vec![7u8; INLINE_VALUE_MAX + 1];
    s.set_versioned(b"persistent", b"p", None, 11);
    s.set_versioned(b"ttl", &big, Some(10 * SEC), 12);
    s.set_versioned(b"expired", b"x", Some(SEC), 13);
    s.del_versioned(b"gone", 14);
    clock.advance(SEC);
    let dump = full_dump(&s);
    let row = |k: &[u8]| dump.iter().find(|e| e.key == k).cloned();
    let entry = |k: &'static [u8], v: Option<&[u8]>, ttl, version| DumpEntry {
        key: k.into(),
        value: v.map(|v| v.to_vec().into()),
        ttl,
        version,
    };
    assert_eq!(row(b"persistent"), Some(entry(b"persistent", Some(b"p"), None, 11)));
    assert_eq!(row(b"ttl"), Some(entry(b"ttl", Some(&big), Some(9 * SEC), 12)));
    let tomb_left = super::DEFAULT_TOMBSTONE_TTL - SEC;
    assert_eq!(row(b"gone"), Some(entry(b"gone", None, Some(tomb_left), 14)));
    assert_eq!(dump.len(), 3, "expired entries are not dumped");
}

#[test]
fn dump_filter_selects_keys() {
    let (s, _) = store_with(8);
    for i in 0..500 {
        s.set(&key(if i % 3 == 0 { "a" } else { "b" }, i), b"v", None, SetCond::Always);
    }
    let pages = all_pages(&s, 10, usize::MAX, &|k| k.starts_with(b"a"));
    let got: Vec<_> = pages.into_iter().flatten().collect();
    assert_eq!(got.len(), 167);
    assert!(got.iter().all(|e| e.key.starts_with(b"a")));
}

#[test]
fn dump_never_skips_entries_that_exist_throughout() {
    // Between pages the store churns: deletes (each swap_remove pulls the last entry, often a
    // stable key since the two kinds are interleaved, into a lower slot), a few inserts,
    // overwrites, expiries and sweeps. Every stable key must appear at least once.
    let mut rng = StdRng::seed_from_u64(99);
    for shards in [1, 4] {
        let (s, clock) = store_with(shards);
        let stable: Vec<Vec<u8>> = (0..2_000).map(|i| key("s", i)).collect();
        let mut churn: Vec<Vec<u8>> = (0..2_000).map(|i| key("c", i)).collect();
        for (st, ch) in stable.iter().zip(&churn) {
            s.set(st, b"v", None, SetCond::Always);
            let ttl = rng.gen_bool(0.2).then(|| Duration::from_millis(rng.gen_range(1..500)));
            s.set(ch, b"v", ttl, SetCond::Always);
        }
        let (mut seen, mut cursor, mut next_id, mut pages) = (HashSet::new(), 0, 2_000, 0);
        loop {
            let (page, next) = s.dump_page(cursor, 37, usize::MAX, &|_| true);
            seen.extend(page.into_iter().map(|e| e.key.to_vec()));
            pages += 1;
            for _ in 0..30 {
                if !churn.is_empty() {
                    let victim = churn.swap_remove(rng.gen_range(0..churn.len()));
                    s.del(&victim);
                }
            }
            for _ in 0..5 {
                let k = key("c", next_id);
                next_id += 1;
                s.set(&k, b"new", None, SetCond::Always);
                churn.push(k);
            }
            let k = &stable[rng.gen_range(0..stable.len())];
            s.set(k, b"overwritten", None, SetCond::Always);
            clock.advance(Duration::from_millis(5));
            s.sweep_chunk(rng.gen_range(0..shards), 64);
            match next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        assert!(pages > 50, "the dump must span many pages ({pages})");
        let missed = stable.iter().filter(|k| !seen.contains(*k)).count();
        assert_eq!(missed, 0, "shards={shards}: stable keys skipped");
        s.check_invariants();
    }
}

#[test]
fn one_call_scans_a_bounded_number_of_entries() {
    let (s, _) = store_with(1);
    let n = DUMP_SCAN_MAX as u32 + 1_000;
    for i in 0..n {
        s.set(&i.to_le_bytes(), b"", None, SetCond::Always);
    }
    let (page, next) = s.dump_page(0, 10, usize::MAX, &|_| false);
    assert!(page.is_empty());
    let next = next.expect("more to scan: an empty page with a cursor");
    let (page, next) = s.dump_page(next, 10, usize::MAX, &|_| false);
    assert!(page.is_empty() && next.is_none(), "the rest fits in one call");
}

#[test]
fn foreign_cursors_end_the_dump() {
    let (s, _) = store_with(2);
    s.set(b"k", b"v", None, SetCond::Always);
    assert_eq!(s.dump_page(u64::MAX, 10, 100, &|_| true), (Vec::new(), None));
    assert_eq!(s.dump_page(7 << 32, 10, 100, &|_| true), (Vec::new(), None), "shard 7 of 2");
}

#[test]
fn apply_of_a_dump_reproduces_the_source() {
    let (src, src_clock) = store_opts(4, StoreOptions { tombstones: true, ..Default::default() });
    src.set(b"persistent", b"p", None, SetCond::Always);
    src.set(b"short", b"s", Some(10 * SEC), SetCond::Always);
    src.set(b"big", &vec![1u8; 1000], Some(20 * SEC), SetCond::Always);
    src.set_versioned(b"versioned", b"v", None, 77);
    src.set(b"deleted", b"d", None, SetCond::Always);
    src.del(b"deleted");
    src.del_versioned(b"never", 99);
    src_clock.advance(3 * SEC);
    let dump = full_dump(&src);

    let (dst, dst_clock) = store_opts(2, StoreOptions::default());
    dst_clock.advance(1_000 * SEC); // a different epoch: only remaining TTLs travel
    assert!(dump.iter().all(|e| dst.apply(e)), "everything is new to an empty store");
    assert_eq!(full_dump(&dst), dump, "keys, values, versions and remaining TTLs");
    assert!(!dump.iter().any(|e| dst.apply(e)), "equal versions are not applied twice");
    assert_eq!(dst.len(), 4);

    // Copies never outlive the source: `short` had 7 s left, `big` 17 s.
    dst_clock.advance(7 * SEC);
    assert!(!dst.exists(b"short") && dst.exists(b"big"));
    dst_clock.advance(10 * SEC);
    assert!(!dst.exists(b"big") && dst.exists(b"persistent"));
    let expired = DumpEntry {
        key: "x".into(),
        value: Some("v".into()),
        ttl: Some(Duration::ZERO),
        version: 5,
    };
    assert!(!dst.apply(&expired), "nothing left to live: already expired at the source");
}

#[test]
fn remove_matching_drops_keys_and_tombstones() {
    let (s, _) = store_opts(4, StoreOptions { tombstones: true, ..Default::default() });
    for i in 0..1_000 {
        s.set(&key(if i % 2 == 0 { "mine" } else { "gone" }, i), b"v", None, SetCond::Always);
    }
    s.del(&key("gone", 1));
    s.del_versioned(b"gone-tomb", 5);
    s.del_versioned(b"mine-tomb", 5);
    let removed = s.remove_matching(&|k, _| k.starts_with(b"gone"));
    assert_eq!(removed, 500 + 1, "499 keys, 2 tombstones");
    let st = s.stats();
    assert_eq!((st.keys, st.tombstones), (500, 1));
    assert!(full_dump(&s).iter().all(|e| e.key.starts_with(b"mine")));
    assert_eq!(s.remove_matching(&|k, _| k.starts_with(b"gone")), 0);
    s.check_invariants();
}
