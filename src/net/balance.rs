//! Moving connections between worker threads: the policy that packs a service's busy
//! connections onto fewer workers while that costs nothing, and spreads them out again when
//! a worker runs out of core and the machine has cores to spare.
//!
//! Why: a worker that sleeps and wakes for each few requests pays for the wake-up, and two
//! half-busy workers pay it twice as often as one busy worker for the same requests, and
//! batch each backend write half as well. Packing recovers one worker's cost per request
//! (bench/RESULTS.md); spreading keeps the one-worker-per-core scaling.
//!
//! How: every [`BALANCE_PERIOD`] each worker publishes the share of a core it ran (from
//! its schedstat) and worker 0 decides ([`decide`]) with the machine's idle cores (from
//! `/proc/stat`). An [`Order`] tells a worker to send some of its connections elsewhere;
//! the worker's connections read it at their next quiet moment (nothing in flight or
//! buffered, see `connection`), and each that takes a move leaves its runtime as a plain
//! socket with its session and codec, to be resumed on the other worker's
//! (`listener::serve_tcp`). Idle connections never move: they cost nothing where they are.
//!
//! Owns: the thresholds, the decision, the per-worker lanes (published load, pending
//! order, inbox of arriving connections) and the per-thread move order.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::cpu::MachineTimes;

/// How often workers publish their load and the balancer decides.
pub const BALANCE_PERIOD: Duration = Duration::from_millis(500);
/// Two workers whose shares of a core add up to at most this are packed into one, when
/// the machine has no idle core to spare (packing then frees CPU for everything else).
pub const PACK_SHARE_MAX: f64 = 1.0;
/// The same, when the machine has idle cores: packing only well below one core, so that
/// a spread (which leaves each half near [`SPREAD_SHARE_MIN`] / 2 plus the cost of two)
/// is never undone by the next decision.
pub const PACK_SHARE_MAX_WITH_IDLE: f64 = 0.6;
/// A worker using at least this share of a core is relieved of half its connections...
pub const SPREAD_SHARE_MIN: f64 = 0.9;
/// ...when the machine has at least this many cores' worth of idle time...
pub const SPREAD_IDLE_CORES_MIN: f64 = 0.5;
/// ...onto a worker using at most this share.
pub const SPREAD_TARGET_SHARE_MAX: f64 = 0.3;
/// Decisions skipped after an order, so the next one sees the loads it brought.
pub const SETTLE_PERIODS: u32 = 2;
/// How long an order stands: connections still busy elsewhere when it lapses stay put.
pub const ORDER_LIFETIME: Duration = Duration::from_millis(1000);

/// One worker as the balancer sees it over the last period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerLoad {
    /// Share of one core the worker's thread ran.
    pub share: f64,
    /// Connections it serves now.
    pub connections: u64,
}

/// Move `count` connections from worker `from` to worker `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub from: usize,
    pub to: usize,
    pub count: u64,
    /// Whether it packs (all of `from`'s connections) rather than spreads.
    pub pack: bool,
}

/// What to move, given each worker's load and the machine's idle cores. Spreading the
/// workers out of core comes first: each gives half its connections to a light worker of
/// its own, as many pairs at once as there are idle half-cores for, so a many-core router
/// spreads out in a few periods. Otherwise the highest-numbered worker with connections
/// is packed into the least busy other one, if the two fit.
pub fn decide(workers: &[WorkerLoad], idle_cores: f64) -> Vec<Order> {
    let spread = spread(workers, idle_cores);
    if spread.is_empty() { pack(workers, idle_cores).into_iter().collect() } else { spread }
}

fn spread(workers: &[WorkerLoad], idle_cores: f64) -> Vec<Order> {
    let room = (idle_cores / SPREAD_IDLE_CORES_MIN).floor() as usize;
    let by_share =
        |a: &(usize, &WorkerLoad), b: &(usize, &WorkerLoad)| a.1.share.total_cmp(&b.1.share);
    let mut from: Vec<_> = workers
        .iter()
        .enumerate()
        .filter(|(_, w)| w.connections >= 2 && w.share >= SPREAD_SHARE_MIN)
        .collect();
    from.sort_by(|a, b| by_share(b, a));
    let mut to: Vec<_> =
        workers.iter().enumerate().filter(|(_, w)| w.share <= SPREAD_TARGET_SHARE_MAX).collect();
    to.sort_by(by_share);
    from.iter()
        .zip(&to)
        .take(room)
        .map(|(&(from, w), &(to, _))| Order { from, to, count: w.connections / 2, pack: false })
        .collect()
}

fn pack(workers: &[WorkerLoad], idle_cores: f64) -> Option<Order> {
    let from = workers.iter().rposition(|w| w.connections > 0)?;
    let to = least_busy(workers, from, |w| w.connections > 0)?;
    let max =
        if idle_cores >= SPREAD_IDLE_CORES_MIN { PACK_SHARE_MAX_WITH_IDLE } else { PACK_SHARE_MAX };
    let fits = workers[from].share + workers[to].share <= max;
    fits.then_some(Order { from, to, count: workers[from].connections, pack: true })
}

/// The least busy worker other than `not` that passes `ok` (the lowest index on a tie).
fn least_busy(
    workers: &[WorkerLoad],
    not: usize,
    ok: impl Fn(&WorkerLoad) -> bool,
) -> Option<usize> {
    workers
        .iter()
        .enumerate()
        .filter(|&(i, w)| i != not && ok(w))
        .min_by(|a, b| a.1.share.total_cmp(&b.1.share))
        .map(|(i, _)| i)
}

/// A connection on its way to another worker: resumed there by calling it inside that
/// worker's runtime with the worker's connection tracker.
pub type Migrant = Box<dyn FnOnce(&TaskTracker) + Send>;

/// One worker's corner of the fleet.
struct Lane {
    /// The share of a core the worker ran over its last period, in millionths.
    share: AtomicU32,
    /// A pending order for this worker: `count << 16 | to`, 0 for none.
    order: AtomicU64,
    inbox: mpsc::UnboundedSender<Migrant>,
}

/// The workers of one service, as the balancer and moving connections see them.
pub struct Fleet {
    lanes: Box<[Lane]>,
    /// The worker every connection moves to at its first quiet moment, while the fleet is
    /// packed into it ([`NO_HOME`] once a spread has unpacked it). Worker 0 from the start:
    /// connections start packed and are spread only when a worker runs out of core.
    home: AtomicUsize,
}

/// [`Fleet`]'s `home` when the fleet is spread out.
const NO_HOME: usize = usize::MAX;

/// What worker 0 keeps between decisions.
pub struct Balancer {
    machine: Option<MachineTimes>,
    settle: u32,
}

impl Fleet {
    /// A fleet of `workers` workers and the inbox each must drain ([`Fleet::receive`]).
    pub fn new(workers: usize) -> (Self, Vec<mpsc::UnboundedReceiver<Migrant>>) {
        let (lanes, inboxes) = (0..workers)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                (Lane { share: AtomicU32::new(0), order: AtomicU64::new(0), inbox: tx }, rx)
            })
            .unzip::<_, _, Vec<_>, Vec<_>>();
        (Self { lanes: lanes.into(), home: AtomicUsize::new(0) }, inboxes)
    }

    /// Hands a connection to worker `to`; `false` if that worker is gone (shutting down),
    /// in which case the connection is dropped with the migrant.
    pub fn send(&self, to: usize, migrant: Migrant) -> bool {
        self.lanes.get(to).is_some_and(|l| l.inbox.send(migrant).is_ok())
    }

    /// Worker `me`'s frequent work (each timer tick): take up an order meant for it, and
    /// learn where home is.
    pub fn pick_up(&self, me: usize) {
        if let Some(lane) = self.lanes.get(me) {
            let order = lane.order.swap(0, Ordering::AcqRel);
            if order != 0 {
                take_order(order >> 16, (order & 0xffff) as usize);
            }
        }
        let home = self.home.load(Ordering::Relaxed);
        HOME.with(|h| h.set((home != NO_HOME && home != me).then_some(home)));
    }

    /// Worker `me`'s periodic work: publish its share and, on worker 0, decide. `open`
    /// gives each worker's open connections.
    pub fn publish(&self, me: usize, share: Option<f64>, bal: &mut Balancer, open: &[u64]) {
        if let Some(lane) = self.lanes.get(me) {
            let share = share.unwrap_or(0.0).clamp(0.0, 4.0);
            lane.share.store((share * 1e6) as u32, Ordering::Relaxed);
        }
        if me == 0 {
            self.decide(bal, open);
        }
    }

    fn decide(&self, bal: &mut Balancer, open: &[u64]) {
        let now = MachineTimes::now();
        let idle = match (now, bal.machine) {
            (Some(now), Some(then)) => now.idle_cores_since(&then),
            _ => None,
        };
        bal.machine = now;
        if bal.settle > 0 {
            bal.settle -= 1;
            return;
        }
        let Some(idle) = idle else { return };
        let loads: Vec<WorkerLoad> = self
            .lanes
            .iter()
            .enumerate()
            .map(|(i, l)| WorkerLoad {
                share: f64::from(l.share.load(Ordering::Relaxed)) / 1e6,
                connections: open.get(i).copied().unwrap_or(0),
            })
            .collect();
        let orders = decide(&loads, idle);
        let active = loads.iter().filter(|w| w.connections > 0).count();
        for o in &orders {
            tracing::debug!(?o, ?loads, idle, "moving connections");
            if !o.pack {
                self.home.store(NO_HOME, Ordering::Relaxed);
            } else if o.to == 0 && active == 2 {
                self.home.store(0, Ordering::Relaxed);
            }
            let to = o.to.min(0xffff) as u64;
            let count = o.count.min(u64::MAX >> 16);
            self.lanes[o.from].order.store(count << 16 | to, Ordering::Release);
        }
        if !orders.is_empty() {
            bal.settle = SETTLE_PERIODS;
        }
    }
}

impl Balancer {
    pub fn new() -> Self {
        Self { machine: None, settle: 0 }
    }
}

thread_local! {
    /// This worker's standing order: connections still to send, where, until when.
    static ORDER: Cell<(u64, usize, Option<Instant>)> = const { Cell::new((0, 0, None)) };
    /// Where this worker's connections go while the fleet is packed elsewhere.
    static HOME: Cell<Option<usize>> = const { Cell::new(None) };
}

fn take_order(count: u64, to: usize) {
    ORDER.with(|o| o.set((count, to, Some(Instant::now() + ORDER_LIFETIME))));
}

/// Called by a connection at a quiet moment: the worker it should move to, if the fleet
/// is packed into another worker, or its worker has an order standing (which this
/// connection then counts against). Two thread-local reads when neither.
pub fn take_move() -> Option<usize> {
    if let Some(home) = HOME.with(Cell::get) {
        return Some(home);
    }
    ORDER.with(|o| {
        let (count, to, until) = o.get();
        if count == 0 {
            return None;
        }
        if until.is_none_or(|u| Instant::now() > u) {
            o.set((0, 0, None));
            return None;
        }
        o.set((count - 1, to, until));
        Some(to)
    })
}

/// Connections open on each worker thread, and connections moved between them (INFO's
/// `worker_connections` and `connections_moved`).
#[derive(Debug, Default)]
pub struct Placement {
    open: OnceLock<Box<[AtomicU64]>>,
    /// Connections moved to another worker since start.
    pub moved: AtomicU64,
}

impl Placement {
    /// Sizes the per-worker counts (once; a service starts its workers once).
    pub(super) fn init(&self, workers: usize) {
        let _ = self.open.set((0..workers).map(|_| AtomicU64::new(0)).collect());
    }

    /// Counts a connection on the calling worker while the guard lives (nothing off the
    /// workers).
    pub(super) fn enter(&self) -> Placed<'_> {
        let slot = super::worker_index().and_then(|w| self.open.get()?.get(w));
        if let Some(s) = slot {
            s.fetch_add(1, Ordering::Relaxed);
        }
        Placed(slot)
    }

    /// Open connections by worker (empty when not serving on worker threads).
    pub fn open_by_worker(&self) -> Vec<u64> {
        self.open
            .get()
            .map_or_else(Vec::new, |o| o.iter().map(|c| c.load(Ordering::Relaxed)).collect())
    }
}

/// A connection counted on its worker.
pub(super) struct Placed<'a>(Option<&'a AtomicU64>);

impl Drop for Placed<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.0 {
            s.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
#[path = "balance_tests.rs"]
mod tests;
