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
//! notes it on each key the command changed, and an outcome carries each key's latest
//! [`MAX_RMW_IDS`] ids to the other replicas, which note them when they take the write. An
//! earlier command's id thus travels with every later outcome of the key, so when the
//! earlier one's reply is lost with a crashed coordinator and a later one's outcome got
//! out, the next coordinator knows the earlier one is already in the state and does not
//! run it again. Noting and checking happen under the key's stripe, so a check never falls
//! between a write taking effect and its ids being noted. Ids are kept for
//! [`RMW_ID_WINDOW`] after a key's last touch and for at most [`RMW_ID_KEYS`] keys (the
//! least recently touched go first): a router runs a command again within its request
//! deadline, seconds at most.

use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};

use super::digest::key_hash;
use crate::protocol::rmw::MAX_RMW_IDS;

/// Stripes of [`KeyLocks`]: RMWs of keys in different stripes never wait for each other.
pub const RMW_KEY_STRIPES: usize = 256;
/// Most keys whose RMW ids a node keeps (spread over the stripes).
pub const RMW_ID_KEYS: usize = 65_536;
/// How long a key's RMW ids are kept after the last RMW or outcome that touched it.
pub const RMW_ID_WINDOW: Duration = Duration::from_secs(60);
/// Most bytes of keys and ids a FENCE answer carries to the node taking over (the most
/// recently touched keys first): well within any peer's smallest reply frame (1 MiB).
pub const FENCE_IDS_MAX_BYTES: usize = 512 * 1024;

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

    /// The ids of the keys `pick` selects (one shard's) still within their window, most
    /// recently touched first, up to [`FENCE_IDS_MAX_BYTES`] of them as FENCE sends them.
    /// One stripe is locked at a time.
    pub fn export(&self, pick: impl Fn(&[u8]) -> bool) -> Vec<(Bytes, Vec<u64>)> {
        let now = Instant::now();
        let mut all = Vec::new();
        for stripe in self.stripes.iter() {
            let s = stripe.lock();
            for (key, r) in &s.keys {
                if now.duration_since(r.touched) <= RMW_ID_WINDOW && pick(key) {
                    all.push((r.touched, Bytes::copy_from_slice(key), r.ids().to_vec()));
                }
            }
        }
        all.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        let mut bytes = 4;
        all.into_iter()
            .take_while(|(_, key, ids)| {
                bytes += 2 + key.len() + 1 + 8 * ids.len();
                bytes <= FENCE_IDS_MAX_BYTES
            })
            .map(|(_, key, ids)| (key, ids))
            .collect()
    }

    /// Notes `entries`, keys and the ids their states hold (a fenced peer's, whose state
    /// this node pulled).
    pub fn import(&self, entries: &[(Bytes, Vec<u64>)]) {
        for (key, ids) in entries {
            self.lock(&[key]).note(key, ids);
        }
    }
}

impl Locked<'_> {
    /// Whether command `id` took effect on one of `keys` (as far as this node knows).
    pub fn applied<K: AsRef<[u8]>>(&mut self, keys: &[K], id: u64) -> bool {
        let now = Instant::now();
        keys.iter().any(|k| self.recent(k.as_ref(), now).is_some_and(|ids| ids.contains(&id)))
    }

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
        let now = Instant::now();
        let Some(stripe) = self.stripe_of(key) else { return Vec::new() };
        if stripe.keys.len() >= stripe_cap() && !stripe.keys.contains_key(key) {
            stripe.make_room(now);
        }
        // One lookup; the key is copied only when it is new.
        let recent = stripe.keys.entry_ref(key).or_insert_with(|| Recent::new(now));
        if now.duration_since(recent.touched) > RMW_ID_WINDOW {
            recent.len = 0;
        }
        recent.touched = now;
        for &id in ids {
            if !recent.ids().contains(&id) {
                recent.push(id);
            }
        }
        recent.ids().to_vec()
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
    /// Keeps the stripe within its share of [`RMW_ID_KEYS`] before a key is added: drops
    /// keys past their window, then, if that was not enough, the least recently touched
    /// quarter (so the walk is paid once per many additions).
    fn make_room(&mut self, now: Instant) {
        let cap = stripe_cap();
        if self.keys.len() < cap {
            return;
        }
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
        assert!(held.applied(&[b"k"], 2) && !held.applied(&[b"k"], 9));
        let many: Vec<u64> = (10..40).collect();
        assert_eq!(held.note(b"k", &many), (24..40).collect::<Vec<u64>>(), "the newest 16");
        assert!(!held.applied(&[b"k"], 1), "pushed out");
        let other =
            (0..100u32).map(|i| i.to_be_bytes()).find(|k| locks.stripe(k) != locks.stripe(b"k"));
        assert_eq!(held.note(&other.unwrap(), &[5]), Vec::<u64>::new(), "its stripe is not held");
    }

    #[test]
    fn a_shards_ids_go_out_newest_first_and_come_back_in() {
        let locks = KeyLocks::default();
        for (i, key) in [&b"a1"[..], b"b1", b"a2"].into_iter().enumerate() {
            locks.lock(&[key]).note(key, &[i as u64 + 1]);
            std::thread::sleep(Duration::from_millis(2));
        }
        let out = locks.export(|k| k.starts_with(b"a"));
        let keys: Vec<&[u8]> = out.iter().map(|(k, _)| &k[..]).collect();
        assert_eq!(keys, [&b"a2"[..], b"a1"], "shard a's keys, the latest first");
        let other = KeyLocks::default();
        other.import(&out);
        assert!(other.lock(&[b"a1"]).applied(&[b"a1"], 1));
        assert!(!other.lock(&[b"b1"]).applied(&[b"b1"], 2), "not the other shard's");
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
        assert!(held.applied(&[last], keys.len() as u64), "the latest key is kept");
    }
}
