//! MULTI/EXEC through the router. The router queues a transaction's commands on the
//! client's connection as a server does (`cmd::tx`), keeping each one's arguments; at EXEC
//! it checks that every key of the queue hashes to one shard (otherwise CROSSSHARD, and
//! nothing runs) and sends the whole queue as one TXEXEC to that shard's coordinator, the
//! read-modify-write path: the coordinator runs it atomically (every stripe held) and the
//! router writes the resulting state of each key to the other replicas.
//!
//! WATCH asks the keys' shard coordinator for their marks (TXWATCH, an RMW request, in
//! order with the connection's other requests on the keys) and keeps its answer on the
//! connection; EXEC hands the marks back in TXEXEC, whose coordinator compares them under
//! its locks. EXEC answers a null array, running nothing, when a watched key changed, when
//! the coordinator that runs it is not the one that made the marks (a handover, a restart),
//! and when a WATCH failed (its client got the error; running unguarded could lose an
//! update). Watched and queued keys must share one shard, else CROSSSHARD. A transaction
//! whose commands have no keys (PING, ECHO, ...) and that watched nothing runs them on the
//! router; a keyless data command (DBSIZE, FLUSHALL, ...) inside one answers an error in its
//! place.

use std::future::ready;
use std::ops::ControlFlow;

use bytes::Bytes;
use futures_util::FutureExt;

use super::Router;
use super::handler::ReplyFuture;
use super::split::one_shard;
use crate::cmd::tx::{
    Queued, RemoteWatch, TxExecArgs, Watched, distinct_keys, exec_abort, intercept, txexec_argv,
};
use crate::cmd::{self, Command, Ctx, Route};
use crate::net::Session;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Reply, Status};
use crate::store::WatchMark;

impl Router {
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
    pub(super) fn transaction(&self, session: &mut Session, command: Command) -> ReplyFuture {
        match command {
            Command::Exec(()) => self.exec(session),
            Command::Watch(keys) => self.watch(session, keys),
            other => {
                let mut ctx = Ctx::new(session, &*self.inner, None);
                Box::pin(ready(cmd::execute(other, &mut ctx)))
            }
        }
    }

    /// A command inside MULTI: queued with its arguments (`+QUEUED`), refused, or run now
    /// (QUIT, RESET, ...).
    pub(super) fn in_multi(
        &self,
        session: &mut Session,
        command: Command,
        argv: Option<&Argv>,
    ) -> ControlFlow<ReplyFuture, Command> {
        let Some(argv) = argv else {
            session.tx.fail();
            let msg = "inside MULTI a router takes commands as Redis text or CMD";
            return ControlFlow::Break(Box::pin(ready(Reply::error(Status::InvalidArgument, msg))));
        };
        let before = session.tx.queued().len();
        match intercept(command, &mut session.tx) {
            ControlFlow::Break(reply) => {
                if session.tx.queued().len() > before {
                    session.tx.keep_argv(argv.clone());
                }
                ControlFlow::Break(Box::pin(ready(reply)))
            }
            ControlFlow::Continue(command) => ControlFlow::Continue(command),
        }
    }

    /// WATCH: the marks of `keys` from their shard's coordinator, kept for EXEC.
    fn watch(&self, session: &mut Session, keys: Vec<Bytes>) -> ReplyFuture {
        let checked = session.tx.may_watch(keys.len());
        let checked =
            checked.and_then(|()| one_shard(self.inner.topology.load().map(), keys.iter()));
        if let Err(e) = checked {
            return Box::pin(ready(Reply::Error(e)));
        }
        let words = std::iter::once(Bytes::from_static(b"TXWATCH")).chain(keys.iter().cloned());
        let argv: Argv = words.collect::<Vec<_>>().into();
        let answer = self.forward(session, Command::TxWatch(keys.clone()), Some(&argv)).shared();
        session.tx.watch_remote(RemoteWatch { keys, answer: answer.clone() });
        Box::pin(async move {
            match answer.await {
                Reply::Error(e) => Reply::Error(e),
                _ => Reply::Ok,
            }
        })
    }

    /// A read while the connection watches keys: run on the shard's coordinator, whose
    /// store the marks are of and EXEC runs on. Another replica may still lack an outcome
    /// the marks already include, and a value read there would be written back stale by a
    /// transaction EXEC then lets through.
    pub(super) fn watched_read(
        &self,
        session: &mut Session,
        command: Command,
        argv: Option<&Argv>,
    ) -> ReplyFuture {
        let Some(argv) = argv.cloned() else {
            let msg = "while keys are watched a router takes reads as Redis text or CMD";
            return Box::pin(ready(Reply::error(Status::InvalidArgument, msg)));
        };
        let keys: Vec<Bytes> = command.keys().cloned().collect();
        self.in_order(session, keys, false, |router| async move {
            router.coordinated_read(command, argv).await
        })
    }

    /// EXEC: the queue (and the watched marks) as one TXEXEC on its shard's coordinator.
    fn exec(&self, session: &mut Session) -> ReplyFuture {
        let watches = session.tx.take_remote();
        let Some((failed, queue, argvs)) = session.tx.finish() else {
            return Box::pin(ready(Reply::Error(ErrorReply::invalid("EXEC without MULTI"))));
        };
        if failed {
            return Box::pin(ready(Reply::Error(exec_abort())));
        }
        let commands: Vec<Command> = queue
            .iter()
            .filter_map(|entry| match entry {
                Queued::Run(c) => Some(c.clone()),
                Queued::Failed(_) => None,
            })
            .collect();
        let watched_keys = watches.iter().flat_map(|w| w.keys.iter());
        let keys = distinct_keys(commands.iter().flat_map(Command::keys).chain(watched_keys));
        if keys.is_empty() {
            return Box::pin(ready(self.keyless(session, queue)));
        }
        if !self.is_ready() {
            return Box::pin(ready(self.no_map()));
        }
        if let Err(e) = one_shard(self.inner.topology.load().map(), keys.iter()) {
            return Box::pin(ready(Reply::Error(e)));
        }
        self.in_order(session, keys, true, |router| async move {
            let watched = match marks(watches).await {
                Ok(watched) => watched,
                Err(()) => return Reply::NilArray,
            };
            let argv = txexec_argv(&argvs, watched.as_ref());
            let args = TxExecArgs::new(commands, watched.map(Box::new));
            interleave(queue, router.data(Command::TxExec(args), Some(argv)).await)
        })
    }

    /// A transaction without keys: its connection commands run here, in order.
    fn keyless(&self, session: &mut Session, queue: Vec<Queued>) -> Reply {
        let mut ctx = Ctx::new(session, &*self.inner, None);
        let replies = queue.into_iter().map(|entry| match entry {
            Queued::Failed(e) => Reply::Error(e),
            Queued::Run(c) if c.route() == Route::Connection => cmd::execute(c, &mut ctx),
            Queued::Run(c) => {
                let msg = format!("'{}' inside a transaction through the router", c.name());
                Reply::Error(ErrorReply::invalid(format!("{msg} needs keys of one shard")))
            }
        });
        Reply::Array(replies.collect())
    }
}

/// EXEC's array: the coordinator's replies for the queued commands, with each command that
/// failed to parse answering its error in its place. An error instead of an array (the
/// shard unavailable, ...) is EXEC's answer.
fn interleave(queue: Vec<Queued>, reply: Reply) -> Reply {
    let ran = match reply {
        Reply::Array(ran) => ran,
        // A null array (a watched key changed) came back through RESP3's one null.
        Reply::Nil | Reply::NilArray => return Reply::NilArray,
        other => return other,
    };
    let mut ran = ran.into_iter();
    let replies = queue.into_iter().map(|entry| match entry {
        Queued::Failed(e) => Reply::Error(e),
        Queued::Run(_) => ran.next().unwrap_or(Reply::Nil),
    });
    Reply::Array(replies.collect())
}

/// The marks of every watch, under one coordinator token; `Err` if a watch failed or the
/// marks came from different coordinatorships (the transaction then aborts).
async fn marks(watches: Vec<RemoteWatch>) -> Result<Option<Watched>, ()> {
    let mut watched: Option<Watched> = None;
    for w in watches {
        let Reply::Array(answer) = w.answer.await else { return Err(()) };
        let mut answer = answer.into_iter();
        let Some(Reply::Bulk(token)) = answer.next() else { return Err(()) };
        if answer.len() != w.keys.len() {
            return Err(());
        }
        let all = watched.get_or_insert_with(|| Watched { token: token.clone(), marks: vec![] });
        if all.token != token {
            return Err(());
        }
        for (key, mark) in w.keys.into_iter().zip(answer) {
            let Reply::Bulk(text) = mark else { return Err(()) };
            all.marks.push((key, WatchMark::from_text(&text).ok_or(())?));
        }
    }
    Ok(watched)
}
