//! EXISTS key [key ...] and TOUCH key [key ...].

use bytes::Bytes;

use crate::cmd::args::keys_from;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

const EXISTS: Spec = Spec::new("exists", -2)
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

/// EXISTS (`TOUCH = false`) and TOUCH: how many of the keys are live (repeats count again,
/// as in Redis). TOUCH also marks them recently used, which is what eviction reads.
#[derive(Debug)]
pub struct ExistsCmd<const TOUCH: bool>;

/// EXISTS key [key ...].
pub type Exists = ExistsCmd<false>;
/// TOUCH key [key ...].
pub type Touch = ExistsCmd<true>;

impl<const TOUCH: bool> Cmd for ExistsCmd<TOUCH> {
    type Args = Vec<Bytes>;
    const SPEC: Spec = if TOUCH {
        Spec { name: "touch", ..EXISTS }.docs(
            "generic",
            "3.2.1",
            "O(N) where N is the number of keys that will be touched.",
            "Alters the last access time of a key(s). Returns the number of existing keys \
             specified.",
        )
    } else {
        EXISTS
    };

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
        let live = |k: &&Bytes| if TOUCH { ks.touch(k) } else { ks.exists(k) };
        Ok(Reply::count(keys.iter().filter(live).count()))
    }
}
