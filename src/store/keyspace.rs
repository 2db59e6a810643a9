//! [`Keyspace`]: the interface command code is written against. [`Store`] implements it by
//! locking the stripe (or two) each operation needs; [`Locked`], the view EXEC runs on,
//! implements it on the guards of every stripe it already holds. Both run the same
//! operations (`ops.rs`, `walk.rs`, over `stripes.rs`), so a command behaves the same
//! inside a transaction as outside, only atomically with the transaction's other commands.
//!
//! # The EXEC hook
//!
//! [`Keyspace::exclusive`] runs a closure on a keyspace no other client can touch meanwhile:
//! for a `Store` it takes every stripe's mutex in index order ([`Store::lock_all`]; the one
//! order every multi-stripe path uses, so no deadlock) and reads the clock once; reclaimed
//! storage is freed after the guards drop. EXEC runs its queued commands' `apply` against a
//! `Ctx` whose keyspace is that view, so no other client's command interleaves. WATCH
//! records each watched key's [`WatchMark`] (its version, or for an absent key the count of
//! key creations in its hash bucket, plus the store's flush epoch); EXEC compares them again
//! under the locks and aborts if any may have changed.

use std::time::Duration;

use bytes::Bytes;

use super::{
    Change, Deadline, Edit, ExpireCond, Expiry, Fetched, KeyInfo, Locked, Lww, SetCond, SetOptions,
    SetOutcome, Store, StoreError, TtlState, WatchMark, Written, ops, strings, walk,
};

/// The key operations commands use. Every method is one atomic step on the keyspace.
pub trait Keyspace {
    /// The live value of `key`; counts a hit or a miss.
    fn get(&self, key: &[u8]) -> Option<Bytes>;

    /// Writes `key = value` if `cond` allows (`Ok(false)` if it did not); `ttl` `None` is
    /// persistent, a zero TTL deletes.
    fn set(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
        cond: SetCond,
    ) -> Result<bool, StoreError>;

    /// Removes `key`; whether a live key went.
    fn del(&self, key: &[u8]) -> bool;

    /// Whether `key` is live.
    fn exists(&self, key: &[u8]) -> bool;

    /// `key`'s expiry state.
    fn ttl(&self, key: &[u8]) -> TtlState;

    /// Gives the live `key` the deadline `at` if `cond` allows it; a deadline not after now
    /// deletes the key. `Missing` without a live key, `Refused` if `cond` said no.
    fn expire(&self, key: &[u8], at: Deadline, cond: ExpireCond) -> Change;

    /// Removes `key`'s TTL; `true` only if it had one.
    fn persist(&self, key: &[u8]) -> bool;

    /// Keys held (expired ones not yet reclaimed included).
    fn len(&self) -> usize;

    /// Whether [`Keyspace::len`] is zero.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key, atomically.
    fn flush(&self);

    /// A last-writer-wins write, or delete for `value` `None` leaving a tombstone
    /// (replication): applied iff `version` wins over what `key` holds.
    fn write_versioned(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        ttl: Option<Duration>,
        version: u64,
    ) -> Result<Lww, StoreError>;

    /// The keyspace's clock now (a version no write has used), sent back with each
    /// versioned write's answer so writers behind it catch up.
    fn clock(&self) -> u64;

    // String operations beyond GET/SET (INCR, APPEND, SETRANGE, bits, GETEX, ...).

    /// Runs `f` on `key`'s live value (`None` if absent); counts a hit or a miss.
    fn read(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>));

    /// A read-modify-write of `key`'s value (see [`Edit`]), keeping its TTL: `Ok(None)` if
    /// the edit planned nothing, else what the write left.
    fn rewrite(&self, key: &[u8], edit: &mut dyn Edit) -> Result<Option<Written>, StoreError>;

    /// SET with its options (NX/XX, expiry or KEEPTTL, GET).
    fn set_with(
        &self,
        key: &[u8],
        value: &[u8],
        opts: SetOptions,
    ) -> Result<SetOutcome, StoreError>;

    /// GETDEL: the live value, then the key is deleted.
    fn get_del(&self, key: &[u8]) -> Option<Fetched>;

    /// GETEX: the live value, then the key's expiry becomes `expiry`.
    fn get_ex(&self, key: &[u8], expiry: Expiry) -> Option<Fetched>;

    /// MSETNX: every pair written, atomically, only if no key is live.
    fn mset_nx(&self, pairs: &[(Bytes, Bytes)]) -> Result<bool, StoreError>;

    /// The wall clock (time since the Unix epoch) absolute deadlines are converted with.
    fn wall(&self) -> Duration;

    /// When `key` expires, as time since the Unix epoch: `None` without a live key,
    /// `Some(None)` if it never does (EXPIRETIME).
    fn expire_time(&self, key: &[u8]) -> Option<Option<Duration>>;

    /// Marks `key` recently used; whether it is live.
    fn touch(&self, key: &[u8]) -> bool;

    /// Moves `src`'s value and TTL to `dst` (RENAME; with `nx`, only if `dst` is not live).
    /// `Missing` without a live `src`, `Refused` when `nx` found `dst` live.
    fn rename(&self, src: &[u8], dst: &[u8], nx: bool) -> Result<Change, StoreError>;

    /// Copies `src`'s value and TTL to `dst` (COPY), over a live `dst` only if `replace`.
    fn copy(&self, src: &[u8], dst: &[u8], replace: bool) -> Result<Change, StoreError>;

    /// Every live key `filter` accepts (KEYS). `filter` runs under a stripe lock.
    fn keys(&self, filter: &dyn Fn(&[u8]) -> bool) -> Vec<Bytes>;

    /// One SCAN step: live keys `filter` accepts among about `count` entries from
    /// `cursor`, and the next cursor (0 when done). See `walk.rs` for the guarantee.
    fn scan(&self, cursor: u64, count: usize, filter: &dyn Fn(&[u8]) -> bool) -> (Vec<Bytes>, u64);

    /// A random live key.
    fn random_key(&self) -> Option<Bytes>;

    /// How the live `key` is stored (OBJECT ENCODING, MEMORY USAGE).
    fn inspect(&self, key: &[u8]) -> Option<KeyInfo>;

    /// What WATCH remembers of `key` now; compare two with [`WatchMark::changed_since`].
    fn watch(&self, key: &[u8]) -> WatchMark;

    /// Runs `f` on this keyspace with every stripe held: no other client's operation runs
    /// until it returns (EXEC). `f` must not use the `Store` itself, only the view.
    fn exclusive(&self, f: &mut dyn FnMut(&dyn Keyspace));
}

/// Implements [`Keyspace`] for a type with [`super::stripes::Stripes`], through the shared
/// operations.
macro_rules! keyspace_over_stripes {
    ($ty:ty) => {
        impl Keyspace for $ty {
            fn get(&self, key: &[u8]) -> Option<Bytes> {
                ops::get(self, key)
            }

            fn set(
                &self,
                key: &[u8],
                value: &[u8],
                ttl: Option<Duration>,
                cond: SetCond,
            ) -> Result<bool, StoreError> {
                ops::set(self, key, value, ttl, cond)
            }

            fn del(&self, key: &[u8]) -> bool {
                ops::delete(self, key, SetCond::Always) == Some(true)
            }

            fn exists(&self, key: &[u8]) -> bool {
                ops::exists(self, key)
            }

            fn ttl(&self, key: &[u8]) -> TtlState {
                ops::ttl(self, key)
            }

            fn expire(&self, key: &[u8], at: Deadline, cond: ExpireCond) -> Change {
                ops::expire(self, key, at, cond)
            }

            fn persist(&self, key: &[u8]) -> bool {
                ops::persist(self, key)
            }

            fn len(&self) -> usize {
                walk::len(self)
            }

            fn flush(&self) {
                self.flush_all_stripes()
            }

            fn write_versioned(
                &self,
                key: &[u8],
                value: Option<&[u8]>,
                ttl: Option<Duration>,
                version: u64,
            ) -> Result<Lww, StoreError> {
                ops::write_versioned(self, key, value, ttl, version)
            }

            fn clock(&self) -> u64 {
                super::stripes::Stripes::store(self).hlc().peek()
            }

            fn wall(&self) -> Duration {
                super::stripes::Stripes::wall(self)
            }

            fn expire_time(&self, key: &[u8]) -> Option<Option<Duration>> {
                ops::expire_time(self, key)
            }

            fn touch(&self, key: &[u8]) -> bool {
                ops::touch(self, key)
            }

            fn rename(&self, src: &[u8], dst: &[u8], nx: bool) -> Result<Change, StoreError> {
                ops::transfer(self, src, dst, !nx, false)
            }

            fn copy(&self, src: &[u8], dst: &[u8], replace: bool) -> Result<Change, StoreError> {
                ops::transfer(self, src, dst, replace, true)
            }

            fn keys(&self, filter: &dyn Fn(&[u8]) -> bool) -> Vec<Bytes> {
                walk::keys(self, filter)
            }

            fn scan(
                &self,
                cursor: u64,
                count: usize,
                filter: &dyn Fn(&[u8]) -> bool,
            ) -> (Vec<Bytes>, u64) {
                walk::scan(self, cursor, count, filter)
            }

            fn random_key(&self) -> Option<Bytes> {
                walk::random_key(self)
            }

            fn inspect(&self, key: &[u8]) -> Option<KeyInfo> {
                ops::inspect(self, key)
            }

            fn watch(&self, key: &[u8]) -> WatchMark {
                ops::watch(self, key)
            }

            fn exclusive(&self, f: &mut dyn FnMut(&dyn Keyspace)) {
                self.run_exclusive(f)
            }

            fn read(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) {
                strings::read(self, key, f)
            }

            fn rewrite(
                &self,
                key: &[u8],
                edit: &mut dyn Edit,
            ) -> Result<Option<Written>, StoreError> {
                strings::rewrite(self, key, edit)
            }

            fn set_with(
                &self,
                key: &[u8],
                value: &[u8],
                opts: SetOptions,
            ) -> Result<SetOutcome, StoreError> {
                strings::set_with(self, key, value, opts)
            }

            fn get_del(&self, key: &[u8]) -> Option<Fetched> {
                strings::get_del(self, key)
            }

            fn get_ex(&self, key: &[u8], expiry: Expiry) -> Option<Fetched> {
                strings::get_ex(self, key, expiry)
            }

            fn mset_nx(&self, pairs: &[(Bytes, Bytes)]) -> Result<bool, StoreError> {
                strings::mset_nx(self, pairs)
            }
        }
    };
}

keyspace_over_stripes!(Store);
keyspace_over_stripes!(Locked<'_>);

impl Store {
    fn flush_all_stripes(&self) {
        self.flush();
    }

    fn run_exclusive(&self, f: &mut dyn FnMut(&dyn Keyspace)) {
        let locked = self.lock_all();
        f(&locked);
    }
}

impl Locked<'_> {
    fn flush_all_stripes(&self) {
        self.flush_all();
    }

    /// Already exclusive: EXEC cannot nest.
    fn run_exclusive(&self, f: &mut dyn FnMut(&dyn Keyspace)) {
        f(self);
    }
}
