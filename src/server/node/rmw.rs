//! One RMW request on this node as its shard's coordinator: the command is admitted like a
//! write of its keys (`check.rs`), runs only while this node acts for the shard
//! ([`super::coord`]), runs through the same [`cmd::execute`] as any command, and is
//! answered with its reply and the resulting state of every key it changed (value or
//! tombstone, remaining TTL, version) for the router to write to the shard's other replicas
//! with the versions stamped here. A command whose id one of its keys already holds (see
//! [`super::keylock`]) took effect before, and its reply was lost: it is not run again, and
//! is answered REPLY_LOST with its keys' states, which the router writes out as an outcome.

use std::sync::atomic::Ordering;

use bytes::BytesMut;
use tracing::warn;

use super::Node;
use super::ae::to_record;
use super::coord::Refusal;
use super::orphans::Late;
use crate::cmd::internal::RmwArgs;
use crate::cmd::tx::distinct_keys;
use crate::cmd::{self, Command, Ctx};
use crate::protocol::cluster::Stale;
use crate::protocol::dump::DumpRecord;
use crate::protocol::limits::{MAX_FRAME_LEN_HARD, RESPONSE_HEADER_LEN};
use crate::protocol::rmw::{RmwOutcome, not_coordinator_message, superseded_message};
use crate::protocol::text::encode_reply_resp3;
use crate::protocol::{ErrorReply, Reply, Status};
use crate::store::Store;

/// Largest RMW reply payload: what fits one response frame. A command whose reply and
/// outcome together are larger (GETSET of two values near the hard frame limit) is applied
/// here but answered PARTIAL: anti-entropy carries the outcome to the other replicas.
pub const MAX_RMW_REPLY: usize = MAX_FRAME_LEN_HARD - RESPONSE_HEADER_LEN;

impl Node {
    /// Runs an RMW request's command on `store` as the coordinator of its shard. The request
    /// passed [`Node::check`], so its keys are in one shard this node may write.
    pub fn rmw(&self, store: &Store, args: RmwArgs, ctx: &mut Ctx<'_>) -> Reply {
        let RmwArgs { id, command: inner } = args;
        let shard = match self.rmw_shard(&self.shards(), &inner) {
            Ok(shard) => shard,
            Err(e) => return Reply::Error(e),
        };
        let _running = match self.coord.enter(shard) {
            Ok(running) => running,
            Err(refusal) => return self.refused(shard, refusal),
        };
        if let Command::TxExec(args) = &inner
            && let Some(watched) = &args.watched
            && watched.token != self.coord.token(shard).as_bytes()
        {
            // Marks made on another node, process or coordinatorship: the watched keys
            // may have changed in between, so the transaction aborts.
            return outcome(shard, &self.name, Reply::NilArray, Vec::new(), Vec::new());
        }
        // Only TXWATCH answers the token (TXEXEC hands it back); other commands skip it.
        let token = matches!(inner, Command::TxWatch(_)).then(|| self.coord.token(shard));
        self.run(store, shard, (id, inner), token, ctx)
    }

    /// Runs an admitted RMW's command and answers its reply (after `token`, if any) and the
    /// state of every key it changed, with the ids of the commands each state holds.
    fn run(
        &self,
        store: &Store,
        shard: u32,
        (id, inner): (u64, Command),
        token: Option<String>,
        ctx: &mut Ctx<'_>,
    ) -> Reply {
        let keys = distinct_keys(inner.keys());
        // After a takeover from a crashed peer, versioned writes wait while this runs, so
        // `before` is what the command computes over (see `orphans.rs`).
        let mut window = self.orphans.window(shard);
        // Held until the changed keys' states are read: they are what this command left.
        let mut locked = self.rmw_keys.lock(&keys);
        if id != 0 && locked.applied(&keys, id) {
            drop(window);
            self.stats.rmw_reruns_recognised.fetch_add(1, Ordering::Relaxed);
            let (records, ids) = keys
                .iter()
                .filter_map(|k| store.state_of(k).map(|now| (to_record(now), locked.ids(k))))
                .unzip();
            return outcome(shard, &self.name, Reply::Error(reply_lost(shard, id)), records, ids);
        }
        let before: Vec<Option<u64>> = keys.iter().map(|k| store.version_of(k)).collect();
        let reply = match (cmd::execute(inner, ctx), token) {
            (Reply::Array(marks), Some(token)) => {
                Reply::Array(std::iter::once(Reply::Bulk(token.into())).chain(marks).collect())
            }
            (reply, _) => reply,
        };
        if let Reply::Error(_) = reply {
            // Commands check before they change anything: an error changed nothing.
            return reply;
        }
        // A key whose version moved was written (by this command, or by a plain versioned
        // write that landed meanwhile, which is then the state to replicate anyway; never
        // by another RMW, which waits for the key locks).
        let changed: Vec<_> = keys
            .iter()
            .zip(before)
            .filter_map(|(k, was)| {
                store.state_of(k).filter(|now| Some(now.version) != was).map(|now| (k, was, now))
            })
            .collect();
        if let Some(w) = window.as_deref_mut().and_then(Option::as_mut) {
            let full = changed.iter().any(|(k, was, _)| !w.note(k, *was));
            if full {
                self.stats.orphan_overflows.fetch_add(1, Ordering::Relaxed);
                warn!(node = self.name, shard, "takeover window full: later keys unguarded");
            }
        }
        drop(window);
        let ids = match id {
            0 => Vec::new(),
            id => changed.iter().map(|(k, _, _)| locked.note(k, &[id])).collect(),
        };
        drop(locked);
        let records = changed.into_iter().map(|(_, _, now)| to_record(now)).collect();
        outcome(shard, &self.name, reply, records, ids)
    }

    /// Applies a versioned write (VSET, VDEL) of `key` at `version` that carries `ids`, the
    /// read-modify-writes whose effect it holds (an outcome): under the key's stripe, noting
    /// them once it applied or lost to a newer write (which came after them), so an RMW
    /// checking for one of them never runs between the two.
    pub fn outcome_write(
        &self,
        key: &[u8],
        version: u64,
        ids: &[u64],
        apply: impl FnOnce() -> Reply,
    ) -> Reply {
        if ids.is_empty() {
            return self.versioned(key, version, apply);
        }
        let mut locked = self.rmw_keys.lock(&[key]);
        let reply = self.versioned(key, version, apply);
        if matches!(reply, Reply::Bulk(_) | Reply::Raw(Status::Stale, _)) {
            locked.note(key, ids);
        }
        reply
    }

    /// Applies a versioned write (VSET, VDEL) of `key` at `version`; after a takeover from a
    /// crashed peer, a losing write this node computed past without is SUPERSEDED.
    pub fn versioned(&self, key: &[u8], version: u64, apply: impl FnOnce() -> Reply) -> Reply {
        if !self.orphans.any_open() {
            return apply();
        }
        let shard = self.shards().map.shard_for_key(key);
        let Some(window) = self.orphans.window(shard) else { return apply() };
        let reply = apply();
        let (Reply::Raw(Status::Stale, payload), Some(w)) = (&reply, window.as_ref()) else {
            return reply;
        };
        let (Late::Superseded { base }, Some(stale)) =
            (w.judge(key, version), Stale::decode(payload))
        else {
            return reply;
        };
        self.stats.outcomes_superseded.fetch_add(1, Ordering::Relaxed);
        warn!(node = self.name, shard, version, base, "late outcome superseded");
        let why = format!(
            "node {} took over shard {shard} from a crashed coordinator and ran a \
             read-modify-write over this key at version {base}, without this write (version \
             {version}): the outcome died with its coordinator",
            self.name
        );
        // The STALE reply's figures go along, so a blind write can re-stamp above them.
        Reply::error(Status::Superseded, superseded_message(&why, stale))
    }

    fn refused(&self, shard: u32, refusal: Refusal) -> Reply {
        match refusal {
            Refusal::NotCoordinator(Some(other)) => Reply::error(
                Status::NotCoordinator,
                not_coordinator_message(&self.name, shard, Some(&other)),
            ),
            Refusal::NotCoordinator(None) => {
                let msg = format!(
                    "shard {shard} has no coordinator yet: node {} knows no replica of it that \
                     is ready and reachable",
                    self.name
                );
                Reply::error(Status::NotReady, msg)
            }
            Refusal::Handover => {
                let msg = format!("coordinator handover in progress for shard {shard}");
                Reply::error(Status::NotReady, format!("{msg} on node {}", self.name))
            }
        }
    }
}

/// The reply to command `id` run again after it took effect.
fn reply_lost(shard: u32, id: u64) -> ErrorReply {
    let msg = format!(
        "the command took effect on shard {shard}, but its reply was lost (a coordinator          crashed or a connection dropped before answering); it was not run again (id {id:016x})"
    );
    ErrorReply::new(Status::ReplyLost, msg)
}

/// The RMW answer: the command's reply and the state of each key it changed, with the ids
/// of the commands each state holds (empty: the request carried no id).
fn outcome(
    shard: u32,
    me: &str,
    reply: Reply,
    records: Vec<DumpRecord>,
    ids: Vec<Vec<u64>>,
) -> Reply {
    let mut encoded = BytesMut::new();
    encode_reply_resp3(&reply, &mut encoded);
    let payload = RmwOutcome { reply: encoded.freeze(), records, ids }.encode();
    if payload.len() > MAX_RMW_REPLY {
        let msg = format!(
            "applied on coordinator {me} of shard {shard}, but its reply and outcome ({} \
             bytes) exceed a frame; anti-entropy copies it to the other replicas",
            payload.len()
        );
        return Reply::error(Status::Partial, msg);
    }
    Reply::Bulk(payload)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::cmd::test_env::TestEnv;
    use crate::cmd::{Session, parse};
    use crate::protocol::Limits;
    use crate::protocol::cluster::ShardState;
    use crate::protocol::text::{RespValue, decode_value};
    use crate::shardmap::{MapWatcher, ShardMap};
    use crate::store::{ManualClock, StoreConfig, StoreOptions};

    /// Node n1 of a one-shard map with n2, ready, and a cluster node's store.
    fn node() -> (Arc<Node>, Store) {
        let map = ShardMap::builder(1)
            .node("n1", "127.0.0.1", 7401)
            .node("n2", "127.0.0.1", 7402)
            .shard(1, &["n1", "n2"])
            .build()
            .unwrap();
        let n =
            Node::new(MapWatcher::new("unused.json".into(), map), "n1", Duration::from_secs(60));
        let mut shards = (*n.shards()).clone();
        shards.states[0] = ShardState::Ready;
        n.publish(shards);
        let opts = StoreOptions { tombstones: true, ..StoreOptions::default() };
        let clock = Arc::new(ManualClock::new());
        (n, Store::with_options(StoreConfig { shards: 4 }, opts, clock as _))
    }

    fn run(n: &Node, store: &Store, words: &[&str]) -> Reply {
        run_id(n, store, 0, words)
    }

    /// Runs `words` as an RMW with id `id` (0: none).
    fn run_id(n: &Node, store: &Store, id: u64, words: &[&str]) -> Reply {
        let argv: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        let command = parse(&argv.into(), &Limits::default()).unwrap();
        let (env, peer) = (TestEnv::new(), "127.0.0.1:4000".parse::<SocketAddr>().unwrap());
        let mut session = Session::new(1, peer, true);
        let args = RmwArgs { id, command };
        n.rmw(store, args, &mut Ctx::new(&mut session, &env, Some(store)))
    }

    fn outcome(reply: Reply) -> (RespValue, Vec<crate::protocol::dump::DumpRecord>) {
        let o = decoded(reply);
        (decode_value(&o.reply).unwrap(), o.records)
    }

    fn decoded(reply: Reply) -> RmwOutcome {
        let Reply::Bulk(payload) = reply else { panic!("not an outcome: {reply:?}") };
        RmwOutcome::decode(payload).expect("an outcome")
    }

    fn acting(n: &Node) {
        let ticket = n.coord.begin_takeover(1, n.coord.fences(1)).unwrap();
        assert!(n.coord.finish_takeover(1, ticket));
    }

    /// A command sent again with its id after its reply was lost is not run again, on the
    /// coordinator that ran it and on one that only took a later outcome of its key.
    #[test]
    fn a_command_run_again_with_its_id_is_recognised_not_counted_twice() {
        let (n, store) = node();
        acting(&n);
        let first = decoded(run_id(&n, &store, 5, &["incr", "c"]));
        assert_eq!(first.ids, [vec![5]], "the outcome carries the command's id");
        let second = decoded(run_id(&n, &store, 6, &["incr", "c"]));
        assert_eq!(second.ids, [vec![5, 6]], "and the key's earlier ones");
        let again = decoded(run_id(&n, &store, 5, &["incr", "c"]));
        let RespValue::Error(e) = decode_value(&again.reply).unwrap() else { panic!() };
        assert!(e.starts_with("REPLYLOST the command took effect"), "{e}");
        assert_eq!(again.records[0].value.as_deref(), Some(&b"2"[..]), "not run again");
        assert_eq!(again.ids, [vec![5, 6]], "the state goes out again, with its ids");
        assert_eq!(n.stats.rmw_reruns_recognised.load(Ordering::Relaxed), 1);
        let plain = decoded(run(&n, &store, &["incr", "c"]));
        assert!(plain.ids.is_empty(), "no id asked, none answered");

        // Another replica takes the second outcome as a versioned write with its ids, then
        // coordinates: the first command, sent again, is recognised there too.
        let (other, held) = node();
        let r = &second.records[0];
        let frame = crate::protocol::rmw::outcome_frame(
            r.key.clone(),
            r.value.as_deref(),
            0,
            r.version,
            &second.ids[0],
        );
        let Command::VSet(a) = crate::cmd::from_frame(frame, &Limits::default()).unwrap() else {
            panic!("a VSET")
        };
        let (env, peer) = (TestEnv::new(), "127.0.0.1:4000".parse::<SocketAddr>().unwrap());
        let mut session = Session::new(1, peer, true);
        let mut ctx = Ctx::new(&mut session, &env, Some(&held));
        let (key, ids) = (a.key.clone(), a.ids.clone());
        let applied = other.outcome_write(&key, r.version, ids.as_slice(), || {
            cmd::execute(Command::VSet(a), &mut ctx)
        });
        assert!(matches!(applied, Reply::Bulk(_)), "{applied:?}");
        acting(&other);
        let again = decoded(run_id(&other, &held, 5, &["incr", "c"]));
        assert!(matches!(decode_value(&again.reply), Ok(RespValue::Error(_))), "recognised");
        assert_eq!(again.records[0].value.as_deref(), Some(&b"2"[..]));
        let new = outcome(run_id(&other, &held, 7, &["incr", "c"]));
        assert_eq!(new.0, RespValue::Int(3), "a new command runs");
    }

    /// INCRs on one key from two threads at once: each outcome carries the value its own
    /// command left, never a later one another RMW made meanwhile. (A router that loses
    /// the later command's answer runs it again; had the earlier outcome carried its
    /// result, the replicas would count it twice.)
    #[test]
    fn concurrent_rmws_each_answer_the_state_their_own_command_left() {
        let (n, store) = node();
        acting(&n);
        let (n, store) = (&n, &store);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(move || {
                    for i in 0..5_000 {
                        if i % 500 == 0 {
                            n.coord.renew(); // the renewal task of a running node
                        }
                        let (reply, records) = outcome(run(n, store, &["incr", "c"]));
                        let RespValue::Int(got) = reply else { panic!("{reply:?}") };
                        let held = records[0].value.clone().expect("a value");
                        assert_eq!(held, got.to_string(), "the outcome of INCR answered {got}");
                    }
                });
            }
        });
    }

    #[test]
    fn an_rmw_answers_its_reply_and_the_state_and_version_of_what_it_changed() {
        let (n, store) = node();
        let refused = run(&n, &store, &["set", "k", "v", "nx"]);
        assert!(
            matches!(refused, Reply::Error(e) if e.status == Status::NotReady),
            "no coordinator yet"
        );
        let ticket = n.coord.begin_takeover(1, n.coord.fences(1)).unwrap();
        assert!(n.coord.finish_takeover(1, ticket));

        let (reply, records) = outcome(run(&n, &store, &["set", "k", "v", "nx"]));
        assert_eq!(reply, RespValue::Simple("OK".into()));
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!((&r.key[..], r.value.as_deref(), r.ttl_ms), (&b"k"[..], Some(&b"v"[..]), 0));
        assert_eq!(Some(r.version), store.version_of(b"k"), "the version it holds");

        let (reply, records) = outcome(run(&n, &store, &["set", "k", "w", "nx"]));
        assert_eq!((reply, records.len()), (RespValue::Nil, 0), "nothing changed, nothing sent");

        let (reply, records) = outcome(run(&n, &store, &["expire", "k", "100"]));
        assert_eq!(reply, RespValue::Int(1));
        assert!((99_000..=100_000).contains(&records[0].ttl_ms), "{}", records[0].ttl_ms);
        let (_, records) = outcome(run(&n, &store, &["expire", "k", "0"]));
        assert_eq!(records[0].value, None, "EXPIRE 0 deletes: a tombstone goes out");
        assert_eq!(Some(records[0].version), store.version_of(b"k"));

        // Every key a command changed goes out, deleted ones as tombstones.
        run(&n, &store, &["set", "src", "x", "nx"]);
        let (reply, records) = outcome(run(&n, &store, &["rename", "src", "dst"]));
        assert_eq!(reply, RespValue::Simple("OK".into()));
        let held: Vec<(&[u8], Option<&[u8]>)> =
            records.iter().map(|r| (&r.key[..], r.value.as_deref())).collect();
        assert_eq!(held, [(&b"src"[..], None), (&b"dst"[..], Some(&b"x"[..]))]);
        let (_, records) = outcome(run(&n, &store, &["getdel", "dst"]));
        assert_eq!((records.len(), records[0].value.as_ref()), (1, None), "GETDEL's tombstone");
        let (reply, records) = outcome(run(&n, &store, &["incr", "c"]));
        assert_eq!((reply, records[0].value.as_deref()), (RespValue::Int(1), Some(&b"1"[..])));

        let (read, records) = outcome(run(&n, &store, &["get", "c"]));
        assert_eq!((read, records.len()), (RespValue::Bulk("1".into()), 0), "a read");
        let other = run(&n, &store, &["dbsize"]);
        assert!(matches!(other, Reply::Error(e) if e.status == Status::InvalidArgument));
        futures_util::FutureExt::now_or_never(n.coord.fence(1, "n2")).unwrap().unwrap();
        let moved = run(&n, &store, &["persist", "k"]);
        assert!(
            matches!(&moved, Reply::Error(e) if e.status == Status::NotCoordinator && e.message.ends_with("coordinator=n2")),
            "{moved:?}"
        );
        assert_eq!(n.coord.stats.rmw_commands.load(std::sync::atomic::Ordering::Relaxed), 9);
    }
}
