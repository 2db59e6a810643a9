//! Scripted fake servers for the client tests (tests/client_*.rs): a listener that hands
//! each connection to a script, and helpers to read requests and answer them.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use shale::protocol::binary::{RequestFrame, ResponseFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

/// A listener on 127.0.0.1:0 that hands each accepted connection, with its 0-based
/// index, to a script. The accept loop is aborted when this is dropped.
pub struct Fake {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn fake_server<F, Fut>(script: F) -> Fake
where
    F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        for index in 0.. {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(script(index, stream));
        }
    });
    Fake { addr, task }
}

/// Reads exactly `n` binary request frames; None if the peer closes first. Bounded by WAIT.
pub async fn read_requests(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    n: usize,
) -> Option<Vec<RequestFrame>> {
    use bytes::Buf;
    let mut out = Vec::with_capacity(n);
    let read = async {
        while out.len() < n {
            if buf.len() >= 4 {
                let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if buf.len() >= 4 + len {
                    buf.advance(4);
                    let body = buf.split_to(len).freeze();
                    out.push(RequestFrame::parse(body).expect("a valid request"));
                    continue;
                }
            }
            if stream.read_buf(buf).await.unwrap_or(0) == 0 {
                return None;
            }
        }
        Some(())
    };
    tokio::time::timeout(WAIT, read).await.ok().flatten()?;
    Some(out)
}

/// A plausible reply: GET answers the key itself as the value, SET empty, DEL 1,
/// TTL "no expiry", PING the echo, anything else an empty OK.
pub fn answer(req: &RequestFrame) -> ResponseFrame {
    let payload = match req.opcode {
        0x02 => req.key.clone(),
        0x04 => Bytes::from_static(&[1]),
        0x05 => Bytes::copy_from_slice(&(-1i64).to_be_bytes()),
        0x01 => req.value.clone(),
        _ => Bytes::new(),
    };
    ResponseFrame { status: 0, flags: 0, id: req.id, payload }
}

/// Encodes and writes response frames in one write; errors are ignored (peer gone).
pub async fn write_replies(stream: &mut TcpStream, replies: &[ResponseFrame]) {
    let mut out = BytesMut::new();
    for r in replies {
        r.encode(&mut out);
    }
    let _ = stream.write_all(&out).await;
}

/// Serves requests with [`answer`] until the peer closes.
pub async fn serve_answers(mut stream: TcpStream) {
    let mut buf = BytesMut::new();
    while let Some(reqs) = read_requests(&mut stream, &mut buf, 1).await {
        let replies: Vec<_> = reqs.iter().map(answer).collect();
        write_replies(&mut stream, &replies).await;
    }
}
