//! [`from_frame`]: which command a binary request frame means. The typed opcodes map to
//! their commands directly; CMD carries any command as a Redis argument vector, parsed by
//! the same [`parse`] as text requests.

use bytes::Bytes;

use super::Command;
use super::args::parse;
use super::conn::Credentials;
use super::internal::{
    BucketDumpArgs, DigestArgs, FenceArgs, RmwArgs, RmwIds, ShardDumpArgs, SyncArgs, VDelArgs,
    VSetArgs, rmw_command, vset_ttl,
};
use super::string::SetArgs;
use crate::protocol::binary::{
    FLAG_MOVER, FLAG_RMW_IDS, RequestFrame, check_key, check_value, split_version, ttl_from_ms,
};
use crate::protocol::shards::{CountRequest, ScanRequest};
use crate::protocol::text::{Argv, RequestDecoder};
use crate::protocol::{ErrorReply, Limits, Opcode, Status, cluster};

/// Validates a parsed request frame against `limits` and turns it into a [`Command`].
pub fn from_frame(frame: RequestFrame, limits: &Limits) -> Result<Command, ErrorReply> {
    let Some(op) = Opcode::from_u8(frame.opcode) else {
        let msg = format!("unknown opcode 0x{:02x}", frame.opcode);
        return Err(ErrorReply::new(Status::UnknownOpcode, msg));
    };
    let allowed = match op {
        Opcode::VSet | Opcode::VDel => FLAG_MOVER | FLAG_RMW_IDS,
        Opcode::BucketDump => FLAG_RMW_IDS,
        _ => 0,
    };
    if frame.flags & !allowed != 0 {
        let msg = format!("flags must be 0, got 0x{:04x}", frame.flags);
        return Err(ErrorReply::invalid(msg));
    }
    let (mover, with_ids) = (frame.flags & FLAG_MOVER != 0, frame.flags & FLAG_RMW_IDS != 0);
    let RequestFrame { ttl_ms, key, value, .. } = frame;
    match op {
        Opcode::Ping => Ok(Command::Ping((!value.is_empty()).then_some(value))),
        Opcode::Stats => Ok(Command::Stats(())),
        Opcode::Auth => Ok(Command::Auth(Credentials { user: None, password: value.into() })),
        Opcode::Get => Ok(Command::Get(check_key(key, limits)?)),
        Opcode::Del => Ok(Command::Del(vec![check_key(key, limits)?])),
        Opcode::Ttl => Ok(Command::Pttl(check_key(key, limits)?)),
        Opcode::Set => {
            let key = check_key(key, limits)?;
            check_value(&value, limits)?;
            let ttl = ttl_from_ms(ttl_ms)?;
            Ok(Command::Set(SetArgs::plain(key, value, ttl)))
        }
        Opcode::VSet => {
            let key = check_key(key, limits)?;
            let (version, ids, value) = versioned_parts(value, with_ids)?;
            check_value(&value, limits)?;
            let ttl_ms = vset_ttl(ttl_ms)?;
            Ok(Command::VSet(VSetArgs { key, value, ttl_ms, version, mover, ids }))
        }
        Opcode::VDel => {
            let key = check_key(key, limits)?;
            let (version, ids, _) = versioned_parts(value, with_ids)?;
            Ok(Command::VDel(VDelArgs { key, version, mover, ids }))
        }
        Opcode::ShardDump => {
            let args = <[u8; 8]>::try_from(value.as_ref())
                .map_err(|_| ErrorReply::invalid("SHARD_DUMP value is shard:u32 max_items:u32"))?;
            let shard = u32::from_be_bytes([args[0], args[1], args[2], args[3]]);
            let max_items = u32::from_be_bytes([args[4], args[5], args[6], args[7]]);
            Ok(Command::ShardDump(ShardDumpArgs { shard, cursor: ttl_ms, max_items }))
        }
        Opcode::NodeStatus => Ok(Command::NodeStatus(())),
        Opcode::Digest => {
            let (shard, fresh) = cluster::parse_digest(&value)
                .ok_or_else(|| ErrorReply::invalid("DIGEST value is shard:u32 [fresh:u8]"))?;
            Ok(Command::Digest(DigestArgs { shard, fresh }))
        }
        Opcode::Sync => Ok(Command::Sync(SyncArgs { shard: shard_of(op, &value)? })),
        Opcode::BucketDump => {
            let (shard, buckets) = cluster::parse_bucket_dump(&value).ok_or_else(|| {
                ErrorReply::invalid("BUCKET_DUMP value is shard:u32 then a 128-byte bucket bitmap")
            })?;
            let args = BucketDumpArgs { shard, buckets, cursor: ttl_ms, ids: with_ids };
            Ok(Command::BucketDump(Box::new(args)))
        }
        Opcode::VFlush => match <[u8; 8]>::try_from(value.as_ref()).map(u64::from_be_bytes) {
            Ok(version) if version != 0 => Ok(Command::VFlush(version)),
            _ => Err(ErrorReply::invalid("VFLUSH value is a nonzero version:u64")),
        },
        Opcode::ShardCount => match CountRequest::decode(&value) {
            Some(req) => Ok(Command::ShardCount(Box::new(req))),
            None => Err(ErrorReply::invalid("SHARD_COUNT value is num_shards:u32 shard:u32...")),
        },
        Opcode::ShardScan => match ScanRequest::decode(ttl_ms, value) {
            Some(req) => Ok(Command::ShardScan(Box::new(req))),
            None => Err(ErrorReply::invalid(
                "SHARD_SCAN value is num_shards:u32 shard:u32 count:u32 random:u8 pattern",
            )),
        },
        Opcode::Cmd => parse(&argv(value, limits)?, limits),
        Opcode::Rmw => {
            let command = rmw_command(&argv(value, limits)?, limits)?;
            Ok(Command::Rmw(Box::new(RmwArgs { id: ttl_ms, command })))
        }
        Opcode::Fence => {
            let (shard, by) = crate::protocol::rmw::parse_fence(&value).ok_or_else(|| {
                ErrorReply::invalid("FENCE value is shard:u32 then a node name (1-255 bytes)")
            })?;
            Ok(Command::Fence(FenceArgs { shard, by }))
        }
    }
}

/// A versioned write's value: its version, the read-modify-write ids it carries (when
/// flagged [`FLAG_RMW_IDS`]) and the data.
fn versioned_parts(value: Bytes, with_ids: bool) -> Result<(u64, RmwIds, Bytes), ErrorReply> {
    let (version, mut data) = split_version(value)?;
    if !with_ids {
        return Ok((version, RmwIds::default(), data));
    }
    let ids = crate::protocol::rmw::take_ids(&mut data).ok_or_else(|| {
        let max = crate::protocol::rmw::MAX_RMW_IDS;
        ErrorReply::invalid(format!(
            "FLAG_RMW_IDS needs count:u8 (at most {max}) then nonzero ids:u64"
        ))
    })?;
    Ok((version, RmwIds::new(ids), data))
}

/// The `shard:u32` value of an internal request.
fn shard_of(op: Opcode, value: &[u8]) -> Result<u32, ErrorReply> {
    cluster::parse_shard(value)
        .ok_or_else(|| ErrorReply::invalid(format!("{} value is shard:u32", op.name())))
}

/// The argument vector a CMD frame's value holds: exactly one RESP array of bulk strings,
/// decoded under the connection's limits.
pub fn argv(value: Bytes, limits: &Limits) -> Result<Argv, ErrorReply> {
    let bad = |why: &str| {
        ErrorReply::invalid(format!("CMD value must be one RESP array of bulk strings: {why}"))
    };
    if value.first() != Some(&b'*') {
        return Err(bad("it does not start with '*'"));
    }
    let mut buf = bytes::BytesMut::from(&value[..]);
    match RequestDecoder::default().decode_argv(&mut buf, limits) {
        Ok(Some(args)) if buf.is_empty() && !args.is_empty() => Ok(args),
        Ok(Some(_)) if !buf.is_empty() => Err(bad("bytes follow the array")),
        Ok(_) => Err(bad("the array is empty or incomplete")),
        Err(e) => Err(bad(&e.to_string())),
    }
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;
