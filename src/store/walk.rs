//! The operations over the whole keyspace, written once over [`Stripes`]: counting keys,
//! KEYS, SCAN and RANDOMKEY. On a [`Store`](super::Store) each takes the stripes one at a
//! time; on a [`Locked`](super::Locked) view they are all held already. (FLUSHALL takes
//! every stripe at once, see [`Store::flush`](super::Store::flush).)
//!
//! # The SCAN cursor
//!
//! A SCAN cursor is a [`Store::dump_page`](super::Store::dump_page) cursor: the stripe index
//! and the position inside the stripe, scanned from the last entry down (see `dump.rs` for
//! the layout and why downwards). Entries only move when a removal puts the *last* entry
//! into the freed slot, and the index table growing or shrinking (a rehash) moves no entry
//! at all, so every key present for the whole scan is returned at least once, however the
//! stripes grow or shrink between calls, and the server keeps no state: any cursor it
//! handed out is valid until the process restarts. A key moved down after being visited
//! may be returned twice; keys added or removed during the scan may or may not be.

use bytes::Bytes;
use rand::Rng;

use super::SCAN_CHUNK;
use super::dump::{FROM_END, decode, encode};
use super::stripes::Stripes;

/// Keys held, expired ones not yet reclaimed included, tombstones not.
pub(super) fn len<S: Stripes>(s: &S) -> usize {
    let mut n = 0;
    s.on_each(|_, sh, _| {
        n += sh.len();
        true
    });
    n
}

/// Every live key `filter` accepts, each stripe read under one lock hold (so a key appears
/// once). Not a snapshot across stripes unless `s` holds them all.
pub(super) fn keys<S: Stripes>(s: &S, filter: &dyn Fn(&[u8]) -> bool) -> Vec<Bytes> {
    let mut out = Vec::new();
    s.on_each(|_, sh, now| {
        sh.live_keys(now, filter, &mut out);
        true
    });
    out
}

/// One SCAN step from `cursor`: the live keys `filter` accepts among about `count` entries
/// looked at ([`SCAN_CHUNK`] per lock hold), and the next cursor (0 when done).
pub(super) fn scan<S: Stripes>(
    s: &S,
    cursor: u64,
    count: usize,
    filter: &dyn Fn(&[u8]) -> bool,
) -> (Vec<Bytes>, u64) {
    let stripes = s.store().shard_count();
    let (mut stripe, mut top) = decode(cursor);
    let mut budget = count.max(1);
    let mut out = Vec::new();
    while stripe < stripes && budget > 0 {
        let step = budget.min(SCAN_CHUNK);
        let (next, looked) =
            s.on_at((stripe, 0), |sh, now| sh.scan_keys(top, step, now, filter, &mut out));
        budget -= looked.min(budget);
        top = next;
        if top == 0 {
            stripe += 1;
            top = FROM_END;
        }
    }
    let next = if stripe < stripes { encode(stripe, top) } else { 0 };
    (out, next)
}

/// A random live key, `None` only if there is none. A stripe is picked in proportion to
/// the keys it holds, then an entry within it; tombstones and expired entries are skipped.
pub(super) fn random_key<S: Stripes>(s: &S) -> Option<Bytes> {
    let mut sizes = Vec::with_capacity(s.store().shard_count());
    s.on_each(|_, sh, _| {
        sizes.push(sh.len());
        true
    });
    let total: usize = sizes.iter().sum();
    if total == 0 {
        return None;
    }
    let mut rng = rand::thread_rng();
    let mut pick = rng.gen_range(0..total);
    let first = sizes.iter().position(|&n| {
        let here = pick < n;
        pick = pick.saturating_sub(n);
        here
    })?;
    // Sizes may have changed since they were read (and some keys may have expired): try
    // the chosen stripe, then the others in turn.
    (0..sizes.len())
        .map(|k| (first + k) % sizes.len())
        .find_map(|i| s.on_at((i, 0), |sh, now| sh.random_live(now, &mut rng)))
}
