//! `shale stress`: an open-loop load generator with a correctness checker.
//!
//! Owns the schedule and the requests: GETs, SETs and DELs are due at fixed rates from
//! the start, and each is sent when due whether or not earlier ones have completed, so a
//! slow server cannot slow the load down (no coordinated omission). Latency is measured
//! from the *scheduled* time. Every SET writes a value no other SET writes, and every
//! request is reported to the [`Checker`] with its send and completion times. Judging
//! belongs to [`super::checker`], counting and pass/fail to [`super::stress_report`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use parking_lot::Mutex;
use rand::Rng;
use tokio_util::task::TaskTracker;

use super::BenchError;
use super::args::OpKind;
use super::checker::{Ack, Checker, MutationId};
use super::keys::{key_name, task_rng};
use super::report::write_json;
use super::stress_report::{STRESS_PREFIX, StressReport, StressSettings, StressStats};
use super::target::Target;
use crate::client::{Client, Error as ClientError};
use crate::units::parse_duration;

/// Client connections the requests are multiplexed over.
const CONNECTIONS: usize = 4;
/// Length of every written value, padding included.
const VALUE_LEN: usize = 32;
/// Widens TTL windows for TTL rounding to milliseconds and scheduling noise.
const CLOCK_SLACK: Duration = Duration::from_millis(10);
/// Pause after sending a full burst, before catching up further.
const BURST_PAUSE: Duration = Duration::from_millis(1);
/// DELs per pipeline when clearing the keys before the run.
const CLEAR_BATCH: u64 = 512;

/// `shale stress`: open-loop load plus a checker of every read.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct StressArgs {
    /// The server (`-h`, `-p`) and `--help`.
    #[command(flatten)]
    pub target: Target,
    /// GETs per second.
    #[arg(long, default_value_t = 1000)]
    pub get_qps: u32,
    /// SETs per second.
    #[arg(long, default_value_t = 200)]
    pub set_qps: u32,
    /// DELs per second.
    #[arg(long, default_value_t = 20)]
    pub del_qps: u32,
    /// Most requests sent at once when the schedule has fallen behind.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub qps_burst: u32,
    /// Most outstanding requests; requests due beyond it are dropped and count as errors.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pending: u64,
    /// How long to schedule requests for (e.g. 30s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Request timeout; a timed-out write counts as unknown.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Expiry for SETs (e.g. 500ms); none by default.
    #[arg(long, value_parser = parse_duration)]
    pub ttl: Option<Duration>,
    /// Number of keys (`stress:key:000000000` ...), all deleted before the run.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub num_keys: u64,
    /// Largest tolerated fraction of failed or dropped requests.
    #[arg(long, default_value_t = 0.01)]
    pub max_error_rate: f64,
    /// Seed for key choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl StressArgs {
    /// The settings, once checked for a run that can do something.
    fn settings(&self) -> Result<StressSettings, BenchError> {
        let qps = [self.get_qps, self.set_qps, self.del_qps];
        if qps.iter().all(|&q| q == 0) || self.duration.is_zero() {
            let why = "nothing to do: every rate or the duration is 0";
            return Err(BenchError::InvalidArgs(why.into()));
        }
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            let why = "--max-error-rate is a fraction in 0..=1";
            return Err(BenchError::InvalidArgs(why.into()));
        }
        Ok(StressSettings {
            target: self.target.addr(),
            duration: self.duration,
            qps,
            num_keys: self.num_keys,
            ttl: self.ttl,
            timeout: self.timeout,
            seed: self.seed,
            max_error_rate: self.max_error_rate,
        })
    }
}

/// State every request task shares.
#[derive(Debug)]
struct Run {
    client: Client,
    epoch: Instant,
    ttl: Option<Duration>,
    checker: Mutex<Checker>,
    stats: Mutex<StressStats>,
    pending: AtomicU64,
    writes: AtomicU64,
}

impl Run {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// Runs `shale stress`; prints the report, writes `--json`, and fails on any incorrect
/// read or an error rate above `--max-error-rate`.
pub async fn run_stress(args: StressArgs) -> Result<(), BenchError> {
    let cfg = args.settings()?;
    let tls = args.target.tls_connector()?;
    if tls.is_none() {
        super::refuse_redis_text(&cfg.target, None).await?;
    }
    let mut builder = Client::builder();
    if let Some(tls) = tls {
        builder = builder.tls_connector(tls);
    }
    let client = builder
        .addr(cfg.target.clone())
        .request_timeout(args.timeout)
        .connections_per_addr(CONNECTIONS)
        .connect()
        .await
        .map_err(|e| super::unreachable(cfg.target.clone(), &e))?;
    clear_keys(&client, args.num_keys).await?;
    let run = Arc::new(Run {
        client,
        epoch: Instant::now(),
        ttl: args.ttl,
        checker: Mutex::new(Checker::new(CLOCK_SLACK)),
        stats: Mutex::new(StressStats::default()),
        pending: AtomicU64::new(0),
        writes: AtomicU64::new(0),
    });
    let tracker = TaskTracker::new();
    schedule(&args, &run, &tracker).await;
    tracker.close();
    // Every request ends within its timeout; the margin covers a stalled runtime.
    let _ = tokio::time::timeout(args.timeout * 2 + Duration::from_secs(1), tracker.wait()).await;
    let report = {
        let checker = run.checker.lock();
        StressReport::new(&cfg, &run.stats.lock(), checker.counts(), checker.examples())
    };
    print!("{}", report.text());
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    if report.passed {
        Ok(())
    } else {
        Err(BenchError::StressFailed {
            incorrect: report.reads.incorrect,
            error_rate: report.error_rate,
            max_error_rate: report.max_error_rate,
        })
    }
}

/// Deletes every key, so the checker may start from "never written".
async fn clear_keys(client: &Client, num_keys: u64) -> Result<(), BenchError> {
    let mut next = 0;
    while next < num_keys {
        let end = num_keys.min(next + CLEAR_BATCH);
        let mut pipe = client.pipeline();
        for k in next..end {
            pipe = pipe.del(key_name(STRESS_PREFIX, k));
        }
        for result in pipe.execute().await? {
            result?;
        }
        next = end;
    }
    Ok(())
}

/// One operation kind's place in the schedule.
#[derive(Debug)]
struct Stream {
    kind: OpKind,
    rate: f64,
    issued: u64,
}

impl Stream {
    /// When this stream's next request is due.
    fn due(&self, start: Instant) -> Instant {
        start + Duration::from_secs_f64(self.issued as f64 / self.rate)
    }
}

/// Issues every request at its due time until the duration is over.
async fn schedule(args: &StressArgs, run: &Arc<Run>, tracker: &TaskTracker) {
    let mut rng = task_rng(args.seed, 0);
    let rates =
        [(OpKind::Get, args.get_qps), (OpKind::Set, args.set_qps), (OpKind::Del, args.del_qps)];
    let mut streams: Vec<Stream> = rates
        .into_iter()
        .filter(|&(_, qps)| qps > 0)
        .map(|(kind, qps)| Stream { kind, rate: f64::from(qps), issued: 0 })
        .collect();
    let start = Instant::now();
    let end = start + args.duration;
    loop {
        let now = Instant::now();
        let mut budget = args.qps_burst;
        while budget > 0 {
            let Some(s) = streams.iter_mut().min_by_key(|s| s.due(start)) else { break };
            let due = s.due(start);
            if due > now || due >= end {
                break;
            }
            s.issued += 1;
            budget -= 1;
            let key = rng.gen_range(0..args.num_keys);
            issue(run, tracker, s.kind, key, due, args.max_pending);
        }
        let Some(next) = streams.iter().map(|s| s.due(start)).min().filter(|&n| n < end) else {
            return;
        };
        let wake = if budget == 0 { now + BURST_PAUSE } else { next };
        tokio::time::sleep_until(wake.into()).await;
    }
}

/// Sends one request of `kind` to `key` scheduled at `due`, or drops it if too many are
/// outstanding.
fn issue(run: &Arc<Run>, tracker: &TaskTracker, kind: OpKind, key: u64, due: Instant, max: u64) {
    run.stats.lock().op_mut(kind).scheduled += 1;
    if run.pending.load(Ordering::Relaxed) >= max {
        run.stats.lock().op_mut(kind).dropped += 1;
        return;
    }
    run.pending.fetch_add(1, Ordering::Relaxed);
    let run = run.clone();
    tracker.spawn(async move {
        match kind {
            OpKind::Get => get(&run, key, due).await,
            OpKind::Set => set(&run, key, due).await,
            OpKind::Del => del(&run, key, due).await,
        }
        run.pending.fetch_sub(1, Ordering::Relaxed);
    });
}

async fn get(run: &Run, key: u64, due: Instant) {
    let sent = run.now();
    let result = run.client.get(key_name(STRESS_PREFIX, key)).await;
    let done = run.now();
    match result {
        Ok(got) => {
            run.checker.lock().judge_read(key, sent, done, got.as_deref());
            run.stats.lock().ok(OpKind::Get, due.elapsed(), got.is_none());
        }
        Err(e) => run.stats.lock().failed(OpKind::Get, e.is_timeout()),
    }
}

async fn set(run: &Run, key: u64, due: Instant) {
    let value = unique_value(run.writes.fetch_add(1, Ordering::Relaxed));
    // Registered before sending, so no read can be judged without knowing of it.
    let sent = run.now();
    let m = run.checker.lock().begin_set(key, value.clone(), run.ttl, sent);
    let name = key_name(STRESS_PREFIX, key);
    let result = match run.ttl {
        Some(ttl) => run.client.set_ttl(name, value, ttl).await,
        None => run.client.set(name, value).await,
    };
    finish(run, OpKind::Set, m, result.err(), due);
}

async fn del(run: &Run, key: u64, due: Instant) {
    let sent = run.now();
    let m = run.checker.lock().begin_del(key, sent);
    let result = run.client.del(key_name(STRESS_PREFIX, key)).await;
    finish(run, OpKind::Del, m, result.err(), due);
}

fn finish(run: &Run, kind: OpKind, m: MutationId, err: Option<ClientError>, due: Instant) {
    let done = run.now();
    let ack = if err.is_none() { Ack::Acked } else { Ack::Unknown };
    run.checker.lock().finish(m, ack, done);
    match err {
        None => run.stats.lock().ok(kind, due.elapsed(), false),
        Some(e) => run.stats.lock().failed(kind, e.is_timeout()),
    }
}

/// `w<seq>:` padded to [`VALUE_LEN`]: no two writes of a run store the same value.
pub fn unique_value(seq: u64) -> Bytes {
    let mut v = format!("w{seq}:").into_bytes();
    v.resize(v.len().max(VALUE_LEN), b'.');
    Bytes::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_unique_and_padded() {
        assert!(unique_value(7).starts_with(b"w7:..."));
        assert_eq!(unique_value(7).len(), VALUE_LEN);
        assert_ne!(unique_value(1), unique_value(11));
        assert!(unique_value(u64::MAX).starts_with(b"w18446744073709551615:"));
    }

    #[test]
    fn streams_are_due_at_their_rate() {
        let start = Instant::now();
        let s = Stream { kind: OpKind::Get, rate: 200.0, issued: 3 };
        assert_eq!(s.due(start) - start, Duration::from_millis(15));
    }
}
