//! FLUSHALL and FLUSHDB [ASYNC | SYNC]: both drop every key (there is one database).

use crate::cmd::args::syntax_error;
use crate::cmd::{Cmd, Ctx, Flag, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
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

const FLUSH: Spec = Spec::new("flushall", -1)
    .flags(&[Flag::Write])
    .acl(&["@keyspace", "@write", "@slow", "@dangerous"])
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
    .route(Route::AllShards { merge: Merge::AllOk });

/// FLUSHALL (`ALL = true`) and FLUSHDB: the same here, database 0 being the only one.
#[derive(Debug)]
pub struct FlushCmd<const ALL: bool>;

/// FLUSHALL [ASYNC | SYNC].
pub type FlushAll = FlushCmd<true>;
/// FLUSHDB [ASYNC | SYNC].
pub type FlushDb = FlushCmd<false>;

impl<const ALL: bool> Cmd for FlushCmd<ALL> {
    type Args = FlushMode;
    const SPEC: Spec = if ALL {
        FLUSH.docs(
            "server",
            "1.0.0",
            "O(N) where N is the total number of keys in all databases",
            "Remove all keys from all databases",
        )
    } else {
        Spec { name: "flushdb", ..FLUSH }.docs(
            "server",
            "1.0.0",
            "O(N) where N is the number of keys in the selected database",
            "Remove all keys from the current database",
        )
    };

    fn parse(argv: &Argv, _: &Limits) -> Result<FlushMode, ErrorReply> {
        match (argv.len(), argv.get(1)) {
            (1, _) => Ok(FlushMode::Default),
            (2, Some(m)) if m.eq_ignore_ascii_case(b"async") => Ok(FlushMode::Async),
            (2, Some(m)) if m.eq_ignore_ascii_case(b"sync") => Ok(FlushMode::Sync),
            _ => Err(syntax_error()),
        }
    }

    fn keys(_: &FlushMode) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: FlushMode, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        ctx.keyspace()?.flush();
        Ok(Reply::Ok)
    }
}
