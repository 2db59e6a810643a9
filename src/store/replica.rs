//! The last-writer-wins write API replication uses: versioned sets and deletes, version
//! lookups, and applying dumped entries. Plain writes (in `mod.rs`) are stamped by the store's
//! clock instead; both kinds compare against the same per-key version, live or tombstone.
//!
//! Rules, all decided under the shard lock:
//! * a versioned write applies iff its version is greater than the held one (a live key's or
//!   a tombstone's; an expired entry counts as absent, i.e. version 0, so version 0 never
//!   applies), or equal and its content wins the tie (a value beats a tombstone, the
//!   bytewise greater value beats the other), so replicas agree even on equal versions;
//! * every version passed in is observed into the store's clock first, so later plain writes
//!   are stamped newer;
//! * a versioned delete always leaves a tombstone, even for an absent key, whether or not
//!   [`StoreOptions::tombstones`](super::StoreOptions::tombstones) is set.

use std::time::Duration;

use super::shard::Put;
use super::{DumpEntry, Store, StoreError, ops};

/// How a last-writer-wins write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lww {
    /// Written; `replaced_live` says whether a live key was there before.
    Applied {
        /// A live (unexpired, not deleted) value was replaced.
        replaced_live: bool,
    },
    /// Not written: the key holds `held`, which wins over the write's version.
    Stale {
        /// The version the key holds.
        held: u64,
    },
}

impl Lww {
    pub(super) fn of(put: Put) -> Result<Self, ()> {
        match put {
            Put::Applied { replaced_live } => Ok(Lww::Applied { replaced_live }),
            Put::Stale { held } => Ok(Lww::Stale { held }),
            Put::OutOfMemory => Err(()),
        }
    }

    /// Whether the write was applied.
    pub fn applied(self) -> bool {
        matches!(self, Lww::Applied { .. })
    }
}

impl Store {
    /// Writes `key = value` (TTL `None` = persistent) iff `version` is newer than the held
    /// version. A zero TTL makes it a versioned delete. `false` if stale or refused (out of
    /// memory); [`Store::try_set_versioned`] tells those apart.
    pub fn set_versioned(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
        version: u64,
    ) -> bool {
        self.try_set_versioned(key, value, ttl, version).unwrap_or(false)
    }

    /// [`Store::set_versioned`], with refusals as errors: `Ok(false)` means only "stale".
    pub fn try_set_versioned(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
        version: u64,
    ) -> Result<bool, StoreError> {
        self.write_versioned(key, Some(value), ttl, version).map(Lww::applied)
    }

    /// A versioned write of `value` (`None`: a delete, leaving a tombstone) with the held
    /// version reported when it loses. A zero TTL makes a value write a delete.
    pub fn write_versioned(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        ttl: Option<Duration>,
        version: u64,
    ) -> Result<Lww, StoreError> {
        ops::write_versioned(self, key, value, ttl, version)
    }

    /// Deletes `key` as of `version`: if that is newer than the held version, the key (live or
    /// not) is replaced by a tombstone carrying `version` for
    /// [`StoreOptions::tombstone_ttl`](super::StoreOptions::tombstone_ttl), so an older write
    /// arriving later is ignored. Returns whether a live key was removed. Never refused for
    /// memory.
    pub fn del_versioned(&self, key: &[u8], version: u64) -> bool {
        let done = self.write_versioned(key, None, None, version);
        done == Ok(Lww::Applied { replaced_live: true })
    }

    /// The version `key` holds, live or tombstone; `None` if absent or expired.
    pub fn version_of(&self, key: &[u8]) -> Option<u64> {
        ops::version_of(self, key)
    }

    /// `key`'s entry as it stands: its value (`None` for a tombstone), remaining TTL and
    /// version; `None` when nothing is held (absent or expired). A shard's coordinator reports
    /// it after running a read-modify-write command, for the other replicas to apply with
    /// that version.
    pub fn state_of(&self, key: &[u8]) -> Option<DumpEntry> {
        self.with_shard(key, |s, h, now| s.held(h, key, now, |e| super::dump::entry_of(e, now)))
    }

    /// Applies a dumped entry, last writer wins: a value as [`Store::set_versioned`] with the
    /// remaining TTL (so a copy never outlives its source), a tombstone as a versioned delete
    /// with the tombstone's remaining life. An entry with zero TTL left was already expired
    /// at the source and is ignored. `true` if applied; `false` if stale or refused.
    pub fn apply(&self, e: &DumpEntry) -> bool {
        self.try_apply(e).unwrap_or(false)
    }

    /// [`Store::apply`], with refusals as errors: `Ok(false)` means stale or expired.
    pub fn try_apply(&self, e: &DumpEntry) -> Result<bool, StoreError> {
        if e.ttl.is_some_and(|t| t.is_zero()) {
            return Ok(false);
        }
        match &e.value {
            Some(value) => self.try_set_versioned(&e.key, value, e.ttl, e.version),
            None => {
                self.hlc.observe(e.version);
                let life = e.ttl.unwrap_or(self.opts.tombstone_ttl);
                let put = ops::put_tombstone(self, self.place(&e.key), &e.key, e.version, life);
                Ok(matches!(put, Put::Applied { .. }))
            }
        }
    }
}
