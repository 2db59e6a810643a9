//! FLUSHALL and FLUSHDB [ASYNC | SYNC]: both drop every key (there is one database).

use bytes::Bytes;

use crate::cmd::args::syntax_error;
use crate::cmd::{Cmd, Ctx, Flag, Keys, Merge, Route, Spec};
use crate::protocol::{ErrorReply, Limits, Reply};

/// The ASYNC/SYNC option. Both free the old data the same way: outside the store's locks,
/// on the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushMode {
    /// No option given.
    #[default]
    Default,
    /// ASYNC.
    Async,
    /// SYNC.
    Sync,
}

fn parse_mode(argv: &[Bytes]) -> Result<FlushMode, ErrorReply> {
    match argv.get(1..).unwrap_or_default() {
        [] => Ok(FlushMode::Default),
        [m] if m.eq_ignore_ascii_case(b"async") => Ok(FlushMode::Async),
        [m] if m.eq_ignore_ascii_case(b"sync") => Ok(FlushMode::Sync),
        _ => Err(syntax_error()),
    }
}

fn flush(ctx: &Ctx<'_>) -> Result<Reply, ErrorReply> {
    ctx.keyspace()?.flush();
    Ok(Reply::Ok)
}

const FLUSH: Spec = Spec::new("flushall", -1)
    .flags(&[Flag::Write])
    .acl(&["@keyspace", "@write", "@slow", "@dangerous"])
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
    .route(Route::AllShards { merge: Merge::AllOk });

/// FLUSHALL: drop every key.
#[derive(Debug)]
pub struct FlushAll;

impl Cmd for FlushAll {
    type Args = FlushMode;
    const SPEC: Spec = FLUSH.docs(
        "server",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        "Remove all keys from all databases",
    );

    fn parse(argv: &[Bytes], _: &Limits) -> Result<FlushMode, ErrorReply> {
        parse_mode(argv)
    }

    fn keys(_: &FlushMode) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: FlushMode, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        flush(ctx)
    }
}

/// FLUSHDB: the same as FLUSHALL, database 0 being the only one.
#[derive(Debug)]
pub struct FlushDb;

impl Cmd for FlushDb {
    type Args = FlushMode;
    const SPEC: Spec = Spec { name: "flushdb", ..FLUSH }.docs(
        "server",
        "1.0.0",
        "O(N) where N is the number of keys in the selected database",
        "Remove all keys from the current database",
    );

    fn parse(argv: &[Bytes], _: &Limits) -> Result<FlushMode, ErrorReply> {
        parse_mode(argv)
    }

    fn keys(_: &FlushMode) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: FlushMode, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        flush(ctx)
    }
}
