//! DEL key [key ...] and UNLINK key [key ...].

use bytes::Bytes;

use crate::cmd::args::keys_from;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

const DEL: Spec = Spec::new("del", -2)
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

/// DEL (`UNLINK = false`) and UNLINK: how many live keys were removed. They are the same
/// here: a removed value is always freed after the stripe's lock is released, never while
/// another client waits on it, which is what UNLINK promises in Redis.
#[derive(Debug)]
pub struct DelCmd<const UNLINK: bool>;

/// DEL key [key ...].
pub type Del = DelCmd<false>;
/// UNLINK key [key ...].
pub type Unlink = DelCmd<true>;

impl<const UNLINK: bool> Cmd for DelCmd<UNLINK> {
    type Args = Vec<Bytes>;
    const SPEC: Spec = if UNLINK {
        Spec {
            name: "unlink",
            flags: &[Flag::Write, Flag::Fast],
            acl: &["@keyspace", "@write", "@fast"],
            ..DEL
        }
        .docs(
            "generic",
            "4.0.0",
            "O(1) for each key removed regardless of its size. Then the command does O(N) \
             work in a different thread in order to reclaim memory, where N is the number of \
             allocations the deleted objects where composed of.",
            "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but \
             non blocking.",
        )
    } else {
        DEL
    };

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

    fn apply(keys: Vec<Bytes>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        Ok(Reply::count(keys.iter().filter(|k| ks.del(k)).count()))
    }
}
