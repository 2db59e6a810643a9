//! The binary frame format: parsing and composing request and response frames, and the
//! mapping between binary statuses and [`Reply`]. Which command an opcode means is
//! [`crate::cmd::from_frame`]'s business; the argument layouts it reads are here
//! ([`split_version`], [`cmd_frame`], [`shard_dump_frame`]).
//!
//! Parsing works on one frame body (the `len` bytes after the prefix); finding frame
//! boundaries is [`crate::codec`]'s job. Every integer is big-endian.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::limits::{
    LEN_PREFIX, Limits, MAX_TTL, PROTOCOL_VERSION, REQUEST_HEADER_LEN, RESPONSE_HEADER_LEN,
};
use super::text::{encode_command, encode_reply_resp3};
use super::{ErrorReply, Opcode, Reply, Status};

/// A binary request frame as it is on the wire, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestFrame {
    /// Raw opcode byte (may be unknown).
    pub opcode: u8,
    /// Must be zero in version 1.
    pub flags: u16,
    /// Chosen by the client, echoed in the response.
    pub id: u32,
    /// Time to live in milliseconds for SET; 0 = never expires.
    pub ttl_ms: u64,
    /// The key.
    pub key: Bytes,
    /// The value: the rest of the frame.
    pub value: Bytes,
}

/// A binary response frame as it is on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFrame {
    /// Raw status byte.
    pub status: u8,
    /// Must be zero in version 1.
    pub flags: u16,
    /// The id of the request this answers.
    pub id: u32,
    /// Status-specific payload; a UTF-8 message for error statuses.
    pub payload: Bytes,
}

/// Why a frame body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The body is shorter than its header, or the key runs past the end. The frame
    /// boundary is intact, so the server answers INVALID_ARGUMENT and carries on.
    #[error("short frame: {len} bytes, need at least {need}")]
    Short {
        /// The request id if the header got that far, else 0, so the error can be matched.
        id: u32,
        /// Bytes in the body.
        len: usize,
        /// Bytes the header says are needed.
        need: usize,
    },
    /// Unknown protocol version: nothing after it can be trusted, so this is fatal.
    #[error("unsupported protocol version {0}")]
    Version(u8),
}

impl RequestFrame {
    /// Parses a request body (the `len` bytes after the prefix). Takes the key and value
    /// as zero-copy slices of `body`.
    pub fn parse(mut body: Bytes) -> Result<Self, FrameError> {
        let len = body.len();
        if len >= 1 && body[0] != PROTOCOL_VERSION {
            return Err(FrameError::Version(body[0]));
        }
        if len < REQUEST_HEADER_LEN {
            // The id may still be readable; echo it so the client can match the error.
            let id = body.get(4..8).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            return Err(FrameError::Short { id, len, need: REQUEST_HEADER_LEN });
        }
        body.advance(1);
        let opcode = body.get_u8();
        let flags = body.get_u16();
        let id = body.get_u32();
        let ttl_ms = body.get_u64();
        let key_len = usize::from(body.get_u16());
        if key_len > body.len() {
            let need = REQUEST_HEADER_LEN + key_len;
            return Err(FrameError::Short { id, len, need });
        }
        let key = body.split_to(key_len);
        Ok(RequestFrame { opcode, flags, id, ttl_ms, key, value: body })
    }

    /// Appends the whole frame, `len` prefix included, to `dst`.
    ///
    /// The caller keeps key and value within limits; a key longer than `u16::MAX` is
    /// truncated in `key_len` only if the caller skipped that check, so it asserts in debug.
    pub fn encode(&self, dst: &mut BytesMut) {
        debug_assert!(self.key.len() <= usize::from(u16::MAX));
        let body_len = REQUEST_HEADER_LEN + self.key.len() + self.value.len();
        dst.reserve(LEN_PREFIX + body_len);
        dst.put_u32(u32::try_from(body_len).unwrap_or(u32::MAX));
        dst.put_u8(PROTOCOL_VERSION);
        dst.put_u8(self.opcode);
        dst.put_u16(self.flags);
        dst.put_u32(self.id);
        dst.put_u64(self.ttl_ms);
        dst.put_u16(u16::try_from(self.key.len()).unwrap_or(u16::MAX));
        dst.put_slice(&self.key);
        dst.put_slice(&self.value);
    }
}

impl ResponseFrame {
    /// Parses a response body (the `len` bytes after the prefix).
    pub fn parse(mut body: Bytes) -> Result<Self, FrameError> {
        let len = body.len();
        if len < RESPONSE_HEADER_LEN {
            let id = body.get(4..8).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            return Err(FrameError::Short { id, len, need: RESPONSE_HEADER_LEN });
        }
        let version = body.get_u8();
        if version != PROTOCOL_VERSION {
            return Err(FrameError::Version(version));
        }
        let status = body.get_u8();
        let flags = body.get_u16();
        let id = body.get_u32();
        Ok(ResponseFrame { status, flags, id, payload: body })
    }

    /// Appends the whole frame, `len` prefix included, to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        encode_response_parts(self.id, self.status, &self.payload, dst);
    }

    /// The status, if the byte is a defined one.
    pub fn status(&self) -> Option<Status> {
        Status::from_u8(self.status)
    }
}

/// Appends a response frame built from parts, without an intermediate [`ResponseFrame`].
pub fn encode_response_parts(id: u32, status: u8, payload: &[u8], dst: &mut BytesMut) {
    let body_len = RESPONSE_HEADER_LEN + payload.len();
    dst.reserve(LEN_PREFIX + body_len);
    dst.put_u32(u32::try_from(body_len).unwrap_or(u32::MAX));
    dst.put_u8(PROTOCOL_VERSION);
    dst.put_u8(status);
    dst.put_u16(0);
    dst.put_u32(id);
    dst.put_slice(payload);
}

/// Splits a versioned write's value into its leading `version:u64` and the data.
pub fn split_version(mut value: Bytes) -> Result<(u64, Bytes), ErrorReply> {
    if value.len() < 8 {
        return Err(ErrorReply::invalid(
            "versioned write needs an 8-byte version before the value",
        ));
    }
    let version = value.get_u64();
    if version == 0 {
        return Err(ErrorReply::invalid("version 0 is reserved"));
    }
    Ok((version, value))
}

/// The request frame of a versioned write (`VSET` when `value` is given, else `VDEL`).
pub fn versioned_frame(
    key: Bytes,
    value: Option<&[u8]>,
    ttl_ms: u64,
    version: u64,
) -> RequestFrame {
    let mut v = BytesMut::with_capacity(8 + value.map_or(0, <[u8]>::len));
    v.put_u64(version);
    let opcode = match value {
        Some(data) => {
            v.put_slice(data);
            Opcode::VSet
        }
        None => Opcode::VDel,
    };
    RequestFrame { opcode: opcode as u8, ttl_ms, key, value: v.freeze(), ..Default::default() }
}

/// Request flag of VSET and VDEL: the router sends the write to this node as an old replica
/// of the key's shard during a move (a *mover*), alongside the shard's new replicas. A node
/// whose shard is Retiring takes only such writes: one sent to it as a replica comes from a
/// router still on the map before the move, and answers WRONG_SHARD so that router reloads.
pub const FLAG_MOVER: u16 = 0x0001;

/// Request flag of VSET and VDEL: the write is a read-modify-write's outcome and carries
/// the ids of the commands whose effect its state holds, between the version and the data
/// (see [`super::rmw::outcome_frame`]). The node keeps them with the key, so a command run
/// again after its reply was lost is recognised on whichever replica coordinates next.
pub const FLAG_RMW_IDS: u16 = 0x0002;

/// The request frame of a SHARD_DUMP page.
pub fn shard_dump_frame(shard: u32, cursor: u64, max_items: u32) -> RequestFrame {
    let mut v = BytesMut::with_capacity(8);
    v.put_u32(shard);
    v.put_u32(max_items);
    let opcode = Opcode::ShardDump as u8;
    RequestFrame { opcode, ttl_ms: cursor, value: v.freeze(), ..Default::default() }
}

/// Checks a key is non-empty and within the limit.
pub fn check_key(key: Bytes, limits: &Limits) -> Result<Bytes, ErrorReply> {
    if key.is_empty() {
        return Err(ErrorReply::invalid("empty key"));
    }
    if key.len() > limits.max_key_size {
        let msg = format!("key too large ({} bytes, max {})", key.len(), limits.max_key_size);
        return Err(ErrorReply::new(Status::KeyTooLarge, msg));
    }
    Ok(key)
}

/// Checks a value is within the limit.
pub fn check_value(value: &[u8], limits: &Limits) -> Result<(), ErrorReply> {
    if value.len() > limits.max_value_size {
        let msg = format!("value too large ({} bytes, max {})", value.len(), limits.max_value_size);
        return Err(ErrorReply::new(Status::ValueTooLarge, msg));
    }
    Ok(())
}

/// The request frame of a CMD: the argument vector as a RESP array of bulk strings.
pub fn cmd_frame<A: AsRef<[u8]>>(args: &[A]) -> RequestFrame {
    let mut v = BytesMut::new();
    encode_command(args, &mut v);
    let opcode = Opcode::Cmd as u8;
    RequestFrame { opcode, value: v.freeze(), ..Default::default() }
}

/// The TTL of a SET or VSET frame: 0 is none, more than [`MAX_TTL`] is refused.
pub fn ttl_from_ms(ttl_ms: u64) -> Result<Option<Duration>, ErrorReply> {
    if ttl_ms == 0 {
        return Ok(None);
    }
    let ttl = Duration::from_millis(ttl_ms);
    if ttl > MAX_TTL {
        return Err(ErrorReply::invalid(format!("ttl_ms {ttl_ms} exceeds the maximum")));
    }
    Ok(Some(ttl))
}

/// Renders `reply` to a request with opcode byte `opcode` as a binary response frame.
///
/// The opcode decides the payload shape: DEL answers one byte, TTL an i64 of milliseconds
/// (NOT_FOUND when the key is absent), CMD the whole reply in RESP3, everything else the
/// reply's bytes. An error is its status and message whatever the opcode.
pub fn encode_reply(id: u32, opcode: u8, reply: &Reply, dst: &mut BytesMut) {
    let ok = Status::Ok as u8;
    match (Opcode::from_u8(opcode), reply) {
        (_, Reply::Error(e)) => {
            encode_response_parts(id, e.status as u8, e.message.as_bytes(), dst)
        }
        (_, Reply::Raw(status, payload)) => encode_response_parts(id, *status as u8, payload, dst),
        (Some(Opcode::Cmd), reply) => encode_resp3_response(id, reply, dst),
        (_, Reply::Nil | Reply::NilArray) => {
            encode_response_parts(id, Status::NotFound as u8, &[], dst)
        }
        (Some(Opcode::Del | Opcode::VSet | Opcode::VDel), Reply::Int(n)) => {
            encode_response_parts(id, ok, &[u8::from(*n > 0)], dst)
        }
        (Some(Opcode::Ttl), Reply::Int(-2)) => {
            encode_response_parts(id, Status::NotFound as u8, &[], dst)
        }
        (_, Reply::Int(n)) => encode_response_parts(id, ok, &n.to_be_bytes(), dst),
        (_, Reply::Bulk(b) | Reply::Verbatim(b)) => encode_response_parts(id, ok, b, dst),
        (_, Reply::Ok | Reply::Simple(_)) => encode_response_parts(id, ok, &[], dst),
        (_, Reply::Array(_) | Reply::Map(_) | Reply::Set(_)) => {
            let msg = "internal: array reply has no binary form";
            encode_response_parts(id, Status::Internal as u8, msg.as_bytes(), dst)
        }
    }
}

/// An OK response whose payload is `reply` in RESP3, written in place: the length prefix
/// is filled in once the payload is known, so no intermediate buffer is needed.
fn encode_resp3_response(id: u32, reply: &Reply, dst: &mut BytesMut) {
    let start = dst.len();
    encode_response_parts(id, Status::Ok as u8, &[], dst);
    encode_reply_resp3(reply, dst);
    let body_len = dst.len() - start - LEN_PREFIX;
    let prefix = u32::try_from(body_len).unwrap_or(u32::MAX).to_be_bytes();
    dst[start..start + LEN_PREFIX].copy_from_slice(&prefix);
}

/// Interprets a binary response to a request with opcode `op` as a [`Reply`]: the inverse
/// of [`encode_reply`], used where a binary answer must be relayed to a text client.
pub fn to_reply(op: Opcode, frame: &ResponseFrame) -> Reply {
    let Some(status) = frame.status() else {
        let msg = format!("unknown status 0x{:02x}", frame.status);
        return Reply::error(Status::Internal, msg);
    };
    let payload = &frame.payload;
    match (status, op) {
        (Status::Ok, op) if op.answers_bulk() => Reply::Bulk(payload.clone()),
        (Status::Ok, Opcode::Sync) => match <[u8; 8]>::try_from(payload.as_ref()) {
            Ok(b) => Reply::Int(i64::from_be_bytes(b)),
            Err(_) => Reply::error(Status::Internal, "SYNC payload is not 8 bytes"),
        },
        (Status::Stale, _) => Reply::Raw(status, payload.clone()),
        (Status::Ok, Opcode::Ping) if payload.is_empty() => Reply::Simple("PONG"),
        (Status::Ok, Opcode::Ping) => Reply::Bulk(payload.clone()),
        (Status::Ok, Opcode::Set | Opcode::Auth) => Reply::Ok,
        (Status::Ok, Opcode::Del | Opcode::VSet | Opcode::VDel) => {
            Reply::Int(i64::from(payload.first() == Some(&1)))
        }
        (Status::Ok, Opcode::Cmd) => match super::text::decode_value(payload) {
            Ok(value) => super::text::to_reply(value),
            Err(e) => Reply::error(Status::Internal, format!("bad CMD reply: {e}")),
        },
        (Status::Ok, Opcode::Ttl) => match <[u8; 8]>::try_from(payload.as_ref()) {
            Ok(b) => Reply::Int(i64::from_be_bytes(b)),
            Err(_) => Reply::error(Status::Internal, "TTL payload is not 8 bytes"),
        },
        (Status::NotFound, Opcode::Ttl) => Reply::Int(-2),
        (Status::NotFound, _) => Reply::Nil,
        (s, _) => Reply::error(s, String::from_utf8_lossy(payload).into_owned()),
    }
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;
