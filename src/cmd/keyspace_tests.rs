//! The keyspace and expiry commands' `apply` against a real [`Store`] with a manual clock:
//! replies and edge cases as a real redis-server 7 gives them (compared with redis-cli).

use std::sync::Arc;
use std::time::Duration;

use super::data_tests::{bulk, exec};
use crate::protocol::Reply;
use crate::store::{MANUAL_WALL_START, ManualClock, Store, StoreConfig};

fn err(msg: &str) -> Reply {
    Reply::Error(crate::protocol::ErrorReply::invalid(msg.to_owned()))
}

fn manual() -> (Arc<ManualClock>, Store) {
    let clock = Arc::new(ManualClock::new());
    (clock.clone(), Store::with_clock(StoreConfig::default(), clock))
}

#[test]
fn expire_conditions_follow_redis() {
    let (_, s) = manual();
    exec(&s, &["SET", "k", "v"]);
    assert_eq!(exec(&s, &["EXPIRE", "k", "100", "XX"]), Reply::Int(0), "XX: no deadline yet");
    assert_eq!(exec(&s, &["EXPIRE", "k", "100", "GT"]), Reply::Int(0), "GT: none is infinite");
    assert_eq!(exec(&s, &["EXPIRE", "k", "100", "NX"]), Reply::Int(1));
    assert_eq!(exec(&s, &["EXPIRE", "k", "200", "NX"]), Reply::Int(0));
    assert_eq!(exec(&s, &["EXPIRE", "k", "50", "GT"]), Reply::Int(0));
    assert_eq!(exec(&s, &["EXPIRE", "k", "500", "XX", "GT"]), Reply::Int(1));
    assert_eq!(exec(&s, &["EXPIRE", "k", "600", "LT"]), Reply::Int(0));
    assert_eq!(exec(&s, &["EXPIRE", "k", "50", "LT"]), Reply::Int(1));
    assert_eq!(exec(&s, &["TTL", "k"]), Reply::Int(50));
    assert_eq!(exec(&s, &["EXPIRE", "k", "0", "GT"]), Reply::Int(0), "GT refuses a past time");
    assert_eq!(exec(&s, &["EXISTS", "k"]), Reply::Int(1));
    assert_eq!(exec(&s, &["EXPIRE", "k", "-5", "LT"]), Reply::Int(1), "past: deleted");
    assert_eq!(exec(&s, &["EXISTS", "k"]), Reply::Int(0));
    exec(&s, &["SET", "p", "v"]);
    assert_eq!(exec(&s, &["EXPIRE", "p", "10", "LT"]), Reply::Int(1), "LT: none is infinite");
}

#[test]
fn out_of_range_expire_is_an_error_and_keeps_the_key() {
    let (_, s) = manual();
    exec(&s, &["SET", "k", "v"]);
    let cases: &[&[&str]] = &[
        &["EXPIRE", "k", "9223372036854775807"],
        &["PEXPIRE", "k", "9223372036854775807"],
        &["EXPIREAT", "k", "92233720368547758"],
        &["EXPIRE", "k", "-9223372036854775808"],
    ];
    for words in cases {
        let name = words[0].to_ascii_lowercase();
        let want = err(&format!("invalid expire time in '{name}' command"));
        assert_eq!(exec(&s, words), want, "{words:?}");
        assert_eq!(exec(&s, &["TTL", "k"]), Reply::Int(-1), "{words:?} kept the key");
    }
    assert_eq!(exec(&s, &["EXPIRE", "k", "-100"]), Reply::Int(1));
    assert_eq!(exec(&s, &["EXISTS", "k"]), Reply::Int(0), "a negative time deletes");
}

#[test]
fn absolute_deadlines_and_expiretime() {
    let (clock, s) = manual();
    let wall = MANUAL_WALL_START.as_secs();
    exec(&s, &["SET", "k", "v"]);
    assert_eq!(exec(&s, &["EXPIRETIME", "k"]), Reply::Int(-1));
    assert_eq!(exec(&s, &["PEXPIRETIME", "nokey"]), Reply::Int(-2));
    let at = (wall + 100).to_string();
    assert_eq!(exec(&s, &["EXPIREAT", "k", &at]), Reply::Int(1));
    assert_eq!(exec(&s, &["TTL", "k"]), Reply::Int(100));
    assert_eq!(exec(&s, &["EXPIRETIME", "k"]), Reply::Int((wall + 100) as i64));
    let ms = (wall * 1000 + 100_500) as i64;
    assert_eq!(exec(&s, &["PEXPIREAT", "k", &ms.to_string()]), Reply::Int(1));
    clock.advance(Duration::from_secs(10));
    assert_eq!(exec(&s, &["PEXPIRETIME", "k"]), Reply::Int(ms), "absolute, not relative");
    assert_eq!(exec(&s, &["EXPIREAT", "k", "1"]), Reply::Int(1), "past: deleted");
    assert_eq!(exec(&s, &["EXISTS", "k"]), Reply::Int(0));
}

#[test]
fn rename_renamenx_and_copy() {
    let (_, s) = manual();
    assert_eq!(exec(&s, &["RENAME", "a", "b"]), err("no such key"));
    assert_eq!(exec(&s, &["RENAMENX", "a", "b"]), err("no such key"));
    exec(&s, &["SET", "a", "1", "EX", "100"]);
    assert_eq!(exec(&s, &["RENAME", "a", "a"]), Reply::Ok);
    assert_eq!(exec(&s, &["RENAMENX", "a", "a"]), Reply::Int(0));
    assert_eq!(exec(&s, &["RENAME", "a", "b"]), Reply::Ok);
    assert_eq!(exec(&s, &["TTL", "b"]), Reply::Int(100), "the TTL moves along");
    assert_eq!(exec(&s, &["EXISTS", "a"]), Reply::Int(0));
    exec(&s, &["SET", "a", "2"]);
    assert_eq!(exec(&s, &["RENAMENX", "a", "b"]), Reply::Int(0));
    assert_eq!(exec(&s, &["RENAMENX", "a", "c"]), Reply::Int(1));
    assert_eq!(exec(&s, &["COPY", "c", "d"]), Reply::Int(1));
    assert_eq!(exec(&s, &["COPY", "b", "d"]), Reply::Int(0), "no REPLACE");
    assert_eq!(exec(&s, &["COPY", "b", "d", "DB", "0", "REPLACE"]), Reply::Int(1));
    assert_eq!(exec(&s, &["GET", "d"]), bulk("1"));
    assert_eq!(exec(&s, &["TTL", "d"]), Reply::Int(100));
    assert_eq!(exec(&s, &["COPY", "b", "b"]), err("source and destination objects are the same"));
    assert_eq!(exec(&s, &["COPY", "b", "d", "DB", "1"]), err("DB index is out of range"));
    assert_eq!(exec(&s, &["COPY", "b", "d", "FOO"]), err("syntax error"));
    let big = "x".repeat(100_000);
    exec(&s, &["SET", "big", &big]);
    assert_eq!(exec(&s, &["COPY", "big", "big2"]), Reply::Int(1));
    assert_eq!(exec(&s, &["GET", "big2"]), bulk(&big));
}

#[test]
fn type_touch_unlink_and_randomkey() {
    let (_, s) = manual();
    assert_eq!(exec(&s, &["TYPE", "k"]), Reply::Simple("none"));
    assert_eq!(exec(&s, &["RANDOMKEY"]), Reply::Nil);
    exec(&s, &["MSET", "a", "1", "b", "2"]);
    assert_eq!(exec(&s, &["TYPE", "a"]), Reply::Simple("string"));
    assert_eq!(exec(&s, &["TOUCH", "a", "a", "x"]), Reply::Int(2));
    assert!(matches!(exec(&s, &["RANDOMKEY"]), Reply::Bulk(k) if k == "a" || k == "b"));
    assert_eq!(exec(&s, &["UNLINK", "a", "b", "a"]), Reply::Int(2));
    assert_eq!(exec(&s, &["DBSIZE"]), Reply::Int(0));
}

#[test]
fn keys_match_globs() {
    let (_, s) = manual();
    exec(&s, &["MSET", "a", "1", "ab", "2", "b", "3", "c*", "4"]);
    let sorted = |r: Reply| match r {
        Reply::Array(mut v) => {
            v.sort_by_key(|r| format!("{r:?}"));
            v
        }
        other => panic!("{other:?}"),
    };
    let want = |ks: &[&str]| ks.iter().map(|k| bulk(k)).collect::<Vec<_>>();
    assert_eq!(sorted(exec(&s, &["KEYS", "*"])), want(&["a", "ab", "b", "c*"]));
    assert_eq!(sorted(exec(&s, &["KEYS", "a?"])), want(&["ab"]));
    assert_eq!(sorted(exec(&s, &["KEYS", "[ab]"])), want(&["a", "b"]));
    assert_eq!(sorted(exec(&s, &["KEYS", "c\\*"])), want(&["c*"]));
}

#[test]
fn scan_walks_everything_with_match_count_and_type() {
    let (_, s) = manual();
    for i in 0..500 {
        exec(&s, &["SET", &format!("k{i}"), "v"]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_owned();
    for _ in 0..10_000 {
        let Reply::Array(parts) = exec(&s, &["SCAN", &cursor, "MATCH", "k1*", "COUNT", "7"]) else {
            panic!("array")
        };
        let [Reply::Bulk(next), Reply::Array(keys)] = &parts[..] else { panic!("{parts:?}") };
        for k in keys {
            let Reply::Bulk(k) = k else { panic!("{k:?}") };
            assert!(k.starts_with(b"k1"), "MATCH filters");
            seen.insert(k.clone());
        }
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "the scan ends");
    assert_eq!(seen.len(), 111, "k1, k10..k19, k100..k199");
    let hash_only = exec(&s, &["SCAN", "0", "TYPE", "hash", "COUNT", "1000"]);
    let Reply::Array(parts) = hash_only else { panic!("array") };
    assert_eq!(parts[1], Reply::Array(vec![]), "no hashes here");
    assert_eq!(exec(&s, &["SCAN", "x"]), err("invalid cursor"));
    assert_eq!(exec(&s, &["SCAN", "0", "COUNT", "0"]), err("syntax error"));
}

#[test]
fn select_and_flush_modes() {
    let (_, s) = manual();
    assert_eq!(exec(&s, &["SELECT", "0"]), Reply::Ok);
    assert_eq!(exec(&s, &["SELECT", "1"]), err("DB index is out of range"));
    exec(&s, &["SET", "k", "v"]);
    assert_eq!(exec(&s, &["FLUSHALL", "SYNC"]), Reply::Ok);
    assert_eq!(exec(&s, &["FLUSHALL", "FOO"]), err("syntax error"));
    assert_eq!(exec(&s, &["DBSIZE"]), Reply::Int(0));
}

#[test]
fn object_and_memory_usage() {
    let (_, s) = manual();
    assert_eq!(exec(&s, &["OBJECT", "ENCODING", "k"]), Reply::Nil);
    exec(&s, &["MSET", "n", "12345", "k", "v", "big", &"x".repeat(1000)]);
    assert_eq!(exec(&s, &["OBJECT", "ENCODING", "n"]), bulk("int"));
    assert_eq!(exec(&s, &["OBJECT", "ENCODING", "k"]), bulk("embstr"));
    assert_eq!(exec(&s, &["OBJECT", "ENCODING", "big"]), bulk("raw"));
    assert_eq!(exec(&s, &["OBJECT", "REFCOUNT", "k"]), Reply::Int(1));
    assert_eq!(exec(&s, &["OBJECT", "FREQ", "k"]), err(super::keyspace::NO_LFU));
    assert!(matches!(exec(&s, &["MEMORY", "USAGE", "big"]), Reply::Int(n) if n > 1000));
    assert_eq!(exec(&s, &["MEMORY", "USAGE", "nokey"]), Reply::Nil);
}
