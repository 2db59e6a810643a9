//! Random and mutated bytes on both dialects, from a seeded generator so a failure
//! reproduces: the server must not crash or hang, and every connection must end or be
//! answered within a bound.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::AsyncReadExt;

use crate::common::{connect, frame, start_with};
use crate::support::{
    Ending, Probe, RssPeak, assert_latency_ok, connections_settle, read_to_end, serial,
    write_quietly,
};

const SEED: u64 = 0x5A1E_0001;
const CONNECTIONS: usize = 3000;
const CONCURRENCY: usize = 32;
/// Longest a connection may take to be answered or closed. The server runs with a 500 ms
/// frame timeout and a 2 s idle timeout, so anything longer is a hang.
const BOUND: Duration = Duration::from_secs(5);

/// Valid text requests, pipelined, for mutating.
fn text_seed(rng: &mut StdRng) -> Vec<u8> {
    let k = rng.gen_range(0..100);
    format!(
        "SET k{k} v{k} EX 100\r\nGET k{k}\r\n*2\r\n$3\r\nGET\r\n$3\r\nk{k:02}\r\nMGET a b c\r\n\
         PING \"hi\\x41\"\r\nDEL k{k} x\r\n*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\nINFO\r\n"
    )
    .into_bytes()
}

/// Valid binary requests, pipelined, for mutating.
fn binary_seed(rng: &mut StdRng) -> Vec<u8> {
    let mut out = BytesMut::new();
    for (op, key, value, ttl) in [
        (0x03, &b"k"[..], &b"value"[..], 1000),
        (0x02, b"k", b"", 0),
        (0x05, b"k", b"", 0),
        (0x04, b"k", b"", 0),
        (0x01, b"", b"echo", 0),
        (0x06, b"", b"", 0),
        (0x07, b"", b"pw", 0),
    ] {
        frame(op, rng.r#gen(), key, value, ttl).encode(&mut out);
    }
    out.to_vec()
}

/// Applies 1-4 random edits: bit flips, random insertions, deletions, duplications and
/// truncation.
fn mutate(rng: &mut StdRng, mut data: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.gen_range(1..=4) {
        if data.is_empty() {
            data.push(rng.r#gen());
            continue;
        }
        let at = rng.gen_range(0..data.len());
        match rng.gen_range(0..5) {
            0 => data[at] ^= 1 << rng.gen_range(0..8),
            1 => {
                let junk: Vec<u8> = (0..rng.gen_range(1..16)).map(|_| rng.r#gen()).collect();
                data.splice(at..at, junk);
            }
            2 => {
                let end = (at + rng.gen_range(1..16)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let end = (at + rng.gen_range(1..32)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            _ => data.truncate(at.max(1)),
        }
    }
    data
}

/// One connection's input: pure noise or a mutated valid pipeline, in either dialect.
fn input(rng: &mut StdRng) -> Vec<u8> {
    let noise =
        |rng: &mut StdRng| -> Vec<u8> { (0..rng.gen_range(1..512)).map(|_| rng.r#gen()).collect() };
    match rng.gen_range(0..4) {
        0 => {
            let mut bytes = noise(rng);
            bytes[0] = 0; // binary dialect
            bytes
        }
        1 => noise(rng),
        2 => {
            let seed = text_seed(rng);
            mutate(rng, seed)
        }
        _ => {
            let seed = binary_seed(rng);
            mutate(rng, seed)
        }
    }
}

/// What happened to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Sent everything and half-closed; the server answered (or not) and closed.
    Closed { answered: bool },
    /// Left open: the server answered within the bound.
    Answered,
    /// Left open: the server closed it (frame timeout, idle timeout, fatal error).
    ClosedByServer,
}

async fn one(addr: std::net::SocketAddr, bytes: Vec<u8>, half_close: bool) -> Outcome {
    let mut s = connect(addr).await;
    write_quietly(&mut s, &bytes).await;
    if half_close {
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut s).await;
        match read_to_end(&mut s, BOUND, 1).await {
            Ending::Open(_) => panic!("a half-closed connection hung: {bytes:?}"),
            end => return Outcome::Closed { answered: !end.bytes().is_empty() },
        }
    }
    let mut first = [0u8; 1];
    match tokio::time::timeout(BOUND, s.read(&mut first)).await {
        Err(_) => panic!("neither answered nor closed within {BOUND:?}: {bytes:?}"),
        Ok(Ok(1)) => Outcome::Answered,
        Ok(_) => Outcome::ClosedByServer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_mutated_bytes_never_crash_or_hang_the_server() {
    let _serial = serial().await;
    let server = start_with(|c| {
        c.net.frame_timeout = Duration::from_millis(500);
        c.net.idle_timeout = Some(Duration::from_secs(2));
    })
    .await;
    let addr = server.local_addr();
    let probe = Probe::start(addr).await;
    let rss = RssPeak::start();
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    let mut sent = 0;
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        if running.len() >= CONCURRENCY {
            let outcome = running.join_next().await.unwrap().unwrap();
            *tally.entry(format!("{outcome:?}")).or_default() += 1;
        }
        let bytes = input(&mut rng);
        sent += bytes.len();
        // Mostly half-closed; the rest wait on the server's own timeouts.
        let half_close = rng.gen_bool(0.95);
        running.spawn(one(addr, bytes, half_close));
    }
    while let Some(outcome) = running.join_next().await {
        *tally.entry(format!("{:?}", outcome.unwrap())).or_default() += 1;
    }
    let took = started.elapsed();
    let lat = probe.finish().await;
    let growth = rss.finish("garbage").await;
    println!(
        "[garbage] {} connections, {} KiB of seeded noise/mutations (seed {SEED:#x}) in \
         {took:?}: {tally:?}",
        CONNECTIONS,
        sent / 1024
    );
    assert_latency_ok("garbage", &lat);
    assert!(growth < 256, "memory stayed bounded: +{growth} MiB");
    assert!(connections_settle(server.net_stats(), 0).await, "no connection was left behind");
    let mut after = crate::common::Text::connect(addr).await;
    after.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
    server.shutdown().await;
}
