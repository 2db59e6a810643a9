//! Anti-entropy digests: each shard's keys are hashed into [`DIGEST_BUCKETS`] buckets, and a
//! bucket's digest is the wrapping sum of a hash of each entry's key, version and kind. Two
//! replicas whose bucket digests agree hold the same entries there (up to a 64-bit hash
//! collision); a bucket that differs is pulled from the peer and applied last-writer-wins.
//!
//! The hashes are FNV-1a 64 with a splitmix64 finaliser: fixed and portable, so nodes on
//! different machines and builds agree (a seeded `ahash` would not). Computing digests walks
//! the whole store in short lock holds; the result is cached for [`DIGEST_CACHE_TTL`] so a
//! round of peers asking for digests costs one walk, not one per peer and shard.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::protocol::cluster::{BucketSet, DIGEST_BUCKETS};
use crate::shardmap::ShardMap;
use crate::store::Store;

/// How long computed digests are served before the store is walked again.
pub const DIGEST_CACHE_TTL: Duration = Duration::from_secs(2);

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// splitmix64's finaliser: spreads every input bit over the output.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A key's 64-bit hash (the one digests use).
pub fn key_hash(key: &[u8]) -> u64 {
    fnv1a64(key)
}

/// The digest bucket of a key.
pub fn bucket_of(key: &[u8]) -> usize {
    (mix(fnv1a64(key)) % DIGEST_BUCKETS as u64) as usize
}

/// The digest term of one entry: its key, version and whether it is a tombstone.
fn entry_hash(key_hash: u64, version: u64, tombstone: bool) -> u64 {
    mix(key_hash ^ mix(version) ^ u64::from(tombstone))
}

/// Digests of the shards in `shards` (of `map`), from one walk of the store.
pub fn compute(store: &Store, map: &ShardMap, shards: &[u32]) -> HashMap<u32, Vec<u64>> {
    let mut out: HashMap<u32, Vec<u64>> =
        shards.iter().map(|s| (*s, vec![0u64; DIGEST_BUCKETS])).collect();
    store.for_each_entry(&mut |key, version, tombstone| {
        let shard = map.shard_for_key(key);
        if let Some(buckets) = out.get_mut(&shard) {
            let h = fnv1a64(key);
            let b = (mix(h) % DIGEST_BUCKETS as u64) as usize;
            buckets[b] = buckets[b].wrapping_add(entry_hash(h, version, tombstone));
        }
    });
    out
}

/// The buckets where two digests differ.
pub fn differing(mine: &[u64], theirs: &[u64]) -> BucketSet {
    let mut set = BucketSet::default();
    for (b, (m, t)) in mine.iter().zip(theirs).enumerate() {
        if m != t {
            set.insert(b);
        }
    }
    set
}

/// Digests computed recently, for the shards they were computed for.
#[derive(Debug, Default)]
pub struct DigestCache {
    at: Option<Instant>,
    map: Option<std::sync::Arc<ShardMap>>,
    digests: HashMap<u32, Vec<u64>>,
}

impl DigestCache {
    /// `shard`'s digest if one computed under `map` is younger than [`DIGEST_CACHE_TTL`].
    pub fn get(&self, map: &std::sync::Arc<ShardMap>, shard: u32) -> Option<Vec<u64>> {
        let fresh = self.at.is_some_and(|at| at.elapsed() < DIGEST_CACHE_TTL);
        let same_map = self.map.as_ref().is_some_and(|m| std::sync::Arc::ptr_eq(m, map));
        if fresh && same_map { self.digests.get(&shard).cloned() } else { None }
    }

    /// Replaces the cache.
    pub fn put(&mut self, map: std::sync::Arc<ShardMap>, digests: HashMap<u32, Vec<u64>>) {
        *self = Self { at: Some(Instant::now()), map: Some(map), digests };
    }

    /// Forgets everything (after this node changed a shard's data wholesale).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    fn map() -> ShardMap {
        let b = ShardMap::builder(2).node("a", "127.0.0.1", 1).shard(1, &["a"]).shard(2, &["a"]);
        b.build().unwrap()
    }

    #[test]
    fn equal_contents_give_equal_digests_and_differences_are_located() {
        let (a, b) = (Store::new(StoreConfig::default()), Store::new(StoreConfig::default()));
        for i in 0..500u32 {
            let k = format!("key:{i}");
            a.set_versioned(k.as_bytes(), b"v", None, 10 + u64::from(i));
            b.set_versioned(k.as_bytes(), b"v", None, 10 + u64::from(i));
        }
        let m = map();
        let (da, db) = (compute(&a, &m, &[1, 2]), compute(&b, &m, &[1, 2]));
        assert_eq!(da, db);
        // A newer version of one key and a tombstone for another differ in their buckets only.
        b.set_versioned(b"key:7", b"v", None, 1_000);
        b.del_versioned(b"key:9", 1_000);
        let db = compute(&b, &m, &[1, 2]);
        let shard = m.shard_for_key(b"key:7");
        let diff = differing(&da[&shard], &db[&shard]);
        assert!(diff.contains(bucket_of(b"key:7")));
        let total: usize = [1, 2].iter().map(|s| differing(&da[s], &db[s]).len()).sum();
        assert!((1..=2).contains(&total), "{total} buckets differ");
    }

    #[test]
    fn hashes_are_fixed() {
        // Nodes on different builds and machines must agree: these values never change.
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(bucket_of(b"a"), bucket_of(b"a"));
        assert_ne!(entry_hash(1, 2, false), entry_hash(1, 2, true));
    }
}
