//! Replicas that converge: versioned last-writer-wins, hinted handoff, read-your-writes,
//! shard copy on restart and on map changes. Nodes are real `shale server` processes so
//! they can be killed, stopped and restarted on their own port.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Bin, Proc, Text, WAIT, free_port, temp_file, until};
use shale::client::Client;
use shale::protocol::Status;
use shale::protocol::binary::versioned_frame;
use shale::router::{Router, RouterConfig, RunningRouter};
use shale::shardmap::ShardMap;

/// A one-shard map over named nodes on fixed ports; every node hosts shard 1.
fn map_json(nodes: &[(&str, u16)], shard1: &[&str]) -> String {
    let mut b = ShardMap::builder(1);
    for (name, port) in nodes {
        b = b.node(name, "127.0.0.1", *port);
    }
    b.shard(1, shard1).build().unwrap().to_json()
}

/// Starts (or restarts) one node and waits until it is ready: a node that joins a running
/// cluster copies its shards from its peers first.
fn node(map: &Path, name: &str, port: u16) -> Proc {
    let p = spawn(map, name, port);
    p.wait_log("node ready");
    p
}

fn spawn(map: &Path, name: &str, port: u16) -> Proc {
    Proc::spawn_on(&["server", "--shardmap", map.to_str().unwrap(), "--node", name], port)
}

/// Starts a brand-new cluster: every node at once (a new node waits until every node of the
/// map has answered, so it knows nobody holds data it should copy), then waits until ready.
fn cluster(map: &Path, nodes: &[(&str, u16)]) -> Vec<Proc> {
    let procs: Vec<Proc> = nodes.iter().map(|(n, p)| spawn(map, n, *p)).collect();
    for p in &procs {
        p.wait_log("node ready");
    }
    procs
}

async fn router(map: &Path) -> RunningRouter {
    Router::start(RouterConfig::loopback(0, map)).await.unwrap()
}

async fn client(addr: std::net::SocketAddr) -> Client {
    Client::builder().addr(addr.to_string()).request_timeout(WAIT).connect().await.unwrap()
}

fn started(path: &Path, pa: u16, pb: u16) -> [Proc; 2] {
    let procs = cluster(path, &[("a", pa), ("b", pb)]);
    procs.try_into().unwrap_or_else(|_| unreachable!())
}

fn two_nodes() -> (PathBuf, u16, u16) {
    let (pa, pb) = (free_port(), free_port());
    let path = temp_file("map.json", &map_json(&[("a", pa), ("b", pb)], &["a", "b"]));
    (path, pa, pb)
}

#[tokio::test]
async fn killed_replica_catches_up_after_restart() {
    let (path, pa, pb) = two_nodes();
    let [a, b] = started(&path, pa, pb);
    let r = router(&path).await;
    let c = client(r.local_addr()).await;
    for i in 0..50 {
        c.set(format!("k{i}"), "before").await.unwrap();
    }
    b.signal("-KILL");
    drop(b);
    let (mut partial, mut ok) = (0, 0);
    for i in 0..1000 {
        match c.set(format!("k{i}"), format!("v{i}")).await {
            Ok(()) => ok += 1,
            Err(e) if e.status() == Some(Status::Partial) => partial += 1,
            Err(e) => panic!("write {i} failed outright: {e}"),
        }
    }
    assert_eq!(ok + partial, 1000);
    for i in 0..100 {
        c.del(format!("k{}", i * 10)).await.ok();
    }
    let b = node(&path, "b", pb);
    let (da, db) = (client(a.addr).await, client(b.addr).await);
    // After readmission and hint replay both replicas hold exactly the same data.
    let same = until(|| async {
        for i in 0..1000 {
            let key = format!("k{i}");
            let (va, vb) = (da.get(key.clone()).await, db.get(key).await);
            match (va, vb) {
                (Ok(x), Ok(y)) if x == y => {}
                _ => return false,
            }
        }
        true
    })
    .await;
    assert!(same, "replicas converged");
    for i in 0..1000 {
        let want = (i % 10 != 0).then(|| format!("v{i}"));
        let got = db.get(format!("k{i}")).await.unwrap();
        assert_eq!(got.as_deref(), want.as_deref().map(str::as_bytes), "k{i}");
    }
    r.shutdown().await;
    drop(a);
}

#[tokio::test]
async fn reordered_versioned_writes_converge() {
    let (path, pa, pb) = two_nodes();
    let [a, b] = started(&path, pa, pb);
    let (mut ca, mut cb) = (Bin::connect(a.addr).await, Bin::connect(b.addr).await);
    let frames = [
        versioned_frame("k".into(), Some(b"old"), 0, 100),
        versioned_frame("k".into(), Some(b"new"), 0, 200),
        versioned_frame("gone".into(), Some(b"x"), 0, 100),
        versioned_frame("gone".into(), None, 0, 300),
        versioned_frame("gone".into(), Some(b"late"), 0, 200),
    ];
    // A write older than what a replica holds answers STALE (with the version held).
    for f in &frames {
        let r = ca.call(f.opcode, &f.key, &f.value, f.ttl_ms).await;
        assert!(matches!(r.status(), Some(Status::Ok | Status::Stale)), "{r:?}");
    }
    for f in frames.iter().rev() {
        let r = cb.call(f.opcode, &f.key, &f.value, f.ttl_ms).await;
        assert!(matches!(r.status(), Some(Status::Ok | Status::Stale)), "{r:?}");
    }
    for c in [&mut ca, &mut cb] {
        assert_eq!(&c.call(0x02, b"k", b"", 0).await.payload[..], b"new");
        assert_eq!(c.call(0x02, b"gone", b"", 0).await.status(), Some(Status::NotFound));
    }
}

#[tokio::test]
async fn reads_see_acknowledged_writes_while_hints_are_pending() {
    let (path, pa, pb) = two_nodes();
    let [_a, b] = started(&path, pa, pb);
    let r = router(&path).await;
    let mut c = Text::connect(r.local_addr()).await;
    c.roundtrip(b"SET k old\r\n", b"+OK\r\n").await;
    b.stop();
    c.send(b"SET k new\r\n").await;
    let got = c.read_until(b"\r\n").await;
    assert!(got.starts_with(b"-PARTIAL 1/2"), "{}", String::from_utf8_lossy(&got));
    b.signal("-CONT");
    // b still holds "old" until its hint is replayed; no read may return it.
    for _ in 0..300 {
        c.roundtrip(b"GET k\r\n", b"$3\r\nnew\r\n").await;
    }
    let db = client(b.addr).await;
    assert!(
        until(|| async { db.get("k").await.ok().flatten().as_deref() == Some(&b"new"[..]) }).await
    );
    r.shutdown().await;
}

#[tokio::test]
async fn restart_copy_keeps_remaining_ttl() {
    let (path, pa, pb) = two_nodes();
    let [a, b] = started(&path, pa, pb);
    let r = router(&path).await;
    let c = client(r.local_addr()).await;
    c.set_ttl("short", "v", Duration::from_secs(3)).await.unwrap();
    c.set_ttl("long", "v", Duration::from_secs(600)).await.unwrap();
    c.set("forever", "v").await.unwrap();
    r.shutdown().await;
    b.signal("-KILL");
    drop(b);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b = node(&path, "b", pb);
    let db = client(b.addr).await;
    let short = db.ttl("short").await.unwrap().flatten().expect("copied with a TTL");
    assert!(short <= Duration::from_millis(1600), "remaining TTL kept, not reset: {short:?}");
    let long = db.ttl("long").await.unwrap().flatten().expect("copied with a TTL");
    assert!(long > Duration::from_secs(590) && long <= Duration::from_secs(599));
    assert_eq!(db.ttl("forever").await.unwrap(), Some(None));
    // The copy never outlives the source.
    assert!(until(|| async { db.get("short").await.ok().flatten().is_none() }).await);
    drop(a);
}

#[tokio::test]
async fn shard_removed_and_readded_never_resurrects() {
    let (pa, pb) = (free_port(), free_port());
    let nodes = [("a", pa), ("b", pb)];
    let path = temp_file("map.json", &map_json(&nodes, &["a", "b"]));
    let [a, b] = started(&path, pa, pb);
    let r = router(&path).await;
    let c = client(r.local_addr()).await;
    c.set("k", "first").await.unwrap();
    let db = client(b.addr).await;
    assert_eq!(db.get("k").await.unwrap().as_deref(), Some(&b"first"[..]));
    // Remove shard 1 from b: its data is dropped and it answers WRONG_SHARD at once.
    std::fs::write(&path, map_json(&nodes, &["a"])).unwrap();
    common::reload_to_file(&r, &path).await;
    assert!(
        until(|| async {
            matches!(db.get("k").await, Err(e) if e.status() == Some(Status::WrongShard))
        })
        .await
    );
    c.set("k", "second").await.unwrap();
    c.del("k").await.unwrap();
    c.set("other", "x").await.unwrap();
    // Re-add it: b copies from a and must never serve "first" again.
    std::fs::write(&path, map_json(&nodes, &["a", "b"])).unwrap();
    common::reload_to_file(&r, &path).await;
    let copied = until(|| async { db.get("other").await.ok().flatten().is_some() }).await;
    assert!(copied, "b serves the shard again after copying it");
    assert_eq!(db.get("k").await.unwrap(), None, "deleted key not resurrected");
    for _ in 0..50 {
        match db.get("k").await {
            Ok(None) => {}
            other => panic!("b served {other:?} for a deleted key"),
        }
    }
    r.shutdown().await;
    drop(a);
}

#[tokio::test]
async fn hints_lost_with_a_router_restart_are_repaired() {
    let (path, pa, pb) = two_nodes();
    let [_a, b] = started(&path, pa, pb);
    let r1 = router(&path).await;
    let mut c = Text::connect(r1.local_addr()).await;
    c.roundtrip(b"SET k old\r\n", b"+OK\r\n").await;
    b.stop();
    c.send(b"SET k new\r\n").await;
    let got = c.read_until(b"\r\n").await;
    assert!(got.starts_with(b"-PARTIAL"), "{}", String::from_utf8_lossy(&got));
    // The router goes away with b's hint; b comes back without restarting (no copy).
    r1.shutdown().await;
    b.signal("-CONT");
    let r2 = router(&path).await;
    let mut c = Text::connect(r2.local_addr()).await;
    for _ in 0..200 {
        c.roundtrip(b"GET k\r\n", b"$3\r\nnew\r\n").await;
    }
    let db = client(b.addr).await;
    assert!(
        until(|| async { db.get("k").await.ok().flatten().as_deref() == Some(&b"new"[..]) }).await
    );
    r2.shutdown().await;
}
