//! The background expiry sweeper: a tokio task that walks every shard in bounded chunks,
//! reclaiming expired keys nobody reads, within a CPU budget.
//!
//! Why a sweep and not a timer wheel: read paths already enforce expiry, so the sweeper only
//! has to bound how long *unread* garbage lingers. A cursor walk over dense entry vectors does
//! that with no per-key timer state, bounded lock holds (one chunk) and no stop-the-world scan.
//! Inspecting an entry is a deadline compare on a sequential array (~2 ns), so at a quarter of
//! one core a pass scans on the order of 100M entries per second of wall time; with the default
//! 1 s interval an unread key is reclaimed within about one interval plus one pass. Reclaiming
//! costs more (~0.2 us per key: two table probes and a slab free), so a mass expiry is paid back at
//! the budgeted rate: 4M keys expiring at once took ~4 s to clear on a 2-core machine.
//!
//! A mass expiry is the exception: a shard whose entries all expire within a short span
//! (a cache filled at once with one TTL) is not walked but left until its last key has
//! expired, then emptied whole in O(1) (`shard/wipe.rs`). Removing a million keys one by
//! one held stripe locks for most of a quarter-core's second, and a sweeper preempted while
//! holding one stalled the worker thread serving that stripe for milliseconds.
//!
//! This module owns the pacing (interval, budget, cancellation, the wipes it waits for) and
//! the store's sweep entry points ([`Store::sweep_chunk`], [`Store::sweep_pass`]); what a
//! chunk does to a shard is in `shard/scan.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::slab::Garbage;
use super::{Store, SweepProgress};

/// Smallest accepted CPU budget; lower (or NaN) values are raised to it / the default.
pub const MIN_CPU_BUDGET: f64 = 0.01;

/// Busy time accumulated before the sweeper pays it back with a sleep. Sleeping after every
/// ~microsecond chunk would round up to the timer's 1 ms resolution and crawl.
const THROTTLE_QUANTUM: Duration = Duration::from_millis(2);

/// Added to a wipe's wait so the store's clock (not the timer's) has passed the deadline.
const WIPE_MARGIN: Duration = Duration::from_millis(2);

/// Sweeper pacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepConfig {
    /// A pass starts this long after the previous one started (immediately if it overran).
    /// Default 1 s.
    pub pass_interval: Duration,
    /// Entries inspected per lock hold. Default 256 (about a microsecond of work).
    pub chunk: usize,
    /// Fraction of one core the sweeper may use while a pass runs, in
    /// `MIN_CPU_BUDGET..=1.0` (out-of-range values are clamped, NaN means default).
    /// Default 0.25.
    pub cpu_budget: f64,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self { pass_interval: Duration::from_secs(1), chunk: 256, cpu_budget: 0.25 }
    }
}

impl SweepConfig {
    /// A shard whose entries all expire within this of each other and of now is not walked
    /// but emptied whole when the last has expired (`shard/wipe.rs`): one and a half pass
    /// intervals, so a mass expiry spread over a second's load waits for one wipe instead
    /// of costing a locked removal per key, and no expired key waits longer than this.
    pub fn wipe_span(&self) -> Duration {
        self.pass_interval.saturating_add(self.pass_interval / 2)
    }

    fn effective_budget(&self) -> f64 {
        if self.cpu_budget.is_nan() {
            Self::default().cpu_budget
        } else {
            self.cpu_budget.clamp(MIN_CPU_BUDGET, 1.0)
        }
    }
}

impl Store {
    /// Inspects at most `max_entries` (at least 1) entries of shard `shard` from its sweep
    /// cursor under one lock hold, reclaiming expired keys and tombstones. An out-of-range
    /// `shard` does nothing and reports `pass_complete` so callers' loops end.
    pub fn sweep_chunk(&self, shard: usize, max_entries: usize) -> SweepProgress {
        let (progress, garbage) = self.sweep_chunk_keep(shard, max_entries);
        drop(garbage);
        progress
    }

    /// [`Store::sweep_chunk`], handing back what it freed instead of dropping it.
    fn sweep_chunk_keep(&self, shard: usize, max_entries: usize) -> (SweepProgress, Garbage) {
        let mut garbage = Garbage::default();
        let Some(slot) = self.slots.get(shard) else {
            let done = SweepProgress { pass_complete: true, ..SweepProgress::default() };
            return (done, garbage);
        };
        let progress = {
            let mut s = slot.0.lock();
            let now = self.clock.now();
            s.sweep_chunk(now, max_entries, &mut garbage)
        };
        (progress, garbage)
    }

    /// One full pass over every shard from index 0, in chunks of
    /// [`SweepConfig::default`]'s size, without throttling. Returns entries reclaimed.
    ///
    /// Covers every entry that exists for the whole pass, except one that a concurrent delete
    /// moves behind the cursor (the next pass sees it).
    pub fn sweep_pass(&self) -> usize {
        let started = std::time::Instant::now();
        let chunk = SweepConfig::default().chunk;
        let mut reclaimed = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            slot.0.lock().rewind();
            loop {
                let p = self.sweep_chunk(i, chunk);
                reclaimed += p.reclaimed;
                if p.pass_complete {
                    break;
                }
            }
        }
        self.record_pass(started.elapsed());
        reclaimed
    }

    /// How long until shard `shard` can be emptied whole, if the sweeper should wait for that
    /// instead of walking it: see [`SweepConfig::wipe_span`]. A small margin is added so the
    /// store's clock has passed the last deadline when the sweeper's timer fires.
    pub(super) fn sweep_wipe_due(&self, shard: usize, span: Duration) -> Option<Duration> {
        let slot = self.slots.get(shard)?;
        let now = self.clock.now();
        let span = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        let at = slot.0.lock().wipe_due(now, span)?;
        Some(Duration::from_nanos(at.saturating_sub(now)) + WIPE_MARGIN)
    }

    /// Publishes a completed pass to [`Store::stats`].
    fn record_pass(&self, elapsed: Duration) {
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.sweep_last_pass_ms.store(ms, Ordering::Relaxed);
        self.sweep_passes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Spawns the sweeper on `tracker`. It runs until `cancel` fires, and notices within one
/// chunk or immediately if sleeping.
pub fn spawn_sweeper(
    store: Arc<Store>,
    cfg: SweepConfig,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(run(store, cfg, cancel));
}

async fn run(store: Arc<Store>, cfg: SweepConfig, cancel: CancellationToken) {
    tracing::debug!(shards = store.shard_count(), ?cfg, "sweeper started");
    let throttle = Throttle::new(cfg.effective_budget());
    let mut sweeper = Sweeper { store, cfg, throttle, cancel, wipes: Vec::new() };
    while sweeper.cycle().await.is_some() {}
    tracing::debug!("sweeper stopped");
}

/// The sweeper task's state across passes.
struct Sweeper {
    store: Arc<Store>,
    cfg: SweepConfig,
    throttle: Throttle,
    cancel: CancellationToken,
    /// Shards left for a whole wipe, and when it is due (see [`Store::sweep_wipe_due`]).
    wipes: Vec<(usize, Instant)>,
}

impl Sweeper {
    /// One pass, then the wait until the next one, running the wipes that fall due in it.
    /// `None` once cancelled.
    async fn cycle(&mut self) -> Option<()> {
        let started = Instant::now();
        let reclaimed = self.pass().await?;
        let elapsed = started.elapsed();
        self.store.record_pass(elapsed);
        tracing::trace!(reclaimed, ?elapsed, "sweep pass done");
        let next = later(started, self.cfg.pass_interval);
        loop {
            let wake = self.wipes.iter().map(|w| w.1).min().map_or(next, |w| w.min(next));
            tokio::select! {
                () = self.cancel.cancelled() => return None,
                () = tokio::time::sleep_until(wake) => {}
            }
            if Instant::now() >= next {
                return Some(());
            }
            self.run_due().await?;
        }
    }

    /// One pass over every shard: each is walked, or left for a wipe when every entry in it
    /// will have expired soon. Returns entries reclaimed, `None` if cancelled part-way.
    async fn pass(&mut self) -> Option<usize> {
        let span = self.cfg.wipe_span();
        let mut reclaimed = 0;
        for shard in 0..self.store.shard_count() {
            reclaimed += self.run_due().await?;
            if self.wipes.iter().any(|w| w.0 == shard) {
                continue;
            }
            if let Some(wait) = self.store.sweep_wipe_due(shard, span) {
                tracing::trace!(shard, ?wait, "shard left for a wipe");
                self.wipes.push((shard, later(Instant::now(), wait)));
                continue;
            }
            reclaimed += self.walk(shard).await?;
        }
        Some(reclaimed)
    }

    /// Runs the wipes now due. A shard wholly expired is emptied by the first chunk of its
    /// walk. One that took a later deadline since (a load still under way) waits again if
    /// that is still within the span, else is walked through.
    async fn run_due(&mut self) -> Option<usize> {
        let now = Instant::now();
        let span = self.cfg.wipe_span();
        let mut reclaimed = 0;
        while let Some(k) = self.wipes.iter().position(|w| w.1 <= now) {
            let shard = self.wipes[k].0;
            match self.store.sweep_wipe_due(shard, span) {
                // The wait is at least the margin, so this loop ends.
                Some(wait) => self.wipes[k].1 = later(now, wait),
                None => {
                    self.wipes.swap_remove(k);
                    reclaimed += self.walk(shard).await?;
                }
            }
        }
        Some(reclaimed)
    }

    /// Sweeps `shard` from its cursor to the end, in throttled chunks.
    async fn walk(&mut self, shard: usize) -> Option<usize> {
        let mut reclaimed = 0;
        let from = Instant::now();
        loop {
            if self.cancel.is_cancelled() {
                return None;
            }
            // Busy time is real CPU time, so it is measured with std's clock even when
            // tokio's is paused in tests.
            let busy_from = std::time::Instant::now();
            let (progress, garbage) = self.store.sweep_chunk_keep(shard, self.cfg.chunk);
            if progress.wiped {
                // A whole stripe's storage: a million separately allocated values take tens
                // of milliseconds to free, which would hold up this thread's other tasks
                // (probes, map watching, repair). Freed on the blocking pool instead.
                tokio::task::spawn_blocking(move || drop(garbage));
            } else {
                drop(garbage);
            }
            reclaimed += progress.reclaimed;
            match self.throttle.charge(busy_from.elapsed()) {
                Some(pause) => tokio::select! {
                    () = self.cancel.cancelled() => return None,
                    () = tokio::time::sleep(pause) => {}
                },
                // Let other tasks on this worker run between lock holds.
                None => tokio::task::yield_now().await,
            }
            if progress.pass_complete {
                tracing::trace!(shard, reclaimed, took = ?from.elapsed(), "shard swept");
                return Some(reclaimed);
            }
        }
    }
}

/// `from + d`, or about a century on if that overflows (a `SweepConfig` may set any interval).
fn later(from: Instant, d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    from.checked_add(d).unwrap_or_else(|| from + CENTURY)
}

/// Converts busy time into owed sleep so that busy / (busy + sleep) == budget.
///
/// Busy time is timed around each chunk on the wall clock, which also counts time the
/// thread was preempted or waited for the stripe's lock: on a loaded machine that made
/// the sweeper sleep for CPU it never used and fall far behind its budget. So when a
/// quantum has built up, the debt is the CPU time the thread actually used since the last
/// settlement (where the platform tells it, and the task stayed on one thread), capped by
/// the wall-clock time.
#[derive(Debug)]
struct Throttle {
    /// Sleep owed per unit of busy time: (1 - budget) / budget.
    ratio: f64,
    debt: Duration,
    /// This thread's CPU time, if known.
    cpu: fn() -> Option<CpuMark>,
    /// The thread's CPU time at the last settlement.
    mark: Option<CpuMark>,
}

/// A thread's CPU time, and which thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuMark {
    thread: std::thread::ThreadId,
    used: Duration,
}

impl Throttle {
    fn new(budget: f64) -> Self {
        Self::with_cpu_clock(budget, thread_cpu)
    }

    fn with_cpu_clock(budget: f64, cpu: fn() -> Option<CpuMark>) -> Self {
        let mark = cpu();
        Self { ratio: (1.0 - budget) / budget, debt: Duration::ZERO, cpu, mark }
    }

    /// Records `busy`; returns a sleep once a quantum of busy time has built up.
    fn charge(&mut self, busy: Duration) -> Option<Duration> {
        if self.ratio <= 0.0 {
            return None;
        }
        self.debt = self.debt.saturating_add(busy);
        if self.debt < THROTTLE_QUANTUM {
            return None;
        }
        let now = (self.cpu)();
        let used = match (self.mark, now) {
            (Some(then), Some(now)) if then.thread == now.thread => {
                now.used.saturating_sub(then.used).min(self.debt)
            }
            _ => self.debt,
        };
        self.mark = now;
        // ratio <= 99 and debt is a few ms, so this cannot overflow a Duration.
        let pause = used.mul_f64(self.ratio);
        self.debt = Duration::ZERO;
        Some(pause)
    }
}

/// The calling thread's CPU time (Linux: `CLOCK_THREAD_CPUTIME_ID`).
#[cfg(target_os = "linux")]
fn thread_cpu() -> Option<CpuMark> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let used = Duration::new(u64::try_from(t.tv_sec).ok()?, u32::try_from(t.tv_nsec).ok()?);
    Some(CpuMark { thread: std::thread::current().id(), used })
}

/// Elsewhere the wall clock is all the throttle has.
#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Option<CpuMark> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_pays_back_in_proportion() {
        let mut t = Throttle::with_cpu_clock(0.25, || None);
        assert_eq!(t.charge(Duration::from_millis(1)), None);
        let pause = t.charge(Duration::from_millis(1)).expect("quantum reached");
        // 2 ms busy at a 25% budget owes 6 ms (float maths, so allow rounding).
        let owed = Duration::from_millis(6);
        assert!(pause.abs_diff(owed) < Duration::from_micros(1), "{pause:?}");
        assert_eq!(t.debt, Duration::ZERO);
    }

    #[test]
    fn preempted_time_is_not_charged() {
        // The thread used 0.5 ms of CPU (its clock is fixed: a mark per settlement) while 4 ms
        // of wall time passed around its chunks.
        fn clock() -> Option<CpuMark> {
            use std::sync::atomic::AtomicU64;
            static CALLS: AtomicU64 = AtomicU64::new(0);
            let n = CALLS.fetch_add(1, Ordering::Relaxed);
            let used = Duration::from_micros(500 * n);
            Some(CpuMark { thread: std::thread::current().id(), used })
        }
        let mut t = Throttle::with_cpu_clock(0.5, clock);
        let pause = t.charge(Duration::from_millis(4)).expect("quantum reached");
        assert_eq!(pause, Duration::from_micros(500), "owed for the CPU used, not the wall time");
        assert!(thread_cpu().is_none() || thread_cpu().unwrap().used > Duration::ZERO);
    }

    #[test]
    fn full_budget_never_sleeps() {
        let mut t = Throttle::new(1.0);
        assert_eq!(t.charge(Duration::from_secs(5)), None);
    }

    #[test]
    fn budget_is_clamped_and_nan_defaults() {
        let cfg = |cpu_budget| SweepConfig { cpu_budget, ..SweepConfig::default() };
        assert_eq!(cfg(f64::NAN).effective_budget(), 0.25);
        assert_eq!(cfg(-3.0).effective_budget(), MIN_CPU_BUDGET);
        assert_eq!(cfg(7.0).effective_budget(), 1.0);
    }
}
