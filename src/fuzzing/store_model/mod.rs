//! The [`store_model`] harness: the sharded store against a `BTreeMap` model ([`model`])
//! of keys, tombstones, deadlines and versions, on a [`ManualClock`].
//!
//! Input: a config byte, then operations, each a key byte, an op byte and its parameters.
//!
//! ```text
//! config:  bit 7 6 5 4 3 | 2          | 1 0
//!          tombstone ms-1 | tombstones | shards-1 (rounded up to a power of two)
//! ops:     set, get, del, exists, ttl, expire, persist, advance clock, sweep_chunk,
//!          flush / sweep_pass, set_versioned, del_versioned, version_of
//! ```
//!
//! Not modelled: `maxmemory` and eviction (which entries a shard holds past their expiry
//! depends on hash order, so admission cannot be predicted exactly), dumps, and stats other
//! than `keys`, `used_memory` and the hit/miss counters.

mod model;

use std::sync::Arc;
use std::time::Duration;

use crate::store::{ManualClock, SetCond, Store, StoreConfig, StoreOptions};

use super::input::Input;
use model::{Model, Stamp};

/// Keys: few enough to collide often, including the empty key and one too long to inline
/// with anything.
const KEYS: [&[u8]; 8] = [b"", b"a", b"b", b"key", b"k:1", b"k:2", b"\x00\xff", &[b'x'; 300]];

/// Most operations one input runs.
const MAX_OPS: usize = 512;

/// The store, its clock and the model, stepped together.
struct World {
    store: Store,
    clock: Arc<ManualClock>,
    model: Model,
}

/// Runs the operations the input describes against the store and the model, asserting
/// after each that they agree: every read (a value, `exists`, the exact TTL, the version)
/// and every return value; `len()` between the unexpired and the held key counts and
/// `used_memory` likewise (both exact after a sweep pass); the hit and miss counters
/// exactly. Plain writes must be stamped newer than what they replace; versioned writes
/// apply iff newer than what is held (last writer wins); tombstones are never read.
pub fn store_model(data: &[u8]) {
    let mut input = Input::new(data);
    let config = input.u8();
    let clock = Arc::new(ManualClock::new());
    let shards = usize::from(config & 0b11) + 1;
    let tombstone_ttl = Duration::from_millis(u64::from(config >> 3) + 1);
    let tombstones = config & 0b100 != 0;
    let opts = StoreOptions { tombstones, tombstone_ttl, ..StoreOptions::default() };
    let store = Store::with_options(StoreConfig { shards }, opts, Arc::clone(&clock) as _);
    let mut world = World { store, clock, model: Model::new(tombstones, tombstone_ttl) };
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        world.step(&mut input);
        world.check_counts();
    }
    world.sweep_pass();
}

impl World {
    /// Decodes and applies one operation to both.
    fn step(&mut self, input: &mut Input<'_>) {
        let key = input.pick(&KEYS);
        let (store, model) = (&self.store, &mut self.model);
        match input.below(14) {
            0 | 1 => {
                let (value, ttl) = (value(input), ttl(input));
                let cond = input.pick(&[SetCond::Always, SetCond::IfAbsent, SetCond::IfPresent]);
                let (want, stamp) = model.set(key, &value, ttl, cond);
                assert_eq!(store.set(key, &value, ttl, cond), want, "set {ttl:?} {cond:?}");
                self.check_stamp(key, stamp);
            }
            2 => assert_eq!(store.get(key).map(|b| b.to_vec()), model.get(key), "get"),
            3 => {
                let (want, stamp) = model.del(key);
                assert_eq!(store.del(key), want, "del");
                self.check_stamp(key, stamp);
            }
            4 => assert_eq!(store.exists(key), model.live(key).is_some(), "exists"),
            5 => assert_eq!(store.ttl(key), model.ttl(key), "ttl at {}", model.now),
            6 | 7 => {
                // EXPIRE with a TTL, or PERSIST (`None`).
                let new_ttl = input.bool().then(|| ttl(input).unwrap_or(Duration::MAX));
                let got = new_ttl.map_or_else(|| store.persist(key), |t| store.expire(key, t));
                let (want, stamp) = model.set_deadline(key, new_ttl);
                assert_eq!(got, want, "expire/persist {new_ttl:?}");
                self.check_stamp(key, stamp);
            }
            8 => {
                let by = advance(input);
                self.clock.advance(by);
                let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
                model.now = model.now.saturating_add(nanos);
            }
            9 => sweep_chunk(input, store),
            10 => match input.below(4) {
                0 => {
                    store.flush();
                    model.entries.clear();
                    assert!(store.is_empty() && store.stats().used_memory == 0, "after flush");
                }
                _ => self.sweep_pass(),
            },
            11 => {
                let (value, ttl, version) = (value(input), ttl(input), version(input, model, key));
                let tombstone = ttl.is_some_and(|t| t.is_zero());
                let data = (!tombstone).then_some(&value[..]);
                let (want, _) = model.put_versioned(key, data, ttl, version);
                let got = store.set_versioned(key, &value, ttl, version);
                assert_eq!(got, want, "set_versioned {version} {ttl:?}");
            }
            12 => {
                let version = version(input, model, key);
                let (applied, replaced_live) = model.put_versioned(key, None, None, version);
                let got = store.del_versioned(key, version);
                assert_eq!(got, applied && replaced_live, "del_versioned {version}");
            }
            _ => assert_eq!(store.version_of(key), model.version_of(key), "version_of"),
        }
    }

    /// After a plain write the store stamped itself, reads the version back into the model.
    fn check_stamp(&mut self, key: &[u8], stamp: Stamp) {
        if let Stamp::After(replaced) = stamp {
            let got = self.store.version_of(key);
            self.model.stamped(key, got, replaced);
        }
    }

    /// A full sweep pass: afterwards the store holds exactly the model's unexpired entries.
    fn sweep_pass(&mut self) {
        self.store.sweep_pass();
        self.model.sweep();
        let (live, _) = self.model.key_counts();
        let (memory, _) = self.model.memory();
        let stats = self.store.stats();
        assert_eq!((stats.keys, stats.used_memory), (live, memory), "after a sweep pass");
    }

    /// `unexpired <= len <= held` for keys, the same for memory with tombstones, and exact
    /// hit/miss counts.
    fn check_counts(&self) {
        let stats = self.store.stats();
        let (live, held) = self.model.key_counts();
        assert_eq!(stats.keys, self.store.len(), "stats.keys");
        assert!(live <= stats.keys && stats.keys <= held, "{live} <= {} <= {held}", stats.keys);
        let (low, high) = self.model.memory();
        let used = stats.used_memory;
        assert!(low <= used && used <= high, "{low} <= used_memory {used} <= {high}");
        let counters = (stats.get_hits, stats.get_misses);
        assert_eq!(counters, (self.model.hits, self.model.misses), "get counters");
    }
}

/// One bounded sweep step on a shard that may not exist.
fn sweep_chunk(input: &mut Input<'_>, store: &Store) {
    let shard = input.below(store.shard_count() + 1);
    let max = input.below(6);
    let progress = store.sweep_chunk(shard, max);
    assert!(progress.inspected <= max.max(1), "{progress:?} for max {max}");
    assert!(progress.reclaimed <= progress.inspected || progress.wiped, "{progress:?}");
    if progress.wiped {
        assert!(progress.pass_complete && progress.inspected == 0, "{progress:?}");
    }
    if shard >= store.shard_count() {
        assert!(progress.pass_complete && progress.inspected == 0, "{progress:?}");
    }
}

/// A value: usually short, sometimes past the inline limit.
fn value(input: &mut Input<'_>) -> Vec<u8> {
    match input.below(8) {
        0 => vec![input.u8(); 200 + input.below(120)],
        _ => input.short_bytes(12).to_vec(),
    }
}

/// `None`, zero, a few nanoseconds, milliseconds or seconds, or the longest.
fn ttl(input: &mut Input<'_>) -> Option<Duration> {
    match input.below(8) {
        0 | 1 => None,
        2 => Some(Duration::ZERO),
        3 => Some(Duration::from_nanos(u64::from(input.u8()))),
        4 => Some(Duration::MAX),
        5 => Some(Duration::from_secs(u64::from(input.u16()))),
        _ => Some(Duration::from_millis(u64::from(input.u8()))),
    }
}

/// A version for a versioned write: just below, at or above the key's own (the LWW
/// boundary), small, zero, the largest, or anything.
fn version(input: &mut Input<'_>, model: &mut Model, key: &[u8]) -> u64 {
    let held = model.version_of(key).unwrap_or(0);
    match input.below(8) {
        0 => held.saturating_sub(1),
        1 => held,
        2 | 3 => held.saturating_add(1),
        4 => u64::from(input.u8()),
        5 => 0,
        6 => u64::MAX,
        _ => input.u64(),
    }
}

/// A clock move: nothing, nanoseconds, milliseconds, seconds, or to the end of time.
fn advance(input: &mut Input<'_>) -> Duration {
    match input.below(6) {
        0 => Duration::ZERO,
        1 => Duration::from_nanos(u64::from(input.u8())),
        2 | 3 => Duration::from_millis(u64::from(input.u8())),
        4 => Duration::from_secs(u64::from(input.u16())),
        _ => Duration::MAX,
    }
}
