//! DBSIZE.

use crate::cmd::{Cmd, Ctx, Flag, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// DBSIZE: keys held.
#[derive(Debug)]
pub struct DbSize;

impl Cmd for DbSize {
    type Args = ();
    const SPEC: Spec = Spec::new("dbsize", 1)
        .flags(&[Flag::ReadOnly, Flag::Fast])
        .acl(&["@keyspace", "@read", "@fast"])
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .route(Route::AllShards { merge: Merge::Sum })
        .docs("server", "1.0.0", "O(1)", "Return the number of keys in the selected database");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::count(ctx.keyspace()?.len()))
    }
}
