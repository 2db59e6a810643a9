//! The router end to end over real TCP: routing, read failover, write fan-out, health,
//! map reload. Backends are in-process servers, scripted fake nodes, or (for SIGKILL and
//! SIGSTOP) real `shale server` processes.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::fakenode::{Fake, fake};
use common::{Bin, Proc, Text, WAIT, eventually, start, start_with, temp_file, until};
use shale::protocol::Status;
use shale::router::health::State;
use shale::router::write::WriteAck as AckMode;
use shale::router::{Router, RouterConfig, RunningRouter};
use shale::shardmap::ShardMap;
use shale::store::SetCond;

/// A one-shard map over `nodes` (all replicas of shard 1), written to a temp file.
fn one_shard_map(nodes: &[(&str, SocketAddr)]) -> std::path::PathBuf {
    let mut b = ShardMap::builder(1);
    for (name, addr) in nodes {
        b = b.node(name, &addr.ip().to_string(), addr.port());
    }
    let names: Vec<&str> = nodes.iter().map(|(n, _)| *n).collect();
    temp_file("map.json", &b.shard(1, &names).build().unwrap().to_json())
}

async fn router(map: &std::path::Path, tweak: impl FnOnce(&mut RouterConfig)) -> RunningRouter {
    let mut cfg = RouterConfig::loopback(0, map);
    tweak(&mut cfg);
    Router::start(cfg).await.unwrap()
}

fn hits(server: &shale::server::Server) -> u64 {
    let s = server.store().stats();
    s.get_hits + s.get_misses
}

/// Sends `cmd` and checks that the reply line starts with `prefix`.
async fn expect_prefix(c: &mut Text, cmd: &[u8], prefix: &[u8]) {
    c.send(cmd).await;
    let got = c.read_until(b"\r\n").await;
    assert!(got.starts_with(prefix), "{}", String::from_utf8_lossy(&got));
}

#[tokio::test]
async fn gets_split_evenly_between_equal_replicas() {
    let (a, b) = (start().await, start().await);
    let map = one_shard_map(&[("n1", a.local_addr()), ("n2", b.local_addr())]);
    let r = router(&map, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    c.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    assert_eq!((a.store().len(), b.store().len()), (1, 1), "the write reached both replicas");
    for _ in 0..100 {
        c.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n").await;
    }
    let (ha, hb) = (hits(&a), hits(&b));
    assert_eq!(ha + hb, 100);
    assert!((36..=64).contains(&ha), "split {ha}/{hb}");
    r.shutdown().await;
}

#[tokio::test]
async fn an_erroring_replica_is_tried_and_the_get_succeeds_via_the_other() {
    let (bad, bad_count, _c1) = fake(Fake { fail_gets: true, ..Default::default() }).await;
    let (good, _, _c2) = fake(Fake::default()).await;
    let map = one_shard_map(&[("bad", bad), ("good", good)]);
    let r = router(&map, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    for _ in 0..50 {
        c.roundtrip(b"GET k\r\n", b"$4\r\nfake\r\n").await;
    }
    assert!(bad_count.load(Ordering::Relaxed) >= 1, "the bad replica was tried");
    r.shutdown().await;
}

#[tokio::test]
async fn a_map_with_a_shard_without_replicas_is_refused_at_start() {
    let a = start().await;
    let map = ShardMap::builder(2)
        .node("n1", "127.0.0.1", a.local_addr().port())
        .shard(1, &["n1"])
        .build()
        .unwrap();
    let path = temp_file("map.json", &map.to_json());
    let err = Router::start(RouterConfig::loopback(0, &path)).await.unwrap_err();
    assert!(err.to_string().contains("shard 2 has no replicas"), "{err}");
}

#[tokio::test]
async fn writes_reach_every_replica_once_concurrently() {
    let mut nodes = Vec::new();
    let mut counts = Vec::new();
    let mut keep = Vec::new();
    for i in 0..10 {
        let (addr, count, cancel) =
            fake(Fake { delay: Duration::from_millis(300), ..Default::default() }).await;
        nodes.push((format!("n{i}"), addr));
        counts.push(count);
        keep.push(cancel);
    }
    let named: Vec<(&str, SocketAddr)> = nodes.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    let map = one_shard_map(&named);
    let r = router(&map, |c| {
        c.timeouts.write = Duration::from_secs(5);
        c.timeouts.request = Duration::from_secs(10);
    })
    .await;
    let mut c = Bin::connect(r.local_addr()).await;
    for (op, name) in [(0x03, "SET"), (0x04, "DEL")] {
        let started = std::time::Instant::now();
        let resp = c.call(op, b"k", b"v", 0).await;
        let took = started.elapsed();
        assert_eq!(
            resp.status(),
            Some(Status::Ok),
            "{name}: {}",
            String::from_utf8_lossy(&resp.payload)
        );
        // Ten 300 ms replicas one after another would take 3 s.
        assert!(took < Duration::from_millis(2500), "{name} took {took:?}: not concurrent");
    }
    for count in &counts {
        assert_eq!(count.load(Ordering::Relaxed), 2, "one SET and one DEL per replica");
    }
    r.shutdown().await;
}

#[tokio::test]
async fn writes_after_an_ejection_are_ok_by_default_and_partial_with_ack_all() {
    let a = start().await;
    // A port with nothing listening: bind, note the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let map = one_shard_map(&[("n1", a.local_addr()), ("n2", dead)]);
    // Default (healthy): a refused connection ejects n2 at once, so the write is OK, and n2
    // gets a hint.
    let r = router(&map, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    for _ in 0..20 {
        c.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    }
    let n2 = r.router().topology().backend("n2").cloned().unwrap();
    assert!(n2.health().is_ejected() && !n2.hints().is_empty(), "n2 ejected and hinted");
    r.shutdown().await;
    // With --write-ack all the same write is PARTIAL, naming the replica that missed it.
    let r = router(&map, |c| c.write_ack = AckMode::All).await;
    let mut c = Text::connect(r.local_addr()).await;
    expect_prefix(&mut c, b"SET k v\r\n", b"-PARTIAL 1/2 replicas acked; failed: n2").await;
    r.shutdown().await;
}

#[tokio::test]
async fn partial_and_unavailable_writes_are_reported() {
    let a = start().await;
    // A port with nothing listening: bind, note the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let map = one_shard_map(&[("n1", a.local_addr()), ("n2", dead)]);
    let r = router(&map, |c| c.write_ack = AckMode::All).await;
    let mut c = Text::connect(r.local_addr()).await;
    expect_prefix(&mut c, b"SET k v\r\n", b"-PARTIAL 1/2 replicas acked; failed: n2").await;
    assert_eq!(a.store().get(b"k").as_deref(), Some(&b"v"[..]), "the live replica has it");
    a.shutdown().await;
    expect_prefix(&mut c, b"SET k v\r\n", b"-UNAVAILABLE no replica of shard 1 acked").await;
    r.shutdown().await;
}

#[tokio::test]
async fn map_reload_moves_traffic() {
    let (a, b) = (start().await, start().await);
    let path = one_shard_map(&[("n1", a.local_addr())]);
    let r = router(&path, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    c.roundtrip(b"SET k 1\r\n", b"+OK\r\n").await;
    // n1 stays in "nodes" (a node still hosting shards may not vanish from the map in the
    // same change that moves them); shard 1 moves to n2.
    let moved = ShardMap::builder(1)
        .node("n1", "127.0.0.1", a.local_addr().port())
        .node("n2", "127.0.0.1", b.local_addr().port())
        .shard(1, &["n2"])
        .build()
        .unwrap();
    std::fs::write(&path, moved.to_json()).unwrap();
    common::reload_to_file(&r, &path).await;
    c.roundtrip(b"SET k 2\r\n", b"+OK\r\n").await;
    assert_eq!(a.store().get(b"k").as_deref(), Some(&b"1"[..]));
    assert_eq!(b.store().get(b"k").as_deref(), Some(&b"2"[..]));
    // An invalid map keeps the last good one.
    std::fs::write(&path, "{ not json").unwrap();
    assert!(r.reload().is_err());
    c.roundtrip(b"GET k\r\n", b"$1\r\n2\r\n").await;
    r.shutdown().await;
}

#[tokio::test]
async fn server_with_a_shard_map_rejects_unhosted_shards() {
    // "abc" is in shard 4 of 8; n1 hosts it, n2 does not.
    let (p1, p2) = (common::free_port(), common::free_port());
    let mut map = ShardMap::builder(8).node("n1", "127.0.0.1", p1).node("n2", "127.0.0.1", p2);
    for s in 1..=8 {
        map = map.shard(s, if s == 4 { &["n1"] } else { &["n2"] });
    }
    let path = temp_file("map.json", &map.build().unwrap().to_json());
    let p = path.to_str().unwrap();
    let n2 = Proc::spawn_on(&["server", "--shardmap", p, "--node", "n2"], p2);
    let mut t = Text::connect(n2.addr).await;
    t.send(b"SET abc v\r\n").await;
    let got = t.read_until(b"\r\n").await;
    assert!(got.starts_with(b"-WRONGSHARD shard 4"), "{}", String::from_utf8_lossy(&got));
    let mut b = Bin::connect(n2.addr).await;
    assert_eq!(b.call(0x02, b"abc", b"", 0).await.status(), Some(Status::WrongShard));
    let n1 = Proc::spawn_on(&["server", "--shardmap", p, "--node", "n1"], p1);
    n1.wait_log("node ready");
    let mut t1 = Text::connect(n1.addr).await;
    t1.roundtrip(b"SET abc v\r\n", b"+OK\r\n").await;
}

/// Two real server processes behind a router, with a key stored on both.
async fn two_process_replicas() -> (Proc, Proc, RunningRouter) {
    let a = Proc::spawn(&["server"]);
    let b = Proc::spawn(&["server"]);
    let map = one_shard_map(&[("a", a.addr), ("b", b.addr)]);
    let r = router(&map, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    c.roundtrip(b"SET k v\r\n", b"+OK\r\n").await;
    (a, b, r)
}

fn state_of(r: &RunningRouter, name: &str) -> State {
    let topo = r.router().topology();
    topo.backends().into_iter().find(|b| b.name() == name).map(|b| b.health().state()).unwrap()
}

#[tokio::test]
async fn sigkill_of_a_replica_fails_no_get() {
    let (a, _b, r) = two_process_replicas().await;
    let mut c = Bin::connect(r.local_addr()).await;
    let mut failed = 0;
    for i in 0..600 {
        if i == 100 {
            a.signal("-KILL");
        }
        if c.call(0x02, b"k", b"", 0).await.status() != Some(Status::Ok) {
            failed += 1;
        }
    }
    assert_eq!(failed, 0);
    assert!(eventually(|| state_of(&r, "a") != State::Up).await, "the dead node was ejected");
    r.shutdown().await;
}

#[tokio::test]
async fn sigstop_is_detected_avoided_and_readmitted_after_sigcont() {
    let (a, _b, r) = two_process_replicas().await;
    a.stop();
    // Idle: only the probes can notice.
    assert!(eventually(|| state_of(&r, "a") != State::Up).await, "hung node ejected");
    let mut c = Bin::connect(r.local_addr()).await;
    for _ in 0..50 {
        let started = std::time::Instant::now();
        assert_eq!(c.call(0x02, b"k", b"", 0).await.status(), Some(Status::Ok));
        assert!(started.elapsed() < WAIT / 2, "reads avoid the hung node");
    }
    a.signal("-CONT");
    let deadline = std::time::Instant::now() + 2 * WAIT;
    while state_of(&r, "a") != State::Up && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state_of(&r, "a"), State::Up, "readmitted after SIGCONT");
    r.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_on_one_key_keep_their_order() {
    let (a, b) = (start().await, start().await);
    let map = one_shard_map(&[("n1", a.local_addr()), ("n2", b.local_addr())]);
    let r = router(&map, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    for i in 0..100 {
        let cmds = format!(
            "SET k{i} one\r\nGET k{i}\r\nSET k{i} two\r\nGET k{i}\r\nDEL k{i}\r\nGET k{i}\r\n"
        );
        c.send(cmds.as_bytes()).await;
        c.expect(b"+OK\r\n$3\r\none\r\n+OK\r\n$3\r\ntwo\r\n:1\r\n$-1\r\n").await;
    }
    // Two SETs of one key pipelined land in the order sent on every replica.
    assert_eq!(a.store().get(b"k99"), None);
    c.send(b"SET last 1\r\nSET last 2\r\nSET last 3\r\n").await;
    c.expect(b"+OK\r\n+OK\r\n+OK\r\n").await;
    for s in [&a, &b] {
        assert_eq!(s.store().get(b"last").as_deref(), Some(&b"3"[..]));
    }
    r.shutdown().await;
}

#[tokio::test]
async fn a_client_gone_mid_request_leaves_no_request_in_flight() {
    // The node takes an hour to answer, and so would the router wait: only dropping the
    // request when its client goes away can bring the node's in-flight count (what p2c
    // reads) back down. The client resets its connection (a killed process, a dropped
    // link); a polite close (FIN) still gets its replies, as a half-closed client would.
    let slow = Fake { delay: Duration::from_secs(3600), ..Default::default() };
    let (node, data_requests, _cancel) = fake(slow).await;
    let map = one_shard_map(&[("n1", node)]);
    let r = router(&map, |cfg| {
        cfg.timeouts.read_try = Duration::from_secs(3600);
        cfg.timeouts.request = Duration::from_secs(3600);
    })
    .await;
    assert!(eventually(|| r.is_ready()).await, "the router took its map");
    let in_flight = || r.router().topology().backend("n1").unwrap().snapshot().in_flight;
    for cmd in [&b"GET k\r\n"[..], b"MGET a b\r\n", b"DBSIZE\r\n"] {
        let what = String::from_utf8_lossy(cmd).into_owned();
        let before = data_requests.load(Ordering::Relaxed);
        let mut c = Text::connect(r.local_addr()).await;
        c.send(cmd).await;
        assert!(eventually(|| data_requests.load(Ordering::Relaxed) > before).await, "{what}");
        assert_eq!(in_flight(), 1, "{what}");
        socket2::SockRef::from(&c.stream).set_linger(Some(Duration::ZERO)).unwrap();
        drop(c);
        assert!(eventually(|| in_flight() == 0).await, "{what}: still in flight");
    }
    r.shutdown().await;
}

/// A router over one node that is not listening yet, with probes ten minutes apart once
/// it is ejected (as if it had been down for hours); returns the router, ejected node's
/// address.
async fn router_before_its_node() -> (RunningRouter, SocketAddr) {
    // A port nothing listens on yet: bound, then freed for the node the test starts.
    let spare = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = spare.local_addr().unwrap();
    drop(spare);
    let map = one_shard_map(&[("n1", addr)]);
    let r = router(&map, |cfg| {
        cfg.health.backoff_base = Duration::from_secs(600);
        cfg.health.backoff_max = Duration::from_secs(600);
    })
    .await;
    assert!(eventually(|| state_of(&r, "n1") != State::Up).await, "nothing listens: ejected");
    (r, addr)
}

/// Whether `GET k` through `c` answers `v` before long (UNAVAILABLE meanwhile).
async fn reads_back(c: &mut Text, want: &[u8]) -> bool {
    until(async || {
        c.send(b"GET k\r\n").await;
        let head = c.read_until(b"\r\n").await;
        head.starts_with(b"$") && c.read_until(b"\r\n").await == want
    })
    .await
}

#[tokio::test]
async fn a_node_that_comes_up_after_the_router_serves_reads_once_it_answers_a_write() {
    let (r, addr) = router_before_its_node().await;
    let _node = start_with(|cfg| cfg.addr = addr).await;
    let mut c = Text::connect(r.local_addr()).await;
    // Writes still go to an ejected node; the first it answers wakes its prober.
    let written = until(async || {
        c.send(b"SET k v\r\n").await;
        c.read_until(b"\r\n").await == b"+OK\r\n"
    })
    .await;
    assert!(written, "the node answers writes");
    assert!(reads_back(&mut c, b"v\r\n").await, "reads long before the next scheduled probe");
    assert_eq!(state_of(&r, "n1"), State::Up);
    r.shutdown().await;
}

#[tokio::test]
async fn reads_that_find_no_replica_bring_the_probes_forward() {
    let (r, addr) = router_before_its_node().await;
    let node = start_with(|cfg| cfg.addr = addr).await;
    node.store().set(b"k", b"v", None, SetCond::Always);
    let mut c = Text::connect(r.local_addr()).await;
    assert!(reads_back(&mut c, b"v\r\n").await, "reads long before the next scheduled probe");
    r.shutdown().await;
}
