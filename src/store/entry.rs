//! The per-key record and its memory layout, deadlines ([`Expiry`]) and the hash split between
//! shard choice and table index. Nothing here locks, reads a clock or knows about shards.
//!
//! Layout (40 bytes on 64-bit targets, plus one heap block per key):
//!
//! ```text
//! Entry
//! +----------------+---------------+------------+---------+---------+
//! | data: Box<[u8]>| big: Option<  | expires_at | key_len | hash    |
//! |  ptr+len 16 B  | Box<Bytes>> 8B| u64 8 B    | u32 4 B | u32 4 B |
//! +----------------+---------------+------------+---------+---------+
//!         |
//!         v  one allocation
//!  +-----------+--------------------------------------+
//!  | key bytes | value bytes (only if <= INLINE_VALUE_MAX)
//!  +-----------+--------------------------------------+
//! ```
//!
//! Why: a small key/value pair costs one heap block instead of three (key box, value buffer,
//! and the refcount block `Bytes` allocates on its first clone). A small inline value is
//! copied out on read, which is about as cheap as a refcount bump and never makes hot keys
//! ping-pong a shared refcount between cores. Values over [`INLINE_VALUE_MAX`] are kept as
//! shared [`Bytes`] so reads never copy them. The stored 32-bit hash fills what would be
//! padding; it lets the table rehash and repoint moved entries without touching key bytes.

use std::time::Duration;

use bytes::Bytes;

/// Values up to this many bytes are stored inline after the key and copied out on read;
/// larger ones are shared [`Bytes`] and reads return a reference-counted handle.
pub const INLINE_VALUE_MAX: usize = 256;

/// Approximate bytes a key costs beyond its key and value bytes, as counted by `used_memory`:
/// the 40-byte entry record plus the table's `u32` index and control byte. Allocator headers,
/// `Vec`/table growth slack, and the `Bytes` handle and refcount blocks of values over
/// [`INLINE_VALUE_MAX`] are not counted.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + std::mem::size_of::<u32>() + 1;

/// Splits a key's 64-bit hash: bits 32.. pick the shard, bits ..32 become the table hash.
pub(super) fn split_hash(hash: u64) -> (usize, u32) {
    ((hash >> 32) as usize, hash as u32)
}

/// Spreads a stored 32-bit hash over the 64 bits hashbrown reads (it takes bucket bits from the
/// bottom and its 7-bit tag from the top), so both get well-mixed bits.
pub(super) fn table_hash(hash: u32) -> u64 {
    u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// One key/value pair. `expires_at == 0` means "never"; real deadlines are always >= 1
/// because they are `now + ttl` with a non-zero ttl.
#[derive(Debug)]
pub(super) struct Entry {
    data: Box<[u8]>,
    big: Option<Box<Bytes>>,
    expires_at: u64,
    key_len: u32,
    hash: u32,
}

impl Entry {
    /// Copies `key` and `value` into fresh storage (persistent until [`Entry::set_expiry`]).
    /// `None` if the key is longer than `u32::MAX` bytes.
    pub(super) fn new(hash: u32, key: &[u8], value: &[u8]) -> Option<Self> {
        let key_len = u32::try_from(key.len()).ok()?;
        let (data, big) = if value.len() <= INLINE_VALUE_MAX {
            ([key, value].concat().into_boxed_slice(), None)
        } else {
            (Box::from(key), Some(Box::new(Bytes::copy_from_slice(value))))
        };
        Some(Self { data, big, expires_at: 0, key_len, hash })
    }

    pub(super) fn key(&self) -> &[u8] {
        &self.data[..self.key_len as usize]
    }

    pub(super) fn hash(&self) -> u32 {
        self.hash
    }

    pub(super) fn value_len(&self) -> usize {
        self.big.as_ref().map_or(self.data.len() - self.key_len as usize, |b| b.len())
    }

    /// The value as an owned handle: a copy if inline, a refcount bump otherwise.
    pub(super) fn value(&self) -> Bytes {
        match &self.big {
            Some(big) => Bytes::clone(big),
            None => Bytes::copy_from_slice(&self.data[self.key_len as usize..]),
        }
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
        self.key_len as usize + self.value_len() + ENTRY_OVERHEAD
    }
}

/// When a write should expire, already resolved against the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
    /// Persistent.
    Never,
    /// Absolute deadline in clock nanoseconds (always >= 1).
    At(u64),
    /// A zero TTL: the write is immediately expired, i.e. it deletes the key.
    Now,
}

impl Expiry {
    /// Resolves a relative TTL at `now`; saturates instead of overflowing.
    pub(super) fn after(now: u64, ttl: Option<Duration>) -> Self {
        match ttl {
            None => Expiry::Never,
            Some(ttl) if ttl.is_zero() => Expiry::Now,
            Some(ttl) => {
                let nanos = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
                // nanos >= 1 here, so the deadline is never the 0 "never" sentinel.
                Expiry::At(now.saturating_add(nanos))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_compact() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
        assert_eq!(ENTRY_OVERHEAD, 45);
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
    fn expiry_resolution() {
        assert_eq!(Expiry::after(5, None), Expiry::Never);
        assert_eq!(Expiry::after(5, Some(Duration::ZERO)), Expiry::Now);
        assert_eq!(Expiry::after(0, Some(Duration::from_nanos(1))), Expiry::At(1));
        assert_eq!(Expiry::after(u64::MAX - 1, Some(Duration::MAX)), Expiry::At(u64::MAX));
    }
}
