//! The closed loop of `shale bench`: worker threads, each with its own single-threaded
//! runtime and share of the connections; every connection sends a batch of `-P` requests,
//! waits for all replies, records them and sends the next.
//!
//! Owns the shape of a run: one test after another, connecting before the clock starts, a
//! common start signal, request quotas or a deadline, and merging each task's
//! [`Recorder`]. Connections record without locks; the progress line's [`Live`] counters
//! are the only shared state, and only when the line is shown.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::BenchError;
use super::args::{BenchArgs, Mix, OpKind, Proto};
use super::driver::{Driver, Op, Outcome};
use super::keys::{KeyGen, ValueGen, key_name, task_rng};
use super::progress::{Live, Progress};
use super::report::{BenchReport, write_json};
use super::stats::Recorder;
use crate::tls::TlsConnector;

/// Pause after a batch in which every request failed, so a dead server is not spun on.
const FAILURE_PAUSE: Duration = Duration::from_millis(10);

/// What one test measured.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// What the test issued.
    pub mix: Mix,
    /// Every connection's requests.
    pub recorder: Recorder,
    /// From the common start to the last connection finishing.
    pub elapsed: Duration,
}

/// Runs `shale bench`: every test in turn, then the report (stdout, and `--json`).
pub async fn run_bench(args: BenchArgs) -> Result<(), BenchError> {
    let tls = args.target.tls_connector()?;
    if args.proto == Proto::Binary && tls.is_none() {
        super::refuse_redis_text(&args.addr(), Some("use --proto resp")).await?;
    }
    let mut probe = new_driver(&args, &tls)?;
    probe
        .connect()
        .await
        .map_err(|reason| BenchError::Unreachable { addr: args.addr(), reason })?;
    drop(probe);
    let progress = Progress::start(!args.quiet && std::io::stderr().is_terminal());
    let values = ValueGen::new(args.data_size, args.seed);
    let mut results = Vec::new();
    for mix in args.tests() {
        progress.begin(&mix.name());
        match run_test(&args, &tls, &values, mix, progress.live()).await {
            Ok(result) => results.push(result),
            Err(e) => {
                progress.finish();
                return Err(e);
            }
        }
    }
    progress.finish();
    let report = BenchReport::new(&args, &results);
    print!("{}", if args.csv { report.csv() } else { report.text() });
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    Ok(())
}

fn new_driver(args: &BenchArgs, tls: &Option<Arc<TlsConnector>>) -> Result<Driver, BenchError> {
    Ok(Driver::new(args.proto, &args.addr(), tls.clone(), args.ttl, args.data_size.max)?)
}

/// One connection's state, built before its thread starts.
#[derive(Debug)]
struct Conn {
    driver: Driver,
    keys: KeyGen,
    /// Draws keys only, so every test of a run visits the same keys in the same order
    /// (GETs after SETs find what was written).
    key_rng: StdRng,
    /// Draws everything else: the op of a mixed test, value sizes and offsets.
    rng: StdRng,
    /// Requests to send; `u64::MAX` when running for a duration.
    quota: u64,
}

/// What every connection of a test shares.
#[derive(Debug, Clone)]
struct Shared {
    mix: Mix,
    key_prefix: Arc<str>,
    pipeline: u64,
    duration: Option<Duration>,
    values: ValueGen,
    tls: Option<Arc<TlsConnector>>,
    live: Option<Arc<Live>>,
    ready: mpsc::Sender<()>,
    start: watch::Receiver<Option<Instant>>,
}

/// Runs one test: connects every connection, starts them together, waits for all.
async fn run_test(
    args: &BenchArgs,
    tls: &Option<Arc<TlsConnector>>,
    values: &ValueGen,
    mix: Mix,
    live: Option<Arc<Live>>,
) -> Result<TestResult, BenchError> {
    let (ready, mut ready_rx) = mpsc::channel(args.connections as usize);
    let (start_tx, start) = watch::channel(None);
    let shared = Shared {
        mix,
        key_prefix: args.key_prefix.as_str().into(),
        pipeline: u64::from(args.pipeline),
        duration: args.duration,
        values: values.clone(),
        tls: tls.clone(),
        live,
        ready,
        start,
    };
    // On an early return `start_tx` is dropped, which tells started workers to quit.
    let workers = spawn_workers(args, &shared)?;
    drop(shared);
    // Everyone connects first, so connecting is not measured.
    for _ in 0..args.connections {
        if ready_rx.recv().await.is_none() {
            break;
        }
    }
    let started = Instant::now();
    start_tx.send_replace(Some(started));
    let joined = tokio::task::spawn_blocking(move || {
        workers.into_iter().map(|w| w.join()).collect::<Vec<_>>()
    })
    .await
    .map_err(|e| BenchError::Worker(e.to_string()))?;
    let mut recorder = Recorder::default();
    let mut finished = started;
    for worker in joined {
        let (rec, end) =
            worker.map_err(|_| BenchError::Worker("a worker thread panicked".into()))??;
        recorder.merge(&rec);
        finished = finished.max(end);
    }
    Ok(TestResult { mix, recorder, elapsed: finished - started })
}

type Worker = std::thread::JoinHandle<Result<(Recorder, Instant), BenchError>>;

/// Starts `--threads` threads, each with a current-thread runtime and every
/// `threads`-th connection.
fn spawn_workers(args: &BenchArgs, shared: &Shared) -> Result<Vec<Worker>, BenchError> {
    let threads = args.worker_threads();
    let mut workers = Vec::with_capacity(threads);
    for t in 0..threads {
        let mut mine = Vec::new();
        for id in (t as u64..u64::from(args.connections)).step_by(threads) {
            mine.push(new_conn(args, &shared.tls, id)?);
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name(format!("shale-bench-{t}"))
            .spawn(move || runtime.block_on(run_worker(shared, mine)))?;
        workers.push(worker);
    }
    Ok(workers)
}

fn new_conn(
    args: &BenchArgs,
    tls: &Option<Arc<TlsConnector>>,
    id: u64,
) -> Result<Conn, BenchError> {
    let conns = u64::from(args.connections);
    // Sequential walks start spread over the keyspace so connections don't overlap.
    let start =
        u64::try_from(u128::from(id) * u128::from(args.keyspace) / u128::from(conns)).unwrap_or(0);
    let quota = match args.duration {
        Some(_) => u64::MAX,
        None => args.requests / conns + u64::from(id < args.requests % conns),
    };
    Ok(Conn {
        driver: new_driver(args, tls)?,
        keys: KeyGen::new(args.key_pattern, args.keyspace, start)?,
        key_rng: task_rng(args.seed, id),
        rng: task_rng(!args.seed, id),
        quota,
    })
}

/// One worker thread: runs its connections to the end and merges their recorders.
async fn run_worker(shared: Shared, conns: Vec<Conn>) -> Result<(Recorder, Instant), BenchError> {
    let mut tasks = JoinSet::new();
    for conn in conns {
        tasks.spawn(run_conn(shared.clone(), conn));
    }
    drop(shared);
    let mut recorder = Recorder::default();
    let mut finished: Option<Instant> = None;
    while let Some(done) = tasks.join_next().await {
        let (rec, end) = done.map_err(|e| BenchError::Worker(e.to_string()))?;
        recorder.merge(&rec);
        finished = Some(finished.map_or(end, |f| f.max(end)));
    }
    Ok((recorder, finished.unwrap_or_else(Instant::now)))
}

/// One connection's closed loop.
async fn run_conn(shared: Shared, mut conn: Conn) -> (Recorder, Instant) {
    let mut rec = Recorder::default();
    // A failed connect shows up as failed requests; the driver reconnects on its own.
    let _ = conn.driver.connect().await;
    let _ = shared.ready.send(()).await;
    let mut start = shared.start.clone();
    let Ok(started) = start.wait_for(Option::is_some).await.map(|s| *s) else {
        return (rec, Instant::now()); // the run was abandoned before it began
    };
    let deadline = shared.duration.zip(started).map(|(d, s)| s + d);
    let (mut ops, mut outcomes) = (Vec::new(), Vec::new());
    let mut left = conn.quota;
    while left > 0 && deadline.is_none_or(|d| Instant::now() < d) {
        let n = left.min(shared.pipeline);
        ops.clear();
        for _ in 0..n {
            ops.push(next_op(&shared, &mut conn));
        }
        outcomes.clear();
        let sent = Instant::now();
        conn.driver.batch(&ops, &mut outcomes).await;
        let latency = sent.elapsed();
        let failed = record(&mut rec, &ops, &outcomes, latency);
        if let Some(live) = &shared.live {
            live.record(latency, n - failed, failed);
        }
        if failed == n {
            tokio::time::sleep(FAILURE_PAUSE).await;
        }
        left -= n;
    }
    (rec, Instant::now())
}

/// Records a batch's outcomes; returns how many failed.
fn record(rec: &mut Recorder, ops: &[Op], outcomes: &[Outcome], latency: Duration) -> u64 {
    let mut failed = 0;
    for (op, outcome) in ops.iter().zip(outcomes) {
        match outcome {
            Outcome::Ok => rec.ok(op.kind, latency),
            Outcome::Miss => rec.miss(latency),
            Outcome::Failed => {
                rec.error(op.kind);
                failed += 1;
            }
        }
    }
    failed
}

fn next_op(shared: &Shared, conn: &mut Conn) -> Op {
    let kind = match shared.mix {
        Mix::Only(kind) => kind,
        Mix::Ratio(ratio) => {
            let mut roll = conn.rng.gen_range(0..ratio.total().max(1));
            let mut pick = OpKind::Get;
            for k in OpKind::ALL {
                if roll < ratio.weight(k) {
                    pick = k;
                    break;
                }
                roll -= ratio.weight(k);
            }
            pick
        }
    };
    let key = key_name(&shared.key_prefix, conn.keys.next_index(&mut conn.key_rng));
    let value = match kind {
        OpKind::Set => shared.values.next_value(&mut conn.rng),
        _ => bytes::Bytes::new(),
    };
    Op { kind, key, value }
}
