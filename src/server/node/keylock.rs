//! Striped locks over keys, each guarding the ids of the read-modify-writes its keys'
//! states recently took the effect of.
//!
//! A read-modify-write holds its keys' stripes on its coordinator from before its command
//! runs until the state it answers has been read. Without them, two RMWs of one key on two
//! worker threads interleave: the first reads the key's state after the second ran, so its
//! outcome carries the second's result. Should the second's answer then be lost (its
//! coordinator crashes before replying, and the router runs it again on the next
//! coordinator), the first outcome has already carried its effect to the other replicas:
//! it would count twice. Plain versioned writes do not take them (a write landing inside an
//! RMW's run is replicated with its own version, which is what its writer sends everywhere
//! anyway).
//!
//! *Ids.* A router gives each RMW command an id that every attempt carries. The coordinator
//! notes it on each key the command changed (after a count id derived from it when it
//! changed several: `effect.rs`), and an outcome carries each key's latest
//! [`MAX_RMW_IDS`] ids to the other replicas, which note them when they take the write. An
//! earlier command's id thus travels with every later outcome of the key, so when the
//! earlier one's reply is lost with a crashed coordinator and a later one's outcome got
//! out, the next coordinator has its id too. These per-key rings are only what outcomes
//! carry, kept for [`RMW_ID_WINDOW`] after a key's last touch and for at most
//! [`RMW_ID_KEYS`] keys (the least recently touched go first); whether a command ran is
//! asked of [`super::known`], which every noted id also goes to. Noting and checking happen
//! under the key's stripe, so a check never falls between a write taking effect and its
//! ids being noted.

use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

use super::digest::key_hash;
use crate::protocol::rmw::MAX_RMW_IDS;

/// Stripes of [`KeyLocks`]: RMWs of keys in different stripes never wait for each other.
pub const RMW_KEY_STRIPES: usize = 256;
/// Most keys whose RMW ids a node keeps (spread over the stripes).
pub const RMW_ID_KEYS: usize = 65_536;
/// How long a key's RMW ids are kept after the last RMW or outcome that touched it.
pub const RMW_ID_WINDOW: Duration = Duration::from_secs(60);
/// The stripes.
#[derive(Debug)]
pub struct KeyLocks {
    stripes: Box<[Mutex<Stripe>]>,
}

/// One stripe's keys and their recent ids.
#[derive(Debug, Default)]
pub struct Stripe {
    keys: hashbrown::HashMap<Box<[u8]>, Recent, ahash::RandomState>,
}

/// One key's latest ids, inline (one allocation per key: its copy).
#[derive(Debug)]
struct Recent {
    touched: Instant,
    len: u8,
    /// Oldest first, `len` of them.
    ids: [u64; MAX_RMW_IDS],
}

impl Recent {
    fn new(touched: Instant) -> Self {
        Self { touched, len: 0, ids: [0; MAX_RMW_IDS] }
    }

    fn ids(&self) -> &[u64] {
        &self.ids[..usize::from(self.len)]
    }

    /// Adds `ids` behind the ones held, as older, while there is room: the newest of them
    /// first, never pushing a newer id out.
    fn prepend(&mut self, ids: &[u64]) {
        let len = usize::from(self.len);
        let take = &ids[ids.len().saturating_sub(MAX_RMW_IDS - len)..];
        self.ids.copy_within(..len, take.len());
        self.ids[..take.len()].copy_from_slice(take);
        self.len += take.len() as u8;
    }

    /// Adds `id` as the newest, dropping the oldest when full.
    fn push(&mut self, id: u64) {
        let len = usize::from(self.len);
        if len == MAX_RMW_IDS {
            self.ids.copy_within(1.., 0);
            self.ids[MAX_RMW_IDS - 1] = id;
        } else {
            self.ids[len] = id;
            self.len += 1;
        }
    }
}

/// The stripes of some keys, locked; dropping it releases them.
pub struct Locked<'a> {
    locks: &'a KeyLocks,
    held: Vec<(usize, MutexGuard<'a, Stripe>)>,
}

impl Default for KeyLocks {
    fn default() -> Self {
        Self { stripes: (0..RMW_KEY_STRIPES).map(|_| Mutex::new(Stripe::default())).collect() }
    }
}

impl KeyLocks {
    /// Locks the stripes of `keys`, in stripe order (so two RMWs over several keys never
    /// deadlock); held until the result drops.
    pub fn lock<K: AsRef<[u8]>>(&self, keys: &[K]) -> Locked<'_> {
        let mut stripes: Vec<usize> = keys.iter().map(|k| self.stripe(k.as_ref())).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let held = stripes.into_iter().map(|i| (i, self.stripes[i].lock())).collect();
        Locked { locks: self, held }
    }

    fn stripe(&self, key: &[u8]) -> usize {
        (key_hash(key) % self.stripes.len() as u64) as usize
    }
}

impl Locked<'_> {
    /// `key`'s recent ids, oldest first (none once its window passed).
    pub fn ids(&mut self, key: &[u8]) -> Vec<u64> {
        self.recent(key, Instant::now()).map(<[u64]>::to_vec).unwrap_or_default()
    }

    fn recent(&mut self, key: &[u8], now: Instant) -> Option<&[u64]> {
        let r = self.stripe_of(key)?.keys.get(key)?;
        (now.duration_since(r.touched) <= RMW_ID_WINDOW).then(|| r.ids())
    }

    /// Notes that `key`'s state now holds the effect of the commands `ids` (oldest first);
    /// returns the key's latest [`MAX_RMW_IDS`], oldest first.
    pub fn note(&mut self, key: &[u8], ids: &[u64]) -> Vec<u64> {
        self.add(key, ids, false, |_| {}).map(|r| r.ids().to_vec()).unwrap_or_default()
    }

    /// Notes `ids` as [`Locked::note`] does; returns those the key did not hold yet (the
    /// rest were noted before, with the write that brought them first). `older`: they came
    /// with a write older than the key's state (STALE), so they go behind its ids, and only
    /// into room there is: a late hint must not push out the ids of newer commands.
    pub fn note_fresh(&mut self, key: &[u8], ids: &[u64], older: bool) -> Vec<u64> {
        let mut fresh = Vec::new();
        self.add(key, ids, older, |id| fresh.push(id));
        fresh
    }

    fn add(
        &mut self,
        key: &[u8],
        ids: &[u64],
        older: bool,
        mut added: impl FnMut(u64),
    ) -> Option<&Recent> {
        let now = Instant::now();
        let stripe = self.stripe_of(key)?;
        if stripe.keys.len() >= stripe_cap() && !stripe.keys.contains_key(key) {
            stripe.make_room(now);
        }
        // One lookup; the key is copied only when it is new.
        let recent = stripe.keys.entry_ref(key).or_insert_with(|| Recent::new(now));
        if now.duration_since(recent.touched) > RMW_ID_WINDOW {
            recent.len = 0;
        }
        recent.touched = now;
        if older {
            let new: Vec<u64> =
                ids.iter().copied().filter(|id| !recent.ids().contains(id)).collect();
            new.iter().for_each(|&id| added(id));
            recent.prepend(&new);
            return Some(recent);
        }
        for &id in ids {
            if !recent.ids().contains(&id) {
                recent.push(id);
                added(id);
            }
        }
        Some(recent)
    }

    fn stripe_of(&mut self, key: &[u8]) -> Option<&mut Stripe> {
        let i = self.locks.stripe(key);
        self.held.iter_mut().find(|(s, _)| *s == i).map(|(_, g)| &mut **g)
    }
}

/// Keys one stripe keeps: its share of [`RMW_ID_KEYS`].
fn stripe_cap() -> usize {
    (RMW_ID_KEYS / RMW_KEY_STRIPES).max(4)
}

impl Stripe {
    /// Brings a full stripe back within its share of [`RMW_ID_KEYS`] before a key is
    /// added: drops keys past their window, then, if that was not enough, the least
    /// recently touched quarter (so the walk is paid once per many additions).
    fn make_room(&mut self, now: Instant) {
        let cap = stripe_cap();
        self.keys.retain(|_, r| now.duration_since(r.touched) <= RMW_ID_WINDOW);
        if self.keys.len() < cap {
            return;
        }
        let mut touched: Vec<Instant> = self.keys.values().map(|r| r.touched).collect();
        let (_, &mut cut, _) = touched.select_nth_unstable(cap / 4);
        self.keys.retain(|_, r| r.touched > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_stripe_take_it_once_and_other_stripes_stay_free() {
        let locks = KeyLocks::default();
        let keys: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let held = locks.lock(&keys);
        assert_eq!(held.held.len(), RMW_KEY_STRIPES, "a thousand keys cover every stripe once");
        drop(held);
        let same = [b"k".to_vec(), b"k".to_vec()];
        let one = locks.lock(&same);
        assert_eq!(one.held.len(), 1, "a key named twice is locked once");
        let other = (0..100u32)
            .map(|i| i.to_be_bytes())
            .find(|k| locks.stripe(k) != locks.stripe(b"k"))
            .unwrap();
        assert!(locks.stripes[locks.stripe(&other)].try_lock().is_some(), "not held");
        assert!(locks.stripes[locks.stripe(b"k")].try_lock().is_none(), "held");
    }

    #[test]
    fn a_key_keeps_its_latest_ids_and_answers_for_them() {
        let locks = KeyLocks::default();
        let mut held = locks.lock(&[b"k"]);
        assert_eq!(held.note(b"k", &[1]), [1]);
        assert_eq!(held.note(b"k", &[1, 2, 3]), [1, 2, 3], "known ids are not noted twice");
        assert_eq!(held.note_fresh(b"k", &[2, 3, 4], false), [4], "only the new one is fresh");
        assert!(held.ids(b"k").contains(&2) && !held.ids(b"k").contains(&9));
        let many: Vec<u64> = (10..40).collect();
        assert_eq!(held.note(b"k", &many), (24..40).collect::<Vec<u64>>(), "the newest 16");
        assert!(!held.ids(b"k").contains(&1), "pushed out");
        let other =
            (0..100u32).map(|i| i.to_be_bytes()).find(|k| locks.stripe(k) != locks.stripe(b"k"));
        assert_eq!(held.note(&other.unwrap(), &[5]), Vec::<u64>::new(), "its stripe is not held");
    }

    #[test]
    fn the_ids_of_a_stale_write_go_behind_the_newer_ones_and_never_push_them_out() {
        let locks = KeyLocks::default();
        let mut held = locks.lock(&[b"k", b"j"]);
        let newer: Vec<u64> = (5..=20).collect();
        held.note(b"k", &newer);
        let late: Vec<u64> = (1..=16).collect();
        assert_eq!(held.note_fresh(b"k", &late, true), (1..=4).collect::<Vec<u64>>());
        assert_eq!(held.ids(b"k"), newer, "full of newer ids: the late ones find no room");
        held.note(b"j", &[10, 11]);
        held.note_fresh(b"j", &[7, 8, 9, 10], true);
        assert_eq!(held.ids(b"j"), [7, 8, 9, 10, 11], "behind, in their order");
        let mut ring = Recent::new(Instant::now());
        (1..=14).for_each(|id| ring.push(id));
        ring.prepend(&[91, 92, 93]);
        assert_eq!(ring.ids()[..3], [92, 93, 1], "the newest of them, while there is room");
    }

    #[test]
    fn a_stripe_stays_within_its_share_of_keys() {
        let locks = KeyLocks::default();
        let keys: Vec<Vec<u8>> = (0..100_000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut held = locks.lock(&keys);
        for (i, k) in keys.iter().enumerate() {
            held.note(k, &[i as u64 + 1]);
        }
        let cap = RMW_ID_KEYS / RMW_KEY_STRIPES;
        assert!(held.held.iter().all(|(_, s)| s.keys.len() <= cap), "within {cap} per stripe");
        let last = keys.last().unwrap();
        assert!(held.ids(last).contains(&(keys.len() as u64)), "the latest key is kept");
    }
}
