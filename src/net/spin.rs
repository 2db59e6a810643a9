//! Busy-polling on a worker thread ([`super::NetConfig::busy_poll`]): after a connection
//! reads, the worker keeps polling its sockets (`epoll_wait` with no timeout, through
//! yields) for a short window instead of sleeping, so a backend reply or the client's
//! next request that arrives within it is served without a sleep and a wake-up. It spins
//! only while the worker serves few connections: with many, their requests arrive
//! together and are best served in one batch per wake-up.
//!
//! Owns the per-thread activity and connection counts and the spinner task; the connection
//! loop only reports them.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Set while some worker of the process spins: one spinning core at most, so the rest
/// stay for the clients and the backends on the same machine.
static SPINNING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ACTIVITY: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PARKED: Cell<Option<Waker>> = const { Cell::new(None) };
}

/// Counts a connection as served by this thread while it lives. Exact on worker threads,
/// whose tasks never move; on a multi-threaded runtime (no spinner runs there) a count may
/// drift, which nothing reads.
pub struct Live(());

impl Live {
    pub fn enter() -> Self {
        LIVE.with(|l| l.set(l.get() + 1));
        Live(())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get().saturating_sub(1)));
    }
}

/// Notes that a connection on this thread read something, waking the spinner if it
/// sleeps. Costs a thread-local increment when no spinner runs.
pub fn note_activity() {
    ACTIVITY.with(|a| a.set(a.get().wrapping_add(1)));
    if let Some(w) = PARKED.with(Cell::take) {
        w.wake();
    }
}

/// Spins for `window` after each activity while this thread serves at most
/// `max_connections` connections, sleeping otherwise, until `shutdown`.
pub async fn spinner(window: Duration, max_connections: usize, shutdown: CancellationToken) {
    let few = || LIVE.with(Cell::get) <= max_connections;
    while !shutdown.is_cancelled() {
        let mut seen = ACTIVITY.with(Cell::get);
        if few() && !SPINNING.swap(true, Ordering::Acquire) {
            let mut last = Instant::now();
            while few() && last.elapsed() < window && !shutdown.is_cancelled() {
                // A yield in a current-thread runtime polls the sockets without sleeping.
                tokio::task::yield_now().await;
                let now = ACTIVITY.with(Cell::get);
                if now != seen {
                    seen = now;
                    last = Instant::now();
                }
            }
            SPINNING.store(false, Ordering::Release);
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = std::future::poll_fn(|cx| {
                if ACTIVITY.with(Cell::get) != seen {
                    Poll::Ready(())
                } else {
                    PARKED.with(|p| p.set(Some(cx.waker().clone())));
                    Poll::Pending
                }
            }) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields until `SPINNING` is `want`, at most `tries` times (a real-time sleep each).
    async fn until_spinning(want: bool, tries: usize) -> bool {
        for _ in 0..tries {
            if SPINNING.load(Ordering::Acquire) == want {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        false
    }

    // One test, as `SPINNING` is per process.
    #[tokio::test(flavor = "current_thread")]
    async fn spins_after_activity_then_sleeps_and_never_with_many_connections() {
        let stop = CancellationToken::new();
        let spinner = tokio::spawn(spinner(Duration::from_millis(5), 2, stop.clone()));
        let _one = Live::enter();
        note_activity();
        assert!(until_spinning(true, 1000).await, "spins after a read");
        assert!(until_spinning(false, 5000).await, "sleeps once the window passes");

        let _more = [Live::enter(), Live::enter()];
        note_activity();
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert!(!SPINNING.load(Ordering::Acquire), "no spinning over 2 connections");
        }
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), spinner).await.unwrap().unwrap();
    }
}
