//! Slab unit tests: slot reuse, class boundaries, huge records, page growth and release.

use bytes::Bytes;

use super::class::{FIRST_PAGE_BYTES, PAGE_BYTES};
use super::{CLASS_MAX, GRANULE, Garbage, Slab};

/// Allocates a slot for `len` bytes and fills it with `byte`.
fn put(slab: &mut Slab, len: usize, byte: u8, g: &mut Garbage) -> u32 {
    let slot = slab.alloc(len, g).expect("slot ids left");
    slab.record_mut(len, slot).fill(byte);
    slot
}

#[test]
fn freed_slots_are_reused_first() {
    let (mut slab, mut g) = (Slab::default(), Garbage::default());
    let a = put(&mut slab, 40, 1, &mut g);
    let b = put(&mut slab, 40, 2, &mut g);
    assert_ne!(a, b);
    slab.free(40, a, &mut g);
    assert_eq!(put(&mut slab, 33, 3, &mut g), a, "same class, the freed slot comes back");
    assert_eq!(slab.record(40, b), &[2; 40][..], "neighbours untouched");
    assert_eq!(slab.record(33, a), &[3; 33][..]);
    assert_eq!(slab.counts(), (2, 0, 0));
}

#[test]
fn class_boundaries_are_multiples_of_the_granule() {
    assert!(Slab::same_class(1, GRANULE) && !Slab::same_class(GRANULE, GRANULE + 1));
    assert!(Slab::same_class(41, 48) && !Slab::same_class(48, 49));
    assert!(Slab::same_class(CLASS_MAX - 1, CLASS_MAX));
    assert!(!Slab::same_class(0, 0), "empty records have no slot");
    assert!(!Slab::same_class(CLASS_MAX + 1, CLASS_MAX + 1), "huge records have no class");
    assert!(!Slab::is_huge(CLASS_MAX) && Slab::is_huge(CLASS_MAX + 1));
    let (mut slab, mut g) = (Slab::default(), Garbage::default());
    // Records of every length in a class share its slots; the next length starts a class.
    let a = put(&mut slab, 48, 1, &mut g);
    let b = put(&mut slab, 49, 2, &mut g);
    let c = put(&mut slab, CLASS_MAX, 3, &mut g);
    assert_eq!((a, b, c), (0, 0, 0), "each class numbers its own slots");
    assert_eq!(slab.record(CLASS_MAX, c), &[3; CLASS_MAX][..]);
    assert_eq!(slab.record(48, a), &[1; 48][..]);
    assert_eq!(slab.alloc(0, &mut g), Some(0), "empty records need no storage");
    assert!(slab.record(0, 0).is_empty());
    assert_eq!(slab.counts(), (3, 0, 0));
}

#[test]
fn huge_records_and_big_values_live_in_side_tables() {
    let (mut slab, mut g) = (Slab::default(), Garbage::default());
    let block: Box<[u8]> = vec![7; CLASS_MAX + 1].into_boxed_slice();
    let h = slab.put_huge(block).expect("room");
    assert_eq!(slab.record(CLASS_MAX + 1, h).len(), CLASS_MAX + 1);
    let key: Box<[u8]> = Box::from(&b"key"[..]);
    let v = slab.put_big(key, Bytes::from_static(b"big")).expect("room");
    assert_eq!((&slab.big(v)[..], slab.big_key(v)), (&b"big"[..], &b"key"[..]));
    assert_eq!(slab.counts(), (0, 1, 1));
    slab.free(CLASS_MAX + 1, h, &mut g);
    assert_eq!(g.len(), 2, "the block (and the emptied table) are freed after unlocking");
    let (key, value) = slab.take_big(v, &mut g).expect("stored");
    assert_eq!((&key[..], &value[..]), (&b"key"[..], &b"big"[..]));
    assert!(slab.take_big(v, &mut g).is_none(), "taken once");
    assert_eq!(slab.counts(), (0, 0, 0));
    assert_eq!(g.len(), 3, "and the emptied tables, whose slots are walked when dropped");
    // Emptied side tables start over at index 0.
    assert_eq!(slab.put_big(Box::default(), Bytes::new()), Ok(0));
}

#[test]
fn pages_start_small_and_grow_without_moving_slot_ids() {
    let (mut slab, mut g) = (Slab::default(), Garbage::default());
    let size = 64;
    let first = FIRST_PAGE_BYTES / size;
    let per_page = PAGE_BYTES / size;
    for i in 0..first {
        put(&mut slab, size, i as u8, &mut g);
    }
    assert_eq!(slab.pages(), (1, FIRST_PAGE_BYTES), "a near-empty class reserves little");
    put(&mut slab, size, first as u8, &mut g);
    assert_eq!(slab.pages(), (1, 2 * FIRST_PAGE_BYTES), "page 0 doubled");
    assert_eq!(g.len(), 1, "the outgrown page is freed after unlocking");
    assert!((0..=first).all(|i| slab.record(size, i as u32) == [i as u8; 64]), "bytes kept");
    for i in first + 1..per_page + 1 {
        put(&mut slab, size, i as u8, &mut g);
    }
    assert_eq!(slab.pages(), (2, 2 * PAGE_BYTES), "then full pages");
    assert_eq!(slab.record(size, per_page as u32), &[per_page as u8; 64][..]);
}

#[test]
fn empty_trailing_pages_are_released_and_ids_restart_there() {
    let (mut slab, mut g) = (Slab::default(), Garbage::default());
    let per_page = (PAGE_BYTES / 8) as u32;
    let slots: Vec<u32> = (0..3 * per_page).map(|_| put(&mut slab, 8, 0, &mut g)).collect();
    assert_eq!(slab.pages().0, 3);
    // Emptying a middle page keeps it (its slots are reused later).
    for &s in &slots[per_page as usize..2 * per_page as usize] {
        slab.free(8, s, &mut g);
    }
    assert_eq!(slab.pages().0, 3);
    // Emptying the last page drops it and the emptied page before it, in O(1) each.
    for &s in &slots[2 * per_page as usize..] {
        slab.free(8, s, &mut g);
    }
    assert_eq!(slab.pages().0, 1);
    assert_eq!(slab.counts(), (per_page as usize, 0, 0));
    // New slots come after the pages that remain.
    assert_eq!(put(&mut slab, 8, 0, &mut g), per_page);
    for &s in &slots[..per_page as usize] {
        slab.free(8, s, &mut g);
    }
    slab.free(8, per_page, &mut g);
    assert_eq!(slab.pages(), (0, 0), "an emptied class holds no memory");
    assert_eq!(put(&mut slab, 8, 0, &mut g), 0);
}

#[test]
fn trim_drops_what_a_single_free_left_behind() {
    let (mut slab, mut g) = (Slab::default(), Garbage::default());
    let per_page = (PAGE_BYTES / 16) as u32;
    let slots: Vec<u32> = (0..8 * per_page).map(|_| put(&mut slab, 16, 0, &mut g)).collect();
    // Free everything but the very last slot, then that one: the free drops only a bounded
    // number of the trailing empty pages.
    let (last, rest) = slots.split_last().expect("slots");
    for &s in rest {
        slab.free(16, s, &mut g);
    }
    assert_eq!(slab.pages().0, 8);
    slab.free(16, *last, &mut g);
    let left = slab.pages().0;
    assert!(left > 0 && left < 8, "{left}");
    for _ in 0..8 {
        slab.trim(&mut g);
    }
    assert_eq!(slab.pages(), (0, 0));
}

#[test]
fn a_dropped_page_left_in_the_partial_list_is_skipped() {
    let (mut slab, mut g) = (Slab::default(), Garbage::default());
    let per_page = (PAGE_BYTES / 8) as u32;
    let slots: Vec<u32> = (0..2 * per_page).map(|_| put(&mut slab, 8, 0, &mut g)).collect();
    // Page 1 gets a free slot, then page 0 (now on top of the partial list), then page 1
    // empties and is dropped while still listed under page 0.
    slab.free(8, per_page, &mut g);
    slab.free(8, 0, &mut g);
    for &s in &slots[per_page as usize + 1..] {
        slab.free(8, s, &mut g);
    }
    assert_eq!(slab.pages().0, 1);
    assert_eq!(put(&mut slab, 8, 1, &mut g), 0, "page 0's free slot first");
    let again: Vec<u32> = (0..per_page).map(|_| put(&mut slab, 8, 2, &mut g)).collect();
    assert_eq!(again, (per_page..2 * per_page).collect::<Vec<_>>(), "page 1 re-created");
    assert_eq!(slab.counts().0, 2 * per_page as usize);
}
