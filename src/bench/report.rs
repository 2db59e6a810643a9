//! The final report of `shale bench`: a text table, CSV rows, or JSON, all from one
//! [`BenchReport`].
//!
//! Owns layout and serialization only; the numbers come from [`super::stats::Row`].
//! Latencies are milliseconds with three decimals (microsecond resolution).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::BenchError;
use super::args::{BenchArgs, KeyPattern, Mix, OpKind, Proto};
use super::run::TestResult;
use super::stats::{Recorder, Row};

/// The CSV header; [`BenchReport::csv`] writes the fields in this order.
pub const CSV_HEADER: &str =
    "op,requests,errors,misses,elapsed_s,ops_per_sec,avg_ms,p50_ms,p95_ms,p99_ms,p999_ms,max_ms";

/// The text table's header; latencies are in milliseconds.
const TABLE_HEADER: &str = "op       requests  errors   misses        ops/s      avg      p50      p95      p99    p99.9    max ms";

/// Everything a benchmark run reports.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// `host:port`.
    pub target: String,
    /// Protocol used.
    pub proto: Proto,
    /// Connections.
    pub connections: u32,
    /// Worker threads.
    pub threads: usize,
    /// Pipeline depth.
    pub pipeline: u32,
    /// Requests per test, when not running for a duration.
    pub requests: Option<u64>,
    /// Seconds per test, when running for a duration.
    pub duration_s: Option<f64>,
    /// Distinct keys.
    pub keyspace: u64,
    /// How keys were drawn.
    pub key_pattern: KeyPattern,
    /// Value size or range, bytes.
    pub value_size: String,
    /// TTL of SETs, ms.
    pub ttl_ms: Option<u128>,
    /// The seed.
    pub seed: u64,
    /// Test names, in the order run.
    pub tests: Vec<String>,
    /// One row per operation kind per test.
    pub rows: Vec<Row>,
    /// All requests of all tests.
    pub total: Row,
}

impl BenchReport {
    /// The report of `results`, run with `args`.
    pub fn new(args: &BenchArgs, results: &[TestResult]) -> Self {
        let mut rows = Vec::new();
        let mut all = Recorder::default();
        for result in results {
            for op in OpKind::ALL {
                let stats = result.recorder.op(op);
                let listed = matches!(result.mix, Mix::Only(k) if k == op);
                if listed || stats.count() > 0 {
                    rows.push(Row::new(op.name(), stats, result.elapsed));
                }
            }
            all.merge(&result.recorder);
        }
        let elapsed = results.iter().map(|r| r.elapsed).sum();
        BenchReport {
            target: args.addr(),
            proto: args.proto,
            connections: args.connections,
            threads: args.worker_threads(),
            pipeline: args.pipeline,
            requests: args.duration.is_none().then_some(args.requests),
            duration_s: args.duration.map(|d| d.as_secs_f64()),
            keyspace: args.keyspace,
            key_pattern: args.key_pattern,
            value_size: args.data_size.to_string(),
            ttl_ms: args.ttl.map(|t| t.as_millis()),
            seed: args.seed,
            tests: results.iter().map(|r| r.mix.name()).collect(),
            rows,
            total: Row::new("TOTAL", &all.total(), elapsed),
        }
    }

    /// The human-readable report: the settings, then one table row per op and the total.
    pub fn text(&self) -> String {
        let mut out = self.settings();
        out.push_str(TABLE_HEADER);
        out.push('\n');
        for row in self.rows.iter().chain([&self.total]) {
            let _ = writeln!(
                out,
                "{:<6} {:>10} {:>7} {:>8} {:>12.1} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.3}",
                row.op,
                row.requests,
                row.errors,
                row.misses,
                row.ops_per_sec,
                row.avg_ms,
                row.p50_ms,
                row.p95_ms,
                row.p99_ms,
                row.p999_ms,
                row.max_ms,
            );
        }
        out
    }

    /// Two lines repeating what was run.
    fn settings(&self) -> String {
        let amount = match (self.requests, self.duration_s) {
            (_, Some(secs)) => format!("duration={secs}s"),
            (Some(n), None) => format!("requests={n}"),
            (None, None) => String::new(),
        };
        let ttl = self.ttl_ms.map_or_else(|| "none".to_owned(), |ms| format!("{ms}ms"));
        format!(
            "shale bench {} proto={} connections={} threads={} pipeline={} {amount}\n  \
             keyspace={} pattern={} value={}B ttl={ttl} seed={}\n",
            self.target,
            self.proto,
            self.connections,
            self.threads,
            self.pipeline,
            self.keyspace,
            self.key_pattern,
            self.value_size,
            self.seed,
        )
    }

    /// The header and one CSV line per row, the total last.
    pub fn csv(&self) -> String {
        let mut out = format!("{CSV_HEADER}\n");
        for row in self.rows.iter().chain([&self.total]) {
            out.push_str(&csv_row(row));
            out.push('\n');
        }
        out
    }
}

/// One row in [`CSV_HEADER`]'s order.
pub fn csv_row(row: &Row) -> String {
    format!(
        "{},{},{},{},{:.3},{:.1},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}",
        row.op,
        row.requests,
        row.errors,
        row.misses,
        row.elapsed_s,
        row.ops_per_sec,
        row.avg_ms,
        row.p50_ms,
        row.p95_ms,
        row.p99_ms,
        row.p999_ms,
        row.max_ms,
    )
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), BenchError> {
    let output = |source| BenchError::Output { path: path.to_owned(), source };
    let json = serde_json::to_string_pretty(value).map_err(|e| output(e.into()))?;
    std::fs::write(path, json + "\n").map_err(output)
}
