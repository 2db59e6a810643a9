//! [`Store::prefetch`]: warming the cache for a batch of keys about to be looked up, so
//! their cache misses overlap instead of coming one after another (see `shard/warm.rs`).

use super::Store;

/// The most keys one [`Store::prefetch`] call warms; the rest of a longer list are ignored
/// (a pipeline run is shorter, and more lines than this would start evicting each other).
pub const PREFETCH_MAX: usize = 32;

impl Store {
    /// Starts loading the memory that operations on `keys` will touch: first every key's
    /// table slot, then every key's entry, then every key's bytes. Purely a hint: it changes
    /// nothing and returns nothing. Worth it only for several keys about to be used together
    /// (a pipelined batch); each key costs three uncontended shard locks.
    pub fn prefetch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut located = [None; PREFETCH_MAX];
        let mut n = 0;
        for key in keys.into_iter().take(PREFETCH_MAX) {
            let (shard, hash) = self.locate(key);
            shard.lock().warm_slot(hash);
            located[n] = Some((shard, hash));
            n += 1;
        }
        let mut found = [None; PREFETCH_MAX];
        let mut m = 0;
        for (shard, hash) in located[..n].iter().flatten() {
            if let Some(i) = shard.lock().warm_entry(*hash) {
                found[m] = Some((*shard, i));
                m += 1;
            }
        }
        for (shard, i) in found[..m].iter().flatten() {
            shard.lock().warm_record(*i);
        }
    }
}
