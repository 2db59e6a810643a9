//! The router's [`Handler`]: decides how to run each command from its declared
//! [`Route`] alone (no list of commands here), so a new server command either routes or
//! fails to compile until its routing is declared. Connection-level commands run through
//! the same [`cmd::execute`] as on a server, with the router's [`crate::cmd::Env`]; every
//! data command is forwarded:
//!
//! | route | how |
//! |---|---|
//! | `Read` | one caught-up replica, failing over ([`super::single`]) |
//! | `Write` | a versioned write of each declared blind write, to every replica |
//! | `ReadModifyWrite` | the coordinator path ([`Router::rmw`]) |
//! | `Split` | split by shard, sent concurrently, merged ([`super::split`]) |
//! | `SameShard` | CROSSSHARD unless every key shares a shard; then a read or `rmw` |
//! | `AllShards` | one replica of every shard, or every node ([`super::allshards`]) |
//! | `Internal` | refused: node-to-node operations do not go through a router |
//! | `Transaction` | queued here, run on the shard's coordinator ([`super::tx`]) |
//!
//! Every forwarded command ends in a reply or a typed [`Failed`], which the router's
//! counters take by kind before it becomes the client's error reply.

use std::future::{Future, ready};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::pin::Pin;

use bytes::Bytes;
use tokio::time::Instant;

use super::Router;
use super::forward::Failed;
use crate::auth::Screened;
use crate::cmd::{self, Command, Ctx, Route, Services};
use crate::net::{Handler, Session};
use crate::protocol::text::Argv;
use crate::protocol::{Reply, Status};

/// A boxed reply future: forwarding is asynchronous.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// What the router answers a request with: a place in a run (no allocation of its own:
/// the common case of a pipeline), a reply known at once, or any other future, boxed.
pub struct RouterFuture(Kind);

enum Kind {
    Member(super::run::Member),
    Ready(Option<Reply>),
    Boxed(ReplyFuture),
}

impl RouterFuture {
    fn ready(reply: Reply) -> Self {
        Self(Kind::Ready(Some(reply)))
    }

    pub(super) fn member(member: super::run::Member) -> Self {
        Self(Kind::Member(member))
    }
}

impl From<ReplyFuture> for RouterFuture {
    fn from(future: ReplyFuture) -> Self {
        Self(Kind::Boxed(future))
    }
}

impl Future for RouterFuture {
    type Output = Reply;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Reply> {
        match &mut self.get_mut().0 {
            Kind::Member(m) => Pin::new(m).poll(cx),
            Kind::Boxed(f) => f.as_mut().poll(cx),
            Kind::Ready(r) => std::task::Poll::Ready(r.take().unwrap_or_else(|| {
                Reply::error(Status::Internal, "a router reply was polled after it was taken")
            })),
        }
    }
}

/// What the router does with a routing class: the one function dispatch and COMMAND (and
/// [`crate::cmd::Env::supports`]) both follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    /// Answered by the router itself.
    Locally,
    /// Forwarded to nodes.
    Forward,
    /// MULTI/EXEC and friends: queued here, run on a shard's coordinator (`tx.rs`).
    Transaction,
    /// Refused, with the reason.
    Refuse(&'static str),
}

/// How the router runs commands routed `route`.
pub(super) fn plan(route: Route) -> Plan {
    match route {
        Route::Connection => Plan::Locally,
        Route::Read
        | Route::Write
        | Route::ReadModifyWrite
        | Route::Split { .. }
        | Route::SameShard
        | Route::AllShards { .. } => Plan::Forward,
        Route::Internal => Plan::Refuse("a node-to-node operation"),
        Route::Transaction => Plan::Transaction,
    }
}

impl Handler for Router {
    type Future = RouterFuture;

    fn session(&self, id: u64, peer: SocketAddr) -> Session {
        self.inner.gate.session(id, peer)
    }

    fn call(&self, session: &mut Session, command: Command) -> RouterFuture {
        self.call_argv(session, command, None)
    }

    fn call_argv(
        &self,
        session: &mut Session,
        command: Command,
        argv: Option<&Argv>,
    ) -> RouterFuture {
        // A request that cannot join the connection's open run sends it first, so the
        // run's order ticket comes before any this request takes.
        let op = super::run::Op::of(&command);
        if op.is_none() {
            self.seal_run(session);
        }
        let command = match self.inner.gate.screen(session, command) {
            Screened::Forward(command) => command,
            Screened::Answer(reply) => return RouterFuture::ready(reply),
        };
        let command = if session.tx.in_multi() && command.route() != Route::Transaction {
            match self.in_multi(session, command, argv) {
                ControlFlow::Break(reply) => return reply.into(),
                ControlFlow::Continue(command) => command,
            }
        } else {
            command
        };
        match plan(command.route()) {
            Plan::Locally => return self.locally(session, command).into(),
            Plan::Transaction => return self.transaction(session, command).into(),
            Plan::Refuse(why) => {
                let msg =
                    format!("'{}' is not supported through the router: {why}", command.name());
                return RouterFuture::ready(Reply::error(Status::InvalidArgument, msg));
            }
            Plan::Forward => {}
        }
        let plain = !session.tx.in_multi() && session.tx.watching() == 0 && self.is_ready();
        match op {
            Some(op) if plain => self.join_run(session, command, op),
            _ => {
                self.seal_run(session);
                self.forward(session, command, argv).into()
            }
        }
    }

    fn end_turn(&self, session: &mut Session) {
        self.seal_run(session);
    }

    fn services(&self) -> Option<&Services> {
        Some(&self.inner.services)
    }
}

impl Router {
    /// Forwards a data command, in order with the connection's other requests on its keys.
    pub(super) fn forward(
        &self,
        session: &mut Session,
        command: Command,
        argv: Option<&Argv>,
    ) -> ReplyFuture {
        if !self.is_ready() {
            return Box::pin(ready(self.no_map()));
        }
        if session.tx.watching() > 0 && command.route() == Route::Read {
            return self.watched_read(session, command, argv);
        }
        // Taken in request order, before any of the requests run.
        let keys: Vec<_> = command.keys().cloned().collect();
        let write = command.spec().has(cmd::Flag::Write);
        // Only a command sent on as it came needs its arguments kept.
        let argv = argv.filter(|_| forwards_argv(&command)).cloned();
        self.in_order(
            session,
            keys,
            write,
            |router| async move { router.data(command, argv).await },
        )
    }

    /// Runs `run` once the connection's earlier requests on `keys` are done (and, for a
    /// write, its earlier reads of them): ordering per key on a connection. `run` makes its
    /// future only then, inside the boxed one: made earlier, the whole (large) forwarding
    /// future would be moved into the box on every request.
    pub(super) fn in_order<R, F>(
        &self,
        session: &mut Session,
        keys: Vec<Bytes>,
        write: bool,
        run: R,
    ) -> ReplyFuture
    where
        R: FnOnce(Router) -> F + Send + 'static,
        F: Future<Output = Reply> + Send,
    {
        let ticket = session.order.enter(keys, write);
        let router = self.clone();
        Box::pin(async move {
            ticket.ready().await;
            let reply = run(router).await;
            drop(ticket);
            reply
        })
    }
}

/// Whether a forwarded command travels as the client sent it (over CMD), so its arguments
/// must be kept: not the typed reads, blind writes and split commands, which the router
/// rebuilds.
fn forwards_argv(command: &Command) -> bool {
    match command.route() {
        Route::Read => !super::single::typed_read(command),
        Route::ReadModifyWrite | Route::SameShard | Route::AllShards { .. } => true,
        Route::Write
        | Route::Split { .. }
        | Route::Connection
        | Route::Internal
        | Route::Transaction => false,
    }
}

impl Router {
    /// A connection-level command, answered here. INFO that shows the keyspace first asks
    /// the nodes for their key counts.
    fn locally(&self, session: &mut Session, command: Command) -> ReplyFuture {
        let command = match command {
            Command::Info(wanted) if super::allshards::wants_keyspace(&wanted) => {
                return self.info_with_keyspace(wanted);
            }
            other => other,
        };
        let mut ctx = Ctx::new(session, &*self.inner, None);
        Box::pin(ready(cmd::execute(command, &mut ctx)))
    }

    /// Forwards one data command and counts how it ended.
    pub(super) async fn data(&self, command: Command, argv: Option<Argv>) -> Reply {
        let started = Instant::now();
        let result = self.dispatch(command, argv).await;
        self.count(started, result)
    }

    /// Counts how a forwarded command ended (`started` when it was sent on).
    pub(super) fn count(&self, started: Instant, result: Result<Reply, Failed>) -> Reply {
        self.counted(started.elapsed(), result)
    }

    /// Counts how a forwarded command ended, `took` after it was sent on.
    pub(super) fn counted(
        &self,
        took: std::time::Duration,
        result: Result<Reply, Failed>,
    ) -> Reply {
        self.inner.stats.record(took, &result);
        result.unwrap_or_else(|f| Reply::Error(f.reply))
    }

    /// A read on the shard's coordinator (for a connection that watches keys), counted.
    pub(super) async fn coordinated_read(&self, command: Command, argv: Argv) -> Reply {
        let started = Instant::now();
        let result = Box::pin(self.rmw(command, Some(argv))).await;
        self.count(started, result)
    }

    /// The exhaustive match on the command's route.
    ///
    /// The single-key reads and writes run inline; the other classes' futures are boxed,
    /// so their (much larger) state does not grow every GET's and SET's future, which is
    /// allocated and moved once per request.
    async fn dispatch(&self, command: Command, argv: Option<Argv>) -> Result<Reply, Failed> {
        match command.route() {
            Route::Read => self.read_one(&command, argv).await,
            Route::Write => self.blind_write(&command).await,
            Route::ReadModifyWrite => Box::pin(self.rmw(command, argv)).await,
            Route::Split { merge } => Box::pin(self.split(&command, merge)).await,
            Route::SameShard => Box::pin(self.same_shard(command, argv)).await,
            Route::AllShards { merge } => Box::pin(self.all_shards(&command, merge, argv)).await,
            Route::Connection | Route::Internal | Route::Transaction => {
                let msg = format!("'{}' reached the router's forwarding", command.name());
                Err(Failed::refused(crate::protocol::ErrorReply::new(Status::Internal, msg)))
            }
        }
    }
}
