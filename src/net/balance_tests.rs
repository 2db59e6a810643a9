use super::*;

fn load(share: f64, connections: u64) -> WorkerLoad {
    WorkerLoad { share, connections }
}

#[test]
fn two_half_busy_workers_on_a_machine_without_idle_cores_are_packed_into_one() {
    // The benchmark's case: the clients and the backends share the cores.
    let workers = [load(0.44, 25), load(0.43, 25)];
    assert_eq!(decide(&workers, 0.2), vec![Order { from: 1, to: 0, count: 25, pack: true }]);
    // With idle cores, only well under one core between them.
    assert_eq!(decide(&workers, 1.0), vec![]);
    assert_eq!(
        decide(&[load(0.2, 3), load(0.3, 4)], 1.0),
        vec![Order { from: 1, to: 0, count: 4, pack: true }]
    );
}

#[test]
fn workers_that_would_not_fit_one_core_stay_apart() {
    assert_eq!(decide(&[load(0.6, 10), load(0.5, 10)], 0.0), vec![]);
    assert_eq!(decide(&[load(0.95, 10), load(0.95, 10)], 0.0), vec![], "a busy machine");
}

#[test]
fn packing_goes_from_the_highest_numbered_worker_to_the_least_busy_other() {
    let workers = [load(0.5, 5), load(0.1, 2), load(0.1, 1), load(0.0, 0)];
    assert_eq!(decide(&workers, 0.0), vec![Order { from: 2, to: 1, count: 1, pack: true }]);
    assert_eq!(decide(&[load(0.3, 4), load(0.0, 0)], 0.0), vec![], "one worker: nothing to pack");
    assert_eq!(decide(&[load(0.0, 0), load(0.0, 0)], 0.0), vec![]);
}

#[test]
fn a_worker_out_of_core_gives_half_its_connections_to_an_idle_one_when_cores_are_idle() {
    let workers = [load(0.97, 40), load(0.05, 1), load(0.0, 0)];
    assert_eq!(decide(&workers, 1.5), vec![Order { from: 0, to: 2, count: 20, pack: false }]);
    // No idle core: spreading would only take CPU from the clients and the backends.
    // (Nor is the light one packed into it: the two would not fit one core.)
    assert_eq!(decide(&workers, 0.1), vec![]);
    // One connection cannot be split.
    assert_eq!(decide(&[load(0.99, 1), load(0.0, 0)], 2.0), vec![]);
    // No worker light enough to take them.
    assert_eq!(decide(&[load(0.95, 8), load(0.5, 8)], 2.0), vec![]);
}

#[test]
fn several_workers_out_of_core_spread_at_once_as_far_as_idle_cores_go() {
    let workers = [load(0.95, 8), load(0.99, 6), load(0.0, 0), load(0.1, 1), load(0.05, 1)];
    let both = vec![
        Order { from: 1, to: 2, count: 3, pack: false },
        Order { from: 0, to: 4, count: 4, pack: false },
    ];
    assert_eq!(decide(&workers, 3.0), both);
    assert_eq!(decide(&workers, 0.7), both[..1], "room for one");
}

#[test]
fn a_spread_is_not_undone_by_the_next_decision() {
    // A worker at 0.95 split in two costs a little more than half each.
    let after = [load(0.52, 20), load(0.5, 20)];
    assert_eq!(decide(&after, 1.0), vec![]);
    // And a pack leaves one worker under the spreading line, or no idle core to spread to.
    let packed = [load(0.8, 40), load(0.0, 0)];
    assert_eq!(decide(&packed, 0.2), vec![]);
    assert_eq!(decide(&packed, 1.2), vec![]);
}

#[test]
fn an_order_is_taken_once_per_connection_and_lapses() {
    assert_eq!(take_move(), None);
    take_order(2, 1);
    assert_eq!(take_move(), Some(1));
    assert_eq!(take_move(), Some(1));
    assert_eq!(take_move(), None);
    ORDER.with(|o| o.set((5, 1, Some(Instant::now() - Duration::from_millis(1)))));
    assert_eq!(take_move(), None, "lapsed");
    assert_eq!(take_move(), None);
}

#[test]
fn the_fleet_starts_packed_into_worker_zero_and_unpacks_on_a_spread() {
    let (fleet, _inboxes) = Fleet::new(2);
    std::thread::spawn(move || {
        fleet.pick_up(1);
        assert_eq!(take_move(), Some(0), "worker 1's connections go home");
        fleet.pick_up(0);
        assert_eq!(take_move(), None, "worker 0 is home");
        fleet.home.store(NO_HOME, Ordering::Relaxed);
        fleet.pick_up(1);
        assert_eq!(take_move(), None);
    })
    .join()
    .unwrap();
}

#[test]
fn the_fleet_passes_worker_zeros_decision_to_the_worker_that_must_move() {
    let (fleet, _inboxes) = Fleet::new(2);
    fleet.home.store(NO_HOME, Ordering::Relaxed);
    let mut bal = Balancer::new();
    // The first decision has no machine times to compare with yet.
    fleet.publish(1, Some(0.1), &mut Balancer::new(), &[3, 4]);
    fleet.publish(0, Some(0.1), &mut bal, &[3, 4]);
    assert_eq!(fleet.lanes[1].order.load(Ordering::Relaxed), 0);
    bal.machine = bal.machine.map(|m| MachineTimes { total: 0, idle: 0, ..m });
    fleet.publish(0, Some(0.1), &mut bal, &[3, 4]);
    assert_eq!(fleet.lanes[1].order.load(Ordering::Relaxed), 4 << 16);
    assert_eq!(bal.settle, SETTLE_PERIODS);
    assert_eq!(fleet.home.load(Ordering::Relaxed), 0, "packed into 0: home again");
    std::thread::spawn(move || {
        fleet.pick_up(1);
        assert_eq!(fleet.lanes[1].order.load(Ordering::Relaxed), 0, "taken up");
        // Home comes first; with no home, the order is counted down.
        fleet.home.store(NO_HOME, Ordering::Relaxed);
        fleet.pick_up(1);
        assert_eq!((0..5).filter_map(|_| take_move()).collect::<Vec<_>>(), [0, 0, 0, 0]);
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
