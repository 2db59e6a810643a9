//! The store's string operations beyond plain GET/SET, written once over [`Stripes`] so they
//! run on a [`Store`](super::Store) (one stripe lock each) and inside EXEC alike: reads that
//! look at a value in place (`read`), read-modify-writes (`rewrite`,
//! behind INCR, APPEND, SETRANGE, SETBIT, ...), SET with every option
//! (`set_with`), GETDEL, GETEX, and MSETNX over several stripes at once.
//!
//! Allocation stays outside the lock as for plain writes: a drafted SET is built before
//! locking; a read-modify-write builds a small new value on the stack and a big one in a
//! buffer allocated before the lock is taken again ([`Step::NeedBuffer`]), and changes a
//! value that still fits its place (an inline value within its slot's size class, a big
//! value nobody else holds) right there. Only a key too long for a slab slot (over a few
//! hundred bytes) still gets its record allocated under the lock by a read-modify-write.

use std::time::Duration;

use bytes::Bytes;

use super::draft::Draft;
use super::edit::{Edit, Expiry, Fetched, SetOptions, SetOutcome, Written};
use super::entry::{deadline, key_meta};
use super::shard::{Done, Outcome, Step};
use super::stripes::Stripes;
use super::{SetCond, StoreError, key_too_large};

/// Times a read-modify-write goes back to allocate a big buffer outside the lock (someone
/// changed the value meanwhile) before it allocates under the lock instead.
const REWRITE_ATTEMPTS: usize = 4;

/// Most spare room given to a value that grows (APPEND, SETRANGE or SETBIT past its end):
/// half its length up to this, so a series of appends copies the value O(log n) times.
const GROWTH_SLACK_MAX: usize = 1 << 20;

/// Runs `f` on `key`'s live value (`None` if absent), counting a hit or a miss like a GET.
/// A small value is looked at under the lock where it lies; a big one after unlocking,
/// through a shared handle, so long scans (BITCOUNT) hold no lock.
pub(super) fn read<S: Stripes>(s: &S, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) {
    let big = s.on_key(key, |shard, h, now| shard.read(h, key, now, &mut *f));
    if let Some(value) = big {
        f(Some(&value));
    }
}

/// A read-modify-write of `key`'s value (see [`Edit`]): `Ok(None)` when the edit planned
/// nothing, else what the write left. The key keeps its TTL.
pub(super) fn rewrite<S: Stripes>(
    s: &S,
    key: &[u8],
    edit: &mut dyn Edit,
) -> Result<Option<Written>, StoreError> {
    key_meta(key).ok_or_else(|| key_too_large(key))?;
    let at = s.store().place(key);
    let mut spare: Option<Vec<u8>> = None;
    for attempt in 1..=REWRITE_ATTEMPTS {
        let (step, now) = s
            .on_at_g(at, |shard, now, g| (shard.rewrite(at.1, key, edit, &mut spare, now, g), now));
        let (len, growing) = match step {
            Step::Kept => return Ok(None),
            Step::Wrote(done) => return Ok(Some(written(done, now))),
            Step::OutOfMemory => return Err(s.store().out_of_memory()),
            Step::NeedBuffer { len, growing } => (len, growing),
        };
        let slack = if growing { (len / 2).min(GROWTH_SLACK_MAX) } else { 0 };
        spare = Some(Vec::with_capacity(len + slack));
        if attempt == REWRITE_ATTEMPTS {
            break;
        }
    }
    // Still racing with other writers: finish under one lock, allocating there.
    s.on_at_g(at, |shard, now, g| {
        loop {
            match shard.rewrite(at.1, key, edit, &mut spare, now, g) {
                Step::Kept => return Ok(None),
                Step::Wrote(done) => return Ok(Some(written(done, now))),
                Step::OutOfMemory => return Err(s.store().out_of_memory()),
                Step::NeedBuffer { len, .. } => spare = Some(Vec::with_capacity(len)),
            }
        }
    })
}

/// SET with every option: the NX/XX condition, an expiry (or KEEPTTL), and GET (the old
/// value comes back too). An [`Expiry::In`] of zero (a deadline already past) deletes the
/// key if the condition allows, as Redis's SET with an EXAT in the past does.
pub(super) fn set_with<S: Stripes>(
    s: &S,
    key: &[u8],
    value: &[u8],
    opts: SetOptions,
) -> Result<SetOutcome, StoreError> {
    if opts.expiry == Expiry::In(Duration::ZERO) {
        return Ok(take(s, key, opts.cond, opts.get));
    }
    let at = s.store().place(key);
    let entry = Draft::new(at.1, key, value).ok_or_else(|| key_too_large(key))?;
    let (outcome, done, old, now) = s.on_at_g(at, |shard, now, g| {
        let (at, keep) = match opts.expiry {
            Expiry::Persist => (0, false),
            Expiry::Keep => (0, true),
            Expiry::In(ttl) => (deadline(now, Some(ttl)), false),
        };
        let (outcome, done, old) = shard.set_with(entry, at, keep, opts.cond, opts.get, now, g);
        (outcome, done, old, now)
    });
    match outcome {
        Outcome::OutOfMemory => Err(s.store().out_of_memory()),
        Outcome::Written | Outcome::Skipped => {
            Ok(SetOutcome { written: done.map(|d| written(d, now)), old })
        }
    }
}

/// GETDEL: `key`'s live value, which is then deleted (leaving a tombstone when the store
/// keeps them).
pub(super) fn get_del<S: Stripes>(s: &S, key: &[u8]) -> Option<Fetched> {
    let SetOutcome { written, old } = take(s, key, SetCond::Always, true);
    old.map(|value| Fetched { value, written })
}

/// GETEX: `key`'s live value, after which its expiry becomes `expiry`. A zero
/// [`Expiry::In`] (EXAT in the past) deletes the key, as in Redis.
pub(super) fn get_ex<S: Stripes>(s: &S, key: &[u8], expiry: Expiry) -> Option<Fetched> {
    if expiry == Expiry::In(Duration::ZERO) {
        return get_del(s, key);
    }
    s.on_key(key, |shard, h, now| {
        let at = match expiry {
            Expiry::Keep => None,
            Expiry::Persist => Some(0),
            Expiry::In(ttl) => Some(deadline(now, Some(ttl))),
        };
        let (value, done) = shard.get_ex(h, key, at, now)?;
        Some(Fetched { value, written: done.map(|d| written(d, now)) })
    })
}

/// Deletes `key` if `cond` allows, returning the old value when `get`.
fn take<S: Stripes>(s: &S, key: &[u8], cond: SetCond, get: bool) -> SetOutcome {
    let store = s.store();
    let at = store.place(key);
    let tomb = store.tombstone_draft(at.1, key);
    let (allowed, old, version) = s.on_at_g(at, |shard, now, g| {
        let tomb = store.tombstone_at(tomb, now);
        shard.take(at.1, key, cond, get, tomb, now, g)
    });
    let version = if allowed { version.or_else(|| Some(store.hlc().now())) } else { None };
    let written = version.map(|version| Written { version, ttl: None, live: false });
    SetOutcome { written, old }
}

/// MSETNX: writes every pair (no TTL) only if none of the keys is live, atomically: the
/// stripes involved are held together. `Ok(false)` if a key existed. A write refused for
/// memory part way leaves the pairs before it written.
pub(super) fn mset_nx<S: Stripes>(s: &S, pairs: &[(Bytes, Bytes)]) -> Result<bool, StoreError> {
    let mut drafts = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        let (stripe, hash) = s.store().place(key);
        let draft = Draft::new(hash, key, value).ok_or_else(|| key_too_large(key))?;
        drafts.push((stripe, draft));
    }
    let mut stripes: Vec<usize> = drafts.iter().map(|(s, _)| *s).collect();
    stripes.sort_unstable();
    stripes.dedup();
    s.on_many(&stripes, |held, now, g| {
        let at = |i: usize| stripes.binary_search(&i).unwrap_or_default();
        let taken = drafts.iter().any(|(i, d)| held[at(*i)].exists(d.hash(), d.key(), now));
        if taken {
            drafts.into_iter().for_each(|(_, d)| d.discard(g));
            return Ok(false);
        }
        let mut drafts = drafts.into_iter();
        let refused = drafts
            .by_ref()
            .any(|(i, d)| held[at(i)].set(d, 0, SetCond::Always, now, g) == Outcome::OutOfMemory);
        drafts.for_each(|(_, d)| d.discard(g));
        if refused { Err(s.store().out_of_memory()) } else { Ok(true) }
    })
}

/// What a write left, from its version and deadline, as seen at `now`.
fn written(done: Done, now: u64) -> Written {
    let ttl = (done.deadline != 0).then(|| Duration::from_nanos(done.deadline.saturating_sub(now)));
    Written { version: done.version, ttl, live: true }
}
