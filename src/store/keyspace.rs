//! [`Keyspace`]: the interface command code is written against. [`Store`] implements it by
//! locking one stripe per operation; a transaction (EXEC) will implement it with a view that
//! already holds every stripe's lock, so the same command code runs atomically there.
//!
//! # The EXEC hook (planned)
//!
//! `Store::lock_all(&self) -> Locked<'_>` takes every stripe's mutex in index order (the
//! one order every multi-stripe path uses, so no deadlock) and reads the clock once.
//! `Locked` implements `Keyspace` by calling the same `Shard` methods `Store` calls, on the
//! guard of the key's stripe; reclaimed storage collects in one `Garbage` freed after the
//! guards drop. EXEC runs its queued commands' `apply` against a `Ctx` whose keyspace is the
//! `Locked` view, so no other client's command interleaves. WATCH records each watched
//! key's `version_of` (plus the store's flush epoch, so FLUSHALL counts as a change);
//! EXEC aborts if any differs under the locks.

use std::time::Duration;

use bytes::Bytes;

use super::{
    Edit, Expiry, Fetched, Lww, SetCond, SetOptions, SetOutcome, Store, StoreError, TtlState,
    Written,
};

/// The key operations commands use. Every method is one atomic step on the keyspace.
pub trait Keyspace: Send + Sync {
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

    /// Sets `key` to expire `ttl` from now (zero deletes it); `false` without a live key.
    fn expire(&self, key: &[u8], ttl: Duration) -> bool;

    /// Removes `key`'s TTL; `true` only if it had one.
    fn persist(&self, key: &[u8]) -> bool;

    /// Keys held (expired ones not yet reclaimed included).
    fn len(&self) -> usize;

    /// Whether [`Keyspace::len`] is zero.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every key.
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
}

impl Keyspace for Store {
    fn get(&self, key: &[u8]) -> Option<Bytes> {
        Store::get(self, key)
    }

    fn set(
        &self,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
        cond: SetCond,
    ) -> Result<bool, StoreError> {
        self.try_set(key, value, ttl, cond)
    }

    fn del(&self, key: &[u8]) -> bool {
        Store::del(self, key)
    }

    fn exists(&self, key: &[u8]) -> bool {
        Store::exists(self, key)
    }

    fn ttl(&self, key: &[u8]) -> TtlState {
        Store::ttl(self, key)
    }

    fn expire(&self, key: &[u8], ttl: Duration) -> bool {
        Store::expire(self, key, ttl)
    }

    fn persist(&self, key: &[u8]) -> bool {
        Store::persist(self, key)
    }

    fn len(&self) -> usize {
        Store::len(self)
    }

    fn flush(&self) {
        Store::flush(self)
    }

    fn write_versioned(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        ttl: Option<Duration>,
        version: u64,
    ) -> Result<Lww, StoreError> {
        Store::write_versioned(self, key, value, ttl, version)
    }

    fn clock(&self) -> u64 {
        self.hlc().peek()
    }

    fn read(&self, key: &[u8], f: &mut dyn FnMut(Option<&[u8]>)) {
        Store::read(self, key, f)
    }

    fn rewrite(&self, key: &[u8], edit: &mut dyn Edit) -> Result<Option<Written>, StoreError> {
        Store::rewrite(self, key, edit)
    }

    fn set_with(
        &self,
        key: &[u8],
        value: &[u8],
        opts: SetOptions,
    ) -> Result<SetOutcome, StoreError> {
        Store::set_with(self, key, value, opts)
    }

    fn get_del(&self, key: &[u8]) -> Option<Fetched> {
        Store::get_del(self, key)
    }

    fn get_ex(&self, key: &[u8], expiry: Expiry) -> Option<Fetched> {
        Store::get_ex(self, key, expiry)
    }

    fn mset_nx(&self, pairs: &[(Bytes, Bytes)]) -> Result<bool, StoreError> {
        Store::mset_nx(self, pairs)
    }
}
