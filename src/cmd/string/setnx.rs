//! SETNX key value, SETEX key seconds value, PSETEX key milliseconds value and MSETNX key
//! value [key value ...]: SET's older forms.

use std::time::Duration;

use bytes::Bytes;

use super::mset::pairs;
use super::options::{self, ExpireOpt};
use super::store_error;
use crate::cmd::args::{key, value};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::SetCond;

/// SETNX: 1 if the key was set, 0 if it existed.
#[derive(Debug)]
pub struct SetNx;

impl Cmd for SetNx {
    type Args = (Bytes, Bytes);
    const SPEC: Spec = Spec::new("setnx", 3)
        .flags(&[Flag::Write, Flag::DenyOom, Flag::Fast])
        .acl(&["@write", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ow, KeyFlag::Insert])])
        .route(Route::ReadModifyWrite)
        .docs("string", "1.0.0", "O(1)", "Set the value of a key, only if the key does not exist");

    fn parse(argv: &Argv, limits: &Limits) -> Result<(Bytes, Bytes), ErrorReply> {
        Ok((key(argv, 1, limits)?, value(argv, 2, limits)?))
    }

    fn keys((key, _): &(Bytes, Bytes)) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply((key, value): (Bytes, Bytes), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let set = ctx.keyspace()?.set(&key, &value, None, SetCond::IfAbsent);
        set.map(|set| Reply::Int(i64::from(set))).map_err(|e| store_error(&e))
    }
}

/// Arguments of SETEX and PSETEX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetExArgs {
    /// The key.
    pub key: Bytes,
    /// The time to live.
    pub ttl: Duration,
    /// The value.
    pub value: Bytes,
}

/// SETEX (`MILLIS = false`, seconds) and PSETEX (`MILLIS = true`, milliseconds): SET with
/// a TTL, which must be positive.
#[derive(Debug)]
pub struct SetExCmd<const MILLIS: bool>;

/// SETEX key seconds value.
pub type SetEx = SetExCmd<false>;
/// PSETEX key milliseconds value.
pub type PSetEx = SetExCmd<true>;

const SETEX: Spec = Spec::new("setex", 4)
    .flags(&[Flag::Write, Flag::DenyOom])
    .acl(&["@write", "@string", "@slow"])
    .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ow, KeyFlag::Update])])
    .route(Route::Write);

impl<const MILLIS: bool> Cmd for SetExCmd<MILLIS> {
    type Args = SetExArgs;
    const SPEC: Spec = if MILLIS {
        Spec { name: "psetex", ..SETEX }.docs(
            "string",
            "2.6.0",
            "O(1)",
            "Set the value and expiration in milliseconds of a key",
        )
    } else {
        SETEX.docs("string", "2.0.0", "O(1)", "Set the value and expiration of a key")
    };

    fn parse(argv: &Argv, limits: &Limits) -> Result<SetExArgs, ErrorReply> {
        let key = key(argv, 1, limits)?;
        let value = value(argv, 3, limits)?;
        let amount = argv.get(2).unwrap_or_default();
        let ExpireOpt::In(ttl) = options::time(amount, MILLIS, false, Self::SPEC.name)? else {
            return Err(options::invalid_expire(Self::SPEC.name));
        };
        Ok(SetExArgs { key, ttl, value })
    }

    fn keys(args: &SetExArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(args: SetExArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        ks.set(&args.key, &args.value, Some(args.ttl), SetCond::Always)
            .map(|_| Reply::Ok)
            .map_err(|e| store_error(&e))
    }
}

/// MSETNX: 1 if every pair was set, 0 (and nothing set) if any key existed. All keys of
/// one call are checked and written atomically; through a router they must share a shard.
#[derive(Debug)]
pub struct MSetNx;

impl Cmd for MSetNx {
    type Args = Vec<(Bytes, Bytes)>;
    const SPEC: Spec = Spec::new("msetnx", -3)
        .flags(&[Flag::Write, Flag::DenyOom])
        .acl(&["@write", "@string", "@slow"])
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .keys(&[KeySpec::range(1, -1, 2, &[KeyFlag::Ow, KeyFlag::Insert])])
        .route(Route::SameShard)
        .docs(
            "string",
            "1.0.1",
            "O(N) where N is the number of keys to set.",
            "Set multiple keys to multiple values, only if none of the keys exist",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<Self::Args, ErrorReply> {
        pairs(argv, limits, "msetnx")
    }

    fn keys(pairs: &Self::Args) -> Keys<'_> {
        Keys::pairs(pairs)
    }

    fn apply(pairs: Self::Args, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let set = ctx.keyspace()?.mset_nx(&pairs).map_err(|e| store_error(&e))?;
        Ok(Reply::Int(i64::from(set)))
    }
}
