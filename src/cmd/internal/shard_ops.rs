//! The router-to-node operations that run keyspace commands over every shard: VFLUSH (a
//! versioned FLUSHALL), SHARD_COUNT (some shards' key counts: DBSIZE, INFO keyspace) and
//! SHARD_SCAN (a page of one shard's keys: KEYS, SCAN, RANDOMKEY). Routers send them as
//! binary opcodes ([`crate::protocol::shards`]); their text forms exist for debugging. A
//! server answers them before `apply` (they walk its store; see `server/shard_ops.rs`), and
//! plain servers do too, so a router also works in front of servers that are not cluster
//! nodes; `apply` is what any other process says.

use bytes::Bytes;

use crate::cmd::args::{arg, int, is, not_an_integer, syntax_error};
use crate::cmd::{Cmd, Ctx, Flag, Keys, Route, Spec};
use crate::protocol::shards::{CountRequest, MAX_COUNT_SHARDS, ScanRequest};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// What a process that holds no keys answers these operations.
fn needs_store() -> ErrorReply {
    ErrorReply::invalid("shard operations are answered by servers")
}

fn u32_arg(argv: &Argv, i: usize) -> Result<u32, ErrorReply> {
    u32::try_from(int(argv, i)?).map_err(|_| not_an_integer())
}

const fn op(name: &'static str, arity: i32, flags: &'static [Flag], summary: &'static str) -> Spec {
    Spec::new(name, arity)
        .flags(flags)
        .acl(&["@admin", "@slow", "@dangerous"])
        .route(Route::Internal)
        .docs("shale", "0.1.0", "O(N) where N is the number of keys held", summary)
}

/// VFLUSH version: drops every entry at or below `version` and refuses versioned writes at
/// or below it from then on.
#[derive(Debug)]
pub struct VFlush;

impl Cmd for VFlush {
    /// The flush's version.
    type Args = u64;
    const SPEC: Spec = op(
        "vflush",
        2,
        &[Flag::Write, Flag::Admin, Flag::NoScript],
        "Remove every key as of a version (a replicated FLUSHALL)",
    );

    fn parse(argv: &Argv, _: &Limits) -> Result<u64, ErrorReply> {
        match u64::try_from(int(argv, 1)?) {
            Ok(0) | Err(_) => Err(ErrorReply::invalid("version must be positive")),
            Ok(v) => Ok(v),
        }
    }

    fn keys(_: &u64) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: u64, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(needs_store())
    }
}

/// SHARD_COUNT num_shards shard [shard ...]: the key counts of those shards.
#[derive(Debug)]
pub struct ShardCount;

impl Cmd for ShardCount {
    type Args = Box<CountRequest>;
    const SPEC: Spec = op(
        "shard_count",
        -3,
        &[Flag::ReadOnly, Flag::Admin, Flag::NoScript],
        "Count the keys of some shards",
    );

    fn parse(argv: &Argv, _: &Limits) -> Result<Box<CountRequest>, ErrorReply> {
        if argv.len() - 2 > MAX_COUNT_SHARDS {
            return Err(ErrorReply::invalid(format!("at most {MAX_COUNT_SHARDS} shards")));
        }
        let shards = (2..argv.len()).map(|i| u32_arg(argv, i)).collect::<Result<_, _>>()?;
        Ok(Box::new(CountRequest { num_shards: u32_arg(argv, 1)?, shards }))
    }

    fn keys(_: &Box<CountRequest>) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: Box<CountRequest>, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(needs_store())
    }
}

/// SHARD_SCAN num_shards shard cursor count [MATCH pattern] [RANDOM]: a page of one
/// shard's keys.
#[derive(Debug)]
pub struct ShardScan;

impl Cmd for ShardScan {
    type Args = Box<ScanRequest>;
    const SPEC: Spec = op(
        "shard_scan",
        -5,
        &[Flag::ReadOnly, Flag::Admin, Flag::NoScript],
        "One page of a shard's keys",
    );

    fn parse(argv: &Argv, _: &Limits) -> Result<Box<ScanRequest>, ErrorReply> {
        let cursor = u64::try_from(int(argv, 3)?).map_err(|_| not_an_integer())?;
        let (mut pattern, mut random, mut i) = (Bytes::new(), false, 5);
        while i < argv.len() {
            if is(argv, i, "match") && i + 1 < argv.len() {
                pattern = arg(argv, i + 1);
                i += 2;
            } else if is(argv, i, "random") {
                random = true;
                i += 1;
            } else {
                return Err(syntax_error());
            }
        }
        Ok(Box::new(ScanRequest {
            num_shards: u32_arg(argv, 1)?,
            shard: u32_arg(argv, 2)?,
            cursor,
            count: u32_arg(argv, 4)?,
            random,
            pattern,
        }))
    }

    fn keys(_: &Box<ScanRequest>) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: Box<ScanRequest>, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(needs_store())
    }
}
