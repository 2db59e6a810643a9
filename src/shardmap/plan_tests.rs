//! Properties of the planner: balance, distinct replicas and fewest moves, on random node
//! sets, shard counts and replica counts (proptest), plus a few worked examples.

use proptest::prelude::*;

use super::*;

fn nodes(n: usize, weights: &[u32]) -> Vec<NodeDef> {
    (0..n)
        .map(|i| NodeDef {
            name: format!("n{i:02}"),
            address: format!("shale-{i}.shale-nodes"),
            port: 7379,
            weight: weights.get(i).copied().unwrap_or(1),
        })
        .collect()
}

fn counts(map: &ShardMap) -> Vec<u32> {
    map.nodes().map(|n| map.shards_of(&n.name).len() as u32).collect()
}

/// Every shard has `replicas` replicas, each on a different known node.
fn assert_well_formed(map: &ShardMap, replicas: usize) {
    for s in 1..=map.num_shards() {
        let list = map.replicas(s);
        assert_eq!(list.len(), replicas, "shard {s}");
        let mut distinct = list.to_vec();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), list.len(), "shard {s} has a node twice: {list:?}");
    }
}

fn assert_even(map: &ShardMap) {
    let c = counts(map);
    let (min, max) = (c.iter().min().unwrap(), c.iter().max().unwrap());
    assert!(max - min <= 1, "counts {c:?}");
}

/// The fewest moves any balanced map over `stay` (equal weights) needs from `before`,
/// computed independently of the planner as a min-cost flow: each shard sends its replica
/// count to distinct nodes (an edge costs -1 where the node already holds the shard), each
/// node takes floor(slots / n) plus at most one of the slots % n leftover units. The most
/// replicas kept in place is minus the cost; every other replica moves once.
fn fewest_moves(before: &ShardMap, stay: &[String], slots: u64) -> usize {
    let (shards, n) = (before.num_shards() as usize, stay.len());
    let (floor, extra) = ((slots / n as u64) as i64, (slots % n as u64) as i64);
    // Vertices: source, shards, nodes, the leftover hub, sink.
    let (src, hub, sink) = (0, 1 + shards + n, 2 + shards + n);
    let mut g = Flow::new(sink + 1);
    for s in 0..shards {
        let list = before.replicas(s as u32 + 1);
        g.edge(src, 1 + s, list.len() as i64, 0);
        for (i, name) in stay.iter().enumerate() {
            g.edge(1 + s, 1 + shards + i, 1, -i64::from(list.contains(name)));
        }
    }
    for i in 0..n {
        g.edge(1 + shards + i, sink, floor, 0);
        g.edge(1 + shards + i, hub, 1, 0);
    }
    g.edge(hub, sink, extra, 0);
    let (flow, cost) = g.min_cost_flow(src, sink);
    assert_eq!(flow as u64, slots, "a balanced placement exists");
    (slots as i64 + cost) as usize
}

/// Successive shortest paths with Bellman-Ford: small graphs only.
struct Flow {
    to: Vec<usize>,
    cap: Vec<i64>,
    cost: Vec<i64>,
    out: Vec<Vec<usize>>,
}

impl Flow {
    fn new(n: usize) -> Self {
        Self { to: vec![], cap: vec![], cost: vec![], out: vec![vec![]; n] }
    }

    fn edge(&mut self, a: usize, b: usize, cap: i64, cost: i64) {
        for (x, y, c, k) in [(a, b, cap, cost), (b, a, 0, -cost)] {
            self.out[x].push(self.to.len());
            self.to.push(y);
            self.cap.push(c);
            self.cost.push(k);
        }
    }

    fn min_cost_flow(&mut self, src: usize, sink: usize) -> (i64, i64) {
        let (mut flow, mut total) = (0, 0);
        loop {
            let mut dist = vec![i64::MAX; self.out.len()];
            let mut via = vec![usize::MAX; self.out.len()];
            dist[src] = 0;
            for _ in 0..self.out.len() {
                let mut changed = false;
                for v in 0..self.out.len() {
                    if dist[v] == i64::MAX {
                        continue;
                    }
                    for &e in &self.out[v] {
                        if self.cap[e] > 0 && dist[v] + self.cost[e] < dist[self.to[e]] {
                            dist[self.to[e]] = dist[v] + self.cost[e];
                            via[self.to[e]] = e;
                            changed = true;
                        }
                    }
                }
                if !changed {
                    break;
                }
            }
            if dist[sink] == i64::MAX {
                return (flow, total);
            }
            let mut push = i64::MAX;
            let mut v = sink;
            while v != src {
                push = push.min(self.cap[via[v]]);
                v = self.to[via[v] ^ 1];
            }
            let mut v = sink;
            while v != src {
                self.cap[via[v]] -= push;
                self.cap[via[v] ^ 1] += push;
                v = self.to[via[v] ^ 1];
            }
            flow += push;
            total += push * dist[sink];
        }
    }
}

/// `after` differs from `before` exactly by `moves`, each replacing one entry in place.
fn assert_moves_explain(before: &ShardMap, after: &ShardMap, moves: &[Move]) {
    let mut changed = 0;
    for s in 1..=before.num_shards() {
        let (b, a) = (before.replicas(s), after.replicas(s));
        for (x, y) in b.iter().zip(a) {
            if x != y {
                changed += 1;
                assert!(
                    moves.iter().any(|m| m.shard == s && &m.from == x && &m.to == y),
                    "shard {s}: {x} -> {y}"
                );
            }
        }
    }
    assert_eq!(changed, moves.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn init_is_balanced_and_distinct(n in 1usize..12, shards in 1u32..200, r in 1u32..4) {
        let r = r.min(n as u32);
        let map = init(&nodes(n, &[]), shards, r).unwrap();
        assert_well_formed(&map, r as usize);
        assert_even(&map);
    }

    #[test]
    fn init_follows_weights(weights in prop::collection::vec(1u32..5, 2..8), shards in 8u32..200, r in 1u32..3) {
        let r = r.min(weights.len() as u32);
        let map = init(&nodes(weights.len(), &weights), shards, r).unwrap();
        assert_well_formed(&map, r as usize);
        let total = u64::from(shards) * u64::from(r);
        let w: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let capped = weights.iter().any(|&wi| total * u64::from(wi) > u64::from(shards) * w);
        for (c, &wi) in counts(&map).iter().zip(&weights) {
            prop_assert!(*c <= shards);
            if !capped {
                // |count - total * w_i / W| < 1
                let diff = (i128::from(*c) * i128::from(w) - i128::from(total) * i128::from(wi)).abs();
                prop_assert!(diff < i128::from(w), "count {c} weight {wi} of {weights:?}");
            }
        }
    }

    #[test]
    fn add_node_moves_the_fewest_replicas(n in 1usize..9, add in 1usize..3, shards in 1u32..40, r in 1u32..4) {
        let r = r.min(n as u32);
        let all = nodes(n + add, &[]);
        let before = init(&all[..n], shards, r).unwrap();
        let (after, moves) = add_nodes(&before, &all[n..]).unwrap();
        assert_well_formed(&after, r as usize);
        assert_even(&after);
        assert_moves_explain(&before, &after, &moves);
        let names: Vec<String> = all.iter().map(|d| d.name.clone()).collect();
        prop_assert_eq!(moves.len(), fewest_moves(&before, &names, u64::from(shards) * u64::from(r)));
    }

    #[test]
    fn remove_node_moves_the_fewest_replicas(n in 2usize..9, shards in 1u32..40, r in 1u32..4, gone in 0usize..10) {
        let r = r.min(n as u32 - 1);
        let all = nodes(n, &[]);
        let before = init(&all, shards, r).unwrap();
        let gone = all[gone % n].name.clone();
        let held = !holds_nothing(&before, &gone);
        let (after, moves) = remove_nodes(&before, &[&gone]).unwrap();
        assert_well_formed(&after, r as usize);
        prop_assert_eq!(after.node(&gone).is_some(), held, "kept only while its replicas move");
        prop_assert!(holds_nothing(&after, &gone));
        assert_moves_explain(&before, &after, &moves);
        let stay: Vec<String> = all.iter().map(|d| d.name.clone()).filter(|n| *n != gone).collect();
        prop_assert_eq!(moves.len(), fewest_moves(&before, &stay, u64::from(shards) * u64::from(r)));
        if !held {
            return Ok(());
        }
        let (last, none) = remove_nodes(&after, &[&gone]).unwrap();
        prop_assert!(none.is_empty());
        prop_assert!(last.node(&gone).is_none());
        assert_even(&last);
        prop_assert!(before.change_problems(&after).is_empty());
        prop_assert!(after.change_problems(&last).is_empty());
    }
}

#[test]
fn three_nodes_two_replicas() {
    let map = init(&nodes(3, &[]), 6, 2).unwrap();
    assert_eq!(counts(&map), [4, 4, 4]);
    let firsts: Vec<&str> = (1..=6).map(|s| map.replicas(s)[0].as_str()).collect();
    for n in ["n00", "n01", "n02"] {
        assert_eq!(
            firsts.iter().filter(|f| **f == n).count(),
            2,
            "{n} leads two shards: {firsts:?}"
        );
    }
}

#[test]
fn adding_a_fourth_node_moves_a_quarter() {
    let all = nodes(4, &[]);
    let before = init(&all[..3], 16, 2).unwrap();
    let (after, moves) = add_nodes(&before, &all[3..]).unwrap();
    assert_eq!(moves.len(), 8, "32 slots over 4 nodes: the new one takes 8");
    assert!(moves.iter().all(|m| m.to == "n03"));
    assert_eq!(counts(&after), [8, 8, 8, 8]);
}

#[test]
fn refusals_say_why() {
    let three = nodes(3, &[]);
    let map = init(&three, 4, 2).unwrap();
    assert!(matches!(init(&three, 4, 4), Err(PlanError::TooFewNodes { nodes: 3, replicas: 4 })));
    assert!(matches!(init(&three, 0, 1), Err(PlanError::Empty)));
    assert!(matches!(remove_nodes(&map, &["zz"]), Err(PlanError::UnknownNode(_))));
    assert!(matches!(add_nodes(&map, &three[..1]), Err(PlanError::DuplicateNode(_))));
    let err = remove_nodes(&map, &["n00", "n01"]).unwrap_err();
    assert_eq!(err.to_string(), "2 replicas per shard need at least 2 nodes, and there are 1");
}

#[test]
fn quotas_cap_heavy_nodes_at_one_replica_per_shard() {
    // 10 shards x 2 replicas; weight 8 would want 16 slots but can hold only 10.
    assert_eq!(quotas(&[8, 1, 1], 10, 20, &[]), [10, 5, 5]);
    assert_eq!(quotas(&[1, 1, 1], 10, 20, &[6, 7, 7]), [6, 7, 7], "ties go where the data is");
}
