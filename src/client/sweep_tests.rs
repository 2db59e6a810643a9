//! The sweep fails a sent request at its deadline when the server never answers, and
//! leaves answered ones alone.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::client::connection::Sent;
use crate::client::{Connection, ConnectionConfig, Error};
use crate::protocol::Opcode;
use crate::protocol::binary::RequestFrame;

fn get(key: &'static [u8]) -> RequestFrame {
    RequestFrame { opcode: Opcode::Get as u8, key: key.into(), ..Default::default() }
}

/// A server that reads everything and answers nothing.
async fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        let mut sink = [0u8; 4096];
        while let Ok(n) = socket.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
        let _ = socket.shutdown().await;
    });
    addr
}

#[tokio::test(start_paused = true)]
async fn a_request_the_server_never_answers_fails_at_its_deadline() {
    let addr = silent_server().await;
    let conn =
        Arc::new(Connection::connect(&addr, &ConnectionConfig::default()).await.expect("up"));
    let started = Instant::now();
    let deadline = started + Duration::from_millis(300);
    let Sent::Now(mut claim) = conn.clone().send(get(b"k"), deadline) else {
        panic!("an idle connection takes the request at once")
    };
    let outcome = tokio::time::timeout(Duration::from_secs(30), claim.reply()).await;
    let outcome = outcome.expect("the sweep answers the claim");
    assert!(matches!(outcome, Err(Error::Timeout)), "{outcome:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "not before its deadline: {waited:?}");
    assert!(waited <= Duration::from_millis(300) + 2 * super::SWEEP_TICK, "{waited:?}");
    drop(claim);
    assert_eq!(conn.in_flight(), 1, "the late reply's id stays reserved");
}

#[tokio::test]
async fn answered_requests_are_not_swept() {
    let cfg = crate::server::ServerConfig::loopback(0);
    let server = crate::server::Server::start(cfg).await.expect("server starts");
    let addr = server.local_addr().to_string();
    let conn =
        Arc::new(Connection::connect(&addr, &ConnectionConfig::default()).await.expect("up"));
    for _ in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(5);
        let Sent::Now(mut claim) = conn.clone().send(get(b"k"), deadline) else { panic!("sent") };
        assert!(claim.reply().await.is_ok());
    }
    assert_eq!(conn.in_flight(), 0);
}
