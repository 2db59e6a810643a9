//! The per-connection loop: read, decode every complete request, dispatch to the handler,
//! encode replies into one buffer and flush once per batch.
//!
//! One task owns both socket halves and `select!`s between reading, writing, the deadline
//! and shutdown, so a slow reader never blocks a fast writer of the same connection and
//! pending output is always bounded: reading pauses above the soft limit, the client is
//! dropped above the hard limit or when output makes no progress for the output timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::{Handler, MAX_BATCH, NetConfig, NetStats, READ_CHUNK, Session};
use crate::codec::{CodecError, ServerCodec, encode_outbound};
use crate::protocol::{Command, Reply, Status};

/// Why a connection ended; logged at debug level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Quit,
    Fatal,
    CrossProtocol,
    Idle,
    SlowFrame,
    OutputStalled,
    OutputLimit,
    Shutdown,
    Io,
}

/// Outcome of one processing turn.
enum Turn {
    /// All complete requests handled (or output is at the soft limit).
    Drained,
    /// The batch cap was hit with requests still buffered.
    More,
    /// Stop reading; flush what is pending, then close.
    Close(End),
}

struct Conn<'a, H> {
    handler: &'a H,
    cfg: &'a NetConfig,
    stats: &'a NetStats,
    codec: ServerCodec,
    session: Session,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

/// Serves one accepted connection until it ends, the client quits or `shutdown` fires.
pub async fn serve_connection<H: Handler>(
    mut stream: TcpStream,
    session: Session,
    handler: Arc<H>,
    cfg: Arc<NetConfig>,
    stats: Arc<NetStats>,
    shutdown: CancellationToken,
) {
    let mut conn = Conn {
        handler: &*handler,
        cfg: &cfg,
        stats: &stats,
        codec: ServerCodec::new(cfg.limits),
        session,
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        wbuf: BytesMut::with_capacity(READ_CHUNK),
    };
    let end = conn.run(&mut stream, &shutdown).await;
    debug!(?end, "connection closed");
}

impl<H: Handler> Conn<'_, H> {
    async fn run(&mut self, stream: &mut TcpStream, shutdown: &CancellationToken) -> End {
        let (mut rd, mut wr) = stream.split();
        let mut closing: Option<End> = None;
        let mut more = false;
        let now = Instant::now();
        let (mut last_read, mut frame_start, mut last_write) = (now, now, now);
        loop {
            if closing.is_none() && self.wbuf.len() < self.cfg.output_soft_limit {
                let was_idle = self.wbuf.is_empty();
                match self.process().await {
                    Turn::Drained => more = false,
                    Turn::More => more = true,
                    Turn::Close(end) => closing = Some(end),
                }
                if self.wbuf.len() > self.cfg.output_hard_limit {
                    return End::OutputLimit;
                }
                if was_idle {
                    // The output-stall clock starts when output becomes pending.
                    last_write = Instant::now();
                }
            }
            if let Some(end) = closing {
                if self.wbuf.is_empty() {
                    return end;
                }
            }
            let reading =
                closing.is_none() && !more && self.wbuf.len() < self.cfg.output_soft_limit;
            let mid_frame = self.codec.is_mid_frame(&self.rbuf);
            let deadline = self.deadline(reading, mid_frame, last_read, frame_start, last_write);
            if reading && self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 2 {
                self.rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled(), if closing.is_none() => closing = Some(End::Shutdown),
                res = wr.write_buf(&mut self.wbuf), if !self.wbuf.is_empty() => match res {
                    Ok(n) if n > 0 => last_write = Instant::now(),
                    _ => return End::Io,
                },
                _ = tokio::task::yield_now(), if more => {}
                res = rd.read_buf(&mut self.rbuf), if reading => match res {
                    Ok(0) => closing = Some(End::Eof),
                    Ok(_) => {
                        last_read = Instant::now();
                        if !mid_frame {
                            frame_start = last_read;
                        }
                    }
                    Err(_) => return End::Io,
                },
                _ = sleep_until(deadline.0) => match self.expire(deadline.1) {
                    Some(end) => return end,
                    None => closing = Some(End::SlowFrame),
                },
            }
            if let Some(End::Shutdown | End::Eof) = closing {
                // Requests already fully received still get their replies.
                if let Turn::Close(end) = self.process().await {
                    closing = Some(end);
                }
            }
        }
    }

    /// The earliest deadline that applies now, and which one it is.
    fn deadline(
        &self,
        reading: bool,
        mid_frame: bool,
        last_read: Instant,
        frame_start: Instant,
        last_write: Instant,
    ) -> (Instant, End) {
        let far = Instant::now() + std::time::Duration::from_secs(24 * 3600);
        let mut best = (far, End::Idle);
        let mut consider = |at: Instant, why: End| {
            if at < best.0 {
                best = (at, why);
            }
        };
        if !self.wbuf.is_empty() {
            consider(last_write + self.cfg.output_timeout, End::OutputStalled);
        }
        if reading && mid_frame {
            consider(frame_start + self.cfg.frame_timeout, End::SlowFrame);
        } else if reading {
            if let Some(idle) = self.cfg.idle_timeout {
                consider(last_read.max(last_write) + idle, End::Idle);
            }
        }
        best
    }

    /// Handles a passed deadline: `None` means "send a last error, then close".
    fn expire(&mut self, why: End) -> Option<End> {
        if why != End::SlowFrame {
            return Some(why);
        }
        let msg = format!("request incomplete after {:?}", self.cfg.frame_timeout);
        self.codec.encode_fatal(Status::ProtocolError, &msg, &mut self.wbuf);
        None
    }

    /// Decodes and answers buffered requests until none is complete, the batch cap is hit,
    /// or pending output reaches the soft limit.
    async fn process(&mut self) -> Turn {
        let mut handled = 0u64;
        let turn = loop {
            if handled as usize >= MAX_BATCH {
                break Turn::More;
            }
            if self.wbuf.len() >= self.cfg.output_soft_limit {
                break Turn::Drained;
            }
            let inbound = match self.codec.decode(&mut self.rbuf) {
                Ok(Some(inbound)) => inbound,
                Ok(None) => break Turn::Drained,
                Err(e) => break Turn::Close(self.codec_failed(e)),
            };
            handled += 1;
            let (reply, quit) = match inbound.command {
                Ok(Command::Quit) => (Reply::Ok, true),
                Ok(cmd) => (self.handler.call(&mut self.session, cmd).await, false),
                Err(e) => (Reply::Error(e), false),
            };
            encode_outbound(inbound.id, inbound.shape, &reply, self.session.resp3, &mut self.wbuf);
            if quit {
                break Turn::Close(End::Quit);
            }
        };
        self.stats.commands.fetch_add(handled, Ordering::Relaxed);
        turn
    }

    fn codec_failed(&mut self, err: CodecError) -> End {
        match err {
            CodecError::Fatal { status, message } => {
                debug!(%message, "closing after protocol error");
                self.codec.encode_fatal(status, &message, &mut self.wbuf);
                End::Fatal
            }
            CodecError::CrossProtocol => {
                tracing::warn!(peer = %self.session.peer, "cross-protocol request, closing");
                self.wbuf.clear();
                End::CrossProtocol
            }
            CodecError::Io(_) => End::Io,
        }
    }
}
