//! Raw connections to a server under test: binary-protocol frames ([`Bin`]) and Redis
//! text ([`Text`]), every read bounded by [`super::WAIT`].
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use shale::codec::ClientCodec;
use shale::protocol::binary::{RequestFrame, ResponseFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

use super::{WAIT, connect};

/// A raw binary-protocol connection.
pub struct Bin {
    pub stream: TcpStream,
    buf: BytesMut,
    codec: ClientCodec,
}

impl Bin {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self { stream: connect(addr).await, buf: BytesMut::new(), codec: ClientCodec::default() }
    }

    pub async fn send(&mut self, op: u8, id: u32, key: &[u8], value: &[u8], ttl_ms: u64) {
        let mut out = BytesMut::new();
        frame(op, id, key, value, ttl_ms).encode(&mut out);
        self.stream.write_all(&out).await.unwrap();
    }

    pub async fn call(&mut self, op: u8, key: &[u8], value: &[u8], ttl_ms: u64) -> ResponseFrame {
        self.send(op, 1, key, value, ttl_ms).await;
        self.recv().await.expect("a response")
    }

    /// The next response, or None when the server closed the connection.
    pub async fn recv(&mut self) -> Option<ResponseFrame> {
        next_frame(&mut self.stream, &mut self.buf, &mut self.codec).await
    }
}

/// Reads binary responses from a borrowed read half.
pub struct BinReader<'a> {
    rd: &'a mut tokio::net::tcp::OwnedReadHalf,
    buf: BytesMut,
    codec: ClientCodec,
}

impl Bin {
    pub fn from_read(rd: &mut tokio::net::tcp::OwnedReadHalf) -> BinReader<'_> {
        BinReader { rd, buf: BytesMut::new(), codec: ClientCodec::default() }
    }
}

impl BinReader<'_> {
    pub async fn recv(&mut self) -> Option<ResponseFrame> {
        next_frame(self.rd, &mut self.buf, &mut self.codec).await
    }
}

/// Decodes the next response frame from `rd`, or None at end of stream; bounded by WAIT.
async fn next_frame<R: tokio::io::AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
    codec: &mut ClientCodec,
) -> Option<ResponseFrame> {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(f) = codec.decode(buf).expect("valid response") {
                return Some(f);
            }
            if rd.read_buf(buf).await.unwrap_or(0) == 0 {
                return None;
            }
        }
    })
    .await
    .expect("response in time")
}

pub fn frame(op: u8, id: u32, key: &[u8], value: &[u8], ttl_ms: u64) -> RequestFrame {
    RequestFrame {
        opcode: op,
        flags: 0,
        id,
        ttl_ms,
        key: Bytes::copy_from_slice(key),
        value: Bytes::copy_from_slice(value),
    }
}

/// A raw text connection: write bytes, read until an expected byte count or close.
pub struct Text {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Text {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self { stream: connect(addr).await, buf: BytesMut::new() }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads until `want` is a prefix of what arrived, returning exactly those bytes.
    pub async fn expect(&mut self, want: &[u8]) {
        let got = tokio::time::timeout(WAIT, async {
            while self.buf.len() < want.len() {
                if self.stream.read_buf(&mut self.buf).await.unwrap_or(0) == 0 {
                    break;
                }
            }
            let n = want.len().min(self.buf.len());
            self.buf.split_to(n)
        })
        .await
        .expect("reply in time");
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    }

    /// Reads until `marker` appears; returns everything up to and including it.
    pub async fn read_until(&mut self, marker: &[u8]) -> Vec<u8> {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(pos) = self.buf.windows(marker.len()).position(|w| w == marker) {
                    return self.buf.split_to(pos + marker.len()).to_vec();
                }
                assert!(self.stream.read_buf(&mut self.buf).await.unwrap() > 0, "closed early");
            }
        })
        .await
        .expect("marker in time")
    }

    /// Sends a command and checks the exact reply.
    pub async fn roundtrip(&mut self, cmd: &[u8], want: &[u8]) {
        self.send(cmd).await;
        self.expect(want).await;
    }

    /// Reads until the peer closes; returns everything left.
    pub async fn read_to_close(&mut self) -> Vec<u8> {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return self.buf.split().to_vec(),
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("close in time")
    }
}
