//! Clients that are slow on purpose: slowloris (requests trickled a byte at a time) and a
//! reader that pipelines big replies and never reads them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::{Text, WAIT, connect, start_with};
use crate::support::{
    Ending, Probe, RssPeak, assert_latency_ok, connections_settle, read_to_end, serial,
    write_quietly,
};

/// Slow connections opened at once.
const SLOW_CLIENTS: usize = 300;
/// The partial-frame timeout the slowloris server runs with.
const FRAME_TIMEOUT: Duration = Duration::from_millis(500);
/// Gap between two bytes of a slow request: the request takes far longer than the timeout.
const BYTE_GAP: Duration = Duration::from_millis(100);

/// One slow request per dialect: RESP, inline, binary (a SET whose value never ends).
fn slow_request(i: usize) -> Vec<u8> {
    match i % 3 {
        0 => {
            b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$64\r\n".iter().chain(&[b'x'; 64]).copied().collect()
        }
        1 => b"SET slow-inline aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".to_vec(),
        _ => {
            let mut out = bytes::BytesMut::new();
            crate::common::frame(0x03, 7, b"slow", &[b'y'; 64], 0).encode(&mut out);
            out.to_vec()
        }
    }
}

/// Trickles `request` one byte per [`BYTE_GAP`] until the server closes the connection,
/// then reports how it ended and when (time from the first byte).
async fn slowloris(mut stream: TcpStream, request: Vec<u8>) -> (Ending, Duration) {
    let started = Instant::now();
    let closed = Arc::new(AtomicBool::new(false));
    let (mut rd, mut wr) = stream.split();
    let writer = async {
        for &b in &request {
            // Stop writing once the server has closed, so the ending is a clean EOF
            // rather than a reset provoked by our own late byte.
            if closed.load(Ordering::Relaxed) || wr.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(BYTE_GAP).await;
        }
        std::future::pending::<()>().await
    };
    let reader = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            match tokio::io::AsyncReadExt::read(&mut rd, &mut buf).await {
                Ok(0) => break Ending::Eof(got),
                Err(_) => break Ending::Reset(got),
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    closed.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    let ending = tokio::time::timeout(WAIT, async {
        tokio::select! {
            e = reader => e,
            () = writer => unreachable!("the writer never finishes"),
        }
    })
    .await
    .unwrap_or(Ending::Open(Vec::new()));
    (ending, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_off_and_normal_clients_stay_fast() {
    let _serial = serial().await;
    let server = start_with(|c| {
        c.net.max_connections = 1000;
        c.net.frame_timeout = FRAME_TIMEOUT;
    })
    .await;
    let probe = Probe::start(server.local_addr()).await;
    let rss = RssPeak::start();
    let mut attackers = Vec::new();
    for i in 0..SLOW_CLIENTS {
        let stream = connect(server.local_addr()).await;
        attackers.push(tokio::spawn(slowloris(stream, slow_request(i))));
    }
    let (mut eof, mut told, mut slowest) = (0, 0, Duration::ZERO);
    for task in attackers {
        let (ending, took) = task.await.unwrap();
        assert!(ending.closed(), "a slow client was never cut off: {ending:?}");
        eof += usize::from(matches!(ending, Ending::Eof(_)));
        let text = String::from_utf8_lossy(ending.bytes()).into_owned();
        told +=
            usize::from(text.contains("incomplete after") || ending.bytes().first() == Some(&0));
        slowest = slowest.max(took);
    }
    let lat = probe.finish().await;
    rss.finish("slowloris").await;
    println!(
        "[slowloris] {SLOW_CLIENTS} slow clients: {eof} saw EOF, {told} got the error first; \
         last one cut off {slowest:?} after its first byte (frame timeout {FRAME_TIMEOUT:?})"
    );
    assert!(eof >= SLOW_CLIENTS * 9 / 10, "most endings are clean EOFs: {eof}");
    assert!(told >= SLOW_CLIENTS * 9 / 10, "most were told why: {told}");
    assert!(slowest < WAIT, "cut off in bounded time: {slowest:?}");
    assert_latency_ok("slowloris", &lat);
    assert!(connections_settle(server.net_stats(), 0).await, "every slow connection is gone");
    server.shutdown().await;
}

/// The value the non-reader asks for, over and over.
const BIG_VALUE: usize = 256 * 1024;
/// GETs the non-reader pipelines: 4000 x 256 KiB = 1 GiB of replies it never reads.
const PIPELINED_GETS: usize = 4000;

/// Stores [`BIG_VALUE`] bytes under `big`.
async fn set_big(addr: std::net::SocketAddr) {
    let mut setup = Text::connect(addr).await;
    let mut set = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${BIG_VALUE}\r\n").into_bytes();
    set.extend(std::iter::repeat_n(b'v', BIG_VALUE).chain(*b"\r\n"));
    setup.roundtrip(&set, b"+OK\r\n").await;
}

/// One MGET whose reply alone (64 x 256 KiB = 16 MiB) is over the hard limit: the client
/// is dropped before any of it is written.
async fn greedy_mget_is_dropped(addr: std::net::SocketAddr) {
    let mut greedy = Text::connect(addr).await;
    let mget = format!("MGET{}\r\n", " big".repeat(64));
    let started = Instant::now();
    greedy.send(mget.as_bytes()).await;
    let end = read_to_end(&mut greedy.stream, WAIT, 1024 * 1024).await;
    let took = started.elapsed();
    assert!(end.closed(), "the greedy client's connection is closed");
    let sent = end.bytes().len();
    println!("[non-reader] MGET of 16 MiB: closed after {took:?}, {sent} reply bytes sent");
    assert_eq!(sent, 0, "nothing of the oversized reply was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_cut_off_with_bounded_memory() {
    let _serial = serial().await;
    let server = start_with(|c| {
        c.net.output_soft_limit = 1024 * 1024;
        c.net.output_hard_limit = 4 * 1024 * 1024;
        c.net.output_timeout = Duration::from_secs(1);
    })
    .await;
    set_big(server.local_addr()).await;
    let probe = Probe::start(server.local_addr()).await;
    let rss = RssPeak::start();
    let started = Instant::now();

    // Pipelined GETs: output backs up until the soft limit stops reading, then the stall
    // timeout ends the client.
    let mut stalled = connect(server.local_addr()).await;
    let gets = b"GET big\r\n".repeat(PIPELINED_GETS);
    let writer = tokio::spawn(async move {
        write_quietly(&mut stalled, &gets).await;
        stalled
    });
    greedy_mget_is_dropped(server.local_addr()).await;
    // Only the probe remains.
    assert!(connections_settle(server.net_stats(), 1).await, "the non-reader was cut off");
    let cut_off = started.elapsed();
    let mut stalled = writer.await.unwrap();
    let ending = read_to_end(&mut stalled, WAIT, 0).await;
    assert!(ending.closed(), "the stalled client's connection is closed");
    let lat = probe.finish().await;
    let growth = rss.finish("non-reader").await;
    println!("[non-reader] pipelining non-reader cut off {cut_off:?} after it started");
    assert!(growth < 256, "memory stayed bounded: +{growth} MiB");
    assert_latency_ok("non-reader", &lat);
    let mut after = Text::connect(server.local_addr()).await;
    after.roundtrip(b"PING\r\n", b"+PONG\r\n").await;
    server.shutdown().await;
}
