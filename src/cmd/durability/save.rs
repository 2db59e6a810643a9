//! LASTSAVE, SAVE and BGSAVE [SCHEDULE].

use std::time::{SystemTime, UNIX_EPOCH};

use crate::cmd::args::{is, syntax_error};
use crate::cmd::{Cmd, Ctx, Env, Flag, Keys, Spec};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// SAVE's and BGSAVE's answer.
pub const NO_PERSISTENCE: &str =
    "shale keeps no data on disk (save \"\" and appendonly no are fixed): there is nothing to save";

/// When the process started serving, in Unix seconds: Redis's last save time for a server
/// that never saved (LASTSAVE, INFO's `rdb_last_save_time`).
pub fn started_unix_secs(env: &dyn Env) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    now.saturating_sub(env.started().elapsed()).as_secs()
}

/// LASTSAVE: the start time, as Redis answers before its first save.
#[derive(Debug)]
pub struct LastSave;

impl Cmd for LastSave {
    type Args = ();
    const SPEC: Spec = Spec::new("lastsave", 1)
        .flags(&[Flag::Loading, Flag::Stale, Flag::Fast])
        .acl(&["@admin", "@fast", "@dangerous"])
        .tips(&["nondeterministic_output"])
        .docs(
            "server",
            "1.0.0",
            "O(1)",
            "Get the UNIX time stamp of the last successful save to disk",
        );

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Ok(Reply::Int(i64::try_from(started_unix_secs(ctx.env)).unwrap_or(i64::MAX)))
    }
}

/// SAVE: refused, there is no disk to save to.
#[derive(Debug)]
pub struct Save;

impl Cmd for Save {
    type Args = ();
    const SPEC: Spec = Spec::new("save", 1)
        .flags(&[Flag::Admin, Flag::NoScript, Flag::NoAsyncLoading, Flag::NoMulti])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs(
            "server",
            "1.0.0",
            "O(N) where N is the total number of keys in all databases",
            "Synchronously save the dataset to disk",
        );

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(ErrorReply::invalid(NO_PERSISTENCE))
    }
}

/// BGSAVE [SCHEDULE]: refused, there is no disk to save to.
#[derive(Debug)]
pub struct BgSave;

impl Cmd for BgSave {
    /// Whether SCHEDULE was given.
    type Args = bool;
    const SPEC: Spec = Spec::new("bgsave", -1)
        .flags(&[Flag::Admin, Flag::NoScript, Flag::NoAsyncLoading])
        .acl(&["@admin", "@slow", "@dangerous"])
        .docs("server", "1.0.0", "O(1)", "Asynchronously save the dataset to disk");

    fn parse(argv: &Argv, _: &Limits) -> Result<bool, ErrorReply> {
        match argv.len() {
            1 => Ok(false),
            2 if is(argv, 1, "schedule") => Ok(true),
            _ => Err(syntax_error()),
        }
    }

    fn keys(_: &bool) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: bool, _: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        Err(ErrorReply::invalid(NO_PERSISTENCE))
    }
}
