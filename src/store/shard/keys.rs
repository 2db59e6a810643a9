//! The shard's side of the keyspace commands: conditional expiry, touching and inspecting
//! a key, reading one out for RENAME/COPY, what WATCH remembers, and the walks behind
//! KEYS, SCAN and RANDOMKEY.
//!
//! # Watching absent keys
//!
//! A live key's version changes with every write, so WATCH compares versions. An absent
//! key has none; what would change it is a key of that name being created (and maybe
//! removed again before EXEC). Each shard counts key creations in [`CREATED_BUCKETS`]
//! buckets by hash: a watched absent key whose bucket's count moved may have been created,
//! so EXEC aborts. A creation of another key in the same bucket aborts it too (about one
//! creation in `stripes x 64` does): a rare spurious abort, never a missed change.

use bytes::Bytes;
use rand::Rng;

use super::Shard;
use crate::store::entry::EntryRef;
use crate::store::{Change, ExpireCond, INLINE_VALUE_MAX, KeyInfo};

/// Buckets of the per-shard count of key creations (see the module docs).
pub const CREATED_BUCKETS: usize = 64;

/// Random picks RANDOMKEY tries in a stripe before walking it for a live key.
pub const RANDOM_TRIES: usize = 8;

/// The creation-count bucket of a key's table hash.
pub(super) fn created_bucket(hash: u32) -> usize {
    (hash >> 26) as usize % CREATED_BUCKETS
}

impl Shard {
    /// Counts a key coming into existence (an entry becoming a live key).
    pub(super) fn note_created(&mut self, hash: u32) {
        let c = &mut self.created[created_bucket(hash)];
        *c = c.wrapping_add(1);
    }

    /// EXPIRE's step: gives the live `key` the deadline `new` if `cond` allows it. For a
    /// deadline already past (`new` `None`) that `cond` allows, nothing changes here and the
    /// answer is `Deleted`: the caller deletes the key (the way its deletes go).
    pub(in crate::store) fn expire_if(
        &mut self,
        hash: u32,
        key: &[u8],
        new: Option<u64>,
        cond: ExpireCond,
        now: u64,
    ) -> Change {
        let Some(i) = self.find_live(hash, key, now) else { return Change::Missing };
        let current = self.entries[i].expires_at();
        // A past deadline compares as now, which is before any live key's deadline.
        if !cond.allows(current, new.unwrap_or(now)) {
            return Change::Refused;
        }
        let Some(at) = new else { return Change::Deleted { version: 0 } };
        // A new version even when the deadline is the same: Redis counts every EXPIRE that
        // answers 1 as a change of the key (WATCH aborts on it).
        let version = self.stamp(self.entries[i].version());
        self.redeadline(i, at);
        self.entries[i].set_version(version);
        Change::Written { version: self.entries[i].version() }
    }

    /// Marks the live `key` recently used (TOUCH); whether it is live.
    pub(in crate::store) fn touch(&mut self, hash: u32, key: &[u8], now: u64) -> bool {
        let Some(i) = self.find_live(hash, key, now) else { return false };
        self.entries[i].set_visited(true);
        true
    }

    /// How the live `key` is stored.
    pub(in crate::store) fn inspect(&mut self, hash: u32, key: &[u8], now: u64) -> Option<KeyInfo> {
        let i = self.find_live(hash, key, now)?;
        let value = self.entries[i].value_slice(&self.slab);
        let inline = value.len() <= INLINE_VALUE_MAX;
        // Redis keeps a value that reads as a 64-bit integer as one ("int"); at most 20 bytes.
        let int = value.len() <= 20 && crate::protocol::text::parse_i64(value).is_some();
        Some(KeyInfo { inline, int, footprint: self.footprint(i) })
    }

    /// The live `key`'s value (shared if big) and deadline, without counting a hit.
    pub(in crate::store) fn peek(
        &mut self,
        hash: u32,
        key: &[u8],
        now: u64,
    ) -> Option<(Bytes, u64)> {
        let i = self.find_live(hash, key, now)?;
        let e = &self.entries[i];
        Some((e.value(&self.slab), e.expires_at()))
    }

    /// The live `key`'s version (0 if absent) and its bucket's creation count.
    pub(in crate::store) fn watch_mark(&mut self, hash: u32, key: &[u8], now: u64) -> (u64, u32) {
        let version = self.find_live(hash, key, now).map_or(0, |i| self.entries[i].version());
        (version, self.created[created_bucket(hash)])
    }

    /// Appends to `out` every live key `filter` accepts.
    pub(in crate::store) fn live_keys(
        &self,
        now: u64,
        filter: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Bytes>,
    ) {
        let live = self.entries.iter().map(|e| e.view(&self.slab)).filter(|e| is_live(e, now));
        out.extend(live.filter(|e| filter(e.key())).map(|e| Bytes::copy_from_slice(e.key())));
    }

    /// Looks at up to `max` entries downwards from `top` (see `scan.rs`), appending the live
    /// keys `filter` accepts to `out`. Returns the new `top` and how many entries it saw.
    pub(in crate::store) fn scan_keys(
        &self,
        top: usize,
        max: usize,
        now: u64,
        filter: &dyn Fn(&[u8]) -> bool,
        out: &mut Vec<Bytes>,
    ) -> (usize, usize) {
        let mut looked = 0;
        let next = self.scan_down(top, max, |e| {
            looked += 1;
            if is_live(&e, now) && filter(e.key()) {
                out.push(Bytes::copy_from_slice(e.key()));
            }
            true
        });
        (next, looked)
    }

    /// A random live key: a few random picks, then a walk from a random entry.
    pub(in crate::store) fn random_live(&self, now: u64, rng: &mut impl Rng) -> Option<Bytes> {
        let n = self.entries.len();
        if n == 0 {
            return None;
        }
        let live = |i: usize| Some(self.entries[i].view(&self.slab)).filter(|e| is_live(e, now));
        let picked = (0..RANDOM_TRIES).find_map(|_| live(rng.gen_range(0..n)));
        let start = rng.gen_range(0..n);
        let found = picked.or_else(|| (0..n).find_map(|k| live((start + k) % n)))?;
        Some(Bytes::copy_from_slice(found.key()))
    }
}

/// A key, not a tombstone, and not expired.
fn is_live(e: &EntryRef<'_>, now: u64) -> bool {
    !e.is_tombstone() && !e.is_expired(now)
}
