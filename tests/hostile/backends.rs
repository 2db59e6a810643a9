//! The router in front of hostile or broken backends: one that accepts and never replies,
//! one that replies garbage, one that closes mid-frame. Requests must stay fast, fail over
//! to a good replica when there is one, and never get another request's reply.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use shale::protocol::Status;
use shale::router::{Router, RouterConfig, RunningRouter};
use shale::shardmap::ShardMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Bin, Fake, Text, fake_server, frame, start, temp_file};
use crate::support::{Latencies, serial};

/// Clients at once, each with keys of its own.
const CLIENTS: usize = 8;
/// Requests per client.
const ROUNDS: usize = 20;
/// With default router timeouts, one request must end within this.
const BOUND: Duration = Duration::from_secs(2);

/// How a broken backend misbehaves.
#[derive(Debug, Clone, Copy)]
enum Broken {
    /// Accepts and reads, never writes.
    Silent,
    /// Answers every read with random bytes.
    Garbage,
    /// Answers the first request with half a response frame, then closes.
    HalfFrame,
}

async fn broken(kind: Broken) -> Fake {
    fake_server(move |index, mut stream: TcpStream| async move {
        let mut rng = StdRng::seed_from_u64(index as u64);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let Ok(n) = stream.read(&mut buf).await else { return };
            if n == 0 {
                return;
            }
            match kind {
                Broken::Silent => {}
                Broken::Garbage => {
                    let junk: Vec<u8> = (0..rng.gen_range(1..256)).map(|_| rng.r#gen()).collect();
                    if stream.write_all(&junk).await.is_err() {
                        return;
                    }
                }
                Broken::HalfFrame => {
                    // len 13, version 1, status OK, flags 0, id ... and then nothing.
                    let _ = stream.write_all(&[0, 0, 0, 13, 1, 0, 0]).await;
                    return;
                }
            }
        }
    })
    .await
}

fn map_of(nodes: &[(&str, SocketAddr)]) -> std::path::PathBuf {
    let mut b = ShardMap::builder(1);
    for (name, addr) in nodes {
        b = b.node(name, &addr.ip().to_string(), addr.port());
    }
    let names: Vec<&str> = nodes.iter().map(|(n, _)| *n).collect();
    temp_file("map.json", &b.shard(1, &names).build().unwrap().to_json())
}

async fn router_over(nodes: &[(&str, SocketAddr)]) -> RunningRouter {
    Router::start(RouterConfig::loopback(0, map_of(nodes))).await.unwrap()
}

/// Text client `c`: GETs its own key and checks it gets its own value, every time.
async fn text_client(addr: SocketAddr, c: usize) -> Latencies {
    let mut conn = Text::connect(addr).await;
    let mut lat = Latencies::default();
    let (key, value) = (format!("key-{c}"), format!("value-{c}"));
    let want = format!("${}\r\n{value}\r\n", value.len());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        conn.roundtrip(format!("GET {key}\r\n").as_bytes(), want.as_bytes()).await;
        lat.push(started.elapsed());
    }
    lat
}

/// Binary client `c`: pipelines GETs of several keys with distinct ids and checks every
/// reply carries the value of the key its id asked for.
async fn binary_client(addr: SocketAddr, c: usize) -> Latencies {
    let mut conn = Bin::connect(addr).await;
    let mut lat = Latencies::default();
    for round in 0..ROUNDS / 4 {
        let started = Instant::now();
        let mut out = BytesMut::new();
        for j in 0..4u32 {
            let id = (round as u32) * 4 + j + 1;
            frame(0x02, id, format!("key-{c}-{j}").as_bytes(), b"", 0).encode(&mut out);
        }
        conn.stream.write_all(&out).await.unwrap();
        for _ in 0..4 {
            let resp = conn.recv().await.expect("a reply");
            assert_eq!(resp.status(), Some(Status::Ok), "{resp:?}");
            let j = (resp.id - 1) % 4;
            let want = format!("value-{c}-{j}");
            assert_eq!(&resp.payload[..], want.as_bytes(), "reply for id {} misrouted", resp.id);
        }
        lat.push(started.elapsed());
    }
    lat
}

/// Stores every key the clients will read, directly on the good server.
async fn seed(good: SocketAddr) {
    let mut t = Text::connect(good).await;
    for c in 0..CLIENTS {
        t.roundtrip(format!("SET key-{c} value-{c}\r\n").as_bytes(), b"+OK\r\n").await;
        for j in 0..4 {
            let set = format!("SET key-{c}-{j} value-{c}-{j}\r\n");
            t.roundtrip(set.as_bytes(), b"+OK\r\n").await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_backends_fail_over_fast_and_never_misroute() {
    let _serial = serial().await;
    let good = start().await;
    seed(good.local_addr()).await;
    for kind in [Broken::Silent, Broken::Garbage, Broken::HalfFrame] {
        let bad = broken(kind).await;
        let r = router_over(&[("bad", bad.addr), ("good", good.local_addr())]).await;
        let addr = r.local_addr();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                if c % 2 == 0 {
                    tokio::spawn(text_client(addr, c))
                } else {
                    tokio::spawn(binary_client(addr, c))
                }
            })
            .collect();
        let mut all = Latencies::default();
        for task in tasks {
            all.extend(&task.await.unwrap());
        }
        println!(
            "[router/{kind:?} + good] {CLIENTS} clients (half text, half binary pipelining 4), \
             every reply their own; latency per request/pipeline: {}",
            all.summary()
        );
        assert!(all.max() < BOUND, "{kind:?}: {}", all.summary());
        r.shutdown().await;
    }
    good.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_broken_backends_requests_fail_in_bounded_time() {
    let _serial = serial().await;
    let (silent, garbage, half) = (
        broken(Broken::Silent).await,
        broken(Broken::Garbage).await,
        broken(Broken::HalfFrame).await,
    );
    let r = router_over(&[("silent", silent.addr), ("garbage", garbage.addr), ("half", half.addr)])
        .await;
    let mut conn = Text::connect(r.local_addr()).await;
    let mut lat = Latencies::default();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        conn.send(b"GET k\r\n").await;
        let line = conn.read_until(b"\r\n").await;
        lat.push(started.elapsed());
        let line = String::from_utf8_lossy(&line);
        assert!(line.starts_with("-UNAVAILABLE no replica of shard 1"), "{line}");
    }
    println!("[router/all broken] every GET failed with UNAVAILABLE: {}", lat.summary());
    assert!(lat.max() < BOUND, "{}", lat.summary());
    r.shutdown().await;
}
