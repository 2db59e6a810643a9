//! COMMAND [COUNT | INFO | LIST | DOCS | GETKEYS | GETKEYSANDFLAGS | HELP], answered from
//! the declarations in the registry, so it is true for every command by construction.

use bytes::Bytes;

use super::command_info::{docs, getkeys, info, key_flags, resolve};
use super::help;
use crate::cmd::args::{lower, syntax_error};
use crate::cmd::{COMMANDS, Cmd, Ctx, Env, Flag, Keys, Spec, glob};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

const INTROSPECT: &[Flag] = &[Flag::Loading, Flag::Stale];
const ACL: &[&str] = &["@slow", "@connection"];

const fn sub(name: &'static str, arity: i32, summary: &'static str) -> Spec {
    Spec::new(name, arity).flags(INTROSPECT).acl(ACL).docs(
        "server",
        "2.8.13",
        "O(N) where N is the number of commands to look up",
        summary,
    )
}

const SUBS: &[Spec] = &[
    sub("command|count", 2, "Get total number of Redis commands"),
    sub(
        "command|info",
        -2,
        "Get array of specific Redis command details, or all when no argument is given.",
    )
    .tips(&["nondeterministic_output_order"]),
    sub("command|list", -2, "Get an array of Redis command names")
        .tips(&["nondeterministic_output_order"]),
    sub("command|docs", -2, "Get array of specific Redis command documentation")
        .tips(&["nondeterministic_output_order"]),
    sub("command|getkeys", -4, "Extract keys given a full Redis command"),
    sub("command|getkeysandflags", -4, "Extract keys and access flags given a full Redis command"),
    sub("command|help", 2, "Show helpful text about the different subcommands"),
];

/// COMMAND LIST's filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFilter {
    /// Every command and subcommand.
    All,
    /// FILTERBY MODULE: shale has no modules, so nothing.
    Module,
    /// FILTERBY ACLCAT category.
    AclCat(String),
    /// FILTERBY PATTERN glob.
    Pattern(Bytes),
}

/// Parsed COMMAND arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandArgs {
    /// COMMAND: every command's info.
    All,
    /// COMMAND COUNT.
    Count,
    /// COMMAND INFO [name ...].
    Info(Vec<Bytes>),
    /// COMMAND LIST [FILTERBY ...].
    List(ListFilter),
    /// COMMAND DOCS [name ...].
    Docs(Vec<Bytes>),
    /// COMMAND GETKEYS command args... (`flags`: GETKEYSANDFLAGS).
    GetKeys {
        /// The full command.
        argv: Vec<Bytes>,
        /// Also answer each key's flags.
        flags: bool,
    },
    /// COMMAND HELP.
    Help,
}

/// The COMMAND command.
#[derive(Debug)]
pub struct Commands;

impl Cmd for Commands {
    type Args = CommandArgs;
    const SPEC: Spec = Spec::new("command", -1)
        .flags(INTROSPECT)
        .acl(ACL)
        .tips(&["nondeterministic_output_order"])
        .subcommands(SUBS)
        .docs(
            "server",
            "2.8.13",
            "O(N) where N is the total number of Redis commands",
            "Get array of Redis command details",
        );

    fn parse(argv: &Argv, _: &Limits) -> Result<CommandArgs, ErrorReply> {
        if argv.len() == 1 {
            return Ok(CommandArgs::All);
        }
        let rest = argv.to_vec().split_off(2);
        Ok(match lower(argv, 1).as_str() {
            "count" => CommandArgs::Count,
            "info" => CommandArgs::Info(rest),
            "list" => CommandArgs::List(list_filter(&rest)?),
            "docs" => CommandArgs::Docs(rest),
            "getkeys" => CommandArgs::GetKeys { argv: rest, flags: false },
            "getkeysandflags" => CommandArgs::GetKeys { argv: rest, flags: true },
            _ => CommandArgs::Help,
        })
    }

    fn keys(_: &CommandArgs) -> Keys<'_> {
        Keys::none()
    }

    fn sub(args: &CommandArgs) -> Option<&'static Spec> {
        let i = match args {
            CommandArgs::All => return None,
            CommandArgs::Count => 0,
            CommandArgs::Info(_) => 1,
            CommandArgs::List(_) => 2,
            CommandArgs::Docs(_) => 3,
            CommandArgs::GetKeys { flags: false, .. } => 4,
            CommandArgs::GetKeys { flags: true, .. } => 5,
            CommandArgs::Help => 6,
        };
        SUBS.get(i)
    }

    fn apply(args: CommandArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let env = ctx.env;
        Ok(match args {
            CommandArgs::All => Reply::Array(supported(env).map(info).collect()),
            CommandArgs::Count => Reply::count(supported(env).count()),
            CommandArgs::Info(names) if names.is_empty() => {
                Reply::Array(supported(env).map(info).collect())
            }
            CommandArgs::Info(names) => {
                Reply::Array(names.iter().map(|n| find(env, n).map_or(Reply::Nil, info)).collect())
            }
            CommandArgs::List(filter) => list(env, &filter),
            CommandArgs::Docs(names) => {
                let specs: Vec<&Spec> = if names.is_empty() {
                    supported(env).collect()
                } else {
                    names.iter().filter_map(|n| find(env, n)).collect()
                };
                Reply::Map(specs.into_iter().map(|s| (Reply::text(s.name), docs(s))).collect())
            }
            CommandArgs::GetKeys { argv, flags } => {
                if resolve(&argv).is_some_and(|s| !env.supports(s)) {
                    return Err(ErrorReply::invalid("Invalid command specified"));
                }
                let keys = getkeys(&argv)?.into_iter();
                match flags {
                    false => Reply::Array(keys.map(|(k, _)| Reply::Bulk(k)).collect()),
                    true => Reply::Array(
                        keys.map(|(k, f)| Reply::Array(vec![Reply::Bulk(k), key_flags(f)]))
                            .collect(),
                    ),
                }
            }
            CommandArgs::Help => help::reply(help::COMMAND),
        })
    }
}

/// The top-level commands this process runs.
fn supported(env: &dyn Env) -> impl Iterator<Item = &'static Spec> + '_ {
    COMMANDS.iter().map(|e| e.spec).filter(|s| env.supports(s))
}

/// A command or `container|sub` by name, if this process runs it.
fn find(env: &dyn Env, name: &[u8]) -> Option<&'static Spec> {
    let parts: Vec<Bytes> = name.split(|&b| b == b'|').map(Bytes::copy_from_slice).collect();
    let spec = resolve(&parts)?;
    let whole = parts.len() == 1 || spec.name.as_bytes().eq_ignore_ascii_case(name);
    (whole && env.supports(spec)).then_some(spec)
}

fn list_filter(opts: &[Bytes]) -> Result<ListFilter, ErrorReply> {
    match opts {
        [] => Ok(ListFilter::All),
        [f, kind, value] if f.eq_ignore_ascii_case(b"filterby") => {
            match String::from_utf8_lossy(kind).to_ascii_lowercase().as_str() {
                "module" => Ok(ListFilter::Module),
                "aclcat" => Ok(ListFilter::AclCat(format!(
                    "@{}",
                    String::from_utf8_lossy(value).to_ascii_lowercase()
                ))),
                "pattern" => Ok(ListFilter::Pattern(value.clone())),
                _ => Err(syntax_error()),
            }
        }
        _ => Err(syntax_error()),
    }
}

fn list(env: &dyn Env, filter: &ListFilter) -> Reply {
    let all = supported(env).flat_map(|s| std::iter::once(s).chain(s.subcommands.iter()));
    let keep = |s: &&Spec| match filter {
        ListFilter::All => true,
        ListFilter::Module => false,
        ListFilter::AclCat(cat) => s.acl.contains(&cat.as_str()),
        ListFilter::Pattern(p) => glob::matches(p, s.name.as_bytes(), true),
    };
    Reply::Array(all.filter(keep).map(|s| Reply::text(s.name)).collect())
}
