//! Deadlines a connection keeps for its callers ([`super::Connection::send`], the router's
//! forwarding): rather than a timer per request, which costs a timer-wheel insert and
//! removal each, the reader task sweeps the in-flight table every [`SWEEP_TICK`] while
//! requests are in flight and fails those past their deadline with a timeout, as a caller
//! that gave up would ([`super::inflight::InFlight::overdue`]). A request is failed at
//! most one tick after its deadline.
//!
//! The reader ticks only while something is in flight. A request registered while it does
//! not tick wakes it ([`Sweep::want`]); `sweeping` and the table's lock order the
//! two sides so that no registration is missed.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use super::inflight::{InFlight, Waiter};

/// How often a connection with requests in flight looks for overdue ones: how late at
/// most a kept deadline fails.
pub const SWEEP_TICK: Duration = Duration::from_millis(10);

/// Whether the reader sweeps, and what wakes it to.
#[derive(Debug, Default)]
pub(super) struct Sweep {
    sweeping: AtomicBool,
    wanted: Notify,
}

/// What a tick found.
pub(super) struct Tick {
    /// Callers past their deadline, to be failed with a timeout.
    pub(super) late: Vec<Waiter>,
    /// Abandoned requests now exceed the limit: the peer is presumed stuck.
    pub(super) reset: bool,
    /// The reader ticks on.
    pub(super) ticking: bool,
}

impl Sweep {
    /// A request with a kept deadline was registered (after its entry is in the table):
    /// make sure the reader sweeps.
    pub(super) fn want(&self) {
        if !self.sweeping.load(Ordering::SeqCst) {
            self.wanted.notify_one();
        }
    }

    /// Completes when the reader is wanted to sweep.
    pub(super) async fn wanted(&self) {
        self.wanted.notified().await;
    }

    /// The reader ticks from now on.
    pub(super) fn start(&self, timer: Pin<&mut Sleep>) {
        self.sweeping.store(true, Ordering::SeqCst);
        timer.reset(Instant::now() + SWEEP_TICK);
    }

    /// A tick: takes the overdue callers, and ticks on while anything is in flight.
    pub(super) fn tick(&self, table: &Mutex<InFlight>, timer: Pin<&mut Sleep>) -> Tick {
        let (late, reset) = table.lock().overdue(Instant::now());
        if reset {
            return Tick { late, reset, ticking: false };
        }
        // Stop only with nothing in flight: a request registered after the table was seen
        // empty finds `sweeping` false and wakes the reader.
        self.sweeping.store(false, Ordering::SeqCst);
        let ticking = table.lock().len() > 0;
        if ticking {
            self.start(timer);
        }
        Tick { late, reset, ticking }
    }
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
