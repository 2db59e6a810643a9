//! The binary protocol end to end over real TCP: every opcode, every error class, pipelining,
//! limits and timeouts.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use common::{Bin, WAIT, eventually, frame, start, start_with};
use shale::protocol::Status;
use shale::server::{Server, ServerConfig};
use shale::store::{ManualClock, Store, StoreConfig};
use tokio::io::AsyncWriteExt;

const PING: u8 = 0x01;
const GET: u8 = 0x02;
const SET: u8 = 0x03;
const DEL: u8 = 0x04;
const TTL: u8 = 0x05;
const STATS: u8 = 0x06;

fn status(f: &shale::protocol::binary::ResponseFrame) -> Status {
    f.status().expect("a defined status")
}

#[tokio::test]
async fn every_opcode_round_trips() {
    let server = start().await;
    let mut c = Bin::connect(server.local_addr()).await;
    let pong = c.call(PING, b"", b"echo me", 0).await;
    assert_eq!((status(&pong), &pong.payload[..]), (Status::Ok, &b"echo me"[..]));
    assert_eq!(status(&c.call(GET, b"k", b"", 0).await), Status::NotFound);
    assert_eq!(status(&c.call(SET, b"k", b"v1", 0).await), Status::Ok);
    assert_eq!(&c.call(GET, b"k", b"", 0).await.payload[..], b"v1");
    let ttl = c.call(TTL, b"k", b"", 0).await;
    assert_eq!(&ttl.payload[..], &(-1i64).to_be_bytes());
    c.call(SET, b"k", b"v2", 60_000).await;
    let ttl = c.call(TTL, b"k", b"", 0).await;
    let ms = i64::from_be_bytes(ttl.payload[..].try_into().unwrap());
    assert!((59_000..=60_000).contains(&ms), "{ms}");
    assert_eq!(&c.call(DEL, b"k", b"", 0).await.payload[..], &[1]);
    assert_eq!(&c.call(DEL, b"k", b"", 0).await.payload[..], &[0]);
    assert_eq!(status(&c.call(TTL, b"k", b"", 0).await), Status::NotFound);
    let stats = c.call(STATS, b"", b"", 0).await;
    let text = String::from_utf8(stats.payload.to_vec()).unwrap();
    assert!(text.lines().any(|l| l.starts_with("commands:")), "{text}");
    server.shutdown().await;
}

#[tokio::test]
async fn content_errors_keep_the_connection() {
    let server = start_with(|c| {
        c.net.limits.max_key_size = 16;
        c.net.limits.max_value_size = 64;
    })
    .await;
    let mut c = Bin::connect(server.local_addr()).await;
    // empty key
    assert_eq!(status(&c.call(GET, b"", b"", 0).await), Status::InvalidArgument);
    // key over the limit
    assert_eq!(status(&c.call(GET, &[b'k'; 17], b"", 0).await), Status::KeyTooLarge);
    // value over the limit but the frame still within max frame length
    assert_eq!(status(&c.call(SET, b"k", &[b'v'; 65], 0).await), Status::ValueTooLarge);
    // unknown opcode
    let r = c.call(0x3e, b"k", b"", 0).await;
    assert_eq!(status(&r), Status::UnknownOpcode);
    assert!(!r.payload.is_empty(), "error statuses carry a message");
    // nonzero flags
    let mut f = frame(GET, 9, b"k", b"", 0);
    f.flags = 4;
    let mut out = BytesMut::new();
    f.encode(&mut out);
    c.stream.write_all(&out).await.unwrap();
    let r = c.recv().await.unwrap();
    assert_eq!((status(&r), r.id), (Status::InvalidArgument, 9));
    // a short frame: len 6 with a valid version
    c.stream.write_all(&[0, 0, 0, 6, 1, 2, 0, 0, 0, 0]).await.unwrap();
    assert_eq!(status(&c.recv().await.unwrap()), Status::InvalidArgument);
    // still alive
    assert_eq!(status(&c.call(PING, b"", b"", 0).await), Status::Ok);
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_frame_is_fatal() {
    let server = start_with(|c| {
        c.net.limits.max_key_size = 16;
        c.net.limits.max_value_size = 64;
    })
    .await;
    let mut c = Bin::connect(server.local_addr()).await;
    // len = 1 MiB: over 18 + 16 + FORWARD_OVERHEAD (256), rejected before any of it is sent.
    c.stream.write_all(&[0, 0x10, 0, 0]).await.unwrap();
    let r = c.recv().await.expect("a last error");
    assert_eq!(status(&r), Status::FrameTooLarge);
    assert!(c.recv().await.is_none(), "then closed");
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_after_binary_start_is_fatal_with_protocol_error() {
    let server = start().await;
    let mut c = Bin::connect(server.local_addr()).await;
    // len 4 with version 0x77: the stream can't be trusted any more.
    c.stream.write_all(&[0, 0, 0, 4, 0x77, 1, 2, 3]).await.unwrap();
    assert_eq!(status(&c.recv().await.unwrap()), Status::ProtocolError);
    assert!(c.recv().await.is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn pipelines_ten_thousand_requests_in_order() {
    let server = start().await;
    let mut c = Bin::connect(server.local_addr()).await;
    const N: u32 = 10_000;
    let mut out = BytesMut::new();
    for id in 0..N {
        let key = format!("key{}", (id / 2) % 100); // each GET reads the SET just before it
        let op = if id % 2 == 0 { SET } else { GET };
        frame(op, id, key.as_bytes(), b"value", 0).encode(&mut out);
    }
    let (mut rd, mut wr) = c.stream.into_split();
    let writer = tokio::spawn(async move { wr.write_all(&out).await.map(|_| wr) });
    let mut conn = Bin::from_read(&mut rd);
    for id in 0..N {
        let r = conn.recv().await.expect("response");
        assert_eq!(r.id, id);
        assert_eq!(status(&r), Status::Ok);
    }
    drop(writer.await.unwrap().unwrap());
    c = Bin::connect(server.local_addr()).await;
    let stats = c.call(STATS, b"", b"", 0).await;
    let text = String::from_utf8(stats.payload.to_vec()).unwrap();
    let commands: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("commands:"))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(commands >= u64::from(N));
    server.shutdown().await;
}

async fn manual_server() -> (Server, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let store = Arc::new(Store::with_clock(StoreConfig::default(), clock.clone()));
    let mut cfg = ServerConfig::loopback(0);
    cfg.sweep.pass_interval = Duration::from_millis(50);
    (Server::start_with_store(cfg, store).await.unwrap(), clock)
}

#[tokio::test]
async fn expired_value_is_never_returned() {
    let (server, clock) = manual_server().await;
    let mut c = Bin::connect(server.local_addr()).await;
    c.call(SET, b"k", b"v", 1_000).await;
    clock.advance(Duration::from_millis(999));
    assert_eq!(status(&c.call(GET, b"k", b"", 0).await), Status::Ok);
    clock.advance(Duration::from_millis(1));
    assert_eq!(status(&c.call(GET, b"k", b"", 0).await), Status::NotFound);
    assert_eq!(status(&c.call(TTL, b"k", b"", 0).await), Status::NotFound);
    server.shutdown().await;
}

#[tokio::test]
async fn sweep_reclaims_unread_expired_keys() {
    let (server, clock) = manual_server().await;
    let mut c = Bin::connect(server.local_addr()).await;
    for i in 0..500 {
        c.call(SET, format!("k{i}").as_bytes(), b"v", 1_000).await;
    }
    c.call(SET, b"forever", b"v", 0).await;
    assert_eq!(server.store().len(), 501);
    clock.advance(Duration::from_secs(2));
    // No read of any expired key: only the sweeper can reclaim them.
    let store = server.store().clone();
    assert!(eventually(|| store.len() == 1).await, "swept: {} left", store.len());
    assert_eq!(store.stats().expired_keys, 500);
    server.shutdown().await;
}

#[tokio::test]
async fn half_sent_frame_times_out() {
    let server = start_with(|c| c.net.frame_timeout = Duration::from_millis(200)).await;
    let mut c = Bin::connect(server.local_addr()).await;
    c.stream.write_all(&[0, 0, 0, 30, 1, 2, 0]).await.unwrap();
    let r = c.recv().await.expect("an error before close");
    assert_eq!(status(&r), Status::ProtocolError);
    assert!(c.recv().await.is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_told_and_closed() {
    let server = start_with(|c| c.net.max_connections = 2).await;
    let addr = server.local_addr();
    let mut a = Bin::connect(addr).await;
    let mut b = Bin::connect(addr).await;
    assert_eq!(status(&a.call(PING, b"", b"", 0).await), Status::Ok);
    assert_eq!(status(&b.call(PING, b"", b"", 0).await), Status::Ok);
    let mut c = Bin::connect(addr).await;
    c.send(PING, 5, b"", b"", 0).await;
    let r = c.recv().await.expect("a rejection");
    assert_eq!((status(&r), r.id), (Status::Busy, 5));
    assert!(c.recv().await.is_none());
    // The server is healthy and a slot frees when a client leaves.
    drop(a);
    let ok = eventually(|| {
        server.net_stats().connections.load(std::sync::atomic::Ordering::Relaxed) < 2
    })
    .await;
    assert!(ok);
    let mut d = Bin::connect(addr).await;
    assert_eq!(status(&d.call(PING, b"", b"", 0).await), Status::Ok);
    assert_eq!(status(&b.call(PING, b"", b"", 0).await), Status::Ok);
    server.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_answers_in_flight_then_closes() {
    let server = start().await;
    let addr = server.local_addr();
    let mut c = Bin::connect(addr).await;
    let mut out = BytesMut::new();
    for id in 0..100 {
        frame(SET, id, b"k", b"v", 0).encode(&mut out);
    }
    c.stream.write_all(&out).await.unwrap();
    let first = c.recv().await.expect("first reply");
    assert_eq!(first.id, 0);
    assert!(tokio::time::timeout(WAIT, server.shutdown()).await.unwrap(), "drained in grace");
    let mut got = 1;
    while let Some(r) = c.recv().await {
        assert_eq!(r.id, got);
        got += 1;
    }
    assert_eq!(got, 100, "every pipelined request was answered before close");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer listening");
}
