//! Commands over the whole keyspace ([`Route::AllShards`](crate::cmd::Route::AllShards)),
//! run through the router's shard operations ([`crate::protocol::shards`]):
//!
//! - DBSIZE (`Merge::Sum`): SHARD_COUNT of each shard on one caught-up replica (failing
//!   over like a read), added up, so each shard's keys count once however many replicas
//!   hold them. INFO's Keyspace section is the same count.
//! - WAIT (`Merge::Min`): the command on one replica of every shard, the smallest answer.
//! - FLUSHALL / FLUSHDB (`Merge::AllOk`): one VFLUSH version to every node of the map.
//!   Each node drops everything at or below it and refuses older versioned writes and
//!   repairs from then on; a node that missed it takes it from any peer's DIGEST in its
//!   next anti-entropy round. OK when every node the router does not hold ejected applied
//!   it and every shard has a replica that did; otherwise an error naming the nodes.
//!
//! - KEYS, SCAN and RANDOMKEY (`Concat`, `Cursor`, `Any`): walks of every shard on one
//!   replica each with SHARD_SCAN pages ([`super::scan`]).

use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::join_all;
use tokio::time::Instant;

use super::Router;
use super::backend::Backend;
use super::forward::{Failed, Failure, Read, read};
use super::handler::ReplyFuture;
use crate::cmd::info::{render_info, sections};
use crate::cmd::{Command, Merge};
use crate::protocol::binary::{RequestFrame, ResponseFrame, to_reply};
use crate::protocol::shards::{CountRequest, KeyCount, decode_counts, vflush_frame};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Opcode, Reply, Status};

/// Shards asked at once by one DBSIZE (the rest wait their turn).
pub const SHARD_CALLS_AT_ONCE: usize = 16;

/// Whether INFO with these section names shows the Keyspace section.
pub(super) fn wants_keyspace(wanted: &[String]) -> bool {
    wanted.is_empty()
        || wanted
            .iter()
            .any(|w| matches!(w.as_str(), "keyspace" | "all" | "everything" | "default"))
}

impl Router {
    /// A command over every shard, merged as its declaration says.
    pub(super) async fn all_shards(
        &self,
        command: &Command,
        merge: Merge,
        argv: Option<Argv>,
    ) -> Result<Reply, Failed> {
        let name = command.name().to_ascii_uppercase();
        match merge {
            Merge::Sum => {
                let count = self.count_keys(&name).await?;
                Ok(Reply::Int(i64::try_from(count.keys).unwrap_or(i64::MAX)))
            }
            Merge::AllOk => self.flush_all(&name).await,
            Merge::Min => {
                let argv = argv.ok_or_else(|| super::single::no_argv(command))?;
                self.min_over_shards(&name, &argv).await
            }
            Merge::Concat | Merge::Cursor | Merge::Any => self.walk(command).await,
            Merge::InKeyOrder => {
                let msg = format!("'{}' declares a per-key merge over all shards", command.name());
                Err(Failed::refused(ErrorReply::new(Status::Internal, msg)))
            }
        }
    }

    /// KEYS, SCAN and RANDOMKEY: walks of the keyspace ([`super::scan`]).
    async fn walk(&self, command: &Command) -> Result<Reply, Failed> {
        let bulks =
            |keys: Vec<bytes::Bytes>| Reply::Array(keys.into_iter().map(Reply::Bulk).collect());
        match command {
            Command::Keys(pattern) => Ok(bulks(self.keys_matching(pattern.clone()).await?)),
            Command::Scan(a) => {
                // Every key is a string: another TYPE walks on and finds nothing.
                let typed = a.type_name.as_ref().is_none_or(|t| t.eq_ignore_ascii_case(b"string"));
                let pattern = a.pattern.clone().unwrap_or_default();
                let (next, keys) = self.scan_step(a.cursor, pattern, a.count).await?;
                let keys = if typed { keys } else { Vec::new() };
                Ok(Reply::Array(vec![Reply::text(&next.to_string()), bulks(keys)]))
            }
            Command::RandomKey(()) => Ok(self.random_key().await?.map_or(Reply::Nil, Reply::Bulk)),
            other => {
                let msg =
                    format!("'{}' declares a keyspace walk the router does not know", other.name());
                Err(Failed::refused(ErrorReply::new(Status::Internal, msg)))
            }
        }
    }

    /// INFO with its Keyspace section counted over the shards (an error in the section
    /// when some shard could not be counted).
    pub(super) fn info_with_keyspace(&self, wanted: Vec<String>) -> ReplyFuture {
        let router = self.clone();
        Box::pin(async move {
            let count =
                if router.is_ready() { Some(router.count_keys("INFO").await) } else { None };
            let mut all = sections(&*router.inner);
            if let Some(ks) = all.iter_mut().find(|s| s.name == "Keyspace") {
                match count {
                    Some(Ok(c)) if c.keys > 0 => {
                        let line = format!(
                            "keys={},expires={},avg_ttl={}",
                            c.keys,
                            c.expires,
                            c.avg_ttl_ms()
                        );
                        ks.field("db0", line);
                    }
                    Some(Err(f)) => {
                        ks.field("keyspace_error", f.reply.message.replace(['\r', '\n'], " "));
                    }
                    Some(Ok(_)) | None => {}
                }
            }
            Reply::Verbatim(render_info(&all, &wanted).into())
        })
    }

    /// Every shard's key count, each from one replica, added up.
    async fn count_keys(&self, name: &str) -> Result<KeyCount, Failed> {
        let counts = self
            .each_shard(name, |num_shards, shard| async move {
                let req = CountRequest { num_shards, shards: vec![shard] };
                let resp = self.read_shard(shard, &req.frame()).await?;
                let counts = decode_counts(&resp.payload).filter(|c| c.len() == 1);
                counts.map(|c| c[0]).ok_or_else(|| malformed(shard, "SHARD_COUNT"))
            })
            .await?;
        let mut total = KeyCount::default();
        counts.iter().for_each(|c| total.add(c));
        Ok(total)
    }

    /// The command as the client sent it on one replica of every shard; the smallest
    /// integer answered (WAIT).
    async fn min_over_shards(&self, name: &str, argv: &Argv) -> Result<Reply, Failed> {
        let frame = super::single::argv_frame(argv);
        let frame = &frame;
        let replies = self
            .each_shard(name, |_, shard| async move {
                match to_reply(Opcode::Cmd, &self.read_shard(shard, frame).await?) {
                    Reply::Int(n) => Ok(n),
                    Reply::Error(e) => Err(Failed::reply(e)),
                    _ => Err(malformed(shard, "integer reply")),
                }
            })
            .await?;
        Ok(Reply::Int(replies.into_iter().min().unwrap_or(0)))
    }

    /// `call(num_shards, shard)` for every shard of the map, [`SHARD_CALLS_AT_ONCE`] at a
    /// time; the results in shard order, or an error naming every shard that failed.
    async fn each_shard<'a, T, F, Fut>(&'a self, name: &str, call: F) -> Result<Vec<T>, Failed>
    where
        F: Fn(u32, u32) -> Fut,
        Fut: Future<Output = Result<T, Failed>> + 'a,
    {
        let num_shards = self.inner.topology.load().map().num_shards();
        let calls = (1..=num_shards).map(|shard| {
            let fut = call(num_shards, shard);
            async move { (shard, fut.await) }
        });
        let mut results: Vec<(u32, Result<T, Failed>)> =
            futures_util::stream::iter(calls).buffer_unordered(SHARD_CALLS_AT_ONCE).collect().await;
        results.sort_by_key(|(s, _)| *s);
        let mut out = Vec::with_capacity(results.len());
        let mut failed: Vec<(u32, Failed)> = Vec::new();
        for (shard, result) in results {
            match result {
                Ok(v) => out.push(v),
                Err(f) => failed.push((shard, f)),
            }
        }
        match failed.first() {
            None => Ok(out),
            Some((_, first)) => {
                let each: Vec<String> =
                    failed.iter().map(|(s, f)| format!("shard {s}: {}", f.reply.message)).collect();
                let msg = format!("{name} failed on {}", each.join(", "));
                Err(Failed { reply: ErrorReply::new(first.reply.status, msg), ..first.clone() })
            }
        }
    }

    /// Sends a shard-wide read to one caught-up replica of `shard`, failing over. A node
    /// that answers WRONG_SHARD makes the router re-read its map (the client retries).
    pub(super) async fn read_shard(
        &self,
        shard: u32,
        frame: &RequestFrame,
    ) -> Result<ResponseFrame, Failed> {
        let (t, policy) = (self.inner.settings.timeouts(), self.inner.settings.read_policy());
        let topo = self.inner.topology.load_full();
        let one = Read { shard, key: b"", frame };
        let (targets, deadline) = (topo.targets_of(shard), Instant::now() + t.request);
        let resp = match read(policy, one, targets, &t, deadline, None).await {
            Ok(resp) => resp,
            Err(f) => {
                if f.wrong_shard {
                    self.refresh_map();
                }
                return Err(f);
            }
        };
        match resp.status() {
            Some(Status::Ok) => Ok(resp),
            Some(s) => {
                let msg = String::from_utf8_lossy(&resp.payload).into_owned();
                Err(Failed::reply(ErrorReply::new(s, msg)))
            }
            None => Err(malformed(shard, "reply status")),
        }
    }

    /// FLUSHALL: one version to every node.
    async fn flush_all(&self, name: &str) -> Result<Reply, Failed> {
        let topo = self.inner.topology.load_full();
        let t = self.inner.settings.timeouts();
        let frame = vflush_frame(self.inner.hlc.now());
        let deadline = Instant::now() + t.write.min(t.request);
        let backends: Vec<Arc<Backend>> = topo.backends().into_iter().cloned().collect();
        let results =
            join_all(backends.iter().map(|b| flush_one(b, frame.clone(), deadline))).await;
        let mut applied: Vec<&str> = Vec::new();
        let mut failed: Vec<(&Arc<Backend>, Failed)> = Vec::new();
        for (b, result) in backends.iter().zip(results) {
            match result {
                Ok(()) => applied.push(b.name()),
                Err(f) => failed.push((b, f)),
            }
        }
        let map = topo.map();
        let uncovered: Vec<u32> = (1..=map.num_shards())
            .filter(|&s| !map.replicas(s).iter().any(|n| applied.contains(&n.as_str())))
            .filter(|&s| !map.replicas(s).is_empty())
            .collect();
        let must_fail = failed.iter().any(|(b, _)| !b.health().is_ejected());
        if !must_fail && uncovered.is_empty() {
            return Ok(Reply::Ok);
        }
        Err(flush_error(name, &applied, &failed, &uncovered))
    }
}

/// One node's VFLUSH.
async fn flush_one(b: &Backend, frame: RequestFrame, deadline: Instant) -> Result<(), Failed> {
    match b.call(frame, deadline).await {
        Ok(resp) if resp.status() == Some(Status::Ok) => Ok(()),
        Ok(resp) => {
            let msg = String::from_utf8_lossy(&resp.payload).into_owned();
            Err(Failed::reply(ErrorReply::new(resp.status().unwrap_or(Status::Internal), msg)))
        }
        Err(e) => {
            Err(Failed::new(Failure::of(&e), ErrorReply::new(Status::Unavailable, e.to_string())))
        }
    }
}

/// The error of a FLUSHALL some nodes missed: PARTIAL when some applied it (they hold
/// the flush, and the others take it from them by anti-entropy), else the first failure.
fn flush_error(
    name: &str,
    applied: &[&str],
    failed: &[(&Arc<Backend>, Failed)],
    uncovered: &[u32],
) -> Failed {
    let each: Vec<String> =
        failed.iter().map(|(b, f)| format!("{} ({})", b.name(), f.reply.message)).collect();
    let mut msg =
        format!("{name} applied on [{}]; failed on [{}]", applied.join(", "), each.join(", "));
    if !uncovered.is_empty() {
        let shards: Vec<String> = uncovered.iter().map(u32::to_string).collect();
        msg.push_str(&format!("; no replica of shard {} applied it", shards.join(", ")));
    }
    match failed.first() {
        Some((_, first)) if applied.is_empty() => {
            Failed { reply: ErrorReply::new(Status::Unavailable, msg), ..first.clone() }
        }
        _ => Failed::new(Failure::Partial, ErrorReply::new(Status::Partial, msg)),
    }
}

/// A reply that does not parse as the operation's.
fn malformed(shard: u32, what: &str) -> Failed {
    let msg = format!("a replica of shard {shard} sent a malformed {what}");
    Failed::new(Failure::Closed, ErrorReply::new(Status::Internal, msg))
}
