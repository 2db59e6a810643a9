//! One size class of the slab: fixed-size slots on pages, with a free list per page.
//!
//! ```text
//! pages: Vec<Page>                      slot id s -> page s >> shift, byte (s & mask) * size
//! +--------------------------------+
//! | 0: data [slot|slot|...] (grows) |   free: head of this page's free slots (NIL = none);
//! | 1: data [slot|slot|...] (full)  |         a free slot's first 4 bytes hold the next one
//! | 2: ...                          |   live: slots handed out and not freed
//! +--------------------------------+
//! partial: [2, 0]  pages that may have free slots; allocation takes from the last one
//! fresh:   first slot never handed out (every slot below it is live or on a free list)
//! ```
//!
//! Why a free list per page rather than one per class: when the last page has no live slot
//! left it can be dropped in O(1), because its free slots are linked only among themselves.
//! A class-wide list would thread through every page and need an O(page) unlink first.
//! `partial` may still hold the index of a dropped page that was not on top of it; allocation
//! skips such entries lazily, each once, so every operation stays O(1) amortized. A dropped
//! page's index is only reused by a new page after `partial` has been drained (new slots are
//! only bumped when no page has a free one), so a stale entry never names a live page.
//!
//! Only page 0 starts small ([`FIRST_PAGE_BYTES`]) and doubles up to [`PAGE_BYTES`] as it
//! fills, so a shard touching many classes with few keys each reserves little. Slot ids are
//! stable while the slot is live (growing page 0 copies bytes, ids do not change), and
//! nothing keeps a pointer into a page across calls.

use super::{Garbage, Trash};

/// Target bytes of a full page (a page holds a power of two of slots, at most this many
/// bytes). Big enough that per-page bookkeeping is negligible, small enough that a class's
/// last, partly used page wastes little.
pub(in crate::store) const PAGE_BYTES: usize = 32 * 1024;

/// Bytes of a class's first page before it grows.
pub(in crate::store) const FIRST_PAGE_BYTES: usize = 1024;

/// "No slot": ends a free list. Never handed out as a slot id.
const NIL: u32 = u32::MAX;

/// Pages dropped at most per call when trailing pages empty out. Each drop is O(1); the
/// bound keeps one operation's work constant even when many trailing pages empty at once
/// (the sweeper's `trim` drops the rest).
pub(super) const RELEASE_MAX: usize = 4;

struct Page {
    data: Box<[u8]>,
    free: u32,
    live: u32,
    /// Whether this page is (at least once) in `partial`.
    listed: bool,
}

/// One size class: slots of `size` bytes.
pub(super) struct Class {
    size: usize,
    shift: u32,
    pages: Vec<Page>,
    partial: Vec<u32>,
    fresh: u32,
}

impl Class {
    /// An empty class of `size`-byte slots (`size` >= 4, for the free-list link).
    pub(super) fn new(size: usize) -> Self {
        let per_page = (PAGE_BYTES / size).max(1);
        // Largest power of two <= per_page.
        let shift = usize::BITS - 1 - per_page.leading_zeros();
        Self { size, shift, pages: Vec::new(), partial: Vec::new(), fresh: 0 }
    }

    fn full_page_bytes(&self) -> usize {
        self.size << self.shift
    }

    /// The page and byte offset of `slot`.
    #[inline(always)]
    fn locate(&self, slot: u32) -> (usize, usize) {
        let mask = (1u32 << self.shift) - 1;
        ((slot >> self.shift) as usize, (slot & mask) as usize * self.size)
    }

    /// The first `len` (at most the slot size) bytes of a live `slot`.
    #[inline(always)]
    pub(super) fn bytes(&self, slot: u32, len: usize) -> &[u8] {
        debug_assert!(len <= self.size);
        let (p, off) = self.locate(slot);
        &self.pages[p].data[off..off + len]
    }

    pub(super) fn bytes_mut(&mut self, slot: u32, len: usize) -> &mut [u8] {
        debug_assert!(len <= self.size);
        let (p, off) = self.locate(slot);
        &mut self.pages[p].data[off..off + len]
    }

    /// A free slot, reusing freed ones first. `None` only when the class has handed out
    /// `u32::MAX` slots. May grow page 0 or add a page (the replaced page 0 goes to `g`).
    pub(super) fn alloc(&mut self, g: &mut Garbage) -> Option<u32> {
        self.pop_free().or_else(|| self.bump(g))
    }

    fn pop_free(&mut self) -> Option<u32> {
        while let Some(&p) = self.partial.last() {
            let (mask, size) = ((1u32 << self.shift) - 1, self.size);
            if let Some(page) = self.pages.get_mut(p as usize) {
                if page.free != NIL {
                    let slot = page.free;
                    page.free = read_link(&page.data, (slot & mask) as usize * size);
                    page.live += 1;
                    if page.free == NIL {
                        page.listed = false;
                        self.partial.pop();
                    }
                    return Some(slot);
                }
                // Listed pages always have a free slot; keep the flag honest regardless.
                page.listed = false;
            }
            self.partial.pop();
        }
        None
    }

    fn bump(&mut self, g: &mut Garbage) -> Option<u32> {
        let slot = self.fresh;
        if slot == NIL {
            return None;
        }
        let (p, off) = self.locate(slot);
        if p == self.pages.len() {
            let bytes = if p == 0 {
                (FIRST_PAGE_BYTES / self.size).max(1) * self.size
            } else {
                self.full_page_bytes()
            };
            let bytes = bytes.min(self.full_page_bytes());
            self.pages.push(Page { data: zeroed(bytes), free: NIL, live: 0, listed: false });
        }
        let full = self.full_page_bytes();
        let page = &mut self.pages[p];
        if off + self.size > page.data.len() {
            // Only the first page is ever short: double it (slot ids stay valid).
            let bytes = (page.data.len() * 2).min(full);
            let mut grown = Vec::with_capacity(bytes);
            grown.extend_from_slice(&page.data);
            grown.resize(bytes, 0);
            let old = std::mem::replace(&mut page.data, grown.into_boxed_slice());
            g.push(Trash::Block(old));
        }
        page.live += 1;
        self.fresh += 1;
        Some(slot)
    }

    /// Returns a live `slot` to its page's free list, then drops trailing pages left with no
    /// live slot (at most [`RELEASE_MAX`], into `g`; later frees continue where this stopped).
    pub(super) fn free(&mut self, slot: u32, g: &mut Garbage) {
        let (p, off) = self.locate(slot);
        let page = &mut self.pages[p];
        write_link(&mut page.data, off, page.free);
        page.free = slot;
        page.live -= 1;
        if !page.listed {
            page.listed = true;
            // `p` < page count, which fits u32 because slot ids do.
            self.partial.push(p as u32);
        }
        if self.has_empty_tail() {
            self.release(RELEASE_MAX, g);
        }
    }

    /// Drops up to `max` trailing pages that hold no live slot; returns how many.
    pub(super) fn release(&mut self, max: usize, g: &mut Garbage) -> usize {
        let mut dropped = 0;
        while dropped < max && self.pages.last().is_some_and(|page| page.live == 0) {
            if let Some(page) = self.pages.pop() {
                g.push(Trash::Block(page.data));
            }
            dropped += 1;
            // Every slot of the pages that remain was handed out before.
            self.fresh = (self.pages.len() as u32) << self.shift;
            let len = self.pages.len();
            while self.partial.last().is_some_and(|&p| p as usize >= len) {
                self.partial.pop();
            }
        }
        if self.pages.is_empty() {
            self.partial = Vec::new();
        }
        dropped
    }

    /// Whether the last page could be dropped.
    pub(super) fn has_empty_tail(&self) -> bool {
        self.pages.last().is_some_and(|page| page.live == 0)
    }

    /// Live slots (tests and invariant checks).
    #[cfg(test)]
    pub(super) fn live(&self) -> usize {
        self.pages.iter().map(|page| page.live as usize).sum()
    }

    /// Pages held and bytes they span.
    #[cfg(test)]
    pub(super) fn pages(&self) -> (usize, usize) {
        (self.pages.len(), self.pages.iter().map(|page| page.data.len()).sum())
    }
}

fn zeroed(bytes: usize) -> Box<[u8]> {
    vec![0; bytes].into_boxed_slice()
}

fn read_link(data: &[u8], off: usize) -> u32 {
    let mut link = [0; 4];
    link.copy_from_slice(&data[off..off + 4]);
    u32::from_ne_bytes(link)
}

fn write_link(data: &mut [u8], off: usize, next: u32) {
    data[off..off + 4].copy_from_slice(&next.to_ne_bytes());
}
