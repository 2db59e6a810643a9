//! [`Locked`]: the store with every stripe held, the view EXEC runs a transaction on
//! ([`Store::lock_all`]). It implements [`Keyspace`](super::Keyspace) through the same
//! operations a [`Store`] runs (see `stripes.rs`), on the guards it already holds, so the
//! same command code runs atomically: no other client's command can touch any key until
//! the view is dropped.
//!
//! The guards are taken in index order, the one order every path holding several stripes
//! uses, so taking them cannot deadlock with a RENAME or a FLUSHALL. The clock is read once,
//! when the last guard is taken: a transaction happens at one instant, and a key that is
//! live for its first command is live for its last. What the transaction frees (replaced
//! values, flushed stripes) is dropped after the guards are released.
//!
//! While a thread holds a `Locked`, its [`Store`] must not be used directly on that thread
//! (each stripe's mutex is already held: it would deadlock). Debug builds check this on every
//! store entry point and panic instead.

use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::MutexGuard;

use super::Store;
use super::shard::{Budget, Shard, Storage};
use super::slab::Garbage;
use super::stripes::{Pair, Place, Stripes};

thread_local! {
    /// The address of the store whose stripes this thread holds through a [`Locked`], or 0.
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// Every stripe of a store, held. Dropping it releases them (then frees what the
/// transaction displaced).
pub struct Locked<'a> {
    store: &'a Store,
    guards: RefCell<Vec<MutexGuard<'a, Shard>>>,
    now: u64,
    wall: Duration,
    garbage: RefCell<Garbage>,
    flushed: RefCell<Vec<Storage>>,
}

impl std::fmt::Debug for Locked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locked").field("stripes", &self.store.slots.len()).finish_non_exhaustive()
    }
}

impl Store {
    /// Takes every stripe's lock, in index order, and reads the clock once: until the view
    /// is dropped, no other operation on this store runs. For EXEC; keep the hold short.
    pub fn lock_all(&self) -> Locked<'_> {
        self.check_not_held();
        let guards: Vec<_> = self.slots.iter().map(|s| s.0.lock()).collect();
        HELD.with(|h| h.set(self.id()));
        Locked {
            store: self,
            guards: RefCell::new(guards),
            now: self.clock.now(),
            wall: self.clock.wall(),
            garbage: RefCell::default(),
            flushed: RefCell::default(),
        }
    }

    fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Debug builds: panics if this thread holds every stripe of this store already (it is
    /// inside EXEC and must go through its [`Locked`] view), which would deadlock.
    #[inline]
    pub(super) fn check_not_held(&self) {
        debug_assert!(
            HELD.with(Cell::get) != self.id(),
            "this thread holds every stripe (EXEC): use the Locked view, not the Store"
        );
    }
}

impl Locked<'_> {
    /// The store's time when the view was taken.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Empties every stripe, keeping the storage to free after the guards drop, and moves
    /// the flush epoch (WATCH counts a flush as a change of every key).
    pub(super) fn flush_all(&self) {
        let mut flushed = self.flushed.borrow_mut();
        for g in self.guards.borrow_mut().iter_mut() {
            flushed.push(g.take_all());
        }
        self.store.flushes.fetch_add(1, Ordering::AcqRel);
    }

    /// Gives every stripe the memory budget `b`.
    pub(super) fn set_budget(&self, b: Budget) {
        for g in self.guards.borrow_mut().iter_mut() {
            g.set_budget(b);
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        HELD.with(|h| h.set(0));
        // Release the stripes first; the garbage and flushed storage fields drop after.
        self.guards.get_mut().clear();
    }
}

impl Stripes for Locked<'_> {
    fn store(&self) -> &Store {
        self.store
    }

    fn wall(&self) -> Duration {
        self.wall
    }

    fn on_at<R>(&self, at: Place, f: impl FnOnce(&mut Shard, u64) -> R) -> R {
        f(&mut self.guards.borrow_mut()[at.0], self.now)
    }

    fn on_at_g<R>(&self, at: Place, f: impl FnOnce(&mut Shard, u64, &mut Garbage) -> R) -> R {
        f(&mut self.guards.borrow_mut()[at.0], self.now, &mut self.garbage.borrow_mut())
    }

    fn on_pair<R>(
        &self,
        a: Place,
        b: Place,
        f: impl FnOnce(Pair<'_>, u64, &mut Garbage) -> R,
    ) -> R {
        let (ia, ib) = (a.0, b.0);
        let mut guards = self.guards.borrow_mut();
        let garbage = &mut *self.garbage.borrow_mut();
        if ia == ib {
            return f(Pair { a: &mut guards[ia], b: None }, self.now, garbage);
        }
        let (lo, hi) = guards.split_at_mut(ia.max(ib));
        let (low, high) = (&mut *lo[ia.min(ib)], &mut *hi[0]);
        let (sa, sb) = if ia < ib { (low, high) } else { (high, low) };
        f(Pair { a: sa, b: Some(sb) }, self.now, garbage)
    }

    fn on_many<R>(
        &self,
        stripes: &[usize],
        f: impl FnOnce(&mut [&mut Shard], u64, &mut Garbage) -> R,
    ) -> R {
        let mut guards = self.guards.borrow_mut();
        let mut held: Vec<&mut Shard> = guards
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| stripes.binary_search(i).is_ok())
            .map(|(_, g)| &mut **g)
            .collect();
        f(&mut held, self.now, &mut self.garbage.borrow_mut())
    }

    fn on_each(&self, mut f: impl FnMut(usize, &mut Shard, u64) -> bool) {
        for (i, g) in self.guards.borrow_mut().iter_mut().enumerate() {
            if !f(i, g, self.now) {
                return;
            }
        }
    }
}
