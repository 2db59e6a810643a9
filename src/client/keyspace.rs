//! The keyspace and expiry methods of [`Client`]: EXISTS, DEL and UNLINK of many keys,
//! TOUCH, TYPE, RENAME(NX), COPY, KEYS, SCAN as a [`Stream`], FLUSHALL, and the EXPIRE
//! family with Redis's NX/XX/GT/LT conditions. Each is a thin typed wrapper over
//! [`Client::cmd`] (the CMD opcode); none of them needed a typed opcode of its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream;

use super::{Client, Error, RespValue};

/// When EXPIRE may replace a key's deadline (Redis's NX, XX, GT and LT options).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpireCondition {
    /// Always (no option).
    #[default]
    Always,
    /// NX: only if the key has no deadline.
    Nx,
    /// XX: only if the key has a deadline.
    Xx,
    /// GT: only if the new deadline is later (a key without one never qualifies).
    Gt,
    /// LT: only if the new deadline is sooner (a key without one always qualifies).
    Lt,
}

impl ExpireCondition {
    fn word(self) -> Option<&'static str> {
        match self {
            ExpireCondition::Always => None,
            ExpireCondition::Nx => Some("NX"),
            ExpireCondition::Xx => Some("XX"),
            ExpireCondition::Gt => Some("GT"),
            ExpireCondition::Lt => Some("LT"),
        }
    }
}

/// SCAN's options: a MATCH glob and a COUNT hint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Only keys matching this Redis glob pattern.
    pub pattern: Option<Bytes>,
    /// About how many entries each step looks at (the server's default when `None`).
    pub count: Option<usize>,
}

fn argv<K: AsRef<[u8]>>(name: &str, keys: &[K]) -> Vec<Bytes> {
    let mut v = Vec::with_capacity(keys.len() + 1);
    v.push(Bytes::copy_from_slice(name.as_bytes()));
    v.extend(keys.iter().map(|k| Bytes::copy_from_slice(k.as_ref())));
    v
}

fn unexpected(what: &str, v: &RespValue) -> Error {
    Error::Protocol(format!("unexpected {what} reply: {v:?}"))
}

fn int(what: &str, v: RespValue) -> Result<i64, Error> {
    match v {
        RespValue::Int(n) => Ok(n),
        other => Err(unexpected(what, &other)),
    }
}

fn count(what: &str, v: RespValue) -> Result<u64, Error> {
    int(what, v).map(|n| u64::try_from(n).unwrap_or(0))
}

fn flag(what: &str, v: RespValue) -> Result<bool, Error> {
    int(what, v).map(|n| n == 1)
}

fn bulks(what: &str, v: RespValue) -> Result<Vec<Bytes>, Error> {
    match v {
        RespValue::Array(items) | RespValue::Set(items) => items
            .into_iter()
            .map(|i| match i {
                RespValue::Bulk(b) => Ok(b),
                other => Err(unexpected(what, &other)),
            })
            .collect(),
        other => Err(unexpected(what, &other)),
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

impl Client {
    async fn keys_cmd<K: AsRef<[u8]>>(&self, name: &str, keys: &[K]) -> Result<u64, Error> {
        count(name, self.cmd(&argv(name, keys)).await?)
    }

    /// How many of `keys` exist (a key named twice counts twice, as in Redis).
    pub async fn exists<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        self.keys_cmd("EXISTS", keys).await
    }

    /// Removes `keys`; how many existed. ([`Client::del`] removes one key.)
    pub async fn del_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        self.keys_cmd("DEL", keys).await
    }

    /// UNLINK: removes `keys` like [`Client::del_many`] (shale always frees outside its
    /// locks); how many existed.
    pub async fn unlink<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        self.keys_cmd("UNLINK", keys).await
    }

    /// Marks `keys` recently used (eviction reads it); how many exist.
    pub async fn touch<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<u64, Error> {
        self.keys_cmd("TOUCH", keys).await
    }

    /// TYPE: `"string"`, or `"none"` for a missing key.
    pub async fn type_of(&self, key: impl AsRef<[u8]>) -> Result<String, Error> {
        match self.cmd(&argv("TYPE", &[key])).await? {
            RespValue::Simple(s) => Ok(s),
            other => Err(unexpected("TYPE", &other)),
        }
    }

    /// Renames `src` to `dst`, replacing `dst`; a server error (`no such key`) if `src`
    /// does not exist.
    pub async fn rename(&self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<(), Error> {
        let args = [src.as_ref(), dst.as_ref()];
        self.cmd(&argv("RENAME", &args)).await.map(drop)
    }

    /// Renames `src` to `dst` only if `dst` does not exist; whether it did.
    pub async fn rename_nx(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
    ) -> Result<bool, Error> {
        flag("RENAMENX", self.cmd(&argv("RENAMENX", &[src.as_ref(), dst.as_ref()])).await?)
    }

    /// Copies `src`'s value and TTL to `dst` (over an existing `dst` only if `replace`);
    /// whether it copied.
    pub async fn copy(
        &self,
        src: impl AsRef<[u8]>,
        dst: impl AsRef<[u8]>,
        replace: bool,
    ) -> Result<bool, Error> {
        let mut args = argv("COPY", &[src.as_ref(), dst.as_ref()]);
        if replace {
            args.push(Bytes::from_static(b"REPLACE"));
        }
        flag("COPY", self.cmd(&args).await?)
    }

    /// Every key matching the glob `pattern` (KEYS: one reply with them all; prefer
    /// [`Client::scan`] on a big keyspace).
    pub async fn keys(&self, pattern: impl AsRef<[u8]>) -> Result<Vec<Bytes>, Error> {
        bulks("KEYS", self.cmd(&argv("KEYS", &[pattern])).await?)
    }

    /// One SCAN step from `cursor`: the keys it returned and the next cursor (0 at the end).
    pub async fn scan_step(
        &self,
        cursor: u64,
        opts: &ScanOptions,
    ) -> Result<(u64, Vec<Bytes>), Error> {
        let mut args = argv("SCAN", &[cursor.to_string()]);
        if let Some(p) = &opts.pattern {
            args.extend([Bytes::from_static(b"MATCH"), p.clone()]);
        }
        if let Some(n) = opts.count {
            args.extend([Bytes::from_static(b"COUNT"), Bytes::from(n.to_string())]);
        }
        match self.cmd(&args).await? {
            RespValue::Array(mut parts) if parts.len() == 2 => {
                let keys = bulks("SCAN", parts.pop().unwrap_or(RespValue::Nil))?;
                let next = match parts.pop() {
                    Some(RespValue::Bulk(c)) => {
                        std::str::from_utf8(&c).ok().and_then(|c| c.parse().ok())
                    }
                    _ => None,
                };
                let next = next.ok_or_else(|| Error::Protocol("bad SCAN cursor".into()))?;
                Ok((next, keys))
            }
            other => Err(unexpected("SCAN", &other)),
        }
    }

    /// Every key (matching `opts.pattern`) as a stream, walking SCAN's cursor to the end:
    /// each key present for the whole walk comes at least once (a key moved during it may
    /// come twice). The stream ends after the first error.
    pub fn scan(
        &self,
        opts: ScanOptions,
    ) -> impl Stream<Item = Result<Bytes, Error>> + Send + 'static {
        let client = self.clone();
        // State: the next cursor (None once the walk is over), keys not yet yielded.
        let start = (Some(0u64), Vec::<Bytes>::new().into_iter());
        stream::unfold(
            (client, opts, start),
            |(client, opts, (mut cursor, mut pending))| async move {
                loop {
                    if let Some(key) = pending.next() {
                        return Some((Ok(key), (client, opts, (cursor, pending))));
                    }
                    let at = cursor?;
                    match client.scan_step(at, &opts).await {
                        Ok((next, keys)) => {
                            cursor = (next != 0).then_some(next);
                            pending = keys.into_iter();
                        }
                        Err(e) => return Some((Err(e), (client, opts, (None, pending)))),
                    }
                }
            },
        )
    }

    /// Gives `key` a time to live of `ttl` (whole milliseconds) if `cond` allows; whether
    /// it did. A zero `ttl` deletes the key (and answers `true`), as in Redis.
    pub async fn expire(
        &self,
        key: impl AsRef<[u8]>,
        ttl: Duration,
        cond: ExpireCondition,
    ) -> Result<bool, Error> {
        self.expire_cmd("PEXPIRE", key.as_ref(), millis(ttl), cond).await
    }

    /// Makes `key` expire at `at` if `cond` allows; whether it did. A time not in the
    /// future deletes the key (and answers `true`).
    pub async fn expire_at(
        &self,
        key: impl AsRef<[u8]>,
        at: SystemTime,
        cond: ExpireCondition,
    ) -> Result<bool, Error> {
        let ms = at.duration_since(UNIX_EPOCH).unwrap_or_default();
        self.expire_cmd("PEXPIREAT", key.as_ref(), millis(ms), cond).await
    }

    async fn expire_cmd(
        &self,
        name: &str,
        key: &[u8],
        n: String,
        cond: ExpireCondition,
    ) -> Result<bool, Error> {
        let mut args = argv(name, &[key, n.as_bytes()]);
        args.extend(cond.word().map(|w| Bytes::from_static(w.as_bytes())));
        flag(name, self.cmd(&args).await?)
    }

    /// When `key` expires: `None` if it does not exist, `Some(None)` if it never expires
    /// (PEXPIRETIME).
    pub async fn expire_time(
        &self,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<Option<SystemTime>>, Error> {
        Ok(match int("PEXPIRETIME", self.cmd(&argv("PEXPIRETIME", &[key])).await?)? {
            -2 => None,
            -1 => Some(None),
            ms => Some(Some(UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0)))),
        })
    }

    /// Removes `key`'s time to live; `true` only if it had one.
    pub async fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        flag("PERSIST", self.cmd(&argv("PERSIST", &[key])).await?)
    }

    /// Removes every key (FLUSHALL).
    pub async fn flushall(&self) -> Result<(), Error> {
        self.cmd(&["FLUSHALL"]).await.map(drop)
    }
}
