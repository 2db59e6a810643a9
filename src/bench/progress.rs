//! The live progress line of `shale bench`: elapsed time, throughput, p99 and errors of
//! the running test, redrawn on stderr a few times a second.
//!
//! Owns [`Live`], the shared counters connection tasks add to, and the ticker that turns
//! them into the line. Disabled (no counters, no ticker, nothing drawn) when stderr is not
//! a terminal or `--quiet` is given, so pipes and CI logs get only the final report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use super::stats::{latency_us, new_histogram};

/// How often the line is redrawn; also the window its ops/s and p99 cover.
const TICK: Duration = Duration::from_millis(500);

/// Counters of the running test, shared by every connection task.
#[derive(Debug)]
pub struct Live {
    requests: AtomicU64,
    errors: AtomicU64,
    /// Latencies since the last redraw.
    window: Mutex<Histogram<u64>>,
    /// Name and start of the running test.
    test: Mutex<(String, Instant)>,
}

impl Live {
    fn new() -> Self {
        Self {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            window: Mutex::new(new_histogram()),
            test: Mutex::new((String::new(), Instant::now())),
        }
    }

    /// Adds one finished batch: `ok` successes that took `latency` and `failed` failures.
    pub fn record(&self, latency: Duration, ok: u64, failed: u64) {
        self.requests.fetch_add(ok + failed, Ordering::Relaxed);
        self.errors.fetch_add(failed, Ordering::Relaxed);
        if ok > 0 {
            self.window.lock().saturating_record_n(latency_us(latency), ok);
        }
    }

    /// The line for the window since the last call, and resets the window.
    fn line(&self, last_requests: &mut u64, window_len: Duration) -> String {
        let requests = self.requests.load(Ordering::Relaxed);
        let rate = (requests - *last_requests) as f64 / window_len.as_secs_f64();
        *last_requests = requests;
        let p99 = {
            let mut window = self.window.lock();
            let p99 = if window.is_empty() { 0 } else { window.value_at_quantile(0.99) };
            window.reset();
            p99
        };
        let (name, started) = self.test.lock().clone();
        format!(
            "{name}: {:>6.1}s  {rate:>10.0} ops/s  p99 {:.3} ms  errors {}",
            started.elapsed().as_secs_f64(),
            p99 as f64 / 1000.0,
            self.errors.load(Ordering::Relaxed),
        )
    }
}

/// The progress line, or nothing when disabled.
#[derive(Debug)]
pub struct Progress {
    live: Option<(Arc<Live>, ProgressBar, JoinHandle<()>)>,
}

impl Progress {
    /// A progress line on stderr when `enabled`; must be called inside a tokio runtime.
    pub fn start(enabled: bool) -> Self {
        if !enabled {
            return Self { live: None };
        }
        let live = Arc::new(Live::new());
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        let ticker = tokio::spawn({
            let (live, bar) = (live.clone(), bar.clone());
            async move {
                let mut last = 0;
                let mut interval =
                    tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
                loop {
                    interval.tick().await;
                    bar.set_message(live.line(&mut last, TICK));
                    bar.tick();
                }
            }
        });
        Self { live: Some((live, bar, ticker)) }
    }

    /// The counters to add to, when enabled.
    pub fn live(&self) -> Option<Arc<Live>> {
        self.live.as_ref().map(|(live, _, _)| live.clone())
    }

    /// Starts a new test: resets the counters and names the line.
    pub fn begin(&self, name: &str) {
        if let Some((live, _, _)) = &self.live {
            *live.test.lock() = (name.to_owned(), Instant::now());
            live.errors.store(0, Ordering::Relaxed);
        }
    }

    /// Stops the ticker and erases the line.
    pub fn finish(self) {
        if let Some((_, bar, ticker)) = self.live {
            ticker.abort();
            bar.finish_and_clear();
        }
    }
}
