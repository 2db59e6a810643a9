//! Busy-polling on a worker thread ([`super::NetConfig::busy_poll`]): after a connection
//! reads, the worker keeps polling its sockets (`epoll_wait` with no timeout, through
//! yields) for a short window instead of sleeping, so a backend reply or the client's
//! next request that arrives within it is served without a sleep and a wake-up. It spins
//! only while the worker serves few connections: with many, their requests arrive
//! together and are best served in one batch per wake-up.
//!
//! Spinning pays only on a core nobody else wants: a spinner that finds itself waiting
//! for the CPU (its run-queue wait in `/proc/thread-self/schedstat` grows), because the
//! clients or the backends on the same machine need the cores, stops and does not spin
//! again for [`SPIN_BACKOFF`].
//!
//! Owns the per-thread activity and connection counts and the spinner task; the connection
//! loop only reports them.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How often a spinning worker checks whether it waited for the CPU.
pub const SPIN_CHECK: Duration = Duration::from_millis(1);
/// A spinner that waited for the CPU more than this share of a check's time stops.
pub const SPIN_MAX_WAIT_SHARE: f64 = 0.25;
/// How long a spinner that waited for the CPU does not spin again.
pub const SPIN_BACKOFF: Duration = Duration::from_millis(100);

/// Set while some worker of the process spins: one spinning core at most, so the rest
/// stay for the clients and the backends on the same machine.
static SPINNING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ACTIVITY: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PARKED: Cell<Option<Waker>> = const { Cell::new(None) };
    /// The spinner's connection limit on this thread (0: no spinner).
    static SPIN_MAX: Cell<usize> = const { Cell::new(0) };
    /// Nanoseconds this thread spun since [`take_spun`] last ran.
    static SPUN: Cell<u64> = const { Cell::new(0) };
}

/// Nanoseconds this thread has waited on a run queue (runnable, not running), or `None`
/// where the kernel does not say.
fn runqueue_wait() -> Option<u64> {
    super::cpu::thread_times().map(|(_, waited)| waited)
}

/// Watches a spin for waiting on the CPU, one [`SPIN_CHECK`] at a time.
struct Contention {
    since: Instant,
    waited: Option<u64>,
}

impl Contention {
    fn start() -> Self {
        Self { since: Instant::now(), waited: runqueue_wait() }
    }

    /// Whether the thread waited for the CPU too long since the last check (checks at
    /// most every [`SPIN_CHECK`], or with `now`).
    fn contended(&mut self, now: bool) -> bool {
        let elapsed = self.since.elapsed();
        if !now && elapsed < SPIN_CHECK {
            return false;
        }
        let waited = runqueue_wait();
        let grew = match (self.waited, waited) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        };
        *self = Self { since: Instant::now(), waited };
        grew as f64 > elapsed.as_nanos() as f64 * SPIN_MAX_WAIT_SHARE
    }
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
/// sleeps and may spin (few connections). Costs a few thread-local reads otherwise: with
/// many connections it runs per request.
pub fn note_activity() {
    ACTIVITY.with(|a| a.set(a.get().wrapping_add(1)));
    if few() {
        if let Some(w) = PARKED.with(Cell::take) {
            w.wake();
        }
    }
}

/// Nanoseconds this thread spun since the last call: the balancer does not count them as
/// load (a spinning worker runs a whole core whatever its load).
pub fn take_spun() -> u64 {
    SPUN.with(|s| s.replace(0))
}

/// Whether this thread serves few enough connections for its spinner to spin (never
/// without a spinner: its limit is then 0).
fn few() -> bool {
    LIVE.with(Cell::get) <= SPIN_MAX.with(Cell::get)
}

/// Spins for `window` after each activity while this thread serves at most
/// `max_connections` connections, sleeping otherwise, until `shutdown`.
pub async fn spinner(window: Duration, max_connections: usize, shutdown: CancellationToken) {
    SPIN_MAX.with(|m| m.set(max_connections));
    let mut calm_from = Instant::now();
    // One waiter on the token for the spinner's life, not one per sleep.
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    while !shutdown.is_cancelled() {
        let mut seen = ACTIVITY.with(Cell::get);
        if few() && Instant::now() >= calm_from && !SPINNING.swap(true, Ordering::Acquire) {
            let (mut last, mut watch) = (Instant::now(), Contention::start());
            let spun_since = last;
            let mut contended = false;
            while few() && last.elapsed() < window && !shutdown.is_cancelled() {
                // A yield in a current-thread runtime polls the sockets without sleeping.
                tokio::task::yield_now().await;
                let now = ACTIVITY.with(Cell::get);
                if now != seen {
                    seen = now;
                    last = Instant::now();
                }
                contended = watch.contended(false);
                if contended {
                    break;
                }
            }
            SPINNING.store(false, Ordering::Release);
            SPUN.with(|s| s.set(s.get() + spun_since.elapsed().as_nanos() as u64));
            if contended || watch.contended(true) {
                calm_from = Instant::now() + SPIN_BACKOFF;
            }
        }
        tokio::select! {
            _ = &mut cancelled => break,
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

    /// Yields until `SPINNING` is `want`, at most `tries` times (a real-time sleep each),
    /// noting activity each time if `busy` (a loaded machine may make the spinner back off).
    async fn until_spinning(want: bool, tries: usize, busy: bool) -> bool {
        for _ in 0..tries {
            if SPINNING.load(Ordering::Acquire) == want {
                return true;
            }
            if busy {
                note_activity();
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
        assert!(until_spinning(true, 5000, true).await, "spins after a read");
        assert!(until_spinning(false, 5000, false).await, "sleeps once the window passes");

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
