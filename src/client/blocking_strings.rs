//! The blocking mirror of the typed string and bitmap methods (see `strings.rs`): each
//! blocks on the async method of the same name.

use std::time::Duration;

use bytes::Bytes;

use super::blocking::Client;
use super::{BitUnit, Error, GetExpiry, SetOptions, SetResult};

impl Client {
    /// INCR. See [`super::Client::incr`].
    pub fn incr(&self, key: impl Into<Bytes>) -> Result<i64, Error> {
        self.block(|c| c.incr(key))
    }

    /// DECR. See [`super::Client::decr`].
    pub fn decr(&self, key: impl Into<Bytes>) -> Result<i64, Error> {
        self.block(|c| c.decr(key))
    }

    /// INCRBY. See [`super::Client::incr_by`].
    pub fn incr_by(&self, key: impl Into<Bytes>, by: i64) -> Result<i64, Error> {
        self.block(|c| c.incr_by(key, by))
    }

    /// DECRBY. See [`super::Client::decr_by`].
    pub fn decr_by(&self, key: impl Into<Bytes>, by: i64) -> Result<i64, Error> {
        self.block(|c| c.decr_by(key, by))
    }

    /// INCRBYFLOAT. See [`super::Client::incr_by_float`].
    pub fn incr_by_float(&self, key: impl Into<Bytes>, by: f64) -> Result<f64, Error> {
        self.block(|c| c.incr_by_float(key, by))
    }

    /// APPEND. See [`super::Client::append`].
    pub fn append(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<u64, Error> {
        self.block(|c| c.append(key, value))
    }

    /// STRLEN. See [`super::Client::strlen`].
    pub fn strlen(&self, key: impl Into<Bytes>) -> Result<u64, Error> {
        self.block(|c| c.strlen(key))
    }

    /// GETRANGE. See [`super::Client::get_range`].
    pub fn get_range(&self, key: impl Into<Bytes>, start: i64, end: i64) -> Result<Bytes, Error> {
        self.block(|c| c.get_range(key, start, end))
    }

    /// SETRANGE. See [`super::Client::set_range`].
    pub fn set_range(
        &self,
        key: impl Into<Bytes>,
        offset: u64,
        value: impl Into<Bytes>,
    ) -> Result<u64, Error> {
        self.block(|c| c.set_range(key, offset, value))
    }

    /// GETDEL. See [`super::Client::get_del`].
    pub fn get_del(&self, key: impl Into<Bytes>) -> Result<Option<Bytes>, Error> {
        self.block(|c| c.get_del(key))
    }

    /// GETEX. See [`super::Client::get_ex`].
    pub fn get_ex(&self, key: impl Into<Bytes>, expiry: GetExpiry) -> Result<Option<Bytes>, Error> {
        self.block(|c| c.get_ex(key, expiry))
    }

    /// GETSET. See [`super::Client::get_set`].
    pub fn get_set(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<Option<Bytes>, Error> {
        self.block(|c| c.get_set(key, value))
    }

    /// SETNX. See [`super::Client::set_nx`].
    pub fn set_nx(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<bool, Error> {
        self.block(|c| c.set_nx(key, value))
    }

    /// SETEX. See [`super::Client::set_ex`].
    pub fn set_ex(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<(), Error> {
        self.block(|c| c.set_ex(key, value, ttl))
    }

    /// SET with options. See [`super::Client::set_options`].
    pub fn set_options(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        opts: SetOptions,
    ) -> Result<SetResult, Error> {
        self.block(|c| c.set_options(key, value, opts))
    }

    /// MSETNX. See [`super::Client::mset_nx`].
    pub fn mset_nx<K: Into<Bytes>, V: Into<Bytes>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<bool, Error> {
        self.block(|c| c.mset_nx(pairs))
    }

    /// SETBIT. See [`super::Client::setbit`].
    pub fn setbit(&self, key: impl Into<Bytes>, offset: u64, bit: bool) -> Result<bool, Error> {
        self.block(|c| c.setbit(key, offset, bit))
    }

    /// GETBIT. See [`super::Client::getbit`].
    pub fn getbit(&self, key: impl Into<Bytes>, offset: u64) -> Result<bool, Error> {
        self.block(|c| c.getbit(key, offset))
    }

    /// BITCOUNT. See [`super::Client::bitcount`].
    pub fn bitcount(
        &self,
        key: impl Into<Bytes>,
        range: Option<(i64, i64, BitUnit)>,
    ) -> Result<u64, Error> {
        self.block(|c| c.bitcount(key, range))
    }
}
