//! The sharded in-memory key/value store with TTLs.
//!
//! Owns: keys, values, deadlines, the per-key memory estimate, hit/miss/expiry counters and
//! the background expiry sweeper ([`spawn_sweeper`]). Does not own: wire formats, command
//! parsing, size limits on keys/values (the server enforces those before calling in), eviction
//! under memory pressure, persistence or replication.
//!
//! # Design
//!
//! * **Shards.** `N` (a power of two) independent `parking_lot::Mutex<Shard>`s, each padded to
//!   its own cache lines. A key's shard comes from bits 32.. of a randomly seeded `ahash`, so
//!   clients cannot aim keys at one shard; bits ..32 are kept in the entry and index the
//!   shard's table. All store methods are synchronous and hold a lock only for one operation,
//!   so no lock is ever held across an `.await`.
//! * **Dense shards.** Entries live in a `Vec`, and a `hashbrown::HashTable<u32>` maps keys to
//!   indices (see `shard.rs`), so a key is stored once and the sweeper can walk by index.
//! * **Compact entries.** 40 bytes per entry plus one heap block holding the key and, up to
//!   [`INLINE_VALUE_MAX`] bytes, the value (see `entry.rs`): about 45 bytes of bookkeeping per
//!   small key, before allocator headers and table slack.
//! * **Expiry is checked on every read.** Every path that looks at a key (get, exists, ttl,
//!   expire, persist, NX/XX set, del) compares the deadline with [`Clock::now`] under the shard
//!   lock: expired iff `now >= deadline`. An expired entry is removed on the spot. No
//!   correctness depends on the sweeper, which only reclaims memory of keys nobody reads.
//! * **Sweeping** is cursor based: [`Store::sweep_chunk`] inspects a bounded number of entries
//!   under one lock hold; the sweeper task chains chunks into passes within a CPU budget.
//! * **Copies in.** [`Store::set`] copies key and value into fresh allocations, so a cached
//!   value never pins a caller's large read buffer. The copy happens before the lock is taken,
//!   and replaced, rejected or flushed storage is freed after it is released.
//! * **Values out.** [`Store::get`] returns [`Bytes`]: a fresh copy of a small inline value, or
//!   a refcounted handle to a large one (no copy).
//!
//! ```
//! use shale::store::{SetCond, Store, StoreConfig, TtlState};
//! use std::time::Duration;
//!
//! let store = Store::new(StoreConfig::default());
//! assert!(store.set(b"greeting", b"hello", Some(Duration::from_secs(60)), SetCond::Always));
//! assert_eq!(store.get(b"greeting").as_deref(), Some(&b"hello"[..]));
//! assert!(matches!(store.ttl(b"greeting"), TtlState::Expires(_)));
//! assert!(!store.set(b"greeting", b"again", None, SetCond::IfAbsent));
//! ```

mod clock;
mod entry;
mod shard;
mod sweeper;

#[cfg(test)]
mod sweep_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ahash::RandomState;
use bytes::Bytes;
use parking_lot::Mutex;

pub use clock::{Clock, ManualClock, SystemClock};
pub use entry::{ENTRY_OVERHEAD, INLINE_VALUE_MAX};
pub use sweeper::{SweepConfig, spawn_sweeper};

use entry::{Entry, Expiry, split_hash};
use shard::Shard;

/// Upper bound on the shard count. More shards than this only add per-shard fixed cost
/// (128 bytes each, and a sweep pass visits every one).
pub const MAX_SHARDS: usize = 1 << 16;

/// Shards per available core when [`StoreConfig::shards`] is 0 (auto).
pub const SHARDS_PER_CORE: usize = 4;

/// Store construction settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreConfig {
    /// Number of shards. `0` (the default) means [`SHARDS_PER_CORE`] x available parallelism.
    /// Other values are rounded up to a power of two and capped at [`MAX_SHARDS`].
    pub shards: usize,
}

impl StoreConfig {
    /// The shard count this config produces: a power of two in `1..=MAX_SHARDS`.
    pub fn resolved_shards(&self) -> usize {
        let wanted = match self.shards {
            0 => {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
                    * SHARDS_PER_CORE
            }
            n => n,
        };
        wanted.clamp(1, MAX_SHARDS).next_power_of_two()
    }
}

/// The condition a [`Store::set`] must meet to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SetCond {
    /// Write unconditionally.
    #[default]
    Always,
    /// Write only if the key is absent or expired (Redis `NX`).
    IfAbsent,
    /// Write only if the key is present and live (Redis `XX`).
    IfPresent,
}

/// A key's expiry state, as seen by [`Store::ttl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlState {
    /// No live key (never set, deleted or expired).
    Missing,
    /// Live, with no deadline.
    Persistent,
    /// Live; expires after this much more time (exact to the nanosecond, never zero). Rounding
    /// to seconds or milliseconds for a reply is the caller's choice.
    Expires(Duration),
}

/// A snapshot of store counters (see [`Store::stats`]). Shards are read one after another, so
/// under concurrent writes the fields are each accurate but not one atomic instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Entries held, including expired ones not yet reclaimed (like Redis `DBSIZE`).
    pub keys: usize,
    /// Total expired entries reclaimed, by read paths or by sweeping.
    pub expired_keys: u64,
    /// `get` calls that found a live key.
    pub get_hits: u64,
    /// `get` calls that found no live key.
    pub get_misses: u64,
    /// Approximate bytes held: key + value lengths + [`ENTRY_OVERHEAD`] per entry.
    pub used_memory: usize,
    /// Wall time of the last completed sweep pass, in milliseconds.
    pub sweep_last_pass_ms: u64,
    /// Completed sweep passes (sweeper task and [`Store::sweep_pass`]).
    pub sweep_passes: u64,
}

/// What one [`Store::sweep_chunk`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepProgress {
    /// Entries looked at (at most the requested maximum).
    pub inspected: usize,
    /// Expired entries removed.
    pub reclaimed: usize,
    /// The cursor reached the end of the shard and wrapped to 0.
    pub pass_complete: bool,
}

/// A shard mutex on its own cache lines, so neighbouring shards don't false-share.
#[repr(align(128))]
struct Slot(Mutex<Shard>);

/// The sharded TTL store. `Send + Sync`; share it behind an [`Arc`].
pub struct Store {
    slots: Box<[Slot]>,
    mask: usize,
    hasher: RandomState,
    clock: Arc<dyn Clock>,
    sweep_last_pass_ms: AtomicU64,
    sweep_passes: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("shards", &self.slots.len()).finish_non_exhaustive()
    }
}

impl Store {
    /// A store on the [`SystemClock`].
    pub fn new(cfg: StoreConfig) -> Self {
        Self::with_clock(cfg, Arc::new(SystemClock))
    }

    /// A store reading time from `clock` (tests pass a [`ManualClock`]).
    pub fn with_clock(cfg: StoreConfig, clock: Arc<dyn Clock>) -> Self {
        let n = cfg.resolved_shards();
        let hasher = RandomState::new();
        let slots = (0..n).map(|_| Slot(Mutex::new(Shard::default()))).collect();
        Self {
            slots,
            mask: n - 1,
            hasher,
            clock,
            sweep_last_pass_ms: AtomicU64::new(0),
            sweep_passes: AtomicU64::new(0),
        }
    }

    /// `key`'s shard and its 32-bit table hash.
    fn locate(&self, key: &[u8]) -> (&Mutex<Shard>, u32) {
        let (shard, hash) = split_hash(self.hasher.hash_one(key));
        (&self.slots[shard & self.mask].0, hash)
    }

    /// Locks `key`'s shard, reads the clock under the lock (so the expiry decision and the
    /// operation are one atomic step) and runs `f(shard, hash, now)`. Whatever `f` returns is
    /// dropped by the caller, after the lock is released.
    fn with_shard<R>(&self, key: &[u8], f: impl FnOnce(&mut Shard, u32, u64) -> R) -> R {
        let (shard, hash) = self.locate(key);
        let mut shard = shard.lock();
        let now = self.clock.now();
        f(&mut shard, hash, now)
    }

    /// The live value of `key`. Counts a hit or a miss.
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.with_shard(key, |s, h, now| s.get(h, key, now))
    }

    /// Writes `key = value` if `cond` allows, replacing any previous value and TTL (`None` =
    /// persistent). A zero TTL writes an already-expired value, i.e. deletes the key, and
    /// still returns `true` if `cond` allowed the write. Returns `false` if `cond` failed (or,
    /// unreachably in practice, the key is over 4 GiB or its shard holds `u32::MAX` entries).
    pub fn set(&self, key: &[u8], value: &[u8], ttl: Option<Duration>, cond: SetCond) -> bool {
        let (shard, hash) = self.locate(key);
        // Copy before locking: the lock is held only to link the entry in.
        let Some(entry) = Entry::new(hash, key, value) else {
            return false;
        };
        let (written, _leftover) = {
            let mut shard = shard.lock();
            let now = self.clock.now();
            shard.set(entry, Expiry::after(now, ttl), cond, now)
        };
        written
    }

    /// Removes `key`. `true` only if a live key was removed.
    pub fn del(&self, key: &[u8]) -> bool {
        let removed = self.with_shard(key, |s, h, now| s.remove_live(h, key, now));
        removed.is_some()
    }

    /// Whether `key` is live.
    pub fn exists(&self, key: &[u8]) -> bool {
        self.with_shard(key, |s, h, now| s.exists(h, key, now))
    }

    /// `key`'s expiry state.
    pub fn ttl(&self, key: &[u8]) -> TtlState {
        self.with_shard(key, |s, h, now| s.ttl(h, key, now))
    }

    /// Sets `key` to expire `ttl` from now. `false` if there is no live key. A zero TTL
    /// deletes the key (and returns `true`), like Redis. Huge TTLs saturate.
    pub fn expire(&self, key: &[u8], ttl: Duration) -> bool {
        self.with_shard(key, |s, h, now| s.set_expiry(h, key, Expiry::after(now, Some(ttl)), now))
            .is_some()
    }

    /// Removes `key`'s TTL. `true` only if a live key had one.
    pub fn persist(&self, key: &[u8]) -> bool {
        self.with_shard(key, |s, h, now| s.set_expiry(h, key, Expiry::Never, now))
            .is_some_and(|old| old != 0)
    }

    /// Entries held, including expired entries not yet reclaimed (like Redis `DBSIZE`).
    pub fn len(&self) -> usize {
        self.slots.iter().map(|s| s.0.lock().len()).sum()
    }

    /// Whether [`Store::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|s| s.0.lock().len() == 0)
    }

    /// Removes every key. Counters other than memory are kept (like Redis `FLUSHALL` and
    /// `INFO stats`); the old storage is freed outside the shard locks.
    pub fn flush(&self) {
        for slot in &self.slots {
            let old = slot.0.lock().take_all();
            drop(old);
        }
    }

    /// Sums the per-shard counters.
    pub fn stats(&self) -> StoreStats {
        let mut st = StoreStats {
            sweep_last_pass_ms: self.sweep_last_pass_ms.load(Ordering::Relaxed),
            sweep_passes: self.sweep_passes.load(Ordering::Relaxed),
            ..StoreStats::default()
        };
        for slot in &self.slots {
            let shard = slot.0.lock();
            st.keys += shard.len();
            st.expired_keys += shard.counters.expired;
            st.get_hits += shard.counters.hits;
            st.get_misses += shard.counters.misses;
            st.used_memory += shard.counters.used;
        }
        st
    }

    /// Inspects at most `max_entries` (at least 1) entries of shard `shard` from its sweep
    /// cursor under one lock hold, reclaiming expired ones. An out-of-range `shard` does
    /// nothing and reports `pass_complete` so callers' loops end.
    pub fn sweep_chunk(&self, shard: usize, max_entries: usize) -> SweepProgress {
        let Some(slot) = self.slots.get(shard) else {
            return SweepProgress { pass_complete: true, ..SweepProgress::default() };
        };
        let mut garbage = Vec::new();
        let progress = {
            let mut s = slot.0.lock();
            let now = self.clock.now();
            s.sweep_chunk(now, max_entries, &mut garbage)
        };
        drop(garbage);
        progress
    }

    /// One full pass over every shard from index 0, in chunks of
    /// [`SweepConfig::default`]'s size, without throttling. Returns keys reclaimed.
    ///
    /// Covers every entry that exists for the whole pass, except one that a concurrent delete
    /// moves behind the cursor (the next pass sees it).
    pub fn sweep_pass(&self) -> usize {
        let started = Instant::now();
        let chunk = SweepConfig::default().chunk;
        let mut reclaimed = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            slot.0.lock().rewind();
            loop {
                let p = self.sweep_chunk(i, chunk);
                reclaimed += p.reclaimed;
                if p.pass_complete {
                    break;
                }
            }
        }
        self.record_pass(started.elapsed());
        reclaimed
    }

    /// Number of shards (a power of two).
    pub fn shard_count(&self) -> usize {
        self.slots.len()
    }

    /// Publishes a completed pass to [`Store::stats`].
    fn record_pass(&self, elapsed: Duration) {
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.sweep_last_pass_ms.store(ms, Ordering::Relaxed);
        self.sweep_passes.fetch_add(1, Ordering::Relaxed);
    }

    /// Asserts every shard's internal invariants (tests only).
    #[cfg(test)]
    fn check_invariants(&self) {
        for slot in &self.slots {
            slot.0.lock().check_invariants();
        }
    }
}
