//! Invariant checks shared by the harnesses: a [`Stream`] that feeds a decoder the way the
//! connection loop does and checks every call's buffer discipline, and validity checks for
//! decoded [`Command`]s and [`Reply`]s.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::cmd::Command;
use crate::net::READ_CHUNK;
use crate::protocol::limits::{MAX_RESP_ARGS, MAX_TTL};
use crate::protocol::shards::MAX_COUNT_SHARDS;
use crate::protocol::text::MAX_REPLY_DEPTH;
use crate::protocol::{Limits, Reply};

use super::MAX_DECODE_CALLS;

/// A read buffer fed like `net::connection` feeds its socket buffer: it starts at
/// [`READ_CHUNK`] and reserves another chunk when less than half a chunk is free.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) buf: BytesMut,
    fed: usize,
    calls: usize,
    /// Most bytes a decoder may leave buffered when it asks for more: one maximal frame.
    max_pending: usize,
}

impl Stream {
    pub(crate) fn new(max_pending: usize) -> Self {
        Self { buf: BytesMut::with_capacity(READ_CHUNK), fed: 0, calls: 0, max_pending }
    }

    /// Bytes fed so far.
    pub(crate) fn fed(&self) -> usize {
        self.fed
    }

    /// Appends one read's worth of bytes, in pieces no larger than the free space, as a
    /// socket read would deliver them.
    pub(crate) fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 2 {
                self.buf.reserve(READ_CHUNK);
            }
            let room = (self.buf.capacity() - self.buf.len()).max(1);
            let (piece, rest) = chunk.split_at(room.min(chunk.len()));
            self.buf.extend_from_slice(piece);
            self.fed += piece.len();
            chunk = rest;
        }
        // Only this loop grows the buffer, in READ_CHUNK steps (doubling at worst), so its
        // capacity is tied to bytes that arrived, never to a length read off the wire.
        let cap = 2 * (self.fed + 2 * READ_CHUNK);
        assert!(self.buf.capacity() <= cap, "buffer capacity {} > {cap}", self.buf.capacity());
    }

    /// Runs one decode call and checks its discipline: it never grows the buffer, an item
    /// consumes at least one byte (or the codec would spin forever), and a request for
    /// more bytes leaves at most one maximal frame buffered. Returns the item and the
    /// bytes it consumed.
    pub(crate) fn step<T, E>(
        &mut self,
        decode: impl FnOnce(&mut BytesMut) -> Result<Option<T>, E>,
    ) -> Result<Option<(T, usize)>, E> {
        self.calls += 1;
        assert!(self.calls <= MAX_DECODE_CALLS, "decoder made no progress in {} calls", self.calls);
        let (len, cap) = (self.buf.len(), self.buf.capacity());
        let result = decode(&mut self.buf);
        assert!(
            self.buf.capacity() <= cap,
            "decode grew the buffer: {cap} -> {}",
            self.buf.capacity()
        );
        assert!(self.buf.len() <= len, "decode added bytes: {len} -> {}", self.buf.len());
        let consumed = len - self.buf.len();
        match result {
            Ok(Some(item)) => {
                assert!(consumed > 0, "an item consumed no bytes");
                Ok(Some((item, consumed)))
            }
            Ok(None) => {
                let pending = self.buf.len();
                assert!(
                    pending <= self.max_pending,
                    "{pending} bytes buffered, max {}",
                    self.max_pending
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Which decoder produced a command: binary frames map to only a few commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Binary,
    Text,
}

/// Asserts a decoded command is within `limits`: every key it names non-empty and at most
/// `max_key_size`, values at most `max_value_size`, TTLs in `1ns..=MAX_TTL` for SET and VSET
/// (a zero TTL would silently delete) and at most `MAX_TTL` for EXPIRE, versions non-zero.
pub(crate) fn check_command(cmd: &Command, limits: &Limits, origin: Origin) {
    for k in cmd.keys() {
        assert!(!k.is_empty(), "{} with an empty key", cmd.name());
        assert!(k.len() <= limits.max_key_size, "{} key of {} bytes", cmd.name(), k.len());
    }
    let keyed = cmd.spec().keys.is_empty() || cmd.keys().len() > 0;
    assert!(keyed, "{} without keys", cmd.name());
    let value = |v: &Bytes| assert!(v.len() <= limits.max_value_size, "value of {} bytes", v.len());
    match cmd {
        Command::Set(args) => {
            value(&args.value);
            if let Some(ttl) = args.ttl {
                assert!(ttl > Duration::ZERO && ttl <= MAX_TTL, "SET ttl {ttl:?}");
            }
        }
        Command::MSet(pairs) => pairs.iter().for_each(|(_, v)| value(v)),
        Command::Expire(a) | Command::PExpire(a) => {
            if let crate::cmd::expiry::When::In(ms) = a.when {
                let max = i64::try_from(MAX_TTL.as_millis()).unwrap_or(i64::MAX);
                assert!(ms <= max, "EXPIRE ttl {ms} ms");
            }
        }
        Command::VSet(a) => {
            value(&a.value);
            let ttl = a.ttl();
            assert!(ttl.is_none_or(|t| t > Duration::ZERO && t <= MAX_TTL), "VSET ttl {ttl:?}");
            assert_ne!(a.version, 0, "VSET with the reserved version 0");
        }
        Command::VDel(a) => assert_ne!(a.version, 0, "VDEL with the reserved version 0"),
        // What RMW carries is parsed like a text command.
        Command::Rmw(inner) => check_command(&inner.command, limits, Origin::Text),
        // Strings and bitmaps.
        Command::Append(a) => value(&a.value),
        Command::SetRange(a) => {
            value(&a.value);
            let end = a.offset.saturating_add(a.value.len());
            assert!(a.value.is_empty() || end <= limits.max_value_size, "SETRANGE to {end}");
        }
        Command::GetSet((_, v)) | Command::SetNx((_, v)) => value(v),
        Command::SetEx(a) | Command::PSetEx(a) => {
            value(&a.value);
            assert!(a.ttl > Duration::ZERO && a.ttl <= MAX_TTL, "SETEX ttl {:?}", a.ttl);
        }
        Command::MSetNx(pairs) => pairs.iter().for_each(|(_, v)| value(v)),
        Command::SetBit(a) => {
            assert!(a.offset / 8 < limits.max_value_size as u64, "SETBIT offset {}", a.offset)
        }
        // The rest carry no value or TTL beyond their keys, checked above.
        _ => {}
    }
    if origin == Origin::Binary {
        check_binary_command(cmd, limits);
    }
}

/// What a binary frame of `opcode` may decode as: a typed opcode's few commands, or (CMD)
/// anything the text parser accepts.
pub(crate) fn origin_of(opcode: u8) -> Origin {
    if opcode == crate::protocol::Opcode::Cmd as u8 { Origin::Text } else { Origin::Binary }
}

/// Typed binary frames carry one key and decode to a handful of commands only.
fn check_binary_command(cmd: &Command, limits: &Limits) {
    match cmd {
        Command::Ping(msg) => {
            assert!(msg.as_ref().is_none_or(|m| !m.is_empty()), "PING with an empty message");
        }
        Command::Del(keys) => assert_eq!(keys.len(), 1, "binary DEL takes one key"),
        Command::Auth(c) => {
            assert!(c.user.is_none(), "binary AUTH has no user");
            let n = c.password.0.len();
            assert!(n <= limits.max_frame_len(), "AUTH of {n} bytes");
        }
        Command::Get(_)
        | Command::Pttl(_)
        | Command::Set(_)
        | Command::Stats(_)
        | Command::VSet(_)
        | Command::VDel(_)
        | Command::ShardDump(_)
        | Command::NodeStatus(_)
        | Command::Digest(_)
        | Command::BucketDump(_)
        | Command::Sync(_)
        | Command::VFlush(_)
        | Command::Rmw(_)
        | Command::Fence(_) => {}
        Command::ShardCount(r) => {
            let n = r.shards.len();
            assert!((1..=MAX_COUNT_SHARDS).contains(&n), "SHARD_COUNT of {n} shards");
        }
        Command::ShardScan(r) => {
            let n = r.pattern.len();
            assert!(n <= limits.max_frame_len(), "SHARD_SCAN pattern of {n} bytes");
        }
        other => panic!("binary frame decoded to {}", other.name()),
    }
}

/// Asserts a reply decoded from RESP respects the decoder's limits: arrays at most
/// [`MAX_RESP_ARGS`] long and at most [`MAX_REPLY_DEPTH`] deep, bulks at most
/// `max_bulk_len`.
pub(crate) fn check_reply(reply: &Reply, limits: &Limits) {
    let depth = nonempty_depth(reply);
    assert!(depth <= MAX_REPLY_DEPTH, "reply nested {depth} deep");
    walk(reply, &mut |r| match r {
        Reply::Bulk(b) => assert!(b.len() <= limits.max_bulk_len(), "bulk of {} bytes", b.len()),
        Reply::Array(items) => assert!(items.len() <= MAX_RESP_ARGS, "array of {}", items.len()),
        _ => {}
    });
}

/// Nesting depth counting only non-empty arrays: what `ReplyDecoder` limits (an empty array
/// opens nothing).
/// A map is an array of its keys and values on the wire.
pub(crate) fn nonempty_depth(reply: &Reply) -> usize {
    match reply {
        Reply::Array(items) if !items.is_empty() => {
            1 + items.iter().map(nonempty_depth).max().unwrap_or(0)
        }
        Reply::Map(pairs) if !pairs.is_empty() => {
            let depth = |(k, v): &(Reply, Reply)| nonempty_depth(k).max(nonempty_depth(v));
            1 + pairs.iter().map(depth).max().unwrap_or(0)
        }
        _ => 0,
    }
}

/// Visits every node of a reply tree, depth first.
fn walk(reply: &Reply, f: &mut impl FnMut(&Reply)) {
    f(reply);
    match reply {
        Reply::Array(items) => items.iter().for_each(|item| walk(item, f)),
        Reply::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            walk(k, f);
            walk(v, f);
        }),
        _ => {}
    }
}
