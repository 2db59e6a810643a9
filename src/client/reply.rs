//! Turning response frames into typed results: the shape check every reply passes before
//! it reaches a caller, and the per-operation decoders behind [`Value`] and [`TtlState`].
//!
//! The shape check runs in the connection's reader task, so a reply that does not fit the
//! request it claims to answer tears the connection down instead of being handed to a
//! caller. The decoders then only have to map statuses to results.

use std::time::Duration;

use bytes::Bytes;

use super::Error;
use super::stats::Stats;
use crate::protocol::binary::{RequestFrame, ResponseFrame};
use crate::protocol::rmw::{FenceOk, RmwOutcome};
use crate::protocol::text::{RespValue, decode_value};
use crate::protocol::{Opcode, Status};

/// What a reply must look like, remembered from its request.
#[derive(Debug, Clone)]
pub(crate) enum Expect {
    /// A known opcode other than PING.
    Op(Opcode),
    /// PING: the payload must echo these bytes.
    Echo(Bytes),
    /// An opcode this client does not know (relayed by a router): any defined status.
    Any,
}

impl Expect {
    /// The expectation for a request frame.
    pub(crate) fn of(frame: &RequestFrame) -> Self {
        match Opcode::from_u8(frame.opcode) {
            Some(Opcode::Ping) => Expect::Echo(frame.value.clone()),
            Some(op) => Expect::Op(op),
            None => Expect::Any,
        }
    }
}

/// Checks that `frame` is a well-formed answer to a request with expectation `expect`.
pub(crate) fn check_shape(expect: &Expect, frame: &ResponseFrame) -> Result<(), String> {
    if frame.flags != 0 {
        return Err(format!("reply flags must be 0, got 0x{:04x}", frame.flags));
    }
    let Some(status) = frame.status() else {
        return Err(format!("unknown reply status 0x{:02x}", frame.status));
    };
    let p = &frame.payload;
    let ok = match (status, expect) {
        (s, _) if s.is_error() => true,
        (_, Expect::Any) => true,
        (Status::NotFound, Expect::Op(op)) => matches!(op, Opcode::Get | Opcode::Ttl),
        (Status::NotFound, Expect::Echo(_)) => false,
        (Status::Stale, Expect::Op(op)) => {
            matches!(op, Opcode::VSet | Opcode::VDel)
                && p.len() == crate::protocol::cluster::STALE_LEN
        }
        (Status::Stale, Expect::Echo(_)) => false,
        (_, Expect::Echo(sent)) => p == sent,
        (_, Expect::Op(Opcode::Get)) => true,
        (_, Expect::Op(Opcode::Set | Opcode::Auth)) => p.is_empty(),
        (_, Expect::Op(Opcode::Del)) => matches!(p.as_ref(), [0] | [1]),
        (_, Expect::Op(Opcode::VSet | Opcode::VDel)) => {
            crate::protocol::cluster::WriteAck::decode(p).is_some()
        }
        (_, Expect::Op(Opcode::ShardDump | Opcode::BucketDump | Opcode::Digest)) => true,
        (_, Expect::Op(Opcode::NodeStatus | Opcode::Sync)) => true,
        (_, Expect::Op(Opcode::VFlush)) => p.len() == crate::protocol::shards::VFLUSH_ACK_LEN,
        (_, Expect::Op(Opcode::ShardCount)) => crate::protocol::shards::decode_counts(p).is_some(),
        (_, Expect::Op(Opcode::ShardScan)) => p.len() >= crate::protocol::shards::SCAN_PAGE_HEAD,
        (_, Expect::Op(Opcode::Ttl)) => ttl_millis(p).is_some_and(|ms| ms >= -1),
        (_, Expect::Op(Opcode::Stats)) => std::str::from_utf8(p).is_ok(),
        (_, Expect::Op(Opcode::Ping)) => true,
        (_, Expect::Op(Opcode::Cmd)) => decode_value(p).is_ok(),
        (_, Expect::Op(Opcode::Rmw)) => RmwOutcome::decode(p.clone()).is_some(),
        (_, Expect::Op(Opcode::Fence)) => FenceOk::decode(p.clone()).is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected {} reply of {} bytes to {expect:?}", status.name(), p.len()))
    }
}

fn ttl_millis(payload: &[u8]) -> Option<i64> {
    <[u8; 8]>::try_from(payload).ok().map(i64::from_be_bytes)
}

/// A key's time to live, distinguishing all three cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TtlState {
    /// The key does not exist (or has expired).
    Missing,
    /// The key exists and never expires.
    Persistent,
    /// The key exists and expires after this long.
    Expires(Duration),
}

impl TtlState {
    /// The nested-option form [`super::Client::ttl`] returns: `None` = missing,
    /// `Some(None)` = no expiry, `Some(Some(d))` = expires in `d`.
    pub fn into_option(self) -> Option<Option<Duration>> {
        match self {
            TtlState::Missing => None,
            TtlState::Persistent => Some(None),
            TtlState::Expires(d) => Some(Some(d)),
        }
    }
}

/// One typed reply in a [`super::Pipeline`]'s results, named after its operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// GET: the value, or `None` when the key is absent.
    Get(Option<Bytes>),
    /// SET (with or without TTL) succeeded.
    Set,
    /// DEL: whether a key was removed.
    Del(bool),
    /// TTL of a key.
    Ttl(TtlState),
    /// PING: time from sending the batch to receiving this reply.
    Ping(Duration),
    /// STATS of the server.
    Stats(Stats),
    /// Any command's reply (see [`super::Client::cmd`]).
    Cmd(RespValue),
}

/// The server's error status as an [`Error`], or the status when it is a success.
fn status(frame: &ResponseFrame) -> Result<Status, Error> {
    match frame.status() {
        Some(s) if s.is_error() => Err(Error::Server {
            status: s,
            message: String::from_utf8_lossy(&frame.payload).into_owned(),
        }),
        Some(s) => Ok(s),
        None => Err(Error::Protocol(format!("unknown reply status 0x{:02x}", frame.status))),
    }
}

fn unexpected(op: &str, frame: &ResponseFrame) -> Error {
    let len = frame.payload.len();
    Error::Protocol(format!("unexpected {op} reply: status 0x{:02x}, {len} bytes", frame.status))
}

/// GET: the value, `None` on NOT_FOUND.
pub(crate) fn get(frame: ResponseFrame) -> Result<Option<Bytes>, Error> {
    match status(&frame)? {
        Status::NotFound => Ok(None),
        _ => Ok(Some(frame.payload)),
    }
}

/// SET: an empty OK.
pub(crate) fn set(frame: ResponseFrame) -> Result<(), Error> {
    match status(&frame)? {
        Status::Ok if frame.payload.is_empty() => Ok(()),
        _ => Err(unexpected("SET", &frame)),
    }
}

/// DEL: one byte, 1 if a key was removed.
pub(crate) fn del(frame: ResponseFrame) -> Result<bool, Error> {
    match (status(&frame)?, frame.payload.as_ref()) {
        (Status::Ok, [b @ (0 | 1)]) => Ok(*b == 1),
        _ => Err(unexpected("DEL", &frame)),
    }
}

/// TTL: i64 milliseconds, -1 for no expiry; NOT_FOUND when absent.
pub(crate) fn ttl(frame: ResponseFrame) -> Result<TtlState, Error> {
    match (status(&frame)?, ttl_millis(&frame.payload)) {
        (Status::NotFound, _) => Ok(TtlState::Missing),
        (Status::Ok, Some(-1)) => Ok(TtlState::Persistent),
        (Status::Ok, Some(ms)) => match u64::try_from(ms) {
            Ok(ms) => Ok(TtlState::Expires(Duration::from_millis(ms))),
            Err(_) => Err(unexpected("TTL", &frame)),
        },
        _ => Err(unexpected("TTL", &frame)),
    }
}

/// PING: an OK (the echo itself was checked by [`check_shape`]).
pub(crate) fn ping(frame: ResponseFrame) -> Result<(), Error> {
    match status(&frame)? {
        Status::Ok => Ok(()),
        _ => Err(unexpected("PING", &frame)),
    }
}

/// STATS: UTF-8 `name:value` lines.
pub(crate) fn stats(frame: ResponseFrame) -> Result<Stats, Error> {
    match (status(&frame)?, std::str::from_utf8(&frame.payload)) {
        (Status::Ok, Ok(text)) => Ok(Stats::parse(text)),
        _ => Err(unexpected("STATS", &frame)),
    }
}

/// CMD: the reply, RESP3-encoded (its shape was checked when it arrived).
pub(crate) fn cmd(frame: ResponseFrame) -> Result<RespValue, Error> {
    status(&frame)?;
    decode_value(&frame.payload).map_err(|e| Error::Protocol(format!("bad CMD reply: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: Status, payload: &[u8]) -> ResponseFrame {
        let payload = Bytes::copy_from_slice(payload);
        ResponseFrame { status: status as u8, flags: 0, id: 1, payload }
    }

    #[test]
    fn shape_table() {
        let op = Expect::Op;
        let echo = |b: &'static [u8]| Expect::Echo(Bytes::from_static(b));
        // (expectation, reply, acceptable)
        let table = [
            (op(Opcode::Get), reply(Status::Ok, b"anything"), true),
            (op(Opcode::Get), reply(Status::NotFound, b""), true),
            (op(Opcode::Set), reply(Status::Ok, b""), true),
            (op(Opcode::Set), reply(Status::Ok, b"x"), false),
            (op(Opcode::Set), reply(Status::NotFound, b""), false),
            (op(Opcode::Del), reply(Status::Ok, &[1]), true),
            (op(Opcode::Del), reply(Status::Ok, &[2]), false),
            (op(Opcode::Del), reply(Status::Ok, &[0, 0]), false),
            (op(Opcode::Ttl), reply(Status::Ok, &(-1i64).to_be_bytes()), true),
            (op(Opcode::Ttl), reply(Status::Ok, &(-2i64).to_be_bytes()), false),
            (op(Opcode::Ttl), reply(Status::Ok, &[0; 4]), false),
            (op(Opcode::Stats), reply(Status::Ok, b"a:1\n"), true),
            (op(Opcode::Stats), reply(Status::Ok, &[0xff]), false),
            (echo(b"hi"), reply(Status::Ok, b"hi"), true),
            (echo(b"hi"), reply(Status::Ok, b"ho"), false),
            // An error status fits any request.
            (op(Opcode::Set), reply(Status::Busy, b"later"), true),
            (Expect::Any, reply(Status::NotFound, b""), true),
            (op(Opcode::Cmd), reply(Status::Ok, b":1\r\n"), true),
            (op(Opcode::Cmd), reply(Status::Ok, b":1"), false), // not one whole RESP value
            (op(Opcode::Cmd), reply(Status::InvalidArgument, b"syntax error"), true),
        ];
        for (i, (expect, frame, ok)) in table.into_iter().enumerate() {
            assert_eq!(check_shape(&expect, &frame).is_ok(), ok, "case {i}");
        }
        let mut bad = reply(Status::Ok, b"");
        bad.status = 0x55;
        assert!(check_shape(&Expect::Any, &bad).is_err());
        bad = reply(Status::Ok, b"");
        bad.flags = 1;
        assert!(check_shape(&Expect::Any, &bad).is_err());
    }

    #[test]
    fn decoders_map_statuses() {
        assert_eq!(get(reply(Status::NotFound, b"")).ok(), Some(None));
        assert!(del(reply(Status::Ok, &[1])).is_ok_and(|b| b));
        let frame = reply(Status::Ok, &1500i64.to_be_bytes());
        assert_eq!(ttl(frame).ok(), Some(TtlState::Expires(Duration::from_millis(1500))));
        assert_eq!(ttl(reply(Status::NotFound, b"")).ok(), Some(TtlState::Missing));
        let err = set(reply(Status::OutOfMemory, b"full")).expect_err("error status");
        assert_eq!(err.status(), Some(Status::OutOfMemory));
        assert_eq!(err.message(), Some("full"));
    }
}
