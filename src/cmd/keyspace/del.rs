//! DEL key [key ...].

use bytes::Bytes;

use crate::cmd::args::keys_from;
use crate::cmd::{BlindWrites, Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// DEL: how many live keys were removed.
#[derive(Debug)]
pub struct Del;

impl Cmd for Del {
    type Args = Vec<Bytes>;
    const SPEC: Spec = Spec::new("del", -2)
        .flags(&[Flag::Write])
        .acl(&["@keyspace", "@write", "@slow"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[KeySpec::range(1, -1, 1, &[KeyFlag::Rm, KeyFlag::Delete])])
        .route(Route::Split { merge: Merge::Sum })
        .docs(
            "generic",
            "1.0.0",
            "O(N) where N is the number of keys that will be removed.",
            "Delete a key",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<Vec<Bytes>, ErrorReply> {
        keys_from(argv, 1, limits)
    }

    fn keys(keys: &Vec<Bytes>) -> Keys<'_> {
        Keys::slice(keys)
    }

    /// One key is a blind write; several are split by shard and summed.
    fn route(keys: &Vec<Bytes>) -> Route {
        if keys.len() == 1 { Route::Write } else { Self::SPEC.route }
    }

    fn blind_writes(keys: &Vec<Bytes>) -> BlindWrites<'_> {
        BlindWrites::deletes(keys)
    }

    fn apply(keys: Vec<Bytes>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        Ok(Reply::count(keys.iter().filter(|k| ks.del(k)).count()))
    }
}
