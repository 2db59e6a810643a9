//! The client's typed string and bitmap methods over TCP against an in-process server, async
//! and blocking: results typed as documented, server errors as `Error::Server` with Redis's
//! message, and INCR from many tasks adding up exactly.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::WAIT;
use shale::client::{BitUnit, Client, GetExpiry, SetOptions, SetResult, TtlState};
use shale::server::{Server, ServerConfig};

async fn client_for(server: &Server) -> Client {
    let addr = server.local_addr().to_string();
    Client::builder().addr(addr).request_timeout(WAIT).connect().await.expect("connects")
}

fn b(s: &str) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s.as_bytes()))
}

#[tokio::test]
async fn counters_and_floats() {
    let server = common::start().await;
    let c = client_for(&server).await;
    assert_eq!(c.incr("n").await.unwrap(), 1);
    assert_eq!(c.incr_by("n", 41).await.unwrap(), 42);
    assert_eq!(c.decr("n").await.unwrap(), 41);
    assert_eq!(c.decr_by("n", -9).await.unwrap(), 50);
    assert_eq!(c.get("n").await.unwrap(), b("50"));
    c.set("n", "9223372036854775807").await.unwrap();
    let err = c.incr("n").await.unwrap_err();
    assert_eq!(err.message(), Some("increment or decrement would overflow"));
    c.set("s", "abc").await.unwrap();
    let err = c.incr_by("s", 1).await.unwrap_err();
    assert_eq!(err.message(), Some("value is not an integer or out of range"));
    assert_eq!(c.incr_by_float("f", 0.1).await.unwrap(), 0.1);
    assert_eq!(c.incr_by_float("f", 0.2).await.unwrap(), 0.3);
    assert_eq!(c.get("f").await.unwrap(), b("0.3"), "stored as Redis prints it");
    let err = c.incr_by_float("f", f64::INFINITY).await.unwrap_err();
    assert_eq!(err.message(), Some("increment would produce NaN or Infinity"));
    server.shutdown().await;
}

#[tokio::test]
async fn incr_from_many_tasks_adds_up_exactly() {
    let server = common::start().await;
    let c = client_for(&server).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                for _ in 0..250 {
                    c.incr("hits").await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(c.get("hits").await.unwrap(), b("2000"));
    server.shutdown().await;
}

#[tokio::test]
async fn append_ranges_and_getters() {
    let server = common::start().await;
    let c = client_for(&server).await;
    assert_eq!(c.append("s", "Hello").await.unwrap(), 5);
    assert_eq!(c.append("s", " World").await.unwrap(), 11);
    assert_eq!(c.strlen("s").await.unwrap(), 11);
    assert_eq!(c.strlen("none").await.unwrap(), 0);
    assert_eq!(c.get_range("s", -5, -1).await.unwrap(), "World");
    assert_eq!(c.get_range("none", 0, -1).await.unwrap(), "");
    assert_eq!(c.set_range("s", 6, "Redis").await.unwrap(), 11);
    assert_eq!(c.set_range("pad", 3, "x").await.unwrap(), 4);
    assert_eq!(c.get("pad").await.unwrap(), Some(Bytes::from_static(b"\0\0\0x")));
    assert_eq!(c.get_set("s", "new").await.unwrap(), b("Hello Redis"));
    assert_eq!(c.get_set("fresh", "v").await.unwrap(), None);
    assert_eq!(c.get_del("s").await.unwrap(), b("new"));
    assert_eq!(c.get_del("s").await.unwrap(), None);
    server.shutdown().await;
}

#[tokio::test]
async fn expiry_setting_reads_and_writes() {
    let server = common::start().await;
    let c = client_for(&server).await;
    c.set("k", "v").await.unwrap();
    let hour = Duration::from_secs(3600);
    assert_eq!(c.get_ex("k", GetExpiry::In(hour)).await.unwrap(), b("v"));
    assert!(matches!(c.ttl_state("k").await.unwrap(), TtlState::Expires(d) if d <= hour));
    assert_eq!(c.get_ex("k", GetExpiry::Keep).await.unwrap(), b("v"));
    assert!(matches!(c.ttl_state("k").await.unwrap(), TtlState::Expires(_)));
    assert_eq!(c.get_ex("k", GetExpiry::Persist).await.unwrap(), b("v"));
    assert_eq!(c.ttl_state("k").await.unwrap(), TtlState::Persistent);
    let past = SystemTime::now() - hour;
    assert_eq!(c.get_ex("k", GetExpiry::At(past)).await.unwrap(), b("v"));
    assert_eq!(c.get("k").await.unwrap(), None, "a deadline already past deletes");
    assert_eq!(c.get_ex("k", GetExpiry::Persist).await.unwrap(), None);
    c.set_ex("e", "v", hour).await.unwrap();
    assert!(matches!(c.ttl_state("e").await.unwrap(), TtlState::Expires(_)));
    let err = c.set_ex("e", "v", Duration::ZERO).await.unwrap_err();
    assert_eq!(err.message(), Some("invalid expire time in 'psetex' command"));
    server.shutdown().await;
}

#[tokio::test]
async fn set_with_options() {
    let server = common::start().await;
    let c = client_for(&server).await;
    let nx = SetOptions::new().nx();
    assert_eq!(c.set_options("k", "1", nx).await.unwrap(), SetResult::Written);
    assert_eq!(c.set_options("k", "2", nx).await.unwrap(), SetResult::NotWritten);
    assert_eq!(
        c.set_options("x", "1", SetOptions::new().xx()).await.unwrap(),
        SetResult::NotWritten
    );
    let get = SetOptions::new().get().ttl(Duration::from_secs(60));
    assert_eq!(c.set_options("k", "3", get).await.unwrap(), SetResult::Previous(b("1")));
    assert!(matches!(c.ttl_state("k").await.unwrap(), TtlState::Expires(_)));
    let keep = SetOptions::new().keep_ttl();
    assert_eq!(c.set_options("k", "4", keep).await.unwrap(), SetResult::Written);
    assert!(matches!(c.ttl_state("k").await.unwrap(), TtlState::Expires(_)), "KEEPTTL");
    c.set_options("k", "5", SetOptions::new()).await.unwrap();
    assert_eq!(c.ttl_state("k").await.unwrap(), TtlState::Persistent, "plain SET clears");
    let at = SetOptions::new().expire_at(SystemTime::now() + Duration::from_secs(60));
    c.set_options("k", "6", at).await.unwrap();
    assert!(matches!(c.ttl_state("k").await.unwrap(), TtlState::Expires(_)));
    assert!(c.set_nx("n", "1").await.unwrap());
    assert!(!c.set_nx("n", "2").await.unwrap());
    assert!(c.mset_nx([("a", "1"), ("b", "2")]).await.unwrap());
    assert!(!c.mset_nx([("b", "3"), ("c", "4")]).await.unwrap());
    assert_eq!(c.get("c").await.unwrap(), None, "nothing set when one key exists");
    server.shutdown().await;
}

#[tokio::test]
async fn bits() {
    let server = common::start().await;
    let c = client_for(&server).await;
    assert!(!c.setbit("b", 7, true).await.unwrap());
    assert!(c.setbit("b", 7, true).await.unwrap());
    assert!(c.getbit("b", 7).await.unwrap());
    assert!(!c.getbit("b", 1000).await.unwrap());
    assert_eq!(c.get("b").await.unwrap(), Some(Bytes::from_static(b"\x01")));
    c.set("f", "foobar").await.unwrap();
    assert_eq!(c.bitcount("f", None).await.unwrap(), 26);
    assert_eq!(c.bitcount("f", Some((1, 1, BitUnit::Byte))).await.unwrap(), 6);
    assert_eq!(c.bitcount("f", Some((5, 30, BitUnit::Bit))).await.unwrap(), 17);
    server.shutdown().await;
}

#[test]
fn blocking_mirror() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt.block_on(Server::start(ServerConfig::loopback(0))).expect("server starts");
    let addr = server.local_addr().to_string();
    std::thread::spawn(move || {
        use shale::client::blocking::Client;
        let c = Client::connect(addr).expect("connects");
        assert_eq!(c.incr("n").unwrap(), 1);
        assert_eq!(c.incr_by("n", 4).unwrap(), 5);
        assert_eq!(c.decr("n").unwrap(), 4);
        assert_eq!(c.decr_by("n", 4).unwrap(), 0);
        assert_eq!(c.incr_by_float("n", 1.5).unwrap(), 1.5);
        assert_eq!(c.append("s", "ab").unwrap(), 2);
        assert_eq!(c.strlen("s").unwrap(), 2);
        assert_eq!(c.get_range("s", 1, 1).unwrap(), "b");
        assert_eq!(c.set_range("s", 2, "c").unwrap(), 3);
        assert_eq!(c.get_set("s", "x").unwrap(), b("abc"));
        assert_eq!(c.get_ex("s", GetExpiry::Persist).unwrap(), b("x"));
        assert_eq!(c.get_del("s").unwrap(), b("x"));
        assert!(c.set_nx("s", "y").unwrap());
        c.set_ex("e", "v", Duration::from_secs(60)).unwrap();
        assert_eq!(
            c.set_options("e", "w", SetOptions::new().get()).unwrap(),
            SetResult::Previous(b("v"))
        );
        assert!(c.mset_nx([("m1", "1")]).unwrap());
        assert!(!c.setbit("bits", 0, true).unwrap());
        assert!(c.getbit("bits", 0).unwrap());
        assert_eq!(c.bitcount("bits", None).unwrap(), 1);
    })
    .join()
    .expect("blocking calls passed");
    rt.block_on(server.shutdown());
}
