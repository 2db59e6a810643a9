//! TYPE key.

use bytes::Bytes;

use crate::cmd::args::key;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// TYPE: `string` for a live key (the only type shale stores), `none` otherwise.
#[derive(Debug)]
pub struct Type;

impl Cmd for Type {
    type Args = Bytes;
    const SPEC: Spec = Spec::new("type", 2)
        .flags(&[Flag::ReadOnly, Flag::Fast])
        .acl(&["@keyspace", "@read", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro])])
        .route(Route::Read)
        .docs("generic", "1.0.0", "O(1)", "Determine the type stored at key");

    fn parse(argv: &Argv, limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let live = ctx.keyspace()?.exists(&key);
        Ok(Reply::Simple(if live { "string" } else { "none" }))
    }
}
