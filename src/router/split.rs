//! Commands over keys of several shards. A split command (MGET, MSET, DEL, UNLINK,
//! EXISTS, TOUCH, ...) is cut by shard and the parts run concurrently: a command that
//! writes sends each declared blind write as a versioned write; one that reads sends the
//! node's own command with that shard's keys to one replica of each shard. The parts are
//! merged as the declaration says (in the client's key order, summed, or all OK), and a
//! failed part fails the command with an error naming its shard and keys
//! ([`super::multikey`]).
//!
//! A same-shard command (LCS, MSETNX, RENAME, ...) is refused with CROSSSHARD unless all
//! its keys share a shard; then a read goes to one replica and a write to [`Router::rmw`].

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use futures_util::future::join_all;

use super::Router;
use super::forward::Failed;
use super::multikey::{KeyOutcome, partial_error, read_error};
use crate::cmd::{BlindWrite, Command, Flag, Merge};
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Reply, Status};
use crate::shardmap::ShardMap;

/// The message of CROSSSHARD, as Redis Cluster words CROSSSLOT.
pub const CROSSSHARD_MESSAGE: &str = "Keys in request don't hash to the same shard";

/// One shard's part of a split read: the positions of its keys in the client's order.
struct Part {
    shard: u32,
    at: Vec<usize>,
    keys: Vec<Bytes>,
}

impl Router {
    /// A split command: writes as versioned writes, reads one request per shard.
    pub(super) async fn split(&self, command: &Command, merge: Merge) -> Result<Reply, Failed> {
        if command.full_spec().has(Flag::Write) {
            self.split_writes(command, merge).await
        } else {
            self.split_reads(command, merge).await
        }
    }

    /// Each declared blind write on its own shard, all at once: OK, or the count of live
    /// keys removed, or an error naming the shards (and keys) applied and failed.
    async fn split_writes(&self, command: &Command, merge: Merge) -> Result<Reply, Failed> {
        let topo = self.inner.topology.load_full();
        let writes = last_per_key(command.blind_writes());
        let keys: Vec<Bytes> = writes.iter().map(|w| w.key.clone()).collect();
        let results = join_all(writes.into_iter().map(|w| self.write_one(w, None))).await;
        let removed =
            results.iter().filter(|r| r.as_ref().is_ok_and(|a| a.iter().any(|a| a.applied)));
        let removed = i64::try_from(removed.count()).unwrap_or(i64::MAX);
        let mut first: Option<Failed> = None;
        let outcomes: Vec<KeyOutcome> = keys
            .into_iter()
            .zip(results)
            .map(|(key, result)| {
                let result = result.map(|_| ()).map_err(|f| {
                    let reply = f.reply.clone();
                    first.get_or_insert(f);
                    reply
                });
                KeyOutcome { shard: topo.map().shard_for_key(&key), key, result }
            })
            .collect();
        match (partial_error(&command.name().to_ascii_uppercase(), &outcomes), first) {
            (Some(reply), Some(f)) => Err(Failed { reply, ..f }),
            _ if merge == Merge::Sum => Ok(Reply::Int(removed)),
            _ => Ok(Reply::Ok),
        }
    }

    /// The command with each shard's keys, on one replica of each shard, all at once.
    async fn split_reads(&self, command: &Command, merge: Merge) -> Result<Reply, Failed> {
        let topo = self.inner.topology.load_full();
        let mut parts: BTreeMap<u32, Part> = BTreeMap::new();
        for (i, key) in command.keys().enumerate() {
            let shard = topo.map().shard_for_key(key);
            let part =
                parts.entry(shard).or_insert(Part { shard, at: Vec::new(), keys: Vec::new() });
            part.at.push(i);
            part.keys.push(key.clone());
        }
        let name = Bytes::from_static(command.spec().name.as_bytes());
        let calls = parts.values().map(|p| {
            let mut args = Vec::with_capacity(p.keys.len() + 1);
            args.push(name.clone());
            args.extend(p.keys.iter().cloned());
            let argv = Argv::from(args);
            async move { self.read_cmd(&p.keys[0], &argv).await }
        });
        let replies = join_all(calls).await;
        let parts: Vec<Part> = parts.into_values().collect();
        let failures: Vec<(u32, &[Bytes], Failed)> = parts
            .iter()
            .zip(&replies)
            .filter_map(|(p, r)| match r {
                Ok(Reply::Error(e)) => Some((p.shard, &p.keys[..], Failed::reply(e.clone()))),
                Err(f) => Some((p.shard, &p.keys[..], f.clone())),
                Ok(_) => None,
            })
            .collect();
        if let Some((_, _, first)) = failures.first() {
            let named: Vec<(u32, &[Bytes], &ErrorReply)> =
                failures.iter().map(|(s, k, f)| (*s, *k, &f.reply)).collect();
            let reply = read_error(&command.name().to_ascii_uppercase(), &named);
            return Err(Failed { reply, ..first.clone() });
        }
        let replies = replies.into_iter().map(|r| r.unwrap_or(Reply::Nil));
        merge_reads(command, merge, &parts, replies, command.keys().len())
    }

    /// A same-shard command: CROSSSHARD unless every key shares one shard; then a write
    /// runs on the shard's coordinator and a read on one of its replicas.
    pub(super) async fn same_shard(
        &self,
        command: Command,
        argv: Option<Argv>,
    ) -> Result<Reply, Failed> {
        let topo = self.inner.topology.load_full();
        if let Err(e) = one_shard(topo.map(), command.keys()) {
            return Ok(Reply::Error(e));
        }
        let first = command.keys().next().cloned().unwrap_or_default();
        if command.full_spec().has(Flag::Write) {
            return self.rmw(command, argv).await;
        }
        let argv = argv.ok_or_else(|| super::single::no_argv(&command))?;
        self.read_cmd(&first, &argv).await
    }
}

/// The one shard all `keys` hash to, or CROSSSHARD.
pub(super) fn one_shard<'a>(
    map: &ShardMap,
    mut keys: impl Iterator<Item = &'a Bytes>,
) -> Result<u32, ErrorReply> {
    let shard = keys.next().map_or(1, |k| map.shard_for_key(k));
    if keys.any(|k| map.shard_for_key(k) != shard) {
        return Err(ErrorReply::new(Status::CrossShard, CROSSSHARD_MESSAGE));
    }
    Ok(shard)
}

/// One write per key, the last one given (MSET k 1 k 2 leaves 2; DEL k k removes one
/// key), in the order keys first appear.
fn last_per_key(writes: impl Iterator<Item = BlindWrite>) -> Vec<BlindWrite> {
    let mut out: Vec<BlindWrite> = Vec::new();
    let mut at: HashMap<Bytes, usize> = HashMap::new();
    for w in writes {
        match at.get(&w.key) {
            Some(&i) => out[i] = w,
            None => {
                at.insert(w.key.clone(), out.len());
                out.push(w);
            }
        }
    }
    out
}

/// Puts the parts' replies together as `merge` says.
fn merge_reads(
    command: &Command,
    merge: Merge,
    parts: &[Part],
    replies: impl Iterator<Item = Reply>,
    n: usize,
) -> Result<Reply, Failed> {
    let bad = |what: &str| {
        let msg = format!("'{}' parts answered {what}", command.name());
        Err(Failed::refused(ErrorReply::new(Status::Internal, msg)))
    };
    match merge {
        Merge::InKeyOrder => {
            let mut out = vec![Reply::Nil; n];
            for (p, reply) in parts.iter().zip(replies) {
                let Reply::Array(values) = reply else { return bad("something else than arrays") };
                if values.len() != p.at.len() {
                    return bad("arrays of the wrong length");
                }
                for (i, v) in p.at.iter().zip(values) {
                    out[*i] = v;
                }
            }
            Ok(Reply::Array(out))
        }
        Merge::Sum => {
            let mut sum = 0i64;
            for reply in replies {
                let Reply::Int(n) = reply else { return bad("something else than integers") };
                sum = sum.saturating_add(n);
            }
            Ok(Reply::Int(sum))
        }
        Merge::AllOk => Ok(Reply::Ok),
        Merge::Concat => {
            let mut out = Vec::new();
            for reply in replies {
                let Reply::Array(values) = reply else { return bad("something else than arrays") };
                out.extend(values);
            }
            Ok(Reply::Array(out))
        }
        Merge::Cursor | Merge::Any | Merge::Min => {
            bad("to a merge that only applies to all-shard commands")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Expiry;

    fn w(key: &'static str, value: Option<&'static str>) -> BlindWrite {
        let value = value.map(|v| Bytes::from_static(v.as_bytes()));
        BlindWrite { key: Bytes::from_static(key.as_bytes()), value, expiry: Expiry::Never }
    }

    #[test]
    fn keys_on_two_shards_are_crossshard() {
        let map = ShardMap::builder(8).node("n1", "127.0.0.1", 1).build().expect("a map");
        let key = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let (a, b) = (key("a"), key("b"));
        assert_ne!(map.shard_for_key(&a), map.shard_for_key(&b), "the test's premise");
        assert_eq!(one_shard(&map, [&a, &a].into_iter()), Ok(map.shard_for_key(&a)));
        let e = one_shard(&map, [&a, &b].into_iter()).expect_err("two shards");
        assert_eq!(e.status, Status::CrossShard);
        // The RESP form clients see, as Redis Cluster's CROSSSLOT.
        assert_eq!(e.to_string(), "CROSSSHARD Keys in request don't hash to the same shard");
    }

    #[test]
    fn a_key_given_twice_is_written_once_with_its_last_value() {
        let got = last_per_key([w("k", Some("1")), w("j", None), w("k", Some("2"))].into_iter());
        assert_eq!(got, vec![w("k", Some("2")), w("j", None)]);
    }
}
