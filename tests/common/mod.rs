//! Shared helpers for integration tests: in-process servers on 127.0.0.1:0 and bounded
//! waits here; raw binary/text connections in `wire`, scripted fake servers in `fake`,
//! `shale` child processes and temp files in `process`.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use shale::server::{Server, ServerConfig};
use tokio::net::TcpStream;

/// Generous bound for any single wait in a test, so a loaded machine still passes.
pub const WAIT: Duration = Duration::from_secs(10);

pub async fn start() -> Server {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut cfg = ServerConfig::loopback(0);
    tweak(&mut cfg);
    Server::start(cfg).await.expect("server starts")
}

pub async fn connect(addr: SocketAddr) -> TcpStream {
    let s = tokio::time::timeout(WAIT, TcpStream::connect(addr)).await.expect("connect in time");
    let s = s.expect("connects");
    s.set_nodelay(true).unwrap();
    s
}

/// Polls `check` (async) every 50 ms until it holds or a generous bound (3 x `WAIT`)
/// passes.
pub async fn until(mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Polls `check` every 20 ms until it holds or `WAIT` passes.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

mod fake;
pub mod fakenode;
mod process;
mod wire;

// Each test binary uses some of these; the rest would warn per binary.
#[allow(unused_imports)]
pub use fake::*;
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use wire::*;
