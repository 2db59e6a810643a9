//! Building request frames, with the key, value and TTL checks that let bad arguments
//! fail before a round trip.
//!
//! The rules themselves are the protocol's ([`check_key`], [`check_value`]), so client and
//! server can't disagree; this module only maps them to typed [`Error`]s.

use std::time::Duration;

use bytes::Bytes;

use super::Error;
use crate::protocol::binary::{RequestFrame, check_key, check_value, cmd_frame};
use crate::protocol::limits::{MAX_FRAME_LEN_HARD, MAX_KEY_SIZE_HARD, MAX_TTL, REQUEST_HEADER_LEN};
use crate::protocol::{Limits, Opcode, Status};

/// Which typed reply a request expects; decides how [`super::reply`] decodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Get,
    Set,
    Del,
    Ttl,
    Ping,
    Stats,
    Cmd,
}

/// A checked request ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) kind: Kind,
    pub(crate) frame: RequestFrame,
}

fn frame(opcode: Opcode, key: Bytes, value: Bytes, ttl_ms: u64) -> RequestFrame {
    RequestFrame { opcode: opcode as u8, flags: 0, id: 0, ttl_ms, key, value }
}

fn key_checked(key: Bytes, limits: &Limits) -> Result<Bytes, Error> {
    let len = key.len();
    // The wire's key_len is a u16 whatever the configured limit says.
    let limits = Limits { max_key_size: limits.max_key_size.min(MAX_KEY_SIZE_HARD), ..*limits };
    check_key(key, &limits).map_err(|e| match e.status {
        Status::KeyTooLarge => Error::KeyTooLarge { len, max: limits.max_key_size },
        _ => Error::InvalidArgument(e.message.into_owned()),
    })
}

fn value_checked(key: &Bytes, value: &Bytes, limits: &Limits) -> Result<(), Error> {
    // A frame can't exceed the hard cap, whatever the configured value limit says.
    let room = MAX_FRAME_LEN_HARD - REQUEST_HEADER_LEN - key.len();
    let limits = Limits { max_value_size: limits.max_value_size.min(room), ..*limits };
    check_value(value, &limits).map_err(|e| match e.status {
        Status::ValueTooLarge => {
            Error::ValueTooLarge { len: value.len(), max: limits.max_value_size }
        }
        _ => Error::InvalidArgument(e.message.into_owned()),
    })
}

/// Whole milliseconds for the wire, rounded up so a sub-millisecond TTL does not become
/// 0, which means "never expires".
fn ttl_millis(ttl: Duration) -> Result<u64, Error> {
    if ttl.is_zero() {
        return Err(Error::InvalidArgument("ttl must be positive".into()));
    }
    if ttl > MAX_TTL {
        return Err(Error::InvalidArgument(format!("ttl {ttl:?} exceeds the maximum {MAX_TTL:?}")));
    }
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).map_err(|_| Error::InvalidArgument(format!("ttl {ttl:?} out of range")))
}

impl Request {
    /// GET `key`.
    pub(crate) fn get(key: Bytes, limits: &Limits) -> Result<Self, Error> {
        let key = key_checked(key, limits)?;
        Ok(Self { kind: Kind::Get, frame: frame(Opcode::Get, key, Bytes::new(), 0) })
    }

    /// SET `key` to `value`, expiring after `ttl` if given.
    pub(crate) fn set(
        key: Bytes,
        value: Bytes,
        ttl: Option<Duration>,
        limits: &Limits,
    ) -> Result<Self, Error> {
        let key = key_checked(key, limits)?;
        value_checked(&key, &value, limits)?;
        let ttl_ms = ttl.map(ttl_millis).transpose()?.unwrap_or(0);
        Ok(Self { kind: Kind::Set, frame: frame(Opcode::Set, key, value, ttl_ms) })
    }

    /// DEL `key`.
    pub(crate) fn del(key: Bytes, limits: &Limits) -> Result<Self, Error> {
        let key = key_checked(key, limits)?;
        Ok(Self { kind: Kind::Del, frame: frame(Opcode::Del, key, Bytes::new(), 0) })
    }

    /// TTL of `key`.
    pub(crate) fn ttl(key: Bytes, limits: &Limits) -> Result<Self, Error> {
        let key = key_checked(key, limits)?;
        Ok(Self { kind: Kind::Ttl, frame: frame(Opcode::Ttl, key, Bytes::new(), 0) })
    }

    /// PING with an empty payload.
    pub(crate) fn ping() -> Self {
        Self { kind: Kind::Ping, frame: frame(Opcode::Ping, Bytes::new(), Bytes::new(), 0) }
    }

    /// STATS.
    pub(crate) fn stats() -> Self {
        Self { kind: Kind::Stats, frame: frame(Opcode::Stats, Bytes::new(), Bytes::new(), 0) }
    }

    /// CMD: any command as its argument vector. The whole vector must fit the frame a
    /// server with these limits accepts (room for a key and a value), since the server
    /// checks each key and value again against the same limits.
    pub(crate) fn cmd<A: AsRef<[u8]>>(args: &[A], limits: &Limits) -> Result<Self, Error> {
        if args.is_empty() {
            return Err(Error::InvalidArgument("a command needs at least its name".into()));
        }
        let frame = cmd_frame(args);
        let max = limits.max_frame_len() - REQUEST_HEADER_LEN;
        if frame.value.len() > max {
            return Err(Error::ValueTooLarge { len: frame.value.len(), max });
        }
        Ok(Self { kind: Kind::Cmd, frame })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits { max_key_size: 4, max_value_size: 8 }
    }

    #[test]
    fn key_checks() {
        let l = small();
        assert!(Request::get(Bytes::from_static(b"abcd"), &l).is_ok());
        let e = Request::get(Bytes::from_static(b"abcde"), &l).expect_err("too large");
        assert!(matches!(e, Error::KeyTooLarge { len: 5, max: 4 }), "{e}");
        let e = Request::del(Bytes::new(), &l).expect_err("empty");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }

    #[test]
    fn value_checks() {
        let l = small();
        let k = || Bytes::from_static(b"k");
        assert!(Request::set(k(), Bytes::from_static(&[0; 8]), None, &l).is_ok());
        let e = Request::set(k(), Bytes::from_static(&[0; 9]), None, &l).expect_err("large");
        assert!(matches!(e, Error::ValueTooLarge { len: 9, max: 8 }), "{e}");
    }

    #[test]
    fn cmd_checks_size_and_emptiness() {
        let l = small();
        assert!(Request::cmd(&["PING"], &Limits::default()).is_ok());
        let empty: [&str; 0] = [];
        assert!(matches!(Request::cmd(&empty, &l), Err(Error::InvalidArgument(_))));
        let big = "x".repeat(1024);
        assert!(matches!(Request::cmd(&["SET", "k", &big], &l), Err(Error::ValueTooLarge { .. })));
    }

    #[test]
    fn ttl_rounds_up_and_rejects_zero_and_huge() {
        assert_eq!(ttl_millis(Duration::from_micros(1)).ok(), Some(1));
        assert_eq!(ttl_millis(Duration::from_millis(1500)).ok(), Some(1500));
        assert!(ttl_millis(Duration::ZERO).is_err());
        assert!(ttl_millis(MAX_TTL + Duration::from_secs(1)).is_err());
    }
}
