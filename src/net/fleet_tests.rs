use std::time::Duration;

use super::*;

#[test]
fn an_order_is_taken_once_per_connection_and_lapses() {
    assert_eq!(moves(), None);
    take_order(2, 1);
    assert_eq!(moves(), Some(1));
    assert_eq!(moves(), Some(1));
    assert_eq!(moves(), None);
    ORDER.with(|o| o.set((5, 1, Some(Instant::now() - Duration::from_millis(1)))));
    assert_eq!(moves(), None, "lapsed");
    assert_eq!(moves(), None);
}

#[test]
fn the_fleet_starts_packed_into_worker_zero_and_unpacks_on_a_spread() {
    let (fleet, _inboxes) = Fleet::new(2, BalanceThresholds::default()).unwrap();
    std::thread::spawn(move || {
        fleet.pick_up(1);
        assert_eq!(moves(), Some(0), "worker 1's connections go home");
        fleet.pick_up(0);
        assert_eq!(moves(), None, "worker 0 is home");
        fleet.home.store(NO_HOME, Ordering::Relaxed);
        fleet.pick_up(1);
        assert_eq!(moves(), None);
    })
    .join()
    .unwrap();
}

#[test]
fn the_fleet_passes_worker_zeros_decision_to_the_worker_that_must_move() {
    let (fleet, _inboxes) = Fleet::new(2, BalanceThresholds::default()).unwrap();
    let fleet = std::sync::Arc::new(fleet);
    fleet.home.store(NO_HOME, Ordering::Relaxed);
    let mut bal = Balancer::new();
    // The first decision has no machine times to compare with yet.
    let light = Measured { share: 0.1, demand: 0.1 };
    std::thread::spawn({
        let fleet = fleet.clone();
        move || {
            ACTIVE.with(|a| a.set(4));
            fleet.publish(1, light, &mut Balancer::new());
        }
    })
    .join()
    .unwrap();
    ACTIVE.with(|a| a.set(3));
    fleet.publish(0, light, &mut bal);
    assert_eq!(fleet.lanes[1].order.load(Ordering::Relaxed), 0);
    bal.machine = bal.machine.map(|m| MachineTimes { total: 0, idle: 0, ..m });
    ACTIVE.with(|a| a.set(3));
    fleet.publish(0, light, &mut bal);
    assert_eq!(fleet.lanes[1].order.load(Ordering::Relaxed), 4 << 16);
    assert_eq!(bal.settle, SETTLE_PERIODS);
    assert_eq!(fleet.home.load(Ordering::Relaxed), 0, "packed into 0: home again");
    std::thread::spawn(move || {
        fleet.pick_up(1);
        assert_eq!(fleet.lanes[1].order.load(Ordering::Relaxed), 0, "taken up");
        // Home comes first; with no home, the order is counted down.
        fleet.home.store(NO_HOME, Ordering::Relaxed);
        fleet.pick_up(1);
        assert_eq!((0..5).filter_map(|_| moves()).collect::<Vec<_>>(), [0, 0, 0, 0]);
    })
    .join()
    .unwrap();
}

#[test]
fn placement_counts_connections_on_workers_only() {
    let p = Placement::default();
    p.init(2);
    let off = p.enter();
    assert_eq!(p.open_by_worker(), [0, 0], "not on a worker thread");
    drop(off);
    assert_eq!(Placement::default().open_by_worker(), Vec::<u64>::new());
}

/// A connection at a quiet moment, counted in a period of its own.
fn moves() -> Option<usize> {
    at_quiet_moment(&mut u64::MAX.clone())
}

#[test]
fn a_connection_counts_active_once_per_period() {
    let mut seen = u64::MAX;
    ACTIVE.with(|a| a.set(0));
    for _ in 0..3 {
        at_quiet_moment(&mut seen);
    }
    assert_eq!(ACTIVE.with(Cell::get), 1);
    PERIOD.with(|p| p.set(p.get() + 1));
    at_quiet_moment(&mut seen);
    assert_eq!(ACTIVE.with(Cell::get), 2);
}
