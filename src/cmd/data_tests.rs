//! The data commands' `apply` against a real [`Store`] (a manual clock where time matters):
//! replies as Redis gives them, through the same parse-and-execute path a connection uses.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::test_env::TestEnv;
use super::{parse, run};
use crate::protocol::cluster::WriteAck;
use crate::protocol::{Limits, Reply, Status};
use crate::store::{ManualClock, Store, StoreConfig, StoreOptions};

pub(super) fn exec(store: &Store, words: &[&str]) -> Reply {
    let argv: Vec<Bytes> = words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
    match parse(&argv.into(), &Limits::default()) {
        Ok(cmd) => run(cmd, store, &TestEnv::new()),
        Err(e) => Reply::Error(e),
    }
}

pub(super) fn bulk(s: &str) -> Reply {
    Reply::text(s)
}

#[test]
fn set_get_del_exists() {
    let store = Store::new(StoreConfig::default());
    assert_eq!(exec(&store, &["SET", "k", "v"]), Reply::Ok);
    assert_eq!(exec(&store, &["GET", "k"]), bulk("v"));
    assert_eq!(exec(&store, &["EXISTS", "k", "k", "x"]), Reply::Int(2), "repeats count again");
    assert_eq!(exec(&store, &["DEL", "k", "x"]), Reply::Int(1));
    assert_eq!(exec(&store, &["GET", "k"]), Reply::Nil);
    assert_eq!(exec(&store, &["DBSIZE"]), Reply::Int(0));
}

#[test]
fn set_nx_xx_answer_nil_when_refused() {
    let store = Store::new(StoreConfig::default());
    assert_eq!(exec(&store, &["SET", "k", "v", "XX"]), Reply::Nil);
    assert_eq!(exec(&store, &["SET", "k", "v", "NX"]), Reply::Ok);
    assert_eq!(exec(&store, &["SET", "k", "w", "NX"]), Reply::Nil);
    assert_eq!(exec(&store, &["SET", "k", "w", "XX"]), Reply::Ok);
    assert_eq!(exec(&store, &["GET", "k"]), bulk("w"));
}

#[test]
fn mset_then_mget_and_flush() {
    let store = Store::new(StoreConfig::default());
    assert_eq!(exec(&store, &["MSET", "a", "1", "b", "2"]), Reply::Ok);
    let want = Reply::Array(vec![bulk("1"), Reply::Nil, bulk("2")]);
    assert_eq!(exec(&store, &["MGET", "a", "c", "b"]), want);
    assert_eq!(exec(&store, &["DBSIZE"]), Reply::Int(2));
    assert_eq!(exec(&store, &["FLUSHDB", "ASYNC"]), Reply::Ok);
    assert_eq!(exec(&store, &["DBSIZE"]), Reply::Int(0));
}

#[test]
fn ttl_states_in_both_units() {
    let clock = Arc::new(ManualClock::new());
    let store = Store::with_clock(StoreConfig::default(), clock.clone());
    assert_eq!(exec(&store, &["TTL", "k"]), Reply::Int(-2));
    exec(&store, &["SET", "k", "v"]);
    assert_eq!(exec(&store, &["PTTL", "k"]), Reply::Int(-1));
    assert_eq!(exec(&store, &["EXPIRE", "k", "10"]), Reply::Int(1));
    assert_eq!(exec(&store, &["TTL", "k"]), Reply::Int(10));
    clock.advance(Duration::from_millis(2_600));
    assert_eq!(exec(&store, &["PTTL", "k"]), Reply::Int(7_400));
    assert_eq!(exec(&store, &["TTL", "k"]), Reply::Int(7), "seconds round to nearest");
    assert_eq!(exec(&store, &["PERSIST", "k"]), Reply::Int(1));
    assert_eq!(exec(&store, &["PERSIST", "k"]), Reply::Int(0));
    clock.advance(Duration::from_secs(3600));
    assert_eq!(exec(&store, &["PTTL", "k"]), Reply::Int(-1));
}

#[test]
fn expire_zero_deletes_and_missing_is_zero() {
    let store = Store::new(StoreConfig::default());
    assert_eq!(exec(&store, &["EXPIRE", "k", "1"]), Reply::Int(0));
    exec(&store, &["SET", "k", "v"]);
    assert_eq!(exec(&store, &["PEXPIRE", "k", "0"]), Reply::Int(1));
    assert_eq!(exec(&store, &["PTTL", "k"]), Reply::Int(-2));
}

#[test]
fn full_store_answers_oom() {
    let opts = StoreOptions { maxmemory: 1, ..StoreOptions::default() };
    let store = Store::with_options(StoreConfig::default(), opts, Arc::new(ManualClock::new()));
    let Reply::Error(e) = exec(&store, &["SET", "k", "v"]) else { panic!("refused") };
    assert_eq!(e.status, Status::OutOfMemory);
    let Reply::Error(e) = exec(&store, &["MSET", "a", "1"]) else { panic!("refused") };
    assert_eq!(e.status, Status::OutOfMemory);
}

#[test]
fn versioned_writes_are_last_writer_wins() {
    let store = Store::new(StoreConfig::default());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as u64;
    let v = |ms: u64| {
        (((ms - crate::version::EPOCH_UNIX_MS) << crate::version::MS_SHIFT) | 1).to_string()
    };
    let (old, new) = (v(now - 10), v(now));
    let Reply::Bulk(ack) = exec(&store, &["VSET", "k", "new", "0", &new]) else { panic!("ack") };
    assert!(WriteAck::decode(&ack).is_some_and(|a| a.applied));
    let stale = exec(&store, &["VSET", "k", "old", "0", &old]);
    assert!(matches!(stale, Reply::Raw(Status::Stale, _)), "stale: {stale:?}");
    assert_eq!(exec(&store, &["GET", "k"]), bulk("new"));
    assert!(matches!(exec(&store, &["VDEL", "k", &old]), Reply::Raw(Status::Stale, _)));
    let far = v(now + 3_600_000);
    let Reply::Error(e) = exec(&store, &["VDEL", "k", &far]) else { panic!("refused") };
    assert_eq!(e.status, Status::ClockSkew, "{e}");
    let Reply::Error(e) = exec(&store, &["SHARD_DUMP", "1", "0", "0"]) else { panic!("refused") };
    assert_eq!(e, crate::cmd::internal::needs_cluster());
}
