//! SLOWLOG GET [count] | LEN | RESET | HELP over [`crate::cmd::slowlog::SlowLog`].

use super::help;
use crate::cmd::args::{int, lower};
use crate::cmd::{Cmd, Ctx, Flag, Keys, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

const ADMIN: &[Flag] = &[Flag::Admin, Flag::Loading, Flag::Stale];
const ACL: &[&str] = &["@admin", "@slow", "@dangerous"];

const SUBS: &[Spec] = &[
    Spec::new("slowlog|get", -2)
        .flags(ADMIN)
        .acl(ACL)
        .tips(&["request_policy:all_nodes", "nondeterministic_output"])
        .docs(
            "server",
            "2.2.12",
            "O(N) where N is the number of entries returned",
            "Get the slow log's entries",
        ),
    Spec::new("slowlog|len", 2)
        .flags(ADMIN)
        .acl(ACL)
        .tips(&["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"])
        .docs("server", "2.2.12", "O(1)", "Get the slow log's length"),
    Spec::new("slowlog|reset", 2)
        .flags(ADMIN)
        .acl(ACL)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .docs(
            "server",
            "2.2.12",
            "O(N) where N is the number of entries in the slowlog",
            "Clear all entries from the slow log",
        ),
    Spec::new("slowlog|help", 2).flags(&[Flag::Loading, Flag::Stale]).acl(&["@slow"]).docs(
        "server",
        "6.2.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

/// Parsed SLOWLOG arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowlogArgs {
    /// SLOWLOG GET [count]: `None` is every entry (count -1).
    Get(Option<usize>),
    /// SLOWLOG LEN.
    Len,
    /// SLOWLOG RESET.
    Reset,
    /// SLOWLOG HELP.
    Help,
}

/// The SLOWLOG container.
#[derive(Debug)]
pub struct Slowlog;

/// How many entries SLOWLOG GET answers without a count (Redis's default).
pub const SLOWLOG_GET_DEFAULT: usize = 10;

impl Cmd for Slowlog {
    type Args = SlowlogArgs;
    const SPEC: Spec = Spec::new("slowlog", -2).acl(&["@slow"]).subcommands(SUBS).docs(
        "server",
        "2.2.12",
        "Depends on subcommand.",
        "A container for slow log commands",
    );

    fn parse(argv: &Argv, _: &Limits) -> Result<SlowlogArgs, ErrorReply> {
        Ok(match lower(argv, 1).as_str() {
            "get" if argv.len() > 3 => {
                let sub = String::from_utf8_lossy(&argv[1]);
                return Err(ErrorReply::invalid(format!(
                    "unknown subcommand or wrong number of arguments for '{sub}'. Try SLOWLOG HELP."
                )));
            }
            "get" if argv.len() == 2 => SlowlogArgs::Get(Some(SLOWLOG_GET_DEFAULT)),
            "get" => match int(argv, 2) {
                Ok(-1) => SlowlogArgs::Get(None),
                Ok(n) if n >= 0 => SlowlogArgs::Get(usize::try_from(n).ok()),
                _ => {
                    return Err(ErrorReply::invalid("count should be greater than or equal to -1"));
                }
            },
            "len" => SlowlogArgs::Len,
            "reset" => SlowlogArgs::Reset,
            _ => SlowlogArgs::Help,
        })
    }

    fn keys(_: &SlowlogArgs) -> Keys<'_> {
        Keys::none()
    }

    fn sub(args: &SlowlogArgs) -> Option<&'static Spec> {
        SUBS.get(match args {
            SlowlogArgs::Get(_) => 0,
            SlowlogArgs::Len => 1,
            SlowlogArgs::Reset => 2,
            SlowlogArgs::Help => 3,
        })
    }

    /// Entries are `[id, unix time, microseconds, [args...], "ip:port", name]`.
    fn apply(args: SlowlogArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let log = &ctx.services().slowlog;
        Ok(match args {
            SlowlogArgs::Get(n) => Reply::Array(
                log.newest(n)
                    .into_iter()
                    .map(|e| {
                        Reply::Array(vec![
                            Reply::Int(i64::try_from(e.id).unwrap_or(i64::MAX)),
                            Reply::Int(i64::try_from(e.at).unwrap_or(i64::MAX)),
                            Reply::Int(i64::try_from(e.micros).unwrap_or(i64::MAX)),
                            Reply::Array(e.argv.into_iter().map(Reply::Bulk).collect()),
                            Reply::text(&e.peer.to_string()),
                            Reply::Bulk(e.name),
                        ])
                    })
                    .collect(),
            ),
            SlowlogArgs::Len => Reply::count(log.len()),
            SlowlogArgs::Reset => {
                log.reset();
                Reply::Ok
            }
            SlowlogArgs::Help => help::reply(help::SLOWLOG),
        })
    }
}
