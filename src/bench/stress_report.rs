//! What `shale stress` counts ([`StressStats`]) and reports ([`StressReport`]): per
//! operation how many requests were scheduled, dropped, succeeded, failed and timed out,
//! latency from the *scheduled* send time, the checker's read verdicts, and pass/fail.
//!
//! Owns the pass rule: no incorrect read, and an error rate (failures plus drops over
//! scheduled requests) within `--max-error-rate`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::args::OpKind;
use super::checker::{Incorrect, ReadCounts};
use super::keys::key_name;
use super::stats::{OpStats, Row, record_latency};

/// Key prefix of the stress tool, so it never touches `shale bench`'s keys.
pub const STRESS_PREFIX: &str = "stress:";

/// Counters of one operation kind.
#[derive(Debug, Clone, Default)]
pub struct StressOp {
    /// Requests whose send time came.
    pub scheduled: u64,
    /// Not sent because `--max-pending` requests were outstanding (counted as errors).
    pub dropped: u64,
    /// Failures that were timeouts (a subset of `stats.errors`).
    pub timeouts: u64,
    /// Successes (latency), failures and misses of the requests sent.
    pub stats: OpStats,
}

/// One [`StressOp`] per operation kind.
#[derive(Debug, Clone, Default)]
pub struct StressStats {
    ops: [StressOp; 3],
}

impl StressStats {
    /// The counters of `op`.
    pub fn op_mut(&mut self, op: OpKind) -> &mut StressOp {
        &mut self.ops[op.index()]
    }

    /// A request of `op` completed successfully, `latency` after its scheduled time;
    /// `miss` for a GET that found nothing.
    pub fn ok(&mut self, op: OpKind, latency: Duration, miss: bool) {
        let s = &mut self.op_mut(op).stats;
        record_latency(&mut s.latency, latency);
        s.misses += u64::from(miss);
    }

    /// A request of `op` failed.
    pub fn failed(&mut self, op: OpKind, timeout: bool) {
        let s = self.op_mut(op);
        s.stats.errors += 1;
        s.timeouts += u64::from(timeout);
    }

    /// Failures and drops over scheduled requests, all kinds together (0 when nothing ran).
    pub fn error_rate(&self) -> f64 {
        let scheduled: u64 = self.ops.iter().map(|o| o.scheduled).sum();
        let bad: u64 = self.ops.iter().map(|o| o.stats.errors + o.dropped).sum();
        if scheduled == 0 { 0.0 } else { bad as f64 / scheduled as f64 }
    }
}

/// One operation kind's line.
#[derive(Debug, Clone, Serialize)]
pub struct StressRow {
    /// Requests whose send time came.
    pub scheduled: u64,
    /// Not sent: too many outstanding.
    pub dropped: u64,
    /// Failures that were timeouts.
    pub timeouts: u64,
    /// Successes over scheduled.
    pub success_rate: f64,
    /// Counts and latency (from the scheduled time) of the requests sent.
    #[serde(flatten)]
    pub row: Row,
}

/// An incorrect read with its key's name.
#[derive(Debug, Clone, Serialize)]
pub struct IncorrectRead {
    /// The key.
    pub key: String,
    /// Seconds since the run's clock started, when the read was sent.
    pub sent_s: f64,
    /// What the read could have returned.
    pub expected: Vec<String>,
    /// What it returned (`null`: a miss).
    pub got: Option<String>,
}

/// Everything a stress run reports.
#[derive(Debug, Clone, Serialize)]
pub struct StressReport {
    /// `host:port`.
    pub target: String,
    /// Length of the schedule, seconds.
    pub duration_s: f64,
    /// Requests per second scheduled: GET, SET, DEL.
    pub qps: [u32; 3],
    /// Keys used.
    pub num_keys: u64,
    /// TTL of SETs, ms.
    pub ttl_ms: Option<u128>,
    /// Request timeout, ms.
    pub timeout_ms: u128,
    /// The seed.
    pub seed: u64,
    /// GET, SET and DEL lines (kinds with a rate only).
    pub ops: Vec<StressRow>,
    /// Read verdicts.
    pub reads: ReadCounts,
    /// Correct over judged reads (`null` when none was judged).
    pub correct_ratio: Option<f64>,
    /// The first incorrect reads.
    pub incorrect_examples: Vec<IncorrectRead>,
    /// Failures and drops over scheduled requests.
    pub error_rate: f64,
    /// The allowed error rate.
    pub max_error_rate: f64,
    /// No incorrect read and the error rate within bounds.
    pub passed: bool,
}

/// The settings a report repeats.
#[derive(Debug, Clone)]
pub struct StressSettings {
    /// `host:port`.
    pub target: String,
    /// Length of the schedule.
    pub duration: Duration,
    /// GET, SET, DEL rates.
    pub qps: [u32; 3],
    /// Keys used.
    pub num_keys: u64,
    /// SET TTL.
    pub ttl: Option<Duration>,
    /// Request timeout.
    pub timeout: Duration,
    /// The seed.
    pub seed: u64,
    /// The allowed error rate.
    pub max_error_rate: f64,
}

/// The text table's header; latencies are in milliseconds.
const TABLE_HEADER: &str = "op   scheduled        ok  errors timeouts dropped  success%      avg      p50      p99    p99.9    max ms";

impl StressRow {
    fn new(op: OpKind, s: &StressOp, elapsed: Duration) -> Self {
        let ok = s.stats.latency.len();
        StressRow {
            scheduled: s.scheduled,
            dropped: s.dropped,
            timeouts: s.timeouts,
            success_rate: if s.scheduled == 0 { 1.0 } else { ok as f64 / s.scheduled as f64 },
            row: Row::new(op.name(), &s.stats, elapsed),
        }
    }
}

impl From<&Incorrect> for IncorrectRead {
    fn from(e: &Incorrect) -> Self {
        IncorrectRead {
            key: String::from_utf8_lossy(&key_name(STRESS_PREFIX, e.key)).into_owned(),
            sent_s: e.sent_us as f64 / 1e6,
            expected: e.expected.clone(),
            got: e.got.clone(),
        }
    }
}

impl StressReport {
    /// The report of a run.
    pub fn new(
        cfg: &StressSettings,
        stats: &StressStats,
        reads: ReadCounts,
        examples: &[Incorrect],
    ) -> Self {
        let kinds = [OpKind::Get, OpKind::Set, OpKind::Del];
        let ops = kinds
            .into_iter()
            .zip(cfg.qps)
            .filter(|&(_, qps)| qps > 0)
            .map(|(op, _)| StressRow::new(op, &stats.ops[op.index()], cfg.duration))
            .collect();
        let error_rate = stats.error_rate();
        StressReport {
            target: cfg.target.clone(),
            duration_s: cfg.duration.as_secs_f64(),
            qps: cfg.qps,
            num_keys: cfg.num_keys,
            ttl_ms: cfg.ttl.map(|t| t.as_millis()),
            timeout_ms: cfg.timeout.as_millis(),
            seed: cfg.seed,
            ops,
            reads,
            correct_ratio: (reads.judged > 0).then(|| reads.correct as f64 / reads.judged as f64),
            incorrect_examples: examples.iter().map(IncorrectRead::from).collect(),
            error_rate,
            max_error_rate: cfg.max_error_rate,
            passed: reads.incorrect == 0 && error_rate <= cfg.max_error_rate,
        }
    }

    /// The human-readable report: settings, one row per op, the read verdicts with the
    /// first incorrect reads, the error rate, and PASS or FAIL.
    pub fn text(&self) -> String {
        let ttl = self.ttl_ms.map_or_else(|| "none".to_owned(), |ms| format!("{ms}ms"));
        let [g, s, d] = self.qps;
        let mut out = format!(
            "shale stress {} for {}s: get {g}/s set {s}/s del {d}/s, keys={} ttl={ttl} \
             timeout={}ms seed={}\n{TABLE_HEADER}\n",
            self.target, self.duration_s, self.num_keys, self.timeout_ms, self.seed,
        );
        for op in &self.ops {
            let r = &op.row;
            let _ = writeln!(
                out,
                "{:<4} {:>9} {:>9} {:>7} {:>8} {:>7} {:>9.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.3}",
                r.op,
                op.scheduled,
                r.requests - r.errors,
                r.errors,
                op.timeouts,
                op.dropped,
                op.success_rate * 100.0,
                r.avg_ms,
                r.p50_ms,
                r.p99_ms,
                r.p999_ms,
                r.max_ms,
            );
        }
        out.push_str(&self.verdicts());
        out
    }

    fn verdicts(&self) -> String {
        let c = &self.reads;
        let ratio =
            self.correct_ratio.map_or_else(|| "n/a".to_owned(), |r| format!("{:.3}%", r * 100.0));
        let mut out = format!(
            "reads: judged {}, correct {}, incorrect {}, unjudged {} (correct/judged {ratio})\n",
            c.judged, c.correct, c.incorrect, c.unjudged,
        );
        if c.judged == 0 {
            out.push_str("  warning: no read could be judged (fewer writes per key would help)\n");
        }
        for e in &self.incorrect_examples {
            let got = e.got.as_deref().unwrap_or("a miss");
            let expected = e.expected.join(", ");
            let _ = writeln!(
                out,
                "  incorrect read of {} sent at {:.6}s: expected one of [{expected}], got {got}",
                e.key, e.sent_s,
            );
        }
        let _ = writeln!(
            out,
            "error rate {:.3}% (max {:.3}%)\n{}",
            self.error_rate * 100.0,
            self.max_error_rate * 100.0,
            if self.passed { "PASS" } else { "FAIL" },
        );
        out
    }
}
