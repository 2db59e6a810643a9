//! Too much at once: more connections than the limit, and frames declaring lengths far
//! beyond it.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use shale::net::NetStats;
use shale::protocol::Status;
use shale::protocol::binary::ResponseFrame;

use crate::common::{WAIT, connect, frame, start_with};
use crate::support::{
    Ending, Probe, RssPeak, assert_latency_ok, connections_settle, read_to_end, serial,
    write_quietly,
};

const MAX_CONNECTIONS: usize = 50;
const FLOOD: usize = 200;

/// How one flooding connection was treated.
#[derive(Debug)]
enum Fate {
    /// Served (PONG), and still open.
    Served(tokio::net::TcpStream),
    /// Refused with the "max number of clients" error, then closed.
    Refused,
    /// Closed without a word (past the limit of refusals being answered at once).
    Dropped,
}

/// Connects and PINGs (text, or binary for every fourth), then reads what comes back.
async fn flood_one(addr: std::net::SocketAddr, i: usize) -> Fate {
    let mut s = connect(addr).await;
    let binary = i % 4 == 0;
    if binary {
        let mut out = BytesMut::new();
        frame(0x01, 9, b"", b"", 0).encode(&mut out);
        write_quietly(&mut s, &out).await;
    } else {
        write_quietly(&mut s, b"PING\r\n").await;
    }
    let pong: &[u8] = if binary { &[0, 0, 0, 8, 1, 0, 0, 0, 0, 0, 0, 9] } else { b"+PONG\r\n" };
    let mut got = vec![0u8; pong.len()];
    let read = tokio::io::AsyncReadExt::read_exact(&mut s, &mut got);
    match tokio::time::timeout(WAIT, read).await {
        Ok(Ok(_)) if got == pong => return Fate::Served(s),
        Ok(Ok(_)) => {}
        Ok(Err(_)) if got.iter().all(|&b| b == 0) => return Fate::Dropped,
        Ok(Err(_)) => {}
        Err(_) => panic!("connection {i} neither served nor closed"),
    }
    let rest = read_to_end(&mut s, WAIT, 1024).await;
    assert!(rest.closed(), "a refused connection is closed");
    let mut all = got;
    all.extend_from_slice(rest.bytes());
    let refusal = if binary {
        let status = all.get(5).copied();
        status == Some(Status::Busy as u8)
            && String::from_utf8_lossy(&all).contains("max number of clients reached")
    } else {
        all.starts_with(b"-ERR max number of clients reached\r\n")
    };
    assert!(refusal, "unexpected answer to connection {i}: {:?}", String::from_utf8_lossy(&all));
    Fate::Refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_is_refused_and_the_server_stays_healthy() {
    let _serial = serial().await;
    let server = start_with(|c| c.net.max_connections = MAX_CONNECTIONS).await;
    let probe = Probe::start(server.local_addr()).await;
    let started = Instant::now();
    let addr = server.local_addr();
    let tasks: Vec<_> = (0..FLOOD).map(|i| tokio::spawn(flood_one(addr, i))).collect();
    let (mut served, mut refused, mut dropped) = (Vec::new(), 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Fate::Served(s) => served.push(s),
            Fate::Refused => refused += 1,
            Fate::Dropped => dropped += 1,
        }
    }
    let took = started.elapsed();
    // Keep knocking for a while with the slots full, so the probe measures the server
    // under a sustained flood: every one of these must be turned away.
    let mut waves = 0;
    while started.elapsed() < Duration::from_secs(1) {
        let wave: Vec<_> = (0..FLOOD / 2).map(|i| tokio::spawn(flood_one(addr, i + 1))).collect();
        for task in wave {
            match task.await.unwrap() {
                Fate::Served(_) => panic!("served past the limit"),
                Fate::Refused => refused += 1,
                Fate::Dropped => dropped += 1,
            }
        }
        waves += 1;
    }
    let lat = probe.finish().await;
    let rejected = NetStats::get(&server.net_stats().rejected);
    println!(
        "[flood] {FLOOD} connections over a limit of {MAX_CONNECTIONS} (1 taken by the probe): \
         {} served in {took:?}; with {waves} more waves of {} while full: {refused} refused \
         with the error, {dropped} dropped silently; server counted {rejected} rejections",
        served.len(),
        FLOOD / 2
    );
    assert_eq!(served.len(), MAX_CONNECTIONS - 1, "exactly the free slots were served");
    assert_eq!(refused + dropped, FLOOD - served.len() + waves * FLOOD / 2);
    assert_eq!(rejected as usize, refused + dropped);
    assert!(refused > 0, "refused clients are told why");
    assert_latency_ok("flood", &lat);
    drop(served);
    assert!(connections_settle(server.net_stats(), 0).await, "slots are released");
    let mut after = crate::common::Text::connect(addr).await;
    after.roundtrip(b"SET k v\r\nGET k\r\n", b"+OK\r\n$1\r\nv\r\n").await;
    server.shutdown().await;
}

/// Connections per huge-length case, so a per-connection allocation would show in RSS.
const HUGE_CONNS: usize = 100;

/// Sends `bytes` on a fresh connection and returns how the server ended it.
async fn send_and_wait_close(addr: std::net::SocketAddr, bytes: &[u8]) -> Ending {
    let mut s = connect(addr).await;
    write_quietly(&mut s, bytes).await;
    read_to_end(&mut s, WAIT, 4096).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_declared_lengths_are_refused_without_allocating() {
    let _serial = serial().await;
    let server = start_with(|_| {}).await;
    let addr = server.local_addr();
    let probe = Probe::start(addr).await;
    let rss = RssPeak::start();
    // (what is sent, what the last words must contain)
    let cases: [(&[u8], &str); 5] = [
        (&[0x00, 0xFF, 0xFF, 0xFF, 1, 2], "frame length 16777215 exceeds limit"), // 2^24 - 1
        (&[0x00, 0xFF, 0x00, 0x00], "frame length 16711680 exceeds limit"),       // ~2^24
        (b"*2147483647\r\n", "-ERR Protocol error: invalid multibulk length"),    // args
        (b"*1\r\n$2147483647\r\n", "-ERR Protocol error: invalid bulk length"),   // bulk
        (b"*2\r\n$3\r\nGET\r\n$99999999999999999999999\r\n", "-ERR Protocol error"), // 23 digits
    ];
    // Several rounds, so the probe runs during a sustained attack.
    let rounds = 4 * cases.len();
    for (bytes, want) in cases.iter().cycle().take(rounds).copied() {
        let tasks: Vec<_> = (0..HUGE_CONNS)
            .map(|_| {
                let bytes = bytes.to_vec();
                tokio::spawn(async move { send_and_wait_close(addr, &bytes).await })
            })
            .collect();
        for task in tasks {
            let ending = task.await.unwrap();
            assert!(ending.closed(), "{want}: the connection is closed");
            let text = String::from_utf8_lossy(ending.bytes());
            assert!(text.contains(want), "expected {want:?}, got {text:?}");
            if bytes[0] == 0 {
                let frame = ResponseFrame::parse(bytes::Bytes::copy_from_slice(
                    ending.bytes().get(4..).unwrap_or_default(),
                ));
                assert_eq!(frame.ok().and_then(|f| f.status()), Some(Status::FrameTooLarge));
            }
        }
    }
    let growth = rss.finish("huge lengths").await;
    let lat = probe.finish().await;
    println!("[huge lengths] {} connections, each refused and closed", rounds * HUGE_CONNS);
    assert!(growth < 64, "no allocation from declared lengths: +{growth} MiB");
    assert_latency_ok("huge lengths", &lat);
    server.shutdown().await;
}
