//! Index growth tests: a full index grows a bounded number of slots per insert, lookups
//! and every write path stay right while it does, and the sweep finishes a growth that
//! writes left half done.

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::shard::{GROW_MIN, GROW_STEP};
use super::tests::store_with;
use super::{SetCond, Store};

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

fn moving(s: &Store) -> usize {
    s.slots[0].0.lock().index_moving()
}

/// Fills one-shard `s` with keys from `*next` on until a growth starts; returns the
/// capacity the index had when it did.
fn fill_until_growing(s: &Store, next: &mut u32) -> usize {
    let capacity = |s: &Store| s.slots[0].0.lock().table_capacity();
    for _ in 0..1_000_000 {
        let before = capacity(s);
        assert!(s.set(&key(*next), &next.to_le_bytes(), None, SetCond::Always));
        *next += 1;
        if moving(s) > 0 {
            return before;
        }
    }
    panic!("no growth in a million inserts");
}

/// A store's writes supply the next growth's table from outside the lock: it is there
/// before the table fills, and the growth takes it.
#[test]
fn the_store_allocates_the_grown_table_before_the_growth() {
    let (s, _) = store_with(1);
    let spare = |s: &Store| s.slots[0].0.lock().index_spare();
    let capacity = |s: &Store| s.slots[0].0.lock().table_capacity();
    let mut seen = None;
    for next in 0..1_000_000u32 {
        assert!(s.set(&key(next), &next.to_le_bytes(), None, SetCond::Always));
        if moving(&s) > 0 {
            break;
        }
        if spare(&s) > 0 {
            seen = Some((capacity(&s), spare(&s)));
        }
    }
    let (full, room) = seen.expect("no spare table before the growth");
    assert!(moving(&s) > 0 && full >= GROW_MIN && room >= 2 * full);
    assert_eq!((capacity(&s), spare(&s)), (room, 0), "the growth took the spare");
    s.check_invariants();
}

#[test]
fn a_full_index_grows_a_bounded_number_of_slots_per_insert() {
    let (s, _) = store_with(1);
    let mut next = 0;
    let full = fill_until_growing(&s, &mut next);
    assert!(full >= GROW_MIN, "small tables grow the ordinary way");
    // The insert that started the growth moved GROW_STEP slots, not the whole table.
    assert!(moving(&s) >= full - GROW_STEP, "{} of {full} still to move", moving(&s));
    s.check_invariants();
    let mut inserts = 0;
    while moving(&s) > 0 {
        let before = moving(&s);
        assert!(s.set(&key(next), &next.to_le_bytes(), None, SetCond::Always));
        next += 1;
        inserts += 1;
        assert!(before - moving(&s) <= GROW_STEP, "one insert moved {}", before - moving(&s));
    }
    assert!(inserts <= full.div_ceil(GROW_STEP), "{inserts} inserts to move {full} slots");
    s.check_invariants();
    for i in 0..next {
        assert_eq!(s.get(&key(i)).as_deref(), Some(&i.to_le_bytes()[..]), "key {i}");
    }
}

#[test]
fn writes_deletes_and_expiry_during_a_growth_keep_every_key() {
    for seed in 0..4 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (s, clock) = store_with(1);
        let mut next = 0;
        fill_until_growing(&s, &mut next);
        let mut model: HashMap<u32, u32> = (0..next).map(|i| (i, i)).collect();
        // Deletes move the last entry (often one still in the old table) into their slot.
        while moving(&s) > 0 {
            let k = rng.gen_range(0..next + 64);
            match rng.gen_range(0..4) {
                0 => {
                    assert_eq!(s.del(&key(k)), model.remove(&k).is_some(), "seed {seed}");
                }
                1 => {
                    let v = rng.r#gen::<u32>();
                    assert!(s.set(&key(k), &v.to_le_bytes(), None, SetCond::Always));
                    model.insert(k, v);
                }
                2 => {
                    // Expires at once: the sweep below (or a read) removes it.
                    s.set(&key(k), b"x", Some(Duration::from_nanos(1)), SetCond::Always);
                    model.remove(&k);
                }
                _ => {
                    assert!(s.set(&key(next), &next.to_le_bytes(), None, SetCond::Always));
                    model.insert(next, next);
                    next += 1;
                }
            }
            clock.advance(Duration::from_nanos(1));
            if rng.gen_range(0..200) == 0 {
                s.check_invariants();
            }
        }
        s.sweep_pass();
        s.check_invariants();
        assert_eq!(s.len(), model.len(), "seed {seed}");
        for (k, v) in model {
            assert_eq!(s.get(&key(k)).as_deref(), Some(&v.to_le_bytes()[..]), "seed {seed}");
        }
    }
}

#[test]
fn the_sweep_finishes_a_growth_that_writes_left() {
    let (s, _) = store_with(1);
    let mut next = 0;
    fill_until_growing(&s, &mut next);
    assert!(moving(&s) > 0);
    s.sweep_pass();
    assert_eq!(moving(&s), 0, "one pass moved every slot over");
    s.check_invariants();
    for i in 0..next {
        assert!(s.exists(&key(i)));
    }
}
