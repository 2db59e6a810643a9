//! RANDOMKEY.

use crate::cmd::{Cmd, Ctx, Flag, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// RANDOMKEY: a live key picked at random (each stripe in proportion to its keys), or nil
/// when there is none.
#[derive(Debug)]
pub struct RandomKey;

impl Cmd for RandomKey {
    type Args = ();
    const SPEC: Spec = Spec::new("randomkey", 1)
        .flags(&[Flag::ReadOnly])
        .acl(&["@keyspace", "@read", "@slow"])
        .tips(&["request_policy:all_shards", "nondeterministic_output"])
        .route(Route::AllShards { merge: Merge::Any })
        .docs("generic", "1.0.0", "O(1)", "Return a random key from the keyspace");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(ctx.keyspace()?.random_key().map_or(Reply::Nil, Reply::Bulk))
    }
}
