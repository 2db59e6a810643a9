//! The cluster's node-to-node operations: NODE_STATUS (identity, clock, limits, shard
//! states), DIGEST (a shard's anti-entropy digest), BUCKET_DUMP (entries of some digest
//! buckets) and SHARD_SYNC (an anti-entropy round with every peer now; the SYNC opcode).
//! Peers and routers send them as binary opcodes; their text forms exist for debugging.
//! DIGEST and SHARD_SYNC wait for work elsewhere, so a server answers them before
//! `apply` (see `server/handler.rs`); `apply` is what a process without a cluster says.

use crate::cmd::args::{int, is, not_an_integer, syntax_error};
use crate::cmd::{Cmd, Ctx, Flag, Keys, Route, Spec};
use crate::protocol::cluster::{BucketSet, DIGEST_BUCKETS};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// What a process that is not a cluster node answers the cluster operations.
pub fn needs_cluster() -> ErrorReply {
    ErrorReply::invalid("cluster operations need a server started with --shardmap and --node")
}

/// Argument `i` as a shard number.
fn shard(argv: &Argv, i: usize) -> Result<u32, ErrorReply> {
    u32::try_from(int(argv, i)?).map_err(|_| not_an_integer())
}

const fn internal(name: &'static str, arity: i32, summary: &'static str) -> Spec {
    Spec::new(name, arity)
        .flags(&[Flag::Admin, Flag::NoScript])
        .acl(&["@admin", "@slow", "@dangerous"])
        .route(Route::Internal)
        .docs("shale", "0.1.0", "O(N) where N is the shard's size", summary)
}

/// NODE_STATUS: the node's [`crate::protocol::cluster::NodeStatus`], encoded.
#[derive(Debug)]
pub struct NodeStatus;

impl Cmd for NodeStatus {
    type Args = ();
    const SPEC: Spec = internal("node_status", 1, "The node's identity, clock and shard states");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        ctx.env.node_status()
    }
}

/// Arguments of DIGEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestArgs {
    /// Shard number, 1-based.
    pub shard: u32,
    /// Walk the store now rather than answer from the cache.
    pub fresh: bool,
}

/// DIGEST shard [FRESH]: one hash per bucket of the shard's keys and versions.
#[derive(Debug)]
pub struct Digest;

impl Cmd for Digest {
    type Args = DigestArgs;
    const SPEC: Spec = internal("digest", -2, "A shard's anti-entropy digest");

    fn parse(argv: &Argv, _: &Limits) -> Result<DigestArgs, ErrorReply> {
        let fresh = match argv.len() {
            2 => false,
            3 if is(argv, 2, "fresh") => true,
            _ => return Err(syntax_error()),
        };
        Ok(DigestArgs { shard: shard(argv, 1)?, fresh })
    }

    fn keys(_: &DigestArgs) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: DigestArgs, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(needs_cluster())
    }
}

/// Arguments of BUCKET_DUMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketDumpArgs {
    /// Shard number, 1-based.
    pub shard: u32,
    /// Which digest buckets.
    pub buckets: BucketSet,
    /// Opaque position from the previous page (0 = the start).
    pub cursor: u64,
    /// Whether each entry's RMW ids follow the page (binary flag `FLAG_RMW_IDS` only).
    pub ids: bool,
}

/// BUCKET_DUMP shard cursor bucket [bucket ...]: one page of the entries of some buckets.
#[derive(Debug)]
pub struct BucketDump;

impl Cmd for BucketDump {
    // Boxed: the bucket bitmap is 128 bytes, and every decoded request carries a Command.
    type Args = Box<BucketDumpArgs>;
    const SPEC: Spec = internal("bucket_dump", -4, "One page of some digest buckets' entries");

    fn parse(argv: &Argv, _: &Limits) -> Result<Box<BucketDumpArgs>, ErrorReply> {
        let cursor = u64::try_from(int(argv, 2)?).map_err(|_| not_an_integer())?;
        let mut buckets = BucketSet::default();
        for i in 3..argv.len() {
            let b = usize::try_from(int(argv, i)?).map_err(|_| not_an_integer())?;
            if b >= DIGEST_BUCKETS {
                let msg = format!("bucket {b} is out of range (0-{})", DIGEST_BUCKETS - 1);
                return Err(ErrorReply::invalid(msg));
            }
            buckets.insert(b);
        }
        Ok(Box::new(BucketDumpArgs { shard: shard(argv, 1)?, buckets, cursor, ids: false }))
    }

    fn keys(_: &Box<BucketDumpArgs>) -> Keys<'_> {
        Keys::none()
    }

    fn apply(a: Box<BucketDumpArgs>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        ctx.env.shard_dump(a.shard, Some(&a.buckets), a.cursor, 0, a.ids)
    }
}

/// Arguments of SHARD_SYNC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncArgs {
    /// Shard number, 1-based.
    pub shard: u32,
}

/// SHARD_SYNC shard: an anti-entropy round of the shard with every peer, now; the entries
/// applied. (Not Redis's SYNC, which starts a replica.)
#[derive(Debug)]
pub struct Sync;

impl Cmd for Sync {
    type Args = SyncArgs;
    const SPEC: Spec = internal("shard_sync", 2, "Pull a shard's differences from its peers now");

    fn parse(argv: &Argv, _: &Limits) -> Result<SyncArgs, ErrorReply> {
        Ok(SyncArgs { shard: shard(argv, 1)? })
    }

    fn keys(_: &SyncArgs) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: SyncArgs, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(needs_cluster())
    }
}
