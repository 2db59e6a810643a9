//! Tests of a coordinator running RMWs: outcomes, ids, concurrency.

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
    let n = Node::new(MapWatcher::new("unused.json".into(), map), "n1", Duration::from_secs(60));
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

/// Node `n` takes record `i` of `outcome` as the router writes it: a VSET with its ids.
fn take(n: &Node, store: &Store, outcome: &RmwOutcome, i: usize) {
    let r = &outcome.records[i];
    let frame = crate::protocol::rmw::outcome_frame(
        r.key.clone(),
        r.value.as_deref(),
        0,
        r.version,
        &outcome.ids[i],
    );
    let Command::VSet(a) = crate::cmd::from_frame(frame, &Limits::default()).unwrap() else {
        panic!("a VSET")
    };
    let (env, peer) = (TestEnv::new(), "127.0.0.1:4000".parse::<SocketAddr>().unwrap());
    let mut session = Session::new(1, peer, true);
    let mut ctx = Ctx::new(&mut session, &env, Some(store));
    let (key, ids) = (a.key.clone(), a.ids.clone());
    let applied = n.outcome_write(&key, r.version, ids.as_slice(), || {
        cmd::execute(Command::VSet(a), &mut ctx)
    });
    assert!(matches!(applied, Reply::Bulk(_)), "{applied:?}");
}

/// A transaction that increments a and b.
const TX: &[&str] = &["txexec", "2", "2", "incr", "a", "2", "incr", "b"];

/// A command of several keys sent again after its reply was lost, to a coordinator that
/// took its outcome on some of the keys it changed only, is answered PARTIAL, not
/// REPLY_LOST (which would say it took effect on all), and is not run again; one that took
/// all of it answers REPLY_LOST.
#[test]
fn a_command_whose_effect_reached_a_new_coordinator_on_some_keys_only_is_partial() {
    let (n, store) = node();
    acting(&n);
    let ran = decoded(run_id(&n, &store, 21, TX));
    assert!(ran.ids.iter().all(|ids| ids.len() == 2 && ids[1] == 21), "a count id, then the id");
    assert_eq!(ran.records.len(), 2, "{ran:?}");
    let (other, held) = node();
    take(&other, &held, &ran, 0);
    acting(&other);
    let again = decoded(run_id(&other, &held, 21, TX));
    let RespValue::Error(e) = decode_value(&again.reply).unwrap() else { panic!() };
    assert!(e.starts_with("PARTIAL the command took effect on shard 1"), "{e}");
    assert!(e.contains("holds its effect on 1 of the 2 keys it changed"), "{e}");
    assert_eq!(again.records.len(), 1, "b was not written: not run again");
    assert_eq!(again.records[0].value.as_deref(), Some(&b"1"[..]), "a not incremented twice");
    assert_eq!(other.stats.rmw_reruns_partial.load(Ordering::Relaxed), 1);
    take(&other, &held, &ran, 1);
    let whole = decoded(run_id(&other, &held, 21, TX));
    let RespValue::Error(e) = decode_value(&whole.reply).unwrap() else { panic!() };
    assert!(e.starts_with("REPLYLOST the command took effect"), "{e}");
    let on_coordinator = decoded(run_id(&n, &store, 21, TX));
    let RespValue::Error(e) = decode_value(&on_coordinator.reply).unwrap() else { panic!() };
    assert!(e.starts_with("REPLYLOST"), "the node that ran it holds all of it: {e}");
}

/// Count and key ids are remembered apart from command ids, and a FENCE answer carries
/// them after those: however many keys commands change, command ids are never crowded out.
#[test]
fn derived_ids_never_take_the_place_of_command_ids() {
    let (n, store) = node();
    acting(&n);
    decoded(run_id(&n, &store, 21, TX));
    assert_eq!(n.known.export(1, usize::MAX), [21], "the command id only");
    assert_eq!(n.derived.export(1, usize::MAX).len(), 3, "its count id and two key ids");
    let fence = n.rmw_ids_of(1);
    assert_eq!((fence.len(), fence[0]), (4, 21), "the command id first");
}

/// A command of several keys takes two of each key's ring slots (its count id, then its
/// id): a key's outcome carries the ids of its latest 8 such commands.
#[test]
fn a_keys_outcome_carries_the_ids_of_its_latest_eight_commands_of_several_keys() {
    let (n, store) = node();
    acting(&n);
    let carried = |id| decoded(run_id(&n, &store, id, TX)).ids[0].clone();
    (1..=7).for_each(|id| _ = carried(id));
    let eighth = carried(8);
    assert_eq!(eighth.len(), crate::protocol::rmw::MAX_RMW_IDS);
    assert_eq!((eighth[1], eighth[15]), (1, 8), "the first command's id, oldest first");
    assert!(!carried(9).contains(&1), "the ninth pushes it out");
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
    take(&other, &held, &second, 0);
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

/// A transaction whose WATCH marks are another coordinatorship's aborts, unless it already
/// ran (sent again after its reply was lost in a handover): that one answers REPLY_LOST.
#[test]
fn a_transaction_sent_again_after_a_handover_is_recognised_not_aborted() {
    let (n, store) = node();
    acting(&n);
    let (watch, _) = outcome(run(&n, &store, &["txwatch", "k"]));
    let RespValue::Array(w) = watch else { panic!("{watch:?}") };
    let text = |v: &RespValue| match v {
        RespValue::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        RespValue::Simple(s) => s.clone(),
        other => panic!("{other:?}"),
    };
    let (token, mark) = (text(&w[0]), text(&w[1]));
    let tx = ["txexec", "1", "WATCH", &token, "1", "k", &mark, "2", "incr", "k"];
    let (ran, _) = outcome(run_id(&n, &store, 9, &tx));
    assert_eq!(ran, RespValue::Array(vec![RespValue::Int(1)]));
    // A handover and back: a new term, so the marks' token is another coordinatorship's.
    futures_util::FutureExt::now_or_never(n.coord.fence(1, "n2")).unwrap().unwrap();
    acting(&n);
    let (again, _) = outcome(run_id(&n, &store, 9, &tx));
    assert!(matches!(&again, RespValue::Error(e) if e.starts_with("REPLYLOST")), "{again:?}");
    let (other, records) = outcome(run_id(&n, &store, 10, &tx));
    assert_eq!((other, records.len()), (RespValue::Nil, 0), "a new one aborts");
}

#[test]
fn rmws_and_outcome_writes_of_one_key_never_deadlock_while_a_takeover_window_is_open() {
    // An RMW takes its keys' stripes and the shard's takeover window; an outcome write
    // carrying ids takes the key's stripe and then the window: in two orders, they would
    // deadlock. Each side runs on a thread of its own; both must finish.
    let (n, store) = node();
    acting(&n);
    n.orphans.open(1, u64::MAX / 2);
    let (store, rounds) = (Arc::new(store), 2_000u64);
    let (done, finished) = std::sync::mpsc::channel();
    let (n1, s1, d1) = (n.clone(), store.clone(), done.clone());
    std::thread::spawn(move || {
        for i in 1..=rounds {
            run_id(&n1, &s1, i, &["incr", "c"]);
        }
        d1.send("rmws").unwrap();
    });
    let n2 = n.clone();
    std::thread::spawn(move || {
        for i in 1..=rounds {
            n2.outcome_write(b"c", i, &[1_000_000 + i], || Reply::Bulk(Bytes::new()));
        }
        done.send("writes").unwrap();
    });
    for _ in 0..2 {
        let which = finished.recv_timeout(Duration::from_secs(60));
        assert!(which.is_ok(), "deadlocked: neither side finished within a minute");
    }
}
