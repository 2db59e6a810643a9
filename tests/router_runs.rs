//! The router's run-level forwarding (a pipelined turn's GETs and one-key blind writes sent
//! as one write per backend) over real TCP: replies stay in request order and per-key
//! order holds across runs and the requests that cannot join one, and a request whose
//! run attempt fails is forwarded alone (failing over, hinting, reporting) as any other.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::fakenode::{Fake, fake};
use common::{Text, start, temp_file};
use shale::router::{Router, RouterConfig, RunningRouter};
use shale::shardmap::ShardMap;

/// A map of `shards` shards over `nodes`, each shard on every node.
fn map_over(shards: u32, nodes: &[SocketAddr]) -> std::path::PathBuf {
    let mut b = ShardMap::builder(shards);
    let names: Vec<String> = (0..nodes.len()).map(|i| format!("n{i}")).collect();
    for (name, addr) in names.iter().zip(nodes) {
        b = b.node(name, &addr.ip().to_string(), addr.port());
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    for s in 1..=shards {
        b = b.shard(s, &names);
    }
    temp_file("map.json", &b.build().unwrap().to_json())
}

async fn router(map: &std::path::Path, tweak: impl FnOnce(&mut RouterConfig)) -> RunningRouter {
    let mut cfg = RouterConfig::loopback(0, map);
    tweak(&mut cfg);
    Router::start(cfg).await.unwrap()
}

fn bulk(v: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", v.len()).into_bytes();
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
    out
}

/// A deterministic mix of SET, GET, DEL (which travel in runs) and STRLEN and a two-key
/// EXISTS (which do not, and so send the run before them) over few keys, so keys repeat
/// within what one turn decodes; with the replies a single Redis connection would give.
fn mixed_pipeline(n: usize) -> (Vec<u8>, Vec<u8>) {
    let (mut sent, mut want) = (Vec::new(), Vec::new());
    let mut model: HashMap<String, Vec<u8>> = HashMap::new();
    let mut seed = 0x2545_f491_u64;
    for i in 0..n {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let key = format!("k{}", (seed >> 33) % 12);
        match (seed >> 20) % 8 {
            0..=2 => {
                let v = format!("v{i}");
                sent.extend(format!("SET {key} {v}\r\n").bytes());
                want.extend_from_slice(b"+OK\r\n");
                model.insert(key, v.into_bytes());
            }
            3 | 4 => {
                sent.extend(format!("GET {key}\r\n").bytes());
                want.extend(model.get(&key).map_or(b"$-1\r\n".to_vec(), |v| bulk(v)));
            }
            5 => {
                sent.extend(format!("DEL {key}\r\n").bytes());
                let gone = model.remove(&key).is_some();
                want.extend(format!(":{}\r\n", i64::from(gone)).bytes());
            }
            6 => {
                sent.extend(format!("STRLEN {key}\r\n").bytes());
                let len = model.get(&key).map_or(0, Vec::len);
                want.extend(format!(":{len}\r\n").bytes());
            }
            _ => {
                let other = format!("k{}", (seed >> 40) % 12);
                sent.extend(format!("EXISTS {key} {other}\r\n").bytes());
                let n = [&key, &other].iter().filter(|k| model.contains_key(k.as_str())).count();
                want.extend(format!(":{n}\r\n").bytes());
            }
        }
    }
    (sent, want)
}

#[tokio::test]
async fn a_pipelined_mix_is_answered_in_order_as_by_one_redis_connection() {
    let nodes = [start().await, start().await, start().await];
    let addrs: Vec<SocketAddr> = nodes.iter().map(|s| s.local_addr()).collect();
    let map = map_over(2, &addrs);
    let r = router(&map, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    let (sent, want) = mixed_pipeline(600);
    // All of it in one write: the router decodes long turns, cut into runs by repeats.
    c.send(&sent).await;
    c.expect(&want).await;
    // And again in small slices, so turns end at arbitrary points.
    let (sent, want) = mixed_pipeline(300);
    c.send(b"FLUSHALL\r\n").await;
    c.expect(b"+OK\r\n").await;
    for chunk in sent.chunks(37) {
        c.send(chunk).await;
    }
    c.expect(&want).await;
    r.shutdown().await;
}

/// Pipelines `n` GETs through a router over `first` and a good fake replica: every GET is
/// answered by the good one (from the run, or after failing over), and `first` was tried.
async fn gets_fail_over_from(first: Fake, n: usize, tweak: impl FnOnce(&mut RouterConfig)) {
    let (first, first_count, _c1) = fake(first).await;
    let (good, _, _c2) = fake(Fake::default()).await;
    let map = map_over(1, &[first, good]);
    let r = router(&map, tweak).await;
    let mut c = Text::connect(r.local_addr()).await;
    let sent: Vec<u8> = (0..n).flat_map(|i| format!("GET k{i}\r\n").into_bytes()).collect();
    c.send(&sent).await;
    c.expect(&b"$4\r\nfake\r\n".repeat(n)).await;
    assert!(first_count.load(Ordering::Relaxed) >= 1, "the other replica was tried");
    r.shutdown().await;
}

#[tokio::test]
async fn a_run_read_that_a_replica_fails_is_answered_by_another() {
    gets_fail_over_from(Fake { fail_gets: true, ..Default::default() }, 200, |_| {}).await;
}

#[tokio::test]
async fn a_run_read_on_a_hung_replica_fails_over_within_the_request_timeout() {
    let hung = Fake { delay: Duration::from_secs(30), ..Default::default() };
    gets_fail_over_from(hung, 50, |c| {
        c.timeouts.read_try = Duration::from_millis(200);
        c.timeouts.request = Duration::from_secs(5);
    })
    .await;
}

#[tokio::test]
async fn run_writes_with_a_dead_replica_are_held_where_they_were_acked() {
    let a = start().await;
    // A port with nothing listening: bind, note the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let map = map_over(1, &[a.local_addr(), dead]);
    let r = router(&map, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    let sent: Vec<u8> = (0..100).flat_map(|i| format!("SET k{i} v{i}\r\n").into_bytes()).collect();
    c.send(&sent).await;
    for i in 0..100 {
        let line = c.read_until(b"\r\n").await;
        // OK once the dead replica is ejected (it gets a hint), PARTIAL before.
        let ok = line == b"+OK\r\n" || line.starts_with(b"-PARTIAL 1/2 replicas acked");
        assert!(ok, "SET k{i}: {}", String::from_utf8_lossy(&line));
        assert_eq!(
            a.store().get(format!("k{i}").as_bytes()).as_deref(),
            Some(format!("v{i}").as_bytes())
        );
    }
    let n1 = r.router().topology().backend("n1").cloned().unwrap();
    assert!(n1.health().is_ejected() && !n1.hints().is_empty(), "the dead replica is hinted");
    r.shutdown().await;
}

#[tokio::test]
async fn every_run_write_reaches_every_replica() {
    let (mut addrs, mut counts, mut keep) = (Vec::new(), Vec::<Arc<AtomicU64>>::new(), Vec::new());
    for _ in 0..3 {
        let (addr, count, cancel) = fake(Fake::default()).await;
        addrs.push(addr);
        counts.push(count);
        keep.push(cancel);
    }
    let map = map_over(1, &addrs);
    let r = router(&map, |_| {}).await;
    let mut c = Text::connect(r.local_addr()).await;
    let sent: Vec<u8> = (0..300).flat_map(|i| format!("SET k{i} v\r\n").into_bytes()).collect();
    c.send(&sent).await;
    c.expect(&b"+OK\r\n".repeat(300)).await;
    for count in &counts {
        assert_eq!(count.load(Ordering::Relaxed), 300, "every SET on every replica, once");
    }
    r.shutdown().await;
}
