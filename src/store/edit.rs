//! The value types of the store's string operations beyond plain GET/SET: [`Edit`], the
//! read-modify-write a command hands the store (INCR, APPEND, SETRANGE, SETBIT, ...),
//! the SET options ([`SetOptions`], [`Expiry`]) and what each write reports back
//! ([`Written`], [`SetOutcome`], [`Fetched`]). No behaviour lives here; the operations are
//! in `strings.rs` (locking) and `shard/strings.rs` (under the lock).

use std::time::Duration;

use bytes::Bytes;

use super::SetCond;

/// A read-modify-write of one key's value, decided and done under the key's stripe lock
/// (see [`super::Store::rewrite`]). The store calls [`Edit::plan`] with the live value,
/// then, if a write was planned, [`Edit::apply`] on the new value's bytes. A plan may be
/// asked for more than once (the store may retry after allocating outside the lock), so
/// it must depend only on the value it is given; what the command answers is kept in the
/// edit itself.
///
/// The key keeps its deadline (a new key gets none) and gets a fresh version. Every path
/// runs in place on the entry when the new value fits where the old one is (an inline
/// value within its slot's size class; a big value nobody else holds, with room), so an
/// INCR of a counter allocates nothing.
pub trait Edit {
    /// What to do, given the live value (`None`: absent or expired).
    fn plan(&mut self, old: Option<&[u8]>) -> Plan;

    /// Fills in the new value: `value` holds the old bytes, cut or zero-padded to the
    /// planned length. Called once per write, right after the [`Edit::plan`] that asked for
    /// it, with the same old value.
    fn apply(&mut self, value: &mut [u8]);
}

/// What an [`Edit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Write nothing (an error to answer, a no-op such as SETBIT of an equal bit).
    Keep,
    /// Write a value of this many bytes.
    Write(usize),
}

/// What a write left its key holding, so the outcome of a read-modify-write can be
/// replicated as a versioned write: the version it was stamped with, the key's remaining
/// time to live, and whether it holds a value at all (a delete leaves none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The write's version.
    pub version: u64,
    /// Time to live left after the write; `None`: none (or deleted).
    pub ttl: Option<Duration>,
    /// `false` when the write deleted the key.
    pub live: bool,
}

/// The expiry a write gives its key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry: SET's default, GETEX PERSIST.
    #[default]
    Persist,
    /// Whatever the key had: SET KEEPTTL, a GETEX without options.
    Keep,
    /// Expires this long from now; zero means the deadline already passed (EXAT in the
    /// past), which deletes the key.
    In(Duration),
}

/// SET's options as the store sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// NX / XX.
    pub cond: SetCond,
    /// EX / PX / EXAT / PXAT / KEEPTTL.
    pub expiry: Expiry,
    /// GET: also return the old value.
    pub get: bool,
}

/// What [`super::Store::set_with`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetOutcome {
    /// The write, if the condition allowed it.
    pub written: Option<Written>,
    /// The value before the write, when asked for (SET ... GET, GETSET).
    pub old: Option<Bytes>,
}

/// A value read by an operation that may also change its key (GETDEL, GETEX).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The value as it was.
    pub value: Bytes,
    /// The change made, if any.
    pub written: Option<Written>,
}
