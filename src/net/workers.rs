//! Thread-per-core serving: each worker thread runs a single-threaded tokio runtime that
//! accepts on its own listening socket (an SO_REUSEPORT group, so the kernel balances new
//! connections) and keeps every connection it accepts for the connection's whole life. A
//! request is then read, handled and answered on one thread, with no cross-thread
//! wake-up, and a handler can keep per-thread state keyed by [`worker_index`] (the router
//! keeps its backend connections so).
//!
//! A connection moves to another worker only when the balancer says so (`balance`), at
//! a moment it has nothing in flight: it leaves its runtime as a plain socket and is
//! resumed on the other worker's ([`serve_tcp`]).
//!
//! What this module does not own: the accept loop and connection loop (shared with the
//! caller-runtime mode, `listener` and `connection`), and background work (probes, map
//! watching, repair, anti-entropy), which stays on the runtime that started the service.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, warn};

use super::balance::{BALANCE_PERIOD, Balancer, Fleet, Migrant};
use super::connection::serve_movable;
use super::endpoints::{Socket, Sockets};
use super::listener::{Open, Service, serve_service};
use super::{BindError, Bound, Handler, Listener, Listeners, NetConfig, NetStats, Session};
use crate::codec::ServerCodec;

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
    let (fleet, mut inboxes) = if threads >= 2 && cfg.balance {
        let (fleet, inboxes) = Fleet::new(threads);
        (Some(Arc::new(fleet)), inboxes.into_iter().map(Some).collect())
    } else {
        (None, Vec::new())
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
            tokio::spawn(receive(inbox, connections.clone(), svc.shutdown.clone()));
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
        let share = match (last.1, now.1) {
            (Some((ran, _)), Some((runs, _))) => {
                let wall = now.0.duration_since(last.0).as_nanos().max(1);
                Some(runs.saturating_sub(ran) as f64 / wall as f64)
            }
            _ => None,
        };
        last = now;
        fleet.publish(index, share, &mut balancer, &svc.stats.placement.open_by_worker());
    }
}

/// Resumes the connections other workers send this one, until shutdown (a connection
/// still on its way then is dropped, closing it).
async fn receive(
    mut inbox: UnboundedReceiver<Migrant>,
    connections: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            m = inbox.recv() => match m {
                Some(migrant) => migrant(&connections),
                None => break,
            },
        }
    }
}

/// Serves a plain TCP connection on this worker. One the balancer moves leaves as a
/// socket, with its session, codec, open-connection count and span, for its new worker.
pub(super) async fn serve_tcp<H: Handler>(
    svc: Arc<Service<H>>,
    stream: TcpStream,
    session: Session,
    codec: Option<ServerCodec>,
    open: Open,
) {
    let (h, c, st, sh) = (&*svc.handler, &svc.cfg, &svc.stats, &svc.shutdown);
    let Some(parked) = serve_movable(stream, session, codec, h, c, st, sh).await else {
        return;
    };
    let Some(fleet) = svc.fleet.clone() else { return };
    let stream = match parked.stream.into_std() {
        Ok(stream) => stream,
        Err(e) => return debug!(error = %e, "cannot take a moving connection off its worker"),
    };
    svc.stats.placement.moved.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let span = tracing::Span::current();
    let (to, session, codec) = (parked.to, parked.session, parked.codec);
    let transit = Transit { svc, id: session.client.id, arrived: false };
    let migrant = move |tracker: &TaskTracker| {
        resume(transit, tracker, stream, session, codec, open, span);
    };
    fleet.send(to, Box::new(migrant));
}

/// A connection between workers. It stays registered for CLIENT LIST and KILL on the way;
/// if it never arrives (its worker shut down, its socket could not be taken up) the
/// registration goes with it.
struct Transit<H: Handler> {
    svc: Arc<Service<H>>,
    id: u64,
    arrived: bool,
}

impl<H: Handler> Drop for Transit<H> {
    fn drop(&mut self) {
        if !self.arrived {
            if let Some(services) = self.svc.handler.services() {
                services.clients.deregister(self.id);
            }
        }
    }
}

/// The other half of a move, on the new worker's runtime.
fn resume<H: Handler>(
    mut transit: Transit<H>,
    tracker: &TaskTracker,
    stream: std::net::TcpStream,
    session: Session,
    codec: ServerCodec,
    open: Open,
    span: tracing::Span,
) {
    match TcpStream::from_std(stream) {
        Ok(stream) => {
            transit.arrived = true;
            let serve = serve_tcp(transit.svc.clone(), stream, session, Some(codec), open);
            tracker.spawn(Box::pin(serve).instrument(span));
        }
        Err(e) => span.in_scope(|| debug!(error = %e, "cannot resume a moved connection")),
    }
}
