//! [`Stripes`]: how a keyspace operation reaches the stripe (shard) holding a key, so each
//! operation is written once and runs both on a [`Store`] (locking the one stripe it needs,
//! for that operation only) and on a [`Locked`](super::Locked) view (every stripe already
//! held, inside EXEC). Owns the locking discipline: several stripes are always taken in
//! index order, never two at once otherwise, and what an operation frees is dropped after
//! its locks are released.

use std::time::Duration;

use hashbrown::HashTable;

use super::Store;
use super::shard::Shard;
use super::slab::Garbage;

/// Two keys' stripes, for operations over two keys (RENAME, COPY). When both keys live in
/// one stripe, `b` is `None` and both are reached through `a`.
pub(super) struct Pair<'s> {
    pub(super) a: &'s mut Shard,
    pub(super) b: Option<&'s mut Shard>,
}

impl Pair<'_> {
    /// The second key's stripe (the first's when they share it).
    pub(super) fn second(&mut self) -> &mut Shard {
        match &mut self.b {
            Some(b) => b,
            None => self.a,
        }
    }
}

/// Where a key lives: its stripe's index and its 32-bit table hash ([`Store::place`]).
pub(super) type Place = (usize, u32);

/// Access to a store's stripes. Every method runs its closure with the clock reading the
/// operation is decided at (`now`, nanoseconds of [`Store`]'s clock).
pub(super) trait Stripes {
    /// The store these stripes belong to: hashing, options, clocks.
    fn store(&self) -> &Store;

    /// The wall clock, for absolute deadlines.
    fn wall(&self) -> Duration;

    /// Runs `f(stripe, now)` on the stripe at `at`.
    fn on_at<R>(&self, at: Place, f: impl FnOnce(&mut Shard, u64) -> R) -> R;

    /// Like [`Stripes::on_at`], collecting freed storage to drop after the locks.
    fn on_at_g<R>(&self, at: Place, f: impl FnOnce(&mut Shard, u64, &mut Garbage) -> R) -> R;

    /// Runs `f` on the stripes at `a` and `b` (taken in index order when they differ).
    fn on_pair<R>(&self, a: Place, b: Place, f: impl FnOnce(Pair<'_>, u64, &mut Garbage) -> R)
    -> R;

    /// Runs `f(index, stripe, now)` on each stripe in index order, one at a time, until it
    /// returns `false`.
    fn on_each(&self, f: impl FnMut(usize, &mut Shard, u64) -> bool);

    /// Runs `f` on the stripes listed in `stripes` (sorted, no repeats), all held at once
    /// (taken in index order); `f` gets them in that order (MSETNX).
    fn on_many<R>(
        &self,
        stripes: &[usize],
        f: impl FnOnce(&mut [&mut Shard], u64, &mut Garbage) -> R,
    ) -> R;

    /// Runs `f(stripe, table hash, now)` on `key`'s stripe.
    #[inline]
    fn on_key<R>(&self, key: &[u8], f: impl FnOnce(&mut Shard, u32, u64) -> R) -> R {
        let at = self.store().place(key);
        self.on_at(at, |s, now| f(s, at.1, now))
    }
}

impl Store {
    /// What follows a locked call once its stripes are unlocked: frees its garbage and, if
    /// one of `stripes` asked for an index table ahead of a growth, allocates it here and
    /// offers it to them (see `shard/index.rs`).
    fn after_unlock(&self, garbage: Garbage, stripes: &[usize]) {
        let wanted = garbage.table_wanted();
        drop(garbage);
        let Some(room) = wanted else { return };
        let mut table = HashTable::with_capacity(room);
        for &i in stripes {
            // What a stripe gives back (this table, or a spare it replaced) is offered on,
            // and freed here, unlocked.
            let back = self.slots[i].0.lock().offer_table(table);
            match back {
                Some(back) => table = back,
                None => return,
            }
        }
    }
}

impl Stripes for Store {
    fn store(&self) -> &Store {
        self
    }

    fn wall(&self) -> Duration {
        self.clock.wall()
    }

    #[inline]
    fn on_at<R>(&self, at: Place, f: impl FnOnce(&mut Shard, u64) -> R) -> R {
        self.check_not_held();
        let mut shard = self.slots[at.0].0.lock();
        let now = self.clock.now();
        f(&mut shard, now)
    }

    /// The key's place is computed once, by [`Store::with_shard`].
    #[inline]
    fn on_key<R>(&self, key: &[u8], f: impl FnOnce(&mut Shard, u32, u64) -> R) -> R {
        self.with_shard(key, f)
    }

    #[inline]
    fn on_at_g<R>(&self, at: Place, f: impl FnOnce(&mut Shard, u64, &mut Garbage) -> R) -> R {
        let mut garbage = Garbage::default();
        let r = self.on_at(at, |s, now| f(s, now, &mut garbage));
        self.after_unlock(garbage, &[at.0]);
        r
    }

    fn on_pair<R>(
        &self,
        a: Place,
        b: Place,
        f: impl FnOnce(Pair<'_>, u64, &mut Garbage) -> R,
    ) -> R {
        self.check_not_held();
        let (ia, ib) = (a.0, b.0);
        let mut garbage = Garbage::default();
        let r = if ia == ib {
            let mut s = self.slots[ia].0.lock();
            let now = self.clock.now();
            f(Pair { a: &mut s, b: None }, now, &mut garbage)
        } else {
            // Index order, as every path taking several stripes does.
            let mut lo = self.slots[ia.min(ib)].0.lock();
            let mut hi = self.slots[ia.max(ib)].0.lock();
            let now = self.clock.now();
            let (sa, sb) = if ia < ib { (&mut *lo, &mut *hi) } else { (&mut *hi, &mut *lo) };
            f(Pair { a: sa, b: Some(sb) }, now, &mut garbage)
        };
        self.after_unlock(garbage, &[ia, ib]);
        r
    }

    fn on_many<R>(
        &self,
        stripes: &[usize],
        f: impl FnOnce(&mut [&mut Shard], u64, &mut Garbage) -> R,
    ) -> R {
        self.check_not_held();
        let mut garbage = Garbage::default();
        let r = {
            let mut guards: Vec<_> = stripes.iter().map(|&i| self.slots[i].0.lock()).collect();
            let now = self.clock.now();
            let mut held: Vec<&mut Shard> = guards.iter_mut().map(|g| &mut **g).collect();
            f(&mut held, now, &mut garbage)
        };
        self.after_unlock(garbage, stripes);
        r
    }

    fn on_each(&self, mut f: impl FnMut(usize, &mut Shard, u64) -> bool) {
        self.check_not_held();
        for (i, slot) in self.slots.iter().enumerate() {
            let mut s = slot.0.lock();
            let now = self.clock.now();
            if !f(i, &mut s, now) {
                return;
            }
        }
    }
}
