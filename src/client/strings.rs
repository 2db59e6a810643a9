//! The typed string and bitmap methods of [`Client`]: the INCR family, INCRBYFLOAT, APPEND,
//! STRLEN, GETRANGE, SETRANGE, GETDEL, GETEX, GETSET, SET with its options, SETNX, SETEX,
//! MSETNX, SETBIT, GETBIT and BITCOUNT, with the option types they take ([`SetOptions`],
//! [`GetExpiry`], [`BitUnit`]).
//!
//! Each is a thin wrapper over [`Client::cmd`] (the CMD opcode carrying the Redis command)
//! that turns the reply into a typed result; a server error comes back as
//! [`Error::Server`] with Redis's message. The blocking mirror is in `blocking_strings.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{Client, Error, RespValue};

/// SET's options, built up from [`SetOptions::new`] (a plain SET):
/// NX / XX, GET, and one of EX / PX / EXAT / PXAT / KEEPTTL.
///
/// ```
/// use std::time::Duration;
/// use shale::client::SetOptions;
///
/// let opts = SetOptions::new().nx().ttl(Duration::from_secs(30)).get();
/// assert_eq!(opts.args(), ["NX", "GET", "PX", "30000"]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    cond: Option<&'static str>,
    get: bool,
    expiry: Option<SetExpiry>,
}

/// The expiry part of [`SetOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetExpiry {
    /// PX: milliseconds from now.
    In(u64),
    /// PXAT: a Unix time in milliseconds.
    At(u64),
    /// KEEPTTL.
    Keep,
}

impl SetOptions {
    /// A plain SET: always writes, clears any TTL, answers nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// NX: only if the key does not exist (replaces XX).
    pub fn nx(mut self) -> Self {
        self.cond = Some("NX");
        self
    }

    /// XX: only if the key exists (replaces NX).
    pub fn xx(mut self) -> Self {
        self.cond = Some("XX");
        self
    }

    /// GET: also return the value the key held.
    pub fn get(mut self) -> Self {
        self.get = true;
        self
    }

    /// EX / PX: expire `ttl` from now (sent as whole milliseconds, rounded up).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.expiry = Some(SetExpiry::In(millis_up(ttl)));
        self
    }

    /// EXAT / PXAT: expire at `at` (a time already past deletes the key).
    pub fn expire_at(mut self, at: SystemTime) -> Self {
        self.expiry = Some(SetExpiry::At(unix_millis(at)));
        self
    }

    /// KEEPTTL: keep the key's current TTL.
    pub fn keep_ttl(mut self) -> Self {
        self.expiry = Some(SetExpiry::Keep);
        self
    }

    /// The option words as sent after `SET key value`.
    pub fn args(&self) -> Vec<String> {
        let mut out: Vec<String> = self.cond.iter().map(|c| c.to_string()).collect();
        if self.get {
            out.push("GET".into());
        }
        match self.expiry {
            Some(SetExpiry::In(ms)) => out.extend(["PX".into(), ms.to_string()]),
            Some(SetExpiry::At(ms)) => out.extend(["PXAT".into(), ms.to_string()]),
            Some(SetExpiry::Keep) => out.push("KEEPTTL".into()),
            None => {}
        }
        out
    }
}

/// What [`Client::set_options`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetResult {
    /// Written (no GET asked).
    Written,
    /// The NX / XX condition failed; nothing written (no GET asked).
    NotWritten,
    /// GET was asked: the value before the command (`None`: there was none). Whether an
    /// NX / XX condition let the write happen is not reported, as in Redis.
    Previous(Option<Bytes>),
}

/// What GETEX does to the key's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetExpiry {
    /// Nothing: a plain read.
    Keep,
    /// PERSIST: remove the TTL.
    Persist,
    /// PX: expire this long from now (whole milliseconds, rounded up).
    In(Duration),
    /// PXAT: expire at this time (a time already past deletes the key).
    At(SystemTime),
}

/// The unit of a BITCOUNT range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitUnit {
    /// Indexes count bytes.
    Byte,
    /// Indexes count bits.
    Bit,
}

fn millis_up(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

fn unix_millis(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn unexpected(cmd: &str, v: &RespValue) -> Error {
    Error::Protocol(format!("unexpected {cmd} reply: {v:?}"))
}

fn int(cmd: &str, v: RespValue) -> Result<i64, Error> {
    match v {
        RespValue::Int(n) => Ok(n),
        v => Err(unexpected(cmd, &v)),
    }
}

fn count(cmd: &str, v: RespValue) -> Result<u64, Error> {
    let n = int(cmd, v)?;
    u64::try_from(n).map_err(|_| Error::Protocol(format!("negative {cmd} reply: {n}")))
}

fn flag(cmd: &str, v: RespValue) -> Result<bool, Error> {
    match int(cmd, v)? {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(Error::Protocol(format!("unexpected {cmd} reply: {n}"))),
    }
}

fn maybe_bulk(cmd: &str, v: RespValue) -> Result<Option<Bytes>, Error> {
    match v {
        RespValue::Nil => Ok(None),
        RespValue::Bulk(b) => Ok(Some(b)),
        v => Err(unexpected(cmd, &v)),
    }
}

fn bulk(cmd: &str, v: RespValue) -> Result<Bytes, Error> {
    maybe_bulk(cmd, v)?.ok_or_else(|| Error::Protocol(format!("nil {cmd} reply")))
}

impl Client {
    /// Runs `words` through [`Client::cmd`].
    async fn words(&self, words: &[Bytes]) -> Result<RespValue, Error> {
        self.cmd(words).await
    }

    /// INCR: adds 1 to the integer at `key` (absent counts as 0); the new value. The TTL
    /// stays. A value that is not an integer, or an overflow, is an [`Error::Server`].
    pub async fn incr(&self, key: impl Into<Bytes>) -> Result<i64, Error> {
        int("INCR", self.words(&["INCR".into(), key.into()]).await?)
    }

    /// DECR: subtracts 1; the new value.
    pub async fn decr(&self, key: impl Into<Bytes>) -> Result<i64, Error> {
        int("DECR", self.words(&["DECR".into(), key.into()]).await?)
    }

    /// INCRBY: adds `by`; the new value.
    pub async fn incr_by(&self, key: impl Into<Bytes>, by: i64) -> Result<i64, Error> {
        let by = Bytes::from(by.to_string());
        int("INCRBY", self.words(&["INCRBY".into(), key.into(), by]).await?)
    }

    /// DECRBY: subtracts `by`; the new value.
    pub async fn decr_by(&self, key: impl Into<Bytes>, by: i64) -> Result<i64, Error> {
        let by = Bytes::from(by.to_string());
        int("DECRBY", self.words(&["DECRBY".into(), key.into(), by]).await?)
    }

    /// INCRBYFLOAT: adds `by` (sent as its shortest decimal form, as redis-py does) in the
    /// server's extended precision; the new value, which the server stores as decimal text
    /// (`0.1 + 0.2` is stored as `0.3`). An infinite result is an [`Error::Server`].
    pub async fn incr_by_float(&self, key: impl Into<Bytes>, by: f64) -> Result<f64, Error> {
        let by = Bytes::from(format!("{by:e}"));
        let text = bulk("INCRBYFLOAT", self.words(&["INCRBYFLOAT".into(), key.into(), by]).await?)?;
        let parsed = std::str::from_utf8(&text).ok().and_then(|t| t.parse::<f64>().ok());
        parsed.ok_or_else(|| Error::Protocol(format!("INCRBYFLOAT reply is not a float: {text:?}")))
    }

    /// APPEND: adds `value` to the end of the string at `key` (created if absent); the new
    /// length.
    pub async fn append(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<u64, Error> {
        count("APPEND", self.words(&["APPEND".into(), key.into(), value.into()]).await?)
    }

    /// STRLEN: the length of the value at `key`, 0 if absent.
    pub async fn strlen(&self, key: impl Into<Bytes>) -> Result<u64, Error> {
        count("STRLEN", self.words(&["STRLEN".into(), key.into()]).await?)
    }

    /// GETRANGE: the bytes `start..=end` of the value (negative indexes count from the end;
    /// empty when the key is absent or the range is).
    pub async fn get_range(
        &self,
        key: impl Into<Bytes>,
        start: i64,
        end: i64,
    ) -> Result<Bytes, Error> {
        let (s, e) = (Bytes::from(start.to_string()), Bytes::from(end.to_string()));
        bulk("GETRANGE", self.words(&["GETRANGE".into(), key.into(), s, e]).await?)
    }

    /// SETRANGE: writes `value` at byte `offset`, zero-padding a shorter string; the new
    /// length.
    pub async fn set_range(
        &self,
        key: impl Into<Bytes>,
        offset: u64,
        value: impl Into<Bytes>,
    ) -> Result<u64, Error> {
        let offset = Bytes::from(offset.to_string());
        count("SETRANGE", self.words(&["SETRANGE".into(), key.into(), offset, value.into()]).await?)
    }

    /// GETDEL: the value, then the key is deleted; `None` if it was absent.
    pub async fn get_del(&self, key: impl Into<Bytes>) -> Result<Option<Bytes>, Error> {
        maybe_bulk("GETDEL", self.words(&["GETDEL".into(), key.into()]).await?)
    }

    /// GETEX: the value (`None` if absent), after which the key's expiry becomes `expiry`.
    pub async fn get_ex(
        &self,
        key: impl Into<Bytes>,
        expiry: GetExpiry,
    ) -> Result<Option<Bytes>, Error> {
        let mut words: Vec<Bytes> = vec!["GETEX".into(), key.into()];
        match expiry {
            GetExpiry::Keep => {}
            GetExpiry::Persist => words.push("PERSIST".into()),
            GetExpiry::In(ttl) => words.extend(["PX".into(), millis_up(ttl).to_string().into()]),
            GetExpiry::At(at) => words.extend(["PXAT".into(), unix_millis(at).to_string().into()]),
        }
        maybe_bulk("GETEX", self.words(&words).await?)
    }

    /// GETSET: sets `value` (clearing any TTL) and returns the old value, if any.
    pub async fn get_set(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<Option<Bytes>, Error> {
        maybe_bulk("GETSET", self.words(&["GETSET".into(), key.into(), value.into()]).await?)
    }

    /// SETNX: sets `value` only if `key` is absent; whether it was set.
    pub async fn set_nx(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<bool, Error> {
        flag("SETNX", self.words(&["SETNX".into(), key.into(), value.into()]).await?)
    }

    /// SETEX (as PSETEX, in whole milliseconds rounded up): sets `value` expiring after
    /// `ttl`.
    pub async fn set_ex(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        ttl: Duration,
    ) -> Result<(), Error> {
        let ms = Bytes::from(millis_up(ttl).to_string());
        match self.words(&["PSETEX".into(), key.into(), ms, value.into()]).await? {
            RespValue::Simple(_) => Ok(()),
            v => Err(unexpected("PSETEX", &v)),
        }
    }

    /// SET with options (see [`SetOptions`]).
    pub async fn set_options(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        opts: SetOptions,
    ) -> Result<SetResult, Error> {
        let mut words: Vec<Bytes> = vec!["SET".into(), key.into(), value.into()];
        words.extend(opts.args().into_iter().map(Bytes::from));
        let reply = self.words(&words).await?;
        match (opts.get, reply) {
            (true, v) => maybe_bulk("SET", v).map(SetResult::Previous),
            (false, RespValue::Simple(_)) => Ok(SetResult::Written),
            (false, RespValue::Nil) => Ok(SetResult::NotWritten),
            (false, v) => Err(unexpected("SET", &v)),
        }
    }

    /// MSETNX: sets every pair only if none of the keys exists, atomically; whether they
    /// were set.
    pub async fn mset_nx<K: Into<Bytes>, V: Into<Bytes>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<bool, Error> {
        let mut words: Vec<Bytes> = vec!["MSETNX".into()];
        for (k, v) in pairs {
            words.extend([k.into(), v.into()]);
        }
        flag("MSETNX", self.words(&words).await?)
    }

    /// SETBIT: sets (`true`) or clears the bit at `offset`, growing the string as needed;
    /// the bit's old value.
    pub async fn setbit(
        &self,
        key: impl Into<Bytes>,
        offset: u64,
        bit: bool,
    ) -> Result<bool, Error> {
        let (offset, bit) =
            (Bytes::from(offset.to_string()), Bytes::from(if bit { "1" } else { "0" }));
        flag("SETBIT", self.words(&["SETBIT".into(), key.into(), offset, bit]).await?)
    }

    /// GETBIT: the bit at `offset` (false past the end or for an absent key).
    pub async fn getbit(&self, key: impl Into<Bytes>, offset: u64) -> Result<bool, Error> {
        let offset = Bytes::from(offset.to_string());
        flag("GETBIT", self.words(&["GETBIT".into(), key.into(), offset]).await?)
    }

    /// BITCOUNT: the set bits of the value, or of the inclusive range `start..=end` in
    /// `unit`s (negative indexes count from the end).
    pub async fn bitcount(
        &self,
        key: impl Into<Bytes>,
        range: Option<(i64, i64, BitUnit)>,
    ) -> Result<u64, Error> {
        let mut words: Vec<Bytes> = vec!["BITCOUNT".into(), key.into()];
        if let Some((start, end, unit)) = range {
            let unit = if unit == BitUnit::Bit { "BIT" } else { "BYTE" };
            words.extend([start.to_string().into(), end.to_string().into(), unit.into()]);
        }
        count("BITCOUNT", self.words(&words).await?)
    }
}
