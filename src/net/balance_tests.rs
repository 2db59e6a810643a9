use super::*;

fn load(share: f64, active: u64) -> WorkerLoad {
    WorkerLoad { share, demand: share, active }
}

/// [`decide`] with the documented lines, packing allowed.
fn by_default(workers: &[WorkerLoad], idle_cores: f64) -> Vec<Order> {
    decide(workers, idle_cores, true, &BalanceThresholds::default())
}

#[test]
fn two_light_workers_on_a_machine_without_idle_cores_are_packed_into_one() {
    // The benchmark's case: the clients and the backends share the cores.
    let workers = [load(0.4, 25), load(0.38, 25)];
    assert_eq!(by_default(&workers, 0.2), vec![Order { from: 1, to: 0, count: 25, pack: true }]);
    // With idle cores, only well under one core between them.
    assert_eq!(by_default(&workers, 1.0), vec![]);
    assert_eq!(
        by_default(&[load(0.2, 3), load(0.3, 4)], 1.0),
        vec![Order { from: 1, to: 0, count: 4, pack: true }]
    );
}

#[test]
fn workers_that_would_not_fit_one_core_stay_apart() {
    assert_eq!(by_default(&[load(0.6, 10), load(0.5, 10)], 0.0), vec![]);
    assert_eq!(by_default(&[load(0.95, 10), load(0.95, 10)], 0.0), vec![], "a busy machine");
}

#[test]
fn packing_goes_from_the_highest_numbered_worker_to_the_least_busy_other() {
    let workers = [load(0.5, 5), load(0.1, 2), load(0.1, 1), load(0.0, 0)];
    assert_eq!(by_default(&workers, 0.0), vec![Order { from: 2, to: 1, count: 1, pack: true }]);
    assert_eq!(
        by_default(&[load(0.3, 4), load(0.0, 0)], 0.0),
        vec![],
        "one worker: nothing to pack"
    );
    assert_eq!(by_default(&[load(0.0, 0), load(0.0, 0)], 0.0), vec![]);
}

#[test]
fn a_worker_out_of_core_gives_half_its_connections_to_an_idle_one_when_cores_are_idle() {
    let workers = [load(0.97, 40), load(0.05, 1), load(0.0, 0)];
    assert_eq!(by_default(&workers, 1.5), vec![Order { from: 0, to: 2, count: 20, pack: false }]);
    // No idle core: spreading would only take CPU from the clients and the backends.
    // (Nor is the light one packed into it: the two would not fit one core.)
    assert_eq!(by_default(&workers, 0.1), vec![]);
    // One connection cannot be split.
    assert_eq!(by_default(&[load(0.99, 1), load(0.0, 0)], 2.0), vec![]);
    // No worker light enough to take them.
    assert_eq!(by_default(&[load(0.95, 8), load(0.5, 8)], 2.0), vec![]);
}

#[test]
fn several_workers_out_of_core_spread_at_once_as_far_as_idle_cores_go() {
    let workers = [load(0.95, 8), load(0.99, 6), load(0.0, 0), load(0.1, 1), load(0.05, 1)];
    let both = vec![
        Order { from: 1, to: 2, count: 3, pack: false },
        Order { from: 0, to: 4, count: 4, pack: false },
    ];
    assert_eq!(by_default(&workers, 3.0), both);
    assert_eq!(by_default(&workers, 0.7), both[..1], "room for one");
}

#[test]
fn a_spread_is_not_undone_by_the_next_decision() {
    // A worker at 0.95 split in two costs a little more than half each.
    let after = [load(0.52, 20), load(0.5, 20)];
    assert_eq!(by_default(&after, 1.0), vec![]);
    // And a pack leaves one worker under the spreading line, or no idle core to spread to.
    let packed = [load(0.8, 40), load(0.0, 0)];
    assert_eq!(by_default(&packed, 0.2), vec![]);
    assert_eq!(by_default(&packed, 1.2), vec![]);
}

#[test]
fn a_worker_that_waits_for_a_core_counts_what_it_would_have_used() {
    // Ran 0.6 of a core and waited 0.4: out of core, if the machine has idle ones.
    let waiting = WorkerLoad { share: 0.6, demand: 1.0, active: 10 };
    let workers = [waiting, load(0.0, 0)];
    assert_eq!(by_default(&workers, 1.0), vec![Order { from: 0, to: 1, count: 5, pack: false }]);
}

#[test]
fn nothing_is_packed_while_a_spread_holds() {
    let workers = [load(0.2, 3), load(0.1, 4)];
    assert_eq!(decide(&workers, 0.0, false, &BalanceThresholds::default()), vec![]);
    assert_eq!(by_default(&workers, 0.0).len(), 1);
}

#[test]
fn connections_that_read_nothing_are_not_counted_or_ordered_to_move() {
    // Worker 1 holds only idle (or TLS) connections: no order that could never be obeyed.
    assert_eq!(by_default(&[load(0.3, 4), load(0.0, 0)], 0.0), vec![]);
}

#[test]
fn a_worker_giving_connections_away_never_takes_any() {
    // Lines that let every worker spread and take: the two must not swap.
    let th = BalanceThresholds {
        spread_share_min: 0.0,
        spread_idle_cores_min: 0.0,
        spread_target_share_max: 4.0,
        ..BalanceThresholds::default()
    };
    assert_eq!(decide(&[load(0.5, 4), load(0.1, 4)], 0.0, false, &th), vec![]);
    let one = decide(&[load(0.5, 4), load(0.0, 0)], 0.0, true, &th);
    assert_eq!(one, vec![Order { from: 0, to: 1, count: 2, pack: false }]);
}
