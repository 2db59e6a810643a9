//! Entry layout, flags and storage release.

use super::super::draft::Draft;
use super::super::slab::CLASS_MAX;
use super::*;

/// Commits a draft for `key`/`value` into `slab`.
fn entry(slab: &mut Slab, key: &[u8], value: &[u8]) -> Entry {
    let draft = Draft::new(1, key, value).expect("short key");
    draft.commit(slab, None, &mut Garbage::default()).ok().expect("room")
}

#[test]
fn entry_is_compact() {
    assert_eq!(std::mem::size_of::<Entry>(), 24);
    assert_eq!(ENTRY_OVERHEAD, 29);
}

#[test]
fn flags_do_not_disturb_the_key() {
    let mut slab = Slab::default();
    let mut e = entry(&mut slab, b"key", b"val");
    assert!(!e.is_visited() && !e.is_tombstone());
    e.set_visited(true);
    assert!(e.is_visited());
    assert_eq!((e.key(&slab), &e.value(&slab)[..]), (&b"key"[..], &b"val"[..]));
    e.set_visited(false);
    assert!(!e.is_visited());
    let draft = Draft::tombstone(1, b"key").expect("short key");
    let t = draft.commit(&mut slab, None, &mut Garbage::default()).ok().expect("room");
    assert!(t.is_tombstone() && !t.is_visited());
    assert_eq!((t.key(&slab), t.value_len(&slab)), (&b"key"[..], 0));
    assert_eq!(t.footprint(&slab), 3 + ENTRY_OVERHEAD);
}

#[test]
fn key_length_limit() {
    assert_eq!(key_meta(&[0; 16]), Some(16));
    assert_eq!(MAX_KEY_LEN, (1 << 20) - 1);
    assert_eq!(key_meta(&vec![0; MAX_KEY_LEN + 1]), None);
}

#[test]
fn lengths_and_flags_share_meta_without_overlap() {
    let mut slab = Slab::default();
    let key = vec![b'k'; MAX_KEY_LEN];
    let value = [b'v'; INLINE_VALUE_MAX];
    let mut e = entry(&mut slab, &key, &value);
    e.set_visited(true);
    assert!(e.is_visited() && !e.is_tombstone() && !e.is_big());
    assert_eq!((e.key(&slab), e.value_slice(&slab)), (&key[..], &value[..]));
    let t = Draft::tombstone(1, &key).expect("longest key");
    let t = t.commit(&mut slab, None, &mut Garbage::default()).ok().expect("room");
    assert!(t.is_tombstone() && !t.is_big() && t.value_len(&slab) == 0);
}

#[test]
fn small_values_inline_large_values_shared() {
    let mut slab = Slab::default();
    let small = entry(&mut slab, b"key", b"val");
    assert_eq!((small.key(&slab), &small.value(&slab)[..]), (&b"key"[..], &b"val"[..]));
    assert_eq!((small.record_len(), slab.counts()), (6, (1, 0, 0)), "one slot, no side");
    let payload = vec![9u8; INLINE_VALUE_MAX + 1];
    let large = entry(&mut slab, b"key", &payload);
    assert_eq!(large.key(&slab), b"key");
    assert!(large.is_big());
    assert_eq!((large.record_len(), large.value_len(&slab)), (0, INLINE_VALUE_MAX + 1));
    assert_eq!(slab.counts(), (1, 0, 1), "the key is kept with the big value, not in a slot");
    // Two reads share one buffer rather than copying.
    assert_eq!(large.value(&slab).as_ptr(), large.value(&slab).as_ptr());
    assert_eq!(large.footprint(&slab), 3 + INLINE_VALUE_MAX + 1 + ENTRY_OVERHEAD);
}

#[test]
fn overwrites_reuse_the_slot_and_release_what_they_replace() {
    let (mut slab, mut g) = (Slab::default(), Garbage::default());
    let old = entry(&mut slab, b"key", &[1; INLINE_VALUE_MAX + 1]);
    let draft = Draft::new(1, b"key", b"small").expect("short key");
    let new = draft.commit(&mut slab, Some(&old), &mut g).ok().expect("room");
    assert_eq!(&new.value(&slab)[..], b"small");
    // The big value and its key block go to garbage, and so does the big-value table
    // they emptied.
    assert_eq!((slab.counts(), g.len()), ((1, 0, 0), 3));
    let draft = Draft::new(1, b"key", b"SMALL").expect("short key");
    let same = draft.commit(&mut slab, Some(&new), &mut g).ok().expect("room");
    assert_eq!(same.slot, new.slot, "same slot size: overwritten in place");
    assert_eq!((&same.value(&slab)[..], slab.counts(), g.len()), (&b"SMALL"[..], (1, 0, 0), 3));
    let draft = Draft::new(1, b"key", &[2; 100]).expect("short key");
    let newer = draft.commit(&mut slab, Some(&same), &mut g).ok().expect("room");
    assert_eq!((newer.value(&slab).len(), slab.counts()), (100, (1, 0, 0)), "old slot freed");
    assert_eq!(g.len(), 4, "and its emptied page released");
}

#[test]
fn same_sized_plain_overwrites_only_write_the_value() {
    let mut slab = Slab::default();
    let mut e = entry(&mut slab, b"key", b"abc");
    let mut draft = Draft::new(1, b"key", b"xyzw").expect("short key");
    draft.set_version(9);
    assert!(draft.overwrite(&mut e, &mut slab).is_ok(), "7 and 6 bytes share a class");
    assert_eq!((e.key(&slab), &e.value(&slab)[..], e.version()), (&b"key"[..], &b"xyzw"[..], 9));
    let draft = Draft::new(1, b"key", b"longer value").expect("short key");
    assert!(draft.overwrite(&mut e, &mut slab).is_err(), "another class: commit instead");
    let draft = Draft::new(1, b"key", &[0; INLINE_VALUE_MAX + 1]).expect("short key");
    assert!(draft.overwrite(&mut e, &mut slab).is_err(), "a big value: commit instead");
    assert_eq!(slab.counts(), (1, 0, 0));
}

#[test]
fn huge_keys_get_their_own_block() {
    let mut slab = Slab::default();
    let key = vec![b'k'; CLASS_MAX];
    let e = entry(&mut slab, &key, b"v");
    assert_eq!((e.key(&slab), &e.value(&slab)[..]), (&key[..], &b"v"[..]));
    assert_eq!(slab.counts(), (0, 1, 0));
    let mut g = Garbage::default();
    e.release(&mut slab, false, &mut g);
    assert_eq!((slab.counts(), g.len()), ((0, 0, 0), 2), "the block and its emptied table");
}

#[test]
fn deadline_resolution() {
    assert_eq!(deadline(5, None), 0);
    assert_eq!(deadline(0, Some(Duration::from_nanos(1))), 1);
    assert_eq!(deadline(7, Some(Duration::ZERO)), 8, "never the 0 sentinel");
    assert_eq!(deadline(u64::MAX - 1, Some(Duration::MAX)), u64::MAX);
}
