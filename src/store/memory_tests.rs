//! How resident memory compares with the `used_memory` accounting that `maxmemory` limits.
//!
//! Ignored by default: RSS is process-wide, so tests running alongside skew it, and it needs a
//! release build to be quick. Run one scenario at a time, each in a fresh process:
//! `cargo test --release --lib store::memory_tests::<name> -- --ignored --nocapture`.

use super::{SetCond, Store, StoreConfig};

/// Resident set size from `/proc/self/statm` (Linux; 4 KiB pages assumed).
fn rss() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Fills a fresh store with `n` keys of 14 bytes and `value_len`-byte values and returns
/// (resident bytes added, `used_memory`).
fn measure(n: u32, value_len: usize) -> (usize, usize) {
    let before = rss().expect("linux");
    let store = Store::new(StoreConfig { shards: 8 });
    let value = vec![7u8; value_len];
    for i in 0..n {
        store.set(format!("key:{i:010}").as_bytes(), &value, None, SetCond::Always);
    }
    let grown = rss().expect("linux").saturating_sub(before);
    let used = store.stats().used_memory;
    eprintln!(
        "{n} keys x {value_len} B values: rss +{} MiB, used_memory {} MiB, ratio {:.2}",
        grown >> 20,
        used >> 20,
        grown as f64 / used as f64
    );
    (grown, used)
}

#[test]
#[ignore = "measures process RSS; run alone, in release"]
fn rss_small_values() {
    let (rss, used) = measure(2_000_000, 8);
    assert!(rss < used * 3, "{rss} vs {used}");
}

#[test]
#[ignore = "measures process RSS; run alone, in release"]
fn rss_medium_values() {
    let (rss, used) = measure(500_000, 200);
    assert!(rss < used * 3, "{rss} vs {used}");
}

#[test]
#[ignore = "measures process RSS; run alone, in release"]
fn rss_large_values() {
    let (rss, used) = measure(100_000, 4_000);
    assert!(rss < used * 3, "{rss} vs {used}");
}
