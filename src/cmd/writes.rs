//! [`BlindWrites`]: what a blind write ([`Route::Write`](super::Route::Write), or a split
//! command that writes) stores, key by key, as its declaration says through
//! `Cmd::blind_writes`. A blind write's outcome does not depend on the old value, so a
//! router can replicate it as it is: each [`BlindWrite`] becomes one versioned write (a
//! value with its expiry, or a delete) stamped by the router and sent to every replica.
//!
//! Owns the description only; how the writes travel is [`crate::router`]'s business.
//! Like [`super::Keys`], the iterator borrows the parsed arguments and allocates nothing.

use std::time::Duration;

use bytes::Bytes;

/// When a written value expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// Never.
    #[default]
    Never,
    /// This long after the write.
    In(Duration),
    /// At this Unix time in milliseconds (EXAT, PXAT): a router turns it into the time
    /// left when it stamps the write, so every replica gets the same relative TTL.
    At(u64),
}

impl Expiry {
    /// The time to live left at wall-clock `now_ms` (Unix ms, [`crate::version::wall_ms`]): `Some(None)` for none,
    /// `None` when an absolute expiry has already passed (the value is gone at once).
    pub fn left(self, now_ms: u64) -> Option<Option<Duration>> {
        match self {
            Expiry::Never => Some(None),
            Expiry::In(d) => Some(Some(d)),
            Expiry::At(at) if at > now_ms => Some(Some(Duration::from_millis(at - now_ms))),
            Expiry::At(_) => None,
        }
    }

    /// [`Expiry::left`] now: the wall clock is read only for an absolute expiry (a plain
    /// SET, the common case, skips the clock read).
    pub fn left_now(self) -> Option<Option<Duration>> {
        match self {
            Expiry::At(_) => self.left(crate::version::wall_ms()),
            relative => relative.left(0),
        }
    }
}

/// One key's blind write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlindWrite {
    /// The key.
    pub key: Bytes,
    /// The value written, or `None` for a delete.
    pub value: Option<Bytes>,
    /// When the value expires (ignored for a delete).
    pub expiry: Expiry,
}

/// The blind writes of one command, in argument order: none, one, the pairs of MSET, or
/// the deletes of DEL and UNLINK.
#[derive(Debug, Clone, Default)]
pub struct BlindWrites<'a> {
    one: Option<BlindWrite>,
    pairs: &'a [(Bytes, Bytes)],
    deletes: &'a [Bytes],
}

impl<'a> BlindWrites<'a> {
    /// None: the command is not a blind write.
    pub fn none() -> Self {
        Self::default()
    }

    /// One key set to `value`, expiring per `expiry`.
    pub fn set(key: &Bytes, value: &Bytes, expiry: Expiry) -> Self {
        let one = BlindWrite { key: key.clone(), value: Some(value.clone()), expiry };
        Self { one: Some(one), ..Self::default() }
    }

    /// Key/value pairs set with no expiry (MSET).
    pub fn pairs(pairs: &'a [(Bytes, Bytes)]) -> Self {
        Self { pairs, ..Self::default() }
    }

    /// Keys deleted (DEL, UNLINK).
    pub fn deletes(keys: &'a [Bytes]) -> Self {
        Self { deletes: keys, ..Self::default() }
    }

    /// Whether every write is a delete (the reply then counts the keys removed; a command
    /// that sets values answers OK).
    pub fn all_deletes(&self) -> bool {
        self.one.is_none() && self.pairs.is_empty()
    }
}

impl Iterator for BlindWrites<'_> {
    type Item = BlindWrite;

    fn next(&mut self) -> Option<BlindWrite> {
        if let Some(w) = self.one.take() {
            return Some(w);
        }
        if let Some(((k, v), rest)) = self.pairs.split_first() {
            self.pairs = rest;
            return Some(BlindWrite {
                key: k.clone(),
                value: Some(v.clone()),
                expiry: Expiry::Never,
            });
        }
        let (k, rest) = self.deletes.split_first()?;
        self.deletes = rest;
        Some(BlindWrite { key: k.clone(), value: None, expiry: Expiry::Never })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.one.is_some()) + self.pairs.len() + self.deletes.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for BlindWrites<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_come_in_argument_order() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        let pairs = vec![(b("a"), b("1")), (b("b"), b("2"))];
        let got: Vec<_> = BlindWrites::pairs(&pairs).map(|w| (w.key, w.value)).collect();
        assert_eq!(got, [(b("a"), Some(b("1"))), (b("b"), Some(b("2")))]);
        let keys = vec![b("x"), b("y")];
        let dels = BlindWrites::deletes(&keys);
        assert!(dels.all_deletes());
        assert_eq!(dels.len(), 2);
        assert!(!BlindWrites::set(&keys[0], &keys[1], Expiry::Never).all_deletes());
        assert_eq!(BlindWrites::none().next(), None);
    }

    #[test]
    fn absolute_expiry_becomes_the_time_left() {
        assert_eq!(Expiry::At(5_000).left(4_000), Some(Some(Duration::from_secs(1))));
        assert_eq!(Expiry::At(5_000).left(5_000), None, "passed: the value is gone");
        assert_eq!(Expiry::Never.left(1), Some(None));
        let ten = Duration::from_secs(10);
        assert_eq!(Expiry::In(ten).left(u64::MAX), Some(Some(ten)));
    }
}
