//! The key operations, each written once over [`Stripes`]: a [`Store`](super::Store) runs
//! them locking the one stripe (or, for two keys, the two stripes) they need, a
//! [`Locked`](super::Locked) view on the guards it holds. Each builds what needs an
//! allocation before its lock is taken where the input allows it, so under the lock a
//! small key and value are only copied into a slab slot and linked in.
//!
//! Plain writes are stamped with a fresh version by the store's clock; the conditional
//! ones report what they did and the version the key holds afterwards ([`Change`]), so a
//! coordinator can replicate the outcome as a versioned write.

use std::time::Duration;

use bytes::Bytes;

use super::draft::Draft;
use super::entry::deadline;
use super::shard::{Outcome, Put};
use super::slab::Garbage;
use super::stripes::{Place, Stripes};
use super::{
    Change, Deadline, ExpireCond, KeyInfo, Lww, SetCond, StoreError, TtlState, WatchMark,
    key_too_large,
};

pub(super) fn get<S: Stripes>(s: &S, key: &[u8]) -> Option<Bytes> {
    s.on_key(key, |sh, h, now| sh.get(h, key, now))
}

pub(super) fn exists<S: Stripes>(s: &S, key: &[u8]) -> bool {
    s.on_key(key, |sh, h, now| sh.exists(h, key, now))
}

pub(super) fn ttl<S: Stripes>(s: &S, key: &[u8]) -> TtlState {
    s.on_key(key, |sh, h, now| sh.ttl(h, key, now))
}

pub(super) fn version_of<S: Stripes>(s: &S, key: &[u8]) -> Option<u64> {
    s.on_key(key, |sh, h, now| sh.version_of(h, key, now))
}

/// Writes `key = value` if `cond` allows; a zero TTL deletes instead. `Ok(false)` only when
/// `cond` failed.
pub(super) fn set<S: Stripes>(
    s: &S,
    key: &[u8],
    value: &[u8],
    ttl: Option<Duration>,
    cond: SetCond,
) -> Result<bool, StoreError> {
    if ttl.is_some_and(|t| t.is_zero()) {
        return Ok(delete(s, key, cond).is_some());
    }
    let at = s.store().place(key);
    let entry = Draft::new(at.1, key, value).ok_or_else(|| key_too_large(key))?;
    let outcome = s.on_at_g(at, |sh, now, g| sh.set(entry, deadline(now, ttl), cond, now, g));
    match outcome {
        Outcome::Written => Ok(true),
        Outcome::Skipped => Ok(false),
        Outcome::OutOfMemory => Err(s.store().out_of_memory()),
    }
}

/// Deletes `key` if `cond` allows: `None` if it did not, else whether a live key went.
pub(super) fn delete<S: Stripes>(s: &S, key: &[u8], cond: SetCond) -> Option<bool> {
    let st = s.store();
    let at = st.place(key);
    let tomb = st.tombstone_draft(at.1, key);
    s.on_at_g(at, |sh, now, g| sh.delete(at.1, key, cond, st.tombstone_at(tomb, now), now, g))
}

/// Removes `key`'s TTL; `true` only if a live key had one.
pub(super) fn persist<S: Stripes>(s: &S, key: &[u8]) -> bool {
    s.on_key(key, |sh, h, now| sh.set_expiry(h, key, 0, now)).is_some_and(|old| old != 0)
}

/// Gives `key` a new deadline if `cond` allows; a deadline not after now deletes it.
pub(super) fn expire<S: Stripes>(s: &S, key: &[u8], at: Deadline, cond: ExpireCond) -> Change {
    let st = s.store();
    let place = st.place(key);
    let tomb = st.tombstone_draft(place.1, key);
    s.on_at_g(place, |sh, now, g| {
        // The wall clock read right after `now`, so the conversion is exact.
        let change = sh.expire_if(place.1, key, at.deadline(now, s.wall()), cond, now);
        if change != (Change::Deleted { version: 0 }) {
            discard(tomb, g);
            return change;
        }
        sh.delete(place.1, key, SetCond::Always, st.tombstone_at(tomb, now), now, g);
        Change::Deleted { version: sh.version_of(place.1, key, now).unwrap_or(0) }
    })
}

/// When `key` expires, as Unix time: `None` if absent, `Some(None)` if never.
pub(super) fn expire_time<S: Stripes>(s: &S, key: &[u8]) -> Option<Option<Duration>> {
    s.on_key(key, |sh, h, now| match sh.ttl(h, key, now) {
        TtlState::Missing => None,
        TtlState::Persistent => Some(None),
        // The wall clock read right after `now`, as when an absolute deadline was set.
        TtlState::Expires(left) => Some(Some(s.wall().saturating_add(left))),
    })
}

/// Marks `key` recently used; whether it is live.
pub(super) fn touch<S: Stripes>(s: &S, key: &[u8]) -> bool {
    s.on_key(key, |sh, h, now| sh.touch(h, key, now))
}

/// How `key` is stored, if live.
pub(super) fn inspect<S: Stripes>(s: &S, key: &[u8]) -> Option<KeyInfo> {
    s.on_key(key, |sh, h, now| sh.inspect(h, key, now))
}

/// What WATCH remembers of `key` now.
pub(super) fn watch<S: Stripes>(s: &S, key: &[u8]) -> WatchMark {
    let st = s.store();
    s.on_key(key, |sh, h, now| {
        let (version, created) = sh.watch_mark(h, key, now);
        // Read under the stripe lock: FLUSHALL moves the epoch while holding every stripe.
        WatchMark { version, created, epoch: st.flush_epoch() }
    })
}

/// RENAME (`keep_source` false) or COPY (true) of `src` to `dst`, with its TTL: `Missing`
/// without a live `src`, `Refused` when `dst` is live and `replace` is false, else the
/// version `dst` holds now. The value is shared, not copied, when it is big.
pub(super) fn transfer<S: Stripes>(
    s: &S,
    src: &[u8],
    dst: &[u8],
    replace: bool,
    keep_source: bool,
) -> Result<Change, StoreError> {
    let st = s.store();
    let (a, b) = (st.place(src), st.place(dst));
    if src == dst {
        // Nothing moves: RENAME k k answers OK, RENAMENX k k (and COPY k k) 0.
        return Ok(match s.on_at(a, |sh, now| sh.watch_mark(a.1, src, now).0) {
            0 => Change::Missing,
            _ if keep_source || !replace => Change::Refused,
            version => Change::Written { version },
        });
    }
    let tomb = if keep_source { None } else { st.tombstone_draft(a.1, src) };
    let cond = if replace { SetCond::Always } else { SetCond::IfAbsent };
    s.on_pair(a, b, |mut pair, now, g| {
        let Some((value, at)) = pair.a.peek(a.1, src, now) else {
            discard(tomb, g);
            return Ok(Change::Missing);
        };
        let Some(draft) = Draft::shared(b.1, dst, &value) else {
            discard(tomb, g);
            return Err(key_too_large(dst));
        };
        let target = pair.second();
        let version = match target.set(draft, at, cond, now, g) {
            Outcome::Written => target.version_of(b.1, dst, now).unwrap_or(0),
            Outcome::Skipped => {
                discard(tomb, g);
                return Ok(Change::Refused);
            }
            Outcome::OutOfMemory => {
                discard(tomb, g);
                return Err(st.out_of_memory());
            }
        };
        if !keep_source {
            pair.a.delete(a.1, src, SetCond::Always, st.tombstone_at(tomb, now), now, g);
        }
        Ok(Change::Written { version })
    })
}

/// A last-writer-wins write, or a delete leaving a tombstone for `value` `None`.
pub(super) fn write_versioned<S: Stripes>(
    s: &S,
    key: &[u8],
    value: Option<&[u8]>,
    ttl: Option<Duration>,
    version: u64,
) -> Result<Lww, StoreError> {
    let st = s.store();
    st.hlc().observe(version);
    let value = value.filter(|_| !ttl.is_some_and(|t| t.is_zero()));
    let at = st.place(key);
    let put = match value {
        None => put_tombstone(s, at, key, version, st.options().tombstone_ttl),
        Some(value) => {
            let mut entry = Draft::new(at.1, key, value).ok_or_else(|| key_too_large(key))?;
            entry.set_version(version);
            put(s, at, entry, ttl)
        }
    };
    Lww::of(put).map_err(|()| st.out_of_memory())
}

/// A versioned tombstone for `key` living `life` (a key too long to store cannot be held,
/// so it needs no tombstone and reports stale).
pub(super) fn put_tombstone<S: Stripes>(
    s: &S,
    at: Place,
    key: &[u8],
    version: u64,
    life: Duration,
) -> Put {
    let Some(mut tomb) = Draft::tombstone(at.1, key) else {
        return Put::Stale { held: 0 };
    };
    tomb.set_version(version);
    put(s, at, tomb, Some(life))
}

/// Writes `entry` (version set) last-writer-wins with a deadline `ttl` from now.
fn put<S: Stripes>(s: &S, at: Place, mut entry: Draft<'_>, ttl: Option<Duration>) -> Put {
    s.on_at_g(at, |sh, now, g| {
        entry.set_expiry(deadline(now, ttl));
        sh.put_versioned(entry, now, g)
    })
}

/// Frees an unused draft's allocations (into `g`, dropped after the locks).
fn discard(draft: Option<Draft<'_>>, g: &mut Garbage) {
    if let Some(d) = draft {
        d.discard(g);
    }
}
