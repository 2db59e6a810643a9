//! [`Store::prefetch`]: warming the cache for a batch of keys about to be looked up, so
//! their cache misses overlap instead of coming one after another (see `shard/warm.rs`).

use super::Store;

/// The most keys one [`Store::prefetch`] call warms; the rest of a longer list are ignored
/// (a pipeline run is shorter, and more lines than this would start evicting each other).
pub const PREFETCH_MAX: usize = 32;

impl Store {
    /// Starts loading the memory that operations on `keys` will touch: first every key's
    /// entry, then every key's bytes. Purely a hint: it changes nothing and returns nothing.
    /// Worth it only for several keys about to be used together (a pipelined batch); each key
    /// costs two uncontended shard locks.
    pub fn prefetch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut found = [(None, 0); PREFETCH_MAX];
        let mut n = 0;
        for key in keys.into_iter().take(PREFETCH_MAX) {
            let (shard, hash) = self.locate(key);
            if let Some(i) = shard.lock().warm_entry(hash) {
                found[n] = (Some(shard), i);
                n += 1;
            }
        }
        for (shard, i) in &found[..n] {
            if let Some(shard) = shard {
                shard.lock().warm_record(*i);
            }
        }
    }
}
