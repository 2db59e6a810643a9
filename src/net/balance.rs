//! Moving connections between worker threads: the policy that packs a service's busy
//! connections onto fewer workers while that costs nothing, and spreads them out again when
//! a worker runs out of core and the machine has cores to spare.
//!
//! Why: a worker that sleeps and wakes for each few requests pays for the wake-up, and two
//! half-busy workers pay it twice as often as one busy worker for the same requests, and
//! batch each backend write half as well. Packing recovers one worker's cost per request
//! (bench/RESULTS.md); spreading keeps the one-worker-per-core scaling.
//!
//! How: every [`BALANCE_PERIOD`] each worker publishes its load (from its schedstat) and
//! worker 0 decides ([`decide`]) with the machine's idle cores (from `/proc/stat`), in
//! `fleet`. An [`Order`] tells a worker to send some of its connections elsewhere; a
//! connection reads it at its next quiet moment after a read (nothing in flight or
//! buffered, see `connection`) and leaves its runtime as a plain socket with its session
//! and codec, to be resumed on the other worker's (`migrate::serve_tcp`). Connections
//! that read nothing never move: they cost nothing where they are.
//!
//! Owns: the thresholds and the decision.

use std::time::Duration;

/// How often workers publish their load and the balancer decides.
pub const BALANCE_PERIOD: Duration = Duration::from_millis(500);
/// Two workers whose shares of a core add up to at most this are packed into one, when
/// the machine has no idle core to spare (packing then frees CPU for everything else).
/// Under [`SPREAD_SHARE_MIN`] with room, so the packed worker is not spread out again.
pub const PACK_SHARE_MAX: f64 = 0.8;
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
/// Periods after a spread in which nothing is packed: a load that needed the spread
/// keeps it, and a load at the edge changes its workers at most this often.
pub const SPREAD_HOLD_PERIODS: u32 = 20;
/// How long an order stands: connections still busy elsewhere when it lapses stay put.
pub const ORDER_LIFETIME: Duration = Duration::from_millis(1000);

/// One worker as the balancer sees it over the last period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerLoad {
    /// Share of one core the worker's thread ran (busy-polling not counted).
    pub share: f64,
    /// `share` plus the share it waited for a core: what it would have used.
    pub demand: f64,
    /// Connections that read requests in the period and could move (plain TCP): idle,
    /// TLS and MONITOR connections are not counted, as they never move.
    pub active: u64,
}

/// The policy's lines, [`Default`] from the constants above. A field of
/// [`super::NetConfig`], so a test can make a spread happen at any load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalanceThresholds {
    /// [`PACK_SHARE_MAX`].
    pub pack_share_max: f64,
    /// [`PACK_SHARE_MAX_WITH_IDLE`].
    pub pack_share_max_with_idle: f64,
    /// [`SPREAD_SHARE_MIN`].
    pub spread_share_min: f64,
    /// [`SPREAD_IDLE_CORES_MIN`]; 0 spreads as many workers as need it.
    pub spread_idle_cores_min: f64,
    /// [`SPREAD_TARGET_SHARE_MAX`].
    pub spread_target_share_max: f64,
}

impl Default for BalanceThresholds {
    fn default() -> Self {
        Self {
            pack_share_max: PACK_SHARE_MAX,
            pack_share_max_with_idle: PACK_SHARE_MAX_WITH_IDLE,
            spread_share_min: SPREAD_SHARE_MIN,
            spread_idle_cores_min: SPREAD_IDLE_CORES_MIN,
            spread_target_share_max: SPREAD_TARGET_SHARE_MAX,
        }
    }
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
/// `may_pack` is false while a recent spread holds.
pub fn decide(
    workers: &[WorkerLoad],
    idle_cores: f64,
    may_pack: bool,
    th: &BalanceThresholds,
) -> Vec<Order> {
    let spread = spread(workers, idle_cores, th);
    if !spread.is_empty() || !may_pack {
        return spread;
    }
    pack(workers, idle_cores, th).into_iter().collect()
}

fn spread(workers: &[WorkerLoad], idle_cores: f64, th: &BalanceThresholds) -> Vec<Order> {
    let room = match th.spread_idle_cores_min {
        min if min > 0.0 => (idle_cores / min).floor() as usize,
        _ => usize::MAX,
    };
    let by_share =
        |a: &(usize, &WorkerLoad), b: &(usize, &WorkerLoad)| a.1.share.total_cmp(&b.1.share);
    let mut from: Vec<_> = workers
        .iter()
        .enumerate()
        .filter(|(_, w)| w.active >= 2 && w.demand >= th.spread_share_min)
        .collect();
    from.sort_by(|a, b| b.1.demand.total_cmp(&a.1.demand));
    let giving = |i: usize| from.iter().any(|&(f, _)| f == i);
    let mut to: Vec<_> = (workers.iter().enumerate())
        .filter(|&(i, w)| w.share <= th.spread_target_share_max && !giving(i))
        .collect();
    to.sort_by(by_share);
    from.iter()
        .zip(&to)
        .take(room)
        .map(|(&(from, w), &(to, _))| Order { from, to, count: w.active / 2, pack: false })
        .collect()
}

fn pack(workers: &[WorkerLoad], idle_cores: f64, th: &BalanceThresholds) -> Option<Order> {
    let from = workers.iter().rposition(|w| w.active > 0)?;
    let to = least_busy(workers, from, |w| w.active > 0)?;
    let idle = idle_cores >= th.spread_idle_cores_min;
    let max = if idle { th.pack_share_max_with_idle } else { th.pack_share_max };
    let fits = workers[from].share + workers[to].share <= max;
    fits.then_some(Order { from, to, count: workers[from].active, pack: true })
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

#[cfg(test)]
#[path = "balance_tests.rs"]
mod tests;
