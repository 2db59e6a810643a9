//! A write in the making: an entry built before the shard lock is taken and committed into
//! the shard's [`Slab`] under it. Owns the parts that need an allocation (a big value's
//! [`Bytes`] and its key's block, a huge record's block) so none happens under the lock; the
//! key and an inline value stay borrowed from the caller and are copied into a slab slot when
//! committed.
//! Does not decide where the entry goes in the shard: that is `shard.rs`.

use bytes::Bytes;

use super::entry::{
    BIG, ENTRY_OVERHEAD, Entry, INLINE_VALUE_MAX, TOMBSTONE, key_meta, with_inline, with_visited,
};
use super::slab::{Garbage, Slab, Trash};

/// Where a draft's bytes will go, with what was allocated for them ahead of the lock.
enum Parts {
    /// Key + inline value in a slab slot (copied from the borrowed key and value).
    Slot,
    /// Key + inline value, too long for a slab class, in a block of their own.
    Huge(Box<[u8]>),
    /// A big value and a copy of the key, for the slab's big-value table.
    Big(Box<[u8]>, Bytes),
}

/// A key/value pair or tombstone not yet in a shard.
pub(super) struct Draft<'a> {
    key: &'a [u8],
    /// The value if it is stored after the key (empty for big values and tombstones).
    inline: &'a [u8],
    parts: Parts,
    hash: u32,
    meta: u32,
    expires_at: u64,
    version: u64,
}

impl<'a> Draft<'a> {
    /// A pair for `key` and `value` (persistent, unversioned, unvisited). Copies a big value
    /// now. `None` if the key is longer than [`MAX_KEY_LEN`](super::MAX_KEY_LEN).
    pub(super) fn new(hash: u32, key: &'a [u8], value: &'a [u8]) -> Option<Self> {
        let meta = key_meta(key)?;
        Some(if value.len() <= INLINE_VALUE_MAX {
            Self::build(hash, meta, key, value, None)
        } else {
            Self::build(hash, meta, key, &[], Some(Bytes::copy_from_slice(value)))
        })
    }

    /// A pair for `key` and a big `value` the caller already allocated (read-modify-write
    /// commands build one outside the lock). `None` if the key is too long or `value` is
    /// short enough to be stored inline (use [`Draft::new`] for those).
    pub(super) fn with_big(hash: u32, key: &'a [u8], value: Bytes) -> Option<Self> {
        let meta = key_meta(key)?;
        (value.len() > INLINE_VALUE_MAX).then(|| Self::build(hash, meta, key, &[], Some(value)))
    }

    /// Like [`Draft::new`], sharing a big value's buffer instead of copying it (RENAME and
    /// COPY move a value already held).
    pub(super) fn shared(hash: u32, key: &'a [u8], value: &'a Bytes) -> Option<Self> {
        let meta = key_meta(key)?;
        Some(if value.len() <= INLINE_VALUE_MAX {
            Self::build(hash, meta, key, value, None)
        } else {
            Self::build(hash, meta, key, &[], Some(value.clone()))
        })
    }

    /// A tombstone for `key` (persistent and unversioned until set). `None` if the key is
    /// longer than [`MAX_KEY_LEN`](super::MAX_KEY_LEN).
    pub(super) fn tombstone(hash: u32, key: &'a [u8]) -> Option<Self> {
        let meta = key_meta(key)? | TOMBSTONE;
        Some(Self::build(hash, meta, key, &[], None))
    }

    fn build(hash: u32, meta: u32, key: &'a [u8], inline: &'a [u8], big: Option<Bytes>) -> Self {
        let (parts, meta) = match big {
            Some(value) => (Parts::Big(Box::from(key), value), meta | BIG),
            None if Slab::is_huge(key.len() + inline.len()) => {
                (Parts::Huge([key, inline].concat().into_boxed_slice()), meta)
            }
            None => (Parts::Slot, meta),
        };
        let meta = with_inline(meta, inline.len());
        Self { key, inline, parts, hash, meta, expires_at: 0, version: 0 }
    }

    pub(super) fn hash(&self) -> u32 {
        self.hash
    }

    pub(super) fn key(&self) -> &'a [u8] {
        self.key
    }

    pub(super) fn is_tombstone(&self) -> bool {
        self.meta & TOMBSTONE != 0
    }

    pub(super) fn version(&self) -> u64 {
        self.version
    }

    /// The value's bytes (empty for a tombstone).
    pub(super) fn value_bytes(&self) -> &[u8] {
        match &self.parts {
            Parts::Big(_, value) => value,
            _ => self.inline,
        }
    }

    pub(super) fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// The deadline (`0` = none).
    pub(super) fn expires_at(&self) -> u64 {
        self.expires_at
    }

    pub(super) fn set_expiry(&mut self, at: u64) {
        self.expires_at = at;
    }

    pub(super) fn set_visited(&mut self, visited: bool) {
        self.meta = with_visited(self.meta, visited);
    }

    /// What the entry will add to `used_memory` (see [`Entry::footprint`]).
    pub(super) fn footprint(&self) -> usize {
        self.key.len() + self.value_bytes().len() + ENTRY_OVERHEAD
    }

    /// Bytes of the slab record (see [`Entry::record_len`]).
    fn record_len(&self) -> usize {
        if matches!(self.parts, Parts::Big(..)) { 0 } else { self.key.len() + self.inline.len() }
    }

    /// Moves the draft into `slab`, replacing `old` (whose storage is released; a record of
    /// the same slot size is overwritten in place) if given. Gives the draft back, with
    /// nothing changed, if the slab is out of slot ids for it.
    pub(super) fn commit(
        mut self,
        slab: &mut Slab,
        old: Option<&Entry>,
        g: &mut Garbage,
    ) -> Result<Entry, Self> {
        let len = self.record_len();
        let reuse = old.filter(|o| Slab::same_class(o.record_len(), len)).map(|o| o.slot);
        let Some(slot) = reuse.or_else(|| self.place(slab, g)) else {
            return Err(self);
        };
        // Big values (record length 0) and huge records brought their own storage.
        if len > 0 && !Slab::is_huge(len) {
            let record = slab.record_mut(len, slot);
            record[..self.key.len()].copy_from_slice(self.key);
            record[self.key.len()..].copy_from_slice(self.inline);
        }
        if let Some(old) = old {
            old.release(slab, reuse.is_some(), g);
        }
        let (expires_at, version, meta) = (self.expires_at, self.version, self.meta);
        Ok(Entry { expires_at, version, meta, slot })
    }

    /// A slot for the record, or the side-table index of a huge record or a big value (whose
    /// blocks move into the slab). `None`, with the draft unchanged, if there is no room.
    fn place(&mut self, slab: &mut Slab, g: &mut Garbage) -> Option<u32> {
        match std::mem::replace(&mut self.parts, Parts::Slot) {
            Parts::Slot => slab.alloc(self.record_len(), g),
            Parts::Huge(block) => {
                slab.put_huge(block).map_err(|block| self.parts = Parts::Huge(block)).ok()
            }
            Parts::Big(key, value) => slab
                .put_big(key, value)
                .map_err(|(key, value)| self.parts = Parts::Big(key, value))
                .ok(),
        }
    }

    /// The common overwrite, done in place: `old` holds the same key, neither value is big and
    /// both records share a slot size, so only the new value bytes and the metadata are
    /// written (the key bytes are already there). Gives the draft back otherwise, for
    /// [`Draft::commit`].
    #[inline]
    pub(super) fn overwrite(self, old: &mut Entry, slab: &mut Slab) -> Result<(), Self> {
        let len = self.record_len();
        if !matches!(self.parts, Parts::Slot) || old.is_big() {
            return Err(self);
        }
        if !Slab::same_class(old.record_len(), len) {
            return Err(self);
        }
        debug_assert_eq!(old.key(slab), self.key, "an overwrite keeps the key");
        slab.record_mut(len, old.slot)[self.key.len()..].copy_from_slice(self.inline);
        (old.expires_at, old.version, old.meta) = (self.expires_at, self.version, self.meta);
        Ok(())
    }

    /// Hands what the draft allocated to `g`, to be freed after unlocking.
    pub(super) fn discard(self, g: &mut Garbage) {
        match self.parts {
            Parts::Slot => {}
            Parts::Huge(block) => g.push(Trash::Block(block)),
            Parts::Big(key, value) => {
                g.push(Trash::Block(key));
                g.push(Trash::Value(value));
            }
        }
    }
}
