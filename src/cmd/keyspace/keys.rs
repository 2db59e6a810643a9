//! KEYS pattern.

use bytes::Bytes;

use crate::cmd::args::arg;
use crate::cmd::glob;
use crate::cmd::{Cmd, Ctx, Flag, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// A key filter for a glob pattern (`*` accepts everything without matching).
pub fn pattern_filter(pattern: &[u8]) -> impl Fn(&[u8]) -> bool + '_ {
    let all = pattern == b"*";
    move |key: &[u8]| all || glob::matches(pattern, key, false)
}

/// KEYS: every live key matching a Redis glob pattern. Each stripe is read under one lock
/// hold, so a key appears once; the stripes are read one after another, so under
/// concurrent writes the answer is not one instant's (use SCAN on a big keyspace).
#[derive(Debug)]
pub struct KeysCmd;

impl Cmd for KeysCmd {
    type Args = Bytes;
    const SPEC: Spec = Spec::new("keys", 2)
        .flags(&[Flag::ReadOnly])
        .acl(&["@keyspace", "@read", "@slow", "@dangerous"])
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .route(Route::AllShards { merge: Merge::Concat })
        .docs(
            "generic",
            "1.0.0",
            "O(N) with N being the number of keys in the database, under the assumption that \
             the key names in the database and the given pattern have limited length.",
            "Find all keys matching the given pattern",
        );

    fn parse(argv: &Argv, _: &Limits) -> Result<Bytes, ErrorReply> {
        Ok(arg(argv, 1))
    }

    fn keys(_: &Bytes) -> Keys<'_> {
        Keys::none()
    }

    fn apply(pattern: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let keys = ctx.keyspace()?.keys(&pattern_filter(&pattern));
        Ok(Reply::Array(keys.into_iter().map(Reply::Bulk).collect()))
    }
}
