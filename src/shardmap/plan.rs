//! Planning shard maps: a balanced first map for a set of nodes ([`init`]), and the next
//! map after nodes join or leave with as few replica moves as possible ([`rebalance`],
//! [`add_nodes`], [`remove_nodes`]). Pure functions; `shale map` is their command line.
//!
//! *Balanced* means: the replicas of a shard are on distinct nodes, and each node holds
//! its weighted share of all replica slots rounded down or up (with equal weights, node
//! counts differ by at most one). A node can hold a shard only once, so a share above the
//! shard count is capped and the rest spread over the others.
//!
//! *Fewest moves*: the target count of each node is chosen, among the balanced ones, to be
//! as close as possible to what it holds now; then only replicas of departing nodes and the
//! surplus of nodes above their target move, each once, to nodes below it. A move replaces
//! the node at its position in the shard's list, so the order of the others is kept.

use std::collections::BTreeMap;

use super::flow::Flow;
use super::{MapError, ShardMap};

/// Shards grouped by (replica count, staying holders, sorted): interchangeable for the flow.
type Classes = BTreeMap<(usize, Vec<usize>), Vec<usize>>;

/// A node as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDef {
    /// Name (the key in `"nodes"`, and the server's `--node`).
    pub name: String,
    /// IP address or hostname.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// Relative weight, at least 1.
    pub weight: u32,
}

/// One replica moving from one node to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The shard.
    pub shard: u32,
    /// The node that no longer holds it.
    pub from: String,
    /// The node that holds it now (and must copy it).
    pub to: String,
}

/// Why no map could be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// More replicas per shard than nodes, or no nodes at all.
    #[error("{replicas} replicas per shard need at least {replicas} nodes, and there are {nodes}")]
    TooFewNodes {
        /// Nodes available.
        nodes: usize,
        /// Replicas per shard asked for.
        replicas: usize,
    },
    /// Zero shards or zero replicas.
    #[error("shards and replicas must be at least 1")]
    Empty,
    /// Two nodes of the plan have one name.
    #[error("node '{0}' is named twice")]
    DuplicateNode(String),
    /// A node to remove is not in the map.
    #[error("node '{0}' is not in the map")]
    UnknownNode(String),
    /// No balanced placement was found within the move budget (a planner bug if it
    /// happens: every input with enough nodes has one).
    #[error("no balanced placement found")]
    Unbalanced,
    /// The planned map failed validation (a bad address or port, for instance).
    #[error(transparent)]
    Map(#[from] MapError),
}

/// A balanced map of `shards` shards with `replicas` replicas each over `nodes`.
pub fn init(nodes: &[NodeDef], shards: u32, replicas: u32) -> Result<ShardMap, PlanError> {
    if shards == 0 || replicas == 0 {
        return Err(PlanError::Empty);
    }
    check_nodes(nodes, replicas as usize)?;
    let weights: Vec<u32> = nodes.iter().map(|n| n.weight).collect();
    let mut left = quotas(&weights, shards, u64::from(shards) * u64::from(replicas), &[]);
    let mut firsts = vec![0u32; nodes.len()];
    let mut lists = Vec::with_capacity(shards as usize);
    for shard in 0..shards as usize {
        // The nodes with the most slots left; ties rotate with the shard so they spread.
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by_key(|&i| {
            (std::cmp::Reverse(left[i]), (i + nodes.len() - shard % nodes.len()) % nodes.len())
        });
        let mut chosen: Vec<usize> = order[..replicas as usize].to_vec();
        // The node listed first coordinates the shard's writes (issue 15): spread that too.
        let first = (0..chosen.len()).min_by_key(|&k| firsts[chosen[k]]).unwrap_or(0);
        chosen.swap(0, first);
        firsts[chosen[0]] += 1;
        for &i in &chosen {
            left[i] -= 1;
        }
        lists.push(chosen.iter().map(|&i| nodes[i].name.clone()).collect());
    }
    build(nodes, shards, &lists)
}

/// The next map of `map` over exactly `nodes` (new ones added, missing ones removed, the
/// rest keeping their shards where balance allows), and the moves that lead there. Each
/// shard keeps its replica count.
pub fn rebalance(map: &ShardMap, nodes: &[NodeDef]) -> Result<(ShardMap, Vec<Move>), PlanError> {
    let lists: Vec<Vec<String>> =
        (1..=map.num_shards()).map(|s| map.replicas(s).to_vec()).collect();
    let most = lists.iter().map(Vec::len).max().unwrap_or(0);
    check_nodes(nodes, most.max(1))?;
    let index: BTreeMap<&str, usize> =
        nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
    // Shards with the same replica count and the same staying holders are interchangeable:
    // the flow works on these classes, so its size does not grow with the shard count.
    let mut classes: Classes = BTreeMap::new();
    for (s, list) in lists.iter().enumerate() {
        let mut holders: Vec<usize> =
            list.iter().filter_map(|n| index.get(n.as_str()).copied()).collect();
        holders.sort_unstable();
        classes.entry((list.len(), holders)).or_default().push(s);
    }
    let slots: u64 = lists.iter().map(|l| l.len() as u64).sum();
    let weights: Vec<u32> = nodes.iter().map(|n| n.weight).collect();
    let shares = Shares::of(&weights, map.num_shards(), slots);
    let taken = assign(&classes, &shares, slots)?;
    let mut next = lists.clone();
    let mut moves = Vec::new();
    for (((replicas, holders), shards), take) in classes.iter().zip(taken) {
        let sets = spread(&take, shards.len(), *replicas, holders);
        for (&s, set) in shards.iter().zip(sets) {
            moves.extend(place(s, &mut next[s], &set, nodes, &index));
        }
    }
    Ok((build(nodes, map.num_shards(), &next)?, moves))
}

/// How many shards of each class each node takes: a min-cost flow where a shard kept by a
/// node that holds it costs -1, each node gets its floor share plus at most one leftover
/// unit, and every replica slot is placed. Returns, per class in order, the count per node.
fn assign(classes: &Classes, shares: &Shares, slots: u64) -> Result<Vec<Vec<i64>>, PlanError> {
    let n = shares.floor.len();
    let (src, first_node, hub) = (0, 1 + classes.len(), 1 + classes.len() + n);
    let sink = hub + 1;
    let mut g = Flow::new(sink + 1);
    let mut edges = Vec::with_capacity(classes.len());
    for (c, ((replicas, holders), shards)) in classes.iter().enumerate() {
        let size = shards.len() as i64;
        g.edge(src, 1 + c, size * *replicas as i64, 0);
        let to_nodes: Vec<usize> = (0..n)
            .map(|i| g.edge(1 + c, first_node + i, size, -i64::from(holders.contains(&i))))
            .collect();
        edges.push(to_nodes);
    }
    for i in 0..n {
        g.edge(first_node + i, sink, i64::from(shares.floor[i]), 0);
        if shares.fractional[i] {
            g.edge(first_node + i, hub, 1, 0);
        }
    }
    g.edge(hub, sink, shares.extra as i64, 0);
    let (flow, _) = g.run(src, sink);
    if flow as u64 != slots {
        return Err(PlanError::Unbalanced);
    }
    Ok(edges.iter().map(|e| e.iter().map(|&id| g.flow_on(id)).collect()).collect())
}

/// Splits a class's per-node counts (`take[i]`, each at most `shards`) into one set of
/// `replicas` distinct nodes per shard: the nodes with the most left first, holders first
/// on ties (they keep the shard in place, whichever shard it is).
fn spread(take: &[i64], shards: usize, replicas: usize, holders: &[usize]) -> Vec<Vec<usize>> {
    let mut left = take.to_vec();
    (0..shards)
        .map(|_| {
            let mut order: Vec<usize> = (0..left.len()).filter(|&i| left[i] > 0).collect();
            order.sort_by_key(|&i| (std::cmp::Reverse(left[i]), !holders.contains(&i), i));
            order.truncate(replicas);
            order.iter().for_each(|&i| left[i] -= 1);
            order
        })
        .collect()
}

/// Makes `list` (shard `s`, 0-based) hold exactly the nodes `set`: nodes in both keep their
/// position; each position of a node leaving the shard goes to a node joining it.
fn place(
    s: usize,
    list: &mut [String],
    set: &[usize],
    nodes: &[NodeDef],
    index: &BTreeMap<&str, usize>,
) -> Vec<Move> {
    let stays = |name: &String| index.get(name.as_str()).is_some_and(|i| set.contains(i));
    let joining: Vec<usize> =
        set.iter().copied().filter(|&i| !list.contains(&nodes[i].name)).collect();
    let mut joining = joining.into_iter();
    let mut moves = Vec::new();
    for slot in list.iter_mut() {
        if stays(slot) {
            continue;
        }
        let Some(to) = joining.next() else { break };
        let from = std::mem::replace(slot, nodes[to].name.clone());
        moves.push(Move { shard: s as u32 + 1, from, to: nodes[to].name.clone() });
    }
    moves
}

/// [`rebalance`] with `added` joining the map's nodes.
pub fn add_nodes(map: &ShardMap, added: &[NodeDef]) -> Result<(ShardMap, Vec<Move>), PlanError> {
    let mut nodes = defs_of(map);
    nodes.extend(added.iter().cloned());
    rebalance(map, &nodes)
}

/// Removing the nodes named `removed` takes two maps. While any of them still holds a
/// replica, the next map is [`rebalance`] without them but keeps them in `"nodes"` with no
/// shards: a departing node must stay reachable so the replicas taking over can copy from
/// it (and routers refuse a map that drops a node still holding shards). Once none of them
/// holds a replica, the next map drops them, with no moves.
pub fn remove_nodes(map: &ShardMap, removed: &[&str]) -> Result<(ShardMap, Vec<Move>), PlanError> {
    if let Some(missing) = removed.iter().find(|n| map.node(n).is_none()) {
        return Err(PlanError::UnknownNode((*missing).to_owned()));
    }
    let all = defs_of(map);
    let gone = |n: &NodeDef| removed.contains(&n.name.as_str());
    let staying: Vec<NodeDef> = all.iter().filter(|n| !gone(n)).cloned().collect();
    let lists = |m: &ShardMap| -> Vec<Vec<String>> {
        (1..=m.num_shards()).map(|s| m.replicas(s).to_vec()).collect()
    };
    let holding = lists(map).iter().flatten().any(|n| removed.contains(&n.as_str()));
    if !holding {
        return Ok((build(&staying, map.num_shards(), &lists(map))?, Vec::new()));
    }
    let (next, moves) = rebalance(map, &staying)?;
    Ok((build(&all, map.num_shards(), &lists(&next))?, moves))
}

/// Whether `name` holds no replica in `map` (a node `remove_nodes` has emptied).
pub fn holds_nothing(map: &ShardMap, name: &str) -> bool {
    (1..=map.num_shards()).all(|s| !map.replicas(s).iter().any(|n| n == name))
}

/// The nodes of `map` as planner input.
pub fn defs_of(map: &ShardMap) -> Vec<NodeDef> {
    map.nodes()
        .map(|n| NodeDef {
            name: n.name.clone(),
            address: n.address.clone(),
            port: n.port,
            weight: n.weight,
        })
        .collect()
}

/// Each node's weighted share of the replica slots, capped at one replica per shard.
struct Shares {
    /// The share rounded down.
    floor: Vec<u32>,
    /// Whether the share has a fractional part (so the node may take one unit more).
    fractional: Vec<bool>,
    /// The fractional part, as a numerator.
    remainder: Vec<u128>,
    /// Units left over by rounding down, for as many fractional nodes.
    extra: usize,
}

impl Shares {
    fn of(weights: &[u32], shards: u32, slots: u64) -> Self {
        let n = weights.len();
        let mut capped = vec![false; n];
        // Capping one node raises the others' shares, which may cap more: at most n rounds.
        let (rest, weight) = loop {
            let rest = slots - u64::from(shards) * capped.iter().filter(|&&c| c).count() as u64;
            let weight: u64 = (0..n).filter(|&i| !capped[i]).map(|i| u64::from(weights[i])).sum();
            let over = (0..n).find(|&i| {
                !capped[i]
                    && u128::from(rest) * u128::from(weights[i])
                        > u128::from(shards) * u128::from(weight)
            });
            match over {
                Some(i) => capped[i] = true,
                None => break (u128::from(rest), u128::from(weight.max(1))),
            }
        };
        let share = |i: usize| if capped[i] { 0 } else { rest * u128::from(weights[i]) };
        // At most `shards` (not capped), so it fits in u32.
        let floor: Vec<u32> =
            (0..n).map(|i| if capped[i] { shards } else { (share(i) / weight) as u32 }).collect();
        let remainder: Vec<u128> = (0..n).map(|i| share(i) % weight).collect();
        let given: u64 = floor.iter().map(|&q| u64::from(q)).sum();
        let fractional = remainder.iter().map(|&r| r != 0).collect();
        Self { floor, fractional, remainder, extra: (slots - given) as usize }
    }

    /// Fractional nodes in the order they get the leftover units: those holding most above
    /// their floor now (`held`, may be empty) first, then larger remainders.
    fn order(&self, held: &[u32]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.floor.len()).filter(|&i| self.fractional[i]).collect();
        let above =
            |i: usize| i64::from(held.get(i).copied().unwrap_or(0)) - i64::from(self.floor[i]);
        order.sort_by_key(|&i| {
            (std::cmp::Reverse(above(i)), std::cmp::Reverse(self.remainder[i]), i)
        });
        order
    }
}

/// How many replica slots each node should hold out of `slots`: its weighted share, capped
/// at `shards`, rounded down or up so they add up to `slots`. The units left after rounding
/// down go to nodes that hold more now (`held`, may be empty), then to larger remainders.
pub fn quotas(weights: &[u32], shards: u32, slots: u64, held: &[u32]) -> Vec<u32> {
    let shares = Shares::of(weights, shards, slots);
    let mut quota = shares.floor.clone();
    for i in shares.order(held).into_iter().take(shares.extra) {
        quota[i] += 1;
    }
    quota
}

fn check_nodes(nodes: &[NodeDef], replicas: usize) -> Result<(), PlanError> {
    if nodes.len() < replicas || nodes.is_empty() {
        return Err(PlanError::TooFewNodes { nodes: nodes.len(), replicas });
    }
    let mut seen = std::collections::BTreeSet::new();
    match nodes.iter().find(|n| !seen.insert(n.name.as_str())) {
        Some(dup) => Err(PlanError::DuplicateNode(dup.name.clone())),
        None => Ok(()),
    }
}

fn build(nodes: &[NodeDef], shards: u32, lists: &[Vec<String>]) -> Result<ShardMap, PlanError> {
    let mut b = ShardMap::builder(shards);
    for n in nodes {
        b = b.node(&n.name, &n.address, n.port).weight(n.weight);
    }
    for (s, list) in lists.iter().enumerate() {
        let names: Vec<&str> = list.iter().map(String::as_str).collect();
        b = b.shard(s as u32 + 1, &names);
    }
    Ok(b.build()?)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
