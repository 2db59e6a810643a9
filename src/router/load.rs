//! The load signals P2C reads of one backend: requests in flight and the EWMA of its
//! latency. Every forwarded request updates them, from every worker thread, so each
//! thread keeps its own copy on a cache line of its own ([`STRIPES`] of them, as the
//! metrics do): no two workers write the same line. A reader sums the in-flight counts and
//! takes its own thread's latency average (any other's until its own has a sample).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::net::tally::{STRIPES, stripe_index};

/// Weight of the newest sample in the latency EWMA.
const EWMA_ALPHA: f64 = 0.3;

/// One thread slot's signals.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    in_flight: AtomicU64,
    ewma_us: AtomicU64,
}

/// A backend's load signals.
#[derive(Debug, Default)]
pub struct Load {
    stripes: [Stripe; STRIPES],
}

impl Load {
    /// Counts `n` requests in flight until the guard is dropped, so a caller that gives up
    /// (a client that disconnected) cannot leave the node looking busy forever.
    pub fn enter(&self, n: u64) -> InFlight<'_> {
        let stripe = &self.stripes[stripe_index()];
        stripe.in_flight.fetch_add(n, Ordering::Relaxed);
        InFlight { counter: &stripe.in_flight, n }
    }

    /// Requests in flight now, over every thread.
    pub fn in_flight(&self) -> u64 {
        let sum = self.stripes.iter().map(|s| s.in_flight.load(Ordering::Relaxed));
        sum.fold(0, u64::wrapping_add)
    }

    /// The latency average, in µs (0 before any sample).
    pub fn ewma_us(&self) -> f64 {
        let read = |s: &Stripe| f64::from_bits(s.ewma_us.load(Ordering::Relaxed));
        let mine = read(&self.stripes[stripe_index()]);
        if mine > 0.0 {
            return mine;
        }
        self.stripes.iter().map(read).find(|v| *v > 0.0).unwrap_or(0.0)
    }

    /// Feeds one latency sample to this thread's average.
    pub fn observe(&self, took: Duration) {
        let slot = &self.stripes[stripe_index()].ewma_us;
        let sample = took.as_secs_f64() * 1e6;
        let old = f64::from_bits(slot.load(Ordering::Relaxed));
        let new = if old == 0.0 { sample } else { old + EWMA_ALPHA * (sample - old) };
        // A lost race (another task of the same slot) drops one sample, which an average
        // can afford.
        slot.store(new.to_bits(), Ordering::Relaxed);
    }
}

/// Requests counted in flight until dropped.
#[derive(Debug)]
pub struct InFlight<'a> {
    counter: &'a AtomicU64,
    n: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_counts_until_the_guard_drops() {
        let load = Load::default();
        let a = load.enter(3);
        let b = load.enter(1);
        assert_eq!(load.in_flight(), 4);
        drop(a);
        assert_eq!(load.in_flight(), 1);
        drop(b);
        assert_eq!(load.in_flight(), 0);
    }

    #[test]
    fn the_average_follows_the_samples() {
        let load = Load::default();
        assert_eq!(load.ewma_us(), 0.0);
        load.observe(Duration::from_micros(100));
        assert!((load.ewma_us() - 100.0).abs() < 1e-9);
        load.observe(Duration::from_micros(200));
        assert!((load.ewma_us() - 130.0).abs() < 1e-9);
    }
}
