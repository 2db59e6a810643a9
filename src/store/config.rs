//! The store's public value types: construction settings ([`StoreConfig`], [`StoreOptions`]),
//! write conditions, TTL states, counters, dump records and errors. No behaviour lives here
//! beyond resolving defaults.

use std::time::Duration;

use bytes::Bytes;

/// Upper bound on the shard count. More shards than this only add per-shard fixed cost
/// (128 bytes each, and a sweep pass visits every one). The dump cursor gives the shard
/// index 16 bits, so this must not grow past `1 << 16`.
pub const MAX_SHARDS: usize = 1 << 16;

/// Shards per available core when [`StoreConfig::shards`] is 0 (auto).
pub const SHARDS_PER_CORE: usize = 4;

/// How long a tombstone (the record a delete leaves in cluster mode) lives by default: the
/// tombstone grace. A replica away from its peers for longer than half of it resynchronises
/// before it serves again, so a delete can never come back from a replica that missed it.
pub const DEFAULT_TOMBSTONE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Store construction settings: the shard layout. Everything else is in [`StoreOptions`].
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

/// Replication and memory settings, passed to [`super::Store::with_options`].
///
/// These are a separate struct (not fields of [`StoreConfig`]) because `StoreConfig` is built
/// with exhaustive struct literals elsewhere in the crate, which new fields would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Whether plain deletes ([`super::Store::del`], zero-TTL `set`/`expire`) leave a
    /// tombstone carrying the delete's version. Off by default; cluster mode turns it on.
    /// Versioned deletes always leave one.
    pub tombstones: bool,
    /// How long a tombstone blocks older writes before the sweep reclaims it; this bounds how
    /// late a replicated write may arrive and still be ordered correctly. Default
    /// [`DEFAULT_TOMBSTONE_TTL`].
    pub tombstone_ttl: Duration,
    /// Tie-breaker id of the store's own [`crate::version::Hlc`], which stamps plain writes.
    pub clock_id: u16,
    /// Memory limit in bytes of `used_memory` accounting; `0` (default) = unlimited. Each
    /// shard gets `maxmemory / shards` of it (see the module docs).
    pub maxmemory: usize,
    /// What a write that would exceed `maxmemory` does.
    pub eviction: EvictionPolicy,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            tombstones: false,
            tombstone_ttl: DEFAULT_TOMBSTONE_TTL,
            clock_id: 0,
            maxmemory: 0,
            eviction: EvictionPolicy::default(),
        }
    }
}

/// What happens when a write would push a shard past its share of `maxmemory`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// Refuse the write with [`StoreError::OutOfMemory`] (Redis `noeviction`). Deletes and
    /// writes that do not grow memory still work.
    #[default]
    NoEviction,
    /// Evict keys not read since the clock hand last passed them (CLOCK / SIEVE style);
    /// expired entries the hand meets go whatever their bit. Work per write is bounded.
    Clock,
}

/// Why the store refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The write would exceed `maxmemory` under [`EvictionPolicy::NoEviction`], or the value
    /// alone is larger than a shard's budget.
    #[error("OOM command not allowed when used memory > 'maxmemory' ({maxmemory} bytes)")]
    OutOfMemory {
        /// The configured limit.
        maxmemory: usize,
    },
    /// The key is longer than the store can hold.
    #[error("key of {len} bytes is longer than the store's limit of {max}")]
    KeyTooLarge {
        /// The key's length.
        len: usize,
        /// [`super::MAX_KEY_LEN`].
        max: usize,
    },
}

/// The condition a [`super::Store::set`] must meet to write.
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

impl SetCond {
    /// Whether the condition holds given whether a live key exists.
    pub(super) fn allows(self, live: bool) -> bool {
        match self {
            SetCond::Always => true,
            SetCond::IfAbsent => !live,
            SetCond::IfPresent => live,
        }
    }
}

/// A key's expiry state, as seen by [`super::Store::ttl`].
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

/// A snapshot of store counters (see [`super::Store::stats`]). Shards are read one after
/// another, so under concurrent writes the fields are each accurate but not one atomic instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Keys held, including expired ones not yet reclaimed (like Redis `DBSIZE`); tombstones
    /// are not keys and are not counted.
    pub keys: usize,
    /// Tombstones held (including expired ones not yet reclaimed).
    pub tombstones: usize,
    /// Keys with a time to live (Redis's `expires`), including expired ones not yet
    /// reclaimed.
    pub expiring: usize,
    /// Total expired keys reclaimed, by read paths, sweeping or eviction (tombstones that
    /// run out are not counted).
    pub expired_keys: u64,
    /// Live keys evicted to stay under `maxmemory`.
    pub evictions: u64,
    /// `get` calls that found a live key.
    pub get_hits: u64,
    /// `get` calls that found no live key.
    pub get_misses: u64,
    /// Approximate bytes held by keys and tombstones: key + value lengths +
    /// [`super::ENTRY_OVERHEAD`] per entry. This is what `maxmemory` limits.
    pub used_memory: usize,
    /// Wall time of the last completed sweep pass, in milliseconds.
    pub sweep_last_pass_ms: u64,
    /// Completed sweep passes (sweeper task and [`super::Store::sweep_pass`]).
    pub sweep_passes: u64,
}

/// What one [`super::Store::sweep_chunk`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepProgress {
    /// Entries looked at (at most the requested maximum).
    pub inspected: usize,
    /// Expired entries (keys or tombstones) removed: at most `inspected`, unless `wiped`.
    pub reclaimed: usize,
    /// The cursor reached the end of the shard and wrapped to 0.
    pub pass_complete: bool,
    /// Every entry of the shard had expired, and the shard was emptied in one step without
    /// looking at any (`reclaimed` counts them all, `inspected` is 0).
    pub wiped: bool,
}

/// One record of a shard dump ([`super::Store::dump_page`]), applied elsewhere with
/// [`super::Store::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpEntry {
    /// The key.
    pub key: Bytes,
    /// The value; `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Remaining time to live when dumped; `None` = no expiry. Always `Some` for a tombstone
    /// (its remaining life).
    pub ttl: Option<Duration>,
    /// The write's version (last writer wins).
    pub version: u64,
}

/// A new deadline for a key ([`super::Keyspace::expire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// This long from now; zero means already past (the key is deleted).
    In(Duration),
    /// At this time since the Unix epoch, converted through the store's wall clock; a time
    /// not after now is already past (the key is deleted).
    At(Duration),
}

impl Deadline {
    /// The deadline in clock nanoseconds at store time `now` (wall clock `wall`), or `None`
    /// when it is already past.
    pub(super) fn deadline(self, now: u64, wall: Duration) -> Option<u64> {
        let ttl = match self {
            Deadline::In(ttl) => ttl,
            Deadline::At(at) => at.saturating_sub(wall),
        };
        (!ttl.is_zero()).then(|| super::entry::deadline(now, Some(ttl)))
    }
}

/// EXPIRE's NX, XX, GT and LT options: when a new deadline may replace the current one.
/// Redis's rules: a key without a deadline counts as expiring never, so GT never applies
/// to it and LT always does; XX combines with GT or LT, NX with nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpireCond {
    /// NX: only if the key has no deadline.
    pub nx: bool,
    /// XX: only if the key has a deadline.
    pub xx: bool,
    /// GT: only if the new deadline is later than the current one.
    pub gt: bool,
    /// LT: only if the new deadline is sooner than the current one.
    pub lt: bool,
}

impl ExpireCond {
    /// No condition.
    pub const ALWAYS: ExpireCond = ExpireCond { nx: false, xx: false, gt: false, lt: false };

    /// Whether deadline `new` may replace `current` (`0` = none), in clock nanoseconds.
    pub(super) fn allows(self, current: u64, new: u64) -> bool {
        let none = current == 0;
        !(self.nx && !none
            || self.xx && none
            || self.gt && (none || new <= current)
            || self.lt && !none && new >= current)
    }
}

/// What a conditional write did, and the version the key holds afterwards, so a
/// coordinator can replicate the outcome as a versioned write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// There was no live key to act on (for RENAME and COPY: no live source).
    Missing,
    /// The condition refused the change (EXPIRE's NX/XX/GT/LT, RENAMENX, COPY without
    /// REPLACE onto a live key).
    Refused,
    /// Written: the key now holds this version.
    Written {
        /// The key's version now.
        version: u64,
    },
    /// Deleted: the tombstone's version, or 0 where deletes leave none.
    Deleted {
        /// The tombstone's version (0: no tombstone).
        version: u64,
    },
}

impl Change {
    /// Whether anything changed (Redis's integer reply 1).
    pub fn done(self) -> bool {
        matches!(self, Change::Written { .. } | Change::Deleted { .. })
    }
}

/// How a live key is stored ([`super::Keyspace::inspect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The value is stored inline, next to the key (up to
    /// [`super::INLINE_VALUE_MAX`] bytes); otherwise it is a shared buffer of its own.
    pub inline: bool,
    /// The value reads as a 64-bit integer (Redis stores such a value as one).
    pub int: bool,
    /// What the key adds to `used_memory`: key and value bytes plus
    /// [`super::ENTRY_OVERHEAD`].
    pub footprint: usize,
}

/// What WATCH remembers of a key, to tell at EXEC whether anyone changed it
/// ([`super::Keyspace::watch`]): the live key's version, the creation count of its hash
/// bucket (for a key that was absent), and the store's flush epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchMark {
    pub(super) version: u64,
    pub(super) created: u32,
    pub(super) epoch: u64,
}

impl WatchMark {
    /// Whether the key may have changed between `before` and `self` (both of one key). A
    /// live key changed iff its version did; an absent one iff a key may have been created
    /// in its bucket; every key iff the store was flushed.
    pub fn changed_since(self, before: WatchMark) -> bool {
        if self.epoch != before.epoch || self.version != before.version {
            return true;
        }
        self.version == 0 && self.created != before.created
    }

    /// The mark as text, `version.created.epoch`: how a shard's coordinator hands it to a
    /// router that watches a key for its client, to be handed back at EXEC (TXEXEC WATCH).
    pub fn to_text(self) -> String {
        format!("{}.{}.{}", self.version, self.created, self.epoch)
    }

    /// Parses [`WatchMark::to_text`]'s form; `None` for anything else.
    pub fn from_text(text: &[u8]) -> Option<Self> {
        let mut parts = std::str::from_utf8(text).ok()?.split('.');
        let mark = WatchMark {
            version: parts.next()?.parse().ok()?,
            created: parts.next()?.parse().ok()?,
            epoch: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(mark)
    }
}
