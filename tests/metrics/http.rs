//! The metrics port against hostile and odd HTTP: it answers what it can with a 4xx, closes,
//! and keeps answering probes while slow or idle clients hold connections.

use std::time::Duration;

use shale::metrics::MetricsServer;
use shale::metrics::http::{HTTP_CONNECTION_TIMEOUT, MAX_HTTP_CONNECTIONS, MAX_HTTP_HEAD};
use tokio::io::AsyncWriteExt;

use crate::common::{WAIT, connect, start};
use crate::scrape::{get, http_raw};

#[tokio::test]
async fn odd_requests_get_a_4xx_and_a_closed_connection() {
    let server = start().await;
    let metrics = MetricsServer::for_server(&server, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = metrics.local_addr();
    let oversize = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HTTP_HEAD));
    // (request, status)
    let cases: [(&[u8], u16); 8] = [
        (b"POST /metrics HTTP/1.1\r\n\r\n", 405), // only GET and HEAD
        (b"GET /nope HTTP/1.1\r\n\r\n", 404),     // unknown path
        (b"GET /metrics?x=1 HTTP/1.0\r\n\r\n", 200), // a query is ignored; HTTP/1.0 too
        (b"GET /metrics HTTP/2.0\r\n\r\n", 400),  // not HTTP/1.x
        (b"GET\r\n\r\n", 400),                    // no path
        (b"\x00\xff\xfe garbage\r\n\r\n", 400),   // not HTTP at all
        (b"GET /healthz HTTP/1.1\n\n", 200),      // bare LF line ends
        (oversize.as_bytes(), 431),               // head over the limit
    ];
    for (request, want) in cases {
        let (status, head, _) = http_raw(addr, request).await;
        assert_eq!(status, want, "{}", String::from_utf8_lossy(&request[..request.len().min(40)]));
        assert!(head.contains("Connection: close"), "{head}");
    }
    let (status, head, body) = http_raw(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n").await;
    assert_eq!((status, body.as_str()), (200, ""), "HEAD has no body");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    metrics.stop();
    server.shutdown().await;
}

#[tokio::test]
async fn probes_are_answered_while_slow_clients_hold_connections() {
    let server = start().await;
    let metrics = MetricsServer::for_server(&server, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = metrics.local_addr();
    // Half the slots held by clients that send half a request and stall.
    let mut slow = Vec::new();
    for _ in 0..MAX_HTTP_CONNECTIONS / 2 {
        let mut s = connect(addr).await;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost:").await.unwrap();
        slow.push(s);
    }
    assert_eq!(get(addr, "/healthz").await.0, 200, "free slots still answer");
    // More stalled clients than slots: the extra ones are closed at accept, and the held
    // slots come back after the connection timeout.
    for _ in 0..MAX_HTTP_CONNECTIONS {
        slow.push(connect(addr).await);
    }
    tokio::time::sleep(HTTP_CONNECTION_TIMEOUT).await;
    let answered = tokio::time::timeout(WAIT, async {
        loop {
            if get(addr, "/healthz").await.0 == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert!(answered.await.is_ok(), "slots of stalled clients are reclaimed");
    drop(slow);
    metrics.stop();
    server.shutdown().await;
}
