//! Tests of count and key ids: what a coordinator notes, what a replica derives, and how
//! a command sent again is judged.

use std::collections::HashSet;

use super::*;

fn keys(names: &[&str]) -> Vec<Bytes> {
    names.iter().map(|n| Bytes::copy_from_slice(n.as_bytes())).collect()
}

/// The derived ids a node remembers as it takes `key`'s state with `ids`.
fn take(known: &mut HashSet<u64>, key: &str, ids: &[u64]) {
    known.extend(derived_ids(key.as_bytes(), ids));
}

#[test]
fn a_command_of_one_key_or_of_too_many_notes_its_id_only() {
    assert_eq!(ring_ids(7, 1), [7]);
    assert_eq!(ring_ids(7, 0), [7]);
    assert_eq!(ring_ids(7, EFFECT_MAX_KEYS + 1), [7]);
    let two = ring_ids(7, 2);
    assert_eq!((two.len(), two[1]), (2, 7), "the count, then the id");
    assert_eq!(two[0] & COUNT_MASK, 2);
}

#[test]
fn every_key_that_took_it_counts_and_a_missing_one_makes_it_part() {
    let (mut known, all) = (HashSet::new(), keys(&["a", "b", "c"]));
    let judge = |known: &HashSet<u64>, id| held(|d| known.contains(&d), id, &all);
    // c was among the command's keys, but it changed only a and b.
    take(&mut known, "a", &ring_ids(9, 2));
    assert_eq!(judge(&known, 9), Held::Part { held: 1, of: 2 });
    take(&mut known, "b", &[3, 4, 9]);
    assert_eq!(judge(&known, 9), Held::Part { held: 1, of: 2 }, "b's state without its count");
    let b: Vec<u64> = [3, 4].into_iter().chain(ring_ids(9, 2)).chain([10]).collect();
    take(&mut known, "b", &b);
    assert_eq!(judge(&known, 9), Held::Whole, "b's state with it, later ones after");
    // Another command's ids say nothing of this one.
    take(&mut known, "a", &[11]);
    assert_eq!(judge(&known, 11), Held::Whole, "no count id: as before");
}

#[test]
fn a_count_id_pairs_with_its_own_command_only() {
    let (a, b) = (ring_ids(9, 2), ring_ids(10, 3));
    assert!(derived_ids(b"k", &[a[0], 10]).is_empty(), "9's count beside 10");
    assert!(derived_ids(b"k", &[a[1]]).is_empty(), "its count dropped from the ring");
    assert!(derived_ids(b"k", &[1, 2, 3]).is_empty(), "no count id at all");
    let both = derived_ids(b"k", &[a[0], a[1], b[0], b[1]]);
    assert_eq!(both.len(), 4, "each command's count and key id");
    assert!(both.contains(&a[0]) && both.contains(&b[0]));
    assert_ne!(derived_ids(b"k", &a), derived_ids(b"j", &a), "one key id per key");
    assert!(!a.contains(&key_id(9, b"k")));
}
