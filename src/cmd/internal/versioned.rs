//! VSET key value ttl_ms version and VDEL key version: last-writer-wins writes.

use std::num::NonZeroU64;
use std::time::Duration;

use bytes::Bytes;

use crate::cmd::args::{int, key, value};
use crate::cmd::string::store_error;
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::binary::ttl_from_ms;
use crate::protocol::cluster::{Stale, WriteAck};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply, Status};
use crate::store::Lww;

/// How far ahead of this node's wall clock a write version may be (see
/// [`crate::version::MAX_CLOCK_SKEW`]): every version a store sees moves its clock forward,
/// so one absurd version would drag all later ones with it. A write past it is refused
/// with CLOCK_SKEW, which the writer reports and hints.
pub const MAX_VERSION_SKEW: Duration = crate::version::MAX_CLOCK_SKEW;

/// A versioned write: refused when its version is further ahead of this node's clock than
/// [`MAX_VERSION_SKEW`]; else applied last-writer-wins and answered with a [`WriteAck`],
/// or STALE with the version that wins over it.
fn write(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    value: Option<&[u8]>,
    ttl: Option<Duration>,
    version: u64,
) -> Result<Reply, ErrorReply> {
    if !crate::version::within_skew(version) {
        ctx.env.clock_skew_refused();
        let ahead = crate::version::ahead_of_wall_ms(version);
        let msg = format!(
            "write version is {ahead} ms ahead of this node's clock (allowed skew {} ms): \
             the writer's clock or this node's is wrong",
            MAX_VERSION_SKEW.as_millis()
        );
        return Err(ErrorReply::new(Status::ClockSkew, msg));
    }
    let keyspace = ctx.keyspace()?;
    match keyspace.write_versioned(key, value, ttl, version) {
        Ok(Lww::Applied { replaced_live }) => {
            let applied = value.is_some() || replaced_live;
            Ok(Reply::Bulk(WriteAck { applied, clock: keyspace.clock() }.encode()))
        }
        Ok(Lww::Stale { held }) => {
            Ok(Reply::Raw(Status::Stale, Stale { held, clock: keyspace.clock() }.encode()))
        }
        Err(e) => Err(store_error(&e)),
    }
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
    /// Time to live in milliseconds, within `MAX_TTL`; `None` never expires. (Kept in 8
    /// bytes, not a `Duration`'s 16: every decoded request carries a [`crate::cmd::Command`]
    /// as large as its largest arguments.)
    pub ttl_ms: Option<NonZeroU64>,
    /// Last-writer-wins version.
    pub version: u64,
    /// Sent to this node as an old replica during a move (binary flag
    /// [`crate::protocol::binary::FLAG_MOVER`]; the text form never is).
    pub mover: bool,
    /// The read-modify-writes whose effect this value holds, when it is one's outcome.
    pub ids: RmwIds,
}

/// The read-modify-write ids a versioned write carries (binary flag
/// [`crate::protocol::binary::FLAG_RMW_IDS`]), newest last. Behind one thin pointer, absent
/// for blind writes, so a VSET's arguments (and so every [`crate::cmd::Command`]) stay small.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RmwIds(Option<Box<IdList>>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct IdList(Vec<u64>);

impl RmwIds {
    /// These ids (none: the write is not an outcome).
    pub fn new(ids: Vec<u64>) -> Self {
        Self((!ids.is_empty()).then(|| Box::new(IdList(ids))))
    }

    /// The ids, oldest first.
    pub fn as_slice(&self) -> &[u64] {
        self.0.as_deref().map_or(&[], |l| &l.0)
    }
}

impl VSetArgs {
    /// The time to live.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl_ms.map(|ms| Duration::from_millis(ms.get()))
    }
}

/// A VSET's `ttl_ms` (0: never expires), refused past `MAX_TTL` as a SET's.
pub fn vset_ttl(ttl_ms: u64) -> Result<Option<NonZeroU64>, ErrorReply> {
    ttl_from_ms(ttl_ms)?;
    Ok(NonZeroU64::new(ttl_ms))
}

/// VSET: applied only if `version` wins over what the key holds (see [`write`]).
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
            ttl_ms: vset_ttl(ttl_ms)?,
            version: version(argv, 4)?,
            mover: false,
            ids: RmwIds::default(),
        })
    }

    fn keys(args: &VSetArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(a: VSetArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        write(ctx, &a.key, Some(&a.value), a.ttl(), a.version)
    }
}

/// Arguments of VDEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VDelArgs {
    /// The key.
    pub key: Bytes,
    /// Last-writer-wins version.
    pub version: u64,
    /// As [`VSetArgs::mover`].
    pub mover: bool,
    /// As [`VSetArgs::ids`].
    pub ids: RmwIds,
}

/// VDEL: leaves a tombstone holding `version` if it wins (see [`write`]).
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
        let (key, version) = (key(argv, 1, limits)?, version(argv, 2)?);
        Ok(VDelArgs { key, version, mover: false, ids: RmwIds::default() })
    }

    fn keys(args: &VDelArgs) -> Keys<'_> {
        Keys::one(&args.key)
    }

    fn apply(a: VDelArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        write(ctx, &a.key, None, None, a.version)
    }
}
