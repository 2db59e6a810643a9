//! EXPIRE key seconds and PEXPIRE key milliseconds.

use std::time::Duration;

use bytes::Bytes;

use super::{TtlUnit, to_duration};
use crate::cmd::args::{int, key};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::limits::MAX_TTL;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// Arguments of EXPIRE and PEXPIRE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpireArgs {
    /// The key.
    pub key: Bytes,
    /// New time to live; zero means "expire now" (the key is deleted).
    pub ttl: Duration,
}

/// Zero or negative means "expire now", which the store applies as a delete. The NX, XX,
/// GT and LT options are not supported yet: any option is refused, as Redis refuses an
/// unknown one (before it looks at the time, as Redis does).
fn parse(
    argv: &Argv,
    limits: &Limits,
    unit: TtlUnit,
    name: &str,
) -> Result<ExpireArgs, ErrorReply> {
    if let Some(opt) = argv.get(3) {
        let shown = crate::cmd::args::lossy(opt, crate::cmd::args::ECHO_LIMIT);
        return Err(ErrorReply::invalid(format!("Unsupported option {shown}")));
    }
    let n = int(argv, 2)?;
    let ttl = match u64::try_from(n) {
        Err(_) => Duration::ZERO,
        Ok(n) => to_duration(n, unit).filter(|ttl| *ttl <= MAX_TTL).ok_or_else(|| {
            ErrorReply::invalid(format!("invalid expire time in '{name}' command"))
        })?,
    };
    Ok(ExpireArgs { key: key(argv, 1, limits)?, ttl })
}

const EXPIRE: Spec = Spec::new("expire", -3)
    .flags(&[Flag::Write, Flag::Fast])
    .acl(&["@keyspace", "@write", "@fast"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Update])])
    .route(Route::ReadModifyWrite);

/// EXPIRE (`MILLIS = false`, seconds) and PEXPIRE (`MILLIS = true`, milliseconds).
#[derive(Debug)]
pub struct ExpireCmd<const MILLIS: bool>;

/// EXPIRE key seconds.
pub type Expire = ExpireCmd<false>;
/// PEXPIRE key milliseconds.
pub type PExpire = ExpireCmd<true>;

impl<const MILLIS: bool> Cmd for ExpireCmd<MILLIS> {
    type Args = ExpireArgs;
    const SPEC: Spec = if MILLIS {
        Spec { name: "pexpire", ..EXPIRE }.docs(
            "generic",
            "2.6.0",
            "O(1)",
            "Set a key's time to live in milliseconds",
        )
    } else {
        EXPIRE.docs("generic", "1.0.0", "O(1)", "Set a key's time to live in seconds")
    };

    fn parse(argv: &Argv, limits: &Limits) -> Result<ExpireArgs, ErrorReply> {
        let unit = if MILLIS { TtlUnit::Millis } else { TtlUnit::Seconds };
        parse(argv, limits, unit, Self::SPEC.name)
    }

    fn keys(args: &ExpireArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    /// 1 if the key exists (a zero TTL deletes it), else 0.
    fn apply(args: ExpireArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::Int(i64::from(ctx.keyspace()?.expire(&args.key, args.ttl))))
    }
}
