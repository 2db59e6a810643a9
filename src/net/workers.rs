//! Thread-per-core serving: each worker thread runs a single-threaded tokio runtime that
//! accepts on its own listening socket (an SO_REUSEPORT group, so the kernel balances new
//! connections) and serves every connection it holds on its own thread: a request is read,
//! handled and answered with no cross-thread wake-up, and a handler can keep per-thread
//! state keyed by [`worker_index`] (the router keeps its backend connections so). A
//! connection changes worker only between requests, when the balancer moves it (`balance`
//! decides, `fleet` carries the decision, `migrate` moves it); each worker's timer tick
//! does its part in that.
//!
//! What this module does not own: the accept loop and connection loop (shared with the
//! caller-runtime mode, `listener` and `connection`), and background work (probes, map
//! watching, repair, anti-entropy), which stays on the runtime that started the service.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::balance::BALANCE_PERIOD;
use super::endpoints::{Socket, Sockets};
use super::fleet::{Balancer, Fleet, Measured, Migrant};
use super::listener::serve_service;
use super::service::Service;
use super::{BindError, Bound, Handler, Listener, Listeners, NetConfig, NetStats};

/// Period of each worker's timer tick. tokio's timer driver wakes its runtime (an eventfd
/// write, one system call) whenever a timer is set earlier than the driver's next planned
/// wake-up; a worker whose connections wait on their clients has no timer due before the
/// idle timeout, so every forwarded request's timeout would cost that write. A tick this
/// much shorter than any default request timeout keeps an earlier wake-up always planned,
/// at the cost of a few wake-ups per second per worker.
pub const WORKER_TIMER_TICK: Duration = Duration::from_millis(50);

thread_local! {
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The index of the worker thread the caller runs on (0 to `worker_threads - 1`), or
/// `None` off the worker threads (background tasks, a caller-runtime service).
pub fn worker_index() -> Option<usize> {
    WORKER.with(Cell::get)
}

/// Serves `sockets` until `shutdown` fires: on `cfg.worker_threads` threads of their own,
/// or, with 0, on the caller's runtime. Each thread (or the accept task) is tracked by
/// `tracker`, so waiting on it waits for the connections to drain (up to the grace period
/// on each worker). Fails only if a worker thread or its runtime cannot be started.
pub fn spawn_service<H: Handler>(
    sockets: Sockets,
    bound: Bound,
    handler: Arc<H>,
    cfg: Arc<NetConfig>,
    stats: Arc<NetStats>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> Result<(), BindError> {
    let threads = cfg.worker_threads;
    stats.placement.init(threads);
    let fleet = (threads >= 2 && cfg.balance).then(|| Fleet::new(threads, cfg.balance_thresholds));
    let fleet = fleet.flatten();
    let (fleet, mut inboxes) = match fleet {
        Some((fleet, inboxes)) => (Some(Arc::new(fleet)), inboxes.into_iter().map(Some).collect()),
        None => (None, Vec::new()),
    };
    let service = Service::new(handler, cfg, stats, shutdown, fleet);
    let failed = |source| BindError { addr: bound.main(), source };
    if threads == 0 {
        let listeners = sockets.0.into_iter().next().unwrap_or_default();
        let listeners = listeners
            .into_iter()
            .map(|s| Listener::from_std(s.tcp, s.tls))
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        tracker.spawn(serve_service(Listeners(listeners), service, tracker.clone()));
        return Ok(());
    }
    for (index, set) in sockets.0.into_iter().enumerate() {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(failed)?;
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        let service = service.clone();
        let inbox = inboxes.get_mut(index).and_then(Option::take);
        std::thread::Builder::new()
            .name(format!("shale-worker-{index}"))
            .spawn(move || {
                run_worker(index, runtime, set, service, inbox);
                let _ = done.send(());
            })
            .map_err(failed)?;
        tracker.spawn(async move {
            let _ = finished.await;
        });
    }
    Ok(())
}

/// One worker's life: accept until shutdown, let its connections drain for the grace
/// period, then drop whatever is left with the runtime.
fn run_worker<H: Handler>(
    index: usize,
    runtime: Runtime,
    set: Vec<Socket>,
    svc: Arc<Service<H>>,
    inbox: Option<UnboundedReceiver<Migrant>>,
) {
    WORKER.with(|w| w.set(Some(index)));
    let grace = svc.cfg.shutdown_grace;
    runtime.block_on(async {
        let mut listeners = Vec::with_capacity(set.len());
        for s in set {
            match Listener::from_std(s.tcp, s.tls) {
                Ok(l) => listeners.push(l),
                Err(e) => warn!(worker = index, error = %e, "cannot serve a listening socket"),
            }
        }
        let connections = TaskTracker::new();
        if let Some(fleet) = &svc.fleet {
            // Before the first accept, so the first connections already know home.
            fleet.pick_up(index);
        }
        tokio::spawn(tick(svc.clone(), index));
        if let Some(inbox) = inbox {
            tokio::spawn(super::migrate::receive(svc.clone(), index, inbox, connections.clone()));
        }
        if !svc.cfg.busy_poll.is_zero() {
            let max = super::config::BUSY_POLL_MAX_CONNECTIONS;
            tokio::spawn(super::spin::spinner(svc.cfg.busy_poll, max, svc.shutdown.clone()));
        }
        serve_service(Listeners(listeners), svc, connections.clone()).await;
        connections.close();
        if tokio::time::timeout(grace, connections.wait()).await.is_err() {
            debug!(worker = index, "grace period over, dropping connections");
        }
    });
    runtime.shutdown_timeout(grace);
}

/// Keeps a timer due within [`WORKER_TIMER_TICK`] on this worker until shutdown, and
/// does the worker's part in balancing every [`BALANCE_PERIOD`].
async fn tick<H: Handler>(svc: Arc<Service<H>>, index: usize) {
    let per_period = (BALANCE_PERIOD.as_millis() / WORKER_TIMER_TICK.as_millis()).max(1);
    let mut balancer = Balancer::new();
    let mut last = (Instant::now(), super::cpu::thread_times());
    for n in 1u128.. {
        tokio::select! {
            _ = svc.shutdown.cancelled() => break,
            _ = tokio::time::sleep(WORKER_TIMER_TICK) => {}
        }
        let Some(fleet) = &svc.fleet else { continue };
        fleet.pick_up(index);
        if n % per_period != 0 {
            continue;
        }
        let now = (Instant::now(), super::cpu::thread_times());
        let load = measure(last, now).unwrap_or_default();
        last = now;
        fleet.publish(index, load, &mut balancer);
    }
}

/// This thread's load between two readings of its scheduler times: the share of a core it
/// ran, less its busy-polling, and that plus the share it waited for a core.
fn measure(
    (then, before): (Instant, Option<(u64, u64)>),
    (now, after): (Instant, Option<(u64, u64)>),
) -> Option<Measured> {
    let ((ran, waited), (runs, waits)) = (before?, after?);
    let wall = now.duration_since(then).as_nanos().max(1) as f64;
    let run = runs.saturating_sub(ran).saturating_sub(super::spin::take_spun()) as f64;
    let wait = waits.saturating_sub(waited) as f64;
    Some(Measured { share: run / wall, demand: (run + wait) / wall })
}
