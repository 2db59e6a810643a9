//! EXISTS key [key ...].

use bytes::Bytes;

use crate::cmd::args::keys_from;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// EXISTS: how many of the keys are live (repeats count again, as in Redis).
#[derive(Debug)]
pub struct Exists;

impl Cmd for Exists {
    type Args = Vec<Bytes>;
    const SPEC: Spec = Spec::new("exists", -2)
        .flags(&[Flag::ReadOnly, Flag::Fast])
        .acl(&["@keyspace", "@read", "@fast"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .keys(&[KeySpec::range(1, -1, 1, &[KeyFlag::Ro])])
        .route(Route::Split { merge: Merge::Sum })
        .docs(
            "generic",
            "1.0.0",
            "O(N) where N is the number of keys to check.",
            "Determine if a key exists",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<Vec<Bytes>, ErrorReply> {
        keys_from(argv, 1, limits)
    }

    fn keys(keys: &Vec<Bytes>) -> Keys<'_> {
        Keys::slice(keys)
    }

    /// One key is a plain read.
    fn route(keys: &Vec<Bytes>) -> Route {
        if keys.len() == 1 { Route::Read } else { Self::SPEC.route }
    }

    fn apply(keys: Vec<Bytes>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        Ok(Reply::count(keys.iter().filter(|k| ks.exists(k)).count()))
    }
}
