//! Who runs a shard's read-modify-write commands (INCR, APPEND, SET NX, EXPIRE, ...): per
//! shard, this node's [`Role`] as its coordinator, which node it believes coordinates when
//! it does not, and the fence between the RMW commands running here and a handover.
//!
//! ```text
//!              its own computation names it          fences of every reachable replica
//!   Follower ----------------------------> TakingOver ---------------------------------> Acting
//!      ^  ^        (see `handover.rs`)          |        answered, their shard pulled       |
//!      |  +-------------------------------------+ a fence or a step down, or a failed step   |
//!      +-------------------------------------------------------------------------------------+
//!                      a FENCE from the node taking over, or its computation names another
//! ```
//!
//! The fence is Dekker-style over two `SeqCst` atomics per shard: an RMW increments the
//! shard's running count and then checks the acting flag; a FENCE clears the flag and then
//! waits (bounded by [`FENCE_DRAIN_TIMEOUT`]) for the count to reach zero. Either the RMW
//! sees the flag cleared and does not run, or the fence sees it running and waits for it,
//! so once a FENCE is answered no RMW runs here for the shard until this node takes over
//! again, and every outcome it produced is in the store, ready to be pulled.
//!
//! An acting node's role is also a lease: it renews it every [`LEASE_RENEW_TICK`] while it
//! runs, each renewal only within [`COORD_LEASE`] of the one before, and an RMW runs only
//! within the lease. A coordinator that was paused (SIGSTOP, a frozen VM) for longer than
//! that refuses RMWs when it wakes, whichever of its tasks runs first, and takes over anew
//! (fences, pulls) before it acts again: its peers may have taken over meanwhile, and its
//! data may miss their outcomes. The lease is shorter than the time its peers need to count
//! it unreachable ([`super::elect::PEER_FAILED_POLLS`] polls that each time out), so a
//! paused coordinator stops acting before another starts. Renewals do not wait for the
//! coordination steps, which a slow peer's polls stretch to seconds: a lease ending while
//! the node runs would make it stop and fence its peers for nothing.
//!
//! Owns the per-shard state and the fence. Does not own deciding who coordinates
//! (`elect.rs`), the handover's messages and pulls (`handover.rs`) or running the command
//! (`rmw.rs`).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Longest a FENCE waits for the read-modify-writes running on its shard to finish. They
/// run without awaiting anything, so in practice they finish in microseconds.
pub const FENCE_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an acting coordinator's last lease renewal lets it run RMWs.
pub const COORD_LEASE: Duration = Duration::from_secs(2);
/// How often a running node renews the leases of the shards it coordinates.
pub const LEASE_RENEW_TICK: Duration = Duration::from_millis(200);

// A few renewals may be late (a busy runtime) before a running node's lease ends.
const _: () = assert!(LEASE_RENEW_TICK.as_millis() * 4 <= COORD_LEASE.as_millis());

// A paused coordinator's lease must run out before its peers can count it unreachable.
const _: () = assert!(
    COORD_LEASE.as_millis()
        < super::peers::STATUS_TIMEOUT.as_millis() * super::elect::PEER_FAILED_POLLS as u128
);

/// This node's part in coordinating one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Another node coordinates (or none is known yet).
    #[default]
    Follower,
    /// This node fences the others and pulls their outcomes before it acts.
    TakingOver,
    /// This node runs the shard's read-modify-write commands.
    Acting,
}

impl Role {
    /// Lower-case name for STATS and logs.
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::TakingOver => "taking_over",
            Role::Acting => "acting",
        }
    }
}

/// Why an RMW may not run here now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another node coordinates: this one, as far as this node knows (`None`: none known).
    NotCoordinator(Option<String>),
    /// This node is taking over; retry in a moment.
    Handover,
}

#[derive(Debug, Default)]
struct Slot {
    acting: AtomicBool,
    running: AtomicU32,
    /// When the lease was last renewed, in ms since [`Coord`]'s start.
    renewed_ms: AtomicU64,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    role: Role,
    /// The coordinator this node believes in when it does not act.
    believed: Option<String>,
    /// FENCEs received: a takeover that saw another node's fence meanwhile is abandoned.
    fences: u64,
    /// Takeovers completed: one coordinatorship of this node ends where the next begins.
    term: u64,
}

/// Coordination counters for STATS.
#[derive(Debug, Default)]
pub struct CoordStats {
    /// Takeovers completed (this node became a shard's coordinator).
    pub takeovers: AtomicU64,
    /// FENCEs this node answered.
    pub fenced: AtomicU64,
    /// RMW commands run here.
    pub rmw_commands: AtomicU64,
    /// RMW commands refused (not the coordinator, or a handover).
    pub rmw_refused: AtomicU64,
}

/// The coordination state of every shard on one node.
#[derive(Debug)]
pub struct Coord {
    me: String,
    /// Tells this process's coordinatorships from a restarted one's.
    instance: u64,
    start: Instant,
    slots: Vec<Slot>,
    /// Counters for STATS.
    pub stats: CoordStats,
}

/// An RMW running on a shard; dropping it lets a waiting FENCE go on.
#[derive(Debug)]
pub struct Running<'a>(&'a AtomicU32);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A FENCE whose shard's running commands did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("read-modify-writes of shard {shard} still running after {FENCE_DRAIN_TIMEOUT:?}")]
pub struct DrainTimeout {
    /// The shard.
    pub shard: u32,
}

impl Coord {
    /// Node `me`'s state for shards `1..=shards`, all Follower.
    pub fn new(me: &str, shards: u32) -> Self {
        let slots = (0..shards).map(|_| Slot::default()).collect();
        let (me, instance) = (me.to_owned(), rand::random());
        Self { me, instance, start: Instant::now(), slots, stats: CoordStats::default() }
    }

    /// Now, in ms since this state was made: the clock leases are measured on.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn leased(&self, slot: &Slot) -> bool {
        let confirmed = slot.renewed_ms.load(Ordering::SeqCst);
        self.now_ms().saturating_sub(confirmed) < COORD_LEASE.as_millis() as u64
    }

    /// Whether this node acts for `shard` but its lease ran out (it was paused or its steps
    /// stalled): it must take over anew before it acts again.
    pub fn lapsed(&self, shard: u32) -> bool {
        self.slot(shard).is_some_and(|s| s.acting.load(Ordering::SeqCst) && !self.leased(s))
    }

    /// Renews the lease of every shard this node acts for whose lease has not run out: a
    /// node that was paused past its lease stays lapsed until it took over anew.
    pub fn renew(&self) {
        let now = self.now_ms();
        for slot in &self.slots {
            if slot.acting.load(Ordering::SeqCst) && self.leased(slot) {
                slot.renewed_ms.fetch_max(now, Ordering::SeqCst);
            }
        }
    }

    fn slot(&self, shard: u32) -> Option<&Slot> {
        self.slots.get(usize::try_from(shard).ok()?.checked_sub(1)?)
    }

    /// Admits an RMW of `shard` if this node acts for it: the returned guard keeps a FENCE
    /// waiting until the command is done.
    pub fn enter(&self, shard: u32) -> Result<Running<'_>, Refusal> {
        let slot = self.slot(shard).ok_or(Refusal::NotCoordinator(None))?;
        slot.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(&slot.running);
        if slot.acting.load(Ordering::SeqCst) && self.leased(slot) {
            self.stats.rmw_commands.fetch_add(1, Ordering::Relaxed);
            return Ok(running);
        }
        drop(running);
        self.stats.rmw_refused.fetch_add(1, Ordering::Relaxed);
        let state = slot.state.lock();
        if state.role != Role::Follower || state.believed.as_deref() == Some(&self.me) {
            return Err(Refusal::Handover);
        }
        Err(Refusal::NotCoordinator(state.believed.clone()))
    }

    /// Stops acting for `shard` because node `by` takes over, and waits until the RMWs
    /// running on it are done.
    pub async fn fence(&self, shard: u32, by: &str) -> Result<(), DrainTimeout> {
        let Some(slot) = self.slot(shard) else { return Ok(()) };
        {
            let mut state = slot.state.lock();
            slot.acting.store(false, Ordering::SeqCst);
            state.role = Role::Follower;
            state.believed = Some(by.to_owned());
            state.fences += 1;
        }
        self.stats.fenced.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + FENCE_DRAIN_TIMEOUT;
        while slot.running.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return Err(DrainTimeout { shard });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }

    /// FENCEs `shard` has received so far: taken before a poll, it tells whether a fence
    /// arrived while the poll's answers were being weighed.
    pub fn fences(&self, shard: u32) -> u64 {
        self.slot(shard).map_or(0, |s| s.state.lock().fences)
    }

    /// Starts a takeover of `shard` unless a FENCE arrived since `fences` was read. Returns
    /// the ticket [`Coord::finish_takeover`] needs.
    pub fn begin_takeover(&self, shard: u32, fences: u64) -> Option<u64> {
        let slot = self.slot(shard)?;
        let mut state = slot.state.lock();
        if state.fences != fences {
            return None;
        }
        slot.acting.store(false, Ordering::SeqCst);
        state.role = Role::TakingOver;
        state.believed = Some(self.me.clone());
        Some(fences)
    }

    /// Ends a takeover: acting from now on, unless a FENCE arrived meanwhile. Returns
    /// whether this node acts.
    pub fn finish_takeover(&self, shard: u32, ticket: u64) -> bool {
        let Some(slot) = self.slot(shard) else { return false };
        let mut state = slot.state.lock();
        if state.fences != ticket || state.role != Role::TakingOver {
            return false;
        }
        state.role = Role::Acting;
        state.term += 1;
        slot.renewed_ms.store(self.now_ms(), Ordering::SeqCst);
        slot.acting.store(true, Ordering::SeqCst);
        self.stats.takeovers.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Gives up a takeover that could not complete (a peer did not answer its fence, or its
    /// shard could not be pulled); the next computation tries again.
    pub fn abandon_takeover(&self, shard: u32, ticket: u64) {
        let Some(slot) = self.slot(shard) else { return };
        let mut state = slot.state.lock();
        if state.fences == ticket && state.role == Role::TakingOver {
            state.role = Role::Follower;
            state.believed = None;
        }
    }

    /// Stops acting for (or taking over) `shard`: `coordinator` does, as far as this node
    /// knows.
    pub fn step_down(&self, shard: u32, coordinator: Option<&str>) {
        let Some(slot) = self.slot(shard) else { return };
        let mut state = slot.state.lock();
        slot.acting.store(false, Ordering::SeqCst);
        state.role = Role::Follower;
        state.believed = coordinator.map(str::to_owned);
    }

    /// Records the coordinator a Follower believes in.
    pub fn believe(&self, shard: u32, coordinator: Option<&str>) {
        let Some(slot) = self.slot(shard) else { return };
        let mut state = slot.state.lock();
        if state.role == Role::Follower && state.believed.as_deref() != coordinator {
            state.believed = coordinator.map(str::to_owned);
        }
    }

    /// Names this node's current coordinatorship of `shard` (node, process, term): a
    /// router's WATCH marks are valid only under the token they were made under.
    pub fn token(&self, shard: u32) -> String {
        let term = self.slot(shard).map_or(0, |s| s.state.lock().term);
        format!("{}:{:016x}:{term}", self.me, self.instance)
    }

    /// This node's role for `shard`.
    pub fn role(&self, shard: u32) -> Role {
        self.slot(shard).map_or(Role::Follower, |s| s.state.lock().role)
    }

    /// The coordinator this node believes in for `shard` (itself when it acts).
    pub fn believed(&self, shard: u32) -> Option<String> {
        self.slot(shard).and_then(|s| s.state.lock().believed.clone())
    }

    /// How many shards this node coordinates now.
    pub fn acting(&self) -> usize {
        self.slots.iter().filter(|s| s.acting.load(Ordering::Relaxed)).count()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn acting(shards: u32) -> Arc<Coord> {
        let c = Arc::new(Coord::new("me", shards));
        for s in 1..=shards {
            let ticket = c.begin_takeover(s, c.fences(s)).unwrap();
            assert!(c.finish_takeover(s, ticket));
        }
        c
    }

    #[tokio::test]
    async fn a_fence_drains_an_rmw_in_flight_and_refuses_later_ones() {
        let c = acting(2);
        let running = c.enter(1).expect("acting");
        let fence = tokio::spawn({
            let c = c.clone();
            async move { c.fence(1, "other").await }
        });
        // The fence has cleared the flag but waits for the running command.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!fence.is_finished(), "the fence waits for the running RMW");
        assert_eq!(c.enter(1).unwrap_err(), Refusal::NotCoordinator(Some("other".into())));
        drop(running);
        fence.await.unwrap().expect("drained");
        assert_eq!(c.role(1), Role::Follower);
        assert!(c.enter(2).is_ok(), "other shards are not fenced");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fence_gives_up_after_its_drain_timeout() {
        let c = acting(1);
        let _stuck = c.enter(1).unwrap();
        assert_eq!(c.fence(1, "other").await, Err(DrainTimeout { shard: 1 }));
    }

    #[tokio::test(start_paused = true)]
    async fn an_acting_node_whose_lease_ran_out_refuses_until_it_took_over_anew() {
        let c = acting(1);
        assert!(c.enter(1).is_ok() && !c.lapsed(1));
        tokio::time::advance(COORD_LEASE / 2).await;
        c.renew();
        tokio::time::advance(COORD_LEASE / 2).await;
        assert!(c.enter(1).is_ok(), "renewed half-way");
        tokio::time::advance(COORD_LEASE).await;
        assert!(c.lapsed(1));
        c.renew();
        assert!(c.lapsed(1), "a lapsed lease is not renewed: the node was paused");
        assert_eq!(c.enter(1).unwrap_err(), Refusal::Handover, "a paused coordinator waits");
        let ticket = c.begin_takeover(1, c.fences(1)).unwrap();
        assert!(c.finish_takeover(1, ticket));
        assert!(c.enter(1).is_ok() && !c.lapsed(1));
    }

    #[test]
    fn a_takeover_interrupted_by_a_fence_does_not_act() {
        let c = Coord::new("me", 1);
        assert_eq!(c.enter(1).unwrap_err(), Refusal::NotCoordinator(None));
        let seen = c.fences(1);
        let ticket = c.begin_takeover(1, seen).unwrap();
        assert_eq!(c.enter(1).unwrap_err(), Refusal::Handover);
        // Another node's fence arrives mid-takeover.
        futures_util::FutureExt::now_or_never(c.fence(1, "other")).unwrap().unwrap();
        assert!(!c.finish_takeover(1, ticket));
        assert!(c.begin_takeover(1, seen).is_none(), "a stale poll cannot start another");
        assert_eq!(c.believed(1).as_deref(), Some("other"));
        c.step_down(1, Some("n3"));
        assert_eq!(c.enter(1).unwrap_err(), Refusal::NotCoordinator(Some("n3".into())));
        assert!(c.enter(9).is_err(), "unknown shards are refused");
    }
}
