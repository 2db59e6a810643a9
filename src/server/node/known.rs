//! The read-modify-write ids a node knows took effect in the state it holds: the commands
//! it ran as coordinator, and the ids that outcomes, hints and FENCE answers brought with
//! the states they wrote here. A command sent again after its reply was lost is not run
//! again when its id is known.
//!
//! Outcomes carry only each key's latest ids ([`super::keylock`]), enough for the commands
//! that may have lost their reply in a crash. Remembering them takes longer: the router
//! sends a command again after a takeover (a second or more), and a busy key runs
//! thousands of commands meanwhile. So every id noted is kept here for
//! [`RMW_ID_WINDOW`], by time, whatever its key, up to [`RMW_IDS_REMEMBERED`] ids (the
//! oldest go first). Striped by id (ids are random), so noting never waits on a key's lock
//! stripe here; callers note under the key's stripe, which orders noting and checking.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use parking_lot::Mutex;

use super::keylock::RMW_ID_WINDOW;

/// Most ids a node remembers (the oldest are forgotten first).
pub const RMW_IDS_REMEMBERED: usize = 1 << 20;
/// Most ids a FENCE answer carries to the node taking over (512 KiB of them).
pub const FENCE_MAX_IDS: usize = 65_536;
/// Stripes of the set.
const STRIPES: usize = 64;

/// The ids, striped.
#[derive(Debug)]
pub struct KnownIds {
    start: Instant,
    stripes: Box<[Mutex<IdStripe>]>,
}

#[derive(Debug, Default)]
struct IdStripe {
    ids: HashMap<u64, Known, ahash::RandomState>,
    /// In the order noted, for forgetting the oldest.
    order: VecDeque<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Known {
    shard: u32,
    /// Brought by another node's outcome, hint or FENCE answer (not run here).
    inherited: bool,
    /// When noted, in ms since `start`.
    at_ms: u64,
}

impl Default for KnownIds {
    fn default() -> Self {
        let stripes = (0..STRIPES).map(|_| Mutex::new(IdStripe::default())).collect();
        Self { start: Instant::now(), stripes }
    }
}

impl KnownIds {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn stripe(&self, id: u64) -> &Mutex<IdStripe> {
        &self.stripes[(id % STRIPES as u64) as usize]
    }

    /// Whether command `id` took effect here (within the window).
    pub fn contains(&self, id: u64) -> bool {
        let now = self.now_ms();
        self.stripe(id).lock().ids.get(&id).is_some_and(|k| fresh(k.at_ms, now))
    }

    /// Notes that the commands `ids` of `shard` took effect here: run here, or `inherited`
    /// with a state another node made.
    pub fn note(&self, shard: u32, ids: &[u64], inherited: bool) {
        let now = self.now_ms();
        for &id in ids {
            let mut s = self.stripe(id).lock();
            if s.ids.contains_key(&id) {
                continue;
            }
            s.ids.insert(id, Known { shard, inherited, at_ms: now });
            s.order.push_back(id);
            s.forget_old(now);
        }
    }

    /// The ids of `shard` for a node taking it over: those other nodes brought first (a
    /// crashed coordinator's commands, which the router may send again), then those run
    /// here, newest first in each, at most `max` (a FENCE answer's room).
    pub fn export(&self, shard: u32, max: usize) -> Vec<u64> {
        let now = self.now_ms();
        let mut all = Vec::new();
        for stripe in self.stripes.iter() {
            let s = stripe.lock();
            let mine = s.ids.iter().filter(|(_, k)| k.shard == shard && fresh(k.at_ms, now));
            all.extend(mine.map(|(&id, k)| (k.inherited, k.at_ms, id)));
        }
        all.sort_unstable_by_key(|&(inherited, at_ms, _)| std::cmp::Reverse((inherited, at_ms)));
        all.into_iter().take(max).map(|(_, _, id)| id).collect()
    }
}

impl IdStripe {
    /// Forgets ids past the window, and the oldest past this stripe's share of
    /// [`RMW_IDS_REMEMBERED`].
    fn forget_old(&mut self, now: u64) {
        while let Some(&oldest) = self.order.front() {
            let stale = self.ids.get(&oldest).is_none_or(|k| !fresh(k.at_ms, now));
            if !stale && self.order.len() <= RMW_IDS_REMEMBERED / STRIPES {
                break;
            }
            self.order.pop_front();
            self.ids.remove(&oldest);
        }
    }
}

fn fresh(at_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(at_ms) <= RMW_ID_WINDOW.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_known_once_noted_and_go_out_inherited_and_newest_first() {
        let known = KnownIds::default();
        assert!(!known.contains(7));
        known.note(1, &[7], false);
        std::thread::sleep(std::time::Duration::from_millis(2));
        known.note(1, &[8, 9], true);
        known.note(2, &[10], true);
        assert!(known.contains(7) && known.contains(10));
        let out = known.export(1, FENCE_MAX_IDS);
        assert_eq!(out.len(), 3, "shard 1's only: {out:?}");
        assert_eq!(out[2], 7, "the ids run here after the inherited ones");
    }

    #[test]
    fn the_oldest_are_forgotten_past_the_cap() {
        let known = KnownIds::default();
        let n = RMW_IDS_REMEMBERED as u64 + 10_000;
        let ids: Vec<u64> = (1..=n).collect();
        known.note(1, &ids, true);
        let held: usize = known.stripes.iter().map(|s| s.lock().ids.len()).sum();
        assert!(held <= RMW_IDS_REMEMBERED, "{held} ids held");
        assert!(known.contains(n) && !known.contains(1), "the newest kept, the oldest gone");
    }
}
