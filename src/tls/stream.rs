//! [`ClientStream`]: plain TCP or TLS over TCP behind one type, for the tools that open
//! their own request/response connections (the CLI's text connection, `shale bench
//! --proto resp`). The client library's multiplexed connections split their stream
//! instead and do not use this.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::TlsConnector;

/// A connected stream, with or without TLS. Flush after writing: TLS buffers records.
#[derive(Debug)]
pub enum ClientStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: the TLS state is large).
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl ClientStream {
    /// Connects to `addr` (`host:port`) with TCP_NODELAY and, with `tls`, handshakes,
    /// all within `timeout`. A failed handshake says why (`TLS handshake failed: ...`).
    pub async fn connect(
        addr: &str,
        tls: Option<&TlsConnector>,
        timeout: Duration,
    ) -> io::Result<Self> {
        let deadline = Instant::now() + timeout;
        let timed_out = |what: &str| {
            io::Error::new(io::ErrorKind::TimedOut, format!("no {what} within {timeout:?}"))
        };
        let tcp = timeout_at(deadline, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out("connection"))??;
        // Requests are small writes; waiting for Nagle would only add latency.
        tcp.set_nodelay(true)?;
        let Some(tls) = tls else {
            return Ok(Self::Plain(tcp));
        };
        match timeout_at(deadline, tls.connect(addr, tcp)).await {
            Ok(Ok(stream)) => Ok(Self::Tls(Box::new(stream))),
            Ok(Err(e)) => Err(io::Error::new(e.kind(), format!("TLS handshake failed: {e}"))),
            Err(_) => Err(timed_out("TLS handshake")),
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
