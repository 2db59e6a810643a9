//! Write versions: a hybrid logical clock packed into a `u64`, so replicas can agree on
//! last-writer-wins without coordination.
//!
//! ```text
//!  63                                22 21          12 11           0
//! +------------------------------------+--------------+--------------+
//! | wall clock, ms since 2025-01-01 UTC | counter      | writer id    |
//! |             42 bits                 | 10 bits      | 12 bits      |
//! +------------------------------------+--------------+--------------+
//! ```
//!
//! Versions compare as integers. A clock never goes backwards: within one millisecond (or
//! when the wall clock steps back) the counter advances, overflowing into the millisecond
//! field, and [`Hlc::observe`] moves it past any version seen from elsewhere. Every message
//! that carries a clock merges it (nodes' replies carry theirs), so a writer whose wall
//! clock is behind catches up with what it has seen. The writer id (a router's
//! `--router-id`, random by default; a node's from its name) breaks ties between clocks;
//! replicas also agree on two writes that share a whole version (see the store's
//! last-writer-wins rule), so an id collision never makes replicas diverge. Version 0
//! means "no version". 42 bits of milliseconds last until the year 2164.
//!
//! The wall clock can be offset for fault-injection tests ([`set_debug_offset_ms`], behind
//! a hidden `--debug-clock-offset-ms` flag), so a process can be run with a skewed clock.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Bits below the millisecond field.
pub const MS_SHIFT: u32 = 22;
/// Bits below the counter field.
pub const COUNTER_SHIFT: u32 = 12;
/// Largest writer id.
pub const MAX_WRITER_ID: u16 = (1 << COUNTER_SHIFT) - 1;
/// The version epoch: 2025-01-01T00:00:00Z in ms since the Unix epoch.
pub const EPOCH_UNIX_MS: u64 = 1_735_689_600_000;
const ID_MASK: u64 = (1 << COUNTER_SHIFT) - 1;
const MS_MAX: u64 = u64::MAX >> MS_SHIFT;

/// How far ahead of a process's wall clock a version it accepts may be. A node refuses a
/// write stamped further ahead (CLOCK_SKEW: the writer's clock or the node's is wrong), and
/// no process merges a clock reading further ahead into its own: every version a clock
/// sees moves it forward, so one absurd version would drag all later ones with it.
pub const MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether `version` is within [`MAX_CLOCK_SKEW`] of this process's wall clock.
pub fn within_skew(version: u64) -> bool {
    ahead_of_wall_ms(version) <= MAX_CLOCK_SKEW.as_millis() as u64
}

/// Offset added to the wall clock, for tests that skew a process's clock.
static DEBUG_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Skews this process's wall clock by `offset_ms` (tests only; a hidden flag sets it).
pub fn set_debug_offset_ms(offset_ms: i64) {
    DEBUG_OFFSET_MS.store(offset_ms, Ordering::Relaxed);
}

/// A monotonic hybrid logical clock.
#[derive(Debug)]
pub struct Hlc {
    last: AtomicU64,
    id: u16,
}

impl Hlc {
    /// A clock with writer id `id` (masked to 12 bits).
    pub fn new(id: u16) -> Self {
        Self { last: AtomicU64::new(0), id: id & MAX_WRITER_ID }
    }

    /// This clock's writer id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// A version newer than every version this clock issued or observed.
    pub fn now(&self) -> u64 {
        self.next_after(version_ms(wall_ms()) << MS_SHIFT)
    }

    /// The clock's current reading without issuing a version: the newest version it issued
    /// or observed, or the wall clock if that is ahead.
    pub fn peek(&self) -> u64 {
        self.last.load(Ordering::Acquire).max(version_ms(wall_ms()) << MS_SHIFT)
    }

    /// Moves the clock past `seen`, so later versions from this clock are newer than it.
    pub fn observe(&self, seen: u64) {
        // Most replies carry a clock the router already has: a read then, not a write to a
        // line every worker thread shares.
        let seen = seen | ID_MASK;
        if seen > self.last.load(Ordering::Acquire) {
            self.last.fetch_max(seen, Ordering::AcqRel);
        }
    }

    /// `n` versions for `n` writes at once (one clock read, one update of the shared
    /// clock): the first, then each `step` above the one before, all newer than every
    /// version this clock issued or observed before.
    pub fn now_run(&self, n: usize) -> (u64, u64) {
        let step = ID_MASK + 1;
        let first = self.now();
        if n > 1 {
            let span = step.saturating_mul(u64::try_from(n - 1).unwrap_or(u64::MAX));
            self.observe(first.saturating_add(span));
        }
        (first, step)
    }

    fn next_after(&self, floor: u64) -> u64 {
        let id = u64::from(self.id);
        let mut last = self.last.load(Ordering::Acquire);
        loop {
            // Step the counter above the last version (clearing its id), or jump to the
            // wall clock if that is ahead.
            let stepped = (last | ID_MASK).wrapping_add(1) | id;
            let next = stepped.max(floor | id);
            match self.last.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }
}

/// Milliseconds since the Unix epoch that a version's clock field stands for.
pub fn millis_of(version: u64) -> u64 {
    (version >> MS_SHIFT).saturating_add(EPOCH_UNIX_MS)
}

/// How far `version` is ahead of this process's wall clock, in ms (0 if behind).
pub fn ahead_of_wall_ms(version: u64) -> u64 {
    millis_of(version).saturating_sub(wall_ms())
}

/// This process's wall clock: ms since the Unix epoch, plus any debug offset. Read
/// directly, because every write stamps a version: `SystemTime::duration_since` adds a
/// checked timespec subtraction and 128-bit arithmetic to each.
pub fn wall_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let ms = u64::try_from(t.tv_nsec).unwrap_or(0) / 1_000_000;
    let ms = secs.saturating_mul(1000).saturating_add(ms);
    ms.saturating_add_signed(DEBUG_OFFSET_MS.load(Ordering::Relaxed))
}

/// The version clock field for a Unix time in ms.
fn version_ms(unix_ms: u64) -> u64 {
    unix_ms.saturating_sub(EPOCH_UNIX_MS).min(MS_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strictly_increase_and_carry_the_id() {
        let hlc = Hlc::new(3000);
        let mut prev = 0;
        for _ in 0..10_000 {
            let v = hlc.now();
            assert!(v > prev);
            assert_eq!(v & ID_MASK, 3000);
            prev = v;
        }
    }

    #[test]
    fn a_run_of_versions_increases_carries_the_id_and_stays_below_the_next() {
        let hlc = Hlc::new(77);
        let before = hlc.now();
        let (first, step) = hlc.now_run(64);
        let run: Vec<u64> = (0..64).map(|k| first + k * step).collect();
        assert!(first > before);
        assert!(run.windows(2).all(|w| w[0] < w[1]));
        assert!(run.iter().all(|v| v & ID_MASK == 77));
        assert!(hlc.now() > run[63], "the next version is above the whole run");
    }

    #[test]
    fn wall_clock_is_in_the_high_bits() {
        let v = Hlc::new(1).now();
        let now = wall_ms();
        assert!(millis_of(v) <= now && now - millis_of(v) < 10_000);
        assert_eq!(ahead_of_wall_ms(v), 0);
    }

    #[test]
    fn observe_moves_past_a_future_version() {
        let hlc = Hlc::new(1);
        let future = (version_ms(wall_ms()) + 60_000) << MS_SHIFT | 9;
        hlc.observe(future);
        let v = hlc.now();
        assert!(v > future, "{v} <= {future}");
        assert_eq!(v & ID_MASK, 1);
        assert!(hlc.peek() >= v);
        assert!(ahead_of_wall_ms(v) > 50_000);
    }

    #[test]
    fn ids_are_twelve_bits() {
        assert_eq!(Hlc::new(u16::MAX).id(), MAX_WRITER_ID);
    }

    #[test]
    fn concurrent_clocks_never_repeat() {
        let hlc = std::sync::Arc::new(Hlc::new(3));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let hlc = hlc.clone();
                std::thread::spawn(move || (0..5_000).map(|_| hlc.now()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
