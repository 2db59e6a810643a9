//! Client-side counters and a latency histogram, recorded lock-free on every request and
//! read as a [`ClientMetrics`] snapshot.
//!
//! Owns the client's own view of its traffic; the server's counters are
//! [`super::Client::stats`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Error;
use crate::net::tally::{STRIPES, stripe_index};

/// Histogram buckets: bucket `i` counts latencies below `2^i` microseconds (and at least
/// `2^(i-1)`); the last one also takes everything longer (2^31 us is about 36 minutes).
const BUCKETS: usize = 32;

/// A snapshot of what one [`super::Client`] (and its clones) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientMetrics {
    /// Requests completed, successfully or not (each pipeline op counts).
    pub requests: u64,
    /// Requests that ended in an error of any kind, timeouts included.
    pub errors: u64,
    /// Requests that ended in [`Error::Timeout`].
    pub timeouts: u64,
    /// Connections re-established after a failure, across all addresses.
    pub reconnects: u64,
    /// Latency of completed requests.
    pub latency: Latency,
}

/// Latency summary. Percentiles are the upper bound of a power-of-two bucket, so they
/// overestimate by at most 2x; `max` and `mean` are exact to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest request.
    pub max: Duration,
    /// Mean.
    pub mean: Duration,
}

/// The live counters behind [`ClientMetrics`]: one copy per [`STRIPES`] thread slot (as
/// the connection loop's tally), so the router's worker threads, which all record into
/// the same backend's and the router's metrics on every request, do not pass the counters'
/// cache lines back and forth. A snapshot adds the stripes up.
#[derive(Debug)]
pub(crate) struct Metrics {
    stripes: Box<[Stripe; STRIPES]>,
}

/// One thread slot's counters, on cache lines of their own.
#[derive(Debug)]
#[repr(align(128))]
struct Stripe {
    requests: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Stripe {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self { stripes: Box::new(std::array::from_fn(|_| Stripe::default())) }
    }
}

impl Metrics {
    /// Records one completed request.
    pub(crate) fn record(&self, latency: Duration, error: Option<&Error>) {
        if let Some(e) = error {
            let s = &self.stripes[stripe_index()];
            s.errors.fetch_add(1, Ordering::Relaxed);
            if e.is_timeout() {
                s.timeouts.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.record_ok(latency, 1);
    }

    /// Records `n` requests that completed together, without error, after `latency`.
    pub(crate) fn record_ok(&self, latency: Duration, n: u64) {
        let s = &self.stripes[stripe_index()];
        s.requests.fetch_add(n, Ordering::Relaxed);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        s.sum_us.fetch_add(us.saturating_mul(n), Ordering::Relaxed);
        s.max_us.fetch_max(us, Ordering::Relaxed);
        s.buckets[bucket(us)].fetch_add(n, Ordering::Relaxed);
    }

    /// A snapshot; counters are read one by one, so it may be off by in-flight updates.
    pub(crate) fn snapshot(&self, reconnects: u64) -> ClientMetrics {
        let sum = |f: fn(&Stripe) -> &AtomicU64| -> u64 {
            self.stripes.iter().map(|s| f(s).load(Ordering::Relaxed)).sum()
        };
        let counts: Vec<u64> = (0..BUCKETS)
            .map(|i| self.stripes.iter().map(|s| s.buckets[i].load(Ordering::Relaxed)).sum())
            .collect();
        let total: u64 = counts.iter().sum();
        let max_us = self.stripes.iter().map(|s| s.max_us.load(Ordering::Relaxed)).max();
        let max = Duration::from_micros(max_us.unwrap_or(0));
        let mean = match total {
            0 => Duration::ZERO,
            n => Duration::from_micros(sum(|s| &s.sum_us) / n),
        };
        let pct = |q: u64| percentile(&counts, total, q).min(max);
        ClientMetrics {
            requests: sum(|s| &s.requests),
            errors: sum(|s| &s.errors),
            timeouts: sum(|s| &s.timeouts),
            reconnects,
            latency: Latency { p50: pct(50), p99: pct(99), max, mean },
        }
    }
}

fn bucket(us: u64) -> usize {
    (64 - us.leading_zeros() as usize).min(BUCKETS - 1)
}

/// Upper bound of the bucket holding the `q`th percentile.
fn percentile(counts: &[u64], total: u64, q: u64) -> Duration {
    if total == 0 {
        return Duration::ZERO;
    }
    let rank = (total * q).div_ceil(100).max(1);
    let mut seen = 0;
    for (i, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Duration::from_micros(1u64 << i);
        }
    }
    Duration::MAX
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(1023), 10);
        assert_eq!(bucket(1024), 11);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn snapshot_counts_and_percentiles() {
        let m = Metrics::default();
        for _ in 0..98 {
            m.record(Duration::from_micros(100), None);
        }
        m.record(Duration::from_millis(10), Some(&Error::Timeout));
        m.record(Duration::from_millis(20), Some(&Error::NoAddresses));
        let s = m.snapshot(3);
        assert_eq!((s.requests, s.errors, s.timeouts, s.reconnects), (100, 2, 1, 3));
        assert_eq!(s.latency.p50, Duration::from_micros(128));
        assert_eq!(s.latency.p99, Duration::from_micros(16_384));
        assert_eq!(s.latency.max, Duration::from_millis(20));
        assert_eq!(s.latency.mean, Duration::from_micros(398));
    }

    #[test]
    fn threads_record_in_stripes_that_add_up() {
        const THREADS: u64 = STRIPES as u64 + 2;
        let m = Metrics::default();
        std::thread::scope(|scope| {
            for t in 1..=THREADS {
                let m = &m;
                scope.spawn(move || m.record(Duration::from_millis(t), None));
            }
        });
        let s = m.snapshot(0);
        assert_eq!(s.requests, THREADS);
        assert_eq!(s.latency.max, Duration::from_millis(THREADS));
        assert_eq!(
            s.latency.mean,
            Duration::from_micros((1..=THREADS).sum::<u64>() * 1000 / THREADS)
        );
    }

    #[test]
    fn empty_snapshot_is_zero() {
        assert_eq!(Metrics::default().snapshot(0), ClientMetrics::default());
    }
}
