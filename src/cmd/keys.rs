//! [`Keys`]: the keys a parsed command names, in argument order, without allocating. Every
//! command's `keys` returns one; the dispatcher's prefetch, the `--node` WRONG_SHARD check
//! and the router read them.

use bytes::Bytes;

/// The keys of one command: up to two single keys, then a slice of keys, then the keys of
/// a slice of key/value pairs. That covers GET (one), RENAME and LCS (two), DEL and MGET
/// (a slice), BITOP (one then a slice) and MSET (pairs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Keys<'a> {
    first: Option<&'a Bytes>,
    second: Option<&'a Bytes>,
    many: &'a [Bytes],
    pairs: &'a [(Bytes, Bytes)],
}

impl<'a> Keys<'a> {
    /// No keys.
    pub fn none() -> Self {
        Self::default()
    }

    /// One key.
    pub fn one(key: &'a Bytes) -> Self {
        Self { first: Some(key), ..Self::default() }
    }

    /// Two keys, in that order.
    pub fn two(a: &'a Bytes, b: &'a Bytes) -> Self {
        Self { first: Some(a), second: Some(b), ..Self::default() }
    }

    /// Every key of a slice.
    pub fn slice(keys: &'a [Bytes]) -> Self {
        Self { many: keys, ..Self::default() }
    }

    /// One key, then every key of a slice (BITOP's destination and sources).
    pub fn one_then(key: &'a Bytes, rest: &'a [Bytes]) -> Self {
        Self { first: Some(key), many: rest, ..Self::default() }
    }

    /// The keys of key/value pairs.
    pub fn pairs(pairs: &'a [(Bytes, Bytes)]) -> Self {
        Self { pairs, ..Self::default() }
    }

    fn remaining(&self) -> usize {
        usize::from(self.first.is_some())
            + usize::from(self.second.is_some())
            + self.many.len()
            + self.pairs.len()
    }
}

impl<'a> Iterator for Keys<'a> {
    type Item = &'a Bytes;

    fn next(&mut self) -> Option<&'a Bytes> {
        if let Some(k) = self.first.take() {
            return Some(k);
        }
        if let Some(k) = self.second.take() {
            return Some(k);
        }
        if let Some((k, rest)) = self.many.split_first() {
            self.many = rest;
            return Some(k);
        }
        let ((k, _), rest) = self.pairs.split_first()?;
        self.pairs = rest;
        Some(k)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Keys<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_in_argument_order() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        let (d, srcs) = (b("d"), vec![b("a"), b("b")]);
        let got: Vec<_> = Keys::one_then(&d, &srcs).cloned().collect();
        assert_eq!(got, [b("d"), b("a"), b("b")]);
        let pairs = vec![(b("x"), b("1")), (b("y"), b("2"))];
        assert_eq!(Keys::pairs(&pairs).len(), 2);
        assert_eq!(Keys::two(&d, &d).len(), 2);
        assert_eq!(Keys::none().next(), None);
    }
}
