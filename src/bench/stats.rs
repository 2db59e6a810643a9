//! Latency and outcome recording for both tools: per-operation HDR histograms
//! ([`OpStats`], [`Recorder`]) and the summary [`Row`] every report prints.
//!
//! Owns the numbers, not their layout: [`super::report`] renders rows. Each task records
//! into its own [`Recorder`] without locks, and recorders are merged when the run ends.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::args::OpKind;

/// Longest latency a histogram tells apart (longer ones are counted as this): one minute.
const MAX_LATENCY_US: u64 = 60_000_000;

/// Significant figures the histograms keep: 0.1% resolution at any latency.
const SIGNIFICANT_FIGURES: u8 = 3;

/// An empty latency histogram in microseconds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_FIGURES)
        .expect("constant bounds are valid: 1 <= low, high >= 2 * low, sigfig <= 5")
}

/// `d` in whole microseconds, clamped into the histograms' bounds.
pub fn latency_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_LATENCY_US)
}

/// Adds `d` to `hist`.
pub fn record_latency(hist: &mut Histogram<u64>, d: Duration) {
    hist.saturating_record(latency_us(d));
}

/// Adds every sample of `src` to `dst`. Infallible, unlike `Histogram::add`, whose error
/// case (a source with wider bounds) cannot happen between our own histograms anyway.
pub fn merge_histogram(dst: &mut Histogram<u64>, src: &Histogram<u64>) {
    for v in src.iter_recorded() {
        dst.saturating_record_n(v.value_iterated_to(), v.count_at_value());
    }
}

/// What happened to the requests of one operation kind.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Latency of requests that succeeded, microseconds.
    pub latency: Histogram<u64>,
    /// Requests that failed (error reply, timeout, connection loss).
    pub errors: u64,
    /// Successful GETs that found nothing (a subset of the successes).
    pub misses: u64,
}

impl Default for OpStats {
    fn default() -> Self {
        Self { latency: new_histogram(), errors: 0, misses: 0 }
    }
}

impl OpStats {
    /// Requests completed, failed ones included.
    pub fn count(&self) -> u64 {
        self.latency.len() + self.errors
    }

    /// Adds `other`'s requests to these.
    pub fn merge(&mut self, other: &OpStats) {
        merge_histogram(&mut self.latency, &other.latency);
        self.errors += other.errors;
        self.misses += other.misses;
    }
}

/// One [`OpStats`] per operation kind.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    ops: [OpStats; 3],
}

impl Recorder {
    /// A success of `op` that took `latency`.
    pub fn ok(&mut self, op: OpKind, latency: Duration) {
        record_latency(&mut self.ops[op.index()].latency, latency);
    }

    /// A successful GET that found nothing.
    pub fn miss(&mut self, latency: Duration) {
        self.ok(OpKind::Get, latency);
        self.ops[OpKind::Get.index()].misses += 1;
    }

    /// A failed `op`.
    pub fn error(&mut self, op: OpKind) {
        self.ops[op.index()].errors += 1;
    }

    /// The stats of `op`.
    pub fn op(&self, op: OpKind) -> &OpStats {
        &self.ops[op.index()]
    }

    /// Adds `other`'s requests to these.
    pub fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in self.ops.iter_mut().zip(&other.ops) {
            mine.merge(theirs);
        }
    }

    /// All kinds together.
    pub fn total(&self) -> OpStats {
        let mut all = OpStats::default();
        for op in &self.ops {
            all.merge(op);
        }
        all
    }
}

/// One line of a report: counts, throughput and latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `SET`, `GET`, `DEL` or `TOTAL`.
    pub op: String,
    /// Requests completed, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// GETs that found nothing.
    pub misses: u64,
    /// Wall time the requests were spread over, seconds.
    pub elapsed_s: f64,
    /// `requests / elapsed_s`.
    pub ops_per_sec: f64,
    /// Mean latency of successful requests, ms.
    pub avg_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
}

impl Row {
    /// The row for `stats` gathered over `elapsed`.
    pub fn new(op: &str, stats: &OpStats, elapsed: Duration) -> Self {
        let h = &stats.latency;
        let secs = elapsed.as_secs_f64();
        let ms = |us: u64| us as f64 / 1000.0;
        let at = |q: f64| if h.is_empty() { 0.0 } else { ms(h.value_at_quantile(q)) };
        Row {
            op: op.to_owned(),
            requests: stats.count(),
            errors: stats.errors,
            misses: stats.misses,
            elapsed_s: secs,
            ops_per_sec: if secs > 0.0 { stats.count() as f64 / secs } else { 0.0 },
            avg_ms: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: at(0.5),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: if h.is_empty() { 0.0 } else { ms(h.max()) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorders_merge_and_rows_add_up() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        for i in 1..=100 {
            a.ok(OpKind::Set, Duration::from_micros(i * 10));
        }
        a.error(OpKind::Set);
        b.miss(Duration::from_millis(2));
        b.ok(OpKind::Get, Duration::from_millis(4));
        a.merge(&b);
        assert_eq!(a.op(OpKind::Set).count(), 101);
        assert_eq!(a.op(OpKind::Get).count(), 2);
        assert_eq!(a.op(OpKind::Get).misses, 1);
        let total = Row::new("TOTAL", &a.total(), Duration::from_secs(2));
        assert_eq!((total.requests, total.errors, total.misses), (103, 1, 1));
        assert!((total.ops_per_sec - 51.5).abs() < 1e-9);
        let set = Row::new("SET", a.op(OpKind::Set), Duration::from_secs(1));
        assert!((set.p50_ms - 0.5).abs() < 0.001, "p50 {}", set.p50_ms);
        assert!((set.max_ms - 1.0).abs() < 0.001, "max {}", set.max_ms);
        assert!(set.p50_ms <= set.p95_ms && set.p95_ms <= set.p99_ms && set.p99_ms <= set.max_ms);
    }

    #[test]
    fn empty_rows_are_zero_and_extremes_are_clamped() {
        let row = Row::new("DEL", &OpStats::default(), Duration::ZERO);
        assert_eq!((row.requests, row.ops_per_sec, row.max_ms), (0, 0.0, 0.0));
        let mut r = Recorder::default();
        r.ok(OpKind::Del, Duration::ZERO);
        r.ok(OpKind::Del, Duration::from_secs(3600));
        let row = Row::new("DEL", r.op(OpKind::Del), Duration::from_secs(1));
        assert_eq!(row.requests, 2);
        assert!(row.max_ms <= 60_100.0);
    }
}
