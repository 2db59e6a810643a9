//! MEMORY USAGE key [SAMPLES count] and MEMORY HELP. (MEMORY STATS, DOCTOR, PURGE and
//! MALLOC-STATS are not supported: INFO memory has the store's numbers.)

use bytes::Bytes;

use crate::cmd::args::{int, is, key, lower, syntax_error};
use crate::cmd::{Cmd, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

const SUBS: &[Spec] = &[
    Spec::new("memory|usage", -3)
        .flags(&[Flag::ReadOnly])
        .acl(&["@read", "@slow"])
        .keys(&[KeySpec::range(2, 0, 1, &[KeyFlag::Ro])])
        .route(Route::Read)
        .docs(
            "server",
            "4.0.0",
            "O(N) where N is the number of samples.",
            "Estimate the memory usage of a key",
        ),
    Spec::new("memory|help", 2).flags(&[Flag::Loading, Flag::Stale]).acl(&["@slow"]).docs(
        "server",
        "4.0.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// Parsed MEMORY arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryArgs {
    /// MEMORY USAGE key (SAMPLES is checked, and means nothing for strings).
    Usage(Bytes),
    /// MEMORY HELP.
    Help,
}

/// The MEMORY container.
#[derive(Debug)]
pub struct Memory;

impl Cmd for Memory {
    type Args = MemoryArgs;
    const SPEC: Spec = Spec::new("memory", -2).acl(&["@slow"]).subcommands(SUBS).docs(
        "server",
        "4.0.0",
        "Depends on subcommand.",
        "A container for memory diagnostics commands",
    );

    fn parse(argv: &Argv, limits: &Limits) -> Result<MemoryArgs, ErrorReply> {
        if lower(argv, 1) != "usage" {
            return Ok(MemoryArgs::Help);
        }
        let mut i = 3;
        while i < argv.len() {
            if !(is(argv, i, "samples") && i + 1 < argv.len()) {
                return Err(syntax_error());
            }
            if int(argv, i + 1)? < 0 {
                return Err(syntax_error());
            }
            i += 2;
        }
        Ok(MemoryArgs::Usage(key(argv, 2, limits)?))
    }

    fn keys(args: &MemoryArgs) -> Keys<'_> {
        match args {
            MemoryArgs::Usage(k) => Keys::one(k),
            MemoryArgs::Help => Keys::none(),
        }
    }

    fn sub(args: &MemoryArgs) -> Option<&'static Spec> {
        SUBS.get(match args {
            MemoryArgs::Usage(_) => 0,
            MemoryArgs::Help => 1,
        })
    }

    fn route(args: &MemoryArgs) -> Route {
        Self::sub(args).map_or(Route::Connection, |s| s.route)
    }

    /// USAGE: what the key adds to `used_memory` (key and value bytes plus the per-key
    /// overhead), or nil for a key that is not live.
    fn apply(args: MemoryArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        match args {
            MemoryArgs::Usage(k) => {
                Ok(ctx.keyspace()?.inspect(&k).map_or(Reply::Nil, |i| Reply::count(i.footprint)))
            }
            MemoryArgs::Help => Ok(crate::cmd::conn::help::reply(HELP)),
        }
    }
}
