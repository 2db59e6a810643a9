//! TTL key and PTTL key (also the binary TTL opcode, which answers in milliseconds).

use bytes::Bytes;

use super::TtlUnit;
use crate::cmd::args::key;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
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

/// TTL (`MILLIS = false`, seconds) and PTTL (`MILLIS = true`, milliseconds): one
/// command in two units, registered twice.
#[derive(Debug)]
pub struct TtlCmd<const MILLIS: bool>;

/// TTL key: remaining seconds.
pub type Ttl = TtlCmd<false>;
/// PTTL key: remaining milliseconds.
pub type Pttl = TtlCmd<true>;

const TTL: Spec = Spec::new("ttl", 2)
    .flags(&[Flag::ReadOnly, Flag::Fast])
    .acl(&["@keyspace", "@read", "@fast"])
    .tips(&["nondeterministic_output"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
    .route(Route::Read);

impl<const MILLIS: bool> Cmd for TtlCmd<MILLIS> {
    type Args = Bytes;
    const SPEC: Spec = if MILLIS {
        Spec { name: "pttl", ..TTL }.docs(
            "generic",
            "2.6.0",
            "O(1)",
            "Get the time to live for a key in milliseconds",
        )
    } else {
        TTL.docs("generic", "1.0.0", "O(1)", "Get the time to live for a key in seconds")
    };

    fn parse(argv: &Argv, limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let unit = if MILLIS { TtlUnit::Millis } else { TtlUnit::Seconds };
        Ok(ttl_reply(ctx.keyspace()?.ttl(&key), unit))
    }
}
