//! Deadlines a connection keeps for its callers ([`super::Connection::send`], the router's
//! forwarding): rather than a timer per request, which costs a timer-wheel insert and
//! removal each, the reader task sweeps the in-flight table every [`SWEEP_TICK`] while
//! requests are in flight and fails those past their deadline with a timeout, as a caller
//! that gave up would ([`super::inflight::InFlight::overdue`]). A request is failed at
//! most one tick after its deadline.
//!
//! The reader ticks only while something is in flight. A request registered while it does
//! not tick wakes it ([`Shared::want_sweep`]); `sweeping` and the table's lock order the
//! two sides so that no registration is missed.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::Error;
use super::tasks::Shared;

/// How often a connection with requests in flight looks for overdue ones: how late at
/// most a kept deadline fails.
pub const SWEEP_TICK: Duration = Duration::from_millis(10);

impl Shared {
    /// A request with a kept deadline was registered: make sure the reader sweeps.
    pub(super) fn want_sweep(&self) {
        if !self.sweeping.load(Ordering::SeqCst) {
            self.sweep_wanted.notify_one();
        }
    }
}

/// The reader was woken to sweep: it ticks from now on. `true` (it ticks).
pub(super) fn start(shared: &Shared, timer: Pin<&mut Sleep>) -> bool {
    shared.sweeping.store(true, Ordering::SeqCst);
    timer.reset(Instant::now() + SWEEP_TICK);
    true
}

/// A tick: fails the overdue callers, then ticks on while anything is in flight. Whether
/// it still ticks.
pub(super) fn tick(shared: &Shared, timer: Pin<&mut Sleep>) -> bool {
    let now = Instant::now();
    let (late, reset) = shared.table.lock().overdue(now);
    for waiter in late {
        // The caller may be gone too; then nobody waits for the error.
        let _ = waiter.tx.send(Err(Error::Timeout));
    }
    if reset {
        shared.fail("too many requests abandoned without a reply; peer presumed stuck", true);
        return false;
    }
    // Stop only with nothing in flight: a request registered after the table was seen
    // empty finds `sweeping` false and wakes the reader.
    shared.sweeping.store(false, Ordering::SeqCst);
    if shared.table.lock().len() == 0 {
        return false;
    }
    start(shared, timer)
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
