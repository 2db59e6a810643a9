//! TTL key and PTTL key (also the binary TTL opcode, which answers in milliseconds).

use bytes::Bytes;

use super::TtlUnit;
use crate::cmd::args::key;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::TtlState;

/// -2 when absent, -1 when the key never expires, else the remaining time. Seconds round
/// to the nearest second, as Redis does, so a fresh `EX 10` reads 10.
pub fn ttl_reply(state: TtlState, unit: TtlUnit) -> Reply {
    match state {
        TtlState::Missing => Reply::Int(-2),
        TtlState::Persistent => Reply::Int(-1),
        TtlState::Expires(left) => {
            let ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX);
            match unit {
                TtlUnit::Millis => Reply::Int(ms.max(1)),
                TtlUnit::Seconds => Reply::Int((ms + 500) / 1000),
            }
        }
    }
}

const TTL: Spec = Spec::new("ttl", 2)
    .flags(&[Flag::ReadOnly, Flag::Fast])
    .acl(&["@keyspace", "@read", "@fast"])
    .tips(&["nondeterministic_output"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
    .route(Route::Read);

/// TTL: remaining seconds.
#[derive(Debug)]
pub struct Ttl;

impl Cmd for Ttl {
    type Args = Bytes;
    const SPEC: Spec =
        TTL.docs("generic", "1.0.0", "O(1)", "Get the time to live for a key in seconds");

    fn parse(argv: &[Bytes], limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(ttl_reply(ctx.keyspace()?.ttl(&key), TtlUnit::Seconds))
    }
}

/// PTTL: remaining milliseconds.
#[derive(Debug)]
pub struct Pttl;

impl Cmd for Pttl {
    type Args = Bytes;
    const SPEC: Spec = Spec { name: "pttl", ..TTL }.docs(
        "generic",
        "2.6.0",
        "O(1)",
        "Get the time to live for a key in milliseconds",
    );

    fn parse(argv: &[Bytes], limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(ttl_reply(ctx.keyspace()?.ttl(&key), TtlUnit::Millis))
    }
}
