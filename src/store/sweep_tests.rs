//! Sweep tests: chunk bounds, swap-remove correctness under random expiries, and the tokio
//! sweeper task under paused time (no real sleeping).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::paged::CHUNK;
use super::tests::store_with;
use super::{SetCond, Store, SweepConfig, SweepProgress, spawn_sweeper};

const SEC: Duration = Duration::from_secs(1);

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// Fills `s` with `n` keys, a third persistent and the rest expiring at random times in
/// 1..=10 s. Returns each key's deadline in seconds (`None` = persistent).
fn fill_random(s: &Store, n: u32, seed: u64) -> HashMap<u32, Option<u64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let ttl = (rng.gen_range(0..3) != 0).then(|| rng.gen_range(1..=10u64));
            assert!(s.set(
                &key(i),
                &i.to_le_bytes(),
                ttl.map(Duration::from_secs),
                SetCond::Always
            ));
            (i, ttl)
        })
        .collect()
}

#[test]
fn sweep_pass_reclaims_unread_expired_keys() {
    let (s, clock) = store_with(4);
    for i in 0..50 {
        s.set(&key(i), b"v", Some(SEC), SetCond::Always);
    }
    s.set(b"live", b"v", None, SetCond::Always);
    clock.advance(SEC);
    assert_eq!(s.len(), 51, "nobody read them yet");
    assert_eq!(s.sweep_pass(), 50);
    let st = s.stats();
    assert_eq!((st.keys, st.expired_keys, st.sweep_passes), (1, 50, 1));
    assert_eq!(st.used_memory, 4 + 1 + super::ENTRY_OVERHEAD);
    assert_eq!(s.sweep_pass(), 0, "nothing left to reclaim");
}

#[test]
fn sweep_with_random_expiries_removes_exactly_the_expired() {
    // One shard maximises swap_remove traffic; eight checks the per-shard loop.
    for shards in [1, 8] {
        let (s, clock) = store_with(shards);
        let deadlines = fill_random(&s, 5_000, 42 + shards as u64);
        let now_s = 5u64;
        clock.advance(Duration::from_secs(now_s));
        let expired = deadlines.values().filter(|d| d.is_some_and(|d| d <= now_s)).count();
        assert!(expired > 1000, "test needs real churn, got {expired}");
        assert_eq!(s.sweep_pass(), expired, "shards={shards}");
        assert_eq!(s.len(), deadlines.len() - expired, "one pass leaves no expired key");
        assert_eq!(s.stats().expired_keys, expired as u64);
        s.check_invariants();
        for (i, d) in &deadlines {
            if d.is_none_or(|d| d > now_s) {
                let v = s.get(&key(*i));
                assert_eq!(v.as_deref(), Some(&i.to_le_bytes()[..]), "live key {i} lost");
            }
        }
        assert_eq!(s.stats().expired_keys, expired as u64, "reads found no expired key");
    }
}

#[test]
fn sweep_rechecks_slots_filled_by_swap_remove() {
    // Every entry expired: each removal moves another expired entry into the cursor slot.
    let (s, clock) = store_with(1);
    for i in 0..1_000 {
        s.set(&key(i), b"v", Some(SEC), SetCond::Always);
    }
    clock.advance(SEC);
    assert_eq!(s.sweep_pass(), 1_000);
    assert!(s.is_empty());
    assert_eq!(s.stats().used_memory, 0);
    s.check_invariants();
}

#[test]
fn sweep_chunk_is_bounded_and_wraps() {
    let (s, clock) = store_with(1);
    for i in 0..1_000 {
        let ttl = (i % 2 == 0).then_some(SEC);
        s.set(&key(i), b"v", ttl, SetCond::Always);
    }
    clock.advance(SEC);
    let (mut chunks, mut reclaimed) = (0, 0);
    loop {
        let p = s.sweep_chunk(0, 100);
        assert!(p.inspected <= 100, "chunk inspected {}", p.inspected);
        chunks += 1;
        reclaimed += p.reclaimed;
        if p.pass_complete {
            break;
        }
    }
    assert_eq!(reclaimed, 500);
    assert_eq!(chunks, 10, "1000 inspections in chunks of 100");
    // The cursor wrapped: the next chunk starts over and finds only live keys.
    let p = s.sweep_chunk(0, 100);
    assert_eq!((p.inspected, p.reclaimed, p.pass_complete), (100, 0, false));
}

/// A stripe whose keys have no TTL, or whose TTLs all lie ahead, is not walked; once its
/// earliest deadline has passed it is, and the expired key goes.
#[test]
fn the_sweep_walks_nothing_before_the_earliest_deadline() {
    let (s, clock) = store_with(1);
    for i in 0..1_000 {
        s.set(&key(i), b"v", None, SetCond::Always);
    }
    let p = s.sweep_chunk(0, 100);
    assert_eq!((p.inspected, p.reclaimed, p.pass_complete), (0, 0, true), "no TTL: no walk");
    s.set(b"soon", b"v", Some(10 * SEC), SetCond::Always);
    clock.advance(5 * SEC);
    let p = s.sweep_chunk(0, 100);
    assert_eq!((p.inspected, p.reclaimed, p.pass_complete), (0, 0, true), "not due yet");
    clock.advance(5 * SEC);
    assert_eq!(s.sweep_pass(), 1, "due: walked and reclaimed");
    assert_eq!(s.len(), 1_000);
    s.check_invariants();
}

#[test]
fn sweep_chunk_edge_inputs() {
    let (s, clock) = store_with(2);
    let done = SweepProgress { pass_complete: true, ..SweepProgress::default() };
    assert_eq!(s.sweep_chunk(99, 10), done, "out-of-range shard is a no-op");
    assert_eq!(s.sweep_chunk(0, 10), done, "empty shard completes at once");
    s.set(b"k", b"v", Some(SEC), SetCond::Always);
    clock.advance(SEC);
    let total: usize = (0..2).map(|shard| s.sweep_chunk(shard, 0).reclaimed).sum();
    assert_eq!(total, 1, "max 0 is treated as 1 so sweeping still progresses");
}

#[test]
fn sweep_shrinks_after_mass_expiry_and_stays_consistent() {
    let (s, clock) = store_with(1);
    for i in 0..10_000 {
        let ttl = (i >= 10).then_some(SEC);
        s.set(&key(i), b"v", ttl, SetCond::Always);
    }
    let chunks = |s: &Store| s.slots[0].0.lock().entry_chunks();
    assert_eq!(chunks(&s), 10_000usize.div_ceil(CHUNK));
    clock.advance(SEC);
    assert_eq!(s.sweep_pass(), 9_990);
    s.check_invariants();
    assert_eq!(chunks(&s), 2, "the pass gave back every emptied chunk but one spare");
    let capacity = s.slots[0].0.lock().table_capacity();
    assert!(capacity < 1024, "the index table was rebuilt small: {capacity}");
    for i in 0..10 {
        assert!(s.exists(&key(i)));
    }
    for i in 10..2_000 {
        assert!(s.set(&key(i), b"w", None, SetCond::IfAbsent));
    }
    s.check_invariants();
}

#[tokio::test(start_paused = true)]
async fn sweeper_reclaims_then_stops_on_cancel() {
    let (s, clock) = store_with(4);
    let s = Arc::new(s);
    for i in 0..2_000 {
        s.set(&key(i), b"v", Some(SEC), SetCond::Always);
    }
    s.set(b"live", b"v", None, SetCond::Always);
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    spawn_sweeper(Arc::clone(&s), SweepConfig::default(), cancel.clone(), &tracker);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.len(), 2_001, "store clock has not moved: nothing expired");
    clock.advance(2 * SEC);
    // At most one interval until the next pass starts, plus the pass itself.
    tokio::time::sleep(2 * SEC).await;
    let st = s.stats();
    assert_eq!((st.keys, st.expired_keys), (1, 2_000));
    assert!(st.sweep_passes >= 2, "passes: {}", st.sweep_passes);

    cancel.cancel();
    tracker.close();
    tokio::time::timeout(Duration::from_millis(10), tracker.wait())
        .await
        .expect("sweeper exits promptly on cancel");
}

#[tokio::test(start_paused = true)]
async fn sweeper_exits_when_cancelled_before_start() {
    let (s, _) = store_with(2);
    let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
    cancel.cancel();
    spawn_sweeper(Arc::new(s), SweepConfig::default(), cancel, &tracker);
    tracker.close();
    tokio::time::timeout(Duration::from_millis(10), tracker.wait())
        .await
        .expect("sweeper exits without a pass");
}

#[test]
fn a_mass_expiry_gives_slab_pages_back() {
    let (s, clock) = store_with(2);
    for i in 0..50_000u32 {
        s.set(&key(i), &[1; 40], Some(SEC), SetCond::Always);
    }
    assert!(s.slots.iter().all(|slot| slot.0.lock().slab_pages().0 > 1));
    clock.advance(SEC);
    assert_eq!(s.sweep_pass(), 50_000);
    s.check_invariants();
    for slot in &s.slots {
        assert_eq!(slot.0.lock().slab_pages(), (0, 0), "pages freed during the pass");
    }
}

#[test]
fn a_shrink_reindexes_at_most_a_bounded_number_of_entries_under_the_lock() {
    let (s, clock) = store_with(1);
    let capacity = |s: &Store| s.slots[0].0.lock().table_capacity();
    // 3 000 keys outlive the first expiry, 1 000 of them the second.
    for i in 0..20_000 {
        let ttl = match i {
            0..1_000 => None,
            1_000..3_000 => Some(2 * SEC),
            _ => Some(SEC),
        };
        s.set(&key(i), b"v", ttl, SetCond::Always);
    }
    let full = capacity(&s);
    clock.advance(SEC);
    assert_eq!(s.sweep_pass(), 17_000);
    // (A table's capacity counts only what it can take without growing, which removals
    // leave a little under its size.)
    assert!(capacity(&s) > full / 2, "3 000 entries are more than one lock hold re-indexes");
    clock.advance(SEC);
    assert_eq!(s.sweep_pass(), 2_000);
    assert!(capacity(&s) < full / 4, "1 000 entries are re-indexed: {}", capacity(&s));
    s.check_invariants();
    for i in 0..1_000 {
        assert!(s.exists(&key(i)));
    }
}
