//! MULTI/EXEC through the router. The router queues a transaction's commands on the
//! client's connection as a server does (`cmd::tx`), keeping each one's arguments; at EXEC
//! it checks that every key of the queue hashes to one shard (otherwise CROSSSHARD, and
//! nothing runs) and sends the whole queue as one TXEXEC to that shard's coordinator, the
//! read-modify-write path: the coordinator runs it atomically (every stripe held) and the
//! router writes the resulting state of each key to the other replicas.
//!
//! WATCH is refused through a router: a watch is a mark on one store, and the store that
//! runs the transaction is the coordinator, which the client's connection does not reach
//! until EXEC. A transaction whose commands have no keys (PING, ECHO, ...) runs them on the
//! router; a keyless data command (DBSIZE, FLUSHALL, ...) inside one answers an error in its
//! place.

use std::future::ready;
use std::ops::ControlFlow;

use super::Router;
use super::handler::ReplyFuture;
use super::split::one_shard;
use crate::cmd::tx::{Queued, TxExecArgs, exec_abort, intercept, txexec_argv};
use crate::cmd::{self, Command, Ctx, Route};
use crate::net::Session;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Reply, Status};

impl Router {
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
    pub(super) fn transaction(&self, session: &mut Session, command: Command) -> ReplyFuture {
        match command {
            Command::Exec(()) => self.exec(session),
            Command::Watch(_) => {
                let msg = "WATCH is not supported through the router: a transaction runs on its \
                           shard's coordinator, which only EXEC reaches";
                Box::pin(ready(Reply::error(Status::InvalidArgument, msg.to_owned())))
            }
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

    /// EXEC: the queue as one TXEXEC on its shard's coordinator.
    fn exec(&self, session: &mut Session) -> ReplyFuture {
        let Some((failed, queue, argvs)) = session.tx.finish() else {
            return Box::pin(ready(Reply::Error(ErrorReply::invalid("EXEC without MULTI"))));
        };
        if failed {
            return Box::pin(ready(Reply::Error(exec_abort())));
        }
        let commands = queue.iter().filter_map(|entry| match entry {
            Queued::Run(c) => Some(c.clone()),
            Queued::Failed(_) => None,
        });
        let args = TxExecArgs::new(commands.collect());
        if args.keys.is_empty() {
            return Box::pin(ready(self.keyless(session, queue)));
        }
        if let Err(e) = one_shard(self.inner.topology.load().map(), args.keys.iter()) {
            return Box::pin(ready(Reply::Error(e)));
        }
        let argv = txexec_argv(&argvs);
        let forwarded = self.forward(session, Command::TxExec(args), Some(&argv));
        Box::pin(async move { interleave(queue, forwarded.await) })
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
    let Reply::Array(ran) = reply else {
        return reply;
    };
    let mut ran = ran.into_iter();
    let replies = queue.into_iter().map(|entry| match entry {
        Queued::Failed(e) => Reply::Error(e),
        Queued::Run(_) => ran.next().unwrap_or(Reply::Nil),
    });
    Reply::Array(replies.collect())
}
