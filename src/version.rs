//! Write versions: a hybrid logical clock packed into a `u64`, so replicas can agree on
//! last-writer-wins without coordination.
//!
//! ```text
//!  63                                20 19          8 7        0
//! +------------------------------------+-------------+----------+
//! | wall clock, ms since the Unix epoch | counter     | clock id |
//! |             44 bits                 | 12 bits     | 8 bits   |
//! +------------------------------------+-------------+----------+
//! ```
//!
//! Versions compare as integers. A clock never goes backwards: within one millisecond (or
//! when the wall clock steps back) the counter advances, overflowing into the millisecond
//! field, and [`Hlc::observe`] moves it past any version seen from elsewhere. The id (a
//! router's `--router-id`, or a server's own) breaks ties between clocks. Version 0 means
//! "no version".

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Bits below the millisecond field.
pub const MS_SHIFT: u32 = 20;
/// Bits below the counter field.
pub const COUNTER_SHIFT: u32 = 8;
const ID_MASK: u64 = (1 << COUNTER_SHIFT) - 1;

/// A monotonic hybrid logical clock.
#[derive(Debug)]
pub struct Hlc {
    last: AtomicU64,
    id: u8,
}

impl Hlc {
    /// A clock with tie-breaker `id`.
    pub fn new(id: u8) -> Self {
        Self { last: AtomicU64::new(0), id }
    }

    /// This clock's id.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// A version newer than every version this clock issued or observed.
    pub fn now(&self) -> u64 {
        self.next_after(wall_ms() << MS_SHIFT)
    }

    /// Moves the clock past `seen`, so later versions from this clock are newer than it.
    pub fn observe(&self, seen: u64) {
        self.last.fetch_max(seen | ID_MASK, Ordering::AcqRel);
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

/// Milliseconds since the Unix epoch, from a version.
pub fn millis_of(version: u64) -> u64 {
    version >> MS_SHIFT
}

fn wall_ms() -> u64 {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    u64::try_from(ms).unwrap_or(u64::MAX >> MS_SHIFT) & (u64::MAX >> MS_SHIFT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strictly_increase_and_carry_the_id() {
        let hlc = Hlc::new(7);
        let mut prev = 0;
        for _ in 0..10_000 {
            let v = hlc.now();
            assert!(v > prev);
            assert_eq!(v & ID_MASK, 7);
            prev = v;
        }
    }

    #[test]
    fn wall_clock_is_in_the_high_bits() {
        let v = Hlc::new(1).now();
        let now = wall_ms();
        assert!(millis_of(v) <= now && now - millis_of(v) < 10_000);
    }

    #[test]
    fn observe_moves_past_a_future_version() {
        let hlc = Hlc::new(1);
        let future = (wall_ms() + 60_000) << MS_SHIFT | 9;
        hlc.observe(future);
        let v = hlc.now();
        assert!(v > future, "{v} <= {future}");
        assert_eq!(v & ID_MASK, 1);
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
