//! A shard's byte storage for keys and values: the slab of *records* (key bytes followed by
//! the value if it is inline), the side table of records too big for any slab class, and the
//! side table of values over [`INLINE_VALUE_MAX`](super::INLINE_VALUE_MAX). It also owns
//! [`Garbage`], what a locked call frees for the caller to drop after unlocking. It does not
//! know about entries, keys or hashing: callers address a record by its length and slot id.
//!
//! ```text
//! record length      where it lives                                slot id is
//! 0                  nowhere                                       unused (0)
//! 1 ..= CLASS_MAX    classes[(len - 1) / GRANULE], a slot of the    the slot in that class
//!                    length rounded up to GRANULE (see class.rs)
//! > CLASS_MAX        huge: its own heap block                       the index in `huge`
//!
//! big values: (key block, Bytes) in `big`, addressed by index (the value shared, never
//!             copied on read; the key has no slab record)
//! ```
//!
//! Why: one malloc per key costs a 16-byte header plus rounding to 16 on top of the bytes
//! (64 bytes for a 45-byte record); a slot costs the bytes rounded to 8 and a tiny share of
//! a page. Writing a record copies it under the shard lock (a few dozen bytes); allocation
//! under the lock is limited to page growth, and blocks freed under it go to [`Garbage`].

mod class;
#[cfg(test)]
mod tests;

use std::any::Any;

use bytes::Bytes;

use class::Class;

/// Slot sizes are multiples of this many bytes.
pub(super) const GRANULE: usize = 8;

/// The longest record kept in a slab class; longer ones get their own allocation.
pub(super) const CLASS_MAX: usize = 512;

/// Side-table indices stay below this, so an index fits in 31 bits next to a flag.
pub(super) const SIDE_MAX: usize = 1 << 31;

/// Something freed under a shard lock, dropped after unlocking.
#[expect(dead_code, reason = "the contents are only held to be dropped later")]
pub(super) enum Trash {
    Value(Bytes),
    Block(Box<[u8]>),
    /// An emptied side table or a shard's emptied entry chunks: dropping it walks every
    /// slot, so not under the lock.
    Table(Box<dyn Any + Send>),
}

/// What a locked call freed or did not use, for the caller to drop after unlocking. Holds one
/// item without allocating (the common case: a replaced big value) and spills into a `Vec`.
#[derive(Default)]
pub(super) struct Garbage {
    first: Option<Trash>,
    rest: Vec<Trash>,
    /// See [`Garbage::want_table`].
    table_wanted: Option<usize>,
}

impl Garbage {
    /// Asks the caller to allocate an index table of `room` after unlocking and offer it
    /// to the stripe (see `shard/index.rs`): not garbage, but the same way out of the lock.
    pub(super) fn want_table(&mut self, room: usize) {
        self.table_wanted = Some(room);
    }

    /// The room of the index table a locked call asked for, if any.
    pub(super) fn table_wanted(&self) -> Option<usize> {
        self.table_wanted
    }

    pub(super) fn push(&mut self, trash: Trash) {
        match self.first {
            None => self.first = Some(trash),
            Some(_) => self.rest.push(trash),
        }
    }

    /// Items held (tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

/// A slot map: values by `u32` index, freed indices reused first.
struct Side<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Side<T> {
    fn default() -> Self {
        Self { items: Vec::new(), free: Vec::new() }
    }
}

impl<T: Send + 'static> Side<T> {
    /// Stores `item`; gives it back if [`SIDE_MAX`] indices are in use.
    fn insert(&mut self, item: T) -> Result<u32, T> {
        if let Some(i) = self.free.pop() {
            self.items[i as usize] = Some(item);
            return Ok(i);
        }
        match u32::try_from(self.items.len()) {
            Ok(i) if (i as usize) < SIDE_MAX => {
                self.items.push(Some(item));
                Ok(i)
            }
            _ => Err(item),
        }
    }

    fn get(&self, i: u32) -> &T {
        self.items[i as usize].as_ref().expect("side-table index of a live entry")
    }

    fn get_mut(&mut self, i: u32) -> &mut T {
        self.items[i as usize].as_mut().expect("side-table index of a live entry")
    }

    /// Takes the item at `i`. When the table empties, its storage goes to `g`, so a mass
    /// deletion of big values gives the table's memory back too.
    fn remove(&mut self, i: u32, g: &mut Garbage) -> Option<T> {
        let item = self.items.get_mut(i as usize)?.take()?;
        self.free.push(i);
        if self.free.len() == self.items.len() {
            g.push(Trash::Table(Box::new(std::mem::take(self))));
        }
        Some(item)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.len() - self.free.len()
    }
}

/// A big value and its entry's key.
struct Big {
    key: Box<[u8]>,
    value: Bytes,
}

/// A shard's records and big values.
#[derive(Default)]
pub(super) struct Slab {
    /// Created on first use up to the largest class needed.
    classes: Vec<Class>,
    huge: Side<Box<[u8]>>,
    big: Side<Big>,
    /// Where the next [`Slab::trim`] starts looking, so every class gets its turn.
    trim_from: usize,
}

/// The class of a record of `len` bytes (`1..=CLASS_MAX`).
fn class_of(len: usize) -> usize {
    (len - 1) / GRANULE
}

impl Slab {
    /// Whether records of these lengths share a slot size (so one can overwrite the other in
    /// place). Never true for empty or huge records.
    pub(super) fn same_class(a: usize, b: usize) -> bool {
        (1..=CLASS_MAX).contains(&a) && (1..=CLASS_MAX).contains(&b) && class_of(a) == class_of(b)
    }

    /// Whether a record of `len` bytes needs its own block ([`Slab::put_huge`]).
    pub(super) fn is_huge(len: usize) -> bool {
        len > CLASS_MAX
    }

    /// A slot for a record of `len` bytes (`0..=CLASS_MAX`; `0` needs none), its bytes left
    /// as they are. `None` if the class is out of slot ids.
    pub(super) fn alloc(&mut self, len: usize, g: &mut Garbage) -> Option<u32> {
        if len == 0 {
            return Some(0);
        }
        let c = class_of(len);
        if self.classes.len() <= c {
            self.classes.extend((self.classes.len()..=c).map(|c| Class::new((c + 1) * GRANULE)));
        }
        self.classes[c].alloc(g)
    }

    /// Stores a record too long for any class; gives it back if the side table is full.
    pub(super) fn put_huge(&mut self, record: Box<[u8]>) -> Result<u32, Box<[u8]>> {
        self.huge.insert(record)
    }

    /// The record of `len` bytes at `slot`. The slab case is inlined (it is on every key
    /// lookup); empty and huge records take an out-of-line path.
    #[inline(always)]
    pub(super) fn record(&self, len: usize, slot: u32) -> &[u8] {
        if (1..=CLASS_MAX).contains(&len) {
            self.classes[class_of(len)].bytes(slot, len)
        } else {
            self.unslabbed(len, slot)
        }
    }

    #[cold]
    #[inline(never)]
    fn unslabbed(&self, len: usize, slot: u32) -> &[u8] {
        if len == 0 { &[] } else { self.huge.get(slot) }
    }

    /// The slot of a record of `len` bytes (`1..=CLASS_MAX`), to write it.
    pub(super) fn record_mut(&mut self, len: usize, slot: u32) -> &mut [u8] {
        self.classes[class_of(len)].bytes_mut(slot, len)
    }

    /// Frees the record of `len` bytes at `slot` (a huge one goes to `g`).
    pub(super) fn free(&mut self, len: usize, slot: u32, g: &mut Garbage) {
        match len {
            0 => {}
            len if len <= CLASS_MAX => self.classes[class_of(len)].free(slot, g),
            _ => {
                if let Some(block) = self.huge.remove(slot, g) {
                    g.push(Trash::Block(block));
                }
            }
        }
    }

    /// Stores a big value with its entry's key; gives both back if the side table is full.
    pub(super) fn put_big(
        &mut self,
        key: Box<[u8]>,
        value: Bytes,
    ) -> Result<u32, (Box<[u8]>, Bytes)> {
        self.big.insert(Big { key, value }).map_err(|big| (big.key, big.value))
    }

    pub(super) fn big(&self, i: u32) -> &Bytes {
        &self.big.get(i).value
    }

    /// The key stored with the big value at `i`.
    pub(super) fn big_key(&self, i: u32) -> &[u8] {
        &self.big.get(i).key
    }

    /// The big value at `i`, to change it in place (read-modify-write commands).
    pub(super) fn big_mut(&mut self, i: u32) -> &mut Bytes {
        &mut self.big.get_mut(i).value
    }

    /// Takes the key and big value at `i` out (for `g`, or to undo a [`Slab::put_big`]).
    pub(super) fn take_big(&mut self, i: u32, g: &mut Garbage) -> Option<(Box<[u8]>, Bytes)> {
        self.big.remove(i, g).map(|big| (big.key, big.value))
    }

    /// Drops at most a few trailing empty pages, looking at each class in turn: pages that a
    /// free could not drop because more trailing pages emptied at once. O(classes).
    pub(super) fn trim(&mut self, g: &mut Garbage) {
        let n = self.classes.len();
        for k in 0..n {
            let c = (self.trim_from + k) % n;
            if self.classes[c].has_empty_tail() {
                self.classes[c].release(class::RELEASE_MAX, g);
                self.trim_from = (c + 1) % n;
                return;
            }
        }
    }

    /// (live class slots, huge records, big values), for invariant checks.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize, usize) {
        (self.classes.iter().map(Class::live).sum(), self.huge.len(), self.big.len())
    }

    /// Pages held by all classes and the bytes they span.
    #[cfg(test)]
    pub(super) fn pages(&self) -> (usize, usize) {
        self.classes.iter().map(Class::pages).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}
