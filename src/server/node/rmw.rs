//! One RMW request on this node as its shard's coordinator: the command is admitted like a
//! write of its keys (`check.rs`), runs only while this node acts for the shard
//! ([`super::coord`]), runs through the same [`cmd::execute`] as any command, and is
//! answered with its reply and the resulting state of every key it changed (value or
//! tombstone, remaining TTL, version) for the router to write to the shard's other replicas
//! with the versions stamped here.

use std::sync::atomic::Ordering;

use bytes::BytesMut;
use tracing::warn;

use super::Node;
use super::ae::to_record;
use super::coord::Refusal;
use super::orphans::Late;
use crate::cmd::tx::distinct_keys;
use crate::cmd::{self, Command, Ctx};
use crate::protocol::cluster::Stale;
use crate::protocol::dump::DumpRecord;
use crate::protocol::limits::{MAX_FRAME_LEN_HARD, RESPONSE_HEADER_LEN};
use crate::protocol::rmw::{RmwOutcome, not_coordinator_message, superseded_message};
use crate::protocol::text::encode_reply_resp3;
use crate::protocol::{Reply, Status};
use crate::store::Store;

/// Largest RMW reply payload: what fits one response frame. A command whose reply and
/// outcome together are larger (GETSET of two values near the hard frame limit) is applied
/// here but answered PARTIAL: anti-entropy carries the outcome to the other replicas.
pub const MAX_RMW_REPLY: usize = MAX_FRAME_LEN_HARD - RESPONSE_HEADER_LEN;

impl Node {
    /// Runs `inner`, an RMW request's command, on `store` as the coordinator of its shard.
    /// The request passed [`Node::check`], so its keys are in one shard this node may write.
    pub fn rmw(&self, store: &Store, inner: Command, ctx: &mut Ctx<'_>) -> Reply {
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
            return outcome(shard, &self.name, Reply::NilArray, Vec::new());
        }
        // Only TXWATCH answers the token (TXEXEC hands it back); other commands skip it.
        let token = matches!(inner, Command::TxWatch(_)).then(|| self.coord.token(shard));
        self.run(store, shard, inner, token, ctx)
    }

    /// Runs an admitted RMW's command and answers its reply (after `token`, if any) and the
    /// state of every key it changed.
    fn run(
        &self,
        store: &Store,
        shard: u32,
        inner: Command,
        token: Option<String>,
        ctx: &mut Ctx<'_>,
    ) -> Reply {
        let keys = distinct_keys(inner.keys());
        // After a takeover from a crashed peer, versioned writes wait while this runs, so
        // `before` is what the command computes over (see `orphans.rs`).
        let mut window = self.orphans.window(shard);
        // Held until the changed keys' states are read: they are what this command left.
        let locked = self.rmw_keys.lock(&keys);
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
        drop((locked, window));
        let records = changed.into_iter().map(|(_, _, now)| to_record(now)).collect();
        outcome(shard, &self.name, reply, records)
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

/// The RMW answer: the command's reply and the state of each key it changed.
fn outcome(shard: u32, me: &str, reply: Reply, records: Vec<DumpRecord>) -> Reply {
    let mut encoded = BytesMut::new();
    encode_reply_resp3(&reply, &mut encoded);
    let payload = RmwOutcome { reply: encoded.freeze(), records }.encode();
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
        let argv: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        let cmd = parse(&argv.into(), &Limits::default()).unwrap();
        let (env, peer) = (TestEnv::new(), "127.0.0.1:4000".parse::<SocketAddr>().unwrap());
        let mut session = Session::new(1, peer, true);
        n.rmw(store, cmd, &mut Ctx::new(&mut session, &env, Some(store)))
    }

    fn outcome(reply: Reply) -> (RespValue, Vec<crate::protocol::dump::DumpRecord>) {
        let Reply::Bulk(payload) = reply else { panic!("not an outcome: {reply:?}") };
        let o = RmwOutcome::decode(payload).expect("an outcome");
        (decode_value(&o.reply).unwrap(), o.records)
    }

    /// INCRs on one key from two threads at once: each outcome carries the value its own
    /// command left, never a later one another RMW made meanwhile. (A router that loses
    /// the later command's answer runs it again; had the earlier outcome carried its
    /// result, the replicas would count it twice.)
    #[test]
    fn concurrent_rmws_each_answer_the_state_their_own_command_left() {
        let (n, store) = node();
        let ticket = n.coord.begin_takeover(1, n.coord.fences(1)).unwrap();
        assert!(n.coord.finish_takeover(1, ticket));
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
