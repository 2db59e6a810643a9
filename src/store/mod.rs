//! The sharded in-memory key/value store with TTLs, versions and a memory limit.
//!
//! Owns: keys, values, deadlines, per-key versions and tombstones (last-writer-wins
//! replication state), shard dumps, the per-key memory estimate and `maxmemory` enforcement
//! (refusal or CLOCK eviction), hit/miss/expiry/eviction counters and the background expiry
//! sweeper ([`spawn_sweeper`]). Does not own: wire formats, command parsing, size limits on
//! keys/values (the server enforces those before calling in), which node holds which key,
//! shipping writes or dumps between nodes, or persistence.
//!
//! # Design
//!
//! * **Shards.** `N` (a power of two) independent `parking_lot::Mutex<Shard>`s, each padded to
//!   its own cache lines. A key's shard comes from bits 32.. of a randomly seeded `ahash`, so
//!   clients cannot aim keys at one shard; bits ..32 index the shard's table (entries do not
//!   keep them: the table rehashes a key from its bytes when it grows). All store methods
//!   are synchronous and hold a lock only for one operation (or one bounded chunk of a
//!   scan), so no lock is ever held across an `.await`.
//! * **Dense shards.** Entries live in a vector of fixed-size chunks (`paged.rs`, so growth
//!   never copies or frees a large buffer), and a `hashbrown::HashTable<u32>` maps keys to
//!   indices (see `shard.rs`), so a key is stored once and sweeps, eviction and dumps walk by
//!   index.
//! * **Compact entries.** 24 bytes per entry plus one slot in the shard's slab holding the key
//!   and, up to [`INLINE_VALUE_MAX`] bytes, the value, rounded up to 8 bytes with no allocator
//!   header (see `entry.rs` and `slab.rs`). Larger values are shared [`Bytes`] in a side table,
//!   next to their key.
//! * **Expiry is checked on every read.** Every path that looks at a key compares the deadline
//!   with [`Clock::now`] under the shard lock: expired iff `now >= deadline`. An expired entry
//!   is removed on the spot. No correctness depends on the sweeper, which only reclaims memory
//!   of keys nobody reads.
//! * **Versions.** Every entry carries a `u64` version (see [`crate::version`]). Plain writes
//!   (`set`, `del`, `expire`, `persist`) are stamped under the shard lock by the store's own
//!   [`Hlc`], which has observed every version written through the versioned API, so a plain
//!   write always wins. [`Store::set_versioned`], [`Store::del_versioned`] and
//!   [`Store::apply`] are last-writer-wins: applied iff newer than what the key holds. Replicas
//!   that receive the same versioned writes in any order therefore end up identical.
//! * **Flushes.** A versioned flush ([`Store::flush_versioned`]) drops every entry at or
//!   below its version and keeps that version as a floor: a versioned write or a pulled
//!   entry at or below it is stale, so no late write, hint or repair brings a flushed key
//!   back. Plain writes are stamped above it (the clock has observed it).
//! * **Tombstones.** A versioned delete (and, with [`StoreOptions::tombstones`], a plain one)
//!   leaves a tombstone holding the delete's version for [`StoreOptions::tombstone_ttl`], so
//!   an older write arriving late cannot resurrect the key. Tombstones are invisible to reads
//!   and to `len`, count towards `used_memory`, and are swept like expired keys.
//! * **Dumps.** [`Store::dump_page`] pages through keys and tombstones with a cursor that never
//!   skips an entry that exists for the whole dump (see `dump.rs`); [`Store::apply`] loads
//!   the pages elsewhere, and [`Store::remove_matching`] drops what a node no longer owns.
//! * **Memory limit.** `used_memory` counts key and value bytes plus [`ENTRY_OVERHEAD`] per
//!   entry. With [`StoreOptions::maxmemory`] set, each shard may hold `maxmemory / shards` of
//!   it: a per-shard budget keeps the check lock-local. Keys hash uniformly, so with more than
//!   a few thousand keys per shard the shards fill within about `1/sqrt(keys per shard)` of
//!   each other and the store as a whole refuses or evicts within a percent or so of
//!   `maxmemory`. Over budget, [`EvictionPolicy::NoEviction`] refuses growing writes
//!   ([`Store::try_set`] says so) and [`EvictionPolicy::Clock`] evicts (see `shard/evict.rs`).
//!   Not counted: the rounding of each slab slot up to 8 bytes, the unused part of each slab
//!   class's last page, the index table's spare buckets (it grows by doubling, so up to
//!   ~6 bytes per entry just after a doubling), the big-value side table, and the last entry
//!   chunk's spare capacity (mostly never touched, so not resident). Measured RSS /
//!   `used_memory` (`memory_tests.rs`): 1.13 for 2M keys of 14 B with 8 B values, 1.04 with
//!   200 B values, 1.01 with 4 KB values; budget up to ~1.4x for the tiniest entries right
//!   after a table doubles.
//! * **Copies in.** Writes copy a large value (and a key too long for the slab) into a fresh
//!   allocation before the lock is taken, and a key with a small value into a slab slot under
//!   it (a few dozen bytes; the slab allocates only when a page grows). So a cached value never
//!   pins a caller's read buffer, and replaced, rejected, evicted or flushed heap storage is
//!   freed after the lock is released (slab slots go back to their page's free list; a
//!   trailing page with no live slot left is freed, a bounded number at a time).
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
//! // Last writer wins: an older replicated write is ignored.
//! assert!(store.set_versioned(b"k", b"new", None, 20));
//! assert!(!store.set_versioned(b"k", b"old", None, 10));
//! assert_eq!(store.version_of(b"k"), Some(20));
//! ```

mod admin;
mod clock;
mod config;
mod count;
mod draft;
mod dump;
mod edit;
mod entry;
mod floor;
mod keyspace;
mod locked;
mod ops;
mod paged;
mod replica;
mod shard;
mod slab;
mod strings;
mod stripes;
mod sweeper;
mod walk;
mod warm;

#[cfg(test)]
mod dump_tests;
#[cfg(test)]
mod evict_tests;
#[cfg(test)]
mod grow_tests;
#[cfg(test)]
mod memory_tests;
#[cfg(test)]
mod replica_tests;
#[cfg(test)]
mod strings_tests;
#[cfg(test)]
mod sweep_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod walk_tests;
#[cfg(test)]
mod wipe_tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ahash::RandomState;
use bytes::Bytes;
use parking_lot::Mutex;

pub use clock::{Clock, MANUAL_WALL_START, ManualClock, SystemClock};
pub use config::{
    Change, DEFAULT_TOMBSTONE_TTL, Deadline, DumpEntry, EvictionPolicy, ExpireCond, KeyInfo,
    MAX_SHARDS, SHARDS_PER_CORE, SetCond, StoreConfig, StoreError, StoreOptions, StoreStats,
    SweepProgress, TtlState, WatchMark,
};
pub use dump::{DUMP_SCAN_MAX, SCAN_CHUNK};
pub use edit::{Edit, Expiry, Fetched, Plan, SetOptions, SetOutcome, Written};
pub use entry::{ENTRY_OVERHEAD, INLINE_VALUE_MAX, MAX_KEY_LEN};
pub use keyspace::Keyspace;
pub use locked::Locked;
pub use replica::Lww;
pub use shard::EVICT_SCAN_MAX;
pub use sweeper::{SweepConfig, spawn_sweeper};
pub use warm::PREFETCH_MAX;

use crate::version::Hlc;
use draft::Draft;
use entry::{deadline, split_hash};
use shard::{Budget, Shard};

fn key_too_large(key: &[u8]) -> StoreError {
    StoreError::KeyTooLarge { len: key.len(), max: MAX_KEY_LEN }
}

/// Each of `shards` shards' share of `maxmemory` (0 = unlimited).
fn budget(maxmemory: usize, policy: EvictionPolicy, shards: usize) -> Budget {
    let bytes = match maxmemory {
        0 => usize::MAX,
        max => (max / shards).max(1),
    };
    Budget { bytes, policy }
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
    hlc: Arc<Hlc>,
    opts: StoreOptions,
    /// The memory limit now: `opts`' until [`Store::set_memory_limit`] changes it.
    limit: Mutex<(usize, EvictionPolicy)>,
    sweep_last_pass_ms: AtomicU64,
    sweep_passes: AtomicU64,
    /// FLUSHALLs so far, moved while every stripe is held: WATCH counts a flush as a change
    /// of every key.
    flushes: AtomicU64,
    /// The newest versioned flush: versioned writes at or below it are stale (`floor.rs`).
    flush_floor: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("shards", &self.slots.len())
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store on the [`SystemClock`] with default [`StoreOptions`].
    pub fn new(cfg: StoreConfig) -> Self {
        Self::with_options(cfg, StoreOptions::default(), Arc::new(SystemClock))
    }

    /// A store reading time from `clock` (tests pass a [`ManualClock`]), default options.
    pub fn with_clock(cfg: StoreConfig, clock: Arc<dyn Clock>) -> Self {
        Self::with_options(cfg, StoreOptions::default(), clock)
    }

    /// A store with replication and memory options, reading time from `clock`.
    pub fn with_options(cfg: StoreConfig, opts: StoreOptions, clock: Arc<dyn Clock>) -> Self {
        let n = cfg.resolved_shards();
        let hlc = Arc::new(Hlc::new(opts.clock_id));
        let budget = budget(opts.maxmemory, opts.eviction, n);
        let hasher = RandomState::new();
        let shard = |_| Shard::new(budget, Arc::clone(&hlc), hasher.clone());
        let slots = (0..n).map(|i| Slot(Mutex::new(shard(i)))).collect();
        Self {
            slots,
            mask: n - 1,
            hasher,
            clock,
            hlc,
            limit: Mutex::new((opts.maxmemory, opts.eviction)),
            opts,
            sweep_last_pass_ms: AtomicU64::new(0),
            sweep_passes: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            flush_floor: AtomicU64::new(0),
        }
    }

    /// The options this store was built with (see [`Store::maxmemory`] and
    /// [`Store::eviction`] for the memory limit in force now).
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// The clock that stamps plain writes; it has observed every version written here.
    pub fn hlc(&self) -> &Hlc {
        &self.hlc
    }

    /// `key`'s stripe index and its 32-bit table hash.
    #[inline]
    fn place(&self, key: &[u8]) -> (usize, u32) {
        let (shard, hash) = split_hash(self.hasher.hash_one(key));
        (shard & self.mask, hash)
    }

    /// `key`'s shard and its 32-bit table hash.
    fn locate(&self, key: &[u8]) -> (&Mutex<Shard>, u32) {
        let (i, hash) = self.place(key);
        (&self.slots[i].0, hash)
    }

    /// Locks `key`'s shard, reads the clock under the lock (so the expiry decision and the
    /// operation are one atomic step) and runs `f(shard, hash, now)`. Whatever `f` returns is
    /// dropped by the caller, after the lock is released. What a `Store` runs a one-key
    /// operation of `ops.rs` with (see `stripes.rs`).
    #[inline]
    fn with_shard<R>(&self, key: &[u8], f: impl FnOnce(&mut Shard, u32, u64) -> R) -> R {
        self.check_not_held();
        let (shard, hash) = self.locate(key);
        let mut shard = shard.lock();
        let now = self.clock.now();
        f(&mut shard, hash, now)
    }

    /// A tombstone for a plain delete of `key`, if deletes leave them (built before locking).
    fn tombstone_draft<'k>(&self, hash: u32, key: &'k [u8]) -> Option<Draft<'k>> {
        if self.opts.tombstones { Draft::tombstone(hash, key) } else { None }
    }

    /// `tomb` with its life starting at `now`.
    fn tombstone_at<'k>(&self, tomb: Option<Draft<'k>>, now: u64) -> Option<Draft<'k>> {
        tomb.map(|mut t| {
            t.set_expiry(deadline(now, Some(self.opts.tombstone_ttl)));
            t
        })
    }

    /// FLUSHALLs so far (see [`WatchMark`]).
    fn flush_epoch(&self) -> u64 {
        self.flushes.load(Ordering::Acquire)
    }

    /// The live value of `key`. Counts a hit or a miss, and marks the key recently used.
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        ops::get(self, key)
    }

    /// Writes `key = value` if `cond` allows, replacing any previous value and TTL (`None` =
    /// persistent). A zero TTL deletes the key instead, and still returns `true` if `cond`
    /// allowed it. Returns `false` if `cond` failed or the write was refused (out of memory);
    /// use [`Store::try_set`] to tell those apart.
    pub fn set(&self, key: &[u8], value: &[u8], ttl: Option<Duration>, cond: SetCond) -> bool {
        self.try_set(key, value, ttl, cond).unwrap_or(false)
    }

    /// [`Store::set`], with refusals as errors: `Ok(false)` means only that `cond` failed.
    /// A big value is copied before the lock is taken; under it a small key and value are
    /// only copied into a slab slot and linked in.
    pub fn try_set(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
        cond: SetCond,
    ) -> Result<bool, StoreError> {
        ops::set(self, key, value, ttl, cond)
    }

    /// Removes `key`. `true` only if a live key was removed. With
    /// [`StoreOptions::tombstones`] the key is replaced by a tombstone.
    pub fn del(&self, key: &[u8]) -> bool {
        ops::delete(self, key, SetCond::Always) == Some(true)
    }

    /// Whether `key` is live.
    pub fn exists(&self, key: &[u8]) -> bool {
        ops::exists(self, key)
    }

    /// `key`'s expiry state.
    pub fn ttl(&self, key: &[u8]) -> TtlState {
        ops::ttl(self, key)
    }

    /// Sets `key` to expire `ttl` from now. `false` if there is no live key. A zero TTL
    /// deletes the key (and returns `true`), like Redis. Huge TTLs saturate. (The
    /// conditional form is [`Keyspace::expire`].)
    pub fn expire(&self, key: &[u8], ttl: Duration) -> bool {
        ops::expire(self, key, Deadline::In(ttl), ExpireCond::ALWAYS).done()
    }

    /// Removes `key`'s TTL. `true` only if a live key had one.
    pub fn persist(&self, key: &[u8]) -> bool {
        ops::persist(self, key)
    }

    /// Keys held, including expired keys not yet reclaimed (like Redis `DBSIZE`), not
    /// counting tombstones.
    pub fn len(&self) -> usize {
        walk::len(self)
    }

    /// Whether [`Store::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key and tombstone, with every stripe held at once (so no transaction
    /// sees it half done). Counters other than memory are kept (like Redis `FLUSHALL` and
    /// `INFO stats`); the old storage is freed after the locks are released.
    pub fn flush(&self) {
        let locked = self.lock_all();
        locked.flush_all();
        drop(locked);
    }

    /// Sums the per-shard counters.
    pub fn stats(&self) -> StoreStats {
        self.check_not_held();
        let mut st = StoreStats {
            sweep_last_pass_ms: self.sweep_last_pass_ms.load(Ordering::Relaxed),
            sweep_passes: self.sweep_passes.load(Ordering::Relaxed),
            ..StoreStats::default()
        };
        for slot in &self.slots {
            let shard = slot.0.lock();
            let c = &shard.counters;
            st.keys += shard.len();
            st.tombstones += c.tombstones;
            st.expiring += c.volatile;
            st.expired_keys += c.expired;
            st.evictions += c.evictions;
            st.get_hits += c.hits;
            st.get_misses += c.misses;
            st.used_memory += c.used;
        }
        st
    }

    /// Number of shards (a power of two).
    pub fn shard_count(&self) -> usize {
        self.slots.len()
    }

    fn out_of_memory(&self) -> StoreError {
        StoreError::OutOfMemory { maxmemory: self.maxmemory() }
    }

    /// Asserts every shard's internal invariants (tests only).
    #[cfg(test)]
    fn check_invariants(&self) {
        for slot in &self.slots {
            slot.0.lock().check_invariants();
        }
    }
}
