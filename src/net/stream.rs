//! The byte streams a connection runs over (plain TCP, or TLS over TCP) and [`Io`], which
//! lets the connection loop read and write one stream from one task without splitting it:
//! a split TLS stream needs a lock, while one poll over both directions needs none.
//!
//! A TLS stream may accept bytes into its own record buffer without sending them yet, so
//! output counts as written only once the stream is also flushed. For TCP the flush is a
//! no-op and costs nothing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::io::poll_read_buf;

use super::TLS_CLOSE_TIMEOUT;

/// A stream the connection loop can serve.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Whether the stream says goodbye before closing (TLS `close_notify`, without which a
    /// TLS client cannot tell a clean close from a cut connection).
    const CLOSE_NOTIFY: bool = false;

    /// Whether the stream can move to another worker's runtime between requests (a TCP
    /// socket can; a TLS session's state is not worth the trouble).
    const MOVABLE: bool = false;

    /// The TCP socket underneath (addresses and descriptor for CLIENT LIST).
    fn tcp(&self) -> &TcpStream;
}

impl Stream for TcpStream {
    const MOVABLE: bool = true;

    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Stream for tokio_rustls::server::TlsStream<TcpStream> {
    const CLOSE_NOTIFY: bool = true;

    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// What one wait on the stream produced.
pub(super) enum IoEvent {
    /// A read finished: bytes, 0 at end of stream, or an error.
    Read(io::Result<usize>),
    /// Output made progress.
    Wrote,
    /// Writing failed; the connection is over.
    WriteFailed,
}

/// One connection's stream and whether output handed to it may still be buffered in it.
pub(super) struct Io<S> {
    stream: S,
    unflushed: bool,
    /// Bytes written since [`Io::take_written`] last ran (for the byte counters).
    written: u64,
}

impl<S: Stream> Io<S> {
    pub(super) fn new(stream: S) -> Self {
        Self { stream, unflushed: false, written: 0 }
    }

    /// Bytes written since the last call.
    pub(super) fn take_written(&mut self) -> u64 {
        std::mem::take(&mut self.written)
    }

    /// Whether every byte of output has left for the network (or the kernel's buffer).
    pub(super) fn is_flushed(&self, wbuf: &BytesMut) -> bool {
        wbuf.is_empty() && !self.unflushed
    }

    /// Waits for the first of: output progress (if there is output) or a read (if
    /// `reading`). Output is tried first, so replies leave before more requests come in.
    pub(super) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        rbuf: &mut BytesMut,
        wbuf: &mut BytesMut,
        reading: bool,
    ) -> Poll<IoEvent> {
        match self.poll_output(cx, wbuf) {
            Poll::Ready(Ok(())) => return Poll::Ready(IoEvent::Wrote),
            Poll::Ready(Err(_)) => return Poll::Ready(IoEvent::WriteFailed),
            Poll::Pending => {}
        }
        if reading {
            if let Poll::Ready(res) = poll_read_buf(Pin::new(&mut self.stream), cx, rbuf) {
                return Poll::Ready(IoEvent::Read(res));
            }
        }
        Poll::Pending
    }

    /// Writes and flushes what the stream takes now, without waiting; `false` on a write
    /// error. Used for the replies of a request/response client, which go out at once.
    pub(super) fn try_flush(&mut self, wbuf: &mut BytesMut) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        !matches!(self.poll_output(&mut cx, wbuf), Poll::Ready(Err(_)))
    }

    /// Ready with `Ok` once some output was written or flushed, with `Err` if writing
    /// failed; pending when there is nothing to do or the stream cannot take more yet.
    fn poll_output(&mut self, cx: &mut Context<'_>, wbuf: &mut BytesMut) -> Poll<io::Result<()>> {
        let mut progress = false;
        if !wbuf.is_empty() {
            // The buffer is one contiguous slice: a plain write (`send` on TCP) costs the
            // kernel less than the vectored one `poll_write_buf` would make of it.
            match Pin::new(&mut self.stream).poll_write(cx, wbuf) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    wbuf.advance(n);
                    progress = true;
                    self.unflushed = true;
                    self.written += n as u64;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if wbuf.is_empty() && self.unflushed {
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    progress = true;
                    self.unflushed = false;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if progress { Poll::Ready(Ok(())) } else { Poll::Pending }
    }

    /// The stream, for a connection that moves to another worker.
    pub(super) fn into_inner(self) -> S {
        self.stream
    }

    /// Ends the stream: a TLS stream sends `close_notify` first (bounded by
    /// [`TLS_CLOSE_TIMEOUT`]); a TCP stream is simply dropped, as before TLS existed.
    pub(super) async fn close(mut self, clean: bool) {
        if S::CLOSE_NOTIFY && clean {
            let _ = tokio::time::timeout(TLS_CLOSE_TIMEOUT, self.stream.shutdown()).await;
        }
    }
}
