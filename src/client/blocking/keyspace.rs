//! The blocking mirror of the async client's keyspace, expiry and transaction methods
//! (see [`crate::client::Client`]'s docs for each).

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{Client, Rt};
use crate::client::{Error, ExpireCondition, RespValue, ScanOptions};
use std::sync::Arc;

impl Client {
    /// How many of `keys` exist. See [`crate::client::Client::exists`].
    pub fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        self.rt.block(self.inner.exists(keys))
    }

    /// Removes `keys`; how many existed. See [`crate::client::Client::del_many`].
    pub fn del_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        self.rt.block(self.inner.del_many(keys))
    }

    /// UNLINK. See [`crate::client::Client::unlink`].
    pub fn unlink<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        self.rt.block(self.inner.unlink(keys))
    }

    /// TOUCH. See [`crate::client::Client::touch`].
    pub fn touch<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        self.rt.block(self.inner.touch(keys))
    }

    /// TYPE. See [`crate::client::Client::type_of`].
    pub fn type_of(&self, key: impl AsRef<[u8]>) -> Result<String, Error> {
        self.rt.block(self.inner.type_of(key))
    }

    /// RENAME. See [`crate::client::Client::rename`].
    pub fn rename(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<(), Error> {
        self.rt.block(self.inner.rename(src, dst))
    }

    /// RENAMENX. See [`crate::client::Client::rename_nx`].
    pub fn rename_nx(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<bool, Error> {
        self.rt.block(self.inner.rename_nx(src, dst))
    }

    /// COPY. See [`crate::client::Client::copy`].
    pub fn copy(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        replace: bool,
    ) -> Result<bool, Error> {
        self.rt.block(self.inner.copy(src, dst, replace))
    }

    /// KEYS. See [`crate::client::Client::keys`].
    pub fn keys(&self, pattern: impl AsRef<[u8]>) -> Result<Vec<Bytes>, Error> {
        self.rt.block(self.inner.keys(pattern))
    }

    /// One SCAN step. See [`crate::client::Client::scan_step`].
    pub fn scan_step(&self, cursor: u64, opts: &ScanOptions) -> Result<(u64, Vec<Bytes>), Error> {
        self.rt.block(self.inner.scan_step(cursor, opts))
    }

    /// Every key (matching `opts.pattern`), walking SCAN's cursor one step per `next` as
    /// needed; the blocking form of [`crate::client::Client::scan`]. The iterator ends
    /// after the first error.
    pub fn scan(&self, opts: ScanOptions) -> impl Iterator<Item = Result<Bytes, Error>> {
        let client = self.clone();
        let (mut cursor, mut pending) = (Some(0u64), Vec::<Bytes>::new().into_iter());
        std::iter::from_fn(move || {
            loop {
                if let Some(key) = pending.next() {
                    return Some(Ok(key));
                }
                let at = cursor?;
                match client.scan_step(at, &opts) {
                    Ok((next, keys)) => {
                        cursor = (next != 0).then_some(next);
                        pending = keys.into_iter();
                    }
                    Err(e) => {
                        cursor = None;
                        return Some(Err(e));
                    }
                }
            }
        })
    }

    /// EXPIRE with a condition. See [`crate::client::Client::expire`].
    pub fn expire(
        &self,
        key: impl AsRef<[u8]>,
        ttl: Duration,
        cond: ExpireCondition,
    ) -> Result<bool, Error> {
        self.rt.block(self.inner.expire(key, ttl, cond))
    }

    /// EXPIREAT with a condition. See [`crate::client::Client::expire_at`].
    pub fn expire_at(
        &self,
        key: impl AsRef<[u8]>,
        at: SystemTime,
        cond: ExpireCondition,
    ) -> Result<bool, Error> {
        self.rt.block(self.inner.expire_at(key, at, cond))
    }

    /// PEXPIRETIME. See [`crate::client::Client::expire_time`].
    pub fn expire_time(&self, key: impl AsRef<[u8]>) -> Result<Option<Option<SystemTime>>, Error> {
        self.rt.block(self.inner.expire_time(key))
    }

    /// PERSIST. See [`crate::client::Client::persist`].
    pub fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        self.rt.block(self.inner.persist(key))
    }

    /// FLUSHALL. See [`crate::client::Client::flushall`].
    pub fn flushall(&self) -> Result<(), Error> {
        self.rt.block(self.inner.flushall())
    }

    /// Opens a transaction watching `watch`. See [`crate::client::Client::transaction`].
    pub fn transaction<K: AsRef<[u8]>>(&self, watch: &[K]) -> Result<Transaction, Error> {
        let inner = self.rt.block(self.inner.transaction(watch))?;
        Ok(Transaction { inner, rt: self.rt.clone() })
    }
}

/// A blocking [`crate::client::Transaction`].
#[derive(Debug)]
pub struct Transaction {
    inner: crate::client::Transaction,
    rt: Arc<Rt>,
}

impl Transaction {
    /// Runs a command now on the transaction's connection.
    pub fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<RespValue, Error> {
        self.rt.block(self.inner.cmd(args))
    }

    /// Queues a command for EXEC.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<&mut Self, Error> {
        self.inner.queue(args)?;
        Ok(self)
    }

    /// MULTI, the queue, EXEC: `None` if a watched key changed.
    pub fn exec(self) -> Result<Option<Vec<RespValue>>, Error> {
        self.rt.block(self.inner.exec())
    }

    /// Gives up; nothing queued runs.
    pub fn discard(self) {
        self.inner.discard();
    }
}
