//! Binary opcodes and status codes, and how an error status is spelled in RESP.

/// A binary request opcode. Unknown bytes are kept so the reply can echo them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// Round trip, optionally echoing the value.
    Ping = 0x01,
    /// Read a key.
    Get = 0x02,
    /// Write a key with an optional TTL.
    Set = 0x03,
    /// Remove a key.
    Del = 0x04,
    /// Remaining time to live of a key.
    Ttl = 0x05,
    /// Server statistics as `name:value` lines.
    Stats = 0x06,
    /// Authenticate with a password (value).
    Auth = 0x07,
    /// Versioned SET (router to replica): value = version:u64 then the data.
    VSet = 0x10,
    /// Versioned DEL (router to replica): value = version:u64; leaves a tombstone.
    VDel = 0x11,
    /// One page of a shard's keys, values, TTLs and versions (shard copy).
    ShardDump = 0x12,
    /// A node's identity, clock, limits and per-shard readiness (router probes, peers).
    NodeStatus = 0x13,
    /// A shard's anti-entropy digest: one hash per bucket of keys and versions.
    Digest = 0x14,
    /// One page of the entries of some buckets of a shard (anti-entropy repair).
    BucketDump = 0x15,
    /// Run one anti-entropy round of a shard with all its peers now; answer when done.
    Sync = 0x16,
    /// Run a read-modify-write command on the shard's coordinator (router to node): value =
    /// the command as a RESP array (as CMD); the OK payload is its reply and the resulting
    /// state of its keys (see [`super::rmw`]).
    Rmw = 0x17,
    /// Stop coordinating a shard and drain its running read-modify-writes (node to node, at
    /// a coordinator handover): value = shard:u32 then the new coordinator's name.
    Fence = 0x18,
    /// Versioned flush (router to node): value = version:u64; drops every entry at or below
    /// it and refuses versioned writes at or below it from then on.
    VFlush = 0x19,
    /// Key counts of some shards (router to node): DBSIZE and INFO keyspace.
    ShardCount = 0x1A,
    /// One page of one shard's keys (router to node): KEYS, SCAN, RANDOMKEY.
    ShardScan = 0x1B,
    /// Any command: value = a RESP array of bulk strings (a Redis argument vector); the OK
    /// payload is the reply in RESP3.
    Cmd = 0x20,
}

impl Opcode {
    /// All defined opcodes, for tables and fuzz dictionaries.
    pub const ALL: [Opcode; 20] = [
        Opcode::Ping,
        Opcode::Get,
        Opcode::Set,
        Opcode::Del,
        Opcode::Ttl,
        Opcode::Stats,
        Opcode::Auth,
        Opcode::VSet,
        Opcode::VDel,
        Opcode::ShardDump,
        Opcode::NodeStatus,
        Opcode::Digest,
        Opcode::BucketDump,
        Opcode::Sync,
        Opcode::Rmw,
        Opcode::Fence,
        Opcode::VFlush,
        Opcode::ShardCount,
        Opcode::ShardScan,
        Opcode::Cmd,
    ];

    /// Whether an OK reply to this opcode is its payload as it is, a bulk string
    /// ([`super::binary::to_reply`]); the fuzz targets check replies against the same list.
    pub fn answers_bulk(self) -> bool {
        matches!(
            self,
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
                | Opcode::Fence
        )
    }

    /// The opcode for a wire byte, if it is defined.
    pub fn from_u8(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|op| *op as u8 == b)
    }

    /// Upper-case name used in logs and STATS.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Ping => "PING",
            Opcode::Get => "GET",
            Opcode::Set => "SET",
            Opcode::Del => "DEL",
            Opcode::Ttl => "TTL",
            Opcode::Stats => "STATS",
            Opcode::Auth => "AUTH",
            Opcode::VSet => "VSET",
            Opcode::VDel => "VDEL",
            Opcode::ShardDump => "SHARD_DUMP",
            Opcode::NodeStatus => "NODE_STATUS",
            Opcode::Digest => "DIGEST",
            Opcode::BucketDump => "BUCKET_DUMP",
            Opcode::Sync => "SYNC",
            Opcode::Rmw => "RMW",
            Opcode::Fence => "FENCE",
            Opcode::VFlush => "VFLUSH",
            Opcode::ShardCount => "SHARD_COUNT",
            Opcode::ShardScan => "SHARD_SCAN",
            Opcode::Cmd => "CMD",
        }
    }
}

/// A binary response status. Statuses 0x10 and up carry a UTF-8 message as payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// Success.
    Ok = 0x00,
    /// Key absent or expired.
    NotFound = 0x01,
    /// A versioned write was not applied: the key holds a newer version (payload: the held
    /// version and the node's clock). Not an error; the writer re-stamps and retries.
    Stale = 0x02,
    /// Bad request content: empty key, nonzero flags, short frame, bad arguments.
    InvalidArgument = 0x10,
    /// The opcode (or text command) is not known.
    UnknownOpcode = 0x11,
    /// The key exceeds the configured limit.
    KeyTooLarge = 0x12,
    /// The value exceeds the configured limit.
    ValueTooLarge = 0x13,
    /// The node does not host the key's shard.
    WrongShard = 0x14,
    /// Authentication required.
    NoAuth = 0x15,
    /// The node hosts the key's shard but is not ready to serve reads of it (copying it,
    /// a failed copy, or it may be missing writes). Retryable on another replica.
    NotReady = 0x16,
    /// This node does not coordinate the shard's read-modify-write commands now; the message
    /// names the node it believes does (`coordinator=<name>`). Retry there.
    NotCoordinator = 0x17,
    /// A versioned write of a crashed coordinator's outcome that arrived after the node that
    /// took over ran a read-modify-write over the key without it: not applied, and the
    /// outcome is lost with its coordinator. The router runs the command again.
    Superseded = 0x18,
    /// The store is full and the eviction policy refuses the write.
    OutOfMemory = 0x20,
    /// Overloaded; retry later.
    Busy = 0x21,
    /// A write's version is further ahead of the node's clock than the allowed skew: one of
    /// the two clocks is wrong. The write is not applied; the writer reports and hints it.
    ClockSkew = 0x22,
    /// Router: no replica could serve.
    Unavailable = 0x30,
    /// Router: a write reached only some replicas.
    Partial = 0x31,
    /// A deadline passed.
    Timeout = 0x32,
    /// Router: the keys of a command that must share a shard do not.
    CrossShard = 0x33,
    /// Router: a read-modify-write took effect, but its reply was lost (its coordinator
    /// crashed, or a connection dropped, before answering); it was not run again.
    ReplyLost = 0x34,
    /// A bug or unexpected condition in the server.
    Internal = 0x7F,
    /// Fatal: the stream cannot be read any more; sent just before close.
    ProtocolError = 0x80,
    /// Fatal: `len` exceeds the limit; sent just before close.
    FrameTooLarge = 0x81,
}

impl Status {
    /// All defined statuses.
    pub const ALL: [Status; 23] = [
        Status::Ok,
        Status::NotFound,
        Status::Stale,
        Status::InvalidArgument,
        Status::UnknownOpcode,
        Status::KeyTooLarge,
        Status::ValueTooLarge,
        Status::WrongShard,
        Status::NoAuth,
        Status::NotReady,
        Status::NotCoordinator,
        Status::Superseded,
        Status::OutOfMemory,
        Status::Busy,
        Status::ClockSkew,
        Status::Unavailable,
        Status::Partial,
        Status::Timeout,
        Status::CrossShard,
        Status::ReplyLost,
        Status::Internal,
        Status::ProtocolError,
        Status::FrameTooLarge,
    ];

    /// The status for a wire byte, if it is defined.
    pub fn from_u8(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u8 == b)
    }

    /// Whether the payload is a UTF-8 error message.
    pub fn is_error(self) -> bool {
        (self as u8) >= 0x10
    }

    /// Whether the server closes the connection after sending this status.
    pub fn is_fatal(self) -> bool {
        (self as u8) >= 0x80
    }

    /// The word a RESP error reply starts with (`-ERR ...`, `-NOAUTH ...`).
    pub fn resp_prefix(self) -> &'static str {
        match self {
            Status::WrongShard => "WRONGSHARD",
            Status::NoAuth => "NOAUTH",
            Status::NotReady => "NOTREADY",
            Status::NotCoordinator => "NOTCOORDINATOR",
            Status::Superseded => "SUPERSEDED",
            Status::ClockSkew => "CLOCKSKEW",
            Status::OutOfMemory => "OOM",
            Status::Busy => "BUSY",
            Status::Unavailable => "UNAVAILABLE",
            Status::Partial => "PARTIAL",
            Status::Timeout => "TIMEOUT",
            Status::CrossShard => "CROSSSHARD",
            Status::ReplyLost => "REPLYLOST",
            _ => "ERR",
        }
    }

    /// Snake-case name used in STATS and logs.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NotFound => "not_found",
            Status::Stale => "stale",
            Status::InvalidArgument => "invalid_argument",
            Status::UnknownOpcode => "unknown_opcode",
            Status::KeyTooLarge => "key_too_large",
            Status::ValueTooLarge => "value_too_large",
            Status::WrongShard => "wrong_shard",
            Status::NoAuth => "noauth",
            Status::NotReady => "not_ready",
            Status::NotCoordinator => "not_coordinator",
            Status::Superseded => "superseded",
            Status::OutOfMemory => "out_of_memory",
            Status::Busy => "busy",
            Status::ClockSkew => "clock_skew",
            Status::Unavailable => "unavailable",
            Status::Partial => "partial",
            Status::Timeout => "timeout",
            Status::CrossShard => "crossshard",
            Status::ReplyLost => "reply_lost",
            Status::Internal => "internal",
            Status::ProtocolError => "protocol_error",
            Status::FrameTooLarge => "frame_too_large",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_bytes_round_trip() {
        for op in Opcode::ALL {
            assert_eq!(Opcode::from_u8(op as u8), Some(op));
        }
        assert_eq!(Opcode::from_u8(0x00), None);
        assert_eq!(Opcode::from_u8(0x1C), None);
    }

    #[test]
    fn status_bytes_round_trip_and_classes() {
        for s in Status::ALL {
            assert_eq!(Status::from_u8(s as u8), Some(s));
        }
        assert!(!Status::NotFound.is_error());
        assert!(Status::InvalidArgument.is_error());
        assert!(Status::FrameTooLarge.is_fatal());
        assert!(!Status::Internal.is_fatal());
    }
}
