//! GET key.

use bytes::Bytes;

use crate::cmd::args::key;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// GET: the value, or nil when absent or expired.
#[derive(Debug)]
pub struct Get;

impl Cmd for Get {
    type Args = Bytes;
    const SPEC: Spec = Spec::new("get", 2)
        .flags(&[Flag::ReadOnly, Flag::Fast])
        .acl(&["@read", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
        .route(Route::Read)
        .docs("string", "1.0.0", "O(1)", "Get the value of a key");

    fn parse(argv: &Argv, limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(ctx.keyspace()?.get(&key).map_or(Reply::Nil, Reply::Bulk))
    }
}
