//! Keys and values for the benchmarks, reproducible from a seed.
//!
//! Owns key naming (`key:000000123`), key selection ([`KeyGen`]: uniform, Zipf or
//! sequential) and value bytes ([`ValueGen`]). Values are slices of one seeded pool, so
//! making one costs no copy and no allocation; what the bytes are matters less than that
//! the same seed sends the same bytes.

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

use super::BenchError;
use super::args::{KeyPattern, SizeRange};

/// Exponent of the Zipf key distribution; 0.99 is YCSB's default skew.
pub const ZIPF_EXPONENT: f64 = 0.99;

/// Extra pool bytes past the largest value, so values of one size start at different offsets.
const POOL_SLACK: usize = 64;

/// The name of key number `index`: `key:` and at least nine digits.
pub fn key_name(prefix: &str, index: u64) -> Bytes {
    Bytes::from(format!("{prefix}key:{index:09}"))
}

/// A per-connection RNG: the run's seed mixed with the connection's number, so connections
/// differ from each other but each repeats across runs.
pub fn task_rng(seed: u64, task: u64) -> StdRng {
    // The golden-ratio constant spreads consecutive task numbers over the seed space.
    StdRng::seed_from_u64(seed ^ task.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Draws key indexes in `0..keyspace`.
#[derive(Debug, Clone)]
pub struct KeyGen {
    keyspace: u64,
    kind: Draw,
}

#[derive(Debug, Clone)]
enum Draw {
    Uniform,
    Zipf(Zipf<f64>),
    Seq { next: u64 },
}

impl KeyGen {
    /// A generator over `keyspace` keys (at least 1); `start` is where a sequential walk
    /// begins (other patterns ignore it).
    pub fn new(pattern: KeyPattern, keyspace: u64, start: u64) -> Result<Self, BenchError> {
        if keyspace == 0 {
            return Err(BenchError::InvalidArgs("the keyspace must hold at least one key".into()));
        }
        let kind = match pattern {
            KeyPattern::Uniform => Draw::Uniform,
            KeyPattern::Zipf => Draw::Zipf(
                Zipf::new(keyspace, ZIPF_EXPONENT)
                    .map_err(|e| BenchError::InvalidArgs(format!("zipf: {e}")))?,
            ),
            KeyPattern::Seq => Draw::Seq { next: start % keyspace },
        };
        Ok(Self { keyspace, kind })
    }

    /// The next key index.
    pub fn next_index(&mut self, rng: &mut impl Rng) -> u64 {
        match &mut self.kind {
            Draw::Uniform => rng.gen_range(0..self.keyspace),
            // Zipf samples 1..=n as a float; rank 1 (the hottest) becomes index 0.
            Draw::Zipf(z) => (z.sample(rng) as u64).saturating_sub(1).min(self.keyspace - 1),
            Draw::Seq { next } => {
                let i = *next;
                *next = (i + 1) % self.keyspace;
                i
            }
        }
    }
}

/// Makes values of the requested sizes from one seeded pool of printable bytes.
#[derive(Debug, Clone)]
pub struct ValueGen {
    pool: Bytes,
    sizes: SizeRange,
}

impl ValueGen {
    /// A generator for `sizes`, its bytes fixed by `seed`.
    pub fn new(sizes: SizeRange, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let pool: Vec<u8> = (0..sizes.max + POOL_SLACK)
            .map(|_| rng.sample(rand::distributions::Alphanumeric))
            .collect();
        Self { pool: Bytes::from(pool), sizes }
    }

    /// The next value: a size drawn uniformly from the range, bytes from the pool.
    pub fn next_value(&self, rng: &mut impl Rng) -> Bytes {
        let len = rng.gen_range(self.sizes.min..=self.sizes.max);
        let offset = rng.gen_range(0..=POOL_SLACK);
        self.pool.slice(offset..offset + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(pattern: KeyPattern, keyspace: u64, seed: u64, n: usize) -> Vec<u64> {
        let mut keys = KeyGen::new(pattern, keyspace, 5).unwrap();
        let mut rng = task_rng(seed, 3);
        (0..n).map(|_| keys.next_index(&mut rng)).collect()
    }

    #[test]
    fn key_names_are_zero_padded() {
        assert_eq!(key_name("", 123), "key:000000123");
        assert_eq!(key_name("stress:", 0), "stress:key:000000000");
        assert_eq!(key_name("", 12_345_678_901), "key:12345678901"); // wider, never cut
    }

    #[test]
    fn same_seed_same_keys_other_seed_other_keys() {
        for pattern in [KeyPattern::Uniform, KeyPattern::Zipf] {
            assert_eq!(draws(pattern, 1000, 7, 200), draws(pattern, 1000, 7, 200));
            assert_ne!(draws(pattern, 1000, 7, 200), draws(pattern, 1000, 8, 200));
        }
    }

    #[test]
    fn every_pattern_stays_in_the_keyspace() {
        for pattern in [KeyPattern::Uniform, KeyPattern::Zipf, KeyPattern::Seq] {
            for keyspace in [1, 2, 10, 1000] {
                let keys = draws(pattern, keyspace, 1, 5000);
                assert!(keys.iter().all(|&k| k < keyspace), "{pattern:?} over {keyspace}");
            }
        }
    }

    #[test]
    fn zipf_is_skewed_towards_low_indexes() {
        let keys = draws(KeyPattern::Zipf, 10_000, 1, 20_000);
        let hot = keys.iter().filter(|&&k| k < 100).count();
        // Uniform would put 1% of draws on the first 100 keys; Zipf(0.99) puts over half.
        assert!(hot > keys.len() / 2, "only {hot} hot draws");
    }

    #[test]
    fn seq_walks_in_order_from_its_start_and_wraps() {
        assert_eq!(draws(KeyPattern::Seq, 8, 1, 6), vec![5, 6, 7, 0, 1, 2]);
    }

    #[test]
    fn values_have_requested_sizes_and_repeat_per_seed() {
        let sizes = SizeRange { min: 16, max: 64 };
        let make = |seed| {
            let gen_ = ValueGen::new(sizes, seed);
            let mut rng = task_rng(seed, 0);
            (0..500).map(|_| gen_.next_value(&mut rng)).collect::<Vec<_>>()
        };
        let values = make(9);
        assert!(values.iter().all(|v| (16..=64).contains(&v.len())));
        assert!(values.iter().any(|v| v.len() == 16) && values.iter().any(|v| v.len() == 64));
        assert!(values.iter().all(|v| v.iter().all(u8::is_ascii_alphanumeric)));
        assert_eq!(values, make(9));
        assert_ne!(values, make(10));
        let fixed = ValueGen::new(SizeRange { min: 32, max: 32 }, 1);
        assert_eq!(fixed.next_value(&mut task_rng(1, 0)).len(), 32);
    }
}
