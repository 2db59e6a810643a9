//! INFO [section ...] (text) and STATS (shale's, also the binary STATS opcode): one list of
//! fields ([`crate::cmd::info`]), rendered two ways.

use crate::cmd::info::{render_info, render_stats, sections};
use crate::cmd::{Cmd, Ctx, Flag, Keys, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// INFO: Redis-style `# Section` blocks of `name:value` lines (verbatim text in RESP3).
#[derive(Debug)]
pub struct Info;

impl Cmd for Info {
    /// The sections asked for, lower-cased (empty: the default set).
    type Args = Vec<String>;
    const SPEC: Spec = Spec::new("info", -1)
        .flags(&[Flag::Loading, Flag::Stale])
        .acl(&["@slow", "@dangerous"])
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .docs("server", "1.0.0", "O(1)", "Get information and statistics about the server");

    fn parse(argv: &Argv, _: &Limits) -> Result<Vec<String>, ErrorReply> {
        Ok(argv.iter().skip(1).map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect())
    }

    fn keys(_: &Vec<String>) -> Keys<'_> {
        Keys::none()
    }

    fn apply(wanted: Vec<String>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::Verbatim(render_info(&sections(ctx.env), &wanted).into()))
    }
}

/// STATS: every INFO field as `name:value` lines, for scripts and the binary protocol.
#[derive(Debug)]
pub struct Stats;

impl Cmd for Stats {
    type Args = ();
    const SPEC: Spec = Spec::new("stats", 1)
        .flags(&[Flag::Loading, Flag::Stale])
        .acl(&["@slow", "@dangerous"])
        .tips(&["nondeterministic_output"])
        .docs("shale", "0.1.0", "O(1)", "Every INFO field as name:value lines, without sections");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::Bulk(render_stats(&sections(ctx.env)).into()))
    }
}
