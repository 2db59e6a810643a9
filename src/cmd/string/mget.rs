//! MGET key [key ...].

use bytes::Bytes;

use crate::cmd::args::keys_from;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// MGET: one value or nil per key.
#[derive(Debug)]
pub struct MGet;

impl Cmd for MGet {
    type Args = Vec<Bytes>;
    const SPEC: Spec = Spec::new("mget", -2)
        .flags(&[Flag::ReadOnly, Flag::Fast])
        .acl(&["@read", "@string", "@fast"])
        .tips(&["request_policy:multi_shard"])
        .keys(&[KeySpec::range(1, -1, 1, &[KeyFlag::Ro, KeyFlag::Access])])
        .route(Route::Split { merge: Merge::InKeyOrder })
        .docs(
            "string",
            "1.0.0",
            "O(N) where N is the number of keys to retrieve.",
            "Get the values of all the given keys",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<Vec<Bytes>, ErrorReply> {
        keys_from(argv, 1, limits)
    }

    fn keys(keys: &Vec<Bytes>) -> Keys<'_> {
        Keys::slice(keys)
    }

    fn apply(keys: Vec<Bytes>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        Ok(Reply::Array(keys.iter().map(|k| ks.get(k).map_or(Reply::Nil, Reply::Bulk)).collect()))
    }
}
