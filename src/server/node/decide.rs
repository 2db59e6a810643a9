//! What a node does next with one shard, decided from its own state and what every other
//! node of the map reported (NODE_STATUS): a pure function, so every rule of the shard
//! lifecycle (see the parent module) has a unit test of its own.

use std::time::Duration;

use crate::protocol::cluster::ShardState;

/// What one other node said about the shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// It did not answer NODE_STATUS.
    Unreachable,
    /// It answered, in this state.
    Up(ShardState),
}

impl Peer {
    fn holds_data(self) -> bool {
        matches!(self, Peer::Up(s) if s.holds_data())
    }
}

/// Everything the decision reads.
#[derive(Debug, Clone)]
pub struct View<'a> {
    /// This node's state for the shard.
    pub own: ShardState,
    /// The shard's other replicas in the map, with what they reported.
    pub replicas: &'a [(String, Peer)],
    /// Every other node of the map, with what it reported.
    pub others: &'a [(String, Peer)],
    /// Time since a round with another replica last completed (`None`: never).
    pub unsynced_for: Option<Duration>,
    /// The tombstone grace.
    pub grace: Duration,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do now.
    Keep,
    /// Not ready yet, for this reason.
    Wait(String),
    /// Brand-new shard (no node holds it, every node answered): Ready, empty.
    ReadyFresh,
    /// Pull everything from these nodes, then be Ready.
    Pull(Vec<String>),
    /// Resynchronise an isolated shard from these nodes (at least one of them in touch
    /// with the cluster): pull everything from each, then drop this node's entries from
    /// before the isolation that no source has (keys whose deletes it missed), then be
    /// Ready.
    Resync(Vec<String>),
    /// Every replica answered and none is in touch (they all lost touch, e.g. in a
    /// partition of the whole shard): be Ready again with the data held; anti-entropy
    /// merges the replicas. (A delete older than the grace may then come back: nobody is
    /// left who knows better.)
    Rejoin,
    /// Out of touch with every other replica for half the grace: become Isolated.
    Isolate,
    /// Every new replica is Ready: drop the retired data.
    Drop,
}

/// Decides the next step for one shard.
pub fn decide(v: &View<'_>) -> Action {
    match v.own {
        ShardState::NotHosted => Action::Keep,
        ShardState::Retiring => retiring(v),
        ShardState::Copying => copying(v),
        ShardState::Isolated => isolated(v),
        ShardState::Ready => match v.unsynced_for {
            Some(t) if !v.replicas.is_empty() && t > v.grace / 2 => Action::Isolate,
            _ => Action::Keep,
        },
    }
}

fn names(peers: &[(String, Peer)], pick: impl Fn(Peer) -> bool) -> Vec<String> {
    peers.iter().filter(|(_, p)| pick(*p)).map(|(n, _)| n.clone()).collect()
}

fn retiring(v: &View<'_>) -> Action {
    let not_ready = names(v.replicas, |p| p != Peer::Up(ShardState::Ready));
    if not_ready.is_empty() {
        Action::Drop
    } else {
        Action::Wait(format!("waiting for new replicas {} to be ready", not_ready.join(",")))
    }
}

/// Retiring holders among the nodes that are not replicas: the old replicas of a move.
fn retiring_holders(v: &View<'_>) -> Vec<String> {
    names(v.others, Peer::holds_data)
}

fn copying(v: &View<'_>) -> Action {
    let unreachable = names(v.replicas, |p| p == Peer::Unreachable);
    if !unreachable.is_empty() {
        return Action::Wait(format!("waiting for peer {} to answer", unreachable.join(",")));
    }
    let isolated = names(v.replicas, |p| p == Peer::Up(ShardState::Isolated));
    if !isolated.is_empty() {
        return Action::Wait(format!("waiting for peer {} to resynchronise", isolated.join(",")));
    }
    let holders = retiring_holders(v);
    let any_data = v.replicas.iter().any(|(_, p)| p.holds_data()) || !holders.is_empty();
    if any_data {
        let mut sources = names(v.replicas, |_| true);
        sources.extend(holders);
        return Action::Pull(sources);
    }
    let silent = names(v.others, |p| p == Peer::Unreachable);
    if silent.is_empty() {
        Action::ReadyFresh
    } else {
        Action::Wait(format!(
            "waiting for node {} to answer: it may hold this shard",
            silent.join(",")
        ))
    }
}

fn isolated(v: &View<'_>) -> Action {
    let mut in_touch = names(v.replicas, Peer::holds_data);
    in_touch.extend(retiring_holders(v));
    if !in_touch.is_empty() {
        // Copying replicas may hold writes only they acknowledged: pull those too.
        let mut sources = names(v.replicas, |p| p == Peer::Up(ShardState::Copying));
        sources.extend(in_touch);
        return Action::Resync(sources);
    }
    let unreachable = names(v.replicas, |p| p == Peer::Unreachable);
    // Nobody in touch answered. If everyone answered, nobody knows better; if some have
    // not answered for a whole grace, they are taken for gone.
    if unreachable.is_empty() || v.unsynced_for.is_some_and(|t| t > v.grace) {
        return Action::Rejoin;
    }
    Action::Wait(format!("isolated; waiting for peer {} to answer", unreachable.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ShardState::{Copying, Isolated, NotHosted, Ready, Retiring};

    const GRACE: Duration = Duration::from_secs(100);

    fn p(name: &str, peer: Peer) -> (String, Peer) {
        (name.to_owned(), peer)
    }

    fn view<'a>(
        own: ShardState,
        replicas: &'a [(String, Peer)],
        others: &'a [(String, Peer)],
    ) -> View<'a> {
        View { own, replicas, others, unsynced_for: None, grace: GRACE }
    }

    #[test]
    fn a_brand_new_cluster_starts_empty_only_when_every_node_answered() {
        let replicas = [p("b", Peer::Up(Copying))];
        let others = [p("c", Peer::Up(NotHosted))];
        assert_eq!(decide(&view(Copying, &replicas, &others)), Action::ReadyFresh);
        let others = [p("c", Peer::Unreachable)];
        assert!(matches!(decide(&view(Copying, &replicas, &others)), Action::Wait(_)));
    }

    #[test]
    fn a_restarted_replica_copies_from_every_peer_and_waits_for_missing_ones() {
        let replicas = [p("b", Peer::Up(Ready)), p("c", Peer::Up(Copying))];
        assert_eq!(
            decide(&view(Copying, &replicas, &[])),
            Action::Pull(vec!["b".into(), "c".into()])
        );
        let replicas = [p("b", Peer::Up(Ready)), p("c", Peer::Unreachable)];
        let Action::Wait(why) = decide(&view(Copying, &replicas, &[])) else { panic!() };
        assert!(why.contains('c'), "{why}");
    }

    #[test]
    fn new_replicas_of_a_moved_shard_copy_from_the_old_ones() {
        // Shard moved from [a, b] to [c, d]: d is also new, a and b are retiring.
        let replicas = [p("d", Peer::Up(Copying))];
        let others = [p("a", Peer::Up(Retiring)), p("b", Peer::Up(Retiring))];
        let want = Action::Pull(vec!["d".into(), "a".into(), "b".into()]);
        assert_eq!(decide(&view(Copying, &replicas, &others)), want);
    }

    #[test]
    fn old_replicas_drop_the_data_only_when_every_new_one_is_ready() {
        let replicas = [p("c", Peer::Up(Ready)), p("d", Peer::Up(Copying))];
        assert!(matches!(decide(&view(Retiring, &replicas, &[])), Action::Wait(_)));
        let replicas = [p("c", Peer::Up(Ready)), p("d", Peer::Unreachable)];
        assert!(matches!(decide(&view(Retiring, &replicas, &[])), Action::Wait(_)));
        let replicas = [p("c", Peer::Up(Ready)), p("d", Peer::Up(Ready))];
        assert_eq!(decide(&view(Retiring, &replicas, &[])), Action::Drop);
    }

    #[test]
    fn a_replica_out_of_touch_for_half_the_grace_isolates_and_resyncs() {
        let replicas = [p("b", Peer::Unreachable)];
        let mut v = view(Ready, &replicas, &[]);
        v.unsynced_for = Some(GRACE / 3);
        assert_eq!(decide(&v), Action::Keep);
        v.unsynced_for = Some(GRACE);
        assert_eq!(decide(&v), Action::Isolate);
        let alone: [(String, Peer); 0] = [];
        let mut v = view(Ready, &alone, &[]);
        v.unsynced_for = Some(GRACE * 2);
        assert_eq!(decide(&v), Action::Keep, "a single replica has nobody to lose touch with");
        let replicas = [p("b", Peer::Up(Ready)), p("c", Peer::Up(Copying))];
        let want = Action::Resync(vec!["c".into(), "b".into()]);
        assert_eq!(decide(&view(Isolated, &replicas, &[])), want);
        let replicas = [p("b", Peer::Up(Copying)), p("c", Peer::Up(Isolated))];
        assert_eq!(decide(&view(Isolated, &replicas, &[])), Action::Rejoin, "nobody knows better");
        let replicas = [p("b", Peer::Unreachable), p("c", Peer::Up(Ready))];
        let want = Action::Resync(vec!["c".into()]);
        assert_eq!(decide(&view(Isolated, &replicas, &[])), want, "one in touch is enough");
        let replicas = [p("b", Peer::Unreachable)];
        let mut v = view(Isolated, &replicas, &[]);
        v.unsynced_for = Some(GRACE / 2 + Duration::from_secs(1));
        assert!(matches!(decide(&v), Action::Wait(_)), "b may be partitioned away: wait");
        v.unsynced_for = Some(GRACE + Duration::from_secs(1));
        assert_eq!(decide(&v), Action::Rejoin, "b gone for a whole grace: serve again");
    }

    #[test]
    fn a_copying_replica_waits_for_an_isolated_peer() {
        let replicas = [p("b", Peer::Up(Isolated))];
        assert!(matches!(decide(&view(Copying, &replicas, &[])), Action::Wait(_)));
    }
}
