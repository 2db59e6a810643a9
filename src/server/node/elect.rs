//! Who coordinates a shard, decided from what this node knows: pure functions, so every rule
//! has a unit test of its own.
//!
//! * The coordinator of shard `s` is the first replica in the map's list for `s` that is
//!   Ready and reachable. Every node computes it every [`super::handover::COORD_TICK`] from
//!   its peers' NODE_STATUS; a peer is unreachable once [`PEER_FAILED_POLLS`] polls in a row
//!   failed (one lost poll is not a dead node).
//! * A node whose computation names itself, and that does not act, takes over; one that
//!   acts (or is taking over) and whose computation names another steps down. One that
//!   acts but whose lease ran out ([`super::coord::COORD_LEASE`]) takes over anew.

use super::coord::Role;
use crate::protocol::cluster::{NodeStatus, ShardState};

/// Consecutive failed NODE_STATUS polls after which a peer counts as unreachable.
pub const PEER_FAILED_POLLS: u32 = 3;

/// What this node knows of one peer from its polls.
#[derive(Debug, Clone, Default)]
pub struct PeerHealth {
    failures: u32,
    last: Option<NodeStatus>,
    /// When `last` arrived.
    seen: Option<std::time::Instant>,
}

impl PeerHealth {
    /// Records one poll's answer (`None`: no answer, or an impostor's).
    pub fn record(&mut self, poll: Option<NodeStatus>) {
        match poll {
            Some(status) => {
                self.failures = 0;
                self.last = Some(status);
                self.seen = Some(std::time::Instant::now());
            }
            None => self.failures = self.failures.saturating_add(1),
        }
    }

    /// Whether the peer counts as reachable: it answered once, and not [`PEER_FAILED_POLLS`]
    /// polls in a row have failed since.
    pub fn reachable(&self) -> bool {
        self.last.is_some() && self.failures < PEER_FAILED_POLLS
    }

    /// The peer's clock now, as far as its last answer tells: the clock it reported plus
    /// the time since. A node taking over from a peer that crashed starts its own clock
    /// there, so its outcomes win over every outcome the peer stamped before it died,
    /// whichever clock runs ahead (a late hint of one must not undo them).
    pub fn clock_now(&self) -> Option<u64> {
        let (last, seen) = (self.last.as_ref()?, self.seen?);
        let since = u64::try_from(seen.elapsed().as_millis()).unwrap_or(u64::MAX);
        Some(last.clock.saturating_add(since.saturating_mul(1 << crate::version::MS_SHIFT)))
    }

    /// The hash of the map the peer applies, if it counts as reachable.
    pub fn map_hash(&self) -> Option<u64> {
        self.last.as_ref().filter(|_| self.reachable()).map(|s| s.map_hash)
    }

    /// The peer's state for `shard` in its last answer.
    pub fn state(&self, shard: u32) -> ShardState {
        self.last.as_ref().map_or(ShardState::NotHosted, |s| s.shard(shard))
    }
}

/// One replica of a shard, as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Its name in the map.
    pub name: &'a str,
    /// It reported the shard Ready.
    pub ready: bool,
    /// It answers NODE_STATUS (see [`PeerHealth::reachable`]).
    pub reachable: bool,
}

/// The coordinator: the first of `replicas` (in map order) that is Ready and reachable.
pub fn coordinator<'a>(replicas: &[Candidate<'a>]) -> Option<&'a str> {
    replicas.iter().find(|c| c.ready && c.reachable).map(|c| c.name)
}

/// What a node does about one shard's coordination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing changes.
    Keep,
    /// Fence the others, pull their outcomes, then act.
    TakeOver,
    /// Stop acting (or taking over): another node coordinates.
    StepDown,
}

/// The step of node `me`, in `role`, when the computation names `coordinator`; `lapsed`
/// says an acting node's lease ran out (it was paused: others may have acted meanwhile).
pub fn step(role: Role, me: &str, coordinator: Option<&str>, lapsed: bool) -> Step {
    match (coordinator == Some(me), role) {
        (true, Role::Acting) if lapsed => Step::TakeOver,
        (true, Role::Acting) | (false, Role::Follower) => Step::Keep,
        (true, Role::Follower | Role::TakingOver) => Step::TakeOver,
        (false, Role::Acting | Role::TakingOver) => Step::StepDown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, ready: bool, reachable: bool) -> Candidate<'_> {
        Candidate { name, ready, reachable }
    }

    #[test]
    fn the_coordinator_is_the_first_ready_and_reachable_replica_in_map_order() {
        let all = [c("a", true, true), c("b", true, true)];
        assert_eq!(coordinator(&all), Some("a"));
        let a_copying = [c("a", false, true), c("b", true, true)];
        assert_eq!(coordinator(&a_copying), Some("b"));
        let a_gone = [c("a", true, false), c("b", true, true)];
        assert_eq!(coordinator(&a_gone), Some("b"));
        let none = [c("a", false, true), c("b", true, false)];
        assert_eq!(coordinator(&none), None);
        assert_eq!(coordinator(&[c("only", true, true)]), Some("only"), "a single replica");
    }

    #[test]
    fn a_node_takes_over_when_named_and_steps_down_when_not() {
        assert_eq!(step(Role::Follower, "a", Some("a"), false), Step::TakeOver);
        assert_eq!(step(Role::TakingOver, "a", Some("a"), false), Step::TakeOver);
        assert_eq!(step(Role::Acting, "a", Some("a"), false), Step::Keep);
        assert_eq!(step(Role::Acting, "a", Some("a"), true), Step::TakeOver, "lease lapsed");
        assert_eq!(step(Role::Acting, "a", Some("b"), false), Step::StepDown);
        assert_eq!(step(Role::Acting, "a", None, true), Step::StepDown);
        assert_eq!(step(Role::TakingOver, "a", Some("b"), false), Step::StepDown);
        assert_eq!(step(Role::Follower, "a", Some("b"), false), Step::Keep);
        assert_eq!(step(Role::Follower, "a", None, false), Step::Keep);
    }

    #[test]
    fn a_peer_is_unreachable_after_consecutive_failed_polls_only() {
        let mut p = PeerHealth::default();
        assert!(!p.reachable(), "never answered");
        let status = NodeStatus { shards: vec![ShardState::Ready], ..Default::default() };
        p.record(Some(status.clone()));
        for _ in 1..PEER_FAILED_POLLS {
            p.record(None);
            assert!(p.reachable(), "one lost poll is not a dead node");
        }
        assert_eq!(p.state(1), ShardState::Ready, "its last answer stands meanwhile");
        p.record(None);
        assert!(!p.reachable());
        p.record(Some(status));
        assert!(p.reachable(), "an answer resets the count");
    }
}
