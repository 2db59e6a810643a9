//! The dialect-neutral request and reply model shared by the server, router and client.
//!
//! Binary requests and Redis text commands both decode into [`Command`]; every handler
//! answers with a [`Reply`], which the codec renders for the connection's dialect.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;

use super::status::Status;

/// Condition under which SET writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetMode {
    /// Always write (plain SET).
    #[default]
    Always,
    /// Only if the key is absent (NX).
    IfAbsent,
    /// Only if the key is present (XX).
    IfPresent,
}

/// Arguments of SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetArgs {
    /// The key (never empty once validated).
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
    /// Time to live; `None` means the key never expires.
    pub ttl: Option<Duration>,
    /// NX / XX condition.
    pub mode: SetMode,
}

/// Unit a TTL query answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlUnit {
    /// TTL: seconds.
    Seconds,
    /// PTTL and the binary TTL opcode: milliseconds.
    Millis,
}

/// A password as received: compared, never shown. Its `Debug` prints only the length, so
/// a logged [`Command::Auth`] does not leak it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub Bytes);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

impl<T: Into<Bytes>> From<T> for Secret {
    fn from(bytes: T) -> Self {
        Secret(bytes.into())
    }
}

/// Arguments of HELLO.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HelloArgs {
    /// Requested RESP version; `None` keeps the current one.
    pub version: Option<i64>,
    /// The password of `AUTH user pass` (only the password is checked, as for AUTH).
    pub auth: Option<Bytes>,
    /// `SETNAME name`.
    pub setname: Option<Bytes>,
}

// Hand-written so a logged command never shows the password.
impl std::fmt::Debug for HelloArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelloArgs")
            .field("version", &self.version)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("setname", &self.setname)
            .finish()
    }
}

/// One decoded request, whichever dialect it arrived in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// PING with an optional message to echo.
    Ping(Option<Bytes>),
    /// ECHO message.
    Echo(Bytes),
    /// GET key.
    Get(Bytes),
    /// SET key value [EX|PX] [NX|XX].
    Set(SetArgs),
    /// DEL key [key ...]; replies with the number removed.
    Del(Vec<Bytes>),
    /// EXISTS key [key ...]; replies with the number present.
    Exists(Vec<Bytes>),
    /// TTL / PTTL key.
    Ttl {
        /// The key.
        key: Bytes,
        /// Reply unit.
        unit: TtlUnit,
    },
    /// EXPIRE / PEXPIRE key; a zero TTL deletes the key.
    Expire {
        /// The key.
        key: Bytes,
        /// New time to live.
        ttl: Duration,
    },
    /// PERSIST key.
    Persist(Bytes),
    /// MGET key [key ...].
    MGet(Vec<Bytes>),
    /// MSET key value [key value ...].
    MSet(Vec<(Bytes, Bytes)>),
    /// DBSIZE.
    DbSize,
    /// FLUSHALL / FLUSHDB.
    FlushAll,
    /// INFO [section].
    Info(Option<String>),
    /// Binary STATS: the same fields as INFO, as `name:value` lines.
    Stats,
    /// AUTH [username] password.
    Auth(Secret),
    /// QUIT: reply OK, then close.
    Quit,
    /// SELECT db: only database 0 exists.
    Select(i64),
    /// HELLO [protover [AUTH user pass] [SETNAME name]].
    Hello(HelloArgs),
    /// COMMAND [subcommand ...]: answered minimally so clients' start-up probes succeed.
    CommandDocs(Vec<Bytes>),
    /// CONFIG GET pattern [pattern ...].
    ConfigGet(Vec<Bytes>),
    /// CLIENT subcommand ...: SETNAME, GETNAME, SETINFO, ID, INFO.
    Client(Vec<Bytes>),
    /// Versioned SET: applied only if `version` is newer than what the key holds.
    VSet {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// Time to live; `None` never expires.
        ttl: Option<Duration>,
        /// Last-writer-wins version.
        version: u64,
    },
    /// Versioned DEL: leaves a tombstone holding `version`.
    VDel {
        /// The key.
        key: Bytes,
        /// Last-writer-wins version.
        version: u64,
    },
    /// One page of a shard's entries, starting at `cursor` (0 = the start).
    ShardDump {
        /// Shard number, 1-based.
        shard: u32,
        /// Opaque position from the previous page.
        cursor: u64,
        /// Most entries wanted (0 = the server's page size).
        max_items: u32,
    },
    /// The node's identity, clock, limits and per-shard states.
    NodeStatus,
    /// A shard's anti-entropy digest.
    Digest {
        /// Shard number, 1-based.
        shard: u32,
        /// Walk the store now rather than answer from the cache.
        fresh: bool,
    },
    /// One page of the entries of some digest buckets of a shard.
    BucketDump {
        /// Shard number, 1-based.
        shard: u32,
        /// Which buckets.
        buckets: super::cluster::BucketSet,
        /// Opaque position from the previous page (0 = the start).
        cursor: u64,
    },
    /// Run one anti-entropy round of a shard with all its peers now.
    Sync {
        /// Shard number, 1-based.
        shard: u32,
    },
}

impl Command {
    /// The keys this command names, in order; none for commands without keys.
    pub fn keys(&self) -> impl Iterator<Item = &Bytes> {
        let (one, many, pairs): (Option<&Bytes>, &[Bytes], &[(Bytes, Bytes)]) = match self {
            Command::Get(key)
            | Command::Persist(key)
            | Command::Ttl { key, .. }
            | Command::Expire { key, .. }
            | Command::VSet { key, .. }
            | Command::VDel { key, .. } => (Some(key), &[], &[]),
            Command::Set(args) => (Some(&args.key), &[], &[]),
            Command::Del(keys) | Command::Exists(keys) | Command::MGet(keys) => (None, keys, &[]),
            Command::MSet(pairs) => (None, &[], pairs),
            _ => (None, &[], &[]),
        };
        one.into_iter().chain(many).chain(pairs.iter().map(|(key, _)| key))
    }

    /// Upper-case command name, for logs and per-command stats.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Ping(_) => "PING",
            Command::Echo(_) => "ECHO",
            Command::Get(_) => "GET",
            Command::Set(_) => "SET",
            Command::Del(_) => "DEL",
            Command::Exists(_) => "EXISTS",
            Command::Ttl { .. } => "TTL",
            Command::Expire { .. } => "EXPIRE",
            Command::Persist(_) => "PERSIST",
            Command::MGet(_) => "MGET",
            Command::MSet(_) => "MSET",
            Command::DbSize => "DBSIZE",
            Command::FlushAll => "FLUSHALL",
            Command::Info(_) => "INFO",
            Command::Stats => "STATS",
            Command::Auth(_) => "AUTH",
            Command::Quit => "QUIT",
            Command::Select(_) => "SELECT",
            Command::Hello(_) => "HELLO",
            Command::CommandDocs(_) => "COMMAND",
            Command::ConfigGet(_) => "CONFIG",
            Command::Client(_) => "CLIENT",
            Command::VSet { .. } => "VSET",
            Command::VDel { .. } => "VDEL",
            Command::ShardDump { .. } => "SHARD_DUMP",
            Command::NodeStatus => "NODE_STATUS",
            Command::Digest { .. } => "DIGEST",
            Command::BucketDump { .. } => "BUCKET_DUMP",
            Command::Sync { .. } => "SYNC",
        }
    }
}

/// Redis's answer to a wrong password, sent with status NOAUTH (RESP: `-WRONGPASS ...`).
pub const WRONGPASS_MESSAGE: &str = "invalid username-password pair or user is disabled.";

/// An error reply: a status and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    /// Binary status; also picks the RESP error prefix.
    pub status: Status,
    /// UTF-8 message without the RESP prefix.
    pub message: Cow<'static, str>,
}

impl ErrorReply {
    /// An error reply with the given status and message.
    pub fn new(status: Status, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, message: message.into() }
    }

    /// INVALID_ARGUMENT with a message.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Status::InvalidArgument, message)
    }

    /// The word the RESP form starts with: the status's, except that a wrong password is
    /// `WRONGPASS` as in Redis (binary has no such status; it is NOAUTH there).
    pub fn resp_prefix(&self) -> &'static str {
        if self.status == Status::NoAuth && self.message == WRONGPASS_MESSAGE {
            "WRONGPASS"
        } else {
            self.status.resp_prefix()
        }
    }
}

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.resp_prefix(), self.message)
    }
}

impl std::error::Error for ErrorReply {}

/// A dialect-neutral reply, shaped like RESP2 values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`; binary OK with an empty payload.
    Ok,
    /// A simple string such as `+PONG`; binary OK with an empty payload.
    Simple(&'static str),
    /// A bulk string; binary OK with the bytes as payload.
    Bulk(Bytes),
    /// A missing value: `$-1`; binary NOT_FOUND.
    Nil,
    /// An integer.
    Int(i64),
    /// An array of replies.
    Array(Vec<Reply>),
    /// Key/value pairs: a RESP3 map, or a flat array of 2n elements in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A binary status below 0x10 other than OK with its binary payload (STALE), for the
    /// cluster's internal operations; a text connection never asks for one.
    Raw(Status, Bytes),
    /// An error.
    Error(ErrorReply),
}

impl Reply {
    /// Shorthand for an error reply.
    pub fn error(status: Status, message: impl Into<Cow<'static, str>>) -> Self {
        Reply::Error(ErrorReply::new(status, message))
    }
}

impl From<ErrorReply> for Reply {
    fn from(e: ErrorReply) -> Self {
        Reply::Error(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_debug_output() {
        let auth = format!("{:?}", Command::Auth("hunter2".into()));
        assert!(!auth.contains("hunter2"), "{auth}");
        let hello = HelloArgs { auth: Some("hunter2".into()), ..HelloArgs::default() };
        let hello = format!("{:?}", Command::Hello(hello));
        assert!(!hello.contains("hunter2"), "{hello}");
    }

    #[test]
    fn keys_lists_every_key_a_command_names() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let keys = |c: &Command| c.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&Command::Get(b("a"))), [b("a")]);
        assert_eq!(keys(&Command::Del(vec![b("a"), b("b")])), [b("a"), b("b")]);
        assert_eq!(
            keys(&Command::MSet(vec![(b("a"), b("1")), (b("b"), b("2"))])),
            [b("a"), b("b")]
        );
        assert_eq!(keys(&Command::VDel { key: b("v"), version: 1 }), [b("v")]);
        assert!(keys(&Command::DbSize).is_empty());
    }
}
