//! Tests of count and key ids: what a coordinator notes, what a replica derives, and how
//! a command sent again is judged.

use super::*;

fn keys(names: &[&str]) -> Vec<Bytes> {
    names.iter().map(|n| Bytes::copy_from_slice(n.as_bytes())).collect()
}

/// What a node notes when it takes `key`'s state with `ids`: the ids and the key ids
/// they imply.
fn take(known: &KnownIds, key: &str, ids: &[u64]) {
    known.note(1, ids, true);
    known.note(1, &key_ids(key.as_bytes(), ids), true);
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
    let (known, all) = (KnownIds::default(), keys(&["a", "b", "c"]));
    // c was among the command's keys, but it changed only a and b.
    take(&known, "a", &ring_ids(9, 2));
    assert_eq!(held(&known, 9, &all), Held::Part { held: 1, of: 2 });
    take(&known, "b", &[3, 4, 9]);
    assert_eq!(held(&known, 9, &all), Held::Part { held: 1, of: 2 }, "b's state without it");
    take(&known, "b", &[3, 4].into_iter().chain(ring_ids(9, 2)).chain([10]).collect::<Vec<_>>());
    assert_eq!(held(&known, 9, &all), Held::Whole, "b's state with it, later ones after");
    // Another command's ids say nothing of this one.
    take(&known, "a", &[11]);
    assert_eq!(held(&known, 11, &all), Held::Whole, "no count id: as before");
}

#[test]
fn a_count_id_pairs_with_its_own_command_only() {
    let (a, b) = (ring_ids(9, 2), ring_ids(10, 3));
    assert_eq!(key_ids(b"k", &[a[0], 10]), Vec::<u64>::new(), "9's count beside 10");
    assert_eq!(key_ids(b"k", &[a[0], a[1], b[0], b[1]]).len(), 2);
    assert_eq!(key_ids(b"k", &[a[1]]), Vec::<u64>::new(), "its count dropped from the ring");
    assert_ne!(key_ids(b"k", &a), key_ids(b"j", &a), "one key id per key");
    assert!(!a.contains(&key_id(9, b"k")));
}
