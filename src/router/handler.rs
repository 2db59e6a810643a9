//! The router's [`Handler`]: answers connection-level commands itself and forwards key
//! commands to the replicas of each key's shard. Multi-key text commands (MGET, MSET, DEL,
//! EXISTS) are split per key and run concurrently.

use std::future::{Future, ready};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::future::join_all;
use tokio::time::Instant;

use super::Router;
use super::forward::{read, write};
use crate::net::{Handler, Session};
use crate::protocol::binary::{RequestFrame, ResponseFrame, to_reply};
use crate::protocol::{Command, ErrorReply, Opcode, Reply, SetArgs, SetMode, Status, TtlUnit};
use crate::server::cmd::admin;

/// A boxed reply future: forwarding is asynchronous.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

impl Handler for Router {
    type Future = ReplyFuture;

    fn call(&self, session: &mut Session, command: Command) -> ReplyFuture {
        let local = match command {
            Command::Ping(msg) => admin::ping(msg),
            Command::Echo(msg) => Reply::Bulk(msg),
            Command::Select(db) => admin::select(db),
            Command::Hello(v) => admin::hello(v, session),
            Command::CommandDocs(args) => admin::command(&args),
            Command::ConfigGet(p) => admin::config_get(&p, &self.inner.settings),
            Command::Client(args) => admin::client(&args, session),
            Command::Info(section) => self.inner.info(section.as_deref()),
            Command::Stats => self.inner.stats_reply(),
            Command::Quit => Reply::Ok,
            Command::Expire { .. } | Command::Persist(_) | Command::DbSize | Command::FlushAll => {
                let msg = format!("'{}' is not supported through the router", command.name());
                Reply::error(Status::InvalidArgument, msg)
            }
            Command::Auth(_) => Reply::error(
                Status::InvalidArgument,
                "AUTH <password> called without any password configured for the default user.",
            ),
            data => {
                let router = self.clone();
                return Box::pin(async move { router.data(data).await });
            }
        };
        Box::pin(ready(local))
    }
}

impl Router {
    async fn data(&self, command: Command) -> Reply {
        let started = Instant::now();
        let reply = match command {
            Command::Get(key) => self.get(key).await,
            Command::Set(args) => self.set(args).await,
            Command::Del(keys) => self.sum(keys, |r, k| r.del(k)).await,
            Command::Exists(keys) => self.sum(keys, |r, k| r.exists(k)).await,
            Command::Ttl { key, unit } => self.ttl(key, unit).await,
            Command::MGet(keys) => {
                let replies = join_all(keys.into_iter().map(|k| self.get(k))).await;
                first_error(&replies).unwrap_or(Reply::Array(replies))
            }
            Command::MSet(pairs) => {
                let sets = pairs.into_iter().map(|(key, value)| {
                    self.set(SetArgs { key, value, ttl: None, mode: SetMode::Always })
                });
                let replies = join_all(sets).await;
                first_error(&replies).unwrap_or(Reply::Ok)
            }
            other => {
                Reply::error(Status::Internal, format!("{} is not a data command", other.name()))
            }
        };
        self.inner.stats.record(started.elapsed(), &reply);
        reply
    }

    /// Forwards a read-type request and returns the backend's reply frame.
    async fn read_frame(&self, op: Opcode, key: Bytes) -> Result<ResponseFrame, ErrorReply> {
        let topo = self.inner.topology.load_full();
        let (shard, replicas) = topo.route(&key);
        let frame = RequestFrame { opcode: op as u8, key, ..Default::default() };
        let t = &self.inner.timeouts;
        read(self.inner.read_policy, shard, replicas, &frame, t, Instant::now() + t.request).await
    }

    /// Fans a write-type request out; returns the acknowledging replicas' replies.
    async fn write_frames(&self, frame: RequestFrame) -> Result<Vec<ResponseFrame>, ErrorReply> {
        let topo = self.inner.topology.load_full();
        let (shard, replicas) = topo.route(&frame.key);
        let t = &self.inner.timeouts;
        let outcome = write(replicas, &frame, t, Instant::now() + t.request).await;
        outcome.into_result(shard, replicas.len())
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
        if args.mode != SetMode::Always {
            return Reply::error(
                Status::InvalidArgument,
                "NX/XX are not supported through the router",
            );
        }
        let ttl_ms =
            args.ttl.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1));
        let frame = RequestFrame {
            opcode: Opcode::Set as u8,
            ttl_ms,
            key: args.key,
            value: args.value,
            ..Default::default()
        };
        match self.write_frames(frame).await {
            Ok(_) => Reply::Ok,
            Err(e) => Reply::Error(e),
        }
    }

    async fn del(&self, key: Bytes) -> Reply {
        let frame = RequestFrame { opcode: Opcode::Del as u8, key, ..Default::default() };
        match self.write_frames(frame).await {
            Ok(acks) => Reply::Int(i64::from(acks.iter().any(|r| r.payload.first() == Some(&1)))),
            Err(e) => Reply::Error(e),
        }
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

fn first_error(replies: &[Reply]) -> Option<Reply> {
    replies.iter().find(|r| matches!(r, Reply::Error(_))).cloned()
}
