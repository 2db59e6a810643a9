//! CONFIG GET | SET | RESETSTAT | HELP over the process's [`crate::cmd::config::Config`].

use bytes::Bytes;

use super::help;
use crate::cmd::args::{lower, wrong_arity};
use crate::cmd::{Cmd, Ctx, Flag, Keys, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

const ADMIN: &[Flag] = &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale];
const ACL: &[&str] = &["@admin", "@slow", "@dangerous"];

const SUBS: &[Spec] = &[
    Spec::new("config|get", -3).flags(ADMIN).acl(ACL).docs(
        "server",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Get the values of configuration parameters",
    ),
    Spec::new("config|set", -4)
        .flags(ADMIN)
        .acl(ACL)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .docs(
            "server",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
            "Set configuration parameters on the fly",
        ),
    Spec::new("config|resetstat", 2).flags(ADMIN).acl(ACL).docs(
        "server",
        "2.0.0",
        "O(1)",
        "Reset the stats returned by INFO",
    ),
    Spec::new("config|help", 2).flags(&[Flag::Loading, Flag::Stale]).acl(&["@slow"]).docs(
        "server",
        "5.0.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

/// Parsed CONFIG arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigArgs {
    /// CONFIG GET pattern [pattern ...].
    Get(Vec<Bytes>),
    /// CONFIG SET name value [name value ...].
    Set(Vec<(Bytes, Bytes)>),
    /// CONFIG RESETSTAT.
    ResetStat,
    /// CONFIG HELP.
    Help,
}

/// The CONFIG container.
#[derive(Debug)]
pub struct Config;

impl Cmd for Config {
    type Args = ConfigArgs;
    const SPEC: Spec = Spec::new("config", -2).acl(&["@slow"]).subcommands(SUBS).docs(
        "server",
        "2.0.0",
        "Depends on subcommand.",
        "A container for server configuration commands",
    );

    fn parse(argv: &Argv, _: &Limits) -> Result<ConfigArgs, ErrorReply> {
        let rest = || argv.to_vec().split_off(2);
        Ok(match lower(argv, 1).as_str() {
            "get" => ConfigArgs::Get(rest()),
            "set" if argv.len() % 2 == 1 => return Err(wrong_arity("config|set")),
            "set" => ConfigArgs::Set(
                rest().chunks_exact(2).map(|p| (p[0].clone(), p[1].clone())).collect(),
            ),
            "resetstat" => ConfigArgs::ResetStat,
            _ => ConfigArgs::Help,
        })
    }

    fn keys(_: &ConfigArgs) -> Keys<'_> {
        Keys::none()
    }

    fn sub(args: &ConfigArgs) -> Option<&'static Spec> {
        SUBS.get(match args {
            ConfigArgs::Get(_) => 0,
            ConfigArgs::Set(_) => 1,
            ConfigArgs::ResetStat => 2,
            ConfigArgs::Help => 3,
        })
    }

    /// CONFIG GET answers a map under RESP3 (a flat array under RESP2), as Redis 7 does.
    fn apply(args: ConfigArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(match args {
            ConfigArgs::Get(patterns) => {
                let pairs = ctx.env.config().get(&patterns);
                Reply::Map(
                    pairs.into_iter().map(|(k, v)| (Reply::text(k), Reply::text(&v))).collect(),
                )
            }
            ConfigArgs::Set(pairs) => {
                ctx.env.config().set(&pairs)?;
                Reply::Ok
            }
            ConfigArgs::ResetStat => {
                ctx.env.reset_stats();
                Reply::Ok
            }
            ConfigArgs::Help => help::reply(help::CONFIG),
        })
    }
}
