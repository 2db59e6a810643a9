//! The coordinator operations: RMW (a router asks the coordinator of a key's shard to run a
//! read-modify-write command and report the resulting state of its keys) and FENCE (a node
//! taking over as a shard's coordinator stops the one before it). Routers and peers send
//! them as binary opcodes; the text forms `RMW command [arg ...]` and `FENCE shard node`
//! exist for debugging. A cluster node answers both before `apply` (see
//! `server/node/rmw.rs`); `apply` is what a process without a cluster says.

use bytes::Bytes;

use super::node_ops::needs_cluster;
use crate::cmd::args::{int, not_an_integer};
use crate::cmd::{Cmd, Command, Ctx, Flag, Keys, Route, Spec};
use crate::protocol::cluster::MAX_NODE_NAME;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// The command an RMW request carries, from its argument vector (the command's name
/// first). One level only: an RMW of an RMW is refused before it is parsed, so nesting can
/// never recurse.
pub fn rmw_command(argv: &Argv, limits: &Limits) -> Result<Command, ErrorReply> {
    if argv.get(0).is_some_and(|name| name.eq_ignore_ascii_case(b"rmw")) {
        return Err(ErrorReply::invalid("RMW cannot carry another RMW"));
    }
    crate::cmd::parse(argv, limits)
}

/// Arguments of RMW: the carried command and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmwArgs {
    /// The id the router gave the command, the same on every attempt (binary frames only;
    /// 0 = none, so a run after a lost reply cannot be told from a new command).
    pub id: u64,
    /// The command.
    pub command: Command,
}

/// RMW command [arg ...]: runs a read-modify-write command on this node, the coordinator
/// of its keys' shard, and answers its reply with the resulting state of each key it
/// changed.
#[derive(Debug)]
pub struct Rmw;

impl Cmd for Rmw {
    // Boxed: a command inside a command.
    type Args = Box<RmwArgs>;
    const SPEC: Spec = Spec::new("rmw", -2)
        .flags(&[Flag::Write, Flag::DenyOom])
        .acl(&["@write", "@slow"])
        .route(Route::Internal)
        .docs(
            "shale",
            "0.1.0",
            "The carried command's",
            "Run a read-modify-write command on its shard's coordinator (replication)",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<Box<RmwArgs>, ErrorReply> {
        let inner: Vec<Bytes> = argv.to_vec().into_iter().skip(1).collect();
        let command = rmw_command(&inner.into(), limits)?;
        Ok(Box::new(RmwArgs { id: 0, command }))
    }

    /// None of its own: admission checks the carried command's keys as a write.
    fn keys(_: &Box<RmwArgs>) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: Box<RmwArgs>, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(needs_cluster())
    }
}

/// Arguments of FENCE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceArgs {
    /// Shard number, 1-based.
    pub shard: u32,
    /// The node taking over as the shard's coordinator.
    pub by: String,
}

/// FENCE shard node: stop coordinating `shard`, wait for the read-modify-writes running on
/// it, and answer (with this node's clock).
#[derive(Debug)]
pub struct Fence;

impl Cmd for Fence {
    type Args = FenceArgs;
    const SPEC: Spec = Spec::new("fence", 3)
        .flags(&[Flag::Admin, Flag::NoScript])
        .acl(&["@admin", "@slow", "@dangerous"])
        .route(Route::Internal)
        .docs("shale", "0.1.0", "O(1)", "Stop coordinating a shard for a node taking over");

    fn parse(argv: &Argv, _: &Limits) -> Result<FenceArgs, ErrorReply> {
        let shard = u32::try_from(int(argv, 1)?).map_err(|_| not_an_integer())?;
        let by = std::str::from_utf8(&argv[2])
            .ok()
            .filter(|n| !n.is_empty() && n.len() <= MAX_NODE_NAME)
            .ok_or_else(|| ErrorReply::invalid("FENCE needs a node name of 1-255 UTF-8 bytes"))?;
        Ok(FenceArgs { shard, by: by.to_owned() })
    }

    fn keys(_: &FenceArgs) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: FenceArgs, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(needs_cluster())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmw_carries_one_command_and_never_another_rmw() {
        let limits = Limits::default();
        let parsed = crate::cmd::parse(&["RMW", "expire", "k", "10"].into(), &limits).unwrap();
        let Command::Rmw(inner) = parsed else { panic!("{parsed:?}") };
        assert_eq!((inner.command.name(), inner.id), ("expire", 0));
        let nested = crate::cmd::parse(&["rmw", "RMW", "persist", "k"].into(), &limits);
        assert!(nested.unwrap_err().message.contains("another RMW"));
        let bad = crate::cmd::parse(&["rmw", "expire", "k"].into(), &limits).unwrap_err();
        assert!(bad.message.contains("wrong number of arguments for 'expire'"), "{bad}");
    }

    #[test]
    fn fence_names_shard_and_node() {
        let limits = Limits::default();
        let parsed = crate::cmd::parse(&["FENCE", "3", "n1"].into(), &limits).unwrap();
        assert_eq!(parsed, Command::Fence(FenceArgs { shard: 3, by: "n1".into() }));
        assert!(crate::cmd::parse(&["fence", "-1", "n1"].into(), &limits).is_err());
        assert!(crate::cmd::parse(&["fence", "1", ""].into(), &limits).is_err());
    }
}
