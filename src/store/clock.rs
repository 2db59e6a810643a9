//! Time sources for expiry: the [`Clock`] trait, the production [`SystemClock`] and the
//! test-only-in-spirit [`ManualClock`].
//!
//! The store never calls `Instant::now()` itself; it asks its clock. That is what lets TTL
//! tests be exact (set a deadline, move the clock to exactly that nanosecond, assert) instead of
//! sleeping. This module owns nothing else: deadlines and their arithmetic live in the store.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A monotonic time source, in nanoseconds since an arbitrary epoch, and the wall clock
/// absolute deadlines (EXPIREAT, EXPIRETIME) are converted with.
///
/// Implementations must never go backwards: the store treats `now >= deadline` as "expired",
/// and a clock that steps back would resurrect expired values.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since this clock's epoch.
    fn now(&self) -> u64;

    /// Time since the Unix epoch. Only converts between absolute and relative deadlines;
    /// expiry itself never reads it, so a wall clock that is stepped cannot expire or
    /// resurrect anything.
    fn wall(&self) -> Duration {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}

/// Where a [`ManualClock`]'s wall clock starts: 2026-01-01T00:00:00Z.
pub const MANUAL_WALL_START: Duration = Duration::from_secs(1_767_225_600);

/// The process-wide epoch: the first `CLOCK_MONOTONIC` reading of any [`SystemClock`], in
/// nanoseconds.
static EPOCH: OnceLock<u64> = OnceLock::new();

/// `CLOCK_MONOTONIC` (what [`std::time::Instant`] reads) in nanoseconds, saturating. Read
/// directly because every store operation reads it: `Instant::elapsed` adds a checked
/// subtraction of two timespecs and a 128-bit conversion to each.
fn monotonic_nanos() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Wall-clock-independent production clock: `CLOCK_MONOTONIC`, as [`std::time::Instant`].
///
/// The epoch is the first read in this process, so values start near zero and a `u64` of
/// nanoseconds lasts ~584 years before saturating.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        let epoch = *EPOCH.get_or_init(monotonic_nanos);
        monotonic_nanos().saturating_sub(epoch)
    }
}

/// A clock that only moves when told to; for deterministic TTL tests.
///
/// Starts at 0. Moves are saturating, so a test can jump to "the end of time" safely. Its
/// wall clock reads [`MANUAL_WALL_START`] plus the same movement.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock reading 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (saturating at `u64::MAX` nanoseconds).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_add(by)));
    }

    /// Sets the absolute reading. The caller is responsible for not moving it backwards
    /// (tests that do so are testing a broken clock on purpose).
    pub fn set(&self, nanos: u64) {
        self.nanos.store(nanos, Ordering::Release);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
    }

    fn wall(&self) -> Duration {
        MANUAL_WALL_START.saturating_add(Duration::from_nanos(self.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_advances_and_saturates() {
        let c = ManualClock::new();
        assert_eq!(c.now(), 0);
        c.advance(Duration::from_millis(3));
        assert_eq!(c.now(), 3_000_000);
        c.set(u64::MAX - 1);
        c.advance(Duration::MAX);
        assert_eq!(c.now(), u64::MAX);
    }

    #[test]
    fn system_clock_is_monotonic() {
        let a = SystemClock.now();
        let b = SystemClock.now();
        assert!(b >= a);
    }
}
