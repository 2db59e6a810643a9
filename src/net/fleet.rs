//! The worker threads of one service as the balancer sees them (`balance` decides): each
//! worker's lane (its published load, a pending order, the inbox of connections arriving
//! from other workers), the fleet's home (where connections go while it is packed), the
//! per-thread state a connection reads at its quiet moments, and [`Placement`], the
//! per-worker connection counts INFO shows.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::balance::{
    BalanceThresholds, ORDER_LIFETIME, SETTLE_PERIODS, SPREAD_HOLD_PERIODS, WorkerLoad, decide,
};
use super::cpu::MachineTimes;

/// A connection on its way to another worker: resumed there by calling it inside that
/// worker's runtime with the worker's connection tracker.
pub type Migrant = Box<dyn FnOnce(&TaskTracker) + Send>;

/// One worker's corner of the fleet.
struct Lane {
    /// Its share of a core over its last period, and what it would have used, in
    /// millionths; its connections active in the period.
    share: AtomicU32,
    demand: AtomicU32,
    active: AtomicU64,
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
    thresholds: BalanceThresholds,
}

/// [`Fleet`]'s `home` when the fleet is spread out.
const NO_HOME: usize = usize::MAX;

/// What worker 0 keeps between decisions.
pub struct Balancer {
    machine: Option<MachineTimes>,
    settle: u32,
    hold: u32,
}

/// A worker's load over one period, as it measured it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    pub share: f64,
    pub demand: f64,
}

impl Fleet {
    /// A fleet of `workers` workers and the inbox each must drain, or `None` where the
    /// kernel does not report CPU time (loads could not be measured, so connections stay
    /// where they are accepted, as without balancing).
    pub fn new(
        workers: usize,
        thresholds: BalanceThresholds,
    ) -> Option<(Self, Vec<mpsc::UnboundedReceiver<Migrant>>)> {
        super::cpu::thread_times()?;
        MachineTimes::now()?;
        let (lanes, inboxes) = (0..workers)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                let (share, demand) = (AtomicU32::new(0), AtomicU32::new(0));
                let (active, order) = (AtomicU64::new(0), AtomicU64::new(0));
                (Lane { share, demand, active, order, inbox: tx }, rx)
            })
            .unzip::<_, _, Vec<_>, Vec<_>>();
        Some((Self { lanes: lanes.into(), home: AtomicUsize::new(0), thresholds }, inboxes))
    }

    /// Hands a connection to worker `to`; `false` if that worker is gone (shutting down),
    /// in which case the connection is dropped with the migrant.
    pub fn send(&self, to: usize, migrant: Migrant) -> bool {
        self.lanes.get(to).is_some_and(|l| l.inbox.send(migrant).is_ok())
    }

    /// Worker `me`'s frequent work (each timer tick, and before it resumes a connection
    /// that arrived): take up an order meant for it, and learn where home is.
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

    /// Worker `me`'s periodic work: publish its load and the connections active on it
    /// since the last time and, on worker 0, decide.
    pub fn publish(&self, me: usize, load: Measured, bal: &mut Balancer) {
        let active = ACTIVE.with(|a| a.replace(0));
        PERIOD.with(|p| p.set(p.get().wrapping_add(1)));
        if let Some(lane) = self.lanes.get(me) {
            let millionths = |x: f64| (x.clamp(0.0, 4.0) * 1e6) as u32;
            lane.share.store(millionths(load.share), Ordering::Relaxed);
            lane.demand.store(millionths(load.demand), Ordering::Relaxed);
            lane.active.store(active, Ordering::Relaxed);
        }
        if me == 0 {
            self.decide(bal);
        }
    }

    fn decide(&self, bal: &mut Balancer) {
        let now = MachineTimes::now();
        let idle = match (now, bal.machine) {
            (Some(now), Some(then)) => now.idle_cores_since(&then),
            _ => None,
        };
        bal.machine = now;
        bal.hold = bal.hold.saturating_sub(1);
        if bal.settle > 0 {
            bal.settle -= 1;
            return;
        }
        let Some(idle) = idle else { return };
        let loads: Vec<WorkerLoad> = self
            .lanes
            .iter()
            .map(|l| WorkerLoad {
                share: f64::from(l.share.load(Ordering::Relaxed)) / 1e6,
                demand: f64::from(l.demand.load(Ordering::Relaxed)) / 1e6,
                active: l.active.load(Ordering::Relaxed),
            })
            .collect();
        let orders = decide(&loads, idle, bal.hold == 0, &self.thresholds);
        let active = loads.iter().filter(|w| w.active > 0).count();
        for o in &orders {
            tracing::debug!(?o, ?loads, idle, "moving connections");
            if !o.pack {
                self.home.store(NO_HOME, Ordering::Relaxed);
                bal.hold = SPREAD_HOLD_PERIODS;
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
        Self { machine: None, settle: 0, hold: 0 }
    }
}

thread_local! {
    /// This worker's standing order: connections still to send, where, until when.
    static ORDER: Cell<(u64, usize, Option<Instant>)> = const { Cell::new((0, 0, None)) };
    /// Where this worker's connections go while the fleet is packed elsewhere.
    static HOME: Cell<Option<usize>> = const { Cell::new(None) };
    /// The worker's period number, and its connections active in this period so far.
    static PERIOD: Cell<u64> = const { Cell::new(0) };
    static ACTIVE: Cell<u64> = const { Cell::new(0) };
}

fn take_order(count: u64, to: usize) {
    ORDER.with(|o| o.set((count, to, Some(Instant::now() + ORDER_LIFETIME))));
}

/// Called by a movable connection at a quiet moment after it read requests: counts it
/// active in this period (`seen` is the period it was last counted in) and says which
/// worker it should move to, if the fleet is packed into another worker or its worker
/// has an order standing (which this connection then counts against). A few
/// thread-local reads when there is nothing to do.
pub fn at_quiet_moment(seen: &mut u64) -> Option<usize> {
    let period = PERIOD.with(Cell::get);
    if *seen != period {
        *seen = period;
        ACTIVE.with(|a| a.set(a.get() + 1));
    }
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
        let counts = self.open.get();
        counts.map_or_else(Vec::new, |o| o.iter().map(|c| c.load(Ordering::Relaxed)).collect())
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
#[path = "fleet_tests.rs"]
mod tests;
