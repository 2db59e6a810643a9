//! Every command shale runs, each declared once: its name, arity, Redis flags, key
//! positions, routing class, docs, parser and apply function live in one `impl Cmd` (one
//! file or one small family per file), and one list below ([`registry!`]) generates the
//! [`Command`] enum with its exhaustive dispatch. The parser ([`parse`], [`from_frame`]),
//! the server and router handlers, the `--node` WRONG_SHARD check, COMMAND
//! INFO/COUNT/LIST/DOCS/GETKEYS and the router's classification all read that one
//! declaration.
//!
//! Layering: above [`crate::protocol`] (replies, frames, limits) and [`crate::store`] (the
//! [`Keyspace`] interface apply code is written against), below [`crate::codec`],
//! [`crate::net`], [`crate::server`] and [`crate::router`]. Owns: command semantics, the
//! per-connection [`Session`], and the connection-level shared state in [`Services`]
//! (client registry, MONITOR hub, slow log, run-time net limits). Does not own sockets,
//! framing, authentication policy ([`crate::auth`]), or how a router forwards commands.
//!
//! # Adding a command
//!
//! 1. Write `src/cmd/<family>/<name>.rs` with a unit struct and `impl Cmd`:
//!    - `type Args`: the parsed arguments (a `Bytes`, a struct, `()`);
//!    - `const SPEC`: `Spec::new("name", arity)` plus `.flags(..)`, `.acl(..)`, `.tips(..)`,
//!      `.keys(&[KeySpec::range(first, lastkey, step, &[KeyFlag::..])])`, `.route(..)` and
//!      `.docs(group, since, complexity, summary)`, copied from Redis's COMMAND INFO and
//!      COMMAND DOCS for the same command;
//!    - `parse(argv, limits)`: argv[0] is the name and the arity is already checked; use
//!      the helpers in [`args`] (`key`, `value`, `int`, `syntax_error`, ...) so keys and
//!      values obey the limits and errors read as Redis's;
//!    - `keys(args)`: the keys in argument order, as a [`Keys`];
//!    - `apply(args, ctx)`: the work, through `ctx.keyspace()?` (the [`Keyspace`] trait,
//!      so it also runs inside EXEC), `ctx.session` and `ctx.env`;
//!    - `route(args)` only when the class depends on the arguments (SET NX is
//!      read-modify-write, plain SET a write); `sub(args)` only for a container;
//!    - `blind_writes(args)` for a command routed [`Route::Write`] (or split and writing):
//!      what it stores, key by key, so a router replicates it as versioned writes.
//! 2. Export it from the family's `mod.rs` and add `Variant => family::Type,` to the list
//!    in this file (hot commands near the top: the parser searches in order).
//! 3. Add unit tests next to it (parse table, apply against a `Store`), a sample argv to
//!    `registry_tests.rs` (which checks COMMAND GETKEYS against `keys()`), a row in
//!    README's command list, and — if it needs a store operation — a method on
//!    [`Keyspace`] implemented by `Store`.
//!
//! The compiler then points at anything else that must learn about the command (a router
//! matching [`Route`] exhaustively, for one).

pub mod args;
mod binary;
pub mod bitmap;
pub mod clients;
pub mod config;
pub mod conn;
mod ctx;
pub mod durability;
pub mod expiry;
pub mod glob;
pub mod info;
pub mod internal;
mod keys;
pub mod keyspace;
mod keyspec;
pub mod monitor;
pub mod order;
mod registry;
pub mod session;
pub mod slowlog;
mod spec;
pub mod string;
pub mod tx;
pub mod writes;

#[cfg(test)]
mod data_tests;
#[cfg(test)]
mod keyspace_tests;
#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod registry_tests;
#[cfg(test)]
pub(crate) mod test_env;
#[cfg(test)]
mod tx_tests;

pub use args::parse;
pub use binary::{argv as cmd_argv, from_frame};
pub use ctx::{ConnCounts, Ctx, Env, Role, Section, Services};
pub use keys::Keys;
pub use keyspec::{Begin, Find, KeyFlag, KeySpec, Legacy};
pub use registry::{Cmd, Entry, ParseFn};
pub use session::{ClientInfo, ReplyMode, Session};
pub use spec::{Flag, Merge, Route, Spec};
pub use writes::{BlindWrite, BlindWrites, Expiry};

use crate::protocol::{ErrorReply, Reply};
use crate::store::Keyspace;
use registry::registry;

registry! {
    Get => string::Get,
    Set => string::Set,
    MGet => string::MGet,
    MSet => string::MSet,
    Del => keyspace::Del,
    Exists => keyspace::Exists,
    Ttl => expiry::Ttl,
    Pttl => expiry::Pttl,
    Expire => expiry::Expire,
    PExpire => expiry::PExpire,
    Persist => expiry::Persist,
    Ping => conn::Ping,
    Echo => conn::Echo,
    DbSize => keyspace::DbSize,
    FlushAll => keyspace::FlushAll,
    FlushDb => keyspace::FlushDb,
    Info => conn::Info,
    Stats => conn::Stats,
    Auth => conn::Auth,
    Quit => conn::Quit,
    Reset => conn::Reset,
    Select => conn::Select,
    Hello => conn::Hello,
    Commands => conn::Commands,
    Config => conn::Config,
    Client => conn::Client,
    Time => conn::Time,
    Monitor => conn::Monitor,
    Slowlog => conn::Slowlog,
    VSet => internal::VSet,
    VDel => internal::VDel,
    ShardDump => internal::ShardDump,
    NodeStatus => internal::NodeStatus,
    Digest => internal::Digest,
    BucketDump => internal::BucketDump,
    Sync => internal::Sync,
    VFlush => internal::VFlush,
    ShardCount => internal::ShardCount,
    ShardScan => internal::ShardScan,
    Rmw => internal::Rmw,
    Fence => internal::Fence,
    // Strings and bitmaps (the string helper's block).
    Incr => string::Incr,
    IncrBy => string::IncrBy,
    Decr => string::Decr,
    DecrBy => string::DecrBy,
    IncrByFloat => string::IncrByFloat,
    Append => string::Append,
    Strlen => string::Strlen,
    GetRange => string::GetRange,
    Substr => string::Substr,
    SetRange => string::SetRange,
    GetSet => string::GetSet,
    GetDel => string::GetDel,
    GetEx => string::GetEx,
    SetNx => string::SetNx,
    SetEx => string::SetEx,
    PSetEx => string::PSetEx,
    MSetNx => string::MSetNx,
    Lcs => string::Lcs,
    SetBit => bitmap::SetBit,
    GetBit => bitmap::GetBit,
    BitCount => bitmap::BitCount,
    BitPos => bitmap::BitPos,
    BitOp => bitmap::BitOpCmd,
    // Keyspace, expiry and durability (issue 14, part 2).
    Unlink => keyspace::Unlink,
    Touch => keyspace::Touch,
    Type => keyspace::Type,
    Rename => keyspace::Rename,
    RenameNx => keyspace::RenameNx,
    Copy => keyspace::Copy,
    Keys => keyspace::KeysCmd,
    Scan => keyspace::Scan,
    RandomKey => keyspace::RandomKey,
    ExpireAt => expiry::ExpireAt,
    PExpireAt => expiry::PExpireAt,
    ExpireTime => expiry::ExpireTime,
    PExpireTime => expiry::PExpireTime,
    Object => keyspace::Object,
    Memory => keyspace::Memory,
    Wait => durability::Wait,
    LastSave => durability::LastSave,
    Save => durability::Save,
    BgSave => durability::BgSave,
    Multi => tx::Multi,
    Exec => tx::Exec,
    Discard => tx::Discard,
    Watch => tx::Watch,
    Unwatch => tx::Unwatch,
    TxExec => tx::TxExec,
    TxWatch => tx::TxWatch,
    BitField => bitmap::BitField,
    BitFieldRo => bitmap::BitFieldRo,
}

impl Command {
    /// The command's full name as Redis prints it (`get`, `config|get`).
    pub fn name(&self) -> &'static str {
        self.full_spec().name
    }
}

/// Runs `command` for `ctx.session`: what every handler does once authentication passed.
/// A connection in MONITOR mode may not touch the keyspace, as in Redis (where a monitor is
/// flagged as a replica).
pub fn execute(command: Command, ctx: &mut Ctx<'_>) -> Reply {
    if ctx.session.monitor && touches_keyspace(command.full_spec()) {
        return Reply::Error(ErrorReply::invalid("Replica can't interact with the keyspace"));
    }
    match tx::intercept(command, &mut ctx.session.tx) {
        std::ops::ControlFlow::Continue(command) => command.apply(ctx),
        std::ops::ControlFlow::Break(reply) => reply,
    }
}

/// Whether a command reads or writes data, which a MONITOR connection may not do.
pub fn touches_keyspace(spec: &Spec) -> bool {
    spec.has(Flag::Write) || spec.has(Flag::ReadOnly) || spec.has(Flag::MayReplicate)
}

/// Runs `command` directly against `keyspace` with a throwaway session and `env`: for unit
/// tests and embedders that want command semantics without a connection.
pub fn run(command: Command, keyspace: &dyn Keyspace, env: &dyn Env) -> Reply {
    let mut session = Session::new(0, std::net::SocketAddr::from(([127, 0, 0, 1], 0)), true);
    let mut ctx = Ctx::new(&mut session, env, Some(keyspace));
    execute(command, &mut ctx)
}
