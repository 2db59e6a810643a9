//! What every hostile scenario needs: one-at-a-time execution, a well-behaved client
//! measuring its latency while the attack runs, and an RSS peak sampler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;

use crate::common::{Text, WAIT, rss_kib};

static SERIAL: Mutex<()> = Mutex::const_new(());

/// Held for a whole scenario: RSS and latency are per process, so scenarios must not
/// overlap.
pub async fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// A well-behaved client doing PING, SET and GET in a loop on its own connection,
/// timing each. A wrong or missing answer fails the test when [`Probe::finish`] is called.
pub struct Probe {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Latencies>,
}

impl Probe {
    /// Connects (so the probe holds its slot before any attack starts) and starts looping.
    pub async fn start(addr: std::net::SocketAddr) -> Probe {
        let mut conn = Text::connect(addr).await;
        conn.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut lat = Latencies::default();
            let steps: [(&[u8], &[u8]); 3] = [
                (b"PING\r\n", b"+PONG\r\n"),
                (b"SET probe:k probe-v\r\n", b"+OK\r\n"),
                (b"GET probe:k\r\n", b"$7\r\nprobe-v\r\n"),
            ];
            while !flag.load(Ordering::Relaxed) {
                for (cmd, want) in steps {
                    let started = Instant::now();
                    conn.roundtrip(cmd, want).await;
                    lat.push(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            lat
        });
        Probe { stop, task }
    }

    /// Stops the loop and returns the latencies; panics if any request went wrong.
    pub async fn finish(self) -> Latencies {
        self.stop.store(true, Ordering::Relaxed);
        let lat = tokio::time::timeout(WAIT, self.task).await.expect("probe stops");
        lat.expect("every probe request was answered correctly")
    }
}

/// Loose bound on a well-behaved client's latency during an attack: a loaded 2-core
/// machine must pass, a server that stalls for a second must not.
pub fn assert_latency_ok(scenario: &str, lat: &Latencies) {
    println!("[{scenario}] normal client latency: {}", lat.summary());
    assert!(!lat.is_empty(), "[{scenario}] the probe made no requests");
    assert!(lat.percentile(99.0) < Duration::from_secs(1), "[{scenario}] {}", lat.summary());
    assert!(lat.max() < Duration::from_secs(2), "[{scenario}] {}", lat.summary());
}

/// Samples the process RSS every 20 ms, keeping the peak.
pub struct RssPeak {
    pub before_kib: u64,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl RssPeak {
    pub fn start() -> RssPeak {
        let before_kib = rss_kib();
        let peak = Arc::new(AtomicU64::new(before_kib));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        RssPeak { before_kib, peak, stop, task }
    }

    /// Stops sampling; prints and returns the growth of the peak over the start, in MiB.
    pub async fn finish(self, scenario: &str) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let peak = self.peak.load(Ordering::Relaxed).max(rss_kib());
        let after = rss_kib();
        let growth = peak.saturating_sub(self.before_kib) / 1024;
        println!(
            "[{scenario}] RSS before {} MiB, peak {} MiB (+{growth} MiB), after {} MiB",
            self.before_kib / 1024,
            peak / 1024,
            after / 1024
        );
        growth
    }
}

/// How a connection the server ended looked from the client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Orderly close, after these bytes.
    Eof(Vec<u8>),
    /// Reset (the client wrote after the server closed), after these bytes.
    Reset(Vec<u8>),
    /// Still open when the wait ran out.
    Open(Vec<u8>),
}

impl Ending {
    pub fn closed(&self) -> bool {
        !matches!(self, Ending::Open(_))
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Ending::Eof(b) | Ending::Reset(b) | Ending::Open(b) => b,
        }
    }
}

/// Reads until the server closes or `wait` passes, keeping at most `keep` bytes.
pub async fn read_to_end(stream: &mut TcpStream, wait: Duration, keep: usize) -> Ending {
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Ending::Open(got),
            Ok(Ok(0)) => return Ending::Eof(got),
            Ok(Err(_)) => return Ending::Reset(got),
            Ok(Ok(n)) => {
                let room = keep.saturating_sub(got.len()).min(n);
                got.extend_from_slice(&chunk[..room]);
            }
        }
    }
}

/// Writes `bytes` ignoring errors (the server may already have closed).
pub async fn write_quietly(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = tokio::time::timeout(WAIT, stream.write_all(bytes)).await;
}

/// Waits (bounded) until the server has exactly `n` connections open.
pub async fn connections_settle(stats: &shale::net::NetStats, n: u64) -> bool {
    crate::common::eventually(|| shale::net::NetStats::get(&stats.connections) == n).await
}

/// Latency samples with nearest-rank percentiles.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.samples.push(d);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn extend(&mut self, other: &Latencies) {
        self.samples.extend_from_slice(&other.samples);
    }

    /// The `p`-th percentile (0-100), or zero without samples.
    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted
            .get(rank.saturating_sub(1).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.samples.iter().max().copied().unwrap_or_default()
    }

    /// `n=.. p50=.. p99=.. max=..` for test output.
    pub fn summary(&self) -> String {
        format!(
            "n={} p50={:?} p99={:?} max={:?}",
            self.len(),
            self.percentile(50.0),
            self.percentile(99.0),
            self.max()
        )
    }
}
