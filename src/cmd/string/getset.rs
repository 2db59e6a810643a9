//! GETSET key value, GETDEL key and GETEX key [EX | PX | EXAT | PXAT | PERSIST]: reads that
//! also write, each one atomic step on the key.

use bytes::Bytes;

use super::options::{self, ExpireOpt, Form};
use super::store_error;
use crate::cmd::args::{key, value};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};
use crate::store::{Expiry, SetCond, SetOptions};

/// GETSET: the old value (nil if none), after setting the new one without a TTL.
#[derive(Debug)]
pub struct GetSet;

impl Cmd for GetSet {
    type Args = (Bytes, Bytes);
    const SPEC: Spec = Spec::new("getset", 3)
        .flags(&[Flag::Write, Flag::DenyOom, Flag::Fast])
        .acl(&["@write", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Update])])
        .route(Route::ReadModifyWrite)
        .docs("string", "1.0.0", "O(1)", "Set the string value of a key and return its old value");

    fn parse(argv: &Argv, limits: &Limits) -> Result<(Bytes, Bytes), ErrorReply> {
        Ok((key(argv, 1, limits)?, value(argv, 2, limits)?))
    }

    fn keys((key, _): &(Bytes, Bytes)) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply((key, value): (Bytes, Bytes), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let opts = SetOptions { cond: SetCond::Always, expiry: Expiry::Persist, get: true };
        let out = ctx.keyspace()?.set_with(&key, &value, opts).map_err(|e| store_error(&e))?;
        Ok(out.old.map_or(Reply::Nil, Reply::Bulk))
    }
}

/// GETDEL: the value (nil if none), then the key is deleted.
#[derive(Debug)]
pub struct GetDel;

impl Cmd for GetDel {
    type Args = Bytes;
    const SPEC: Spec = Spec::new("getdel", 2)
        .flags(&[Flag::Write, Flag::Fast])
        .acl(&["@write", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Delete])])
        .route(Route::ReadModifyWrite)
        .docs("string", "6.2.0", "O(1)", "Get the value of a key and delete the key");

    fn parse(argv: &Argv, limits: &Limits) -> Result<Bytes, ErrorReply> {
        key(argv, 1, limits)
    }

    fn keys(key: &Bytes) -> Keys<'_> {
        Keys::one(key)
    }

    fn apply(key: Bytes, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(ctx.keyspace()?.get_del(&key).map_or(Reply::Nil, |f| Reply::Bulk(f.value)))
    }
}

/// Arguments of GETEX: the key and the expiry option (or the error its time gave, which
/// Redis reports only when the key exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetExArgs {
    /// The key.
    pub key: Bytes,
    /// EX / PX / EXAT / PXAT / PERSIST, or none.
    pub expire: Result<ExpireOpt, ErrorReply>,
}

/// GETEX: the value (nil if none), after which its expiry changes as asked. An absolute
/// time in the past deletes the key, as in Redis.
#[derive(Debug)]
pub struct GetEx;

impl Cmd for GetEx {
    type Args = GetExArgs;
    const SPEC: Spec = Spec::new("getex", -2)
        .flags(&[Flag::Write, Flag::Fast])
        .acl(&["@write", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rw, KeyFlag::Access, KeyFlag::Update])
            .notes("RW and UPDATE because it changes the TTL")])
        .route(Route::ReadModifyWrite)
        .docs(
            "string",
            "6.2.0",
            "O(1)",
            "Get the value of a key and optionally set its expiration",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<GetExArgs, ErrorReply> {
        let opts = options::parse(argv, 2, Form::GetEx, "getex")?;
        Ok(GetExArgs { key: key(argv, 1, limits)?, expire: opts.expire })
    }

    fn keys(args: &GetExArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    /// Without an option GETEX is a read.
    fn route(args: &GetExArgs) -> Route {
        match args.expire {
            Ok(ExpireOpt::Unset) => Route::Read,
            _ => Route::ReadModifyWrite,
        }
    }

    fn apply(args: GetExArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let ks = ctx.keyspace()?;
        let expiry = args.expire.and_then(|e| e.expiry(Expiry::Keep, "getex"));
        let expiry = match expiry {
            Ok(expiry) => expiry,
            Err(_) if !ks.exists(&args.key) => return Ok(Reply::Nil),
            Err(e) => return Err(e),
        };
        Ok(ks.get_ex(&args.key, expiry).map_or(Reply::Nil, |f| Reply::Bulk(f.value)))
    }
}
