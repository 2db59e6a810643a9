//! The per-key record and its memory layout, deadlines ([`deadline`]) and the hash split between
//! shard choice and table index. Nothing here locks, reads a clock or knows about shards.
//!
//! Layout (48 bytes on 64-bit targets, plus one heap block per key):
//!
//! ```text
//! Entry
//! +----------------+---------------+------------+---------+---------+---------+
//! | data: Box<[u8]>| big: Option<  | expires_at | version | meta    | hash    |
//! |  ptr+len 16 B  | Box<Bytes>> 8B| u64 8 B    | u64 8 B | u32 4 B | u32 4 B |
//! +----------------+---------------+------------+---------+---------+---------+
//!         |                                                 |
//!         v  one allocation                                 v
//!  +-----------+-------------------------------+    bit 31: tombstone
//!  | key bytes | value bytes (if inline)       |    bit 30: visited (CLOCK eviction)
//!  +-----------+-------------------------------+    bits 0..30: key length
//! ```
//!
//! Why: a small key/value pair costs one heap block instead of three (key box, value buffer,
//! and the refcount block `Bytes` allocates on its first clone). A small inline value is
//! copied out on read, which is about as cheap as a refcount bump and never makes hot keys
//! ping-pong a shared refcount between cores. Values over [`INLINE_VALUE_MAX`] are kept as
//! shared [`Bytes`] so reads never copy them. The stored 32-bit hash fills what would be
//! padding; it lets the table rehash and repoint moved entries without touching key bytes.
//! The two flags live in the key length's top bits because keys are capped far below 1 GiB
//! anyway, and a separate flag byte would pad the entry to 56 bytes.
//!
//! A *tombstone* is an entry with the tombstone flag, the key only (no value) and the version
//! of the delete that made it; it keeps a delete's version around so a delayed older write
//! cannot resurrect the key. Reads never see tombstones.

use std::time::Duration;

use bytes::Bytes;

/// Values up to this many bytes are stored inline after the key and copied out on read;
/// larger ones are shared [`Bytes`] and reads return a reference-counted handle.
pub const INLINE_VALUE_MAX: usize = 256;

/// The longest key the store accepts (1 GiB - 1): the key length shares a `u32` with two
/// flag bits. The server's own key limit is far lower.
pub const MAX_KEY_LEN: usize = LEN_MASK as usize;

/// Approximate bytes a key costs beyond its key and value bytes, as counted by `used_memory`:
/// the 48-byte entry record plus the table's `u32` index and control byte. Allocator headers,
/// `Vec`/table growth slack, and the `Bytes` handle and refcount blocks of values over
/// [`INLINE_VALUE_MAX`] are not counted.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + std::mem::size_of::<u32>() + 1;

const TOMBSTONE: u32 = 1 << 31;
const VISITED: u32 = 1 << 30;
const LEN_MASK: u32 = VISITED - 1;

/// Splits a key's 64-bit hash: bits 32.. pick the shard, bits ..32 become the table hash.
pub(super) fn split_hash(hash: u64) -> (usize, u32) {
    ((hash >> 32) as usize, hash as u32)
}

/// Spreads a stored 32-bit hash over the 64 bits hashbrown reads (it takes bucket bits from the
/// bottom and its 7-bit tag from the top), so both get well-mixed bits.
pub(super) fn table_hash(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// One key/value pair or tombstone. `expires_at == 0` means "never"; real deadlines are always
/// >= 1 because they are `now + ttl` with a non-zero ttl. `version == 0` means "none".
#[derive(Debug)]
pub(super) struct Entry {
    data: Box<[u8]>,
    big: Option<Box<Bytes>>,
    expires_at: u64,
    version: u64,
    meta: u32,
    hash: u32,
}

impl Entry {
    /// Copies `key` and `value` into fresh storage (persistent, unversioned, unvisited).
    /// `None` if the key is longer than [`MAX_KEY_LEN`].
    pub(super) fn new(hash: u32, key: &[u8], value: &[u8]) -> Option<Self> {
        let meta = key_meta(key)?;
        let (data, big) = if value.len() <= INLINE_VALUE_MAX {
            ([key, value].concat().into_boxed_slice(), None)
        } else {
            (Box::from(key), Some(Box::new(Bytes::copy_from_slice(value))))
        };
        Some(Self { data, big, expires_at: 0, version: 0, meta, hash })
    }

    /// A tombstone for `key` (persistent and unversioned until set). `None` if the key is
    /// longer than [`MAX_KEY_LEN`].
    pub(super) fn tombstone(hash: u32, key: &[u8]) -> Option<Self> {
        let meta = key_meta(key)? | TOMBSTONE;
        Some(Self { data: Box::from(key), big: None, expires_at: 0, version: 0, meta, hash })
    }

    fn key_len(&self) -> usize {
        (self.meta & LEN_MASK) as usize
    }

    pub(super) fn key(&self) -> &[u8] {
        &self.data[..self.key_len()]
    }

    pub(super) fn hash(&self) -> u32 {
        self.hash
    }

    pub(super) fn value_len(&self) -> usize {
        self.big.as_ref().map_or(self.data.len() - self.key_len(), |b| b.len())
    }

    /// The value as an owned handle: a copy if inline, a refcount bump otherwise. Empty for
    /// a tombstone (callers filter tombstones out first).
    pub(super) fn value(&self) -> Bytes {
        match &self.big {
            Some(big) => Bytes::clone(big),
            None => Bytes::copy_from_slice(&self.data[self.key_len()..]),
        }
    }

    pub(super) fn is_tombstone(&self) -> bool {
        self.meta & TOMBSTONE != 0
    }

    pub(super) fn is_visited(&self) -> bool {
        self.meta & VISITED != 0
    }

    pub(super) fn set_visited(&mut self, visited: bool) {
        if visited {
            self.meta |= VISITED;
        } else {
            self.meta &= !VISITED;
        }
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
    pub(super) fn footprint(&self) -> usize {
        self.key_len() + self.value_len() + ENTRY_OVERHEAD
    }
}

/// The key length as entry metadata with no flags; `None` if it does not fit.
fn key_meta(key: &[u8]) -> Option<u32> {
    u32::try_from(key.len()).ok().filter(|&len| len <= LEN_MASK)
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
mod tests {
    use super::*;

    #[test]
    fn entry_is_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 48);
        assert_eq!(ENTRY_OVERHEAD, 53);
    }

    #[test]
    fn flags_do_not_disturb_the_key() {
        let mut e = Entry::new(1, b"key", b"val").expect("short key");
        assert!(!e.is_visited() && !e.is_tombstone());
        e.set_visited(true);
        assert!(e.is_visited());
        assert_eq!((e.key(), &e.value()[..]), (&b"key"[..], &b"val"[..]));
        e.set_visited(false);
        assert!(!e.is_visited());
        let t = Entry::tombstone(1, b"key").expect("short key");
        assert!(t.is_tombstone() && !t.is_visited());
        assert_eq!((t.key(), t.value_len()), (&b"key"[..], 0));
        assert_eq!(t.footprint(), 3 + ENTRY_OVERHEAD);
    }

    #[test]
    fn key_length_limit() {
        assert_eq!(key_meta(&[0; 16]), Some(16));
        assert_eq!(MAX_KEY_LEN, (1 << 30) - 1);
    }

    #[test]
    fn small_values_inline_large_values_shared() {
        let small = Entry::new(1, b"key", b"val").expect("short key");
        assert_eq!((small.key(), &small.value()[..]), (&b"key"[..], &b"val"[..]));
        assert!(small.big.is_none());
        let payload = vec![9u8; INLINE_VALUE_MAX + 1];
        let large = Entry::new(1, b"key", &payload).expect("short key");
        assert_eq!(large.key(), b"key");
        assert_eq!(large.value_len(), INLINE_VALUE_MAX + 1);
        // Two reads share one buffer rather than copying.
        assert_eq!(large.value().as_ptr(), large.value().as_ptr());
        assert_eq!(large.footprint(), 3 + INLINE_VALUE_MAX + 1 + ENTRY_OVERHEAD);
    }

    #[test]
    fn deadline_resolution() {
        assert_eq!(deadline(5, None), 0);
        assert_eq!(deadline(0, Some(Duration::from_nanos(1))), 1);
        assert_eq!(deadline(7, Some(Duration::ZERO)), 8, "never the 0 sentinel");
        assert_eq!(deadline(u64::MAX - 1, Some(Duration::MAX)), u64::MAX);
    }
}
