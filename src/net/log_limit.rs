//! [`LogLimit`]: a cap on how many lines a second one kind of warning may log, so a client
//! repeating a failure (wrong passwords, failed TLS handshakes) cannot flood the log. Lines
//! left out are counted and the count goes with the next line logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A one-second window and what it has used, for one kind of log line.
#[derive(Debug)]
pub struct LogLimit {
    per_sec: u64,
    started: Instant,
    /// `second << 32 | lines logged in that second`, updated in one atomic step.
    window: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimit {
    /// At most `per_sec` lines a second.
    pub fn new(per_sec: u64) -> Self {
        Self {
            per_sec,
            started: Instant::now(),
            window: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether a line may be logged now: `Some(lines left out since the last one)`, or
    /// `None` (and the line is counted as left out) when this second's quota is used up.
    pub fn admit(&self) -> Option<u64> {
        let second = self.started.elapsed().as_secs() & 0xFFFF_FFFF;
        let update = |w| next_window(w, second, self.per_sec);
        if self.window.fetch_update(Ordering::Relaxed, Ordering::Relaxed, update).is_err() {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

/// The window after one more line in `second`, or `None` if its quota is used up.
fn next_window(window: u64, second: u64, per_sec: u64) -> Option<u64> {
    let used = if window >> 32 == second { window & 0xFFFF_FFFF } else { 0 };
    (used < per_sec).then_some(second << 32 | (used + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_a_few_lines_per_second() {
        let max = 10;
        // (window, second, next window)
        let cases = [
            (0, 0, Some(1)),                       // first line ever
            (7 << 32 | 3, 7, Some(7 << 32 | 4)),   // room left this second
            (7 << 32 | max, 7, None),              // quota used up
            (7 << 32 | max, 8, Some(8 << 32 | 1)), // a new second starts over
        ];
        for (window, second, want) in cases {
            assert_eq!(next_window(window, second, max), want, "{window:#x} at {second}");
        }
        let log = LogLimit::new(max);
        let logged = (0..3 * max).filter(|_| log.admit().is_some()).count() as u64;
        // However the attempts straddle a second boundary, at most two windows' worth.
        assert!((max..=2 * max).contains(&logged), "{logged}");
    }
}
