//! The store's string operations beyond plain GET/SET, one stripe lock each: reads that
//! look at a value in place ([`Store::read`]), read-modify-writes ([`Store::rewrite`],
//! behind INCR, APPEND, SETRANGE, SETBIT, ...), SET with every option
//! ([`Store::set_with`]), GETDEL, GETEX, and MSETNX over several stripes at once.
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
use super::entry::{deadline, key_meta, split_hash};
use super::shard::{Done, Outcome, Step};
use super::slab::Garbage;
use super::{SetCond, Store, StoreError, key_too_large};

/// Times a read-modify-write goes back to allocate a big buffer outside the lock (someone
/// changed the value meanwhile) before it allocates under the lock instead.
const REWRITE_ATTEMPTS: usize = 4;

/// Most spare room given to a value that grows (APPEND, SETRANGE or SETBIT past its end):
/// half its length up to this, so a series of appends copies the value O(log n) times.
const GROWTH_SLACK_MAX: usize = 1 << 20;

impl Store {
    /// Runs `f` on `key`'s live value (`None` if absent), counting a hit or a miss like
    /// [`Store::get`]. A small value is looked at under the lock where it lies; a big one
    /// after unlocking, through a shared handle, so long scans (BITCOUNT) hold no lock.
    pub fn read(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) {
        let big = self.with_shard(key, |s, h, now| s.read(h, key, now, &mut *f));
        if let Some(value) = big {
            f(Some(&value));
        }
    }

    /// A read-modify-write of `key`'s value (see [`Edit`]): `Ok(None)` when the edit planned
    /// nothing, else what the write left. The key keeps its TTL.
    pub fn rewrite(&self, key: &[u8], edit: &mut dyn Edit) -> Result<Option<Written>, StoreError> {
        key_meta(key).ok_or_else(|| key_too_large(key))?;
        let (shard, hash) = self.locate(key);
        let mut spare: Option<Vec<u8>> = None;
        for attempt in 1..=REWRITE_ATTEMPTS {
            let mut garbage = Garbage::default();
            let (step, now) = {
                let mut shard = shard.lock();
                let now = self.clock.now();
                (shard.rewrite(hash, key, edit, &mut spare, now, &mut garbage), now)
            };
            drop(garbage);
            let (len, growing) = match step {
                Step::Kept => return Ok(None),
                Step::Wrote(done) => return Ok(Some(written(done, now))),
                Step::OutOfMemory => return Err(self.out_of_memory()),
                Step::NeedBuffer { len, growing } => (len, growing),
            };
            let slack = if growing { (len / 2).min(GROWTH_SLACK_MAX) } else { 0 };
            spare = Some(Vec::with_capacity(len + slack));
            if attempt == REWRITE_ATTEMPTS {
                break;
            }
        }
        // Still racing with other writers: finish under one lock, allocating there.
        let mut garbage = Garbage::default();
        let mut shard = shard.lock();
        let now = self.clock.now();
        loop {
            match shard.rewrite(hash, key, edit, &mut spare, now, &mut garbage) {
                Step::Kept => return Ok(None),
                Step::Wrote(done) => return Ok(Some(written(done, now))),
                Step::OutOfMemory => return Err(self.out_of_memory()),
                Step::NeedBuffer { len, .. } => spare = Some(Vec::with_capacity(len)),
            }
        }
    }

    /// SET with every option: the NX/XX condition, an expiry (or KEEPTTL), and GET (the old
    /// value comes back too). An [`Expiry::In`] of zero (a deadline already past) deletes
    /// the key if the condition allows, as Redis's SET with an EXAT in the past does.
    pub fn set_with(
        &self,
        key: &[u8],
        value: &[u8],
        opts: SetOptions,
    ) -> Result<SetOutcome, StoreError> {
        if opts.expiry == Expiry::In(Duration::ZERO) {
            return Ok(self.take(key, opts.cond, opts.get));
        }
        let (shard, hash) = self.locate(key);
        let entry = Draft::new(hash, key, value).ok_or_else(|| key_too_large(key))?;
        let mut garbage = Garbage::default();
        let (outcome, done, old, now) = {
            let mut shard = shard.lock();
            let now = self.clock.now();
            let (at, keep) = match opts.expiry {
                Expiry::Persist => (0, false),
                Expiry::Keep => (0, true),
                Expiry::In(ttl) => (deadline(now, Some(ttl)), false),
            };
            let (outcome, done, old) =
                shard.set_with(entry, at, keep, opts.cond, opts.get, now, &mut garbage);
            (outcome, done, old, now)
        };
        drop(garbage);
        match outcome {
            Outcome::OutOfMemory => Err(self.out_of_memory()),
            Outcome::Written | Outcome::Skipped => {
                Ok(SetOutcome { written: done.map(|d| written(d, now)), old })
            }
        }
    }

    /// GETDEL: `key`'s live value, which is then deleted (leaving a tombstone when the
    /// store keeps them).
    pub fn get_del(&self, key: &[u8]) -> Option<Fetched> {
        let SetOutcome { written, old } = self.take(key, SetCond::Always, true);
        old.map(|value| Fetched { value, written })
    }

    /// GETEX: `key`'s live value, after which its expiry becomes `expiry`. A zero
    /// [`Expiry::In`] (EXAT in the past) deletes the key, as in Redis.
    pub fn get_ex(&self, key: &[u8], expiry: Expiry) -> Option<Fetched> {
        if expiry == Expiry::In(Duration::ZERO) {
            return self.get_del(key);
        }
        self.with_shard(key, |s, h, now| {
            let at = match expiry {
                Expiry::Keep => None,
                Expiry::Persist => Some(0),
                Expiry::In(ttl) => Some(deadline(now, Some(ttl))),
            };
            let (value, done) = s.get_ex(h, key, at, now)?;
            Some(Fetched { value, written: done.map(|d| written(d, now)) })
        })
    }

    /// Deletes `key` if `cond` allows, returning the old value when `get`.
    fn take(&self, key: &[u8], cond: SetCond, get: bool) -> SetOutcome {
        let (shard, hash) = self.locate(key);
        let tomb = if self.opts.tombstones { Draft::tombstone(hash, key) } else { None };
        let mut garbage = Garbage::default();
        let (allowed, old, version) = {
            let mut shard = shard.lock();
            let now = self.clock.now();
            let tomb = tomb.map(|mut t| {
                t.set_expiry(deadline(now, Some(self.opts.tombstone_ttl)));
                t
            });
            shard.take(hash, key, cond, get, tomb, now, &mut garbage)
        };
        drop(garbage);
        let version = if allowed { version.or_else(|| Some(self.hlc.now())) } else { None };
        let written = version.map(|version| Written { version, ttl: None, live: false });
        SetOutcome { written, old }
    }

    /// MSETNX: writes every pair (no TTL) only if none of the keys is live, atomically:
    /// the stripes involved are locked together, in index order. `Ok(false)` if a key
    /// existed. A write refused for memory part way leaves the pairs before it written.
    pub fn mset_nx(&self, pairs: &[(Bytes, Bytes)]) -> Result<bool, StoreError> {
        let mut drafts = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let (stripe, hash) = self.stripe_of(key);
            let draft = Draft::new(hash, key, value).ok_or_else(|| key_too_large(key))?;
            drafts.push((stripe, draft));
        }
        let mut stripes: Vec<usize> = drafts.iter().map(|(s, _)| *s).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut garbage = Garbage::default();
        let done = {
            let mut guards: Vec<_> = stripes.iter().map(|&s| self.slots[s].0.lock()).collect();
            let now = self.clock.now();
            let at = |s: usize| stripes.binary_search(&s).unwrap_or_default();
            let taken = drafts.iter().any(|(s, d)| guards[at(*s)].exists(d.hash(), d.key(), now));
            if taken {
                drafts.into_iter().for_each(|(_, d)| d.discard(&mut garbage));
                Ok(false)
            } else {
                let mut drafts = drafts.into_iter();
                let refused = drafts.by_ref().any(|(s, d)| {
                    guards[at(s)].set(d, 0, SetCond::Always, now, &mut garbage)
                        == Outcome::OutOfMemory
                });
                drafts.for_each(|(_, d)| d.discard(&mut garbage));
                if refused { Err(self.out_of_memory()) } else { Ok(true) }
            }
        };
        drop(garbage);
        done
    }
}

impl Store {
    /// `key`'s stripe index and its 32-bit table hash.
    fn stripe_of(&self, key: &[u8]) -> (usize, u32) {
        let (stripe, hash) = split_hash(self.hasher.hash_one(key));
        (stripe & self.mask, hash)
    }
}

/// What a write left, from its version and deadline, as seen at `now`.
fn written(done: Done, now: u64) -> Written {
    let ttl = (done.deadline != 0).then(|| Duration::from_nanos(done.deadline.saturating_sub(now)));
    Written { version: done.version, ttl, live: true }
}
