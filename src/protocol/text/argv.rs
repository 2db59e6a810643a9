//! [`Argv`]: one request's arguments as the decoder found them, kept as spans of the
//! request's bytes. A parser borrows each argument as `&[u8]` and takes an owned [`Bytes`]
//! only of those it keeps, and the whole request stays available (for MONITOR and the slow
//! log) at the cost of one reference count, not one per argument.

use std::ops::Index;

use bytes::Bytes;
use smallvec::SmallVec;

/// Arguments whose spans a request keeps without allocating: GET, SET, INCR and most
/// commands that pipelines repeat fit, so the common request costs no list allocation.
pub const INLINE_ARGS: usize = 4;

/// `(start, len)` of each argument in its frame.
pub(crate) type Spans = SmallVec<[(usize, usize); INLINE_ARGS]>;

/// A request's arguments, the command name first.
#[derive(Clone)]
pub struct Argv {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Arguments at `(start, len)` in `frame` (a RESP request, zero-copy).
    Spans { frame: Bytes, spans: Spans },
    /// Arguments owned one by one (inline requests, tests, built by hand).
    Owned(Vec<Bytes>),
}

impl Argv {
    /// Arguments at `spans` (start, length) of `frame`; every span must lie inside it.
    pub(crate) fn spans(frame: Bytes, spans: Spans) -> Self {
        debug_assert!(spans.iter().all(|&(s, l)| s + l <= frame.len()));
        Self { repr: Repr::Spans { frame, spans } }
    }

    /// How many arguments, the name included.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Spans { spans, .. } => spans.len(),
            Repr::Owned(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i`, borrowed.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        match &self.repr {
            Repr::Spans { frame, spans } => spans.get(i).and_then(|&(s, l)| frame.get(s..s + l)),
            Repr::Owned(v) => v.get(i).map(|b| &b[..]),
        }
    }

    /// Argument `i` as an owned [`Bytes`] sharing the request's memory.
    pub fn bytes(&self, i: usize) -> Option<Bytes> {
        match &self.repr {
            Repr::Spans { frame, spans } => spans.get(i).map(|&(s, l)| frame.slice(s..s + l)),
            Repr::Owned(v) => v.get(i).cloned(),
        }
    }

    /// Every argument, borrowed, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// Every argument as an owned [`Bytes`].
    pub fn to_vec(&self) -> Vec<Bytes> {
        (0..self.len()).filter_map(|i| self.bytes(i)).collect()
    }
}

impl From<Vec<Bytes>> for Argv {
    fn from(v: Vec<Bytes>) -> Self {
        Self { repr: Repr::Owned(v) }
    }
}

impl<const N: usize> From<[&'static str; N]> for Argv {
    fn from(words: [&'static str; N]) -> Self {
        words.iter().map(|w| Bytes::from_static(w.as_bytes())).collect::<Vec<_>>().into()
    }
}

impl Index<usize> for Argv {
    type Output = [u8];

    /// Argument `i`; panics past the end, like a slice (parsers index only below the arity
    /// their declaration checked).
    fn index(&self, i: usize) -> &[u8] {
        match self.get(i) {
            Some(a) => a,
            None => panic!("argument {i} of {}", self.len()),
        }
    }
}

impl PartialEq for Argv {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Argv {}

impl std::fmt::Debug for Argv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_owned_agree() {
        let frame = Bytes::from_static(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        let a = Argv::spans(frame, Spans::from_slice(&[(8, 3), (17, 1)]));
        let b = Argv::from(["GET", "k"]);
        assert_eq!(a, b);
        assert_eq!(&a[0], b"GET");
        assert_eq!(a.bytes(1).as_deref(), Some(&b"k"[..]));
        assert_eq!(a.get(2), None);
        assert_eq!(a.to_vec(), b.to_vec());
        assert_eq!(format!("{a:?}"), "[\"GET\", \"k\"]");
    }
}
