//! The per-key record and its memory layout, deadlines ([`deadline`]) and the hash split between
//! shard choice and table index. Nothing here locks, reads a clock or knows about shards; the
//! bytes an entry points at live in the shard's [`Slab`].
//!
//! Layout (24 bytes on 64-bit targets; no heap block of its own):
//!
//! ```text
//! Entry
//! +------------+---------+---------+---------+
//! | expires_at | version | meta    | slot    |
//! | u64 8 B    | u64 8 B | u32 4 B | u32 4 B |
//! +------------+---------+---------+---------+
//!                          |         |
//!   meta bit 31: tombstone |         v  not big: slab record (length = key length + inline
//!   meta bit 30: visited   |            value length)
//!   meta bit 29: big       |         +-----------+------------------+
//!   bits 20..29: inline    |         | key bytes | value (if inline)|
//!     value length         |         +-----------+------------------+
//!   bits 0..20: key length |         big: the index of (key block, shared `Bytes` value)
//!                                    in the slab's big-value table
//! ```
//!
//! Why: the key and a small value share one slab slot (rounded up to 8 bytes, no allocator
//! header), so a small key/value pair costs this record plus its bytes. A small inline value
//! is copied out on read, which is about as cheap as a refcount bump and never makes hot keys
//! ping-pong a shared refcount between cores. Values over [`INLINE_VALUE_MAX`] are kept as
//! shared [`Bytes`] so reads never copy them; their key gets a heap block of its own next to
//! the value, as one more small allocation is nothing beside a value of hundreds of bytes.
//! The entry keeps no hash: the table rehashes (and finds a moved entry's bucket) by hashing
//! the key again, which costs a key load on growth and removal and saves 8 bytes per key
//! (24 rather than 32; a 4-byte hash alone would pad the record to 32). Flags and lengths
//! share `meta` because keys are capped at [`MAX_KEY_LEN`], far above the protocol's 64 KiB,
//! and inline values at [`INLINE_VALUE_MAX`].
//!
//! A *tombstone* is an entry with the tombstone flag, the key only (no value) and the version
//! of the delete that made it; it keeps a delete's version around so a delayed older write
//! cannot resurrect the key. Reads never see tombstones. Entries are built as a
//! [`Draft`](super::draft::Draft) outside the lock and committed into the slab under it.

use std::ops::Deref;
use std::time::Duration;

use bytes::Bytes;

use super::slab::{Garbage, Slab, Trash};

/// Values up to this many bytes are stored inline after the key and copied out on read;
/// larger ones are shared [`Bytes`] and reads return a reference-counted handle.
pub const INLINE_VALUE_MAX: usize = 256;

/// The longest key the store accepts (1 MiB - 1): the key length shares a `u32` with three
/// flag bits and the inline value length. The protocol's key limit is far lower (64 KiB).
pub const MAX_KEY_LEN: usize = KEY_MASK as usize;

/// Approximate bytes a key costs beyond its key and value bytes, as counted by `used_memory`:
/// the 24-byte entry record plus the table's `u32` index and control byte. Not counted: the
/// rounding of a key's slab slot up to 8 bytes (3.5 bytes on average), the index table's
/// spare buckets, the last entry chunk's unused tail, and the side-table slot, key block,
/// `Bytes` handle and buffer header of values over [`INLINE_VALUE_MAX`].
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + std::mem::size_of::<u32>() + 1;

pub(super) const TOMBSTONE: u32 = 1 << 31;
pub(super) const VISITED: u32 = 1 << 30;
/// In `meta`: the value is big, and `slot` indexes the slab's big values.
pub(super) const BIG: u32 = 1 << 29;
const INLINE_SHIFT: u32 = 20;
const KEY_MASK: u32 = (1 << INLINE_SHIFT) - 1;
const INLINE_MASK: u32 = (BIG - 1) & !KEY_MASK;
const _: () = assert!(INLINE_VALUE_MAX as u32 <= INLINE_MASK >> INLINE_SHIFT);

/// `meta` with its visited flag set to `visited` (for entries and drafts alike).
pub(super) fn with_visited(meta: u32, visited: bool) -> u32 {
    if visited { meta | VISITED } else { meta & !VISITED }
}

/// `meta` with its inline value length set to `len` (at most [`INLINE_VALUE_MAX`]).
pub(super) fn with_inline(meta: u32, len: usize) -> u32 {
    debug_assert!(len <= INLINE_VALUE_MAX);
    (meta & !INLINE_MASK) | ((len as u32) << INLINE_SHIFT)
}

/// Splits a key's 64-bit hash: bits 32.. pick the shard, bits ..32 become the table hash.
pub(super) fn split_hash(hash: u64) -> (usize, u32) {
    ((hash >> 32) as usize, hash as u32)
}

/// Spreads a 32-bit key hash over the 64 bits hashbrown reads (it takes bucket bits from the
/// bottom and its 7-bit tag from the top), so both get well-mixed bits.
pub(super) fn table_hash(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// One key/value pair or tombstone, its bytes in a [`Slab`]. `expires_at == 0` means "never";
/// real deadlines are always >= 1 because they are `now + ttl` with a non-zero ttl.
/// `version == 0` means "none".
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) expires_at: u64,
    pub(super) version: u64,
    pub(super) meta: u32,
    pub(super) slot: u32,
}

impl Entry {
    fn key_len(&self) -> usize {
        (self.meta & KEY_MASK) as usize
    }

    /// Whether the value is big (its key and value are in the slab's big-value table).
    #[inline]
    pub(super) fn is_big(&self) -> bool {
        self.meta & BIG != 0
    }

    fn inline_len(&self) -> usize {
        ((self.meta & INLINE_MASK) >> INLINE_SHIFT) as usize
    }

    /// Bytes of the slab record: the key plus the inline value; `0` for a big value, whose
    /// key is kept with it.
    #[inline]
    pub(super) fn record_len(&self) -> usize {
        if self.is_big() { 0 } else { self.key_len() + self.inline_len() }
    }

    #[inline]
    pub(super) fn key<'s>(&self, slab: &'s Slab) -> &'s [u8] {
        if self.is_big() {
            slab.big_key(self.slot)
        } else {
            &slab.record(self.record_len(), self.slot)[..self.key_len()]
        }
    }

    pub(super) fn value_len(&self, slab: &Slab) -> usize {
        if self.is_big() { slab.big(self.slot).len() } else { self.inline_len() }
    }

    /// The value as an owned handle: a copy if inline, a refcount bump otherwise. Empty for
    /// a tombstone (callers filter tombstones out first).
    #[inline]
    pub(super) fn value(&self, slab: &Slab) -> Bytes {
        if self.is_big() {
            Bytes::clone(slab.big(self.slot))
        } else {
            Bytes::copy_from_slice(&slab.record(self.record_len(), self.slot)[self.key_len()..])
        }
    }

    /// The value's bytes, borrowed from the slab (empty for a tombstone).
    pub(super) fn value_slice<'s>(&self, slab: &'s Slab) -> &'s [u8] {
        if self.is_big() {
            slab.big(self.slot)
        } else {
            &slab.record(self.record_len(), self.slot)[self.key_len()..]
        }
    }

    pub(super) fn is_tombstone(&self) -> bool {
        self.meta & TOMBSTONE != 0
    }

    pub(super) fn is_visited(&self) -> bool {
        self.meta & VISITED != 0
    }

    pub(super) fn set_visited(&mut self, visited: bool) {
        self.meta = with_visited(self.meta, visited);
    }

    pub(super) fn version(&self) -> u64 {
        self.version
    }

    pub(super) fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    pub(super) fn expires_at(&self) -> u64 {
        self.expires_at
    }

    pub(super) fn set_expiry(&mut self, at: u64) {
        self.expires_at = at;
    }

    pub(super) fn is_expired(&self, now: u64) -> bool {
        self.expires_at != 0 && now >= self.expires_at
    }

    /// What this entry adds to `used_memory`.
    pub(super) fn footprint(&self, slab: &Slab) -> usize {
        self.key_len() + self.value_len(slab) + ENTRY_OVERHEAD
    }

    /// Frees this entry's storage (its record unless `keep_record`, which a same-sized
    /// overwrite reuses; a big value and its key block into `g`). The entry must not be read
    /// afterwards.
    #[inline]
    pub(super) fn release(&self, slab: &mut Slab, keep_record: bool, g: &mut Garbage) {
        if self.is_big() {
            if let Some((key, value)) = slab.take_big(self.slot, g) {
                g.push(Trash::Block(key));
                g.push(Trash::Value(value));
            }
        } else if !keep_record {
            slab.free(self.record_len(), self.slot, g);
        }
    }

    /// Resizes the value to `len` bytes (new bytes zeroed) and runs `f` on them, in place,
    /// when that needs no new storage: an inline value whose record stays in its slot's
    /// size class, or a big value nobody else holds with room for `len` bytes. Returns the
    /// old length if it did; `None` (nothing changed) otherwise. The caller keeps the
    /// accounting and the version.
    pub(super) fn edit_in_place(
        &mut self,
        slab: &mut Slab,
        len: usize,
        f: &mut dyn FnMut(&mut [u8]),
    ) -> Option<usize> {
        if !self.is_big() {
            let (klen, old) = (self.key_len(), self.inline_len());
            if len > INLINE_VALUE_MAX || !Slab::same_class(klen + old, klen + len) {
                return None;
            }
            let value = &mut slab.record_mut(klen + len, self.slot)[klen..];
            if len > old {
                value[old..].fill(0);
            }
            f(value);
            self.meta = with_inline(self.meta, len);
            return Some(old);
        }
        let held = slab.big_mut(self.slot);
        if len <= INLINE_VALUE_MAX || !held.is_unique() {
            return None;
        }
        let mut value = match std::mem::take(held).try_into_mut() {
            Ok(value) => value,
            Err(shared) => {
                *held = shared;
                return None;
            }
        };
        let old = value.len();
        if value.capacity() >= len {
            value.resize(len, 0);
            f(&mut value);
        }
        let done = value.len() == len;
        *held = value.freeze();
        done.then_some(old)
    }

    /// A read-only view that can reach the entry's bytes.
    pub(super) fn view<'a>(&'a self, slab: &'a Slab) -> EntryRef<'a> {
        EntryRef { entry: self, slab }
    }
}

/// An entry together with the slab holding its bytes, for code that reads whole entries
/// (dumps). Metadata is reached through `Deref`.
#[derive(Clone, Copy)]
pub(super) struct EntryRef<'a> {
    entry: &'a Entry,
    slab: &'a Slab,
}

impl<'a> EntryRef<'a> {
    pub(super) fn key(&self) -> &'a [u8] {
        self.entry.key(self.slab)
    }

    pub(super) fn value(&self) -> Bytes {
        self.entry.value(self.slab)
    }

    pub(super) fn value_len(&self) -> usize {
        self.entry.value_len(self.slab)
    }
}

impl Deref for EntryRef<'_> {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        self.entry
    }
}

/// The key length as entry metadata with no flags and no inline value; `None` if it does not
/// fit.
pub(super) fn key_meta(key: &[u8]) -> Option<u32> {
    u32::try_from(key.len()).ok().filter(|&len| len <= KEY_MASK)
}

/// The deadline of a TTL that starts at `now`, in clock nanoseconds: `0` ("never") for
/// `None`, otherwise `now + ttl`, saturating instead of overflowing and at least `now + 1`, so
/// a real deadline is never the `0` sentinel. A zero TTL means "delete" to every caller, which
/// handles it before asking for a deadline.
pub(super) fn deadline(now: u64, ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |ttl| {
        let nanos = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
        now.saturating_add(nanos.max(1))
    })
}

#[cfg(test)]
mod tests;
