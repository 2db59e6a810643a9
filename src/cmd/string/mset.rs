//! MSET key value [key value ...].

use bytes::Bytes;

use super::store_error;
use crate::cmd::args::{arg, wrong_arity};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Merge, Route, Spec};
use crate::protocol::binary::{check_key, check_value};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::SetCond;

/// The key/value pairs of MSET or MSETNX: the name plus pairs makes an odd count.
pub fn pairs(argv: &Argv, limits: &Limits, name: &str) -> Result<Vec<(Bytes, Bytes)>, ErrorReply> {
    if argv.len() % 2 == 0 {
        return Err(wrong_arity(name));
    }
    (1..argv.len())
        .step_by(2)
        .map(|i| {
            let key = check_key(arg(argv, i), limits)?;
            check_value(&argv[i + 1], limits)?;
            Ok((key, arg(argv, i + 1)))
        })
        .collect()
}

/// MSET: OK, or OOM at the first pair the store refuses. Each pair is written atomically;
/// the batch is not.
#[derive(Debug)]
pub struct MSet;

impl Cmd for MSet {
    type Args = Vec<(Bytes, Bytes)>;
    const SPEC: Spec = Spec::new("mset", -3)
        .flags(&[Flag::Write, Flag::DenyOom])
        .acl(&["@write", "@string", "@slow"])
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .keys(&[KeySpec::range(1, -1, 2, &[KeyFlag::Ow, KeyFlag::Update])])
        .route(Route::Split { merge: Merge::AllOk })
        .docs(
            "string",
            "1.0.1",
            "O(N) where N is the number of keys to set.",
            "Set multiple keys to multiple values",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<Self::Args, ErrorReply> {
        pairs(argv, limits, "mset")
    }

    fn keys(pairs: &Self::Args) -> Keys<'_> {
        Keys::pairs(pairs)
    }

    fn apply(pairs: Self::Args, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        for (k, v) in &pairs {
            ks.set(k, v, None, SetCond::Always).map_err(|e| store_error(&e))?;
        }
        Ok(Reply::Ok)
    }
}
