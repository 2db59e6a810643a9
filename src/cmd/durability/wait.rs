//! WAIT numreplicas timeout.

use crate::cmd::args::int;
use crate::cmd::{Cmd, Ctx, Flag, Keys, Merge, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// Arguments of WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitArgs {
    /// Replicas to wait for.
    pub replicas: i64,
    /// Longest wait in milliseconds (0: forever).
    pub timeout_ms: i64,
}

/// WAIT: 0 at once. A shale server has no replicas that acknowledge its writes the way WAIT
/// counts (a cluster replicates through the router, which answers a write only once its
/// `--write-ack` mode is met), so no number of them can be reached; waiting out the timeout
/// could not change the answer. Redis blocks until the timeout in that case.
#[derive(Debug)]
pub struct Wait;

impl Cmd for Wait {
    type Args = WaitArgs;
    const SPEC: Spec = Spec::new("wait", 3)
        .flags(&[Flag::NoScript])
        .acl(&["@slow", "@connection"])
        .tips(&["request_policy:all_shards", "response_policy:agg_min"])
        .route(Route::AllShards { merge: Merge::Min })
        .docs(
            "generic",
            "3.0.0",
            "O(1)",
            "Wait for the synchronous replication of all the write commands sent in the \
             context of the current connection",
        );

    /// Redis's order: the count, then the timeout (`timeout is negative`).
    fn parse(argv: &Argv, _: &Limits) -> Result<WaitArgs, ErrorReply> {
        let replicas = int(argv, 1)?;
        let timeout_ms = int(argv, 2)
            .map_err(|_| ErrorReply::invalid("timeout is not an integer or out of range"))?;
        if timeout_ms < 0 {
            return Err(ErrorReply::invalid("timeout is negative"));
        }
        Ok(WaitArgs { replicas, timeout_ms })
    }

    fn keys(_: &WaitArgs) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: WaitArgs, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::Int(0))
    }
}
