//! The small connection commands: PING, ECHO, QUIT, SELECT, TIME.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::cmd::args::{arg, db_index, db_zero, wrong_arity};
use crate::cmd::{Cmd, Ctx, Flag, Keys, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// PING [message]: PONG, or the message as a bulk string.
#[derive(Debug)]
pub struct Ping;

impl Cmd for Ping {
    type Args = Option<Bytes>;
    const SPEC: Spec = Spec::new("ping", -1)
        .flags(&[Flag::Fast])
        .acl(&["@fast", "@connection"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .docs("connection", "1.0.0", "O(1)", "Ping the server");

    fn parse(argv: &Argv, _: &Limits) -> Result<Option<Bytes>, ErrorReply> {
        if argv.len() > 2 {
            return Err(wrong_arity("ping"));
        }
        Ok(argv.bytes(1))
    }

    fn keys(_: &Option<Bytes>) -> Keys<'_> {
        Keys::none()
    }

    fn apply(msg: Option<Bytes>, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(msg.map_or(Reply::Simple("PONG"), Reply::Bulk))
    }
}

/// ECHO message.
#[derive(Debug)]
pub struct Echo;

impl Cmd for Echo {
    type Args = Bytes;
    const SPEC: Spec = Spec::new("echo", 2)
        .flags(&[Flag::Loading, Flag::Stale, Flag::Fast])
        .acl(&["@fast", "@connection"])
        .docs("connection", "1.0.0", "O(1)", "Echo the given string");

    fn parse(argv: &Argv, _: &Limits) -> Result<Bytes, ErrorReply> {
        Ok(arg(argv, 1))
    }

    fn keys(_: &Bytes) -> Keys<'_> {
        Keys::none()
    }

    fn apply(msg: Bytes, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::Bulk(msg))
    }
}

/// QUIT: OK, then the connection loop closes the connection.
#[derive(Debug)]
pub struct Quit;

impl Cmd for Quit {
    type Args = ();
    const SPEC: Spec = Spec::new("quit", -1)
        .flags(super::BEFORE_AUTH)
        .acl(&["@fast", "@connection"])
        .docs("connection", "1.0.0", "O(1)", "Close the connection");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::Ok)
    }
}

/// SELECT index: only database 0 exists.
#[derive(Debug)]
pub struct Select;

impl Cmd for Select {
    type Args = i64;
    const SPEC: Spec = Spec::new("select", 2)
        .flags(&[Flag::Loading, Flag::Stale, Flag::Fast])
        .acl(&["@fast", "@connection"])
        .docs(
            "connection",
            "1.0.0",
            "O(1)",
            "Change the selected database for the current connection",
        );

    /// The index must fit Redis's `int`.
    fn parse(argv: &Argv, _: &Limits) -> Result<i64, ErrorReply> {
        db_index(argv, 1)
    }

    fn keys(_: &i64) -> Keys<'_> {
        Keys::none()
    }

    fn apply(db: i64, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        db_zero(db).map(|()| Reply::Ok)
    }
}

/// TIME: Unix seconds and microseconds, as two bulk strings.
#[derive(Debug)]
pub struct Time;

impl Cmd for Time {
    type Args = ();
    const SPEC: Spec = Spec::new("time", 1)
        .flags(&[Flag::Loading, Flag::Stale, Flag::Fast])
        .acl(&["@fast"])
        .tips(&["nondeterministic_output"])
        .docs("server", "2.6.0", "O(1)", "Return the current server time");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = Reply::text(&now.as_secs().to_string());
        Ok(Reply::Array(vec![secs, Reply::text(&now.subsec_micros().to_string())]))
    }
}
