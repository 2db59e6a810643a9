//! EXPIRETIME key and PEXPIRETIME key: the Unix time a key expires at.

use std::time::Duration;

use bytes::Bytes;

use crate::cmd::args::key;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// -2 when absent, -1 without a deadline, else the deadline as Unix time, in milliseconds
/// or (rounded to the nearest, as Redis does) seconds. The store keeps deadlines relative
/// to a monotonic clock and converts them with the wall clock read at the same moment,
/// rounded to the millisecond, so an EXPIREAT answers the same time back.
pub fn expire_time_reply(at: Option<Option<Duration>>, millis: bool) -> Reply {
    match at {
        None => Reply::Int(-2),
        Some(None) => Reply::Int(-1),
        Some(Some(at)) => {
            let ms = i64::try_from(at.as_nanos().saturating_add(500_000) / 1_000_000)
                .unwrap_or(i64::MAX);
            Reply::Int(if millis { ms } else { ms.saturating_add(500) / 1000 })
        }
    }
}

const EXPIRETIME: Spec = Spec::new("expiretime", 2)
    .flags(&[Flag::ReadOnly, Flag::Fast])
    .acl(&["@keyspace", "@read", "@fast"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ro, KeyFlag::Access])])
    .route(Route::Read);

/// EXPIRETIME (`MILLIS = false`) and PEXPIRETIME.
#[derive(Debug)]
pub struct ExpireTimeCmd<const MILLIS: bool>;

/// EXPIRETIME key: Unix seconds.
pub type ExpireTime = ExpireTimeCmd<false>;
/// PEXPIRETIME key: Unix milliseconds.
pub type PExpireTime = ExpireTimeCmd<true>;

impl<const MILLIS: bool> Cmd for ExpireTimeCmd<MILLIS> {
    type Args = Bytes;
    const SPEC: Spec = if MILLIS {
        Spec { name: "pexpiretime", ..EXPIRETIME }.docs(
            "generic",
            "7.0.0",
            "O(1)",
            "Get the expiration Unix timestamp for a key in milliseconds",
        )
    } else {
        EXPIRETIME.docs("generic", "7.0.0", "O(1)", "Get the expiration Unix timestamp for a key")
    };

    fn parse(argv: &Argv, limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(expire_time_reply(ctx.keyspace()?.expire_time(&key), MILLIS))
    }
}
