//! EXPIRE key seconds, PEXPIRE key milliseconds, EXPIREAT key unix-seconds and PEXPIREAT
//! key unix-milliseconds, each with `[NX | XX | GT | LT]`.
//!
//! Redis's order of checks, kept exactly: the options first (`Unsupported option`, then the
//! incompatible combinations), then the number, then overflow (`invalid expire time`, the
//! key untouched), then whether the key exists (0), then the condition (0), and only then a
//! time not in the future deletes the key (1). Redis accepts any deadline that fits an
//! `i64` of milliseconds; shale refuses more than [`MAX_TTL`] ahead with the same error.

use std::time::Duration;

use bytes::Bytes;

use super::TtlUnit;
use crate::cmd::args::{ECHO_LIMIT, int, key, lossy};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::limits::MAX_TTL;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Deadline, ExpireCond};

/// The deadline EXPIRE and friends were given, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// This many milliseconds from now (EXPIRE, PEXPIRE); not positive means now.
    In(i64),
    /// At this Unix time in milliseconds (EXPIREAT, PEXPIREAT).
    At(i64),
}

/// Arguments of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpireArgs {
    /// The key.
    pub key: Bytes,
    /// The new deadline.
    pub when: When,
    /// NX, XX, GT, LT.
    pub cond: ExpireCond,
}

/// Parses NX, XX, GT and LT from argument 3 on, with Redis's errors.
pub fn expire_options(argv: &Argv, from: usize) -> Result<ExpireCond, ErrorReply> {
    let mut c = ExpireCond::default();
    for opt in argv.iter().skip(from) {
        match opt.to_ascii_lowercase().as_slice() {
            b"nx" => c.nx = true,
            b"xx" => c.xx = true,
            b"gt" => c.gt = true,
            b"lt" => c.lt = true,
            _ => {
                let shown = lossy(opt, ECHO_LIMIT);
                return Err(ErrorReply::invalid(format!("Unsupported option {shown}")));
            }
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(ErrorReply::invalid(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(ErrorReply::invalid("GT and LT options at the same time are not compatible"));
    }
    Ok(c)
}

/// `invalid expire time in 'expire' command`.
fn invalid_time(name: &str) -> ErrorReply {
    ErrorReply::invalid(format!("invalid expire time in '{name}' command"))
}

/// `n` of `unit` in milliseconds, with Redis's overflow error.
fn millis(n: i64, unit: TtlUnit, name: &str) -> Result<i64, ErrorReply> {
    match unit {
        TtlUnit::Millis => Ok(n),
        TtlUnit::Seconds => n.checked_mul(1000).ok_or_else(|| invalid_time(name)),
    }
}

/// A relative deadline of `ms`: past when not positive, refused beyond [`MAX_TTL`].
fn relative(ms: i64, name: &str) -> Result<Deadline, ErrorReply> {
    match u64::try_from(ms) {
        Err(_) | Ok(0) => Ok(Deadline::In(Duration::ZERO)),
        Ok(ms) => Some(Duration::from_millis(ms))
            .filter(|ttl| *ttl <= MAX_TTL)
            .map(Deadline::In)
            .ok_or_else(|| invalid_time(name)),
    }
}

/// An absolute deadline of `ms` Unix milliseconds seen at wall time `wall`: past when not
/// after it (negative included), refused beyond [`MAX_TTL`] ahead of it.
fn absolute(ms: i64, wall: Duration, name: &str) -> Result<Deadline, ErrorReply> {
    let at = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    if at.saturating_sub(wall) > MAX_TTL {
        return Err(invalid_time(name));
    }
    Ok(Deadline::At(at))
}

/// Parses the four commands' arguments: `unit` of the number, `absolute` for the *AT forms.
fn parse(
    argv: &Argv,
    limits: &Limits,
    unit: TtlUnit,
    absolute: bool,
    name: &str,
) -> Result<ExpireArgs, ErrorReply> {
    let cond = expire_options(argv, 3)?;
    let ms = millis(int(argv, 2)?, unit, name)?;
    let when = if absolute {
        When::At(ms)
    } else {
        relative(ms, name)?;
        When::In(ms)
    };
    Ok(ExpireArgs { key: key(argv, 1, limits)?, when, cond })
}

const EXPIRE: Spec = Spec::new("expire", -3)
    .flags(&[Flag::Write, Flag::Fast])
    .acl(&["@keyspace", "@write", "@fast"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Update])])
    .route(Route::ReadModifyWrite);

/// EXPIRE (`MILLIS = false`, `AT = false`), PEXPIRE, EXPIREAT and PEXPIREAT.
#[derive(Debug)]
pub struct ExpireCmd<const MILLIS: bool, const AT: bool>;

/// EXPIRE key seconds [NX | XX | GT | LT].
pub type Expire = ExpireCmd<false, false>;
/// PEXPIRE key milliseconds [NX | XX | GT | LT].
pub type PExpire = ExpireCmd<true, false>;
/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT].
pub type ExpireAt = ExpireCmd<false, true>;
/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT].
pub type PExpireAt = ExpireCmd<true, true>;

impl<const MILLIS: bool, const AT: bool> Cmd for ExpireCmd<MILLIS, AT> {
    type Args = ExpireArgs;
    const SPEC: Spec = match (MILLIS, AT) {
        (false, false) => {
            EXPIRE.docs("generic", "1.0.0", "O(1)", "Set a key's time to live in seconds")
        }
        (true, false) => Spec { name: "pexpire", ..EXPIRE }.docs(
            "generic",
            "2.6.0",
            "O(1)",
            "Set a key's time to live in milliseconds",
        ),
        (false, true) => Spec { name: "expireat", ..EXPIRE }.docs(
            "generic",
            "1.2.0",
            "O(1)",
            "Set the expiration for a key as a UNIX timestamp",
        ),
        (true, true) => Spec { name: "pexpireat", ..EXPIRE }.docs(
            "generic",
            "2.6.0",
            "O(1)",
            "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        ),
    };

    fn parse(argv: &Argv, limits: &Limits) -> Result<ExpireArgs, ErrorReply> {
        let unit = if MILLIS { TtlUnit::Millis } else { TtlUnit::Seconds };
        parse(argv, limits, unit, AT, Self::SPEC.name)
    }

    fn keys(args: &ExpireArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    /// 1 if the deadline was set (or, being past, the key deleted), else 0.
    fn apply(args: ExpireArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        let at = match args.when {
            When::In(ms) => relative(ms, Self::SPEC.name)?,
            When::At(ms) => absolute(ms, ks.wall(), Self::SPEC.name)?,
        };
        Ok(Reply::Int(i64::from(ks.expire(&args.key, at, args.cond).done())))
    }
}
