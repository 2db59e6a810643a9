//! Binary round trips: request frames (against a reference model of `to_command`),
//! response frames, and replies per opcode.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;

use crate::cmd::conn::Credentials;
use crate::cmd::internal::{
    BucketDumpArgs, DigestArgs, FenceArgs, RmwArgs, RmwIds, ShardDumpArgs, SyncArgs, VDelArgs,
    VSetArgs,
};
use crate::cmd::string::SetArgs;
use crate::cmd::{Command, cmd_argv};
use crate::codec::{ClientCodec, CodecError, ServerCodec, Shape};
use crate::protocol::binary::{RequestFrame, ResponseFrame, encode_reply, to_reply};
use crate::protocol::limits::{LEN_PREFIX, MAX_TTL, REQUEST_HEADER_LEN};
use crate::protocol::shards::{CountRequest, MAX_COUNT_SHARDS, ScanRequest};
use crate::protocol::{Limits, Opcode, Reply, Status, cluster};

use super::super::Config;
use super::super::check::{check_command, origin_of};
use super::super::input::Input;
use super::{blob, message};

/// Encodes an arbitrary request frame: parsing the body gives it back exactly, and the
/// server codec decodes it to the command (or error status) [`expected_command`] predicts,
/// or refuses it as too large exactly when it is.
pub(super) fn request_frame(input: &mut Input<'_>) {
    let limits = Config::limits(input.u8() & 0b11);
    let frame = RequestFrame {
        opcode: if input.bool() { input.pick(&Opcode::ALL) as u8 } else { input.u8() },
        flags: match input.below(8) {
            0 => input.u16(),
            1 => u16::from(input.u8() & 3), // the versioned writes' flags
            _ => 0,
        },
        id: input.u32(),
        ttl_ms: ttl_ms(input),
        key: blob(input),
        value: blob(input),
    };
    let mut buf = BytesMut::new();
    frame.encode(&mut buf);
    let body_len = REQUEST_HEADER_LEN + frame.key.len() + frame.value.len();
    assert_eq!(buf.len(), LEN_PREFIX + body_len, "encoded size");
    assert_eq!(buf[..LEN_PREFIX], (body_len as u32).to_be_bytes(), "len prefix");
    let body = Bytes::copy_from_slice(&buf[LEN_PREFIX..]);
    assert_eq!(RequestFrame::parse(body).as_ref(), Ok(&frame), "parse(encode(frame))");

    let mut codec = ServerCodec::new(limits);
    match codec.decode(&mut buf) {
        Ok(Some(inbound)) => {
            assert!(body_len <= limits.max_frame_len(), "{body_len}-byte frame accepted");
            assert!(buf.is_empty(), "{} bytes left after one frame", buf.len());
            assert_eq!(inbound.id, frame.id);
            assert_eq!(inbound.shape, Shape::Binary { opcode: frame.opcode });
            let got = inbound.command.as_ref().map_err(|e| e.status);
            assert_eq!(got, expected_command(&frame, &limits).as_ref().map_err(|s| *s));
            if let Ok(cmd) = &inbound.command {
                check_command(cmd, &limits, origin_of(frame.opcode));
            }
        }
        Err(CodecError::Fatal { status: Status::FrameTooLarge, .. }) => {
            assert!(body_len > limits.max_frame_len(), "{body_len}-byte frame refused");
        }
        other => panic!("whole frame of {body_len} bytes decoded to {other:?}"),
    }
}

/// TTLs around the interesting values: none, tiny, the cap, just past it, and anything.
fn ttl_ms(input: &mut Input<'_>) -> u64 {
    let max_ms = MAX_TTL.as_millis() as u64;
    match input.below(6) {
        0 => 0,
        1 => u64::from(input.u8()),
        2 => max_ms,
        3 => max_ms + 1,
        4 => u64::MAX,
        _ => input.u64(),
    }
}

/// What `to_command` must make of a frame: a reference model written from protocol.md,
/// compared by command, or by status for errors.
fn expected_command(frame: &RequestFrame, limits: &Limits) -> Result<Command, Status> {
    let op = Opcode::from_u8(frame.opcode).ok_or(Status::UnknownOpcode)?;
    // VSET and VDEL take FLAG_MOVER (bit 0) and FLAG_RMW_IDS (bit 1); BUCKET_DUMP takes
    // FLAG_RMW_IDS; nothing else takes flags.
    let versioned_op = matches!(op, Opcode::VSet | Opcode::VDel);
    let dump_ids = op == Opcode::BucketDump && frame.flags == 2;
    if frame.flags != 0 && !(versioned_op && frame.flags <= 3) && !dump_ids {
        return Err(Status::InvalidArgument);
    }
    let (mover_flag, ids_flag) = (frame.flags & 1 != 0, frame.flags & 2 != 0);
    let key = || match frame.key.len() {
        0 => Err(Status::InvalidArgument),
        n if n > limits.max_key_size => Err(Status::KeyTooLarge),
        _ => Ok(frame.key.clone()),
    };
    let value = frame.value.clone();
    Ok(match op {
        Opcode::Ping => Command::Ping((!value.is_empty()).then_some(value)),
        Opcode::Stats => Command::Stats(()),
        Opcode::Auth => Command::Auth(Credentials { user: None, password: value.into() }),
        Opcode::Get => Command::Get(key()?),
        Opcode::Del => Command::Del(vec![key()?]),
        Opcode::Ttl => Command::Pttl(key()?),
        Opcode::Set => {
            let key = key()?;
            if value.len() > limits.max_value_size {
                return Err(Status::ValueTooLarge);
            }
            Command::Set(SetArgs::plain(key, value, ttl(frame.ttl_ms)?))
        }
        Opcode::VSet => {
            let key = key()?;
            let (version, ids, data) = versioned(&value, ids_flag)?;
            if data.len() > limits.max_value_size {
                return Err(Status::ValueTooLarge);
            }
            Command::VSet(VSetArgs {
                key,
                value: data,
                ttl_ms: ttl(frame.ttl_ms)?.and(std::num::NonZeroU64::new(frame.ttl_ms)),
                version,
                mover: mover_flag,
                ids,
            })
        }
        Opcode::VDel => {
            let key = key()?;
            let (version, ids, _) = versioned(&value, ids_flag)?;
            Command::VDel(VDelArgs { key, version, mover: mover_flag, ids })
        }
        Opcode::ShardDump => match <[u8; 8]>::try_from(&value[..]) {
            Ok(v) => Command::ShardDump(ShardDumpArgs {
                shard: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                cursor: frame.ttl_ms,
                max_items: u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
            }),
            Err(_) => return Err(Status::InvalidArgument),
        },
        Opcode::NodeStatus => Command::NodeStatus(()),
        Opcode::Digest => {
            let (shard, fresh) = cluster::parse_digest(&value).ok_or(Status::InvalidArgument)?;
            Command::Digest(DigestArgs { shard, fresh })
        }
        Opcode::Sync => Command::Sync(SyncArgs { shard: shard(&value)? }),
        Opcode::BucketDump => {
            let (shard, buckets) =
                cluster::parse_bucket_dump(&value).ok_or(Status::InvalidArgument)?;
            let cursor = frame.ttl_ms;
            Command::BucketDump(Box::new(BucketDumpArgs { shard, buckets, cursor, ids: ids_flag }))
        }
        Opcode::VFlush => match versioned(&value, false) {
            Ok((version, _, rest)) if rest.is_empty() => Command::VFlush(version),
            _ => return Err(Status::InvalidArgument),
        },
        // n shards after the shard count: at least one, whole u32s.
        Opcode::ShardCount => {
            let n = value.len() / 4;
            if value.len() % 4 != 0 || n < 2 || n - 1 > MAX_COUNT_SHARDS {
                return Err(Status::InvalidArgument);
            }
            let word =
                |i: usize| u32::from_be_bytes([value[i], value[i + 1], value[i + 2], value[i + 3]]);
            let shards = (1..n).map(|i| word(4 * i)).collect();
            Command::ShardCount(Box::new(CountRequest { num_shards: word(0), shards }))
        }
        // Three u32s and a 0/1 flag, then the pattern.
        Opcode::ShardScan => {
            if value.len() < 13 || value[12] > 1 {
                return Err(Status::InvalidArgument);
            }
            let word =
                |i: usize| u32::from_be_bytes([value[i], value[i + 1], value[i + 2], value[i + 3]]);
            Command::ShardScan(Box::new(ScanRequest {
                num_shards: word(0),
                shard: word(4),
                cursor: frame.ttl_ms,
                count: word(8),
                random: value[12] == 1,
                pattern: value.slice(13..),
            }))
        }
        // One RESP array of bulk strings, judged by the text parser; anything else is
        // INVALID_ARGUMENT.
        Opcode::Cmd => {
            let argv = cmd_argv(value, limits).map_err(|e| e.status)?;
            return crate::cmd::parse(&argv, limits).map_err(|e| e.status);
        }
        // The same array, carrying one command that is not itself RMW.
        Opcode::Rmw => {
            let argv = cmd_argv(value, limits).map_err(|e| e.status)?;
            if argv.get(0).is_some_and(|n| n.eq_ignore_ascii_case(b"rmw")) {
                return Err(Status::InvalidArgument);
            }
            let command = crate::cmd::parse(&argv, limits).map_err(|e| e.status)?;
            Command::Rmw(Box::new(RmwArgs { id: frame.ttl_ms, command }))
        }
        // shard:u32, then a node name of 1 to 255 bytes of UTF-8.
        Opcode::Fence => match (value.get(..4), value.get(4..)) {
            (Some(shard), Some(name)) if (1..=255).contains(&name.len()) => {
                let by = std::str::from_utf8(name).map_err(|_| Status::InvalidArgument)?;
                let shard = u32::from_be_bytes([shard[0], shard[1], shard[2], shard[3]]);
                Command::Fence(FenceArgs { shard, by: by.to_owned() })
            }
            _ => return Err(Status::InvalidArgument),
        },
    })
}

/// The value of an internal request that names a shard: exactly `shard:u32`.
fn shard(value: &Bytes) -> Result<u32, Status> {
    <[u8; 4]>::try_from(&value[..]).map(u32::from_be_bytes).map_err(|_| Status::InvalidArgument)
}

/// A `ttl_ms` field: 0 is no TTL, and more than [`MAX_TTL`] is refused.
fn ttl(ttl_ms: u64) -> Result<Option<Duration>, Status> {
    match Duration::from_millis(ttl_ms) {
        d if d.is_zero() => Ok(None),
        d if d > MAX_TTL => Err(Status::InvalidArgument),
        d => Ok(Some(d)),
    }
}

/// A versioned write's value: a non-zero big-endian `version:u64`, then the data.
/// A versioned write's value: version:u64 (nonzero), with `ids` then count:u8 (at most
/// 16) and that many nonzero ids:u64, then the data.
fn versioned(value: &Bytes, ids: bool) -> Result<(u64, RmwIds, Bytes), Status> {
    let version = value.get(..8).and_then(|v| <[u8; 8]>::try_from(v).ok());
    let version = match version.map(u64::from_be_bytes) {
        Some(version) if version != 0 => version,
        _ => return Err(Status::InvalidArgument),
    };
    if !ids {
        return Ok((version, RmwIds::default(), value.slice(8..)));
    }
    let count = usize::from(*value.get(8).ok_or(Status::InvalidArgument)?);
    let list = value.get(9..9 + 8 * count).filter(|_| count <= 16);
    let list: Vec<u64> = list
        .ok_or(Status::InvalidArgument)?
        .chunks_exact(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default()))
        .collect();
    if list.contains(&0) {
        return Err(Status::InvalidArgument);
    }
    Ok((version, RmwIds::new(list), value.slice(9 + 8 * count..)))
}

/// Response frames (with `flags = 0`, the only value `encode` writes) survive the client
/// codec exactly.
pub(super) fn response_frame(input: &mut Input<'_>) {
    let frame =
        ResponseFrame { status: input.u8(), flags: 0, id: input.u32(), payload: blob(input) };
    let mut buf = BytesMut::new();
    frame.encode(&mut buf);
    let got = ClientCodec::default().decode(&mut buf).expect("a well-formed response frame");
    assert_eq!(got.as_ref(), Some(&frame), "decode(encode(frame))");
    assert!(buf.is_empty(), "{} bytes left after one frame", buf.len());
}

/// A reply of a shape `op` produces survives `encode_reply(op)` then `to_reply(op)`; any
/// reply to an unknown opcode at least renders as a well-formed frame with its id.
pub(super) fn reply(input: &mut Input<'_>) {
    let id = input.u32();
    let (opcode, reply) = if input.below(4) == 0 {
        (input.u8(), any_reply(input))
    } else {
        let op = input.pick(&Opcode::ALL);
        (op as u8, reply_for(op, input))
    };
    let mut buf = BytesMut::new();
    encode_reply(id, opcode, &reply, &mut buf);
    let frame = ClientCodec::default().decode(&mut buf).expect("a well-formed reply frame");
    let frame = frame.expect("a whole reply frame");
    assert!(buf.is_empty(), "{} bytes left after one frame", buf.len());
    assert_eq!(frame.id, id);
    match Opcode::from_u8(opcode) {
        Some(op) if reply_fits(op, &reply) => {
            assert_eq!(to_reply(op, &frame), reply, "{op:?} reply did not round-trip");
        }
        _ => {
            let want = match &reply {
                Reply::Error(e) => e.status,
                Reply::Nil => Status::NotFound,
                Reply::Array(_) | Reply::Map(_) | Reply::Set(_) => Status::Internal,
                Reply::Raw(status, _) => *status,
                _ => Status::Ok,
            };
            assert_eq!(frame.status(), Some(want), "status for {reply:?}");
        }
    }
}

/// Whether `reply` is one of the shapes a response to `op` decodes to (see [`reply_for`]).
fn reply_fits(op: Opcode, reply: &Reply) -> bool {
    match (op, reply) {
        (_, Reply::Error(e)) => e.status.is_error(),
        (Opcode::Ttl, Reply::Int(_)) => true,
        (Opcode::Ttl, _) => false,
        (_, Reply::Nil) => true,
        (op, Reply::Bulk(_)) if op.answers_bulk() => true,
        (Opcode::Sync, Reply::Int(_)) => true,
        (Opcode::VSet | Opcode::VDel, Reply::Raw(Status::Stale, _)) => true,
        (Opcode::Ping, Reply::Bulk(b)) => !b.is_empty(),
        (Opcode::Ping, Reply::Simple("PONG")) => true,
        (Opcode::Set | Opcode::Auth, Reply::Ok) => true,
        (Opcode::Del | Opcode::VSet | Opcode::VDel, Reply::Int(n)) => *n == 0 || *n == 1,
        // RESP3 carries every reply; a status line other than OK/PONG comes back as a bulk.
        (Opcode::Cmd, Reply::Simple(s)) => *s == "PONG",
        (Opcode::Cmd, _) => true,
        _ => false,
    }
}

/// A reply of a shape `op` produces, or an error with an error status.
fn reply_for(op: Opcode, input: &mut Input<'_>) -> Reply {
    if input.below(4) == 0 {
        return error(input);
    }
    if op != Opcode::Ttl && input.below(4) == 0 {
        return Reply::Nil;
    }
    // Exhaustive, so a new opcode must be given its replies here; the bulk ones are those
    // of `Opcode::answers_bulk`.
    match op {
        Opcode::Get
        | Opcode::Stats
        | Opcode::ShardDump
        | Opcode::NodeStatus
        | Opcode::Digest
        | Opcode::BucketDump
        | Opcode::VFlush
        | Opcode::ShardCount
        | Opcode::ShardScan
        | Opcode::Rmw
        | Opcode::Fence => Reply::Bulk(blob(input)),
        Opcode::Sync => Reply::Int(input.u64() as i64),
        Opcode::VSet | Opcode::VDel if input.bool() => Reply::Raw(Status::Stale, blob(input)),
        Opcode::Ping => match blob(input) {
            b if b.is_empty() => Reply::Simple("PONG"),
            b => Reply::Bulk(b),
        },
        Opcode::Set | Opcode::Auth => Reply::Ok,
        Opcode::Del | Opcode::VSet | Opcode::VDel => Reply::Int(i64::from(input.bool())),
        Opcode::Ttl => Reply::Int(match input.below(4) {
            0 => -2,
            1 => -1,
            _ => input.u64() as i64,
        }),
        Opcode::Cmd => any_reply(input),
    }
}

/// An error reply with one of the error statuses.
fn error(input: &mut Input<'_>) -> Reply {
    let statuses: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_error()).collect();
    Reply::error(input.pick(&statuses), message(input))
}

/// Any reply variant, arrays included (which have no binary form).
fn any_reply(input: &mut Input<'_>) -> Reply {
    match input.below(8) {
        7 => Reply::Map(vec![(Reply::Nil, Reply::Nil)]),
        0 => Reply::Ok,
        1 => Reply::Simple("PONG"),
        2 => Reply::Bulk(blob(input)),
        3 => Reply::Nil,
        4 => Reply::Int(input.u64() as i64),
        5 => Reply::Array(vec![Reply::Nil]),
        _ => Reply::error(input.pick(&Status::ALL), message(input)),
    }
}
