//! Key hashing for the router: which shard a key belongs to.
//!
//! Owns: the FNV-1 32-bit hash and the key -> 1-based shard mapping. Does not own: the shard
//! map itself (see [`super::map`]) or replica selection.
//!
//! The hash is FNV-1 (multiply, then xor), **not** FNV-1a: the placement of keys must match
//! other tools that already shard with FNV-1, so changing it would move every key.

/// FNV-1 32-bit offset basis.
const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
/// FNV-1 32-bit prime.
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1 (not FNV-1a) 32-bit hash of `bytes`.
///
/// ```
/// use shale::shardmap::hash::fnv1_32;
/// assert_eq!(fnv1_32(b""), 0x811c_9dc5);
/// assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
/// ```
pub fn fnv1_32(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(FNV_OFFSET_BASIS, |hash, &byte| hash.wrapping_mul(FNV_PRIME) ^ u32::from(byte))
}

/// The 1-based shard that owns `key` among `num_shards` shards: `fnv1_32(key) % num_shards + 1`.
///
/// `num_shards` must be at least 1; a [`ShardMap`](super::map::ShardMap) guarantees that.
/// A zero is treated as one rather than panicking, so a bad caller gets shard 1, not a crash.
///
/// ```
/// use shale::shardmap::hash::shard_for_key;
/// assert_eq!(shard_for_key(b"abc", 8), 4);
/// ```
pub fn shard_for_key(key: &[u8], num_shards: u32) -> u32 {
    fnv1_32(key) % num_shards.max(1) + 1
}

#[cfg(test)]
mod tests {
    use super::{fnv1_32, shard_for_key};

    /// FNV-1a, only to prove we are not computing it.
    fn fnv1a_32(bytes: &[u8]) -> u32 {
        bytes.iter().fold(0x811c_9dc5, |h: u32, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
    }

    #[test]
    fn fnv1_matches_reference_vectors() {
        // The empty input hashes to the offset basis.
        assert_eq!(fnv1_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
        assert_eq!(fnv1_32(b"abc"), 0x439c_2f4b);
    }

    #[test]
    fn fnv1_differs_from_fnv1a() {
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_ne!(fnv1_32(b"a"), fnv1a_32(b"a"));
    }

    #[test]
    fn shard_for_key_is_one_based_modulo() {
        assert_eq!(shard_for_key(b"abc", 100), 96);
        assert_eq!(shard_for_key(b"abc", 8), 4);
        // One shard takes everything.
        assert_eq!(shard_for_key(b"anything", 1), 1);
    }

    #[test]
    fn shard_for_key_stays_in_range() {
        for n in [1u32, 2, 3, 7, 64, 65_536] {
            for i in 0..200u32 {
                let s = shard_for_key(&i.to_le_bytes(), n);
                assert!((1..=n).contains(&s), "shard {s} outside 1..={n}");
            }
        }
    }

    #[test]
    fn shard_for_key_zero_shards_does_not_panic() {
        assert_eq!(shard_for_key(b"abc", 0), 1);
    }
}
