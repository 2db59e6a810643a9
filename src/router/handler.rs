//! The router's [`Handler`]: answers connection-level commands itself, through the same
//! [`cmd::execute`] as a server (with the router's [`crate::cmd::Env`]), and forwards key
//! commands to the replicas of each key's shard. Multi-key text commands (MGET, MSET, DEL,
//! EXISTS) are split per key and run concurrently; read-modify-write commands run on their
//! shard's coordinator (`rmw.rs`).

use std::future::{Future, ready};
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::future::join_all;
use tokio::time::Instant;

use super::Router;
use super::forward::read;
use super::multikey::{KeyOutcome, partial_error};
use super::topology::Topology;
use super::write::{WriteReq, write};
use crate::auth::Screened;
use crate::cmd::expiry::TtlUnit;
use crate::cmd::string::SetArgs;
use crate::cmd::{self, Command, Ctx, Route, Services};
use crate::net::{Handler, Session};
use crate::protocol::binary::{RequestFrame, ResponseFrame, to_reply};
use crate::protocol::cluster::WriteAck as Ack;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Opcode, Reply, Status};

/// A boxed reply future: forwarding is asynchronous.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

impl Handler for Router {
    type Future = ReplyFuture;

    fn session(&self, id: u64, peer: SocketAddr) -> Session {
        self.inner.gate.session(id, peer)
    }

    fn call(&self, session: &mut Session, command: Command) -> ReplyFuture {
        self.call_argv(session, command, None)
    }

    fn call_argv(
        &self,
        session: &mut Session,
        command: Command,
        argv: Option<&Argv>,
    ) -> ReplyFuture {
        let command = match self.inner.gate.screen(session, command) {
            Screened::Forward(command) => command,
            Screened::Answer(reply) => return Box::pin(ready(reply)),
        };
        let route = command.route();
        if route == Route::Connection {
            let mut ctx = Ctx::new(session, &*self.inner, None);
            return Box::pin(ready(cmd::execute(command, &mut ctx)));
        }
        let rmw = self.runs_on_coordinator(&command, route);
        if !rmw && !forwards(&command) {
            let msg = format!("'{}' is not supported through the router", command.name());
            return Box::pin(ready(Reply::error(Status::InvalidArgument, msg)));
        }
        if !self.is_ready() {
            return Box::pin(ready(self.no_map()));
        }
        let router = self.clone();
        // Taken in request order, before any of the requests run.
        let (keys, write) = keys_of(&command);
        let ticket = session.order.enter(&keys, write);
        // Read-modify-writes are sent to the coordinator as the client sent them.
        let argv = argv.filter(|_| rmw).cloned();
        Box::pin(async move {
            ticket.ready().await;
            let reply = match rmw {
                true => router.coordinated(command, argv).await,
                false => router.data(command).await,
            };
            drop(ticket);
            reply
        })
    }

    fn services(&self) -> Option<&Services> {
        Some(&self.inner.services)
    }
}

/// The data commands the router forwards today; routing the rest by their declared
/// [`Route`] is issue 15's work.
pub(super) const FORWARDED: &[&str] =
    &["get", "set", "del", "exists", "ttl", "pttl", "mget", "mset"];

fn forwards(command: &Command) -> bool {
    FORWARDED.contains(&command.spec().name)
}

impl Router {
    /// Whether `command` runs on its shard's coordinator (`rmw.rs`): a read-modify-write,
    /// or a same-shard command whose keys do share a shard.
    fn runs_on_coordinator(&self, command: &Command, route: Route) -> bool {
        match route {
            Route::ReadModifyWrite => true,
            Route::SameShard => {
                let topo = self.inner.topology.load();
                let mut shards = command.keys().map(|k| topo.map().shard_for_key(k));
                shards.next().is_some_and(|first| shards.all(|s| s == first))
            }
            _ => false,
        }
    }

    /// Runs a command on its shard's coordinator and counts how it ended.
    async fn coordinated(&self, command: Command, argv: Option<Argv>) -> Reply {
        let started = Instant::now();
        let reply = self.rmw(command, argv).await.unwrap_or_else(|f| Reply::Error(f.reply));
        self.inner.stats.record(started.elapsed(), &reply);
        reply
    }

    async fn data(&self, command: Command) -> Reply {
        let started = Instant::now();
        let reply = match command {
            Command::Get(key) => self.get(key).await,
            Command::Set(args) => self.set(args).await,
            Command::Del(keys) => self.del_keys(keys).await,
            Command::Exists(keys) => self.sum(keys, |r, k| r.exists(k)).await,
            Command::Ttl(key) => self.ttl(key, TtlUnit::Seconds).await,
            Command::Pttl(key) => self.ttl(key, TtlUnit::Millis).await,
            Command::MGet(keys) => {
                let replies = join_all(keys.into_iter().map(|k| self.get(k))).await;
                first_error(&replies).unwrap_or(Reply::Array(replies))
            }
            Command::MSet(pairs) => self.mset(pairs).await,
            other => Reply::error(Status::Internal, format!("{} is not forwarded", other.name())),
        };
        self.inner.stats.record(started.elapsed(), &reply);
        reply
    }

    /// Forwards a read-type request and returns the backend's reply frame. On WRONG_SHARD
    /// the map is re-read and the request retried once.
    async fn read_frame(&self, op: Opcode, key: Bytes) -> Result<ResponseFrame, ErrorReply> {
        let t = self.inner.timeouts;
        let frame = RequestFrame { opcode: op as u8, key, ..Default::default() };
        let mut retried = false;
        loop {
            let topo = self.inner.topology.load_full();
            let route = topo.route(&frame.key);
            let (shard, replicas) = (route.shard, route.targets);
            let policy = self.inner.read_policy;
            match read(policy, shard, replicas, &frame, &t, Instant::now() + t.request).await {
                Ok(resp) => return Ok(resp),
                Err(f) if f.wrong_shard && !retried => retried = self.refresh_map(),
                Err(f) => return Err(f.reply),
            }
        }
    }

    /// Fans a versioned write out (same retry rule); returns the replicas' acks.
    async fn write_frames(
        &self,
        key: Bytes,
        value: Option<Bytes>,
        ttl: Option<std::time::Duration>,
    ) -> Result<Vec<Ack>, ErrorReply> {
        let t = self.inner.timeouts;
        let mut retried = false;
        loop {
            let topo = self.inner.topology.load_full();
            let route = topo.route(&key);
            let version = self.inner.hlc.now();
            let (shard, value) = (route.shard, value.clone());
            let req = WriteReq { shard, key: key.clone(), value, ttl, version };
            let ack = self.inner.write_ack;
            match write(route, req, ack, &t, Instant::now() + t.request).await {
                Ok(acks) => return Ok(acks),
                Err(f) if f.wrong_shard && !retried => retried = self.refresh_map(),
                Err(f) => return Err(f.reply),
            }
        }
    }

    async fn get(&self, key: Bytes) -> Reply {
        match self.read_frame(Opcode::Get, key).await {
            Ok(resp) => to_reply(Opcode::Get, &resp),
            Err(e) => Reply::Error(e),
        }
    }

    async fn ttl(&self, key: Bytes, unit: TtlUnit) -> Reply {
        match self.read_frame(Opcode::Ttl, key).await.map(|r| to_reply(Opcode::Ttl, &r)) {
            Ok(Reply::Int(ms)) if ms >= 0 && unit == TtlUnit::Seconds => {
                Reply::Int((ms + 500) / 1000)
            }
            Ok(reply) => reply,
            Err(e) => Reply::Error(e),
        }
    }

    async fn exists(&self, key: Bytes) -> Reply {
        match self.read_frame(Opcode::Ttl, key).await {
            Ok(resp) => Reply::Int(i64::from(resp.status() == Some(Status::Ok))),
            Err(e) => Reply::Error(e),
        }
    }

    async fn set(&self, args: SetArgs) -> Reply {
        if !args.is_plain() {
            return Reply::error(
                Status::InvalidArgument,
                "NX/XX, GET, KEEPTTL, EXAT and PXAT are not supported through the router",
            );
        }
        match self.write_frames(args.key, Some(args.value), args.ttl).await {
            Ok(_) => Reply::Ok,
            Err(e) => Reply::Error(e),
        }
    }

    /// Deletes one key: whether a live key was removed anywhere.
    async fn del_one(&self, key: Bytes) -> Result<bool, ErrorReply> {
        let acks = self.write_frames(key, None, None).await?;
        Ok(acks.iter().any(|a| a.applied))
    }

    /// DEL key...: the number removed, or an error naming the shards applied and failed.
    async fn del_keys(&self, keys: Vec<Bytes>) -> Reply {
        let topo = self.inner.topology.load_full();
        let results = join_all(keys.iter().map(|k| self.del_one(k.clone()))).await;
        let removed = results.iter().filter(|r| matches!(r, Ok(true))).count();
        let outcomes = outcomes(&topo, keys, results.into_iter().map(|r| r.map(|_| ())));
        match partial_error("DEL", &outcomes) {
            Some(e) => Reply::Error(e),
            None => Reply::Int(i64::try_from(removed).unwrap_or(i64::MAX)),
        }
    }

    /// MSET k v...: OK, or an error naming the shards applied and failed.
    async fn mset(&self, pairs: Vec<(Bytes, Bytes)>) -> Reply {
        let topo = self.inner.topology.load_full();
        let writes = pairs.iter().map(|(k, v)| self.write_frames(k.clone(), Some(v.clone()), None));
        let results = join_all(writes).await;
        let keys = pairs.into_iter().map(|(k, _)| k).collect();
        let outcomes = outcomes(&topo, keys, results.into_iter().map(|r| r.map(|_| ())));
        partial_error("MSET", &outcomes).map_or(Reply::Ok, Reply::Error)
    }

    /// Runs a per-key command over all keys concurrently and adds up the integer replies.
    async fn sum<'a, F, Fut>(&'a self, keys: Vec<Bytes>, per_key: F) -> Reply
    where
        F: Fn(&'a Router, Bytes) -> Fut,
        Fut: Future<Output = Reply> + 'a,
    {
        let replies = join_all(keys.into_iter().map(|k| per_key(self, k))).await;
        if let Some(e) = first_error(&replies) {
            return e;
        }
        Reply::Int(replies.iter().map(|r| if let Reply::Int(n) = r { *n } else { 0 }).sum())
    }
}

/// Pairs each key with its shard and result.
fn outcomes(
    topo: &Topology,
    keys: Vec<Bytes>,
    results: impl Iterator<Item = Result<(), ErrorReply>>,
) -> Vec<KeyOutcome> {
    keys.into_iter()
        .zip(results)
        .map(|(key, result)| KeyOutcome { shard: topo.map().shard_for_key(&key), key, result })
        .collect()
}

/// The keys a data command touches, and whether it writes them.
fn keys_of(command: &Command) -> (Vec<Bytes>, bool) {
    let write = command.spec().has(cmd::Flag::Write);
    (command.keys().cloned().collect(), write)
}

fn first_error(replies: &[Reply]) -> Option<Reply> {
    replies.iter().find(|r| matches!(r, Reply::Error(_))).cloned()
}
