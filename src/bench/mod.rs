//! The benchmark tools behind `shale bench` and `shale stress`.
//!
//! - `shale bench` ([`run_bench`], [`BenchArgs`]) is a closed-loop load generator in the
//!   style of redis-benchmark and memtier: `-c` connections, each sending `-P` requests at
//!   a time and waiting for the replies, over shale's binary protocol or RESP (so Redis
//!   and proxies can be measured with the same workload). It reports throughput and HDR
//!   latency percentiles per operation as a table, CSV or JSON.
//! - `shale stress` ([`run_stress`], [`StressArgs`]) is an open-loop generator: requests
//!   go out at fixed rates whatever the server's speed, latency counts from the scheduled
//!   time, and a [`checker::Checker`] judges every read against the history of writes and
//!   deletes. It fails on any impossible read or too many errors.
//!
//! This module owns the tools' flags, workloads, measurement and reports. It talks to
//! servers only through [`crate::client`] and [`crate::protocol::text`]; it has no wire
//! format of its own. `main.rs` only dispatches to [`run_bench`] and [`run_stress`].

mod args;
pub mod checker;
#[cfg(test)]
mod checker_tests;
mod driver;
mod keys;
mod progress;
mod report;
mod resp;
mod run;
mod stats;
mod stress;
mod stress_report;
mod target;

use std::io;
use std::path::PathBuf;

pub use args::{BenchArgs, KeyPattern, OpKind, Proto, Ratio, SizeRange};
pub use report::{BenchReport, CSV_HEADER};
pub use run::run_bench;
pub use stats::Row;
pub use stress::{StressArgs, run_stress};
pub use stress_report::{StressReport, StressRow};
pub use target::Target;

/// Everything the tools can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A flag combination that cannot run.
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
    /// The server did not answer before the run started.
    #[error("cannot reach {addr}: {reason}")]
    Unreachable {
        /// `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The port answers Redis text, not shale's binary protocol (a redis-server).
    #[error("{0}")]
    WrongProtocol(String),
    /// The TLS flags or files are unusable.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// A client call outside the measured requests failed (stress's initial key clearing).
    #[error(transparent)]
    Client(#[from] crate::client::Error),
    /// A worker thread or runtime could not be started.
    #[error("starting workers: {0}")]
    Io(#[from] io::Error),
    /// A worker failed or panicked.
    #[error("benchmark worker failed: {0}")]
    Worker(String),
    /// The report could not be written.
    #[error("writing {}: {source}", path.display())]
    Output {
        /// The `--json` path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `shale stress` saw incorrect reads or too many errors.
    #[error(
        "stress check failed: {incorrect} incorrect reads, error rate {:.3}% (max {:.3}%)",
        error_rate * 100.0,
        max_error_rate * 100.0
    )]
    StressFailed {
        /// Judged reads that returned an impossible value.
        incorrect: u64,
        /// Failed and dropped requests over scheduled ones.
        error_rate: f64,
        /// The allowed rate.
        max_error_rate: f64,
    },
}

/// Why `addr` could not be reached, without naming the address twice.
pub(crate) fn unreachable(addr: String, e: &crate::client::Error) -> BenchError {
    let reason = match e {
        crate::client::Error::Connect { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    BenchError::Unreachable { addr, reason }
}

/// Refuses a port that speaks only Redis text before the binary protocol is tried on it
/// (which would only time out); `hint` says how to reach it instead, where the tool can.
pub(crate) async fn refuse_redis_text(addr: &str, hint: Option<&str>) -> Result<(), BenchError> {
    use crate::client::dialect::{DIALECT_PROBE_TIMEOUT, Dialect, probe, redis_text_message};
    match probe(addr, DIALECT_PROBE_TIMEOUT).await {
        Dialect::RedisText => Err(BenchError::WrongProtocol(redis_text_message(addr, hint))),
        Dialect::Binary | Dialect::Unknown => Ok(()),
    }
}
