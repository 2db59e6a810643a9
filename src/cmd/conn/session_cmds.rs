//! Commands that change the connection itself: RESET and MONITOR.

use crate::cmd::session::ReplyMode;
use crate::cmd::{Cmd, Ctx, Flag, Keys, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// RESET: back to a fresh connection's state (RESP2, no name, replies on, out of MONITOR,
/// unauthenticated again when a password is set).
#[derive(Debug)]
pub struct Reset;

impl Cmd for Reset {
    type Args = ();
    const SPEC: Spec = Spec::new("reset", 1)
        .flags(super::BEFORE_AUTH)
        .acl(&["@fast", "@connection"])
        .docs("connection", "6.2.0", "O(1)", "Reset the connection");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let s = &mut *ctx.session;
        s.set_resp3(false);
        s.set_name(None);
        s.reply = ReplyMode::On;
        s.monitor = false;
        s.client.update(|c| c.monitor = false);
        s.authenticated = !ctx.env.requires_auth();
        s.tx.clear();
        Ok(Reply::Simple("RESET"))
    }
}

/// MONITOR: OK, then the connection streams every command the process runs.
#[derive(Debug)]
pub struct Monitor;

impl Cmd for Monitor {
    type Args = ();
    const SPEC: Spec = Spec::new("monitor", 1)
        .flags(&[Flag::Admin, Flag::NoScript, Flag::Loading, Flag::Stale])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs("server", "1.0.0", "", "Listen for all requests received by the server in real time");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    /// Lines have no binary frame to travel in, so binary connections are refused.
    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        if ctx.session.binary {
            return Err(ErrorReply::invalid("MONITOR needs a Redis text connection"));
        }
        ctx.session.monitor = true;
        ctx.session.client.update(|c| c.monitor = true);
        Ok(Reply::Ok)
    }
}
