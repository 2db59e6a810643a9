//! A vector stored in fixed-size chunks: the shards' dense entry arrays. It owns indexing,
//! appends and `swap_remove`; it knows nothing about what the items are.
//!
//! ```text
//! chunks: Vec<Vec<T>>      item i -> chunks[i >> CHUNK_SHIFT][i & (CHUNK - 1)]
//! +---+---+---+
//! | 0 | 1 | 2 |            every chunk but the last is full (CHUNK items); chunk 0 starts
//! +---+---+---+            small and doubles up to CHUNK, later chunks are allocated whole
//!   |   |   '-> [items .. len]   (their pages become resident only as items are written)
//!   v   v
//! [CHUNK items] [CHUNK items]
//! ```
//!
//! Why not a `Vec`: a `Vec` that doubles copies everything and frees the old buffer, and
//! the allocator (mimalloc) keeps freed large blocks for a while instead of returning them
//! to the OS. Right after a million-key load that was 16 B per key of RSS holding nothing
//! but a shard's previous, half-size entry array. Chunks never move or shrink their items,
//! so growth copies nothing and frees nothing; only chunk 0 is reallocated while small. The
//! cost is one more load on indexing (the chunk's pointer, from a table of a few dozen
//! pointers that stays in cache), not another cache miss.

/// Items per chunk (a power of two): big enough that the chunk table stays a few cache lines
/// for a million-entry shard, small enough that the last chunk's unused tail costs little.
pub(super) const CHUNK: usize = 1 << CHUNK_SHIFT;
const CHUNK_SHIFT: u32 = 12;

/// A vector of `T` in chunks of [`CHUNK`] items (see the module docs).
pub(super) struct Paged<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Self { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Paged<T> {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub(super) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> CHUNK_SHIFT)?.get(i & (CHUNK - 1))
    }

    #[inline(always)]
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i >> CHUNK_SHIFT)?.get_mut(i & (CHUNK - 1))
    }

    /// Appends `item`, starting a chunk when the last one is full.
    pub(super) fn push(&mut self, item: T) {
        let c = self.len >> CHUNK_SHIFT;
        if c == self.chunks.len() {
            // Only chunk 0 starts small: a shard with a handful of keys reserves little.
            let cap = if c == 0 { 4 } else { CHUNK };
            self.chunks.push(Vec::with_capacity(cap));
        }
        let chunk = &mut self.chunks[c];
        if chunk.len() == chunk.capacity() {
            // Doubling, but never past CHUNK, so a full chunk holds exactly CHUNK items.
            chunk.reserve_exact(chunk.len().clamp(1, CHUNK - chunk.len()));
        }
        chunk.push(item);
        self.len += 1;
    }

    /// Removes the last item.
    pub(super) fn pop(&mut self) -> Option<T> {
        let c = self.len.checked_sub(1)? >> CHUNK_SHIFT;
        let item = self.chunks[c].pop()?;
        self.len -= 1;
        Some(item)
    }

    /// Removes item `i`, moving the last item into its place (`None` if `i` is out of range).
    pub(super) fn swap_remove(&mut self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        let last = self.pop()?;
        match self.get_mut(i) {
            Some(slot) => Some(std::mem::replace(slot, last)),
            // `i` was the last item.
            None => Some(last),
        }
    }

    /// Takes out the chunks that hold no items beyond one spare (kept so that a shard
    /// hovering at a chunk boundary does not free and allocate a chunk on every write). The
    /// caller drops them (outside any lock).
    pub(super) fn take_spare(&mut self) -> Vec<Vec<T>> {
        let keep = self.len.div_ceil(CHUNK) + 1;
        if self.chunks.len() <= keep {
            return Vec::new();
        }
        self.chunks.split_off(keep)
    }

    /// Chunks allocated (tests).
    #[cfg(test)]
    pub(super) fn chunks(&self) -> usize {
        self.chunks.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

impl<T> std::ops::Index<usize> for Paged<T> {
    type Output = T;

    #[inline(always)]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> CHUNK_SHIFT][i & (CHUNK - 1)]
    }
}

impl<T> std::ops::IndexMut<usize> for Paged<T> {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> CHUNK_SHIFT][i & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks_like_a_vec() {
        let (mut paged, mut vec) = (Paged::default(), Vec::new());
        for i in 0..3 * CHUNK + 5 {
            paged.push(i);
            vec.push(i);
        }
        assert_eq!((paged.len(), paged.chunks()), (vec.len(), 4));
        assert!(paged.iter().eq(vec.iter()));
        // Removals from the front, middle, a chunk boundary and the end.
        for i in [0, CHUNK - 1, CHUNK, 2 * CHUNK + 7, usize::MAX] {
            let i = i.min(paged.len() - 1);
            assert_eq!(paged.swap_remove(i), Some(vec.swap_remove(i)));
        }
        assert!(paged.iter().eq(vec.iter()));
        assert_eq!((paged[CHUNK], paged.get(paged.len())), (vec[CHUNK], None));
        assert_eq!(paged.swap_remove(paged.len()), None);
    }

    #[test]
    fn full_chunks_hold_exactly_chunk_items() {
        let mut paged = Paged::default();
        (0..2 * CHUNK).for_each(|i| paged.push(i));
        assert!(paged.chunks.iter().all(|c| c.len() == CHUNK && c.capacity() == CHUNK));
    }

    #[test]
    fn emptied_chunks_are_released_beyond_one_spare() {
        let mut paged = Paged::default();
        (0..4 * CHUNK).for_each(|i| paged.push(i));
        while paged.len() > CHUNK / 2 {
            paged.pop();
        }
        assert_eq!(paged.take_spare().len(), 2, "chunk 0 holds the items, chunk 1 is spare");
        assert_eq!(paged.chunks(), 2);
        (0..CHUNK).for_each(|i| paged.push(i));
        assert_eq!(paged.len(), CHUNK + CHUNK / 2, "the spare chunk is reused");
        while paged.pop().is_some() {}
        assert_eq!((paged.take_spare().len(), paged.chunks()), (1, 1));
    }
}
