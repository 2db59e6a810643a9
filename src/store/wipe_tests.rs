//! Wipe tests: a shard whose every entry has expired is emptied in one step, a shard with
//! any entry that outlives the rest never is, and the sweeper waits for a mass expiry to
//! complete (within its span) instead of removing key by key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::tests::{store_opts, store_with};
use super::{ManualClock, SetCond, Store, StoreOptions, SweepConfig, spawn_sweeper};

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn key(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

/// A one-shard store with `n` keys, key `i` expiring `ttl(i)` from now.
fn filled(n: u32, ttl: impl Fn(u32) -> Duration) -> (Arc<Store>, Arc<ManualClock>) {
    let (s, clock) = store_with(1);
    for i in 0..n {
        s.set(&key(i), b"v", Some(ttl(i)), SetCond::Always);
    }
    (Arc::new(s), clock)
}

/// A sweeper task on a store, for the tests under paused time.
struct Running {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Running {
    fn start(s: &Arc<Store>, cfg: SweepConfig) -> Self {
        let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
        spawn_sweeper(Arc::clone(s), cfg, cancel.clone(), &tracker);
        tracker.close();
        Self { cancel, tracker }
    }

    /// Whether the task is still running (it has not ended, by a panic or otherwise).
    async fn alive(&self) -> bool {
        tokio::time::timeout(10 * MS, self.tracker.wait()).await.is_err()
    }

    /// Cancels the task and checks that it ends promptly.
    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(10 * MS, self.tracker.wait()).await.expect("sweeper exits on cancel");
    }
}

#[test]
fn a_wholly_expired_shard_is_emptied_in_one_step() {
    let opts = StoreOptions { tombstones: true, ..StoreOptions::default() };
    let (s, clock) = store_opts(1, opts);
    for i in 0..5_000 {
        s.set(&key(i), &[7; 40], Some(SEC + i * MS / 10), SetCond::Always);
    }
    // A tombstone expires too (after its own TTL), and is wiped with the keys.
    assert!(s.del(&key(0)));
    clock.advance(s.options().tombstone_ttl.max(2 * SEC));
    let p = s.sweep_chunk(0, 1);
    assert!(p.pass_complete);
    assert_eq!(
        (p.inspected, p.reclaimed, p.wiped),
        (0, 5_000, true),
        "one step, looking at no entry"
    );
    let st = s.stats();
    assert_eq!((st.keys, st.expired_keys, st.used_memory), (0, 4_999, 0));
    s.check_invariants();
    assert_eq!(s.slots[0].0.lock().slab_pages(), (0, 0), "the storage went with it");
    // The emptied shard starts its bounds afresh: a later mass expiry is wiped again.
    for i in 0..100 {
        s.set(&key(i), b"v", Some(SEC), SetCond::Always);
    }
    clock.advance(SEC);
    assert_eq!(s.sweep_chunk(0, 1).reclaimed, 100);
}

/// Each way an entry can come to outlive the rest of its shard; none may be wiped.
#[test]
fn an_entry_that_outlives_the_rest_keeps_its_shard_from_being_wiped() {
    type Outlive = fn(&Store, &[u8]);
    let ways: [(&str, Outlive); 4] = [
        ("persist", |s, k| assert!(s.persist(k))),
        ("expire later", |s, k| assert!(s.expire(k, 100 * SEC))),
        ("set without ttl", |s, k| assert!(s.set(k, b"kept", None, SetCond::Always))),
        ("set with a later ttl", |s, k| {
            assert!(s.set(k, b"kept", Some(100 * SEC), SetCond::Always));
        }),
    ];
    for (name, outlive) in ways {
        let (s, clock) = store_with(1);
        for i in 0..3_000 {
            s.set(&key(i), b"v", Some(SEC), SetCond::Always);
        }
        outlive(&s, &key(1_234));
        clock.advance(2 * SEC);
        let p = s.sweep_chunk(0, 256);
        assert!(p.inspected <= 256, "{name}: walked in bounded chunks");
        assert_eq!(s.sweep_pass(), 2_999 - p.reclaimed, "{name}");
        assert!(s.exists(&key(1_234)), "{name}: the survivor was lost");
        assert_eq!(s.len(), 1, "{name}");
        s.check_invariants();
    }
}

#[test]
fn a_key_without_ttl_outlives_even_a_saturated_clock() {
    let (s, clock) = store_with(1);
    s.set(b"kept", b"v", None, SetCond::Always);
    s.set(b"gone", b"v", Some(SEC), SetCond::Always);
    // The fuzz model found this: "never" must stay later than any clock reading.
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    assert_eq!(s.sweep_pass(), 1);
    assert!(s.exists(b"kept"));
    s.check_invariants();
}

/// Random writes, deadline changes and deletes against a model: whatever the sweep does,
/// no live key is lost and every expired one goes.
#[test]
fn wipes_never_take_a_live_key() {
    for seed in 0..20 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (s, clock) = store_with(2);
        let mut now = Duration::ZERO;
        let mut model: HashMap<u32, Option<Duration>> = HashMap::new();
        for _ in 0..400 {
            let k = rng.gen_range(0..64u32);
            let ttl = (rng.gen_range(0..8) != 0).then(|| MS * rng.gen_range(1..2_000u32));
            match rng.gen_range(0..10) {
                0 => {
                    s.del(&key(k));
                    model.remove(&k);
                }
                1 if s.persist(&key(k)) => {
                    model.insert(k, None);
                }
                2 if s.expire(&key(k), ttl.unwrap_or(SEC)) => {
                    model.insert(k, Some(now + ttl.unwrap_or(SEC)));
                }
                _ => {
                    s.set(&key(k), &k.to_le_bytes(), ttl, SetCond::Always);
                    model.insert(k, ttl.map(|t| now + t));
                }
            }
            let step = MS * rng.gen_range(0..300u32);
            clock.advance(step);
            now += step;
            model.retain(|_, d| d.is_none_or(|d| d > now));
            if rng.gen_range(0..4) == 0 {
                s.sweep_pass();
                assert_eq!(s.len(), model.len(), "seed {seed}: a pass leaves no expired key");
            }
            s.check_invariants();
        }
        for (k, _) in model {
            assert_eq!(s.get(&key(k)).as_deref(), Some(&k.to_le_bytes()[..]), "seed {seed}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_sweeper_waits_for_a_mass_expiry_to_complete_then_wipes_it() {
    // Deadlines spread over half a second (1.0-1.5 s), as a load of a second spreads them.
    let (s, clock) = filled(5_000, |i| SEC + i * MS / 10);
    let sweeper = Running::start(&s, SweepConfig::default());
    // The store's clock follows the timer's.
    let run = |d: Duration| {
        let (s, clock) = (Arc::clone(&s), Arc::clone(&clock));
        async move {
            for _ in 0..d.as_millis() / 10 {
                clock.advance(10 * MS);
                tokio::time::sleep(10 * MS).await;
            }
            s.len()
        }
    };
    assert_eq!(run(1_400 * MS).await, 5_000, "expired keys wait for the rest of the shard");
    assert_eq!(run(200 * MS).await, 0, "wiped once the last key expired");
    let st = s.stats();
    assert_eq!(st.expired_keys, 5_000);
    assert!(st.sweep_passes >= 2, "the pass at 1 s went on without walking the shard");
    sweeper.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_shard_expiring_over_a_long_span_is_walked_as_before() {
    // Half the keys expire at 1 s, the rest at 10 s: too far apart to wait for one wipe.
    let (s, clock) = filled(4_000, |i| if i % 2 == 0 { SEC } else { 10 * SEC });
    let sweeper = Running::start(&s, SweepConfig::default());
    tokio::time::sleep(500 * MS).await;
    clock.advance(SEC);
    // At most one interval until the next pass starts, plus the pass itself.
    tokio::time::sleep(2 * SEC).await;
    assert_eq!(s.len(), 2_000, "the keys expired at 1 s were reclaimed by the next pass");
    sweeper.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_sweeper_with_an_endless_interval_neither_panics_nor_wipes_early() {
    let (s, _) = filled(2_000, |_| 1_000 * SEC);
    let cfg = SweepConfig { pass_interval: Duration::MAX, ..SweepConfig::default() };
    let sweeper = Running::start(&s, cfg);
    tokio::time::sleep(10 * SEC).await;
    assert_eq!(s.len(), 2_000);
    assert!(sweeper.alive().await, "the sweeper is still running (it did not panic)");
    sweeper.stop().await;
}
