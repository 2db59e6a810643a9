//! maxmemory and eviction through a real server: noeviction answers OOM to writes once
//! full (deletes still work); clock evicts so memory stays within the limit.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{Bin, Text, start_with};
use shale::protocol::Status;
use shale::store::EvictionPolicy;

const LIMIT: usize = 256 * 1024;

#[tokio::test]
async fn noeviction_answers_oom_when_full() {
    let server = start_with(|c| {
        c.store.shards = 1;
        c.store_options.maxmemory = LIMIT;
        c.store_options.eviction = EvictionPolicy::NoEviction;
    })
    .await;
    let mut t = Text::connect(server.local_addr()).await;
    let value = "v".repeat(1000);
    let mut stored = 0;
    for i in 0..1000 {
        t.send(format!("SET k{i} {value}\r\n").as_bytes()).await;
        let line = t.read_until(b"\r\n").await;
        if line.starts_with(b"-OOM") {
            break;
        }
        assert_eq!(&line[..], b"+OK\r\n");
        stored += 1;
    }
    assert!(stored > 100 && stored < 300, "filled up after {stored} keys");
    assert!(server.store().stats().used_memory <= LIMIT);
    let mut b = Bin::connect(server.local_addr()).await;
    assert_eq!(
        b.call(0x03, b"more", value.as_bytes(), 0).await.status(),
        Some(Status::OutOfMemory)
    );
    t.roundtrip(b"DEL k0 k1 k2\r\n", b":3\r\n").await;
    t.roundtrip(format!("SET again {value}\r\n").as_bytes(), b"+OK\r\n").await;
    t.send(b"INFO\r\n").await;
    let info = String::from_utf8(t.read_until(b"# Keyspace").await).unwrap();
    assert!(info.contains(&format!("maxmemory:{LIMIT}")), "{info}");
    server.shutdown().await;
}

#[tokio::test]
async fn clock_eviction_keeps_memory_within_the_limit() {
    let server = start_with(|c| {
        c.store.shards = 1;
        c.store_options.maxmemory = LIMIT;
        c.store_options.eviction = EvictionPolicy::Clock;
    })
    .await;
    let mut t = Text::connect(server.local_addr()).await;
    let value = "v".repeat(1000);
    for i in 0..2000 {
        t.roundtrip(format!("SET k{i} {value}\r\n").as_bytes(), b"+OK\r\n").await;
        if i % 50 == 0 {
            // A hot key, read often, should survive.
            t.roundtrip(b"SET hot 1\r\n", b"+OK\r\n").await;
        }
        t.roundtrip(b"GET hot\r\n", b"$1\r\n1\r\n").await;
    }
    let stats = server.store().stats();
    assert!(stats.used_memory <= LIMIT, "used {} > {LIMIT}", stats.used_memory);
    assert!(stats.evictions > 1000, "evicted {}", stats.evictions);
    server.shutdown().await;
}
