//! CLIENT ID | INFO | LIST | SETNAME | GETNAME | KILL | REPLY | SETINFO | HELP.

use std::time::Instant;

use bytes::Bytes;

use super::auth::check_name;
use super::help;
use crate::cmd::args::{arg, is, lower, syntax_error};
use crate::cmd::clients::{Filter, line};
use crate::cmd::session::ReplyMode;
use crate::cmd::{Cmd, Ctx, Flag, Keys, Spec};
use crate::protocol::text::{Argv, parse_i64};
use crate::protocol::{ErrorReply, Limits, Reply};

const CONN: &[Flag] = &[Flag::NoScript, Flag::Loading, Flag::Stale];
const ADMIN: &[Flag] = &[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale];
const ACL: &[&str] = &["@slow", "@connection"];
const ACL_ADMIN: &[&str] = &["@admin", "@slow", "@dangerous", "@connection"];

const fn sub(name: &'static str, arity: i32, admin: bool, summary: &'static str) -> Spec {
    let (flags, acl) = if admin { (ADMIN, ACL_ADMIN) } else { (CONN, ACL) };
    Spec::new(name, arity).flags(flags).acl(acl).docs("connection", "2.4.0", "O(1)", summary)
}

const SUBS: &[Spec] = &[
    sub("client|id", 2, false, "Returns the client ID for the current connection"),
    sub("client|info", 2, false, "Returns information about the current client connection.")
        .tips(&["nondeterministic_output"]),
    sub("client|list", -2, true, "Get the list of client connections")
        .tips(&["nondeterministic_output"]),
    sub("client|setname", 3, false, "Set the current connection name"),
    sub("client|getname", 2, false, "Get the current connection name"),
    sub("client|kill", -3, true, "Kill the connection of a client"),
    sub("client|reply", 3, false, "Instruct the server whether to reply to commands"),
    sub("client|setinfo", 4, false, "Set client or connection specific info"),
    sub("client|help", 2, false, "Show helpful text about the different subcommands")
        .flags(&[Flag::Loading, Flag::Stale]),
];

/// Parsed CLIENT arguments, one variant per subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientArgs {
    /// CLIENT ID.
    Id,
    /// CLIENT INFO.
    Info,
    /// CLIENT LIST [TYPE type | ID id ...].
    List(Box<Filter>),
    /// CLIENT SETNAME name (empty clears it).
    SetName(Bytes),
    /// CLIENT GETNAME.
    GetName,
    /// CLIENT KILL, in the old `ip:port` form (`old`) or with options.
    Kill {
        /// Which connections.
        filter: Box<Filter>,
        /// `CLIENT KILL ip:port`: answers OK or an error instead of a count.
        old: bool,
    },
    /// CLIENT REPLY ON | OFF | SKIP.
    Reply(ReplyMode),
    /// CLIENT SETINFO LIB-NAME | LIB-VER value.
    SetInfo {
        /// LIB-NAME (`true`) or LIB-VER.
        lib_name: bool,
        /// The value.
        value: Bytes,
    },
    /// CLIENT HELP.
    Help,
}

/// The CLIENT container.
#[derive(Debug)]
pub struct Client;

impl Cmd for Client {
    type Args = ClientArgs;
    const SPEC: Spec = Spec::new("client", -2).acl(&["@slow"]).subcommands(SUBS).docs(
        "connection",
        "2.4.0",
        "Depends on subcommand.",
        "A container for client connection commands",
    );

    fn parse(argv: &Argv, _: &Limits) -> Result<ClientArgs, ErrorReply> {
        Ok(match lower(argv, 1).as_str() {
            "id" => ClientArgs::Id,
            "info" => ClientArgs::Info,
            "list" => ClientArgs::List(Box::new(list_filter(&argv.to_vec()[2..])?)),
            "setname" => {
                check_name(&argv[2], "Client names")?;
                ClientArgs::SetName(arg(argv, 2))
            }
            "getname" => ClientArgs::GetName,
            "kill" if argv.len() == 3 => {
                let addr = String::from_utf8_lossy(&argv[2]).into_owned();
                let filter = Box::new(Filter { addr: Some(addr), ..Filter::default() });
                ClientArgs::Kill { filter, old: true }
            }
            "kill" => {
                ClientArgs::Kill { filter: Box::new(kill_filter(&argv.to_vec()[2..])?), old: false }
            }
            "reply" if is(argv, 2, "on") => ClientArgs::Reply(ReplyMode::On),
            "reply" if is(argv, 2, "off") => ClientArgs::Reply(ReplyMode::Off),
            "reply" if is(argv, 2, "skip") => ClientArgs::Reply(ReplyMode::Skip),
            "setinfo" => setinfo(argv)?,
            "help" => ClientArgs::Help,
            _ => return Err(syntax_error()),
        })
    }

    fn keys(_: &ClientArgs) -> Keys<'_> {
        Keys::none()
    }

    fn sub(args: &ClientArgs) -> Option<&'static Spec> {
        let i = match args {
            ClientArgs::Id => 0,
            ClientArgs::Info => 1,
            ClientArgs::List(_) => 2,
            ClientArgs::SetName(_) => 3,
            ClientArgs::GetName => 4,
            ClientArgs::Kill { .. } => 5,
            ClientArgs::Reply(_) => 6,
            ClientArgs::SetInfo { .. } => 7,
            ClientArgs::Help => 8,
        };
        SUBS.get(i)
    }

    fn apply(args: ClientArgs, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let s = &mut *ctx.session;
        Ok(match args {
            ClientArgs::Id => Reply::Int(i64::try_from(s.id).unwrap_or(i64::MAX)),
            ClientArgs::Info => Reply::Verbatim(
                format!("{}\n", line(&s.client, Instant::now(), Some("client|info"))).into(),
            ),
            ClientArgs::List(filter) => list(ctx, &filter),
            ClientArgs::SetName(name) => {
                s.set_name((!name.is_empty()).then_some(name));
                Reply::Ok
            }
            ClientArgs::GetName => s.name().map_or(Reply::Nil, Reply::Bulk),
            ClientArgs::Kill { mut filter, old } => {
                if !old && filter.skip.is_none() {
                    filter.skip = Some(s.id);
                }
                // SKIPME no was parsed as skip = 0, which no connection has.
                let n = ctx.services().clients.kill(&filter);
                match (old, n) {
                    (true, 0) => return Err(ErrorReply::invalid("No such client")),
                    (true, _) => Reply::Ok,
                    (false, n) => Reply::count(n),
                }
            }
            ClientArgs::Reply(_) if s.binary => {
                return Err(ErrorReply::invalid("CLIENT REPLY needs a Redis text connection"));
            }
            ClientArgs::Reply(mode) => {
                s.reply = mode;
                Reply::Ok
            }
            ClientArgs::SetInfo { lib_name, value } => {
                let value = (!value.is_empty()).then_some(value);
                s.client.update(|c| if lib_name { c.lib_name = value } else { c.lib_ver = value });
                Reply::Ok
            }
            ClientArgs::Help => help::reply(help::CLIENT),
        })
    }
}

fn list(ctx: &Ctx<'_>, filter: &Filter) -> Reply {
    let now = Instant::now();
    let me = ctx.session.id;
    let mut out = String::new();
    for c in ctx.services().clients.select(filter) {
        out.push_str(&line(&c, now, (c.id == me).then_some("client|list")));
        out.push('\n');
    }
    Reply::Verbatim(out.into())
}

fn client_type(t: &[u8]) -> Result<bool, ErrorReply> {
    match String::from_utf8_lossy(t).to_ascii_lowercase().as_str() {
        "normal" => Ok(true),
        "master" | "slave" | "replica" | "pubsub" => Ok(false),
        other => Err(ErrorReply::invalid(format!("Unknown client type '{other}'"))),
    }
}

/// `TYPE type` or `ID id [id ...]`.
fn list_filter(opts: &[Bytes]) -> Result<Filter, ErrorReply> {
    let mut f = Filter::default();
    match opts {
        [] => {}
        [t, ty] if t.eq_ignore_ascii_case(b"type") => f.normal = Some(client_type(ty)?),
        [t, ids @ ..] if t.eq_ignore_ascii_case(b"id") && !ids.is_empty() => {
            let id =
                |b: &Bytes| parse_i64(b).and_then(|n| u64::try_from(n).ok()).filter(|&n| n > 0);
            let ids = ids.iter().map(id).collect::<Option<Vec<_>>>();
            f.ids = Some(ids.ok_or_else(|| ErrorReply::invalid("Invalid client ID"))?);
        }
        _ => return Err(syntax_error()),
    }
    Ok(f)
}

/// `option value` pairs of the new CLIENT KILL form. SKIPME NO becomes `skip = Some(0)`,
/// which matches no connection (ids start at 1).
fn kill_filter(opts: &[Bytes]) -> Result<Filter, ErrorReply> {
    if opts.len() % 2 != 0 {
        return Err(syntax_error());
    }
    let mut f = Filter::default();
    for pair in opts.chunks_exact(2) {
        let text = || String::from_utf8_lossy(&pair[1]).into_owned();
        match String::from_utf8_lossy(&pair[0]).to_ascii_lowercase().as_str() {
            "id" => {
                let id = parse_i64(&pair[1]).and_then(|n| u64::try_from(n).ok()).filter(|&n| n > 0);
                let id =
                    id.ok_or_else(|| ErrorReply::invalid("client-id should be greater than 0"))?;
                f.ids = Some(vec![id]);
            }
            "type" => f.normal = Some(client_type(&pair[1])?),
            "user" => f.user = Some(text()),
            "addr" => f.addr = Some(text()),
            "laddr" => f.laddr = Some(text()),
            "skipme" if pair[1].eq_ignore_ascii_case(b"yes") => f.skip = None,
            "skipme" if pair[1].eq_ignore_ascii_case(b"no") => f.skip = Some(0),
            _ => return Err(syntax_error()),
        }
    }
    Ok(f)
}

fn setinfo(argv: &Argv) -> Result<ClientArgs, ErrorReply> {
    let (attr, value) = (lower(argv, 2), arg(argv, 3));
    let lib_name = match attr.as_str() {
        "lib-name" => true,
        "lib-ver" => false,
        _ => {
            let shown = String::from_utf8_lossy(&argv[2]);
            return Err(ErrorReply::invalid(format!("Unrecognized option '{shown}'")));
        }
    };
    check_name(&value, &attr)?;
    Ok(ClientArgs::SetInfo { lib_name, value })
}
