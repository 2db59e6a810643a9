//! The reference the store is checked against: a `BTreeMap` of keys and tombstones with
//! deadlines and versions, written from the rules in `store/mod.rs` and `store/replica.rs`.
//!
//! It holds every entry the store might still hold, expired or not, and drops one exactly
//! when the store must have: a delete, an overwrite, a read path that finds it expired, a
//! full sweep pass or a flush. Versions the store stamps itself (plain writes, from a
//! wall-clock HLC) cannot be predicted, so the harness reads them back with `version_of`
//! and [`Model::stamped`] checks they beat the version they replaced.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::store::{ENTRY_OVERHEAD, SetCond, TtlState};

/// One entry: a key (`value` is `Some`) or a tombstone (`None`).
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) value: Option<Vec<u8>>,
    /// Absolute deadline in clock nanoseconds; `None` = persistent.
    pub(super) deadline: Option<u64>,
    pub(super) version: u64,
}

/// What a write did to the model, so the harness knows whether to read back a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stamp {
    /// Nothing was written.
    None,
    /// The store stamped a fresh version newer than this one (0 = nothing was held).
    After(u64),
}

#[derive(Debug)]
pub(super) struct Model {
    pub(super) entries: BTreeMap<Vec<u8>, Entry>,
    pub(super) now: u64,
    pub(super) hits: u64,
    pub(super) misses: u64,
    /// Whether plain deletes leave tombstones, and for how long tombstones live.
    tombstones: bool,
    tombstone_ttl: Duration,
}

impl Model {
    pub(super) fn new(tombstones: bool, tombstone_ttl: Duration) -> Self {
        let entries = BTreeMap::new();
        Self { entries, now: 0, hits: 0, misses: 0, tombstones, tombstone_ttl }
    }

    pub(super) fn is_unexpired(&self, e: &Entry) -> bool {
        e.deadline.is_none_or(|d| self.now < d)
    }

    /// The deadline a TTL set now resolves to, saturating like the store.
    pub(super) fn deadline(&self, ttl: Duration) -> u64 {
        let nanos = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.now.saturating_add(nanos)
    }

    /// The unexpired key or tombstone for `key`; an expired one is dropped, as every store
    /// path that looks a key up does.
    pub(super) fn held(&mut self, key: &[u8]) -> Option<&mut Entry> {
        if self.entries.get(key).is_some_and(|e| !self.is_unexpired(e)) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    /// The live key (not a tombstone).
    pub(super) fn live(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.held(key).filter(|e| e.value.is_some())
    }

    fn held_version(&mut self, key: &[u8]) -> u64 {
        self.held(key).map_or(0, |e| e.version)
    }

    /// A plain write; the version is filled in by [`Model::stamped`].
    pub(super) fn set(
        &mut self,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
        cond: SetCond,
    ) -> (bool, Stamp) {
        if ttl.is_some_and(|t| t.is_zero()) {
            return self.delete(key, cond);
        }
        let held = self.held_version(key);
        if !allows(cond, self.live(key).is_some()) {
            return (false, Stamp::None);
        }
        let deadline = ttl.map(|t| self.deadline(t));
        let entry = Entry { value: Some(value.to_vec()), deadline, version: 0 };
        self.entries.insert(key.to_vec(), entry);
        (true, Stamp::After(held))
    }

    /// A plain delete of the live key if `cond` allows. Returns whether `cond` allowed it
    /// (what `set` with a zero TTL reports) and the stamp of the tombstone it left, if any.
    fn delete(&mut self, key: &[u8], cond: SetCond) -> (bool, Stamp) {
        let Some(old) = self.live(key).map(|e| e.version) else {
            return (allows(cond, false), Stamp::None);
        };
        if !allows(cond, true) {
            return (false, Stamp::None);
        }
        if !self.tombstones {
            self.entries.remove(key);
            return (true, Stamp::None);
        }
        let deadline = Some(self.deadline(self.tombstone_ttl));
        self.entries.insert(key.to_vec(), Entry { value: None, deadline, version: 0 });
        (true, Stamp::After(old))
    }

    /// `del`: whether a live key was removed.
    pub(super) fn del(&mut self, key: &[u8]) -> (bool, Stamp) {
        let live = self.live(key).is_some();
        let (_, stamp) = self.delete(key, SetCond::Always);
        (live, stamp)
    }

    pub(super) fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let value = self.live(key).and_then(|e| e.value.clone());
        if value.is_some() {
            self.hits += 1
        } else {
            self.misses += 1
        }
        value
    }

    pub(super) fn ttl(&mut self, key: &[u8]) -> TtlState {
        let now = self.now;
        match self.live(key).map(|e| e.deadline) {
            None => TtlState::Missing,
            Some(None) => TtlState::Persistent,
            Some(Some(d)) => TtlState::Expires(Duration::from_nanos(d - now)),
        }
    }

    /// `expire` (zero = delete) and `persist` (`ttl = None`): EXPIRE restamps a live key,
    /// PERSIST one that had a deadline.
    pub(super) fn set_deadline(&mut self, key: &[u8], ttl: Option<Duration>) -> (bool, Stamp) {
        if ttl.is_some_and(|t| t.is_zero()) {
            return self.del(key);
        }
        let deadline = ttl.map(|t| self.deadline(t));
        let Some(entry) = self.live(key) else { return (false, Stamp::None) };
        let had_ttl = entry.deadline.is_some();
        // EXPIRE stamps a new version even when the deadline stays the same (Redis counts
        // every EXPIRE that answers 1 as a change of the key); PERSIST only when it removes
        // a deadline.
        if ttl.is_none() && !had_ttl {
            return (false, Stamp::None);
        }
        entry.deadline = deadline;
        (true, Stamp::After(entry.version))
    }

    /// Records the version the store stamped on a plain write (`None` if the entry it wrote
    /// is already expired, which `version_of` then reclaims).
    pub(super) fn stamped(&mut self, key: &[u8], got: Option<u64>, replaced: u64) {
        let expected = self.held(key).is_some();
        assert_eq!(got.is_some(), expected, "version_of after a plain write: {got:?}");
        if let (Some(v), Some(e)) = (got, self.entries.get_mut(key)) {
            // Newer than what it replaced, unless that was already the largest version.
            assert!(v > replaced || v == u64::MAX, "plain write stamped {v} over {replaced}");
            e.version = v;
        }
    }

    /// A last-writer-wins write: a key (`value`) or a tombstone (`None`), applied iff
    /// `version` beats the held one (an expired entry counts as version 0), or equals it and
    /// the content wins the tie (a value beats a tombstone, the greater value the smaller).
    /// Returns whether it applied and whether it replaced a live key.
    pub(super) fn put_versioned(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        ttl: Option<Duration>,
        version: u64,
    ) -> (bool, bool) {
        let held = self.held(key).map(|e| (e.version, e.value.clone()));
        let wins = match &held {
            None => version > 0,
            Some((v, _)) if version != *v => version > *v,
            Some((_, old)) => match (value, old) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(new), Some(old)) => new > old.as_slice(),
            },
        };
        if !wins {
            return (false, false);
        }
        let ttl = if value.is_some() { ttl } else { Some(self.tombstone_ttl) };
        let deadline = ttl.map(|t| self.deadline(t));
        let entry = Entry { value: value.map(<[u8]>::to_vec), deadline, version };
        self.entries.insert(key.to_vec(), entry);
        (true, held.is_some_and(|(_, old)| old.is_some()))
    }

    pub(super) fn version_of(&mut self, key: &[u8]) -> Option<u64> {
        self.held(key).map(|e| e.version)
    }

    /// Drops every expired entry: what a full sweep pass does.
    pub(super) fn sweep(&mut self) {
        let now = self.now;
        self.entries.retain(|_, e| e.deadline.is_none_or(|d| now < d));
    }

    /// `(unexpired keys, all keys held)`: the bounds of the store's `len()`.
    pub(super) fn key_counts(&self) -> (usize, usize) {
        let keys = self.entries.values().filter(|e| e.value.is_some());
        let unexpired = keys.clone().filter(|e| self.is_unexpired(e)).count();
        (unexpired, keys.count())
    }

    /// `(unexpired entries, all entries)` in `used_memory` bytes, tombstones included.
    pub(super) fn memory(&self) -> (usize, usize) {
        let fp = |(k, e): (&Vec<u8>, &Entry)| {
            k.len() + e.value.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD
        };
        let unexpired = self.entries.iter().filter(|(_, e)| self.is_unexpired(e)).map(fp).sum();
        (unexpired, self.entries.iter().map(fp).sum())
    }
}

fn allows(cond: SetCond, live: bool) -> bool {
    match cond {
        SetCond::Always => true,
        SetCond::IfAbsent => !live,
        SetCond::IfPresent => live,
    }
}
