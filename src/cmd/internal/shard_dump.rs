//! SHARD_DUMP shard cursor max_items: one page of a shard's entries, for a peer's copy.

use crate::cmd::args::int;
use crate::cmd::{Cmd, Ctx, Flag, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// Arguments of SHARD_DUMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardDumpArgs {
    /// Shard number, 1-based.
    pub shard: u32,
    /// Opaque position from the previous page (0 = the start).
    pub cursor: u64,
    /// Most entries wanted (0 = the server's page size).
    pub max_items: u32,
}

/// SHARD_DUMP: a page (see [`crate::protocol::dump`]) as a bulk string.
#[derive(Debug)]
pub struct ShardDump;

impl Cmd for ShardDump {
    type Args = ShardDumpArgs;
    const SPEC: Spec = Spec::new("shard_dump", 4)
        .flags(&[Flag::ReadOnly, Flag::Admin])
        .acl(&["@read", "@admin", "@slow"])
        .route(Route::Internal)
        .docs(
            "shale",
            "0.1.0",
            "O(N) where N is the page size",
            "One page of a shard's entries (shard copy)",
        );

    fn parse(argv: &Argv, _: &Limits) -> Result<ShardDumpArgs, ErrorReply> {
        let num = |i| {
            int(argv, i)
                .and_then(|n| u64::try_from(n).map_err(|_| crate::cmd::args::not_an_integer()))
        };
        let small = |i| {
            num(i).and_then(|n| u32::try_from(n).map_err(|_| crate::cmd::args::not_an_integer()))
        };
        Ok(ShardDumpArgs { shard: small(1)?, cursor: num(2)?, max_items: small(3)? })
    }

    fn keys(_: &ShardDumpArgs) -> Keys<'_> {
        Keys::none()
    }

    fn apply(a: ShardDumpArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        ctx.env.shard_dump(a.shard, None, a.cursor, a.max_items, false)
    }
}
