//! Failure handling: servers that die, restart, hang or send garbage. Every wait is
//! bounded; the invariants are "no hang" and "no reply ever reaches the wrong caller".
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::WAIT;
use futures_util::future::join_all;
use shale::client::{Client, Connection, ConnectionConfig, Error, ReconnectPolicy};
use shale::protocol::binary::{RequestFrame, ResponseFrame};
use shale::server::{Server, ServerConfig};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        base: Duration::from_millis(10),
        max: Duration::from_millis(200),
        jitter: true,
    }
}

fn client(addr: impl ToString) -> Client {
    let b =
        Client::builder().addr(addr.to_string()).request_timeout(WAIT).reconnect(fast_reconnect());
    b.build().expect("valid config")
}

/// Retries `get(key)` until it succeeds (connection errors allowed meanwhile), bounded by WAIT.
async fn get_eventually(client: &Client, key: &str) -> Option<Bytes> {
    let deadline = Instant::now() + WAIT;
    loop {
        match client.get(key.to_owned()).await {
            Ok(v) => return v,
            Err(e) if e.is_connection_error() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("no recovery: {e}"),
        }
    }
}

/// GETs `key` in a task of its own, returning the key with the result.
fn spawn_get(c: &Client, key: String) -> JoinHandle<(String, Result<Option<Bytes>, Error>)> {
    let c = c.clone();
    tokio::spawn(async move {
        let got = c.get(key.clone()).await;
        (key, got)
    })
}

/// Reads and discards until the peer closes; true if it did within WAIT.
async fn drain_until_closed(stream: &mut TcpStream) -> bool {
    let mut sink = vec![0u8; 4096];
    let read = async { while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {} };
    tokio::time::timeout(WAIT, read).await.is_ok()
}

#[tokio::test]
async fn in_flight_requests_fail_when_the_server_drops_the_connection() {
    let fake = common::fake_server(|index, mut stream| async move {
        if index == 0 {
            let mut buf = BytesMut::new();
            let _ = common::read_requests(&mut stream, &mut buf, 5).await;
            return; // Drops the connection with five requests unanswered.
        }
        common::serve_answers(stream).await
    })
    .await;
    let c = client(fake.addr);
    let tasks: Vec<_> = (0..5).map(|i| spawn_get(&c, format!("k{i}"))).collect();
    for task in tasks {
        let (_, got) = task.await.unwrap();
        let e = got.expect_err("connection died");
        assert!(e.is_connection_error() && e.is_retryable(), "{e}");
    }
    assert_eq!(get_eventually(&c, "back").await.as_deref(), Some(&b"back"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_on_the_same_port() {
    let server = common::start().await;
    let addr = server.local_addr();
    let c = client(addr);
    c.set("before", "1").await.unwrap();
    let load: Vec<_> = (0..16)
        .map(|t| {
            let c = c.clone();
            tokio::spawn(async move {
                for i in 0..1_000_000 {
                    if let Err(e) = c.set(format!("t{t}-{i}"), "v").await {
                        return Some(e);
                    }
                }
                None
            })
        })
        .collect();
    assert!(server.shutdown().await, "server drained in time");
    for task in load {
        let e = task.await.unwrap().expect("the loop saw the server go");
        assert!(e.is_connection_error(), "unexpected error kind: {e}");
    }
    let server = Server::start(ServerConfig::loopback(addr.port())).await.expect("rebinds");
    assert_eq!(get_eventually(&c, "before").await, None, "a fresh store");
    c.set("after", "2").await.unwrap();
    assert_eq!(c.get("after").await.unwrap().as_deref(), Some(&b"2"[..]));
    assert!(c.metrics().reconnects >= 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_that_never_replies_times_out_without_hanging() {
    let fake = common::fake_server(|_, mut stream| async move {
        drain_until_closed(&mut stream).await;
    })
    .await;
    let timeout = Duration::from_millis(200);
    let c = client(fake.addr).with_timeout(timeout);
    let started = Instant::now();
    let calls = (0..10).map(|i| c.get(format!("k{i}")));
    let results = tokio::time::timeout(WAIT, join_all(calls)).await.expect("no hang");
    let elapsed = started.elapsed();
    for r in results {
        assert!(r.as_ref().is_err_and(Error::is_timeout), "{r:?}");
    }
    assert!(elapsed >= timeout && elapsed < timeout + Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(c.metrics().timeouts, 10);
}

fn get_frame(key: &'static str) -> RequestFrame {
    RequestFrame { opcode: 0x02, key: Bytes::from_static(key.as_bytes()), ..Default::default() }
}

/// A server answering requests one at a time, the key "slow" after 300 ms.
async fn slow_key_server() -> common::Fake {
    common::fake_server(|_, mut stream| async move {
        let mut buf = BytesMut::new();
        while let Some(reqs) = common::read_requests(&mut stream, &mut buf, 1).await {
            if reqs[0].key.as_ref() == b"slow" {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            common::write_replies(&mut stream, &[common::answer(&reqs[0])]).await;
        }
    })
    .await
}

#[tokio::test]
async fn late_reply_after_a_timeout_is_dropped_not_misdelivered() {
    let fake = slow_key_server().await;
    let conn =
        Connection::connect(&fake.addr.to_string(), &ConnectionConfig::default()).await.unwrap();
    let e = conn.call(get_frame("slow"), Duration::from_millis(50)).await.unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(conn.in_flight(), 1, "the abandoned id stays reserved until its reply");
    let reply = conn.call(get_frame("fresh"), WAIT).await.unwrap();
    assert_eq!(reply.payload.as_ref(), b"fresh");
    assert_eq!(conn.in_flight(), 0);
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn a_batch_past_its_deadline_times_out_and_its_late_replies_are_dropped() {
    let fake = slow_key_server().await;
    let conn =
        Connection::connect(&fake.addr.to_string(), &ConnectionConfig::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
    let frames = vec![get_frame("slow"), get_frame("after")];
    let outcomes = conn.call_batch_until(frames, deadline).await;
    assert_eq!(outcomes.len(), 2);
    for o in &outcomes {
        assert!(o.as_ref().is_err_and(Error::is_timeout), "{o:?}");
    }
    assert_eq!(conn.in_flight(), 2, "the abandoned ids stay reserved until their replies");
    // A batch whose future is dropped abandons its requests too.
    let frames = vec![get_frame("slow"), get_frame("b")];
    let far = tokio::time::Instant::now() + WAIT;
    let dropped =
        tokio::time::timeout(Duration::from_millis(50), conn.call_batch_until(frames, far)).await;
    assert!(dropped.is_err());
    assert_eq!(conn.in_flight(), 4);
    let frames = vec![get_frame("fresh"), get_frame("fresher")];
    let outcomes = conn.call_batch_until(frames, tokio::time::Instant::now() + WAIT).await;
    let payloads: Vec<_> = outcomes.into_iter().map(|o| o.unwrap().payload).collect();
    assert_eq!(payloads, [&b"fresh"[..], &b"fresher"[..]]);
    assert_eq!(conn.in_flight(), 0);
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn abandoned_requests_are_bounded() {
    let fake = common::fake_server(|_, mut stream| async move {
        drain_until_closed(&mut stream).await;
    })
    .await;
    let cfg = ConnectionConfig { max_abandoned: 4, ..Default::default() };
    let conn = Connection::connect(&fake.addr.to_string(), &cfg).await.unwrap();
    // A caller that drops its future (here: an outer timeout) abandons the request too.
    let dropped =
        tokio::time::timeout(Duration::from_millis(50), conn.call(get_frame("a"), WAIT)).await;
    assert!(dropped.is_err());
    assert_eq!(conn.in_flight(), 1);
    for _ in 0..4 {
        let e = conn.call(get_frame("b"), Duration::from_millis(20)).await.unwrap_err();
        assert!(e.is_timeout(), "{e}");
    }
    assert!(conn.is_closed(), "five abandoned requests exceed the limit of four");
    assert_eq!(conn.in_flight(), 0);
    let e = conn.call(get_frame("c"), WAIT).await.unwrap_err();
    assert!(matches!(e, Error::ConnectionClosed { .. }), "{e}");
}

/// Garbage variants, sent right after one correct reply.
fn garbage(kind: &str, reqs: &[RequestFrame]) -> BytesMut {
    let mut out = BytesMut::new();
    let frame = |status, id, payload: &'static [u8]| ResponseFrame {
        status,
        flags: 0,
        id,
        payload: Bytes::from_static(payload),
    };
    match kind {
        // Protocol version 9: the frame can't be parsed.
        "undecodable" => out.extend_from_slice(&[0, 0, 0, 8, 9, 0, 0, 0, 0, 0, 0, 1]),
        "unknown id" => frame(0, 0x00ab_cdef, b"who?").encode(&mut out),
        // The server's fatal error arrives with id 0, which no request ever uses.
        "fatal id 0" => frame(0x80, 0, b"protocol error").encode(&mut out),
        // A defined id, but a status byte that does not exist.
        "bad status" => frame(0x55, reqs[1].id, b"").encode(&mut out),
        other => panic!("unknown garbage kind {other}"),
    }
    out
}

async fn garbage_scenario(kind: &'static str) {
    let client_closed = Arc::new(AtomicBool::new(false));
    let closed = client_closed.clone();
    let fake = common::fake_server(move |index, mut stream| {
        let closed = closed.clone();
        async move {
            if index > 0 {
                return common::serve_answers(stream).await;
            }
            let mut buf = BytesMut::new();
            let reqs = common::read_requests(&mut stream, &mut buf, 3).await.expect("3 requests");
            common::write_replies(&mut stream, &[common::answer(&reqs[0])]).await;
            let junk = garbage(kind, &reqs);
            let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, &junk).await;
            closed.store(drain_until_closed(&mut stream).await, Ordering::Relaxed);
        }
    })
    .await;
    let c = client(fake.addr);
    let tasks: Vec<_> = ["a", "b", "c"].iter().map(|k| spawn_get(&c, k.to_string())).collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            (k, Ok(v)) => {
                assert_eq!(v.as_deref(), Some(k.as_bytes()), "{kind}: misdelivered reply");
                ok += 1;
            }
            (_, Err(e)) => assert!(e.is_connection_error(), "{kind}: {e}"),
        }
    }
    assert_eq!(ok, 1, "{kind}: only the reply before the garbage is delivered");
    // After the reset, a good connection serves correct values.
    assert_eq!(get_eventually(&c, "after").await.as_deref(), Some(&b"after"[..]), "{kind}");
    for k in ["x", "y", "z"] {
        assert_eq!(c.get(k).await.unwrap().as_deref(), Some(k.as_bytes()), "{kind}");
    }
    let closed = common::eventually(|| client_closed.load(Ordering::Relaxed)).await;
    assert!(closed, "{kind}: the client closed the bad connection");
}

#[tokio::test]
async fn garbage_replies_reset_the_connection_without_misdelivery() {
    for kind in ["undecodable", "unknown id", "fatal id 0", "bad status"] {
        garbage_scenario(kind).await;
    }
}

#[tokio::test]
async fn dropping_every_clone_closes_the_connection() {
    let closed = Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
    let fake = common::fake_server(move |_, mut stream| {
        let flag = flag.clone();
        async move {
            let mut buf = BytesMut::new();
            if let Some(reqs) = common::read_requests(&mut stream, &mut buf, 1).await {
                common::write_replies(&mut stream, &[common::answer(&reqs[0])]).await;
            }
            flag.store(drain_until_closed(&mut stream).await, Ordering::Relaxed);
        }
    })
    .await;
    let c = client(fake.addr);
    let clone = c.with_timeout(WAIT);
    assert_eq!(clone.get("k").await.unwrap().as_deref(), Some(&b"k"[..]));
    drop(c);
    drop(clone);
    assert!(common::eventually(|| closed.load(Ordering::Relaxed)).await, "connection closed");
}

/// With a writer queue of one, nearly every request finds it full and waits for room
/// (the slow path of submitting); all of them still get their own reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_writer_queue_makes_requests_wait_not_fail() {
    let server = common::start().await;
    let cfg = ConnectionConfig { queue_depth: 1, ..Default::default() };
    let conn = Arc::new(Connection::connect(&server.local_addr().to_string(), &cfg).await.unwrap());
    let calls = (0..300).map(|i| {
        let conn = Arc::clone(&conn);
        let frame =
            RequestFrame { opcode: 0x02, key: Bytes::from(format!("k{i}")), ..Default::default() };
        async move { (i, conn.call(frame, WAIT).await) }
    });
    for (i, outcome) in join_all(calls).await {
        assert!(outcome.is_ok(), "request {i}: {outcome:?}");
    }
    assert_eq!(conn.in_flight(), 0);
    server.shutdown().await;
}
