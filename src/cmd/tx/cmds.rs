//! MULTI, EXEC, DISCARD, WATCH and UNWATCH (see the module docs of [`super`]).

use bytes::Bytes;

use super::{Queued, Transaction, exec_abort};
use crate::cmd::args::keys_from;
use crate::cmd::{Cmd, Command, Ctx, Flag, KeyFlag, KeySpec, Keys, Route, Spec, execute};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Limits, Reply};

/// The flags Redis gives MULTI, DISCARD, WATCH and UNWATCH.
const TX_FLAGS: &[Flag] =
    &[Flag::NoScript, Flag::Loading, Flag::Stale, Flag::Fast, Flag::AllowBusy];

/// A transaction runs on one node; a router queues it and runs it on one shard's
/// coordinator (`router/tx.rs`).
const TX_ROUTE: Route = Route::Transaction;

/// MONITOR's answer inside EXEC, as Redis's (a transaction cannot block).
const MONITOR_IN_EXEC: &str = "MONITOR isn't allowed for DENY BLOCKING client";

/// MULTI: the connection queues its next commands until EXEC or DISCARD.
#[derive(Debug)]
pub struct Multi;

impl Cmd for Multi {
    type Args = ();
    const SPEC: Spec = Spec::new("multi", 1)
        .flags(TX_FLAGS)
        .acl(&["@fast", "@transaction"])
        .route(TX_ROUTE)
        .docs("transactions", "1.2.0", "O(1)", "Mark the start of a transaction block");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        let tx = &mut ctx.session.tx;
        if tx.in_multi() {
            return Err(ErrorReply::invalid("MULTI calls can not be nested"));
        }
        tx.queue = Some(Vec::new());
        Ok(Reply::Ok)
    }
}

/// EXEC: runs the queued commands atomically, or aborts.
#[derive(Debug)]
pub struct Exec;

impl Cmd for Exec {
    type Args = ();
    const SPEC: Spec = Spec::new("exec", 1)
        .flags(&[Flag::NoScript, Flag::Loading, Flag::Stale, Flag::SkipSlowlog])
        .acl(&["@slow", "@transaction"])
        .route(TX_ROUTE)
        .docs(
            "transactions",
            "1.2.0",
            "Depends on commands in the transaction",
            "Execute all commands issued after MULTI",
        );

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    /// The queued commands' replies in order; a null array if a watched key changed;
    /// EXECABORT if a command failed to queue. The connection leaves MULTI and forgets its
    /// watched keys in every case.
    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        if !ctx.session.tx.in_multi() {
            return Err(ErrorReply::invalid("EXEC without MULTI"));
        }
        let tx = std::mem::take(&mut ctx.session.tx);
        if tx.failed {
            return Err(exec_abort());
        }
        let ks = ctx.keyspace()?;
        let Transaction { queue, watched, .. } = tx;
        let mut queue = queue.unwrap_or_default();
        let mut replies = None;
        ks.exclusive(&mut |view| {
            if watched.iter().any(|(key, mark)| view.watch(key).changed_since(*mark)) {
                return;
            }
            let mut inner = Ctx::new(&mut *ctx.session, ctx.env, Some(view));
            replies = Some(queue.drain(..).map(|q| run_queued(q, &mut inner)).collect());
        });
        Ok(replies.map_or(Reply::NilArray, Reply::Array))
    }
}

/// Runs one queued entry inside EXEC.
fn run_queued(entry: Queued, ctx: &mut Ctx<'_>) -> Reply {
    match entry {
        Queued::Failed(e) => Reply::Error(e),
        Queued::Run(Command::Monitor(_)) => Reply::Error(ErrorReply::invalid(MONITOR_IN_EXEC)),
        Queued::Run(command) => execute(command, ctx),
    }
}

/// DISCARD: drops the queue and the watched keys.
#[derive(Debug)]
pub struct Discard;

impl Cmd for Discard {
    type Args = ();
    const SPEC: Spec = Spec::new("discard", 1)
        .flags(TX_FLAGS)
        .acl(&["@fast", "@transaction"])
        .route(TX_ROUTE)
        .docs(
            "transactions",
            "2.0.0",
            "O(N), when N is the number of queued commands",
            "Discard all commands issued after MULTI",
        );

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        if !ctx.session.tx.in_multi() {
            return Err(ErrorReply::invalid("DISCARD without MULTI"));
        }
        ctx.session.tx.clear();
        Ok(Reply::Ok)
    }
}

/// WATCH key [key ...]: EXEC aborts if any of them changes before it.
#[derive(Debug)]
pub struct Watch;

impl Cmd for Watch {
    type Args = Vec<Bytes>;
    const SPEC: Spec = Spec::new("watch", -2)
        .flags(TX_FLAGS)
        .acl(&["@fast", "@transaction"])
        .keys(&[KeySpec::range(1, -1, 1, &[KeyFlag::Ro])])
        .route(TX_ROUTE)
        .docs(
            "transactions",
            "2.2.0",
            "O(1) for every key.",
            "Watch the given keys to determine execution of the MULTI/EXEC block",
        );

    fn parse(argv: &Argv, limits: &Limits) -> Result<Vec<Bytes>, ErrorReply> {
        keys_from(argv, 1, limits)
    }

    fn keys(keys: &Vec<Bytes>) -> Keys<'_> {
        Keys::slice(keys)
    }

    /// A key watched again is simply watched twice: its first mark still sees every change
    /// since then, as Redis's single watch of it does.
    fn apply(keys: Vec<Bytes>, ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        ctx.session.tx.may_watch(0)?;
        let ks = ctx.keyspace()?;
        for key in keys {
            ctx.session.tx.may_watch(1)?;
            let mark = ks.watch(&key);
            ctx.session.tx.watched.push((key, mark));
        }
        Ok(Reply::Ok)
    }
}

/// UNWATCH: forgets the watched keys.
#[derive(Debug)]
pub struct Unwatch;

impl Cmd for Unwatch {
    type Args = ();
    const SPEC: Spec = Spec::new("unwatch", 1)
        .flags(TX_FLAGS)
        .acl(&["@fast", "@transaction"])
        .route(TX_ROUTE)
        .docs("transactions", "2.2.0", "O(1)", "Forget about all watched keys");

    fn parse(_: &Argv, _: &Limits) -> Result<(), ErrorReply> {
        Ok(())
    }

    fn keys(_: &()) -> Keys<'_> {
        Keys::none()
    }

    fn apply(_: (), ctx: &mut Ctx<'_>) -> Result<Reply, ErrorReply> {
        ctx.session.tx.unwatch();
        Ok(Reply::Ok)
    }
}
