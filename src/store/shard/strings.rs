//! The shard's string operations beyond plain GET/SET, all under the shard lock: reads
//! that look at a value where it lies, read-modify-writes ([`Edit`]) done in place when the
//! new value fits, SET with its options (KEEPTTL, GET), GETDEL and GETEX. Each write is
//! stamped by the store's clock like any plain write and reports what it left
//! ([`Done`]: version and deadline).

use bytes::Bytes;

use super::{Garbage, Shard};
use crate::store::SetCond;
use crate::store::draft::Draft;
use crate::store::edit::{Edit, Plan};
use crate::store::entry::{ENTRY_OVERHEAD, INLINE_VALUE_MAX};
use crate::store::shard::Outcome;

/// A write's version and the deadline it left (`0`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) struct Done {
    pub(in crate::store) version: u64,
    pub(in crate::store) deadline: u64,
}

/// How a [`Shard::rewrite`] ended.
#[derive(Debug)]
pub(in crate::store) enum Step {
    /// The edit planned nothing.
    Kept,
    /// Written.
    Wrote(Done),
    /// The new value is big and needs a buffer of `len` bytes that the caller should
    /// allocate outside the lock, then try again; `growing` when it extends a live value
    /// (worth some spare room: appends come in series).
    NeedBuffer { len: usize, growing: bool },
    /// Over the memory budget, or the shard is out of room.
    OutOfMemory,
}

impl Shard {
    /// Runs `f` on `key`'s live value (`None` if absent) where it lies, counting a hit or a
    /// miss and marking the key used, like GET. A big value is handed back instead, so the
    /// caller can look at it after unlocking.
    pub(in crate::store) fn read(
        &mut self,
        hash: u32,
        key: &[u8],
        now: u64,
        f: &mut dyn FnMut(Option<&[u8]>),
    ) -> Option<Bytes> {
        let Some(i) = self.find_counted(hash, key, now) else {
            f(None);
            return None;
        };
        let value = self.entries[i].value_slice(&self.slab);
        if value.len() > INLINE_VALUE_MAX {
            return Some(self.entries[i].value(&self.slab));
        }
        f(Some(value));
        None
    }

    /// The live entry for `key`, counted as a hit (and marked used) or a miss.
    fn find_counted(&mut self, hash: u32, key: &[u8], now: u64) -> Option<usize> {
        let found = self.find_live(hash, key, now);
        match found {
            Some(i) => {
                self.counters.hits += 1;
                self.entries[i].set_visited(true);
            }
            None => self.counters.misses += 1,
        }
        found
    }

    /// A read-modify-write of `key` (see [`Edit`]). A big new value is built in `spare`,
    /// which the caller allocates outside the lock when asked ([`Step::NeedBuffer`]);
    /// anything smaller is built on the stack, and a value that fits its old place is
    /// changed right there.
    pub(in crate::store) fn rewrite(
        &mut self,
        hash: u32,
        key: &[u8],
        edit: &mut dyn Edit,
        spare: &mut Option<Vec<u8>>,
        now: u64,
        g: &mut Garbage,
    ) -> Step {
        let mut held = self.find_held(hash, key, now);
        let live = |s: &Self, held: Option<usize>| held.filter(|&i| !s.entries[i].is_tombstone());
        let old = live(self, held).map(|i| self.entries[i].value_slice(&self.slab));
        let Plan::Write(len) = edit.plan(old) else { return Step::Kept };
        if !self.admit(&mut held, key.len() + len + ENTRY_OVERHEAD, now, g) {
            return Step::OutOfMemory;
        }
        let live = live(self, held);
        let deadline = live.map_or(0, |i| self.entries[i].expires_at());
        let version = self.stamp(held.map_or(0, |i| self.entries[i].version()));
        let done = Done { version, deadline };
        if let Some(i) = live {
            let apply = &mut |v: &mut [u8]| edit.apply(v);
            if let Some(old_len) = self.entries[i].edit_in_place(&mut self.slab, len, apply) {
                self.entries[i].set_version(version);
                self.counters.used = (self.counters.used + len).saturating_sub(old_len);
                return Step::Wrote(done);
            }
        }
        let visited = live.is_some_and(|i| self.entries[i].is_visited());
        let old = live.map_or(&[][..], |i| self.entries[i].value_slice(&self.slab));
        let mut stack = [0u8; INLINE_VALUE_MAX];
        let draft = if len <= INLINE_VALUE_MAX {
            let value = &mut stack[..len];
            refill(value, old);
            edit.apply(value);
            Draft::new(hash, key, value)
        } else {
            let Some(mut value) = spare.take_if(|v| v.capacity() >= len) else {
                return Step::NeedBuffer { len, growing: live.is_some() && len > old.len() };
            };
            value.clear();
            value.extend_from_slice(&old[..old.len().min(len)]);
            value.resize(len, 0);
            edit.apply(&mut value);
            Draft::with_big(hash, key, Bytes::from(value))
        };
        let Some(mut draft) = draft else { return Step::OutOfMemory };
        draft.set_expiry(deadline);
        draft.set_version(version);
        draft.set_visited(visited);
        let stored = match held {
            Some(i) => self.replace_at(i, draft, g),
            None => self.insert_new(draft, g),
        };
        match stored {
            Ok(()) => Step::Wrote(done),
            Err(draft) => {
                draft.discard(g);
                Step::OutOfMemory
            }
        }
    }

    /// SET with KEEPTTL and GET: stores `entry` if `cond` allows, with `deadline` or, when
    /// `keep_ttl`, the deadline the live key had. The old value comes back when `get` (a
    /// lookup counted like GET's).
    #[allow(clippy::too_many_arguments)]
    pub(in crate::store) fn set_with(
        &mut self,
        mut entry: Draft<'_>,
        deadline: u64,
        keep_ttl: bool,
        cond: SetCond,
        get: bool,
        now: u64,
        g: &mut Garbage,
    ) -> (Outcome, Option<Done>, Option<Bytes>) {
        let held = self.find_held(entry.hash(), entry.key(), now);
        let live = held.filter(|&i| !self.entries[i].is_tombstone());
        let old = get.then(|| self.counted_value(live)).flatten();
        if !cond.allows(live.is_some()) {
            entry.discard(g);
            return (Outcome::Skipped, None, old);
        }
        let deadline = match (keep_ttl, live) {
            (true, Some(i)) => self.entries[i].expires_at(),
            (true, None) => 0,
            (false, _) => deadline,
        };
        let version = self.stamp(held.map_or(0, |i| self.entries[i].version()));
        entry.set_expiry(deadline);
        entry.set_version(version);
        entry.set_visited(live.is_some_and(|i| self.entries[i].is_visited()));
        if !self.store(held, entry, now, g) {
            return (Outcome::OutOfMemory, None, old);
        }
        (Outcome::Written, Some(Done { version, deadline }), old)
    }

    /// The live value at `live` counted as a hit, or a miss for `None`.
    fn counted_value(&mut self, live: Option<usize>) -> Option<Bytes> {
        match live {
            Some(i) => {
                self.counters.hits += 1;
                Some(self.entries[i].value(&self.slab))
            }
            None => {
                self.counters.misses += 1;
                None
            }
        }
    }

    /// Deletes `key` if `cond` allows (replaced by `tomb`, stamped, if given): GETDEL, and
    /// SET with a deadline already past. Returns whether `cond` allowed it, the old value
    /// when `get` (a lookup counted like GET's), and the delete's version if a live key
    /// went (the tombstone's, or a fresh one without a tombstone).
    #[allow(clippy::too_many_arguments)]
    pub(in crate::store) fn take(
        &mut self,
        hash: u32,
        key: &[u8],
        cond: SetCond,
        get: bool,
        tomb: Option<Draft<'_>>,
        now: u64,
        g: &mut Garbage,
    ) -> (bool, Option<Bytes>, Option<u64>) {
        let live = self.find_live(hash, key, now);
        let old = get.then(|| self.counted_value(live)).flatten();
        let with_tomb = tomb.is_some();
        let deleted = self.delete(hash, key, cond, tomb, now, g);
        if deleted != Some(true) {
            return (deleted.is_some(), old, None);
        }
        let kept = if with_tomb { self.find_held(hash, key, now) } else { None };
        let version = kept.map_or_else(|| self.hlc.now(), |i| self.entries[i].version());
        (true, old, Some(version))
    }

    /// GETEX: the live value of `key`, whose deadline then becomes `deadline` (`0`: none)
    /// unless that is `None`. The change is stamped only if the deadline changed.
    pub(in crate::store) fn get_ex(
        &mut self,
        hash: u32,
        key: &[u8],
        deadline: Option<u64>,
        now: u64,
    ) -> Option<(Bytes, Option<Done>)> {
        let i = self.find_counted(hash, key, now)?;
        let value = self.entries[i].value(&self.slab);
        let done = deadline.filter(|&d| d != self.entries[i].expires_at()).map(|d| {
            let version = self.stamp(self.entries[i].version());
            self.redeadline(i, d);
            self.entries[i].set_version(version);
            Done { version, deadline: d }
        });
        Some((value, done))
    }
}

/// Fills `value` with `old`, cut to its length or zero-padded.
fn refill(value: &mut [u8], old: &[u8]) {
    let n = old.len().min(value.len());
    value[..n].copy_from_slice(&old[..n]);
    value[n..].fill(0);
}
