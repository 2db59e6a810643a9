//! [`RespConn`]: a small pipelined RESP2 connection, so `shale bench --proto resp` can
//! measure redis-server, twemproxy or shale's own text port with the same workload.
//!
//! Owns one socket and its buffers: a batch is encoded with
//! [`encode_command`](crate::protocol::text::encode_command), sent in one write, and its
//! replies are read in order with [`ReplyDecoder`]. It never retries: a failed batch
//! drops the socket and the next batch reconnects, after a short pause so a dead server is
//! not hammered.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::args::OpKind;
use super::driver::{Op, Outcome};
use crate::protocol::text::{ReplyDecoder, encode_command};
use crate::protocol::{Limits, Reply};
use crate::tls::{ClientStream, TlsConnector};

/// Pause before reconnecting after a failure.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// Read buffer reserved before each read.
const READ_CHUNK: usize = 16 * 1024;

/// One RESP connection, opened lazily and reopened after failures.
#[derive(Debug)]
pub struct RespConn {
    addr: String,
    tls: Option<Arc<TlsConnector>>,
    stream: Option<ClientStream>,
    /// `PX` milliseconds for SETs, already formatted.
    ttl_ms: Option<Bytes>,
    out: BytesMut,
    input: BytesMut,
    decoder: ReplyDecoder,
    limits: Limits,
    timeout: Duration,
    failed_before: bool,
}

impl RespConn {
    /// A connection to `addr` (not opened yet), over TLS with `tls`. `max_value` sizes
    /// the reply limit so large values come back; `timeout` bounds each batch, connecting
    /// included.
    pub fn new(
        addr: String,
        tls: Option<Arc<TlsConnector>>,
        ttl: Option<Duration>,
        max_value: usize,
        timeout: Duration,
    ) -> Self {
        let limits = Limits {
            max_value_size: max_value.max(Limits::default().max_value_size),
            ..Limits::default()
        };
        // Rounded up to whole milliseconds (Redis rejects PX 0), as the binary client does.
        let ttl_ms = ttl.map(|t| Bytes::from(t.as_micros().div_ceil(1000).max(1).to_string()));
        Self {
            addr,
            tls,
            stream: None,
            ttl_ms,
            out: BytesMut::new(),
            input: BytesMut::new(),
            decoder: ReplyDecoder::default(),
            limits,
            timeout,
            failed_before: false,
        }
    }

    /// Opens the socket now if it is closed.
    pub async fn connect(&mut self) -> io::Result<()> {
        if self.stream.is_none() {
            let tls = self.tls.as_deref();
            let stream = ClientStream::connect(&self.addr, tls, self.timeout).await?;
            self.input.clear();
            self.decoder = ReplyDecoder::default();
            self.stream = Some(stream);
        }
        Ok(())
    }

    /// Sends `ops` in one write and appends one outcome per op to `out`, in order. A
    /// timeout or broken connection fails every op whose reply had not arrived.
    pub async fn batch(&mut self, ops: &[Op], out: &mut Vec<Outcome>) {
        let first = out.len();
        if self.failed_before {
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
        let result = tokio::time::timeout(self.timeout, self.exchange(ops, out)).await;
        let ok = matches!(result, Ok(Ok(())));
        if !ok {
            self.stream = None;
            out.resize(first + ops.len(), Outcome::Failed);
        }
        self.failed_before = !ok;
    }

    async fn exchange(&mut self, ops: &[Op], out: &mut Vec<Outcome>) -> io::Result<()> {
        self.connect().await?;
        self.out.clear();
        for op in ops {
            self.encode(op);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        stream.write_all(&self.out).await?;
        stream.flush().await?;
        for op in ops {
            let reply = loop {
                let decoded = self.decoder.decode(&mut self.input, &self.limits);
                match decoded.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))? {
                    Some(reply) => break reply,
                    None => {
                        self.input.reserve(READ_CHUNK);
                        if stream.read_buf(&mut self.input).await? == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                    }
                }
            };
            out.push(outcome(op.kind, reply)?);
        }
        Ok(())
    }

    fn encode(&mut self, op: &Op) {
        let (key, value): (&[u8], &[u8]) = (&op.key, &op.value);
        let out = &mut self.out;
        match (op.kind, &self.ttl_ms) {
            (OpKind::Get, _) => encode_command(&[&b"GET"[..], key], out),
            (OpKind::Del, _) => encode_command(&[&b"DEL"[..], key], out),
            (OpKind::Set, None) => encode_command(&[&b"SET"[..], key, value], out),
            (OpKind::Set, Some(ms)) => {
                encode_command(&[&b"SET"[..], key, value, &b"PX"[..], &ms[..]], out)
            }
        }
    }
}

/// What a reply means for an op. An error reply fails only that op; a reply of the wrong
/// type means the stream is out of step, so the connection is dropped.
fn outcome(kind: OpKind, reply: Reply) -> io::Result<Outcome> {
    match (kind, reply) {
        (_, Reply::Error(_)) => Ok(Outcome::Failed),
        (OpKind::Get, Reply::Bulk(_)) => Ok(Outcome::Ok),
        (OpKind::Get, Reply::Nil) => Ok(Outcome::Miss),
        (OpKind::Set, Reply::Ok | Reply::Simple(_)) => Ok(Outcome::Ok),
        (OpKind::Del, Reply::Int(_)) => Ok(Outcome::Ok),
        (kind, other) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected reply to {}: {other:?}", kind.name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Status;

    #[test]
    fn replies_map_to_outcomes() {
        let err = Reply::error(Status::Internal, "boom");
        assert_eq!(outcome(OpKind::Get, Reply::Bulk("v".into())).unwrap(), Outcome::Ok);
        assert_eq!(outcome(OpKind::Get, Reply::Nil).unwrap(), Outcome::Miss);
        assert_eq!(outcome(OpKind::Set, Reply::Ok).unwrap(), Outcome::Ok);
        assert_eq!(outcome(OpKind::Del, Reply::Int(0)).unwrap(), Outcome::Ok);
        assert_eq!(outcome(OpKind::Set, err).unwrap(), Outcome::Failed);
        assert!(outcome(OpKind::Set, Reply::Int(1)).is_err()); // out of step
    }

    #[test]
    fn sets_carry_the_ttl_in_milliseconds() {
        let mut c =
            RespConn::new("x:1".into(), None, Some(Duration::from_micros(10)), 0, Duration::ZERO);
        let op = Op { kind: OpKind::Set, key: "k".into(), value: "v".into() };
        c.encode(&op);
        assert_eq!(&c.out[..], b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$1\r\n1\r\n");
    }
}
