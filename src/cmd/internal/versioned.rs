//! VSET key value ttl_ms version and VDEL key version: last-writer-wins writes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::cmd::args::{int, key, value};
use crate::cmd::string::store_error;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::binary::ttl_from_ms;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// How far ahead of this node's wall clock a write version may be. Every version a store
/// sees moves its clock forward, so one absurd version would drag all later ones with it.
pub const MAX_VERSION_SKEW: Duration = Duration::from_secs(600);

fn check_version(version: u64) -> Result<(), ErrorReply> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let limit = u64::try_from((now + MAX_VERSION_SKEW).as_millis()).unwrap_or(u64::MAX);
    if crate::version::millis_of(version) > limit {
        return Err(ErrorReply::invalid("version is too far in the future"));
    }
    Ok(())
}

fn version(argv: &Argv, i: usize) -> Result<u64, ErrorReply> {
    let v = u64::try_from(int(argv, i)?)
        .map_err(|_| ErrorReply::invalid("version must be positive"))?;
    if v == 0 {
        return Err(ErrorReply::invalid("version 0 is reserved"));
    }
    Ok(v)
}

/// Arguments of VSET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VSetArgs {
    /// The key.
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
    /// Time to live; `None` never expires.
    pub ttl: Option<Duration>,
    /// Last-writer-wins version.
    pub version: u64,
}

/// VSET: applied only if `version` is newer than what the key holds; 1 if applied.
#[derive(Debug)]
pub struct VSet;

impl Cmd for VSet {
    type Args = VSetArgs;
    const SPEC: Spec = Spec::new("vset", 5)
        .flags(&[Flag::Write, Flag::DenyOom, Flag::Fast])
        .acl(&["@write", "@string", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Ow, KeyFlag::Update])])
        .route(Route::Internal)
        .docs(
            "shale",
            "0.1.0",
            "O(1)",
            "Set a key if the version is newer than the one held (replication)",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<VSetArgs, ErrorReply> {
        let ttl_ms = u64::try_from(int(argv, 3)?)
            .map_err(|_| ErrorReply::invalid("ttl_ms must not be negative"))?;
        Ok(VSetArgs {
            key: key(argv, 1, limits)?,
            value: value(argv, 2, limits)?,
            ttl: ttl_from_ms(ttl_ms)?,
            version: version(argv, 4)?,
        })
    }

    fn keys(args: &VSetArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(a: VSetArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        check_version(a.version)?;
        match ctx.keyspace()?.set_versioned(&a.key, &a.value, a.ttl, a.version) {
            Ok(applied) => Ok(Reply::Int(i64::from(applied))),
            Err(e) => Err(store_error(&e)),
        }
    }
}

/// Arguments of VDEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VDelArgs {
    /// The key.
    pub key: Bytes,
    /// Last-writer-wins version.
    pub version: u64,
}

/// VDEL: leaves a tombstone holding `version`; 1 if a live key was removed.
#[derive(Debug)]
pub struct VDel;

impl Cmd for VDel {
    type Args = VDelArgs;
    const SPEC: Spec = Spec::new("vdel", 3)
        .flags(&[Flag::Write, Flag::Fast])
        .acl(&["@write", "@keyspace", "@fast"])
        .keys(&[KeySpec::range(1, 0, 1, &[KeyFlag::Rm, KeyFlag::Delete])])
        .route(Route::Internal)
        .docs(
            "shale",
            "0.1.0",
            "O(1)",
            "Delete a key as of a version, leaving a tombstone (replication)",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<VDelArgs, ErrorReply> {
        Ok(VDelArgs { key: key(argv, 1, limits)?, version: version(argv, 2)? })
    }

    fn keys(args: &VDelArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(a: VDelArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        check_version(a.version)?;
        Ok(Reply::Int(i64::from(ctx.keyspace()?.del_versioned(&a.key, a.version))))
    }
}
