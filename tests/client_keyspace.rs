//! The client's keyspace, expiry and transaction methods over TCP against an in-process
//! server, async and blocking: typed results, SCAN as a stream, conditional EXPIRE, and
//! transactions with WATCH (aborts, EXECABORT, and an exact total under contention).
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::WAIT;
use futures_util::StreamExt;
use shale::client::{Client, Error, ExpireCondition, RespValue, ScanOptions};
use shale::server::Server;

async fn client_for(server: &Server) -> Client {
    let addr = server.local_addr().to_string();
    Client::builder().addr(addr).request_timeout(WAIT).connect().await.expect("connects")
}

#[tokio::test]
async fn keyspace_methods_round_trip() {
    let server = common::start().await;
    let c = client_for(&server).await;
    c.set("a", "1").await.unwrap();
    c.set("b", "2").await.unwrap();
    assert_eq!(c.exists(&["a", "a", "nope"]).await.unwrap(), 2);
    assert_eq!(c.touch(&["a", "nope"]).await.unwrap(), 1);
    assert_eq!(c.type_of("a").await.unwrap(), "string");
    assert_eq!(c.type_of("nope").await.unwrap(), "none");
    c.rename("a", "c").await.unwrap();
    let missing = c.rename("nope", "x").await.unwrap_err();
    assert_eq!(missing.message(), Some("no such key"));
    assert!(!c.rename_nx("c", "b").await.unwrap());
    assert!(c.rename_nx("c", "d").await.unwrap());
    assert!(c.copy("d", "e", false).await.unwrap());
    assert!(!c.copy("b", "e", false).await.unwrap());
    assert!(c.copy("b", "e", true).await.unwrap());
    assert_eq!(c.get("e").await.unwrap().as_deref(), Some(&b"2"[..]));
    let mut keys = c.keys("*").await.unwrap();
    keys.sort();
    assert_eq!(keys, vec![Bytes::from("b"), Bytes::from("d"), Bytes::from("e")]);
    assert_eq!(c.unlink(&["b", "nope"]).await.unwrap(), 1);
    assert_eq!(c.del_many(&["d", "e"]).await.unwrap(), 2);
    c.set("z", "1").await.unwrap();
    c.flushall().await.unwrap();
    assert_eq!(c.exists(&["z"]).await.unwrap(), 0);
}

#[tokio::test]
async fn scan_streams_every_key_once_with_match_and_count() {
    let server = common::start().await;
    let c = client_for(&server).await;
    for i in 0..300 {
        c.set(format!("user:{i}"), "v").await.unwrap();
    }
    c.set("other", "v").await.unwrap();
    let opts = ScanOptions { pattern: Some(Bytes::from("user:*")), count: Some(17) };
    let keys: Vec<Bytes> = c.scan(opts).map(Result::unwrap).collect().await;
    let unique: HashSet<_> = keys.iter().cloned().collect();
    assert_eq!(unique.len(), 300);
    assert!(unique.iter().all(|k| k.starts_with(b"user:")));
    assert_eq!(c.scan(ScanOptions::default()).count().await, 301);
}

#[tokio::test]
async fn expire_conditions_deadlines_and_persist() {
    let server = common::start().await;
    let c = client_for(&server).await;
    c.set("k", "v").await.unwrap();
    let hour = Duration::from_secs(3600);
    assert!(!c.expire("k", hour, ExpireCondition::Xx).await.unwrap());
    assert!(c.expire("k", hour, ExpireCondition::Nx).await.unwrap());
    assert!(!c.expire("k", hour / 2, ExpireCondition::Gt).await.unwrap());
    assert!(c.expire("k", hour / 2, ExpireCondition::Lt).await.unwrap());
    let at = SystemTime::now() + 2 * hour;
    assert!(c.expire_at("k", at, ExpireCondition::Always).await.unwrap());
    let when = c.expire_time("k").await.unwrap().flatten().expect("expires");
    let off = when.duration_since(at).unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(1), "{off:?}");
    assert!(c.persist("k").await.unwrap());
    assert_eq!(c.expire_time("k").await.unwrap(), Some(None));
    assert_eq!(c.expire_time("nope").await.unwrap(), None);
    assert!(c.expire("k", Duration::ZERO, ExpireCondition::Always).await.unwrap());
    assert_eq!(c.exists(&["k"]).await.unwrap(), 0, "a zero TTL deletes");
}

#[tokio::test]
async fn transactions_run_atomically_and_abort_on_watch() {
    let server = common::start().await;
    let c = client_for(&server).await;
    let mut tx = c.transaction::<&str>(&[]).await.unwrap();
    tx.queue(&["SET", "a", "1"]).unwrap().queue(&["RENAME", "nope", "b"]).unwrap();
    let replies = tx.exec().await.unwrap().expect("not watched");
    assert_eq!(replies[0], RespValue::Simple("OK".into()));
    assert!(matches!(&replies[1], RespValue::Error(e) if e.contains("no such key")));

    let tx = c.transaction(&["a"]).await.unwrap();
    c.set("a", "changed").await.unwrap();
    assert_eq!(tx.exec().await.unwrap(), None, "a watched key changed");

    let mut tx = c.transaction::<&str>(&[]).await.unwrap();
    tx.queue(&["SET", "a", "x"]).unwrap().queue(&["GET"]).unwrap();
    let abort = tx.exec().await.unwrap_err();
    assert!(matches!(&abort, Error::Server { message, .. } if message.starts_with("Transaction")));
    assert_eq!(c.get("a").await.unwrap().as_deref(), Some(&b"changed"[..]), "nothing ran");
}

async fn increment(c: &Client) {
    for _attempt in 0..10_000 {
        let mut tx = c.transaction(&["counter"]).await.unwrap();
        let RespValue::Bulk(v) = tx.cmd(&["GET", "counter"]).await.unwrap() else { panic!() };
        let next = std::str::from_utf8(&v).unwrap().parse::<u64>().unwrap() + 1;
        tx.queue(&["SET", "counter", &next.to_string()]).unwrap();
        if tx.exec().await.unwrap().is_some() {
            return;
        }
    }
    panic!("never committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_retry_loop_gives_an_exact_total() {
    let server = common::start().await;
    let c = client_for(&server).await;
    c.set("counter", "0").await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    increment(&c).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(c.get("counter").await.unwrap().as_deref(), Some(&b"200"[..]));
}

#[test]
fn the_blocking_client_mirrors_them() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(common::start());
    let addr = server.local_addr().to_string();
    let c = shale::client::blocking::Client::connect(addr).unwrap();
    c.set("a", "1").unwrap();
    assert_eq!(c.exists(&["a", "b"]).unwrap(), 1);
    assert_eq!(c.type_of("a").unwrap(), "string");
    assert!(c.copy("a", "b", false).unwrap());
    assert!(c.rename_nx("b", "c").unwrap());
    assert_eq!(c.keys("*").unwrap().len(), 2);
    assert_eq!(c.scan(ScanOptions::default()).map(Result::unwrap).count(), 2);
    assert!(c.expire("a", Duration::from_secs(60), ExpireCondition::Nx).unwrap());
    assert!(c.expire_time("a").unwrap().flatten().is_some());
    assert!(c.persist("a").unwrap());
    let mut tx = c.transaction(&["a"]).unwrap();
    tx.queue(&["INCRBYFLOAT_NOT_A_COMMAND"]).unwrap();
    assert!(tx.exec().is_err(), "EXECABORT");
    let mut tx = c.transaction(&["a"]).unwrap();
    tx.queue(&["DEL", "a"]).unwrap();
    assert_eq!(tx.exec().unwrap(), Some(vec![RespValue::Int(1)]));
    assert_eq!(c.unlink(&["c"]).unwrap(), 1);
    assert_eq!(c.touch(&["a"]).unwrap(), 0);
    c.flushall().unwrap();
    drop(c);
    drop(server);
}
