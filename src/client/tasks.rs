//! The state a [`super::Connection`] shares with its two tasks, and the tasks: the
//! writer drains the submission queue and sends everything queued in one write; the
//! reader decodes replies with [`ClientCodec`], checks each against the request it claims
//! to answer and completes that caller.
//!
//! A reply with an unknown id, an undecodable frame or a wrong shape means the stream
//! can't be trusted: every caller on it fails with a connection error and both tasks stop.
//! They also stop when the handle is dropped (its `DropGuard` cancels them).
//!
//! A TCP stream is split into its owned halves for free; a TLS stream is split with
//! [`tokio::io::split`] (a lock held only while one half is polled), and the writer flushes
//! after each write so TLS records buffered in the stream leave at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Error;
use super::config::{ConnectionConfig, MAX_IDLE_WRITE_BUFFER, MAX_WRITE_BATCH, READ_CHUNK};
use super::inflight::{InFlight, Outcome, Refused, Taken, Waiter};
use super::reply::{Expect, check_shape};
use super::sweep::{SWEEP_TICK, Sweep};
use crate::codec::ClientCodec;
use crate::net::Quiet;
use crate::protocol::binary::{RequestFrame, ResponseFrame};

/// Replies are accepted up to the limits' frame length, but never less than this, so a
/// client with a tiny value limit can still read STATS and error messages.
const MIN_REPLY_FRAME_LEN: usize = 1024 * 1024;

/// What callers hand the writer: one frame, or a pipeline that must go out together.
pub(super) enum Submission {
    One(RequestFrame),
    Many(Vec<RequestFrame>),
}

/// Why a submission did not reach the writer.
#[derive(Clone, Copy)]
pub(super) enum NotSent {
    Timeout,
    Closed,
}

/// Why a connection is reset when too many callers gave up on it.
const STUCK: &str = "too many requests abandoned without a reply; peer presumed stuck";

/// State shared by the handle and its two tasks.
pub(crate) struct Shared {
    pub(super) addr: String,
    pub(super) table: Mutex<InFlight>,
    pub(super) cancel: CancellationToken,
    /// Set (before `cancel`) when the connection fails: what `is_closed` reads on every
    /// call, where asking the token would take its lock.
    pub(super) closed: AtomicBool,
    /// Replies delivered successfully; tells the pool whether this connection ever worked.
    pub(super) replies: AtomicU64,
    /// Set when the connection died of a protocol violation or a stuck peer.
    pub(super) unhealthy: AtomicBool,
    /// The reader's sweep for overdue requests.
    pub(super) sweep: Sweep,
}

/// A stream the connection's two tasks can share: split into a half each.
pub(super) trait SplitStream: Send + 'static {
    type Read: AsyncRead + Unpin + Send + 'static;
    type Write: AsyncWrite + Unpin + Send + 'static;
    fn split(self) -> (Self::Read, Self::Write);
}

impl SplitStream for TcpStream {
    type Read = OwnedReadHalf;
    type Write = OwnedWriteHalf;
    fn split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}

type ClientTls = tokio_rustls::client::TlsStream<TcpStream>;

impl SplitStream for ClientTls {
    type Read = tokio::io::ReadHalf<ClientTls>;
    type Write = tokio::io::WriteHalf<ClientTls>;
    fn split(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}

/// Starts the writer and reader tasks over `stream`.
pub(super) fn start<S: SplitStream>(
    stream: S,
    addr: &str,
    cfg: &ConnectionConfig,
) -> (Arc<Shared>, mpsc::Sender<Submission>) {
    let (rd, wr) = stream.split();
    let shared = Arc::new(Shared {
        addr: addr.to_owned(),
        table: Mutex::new(InFlight::new(cfg.max_in_flight, cfg.max_abandoned)),
        cancel: CancellationToken::new(),
        closed: AtomicBool::new(false),
        replies: AtomicU64::new(0),
        unhealthy: AtomicBool::new(false),
        sweep: Sweep::default(),
    });
    let (tx, rx) = mpsc::channel(cfg.queue_depth.max(1));
    let max_reply = cfg.max_reply_frame.unwrap_or(cfg.limits.max_frame_len());
    let codec = ClientCodec::new(max_reply.max(MIN_REPLY_FRAME_LEN));
    tokio::spawn(write_loop(shared.clone(), rx, wr));
    tokio::spawn(read_loop(shared.clone(), rd, codec));
    (shared, tx)
}

impl Shared {
    /// Registers a request; with a `deadline`, the connection fails it with a timeout
    /// then ([`super::sweep`]), and its caller keeps no timer of its own.
    pub(super) fn register(
        &self,
        expect: Expect,
        deadline: Option<Instant>,
    ) -> Result<(u32, oneshot::Receiver<Outcome>), Error> {
        let registered = self.table.lock().register(expect, deadline);
        if deadline.is_some() && registered.is_ok() {
            self.sweep.want();
        }
        registered.map_err(|r| self.refused(r))
    }

    pub(super) fn refused(&self, refused: Refused) -> Error {
        match refused {
            Refused::Closed(reason) => Error::ConnectionClosed { addr: self.addr.clone(), reason },
            Refused::Full(limit) => Error::InFlightLimit { limit },
        }
    }

    pub(super) fn error(&self, why: NotSent) -> Error {
        match why {
            NotSent::Timeout => Error::Timeout,
            NotSent::Closed => self.closed_error(),
        }
    }

    pub(super) fn closed_error(&self) -> Error {
        let reason = self.table.lock().closed_reason().unwrap_or("closed").to_owned();
        Error::ConnectionClosed { addr: self.addr.clone(), reason }
    }

    /// Kills the connection: fails every waiting caller and stops both tasks.
    pub(super) fn fail(&self, reason: &str, unhealthy: bool) {
        if unhealthy {
            self.unhealthy.store(true, Ordering::Relaxed);
        }
        let waiters = self.table.lock().close(reason);
        self.closed.store(true, Ordering::Release);
        self.cancel.cancel();
        if unhealthy {
            warn!(addr = %self.addr, reason, failed = waiters.len(), "shale connection reset");
        } else {
            debug!(addr = %self.addr, reason, failed = waiters.len(), "shale connection closed");
        }
        for waiter in waiters {
            let reason = reason.to_owned();
            let _ =
                waiter.tx.send(Err(Error::ConnectionClosed { addr: self.addr.clone(), reason }));
        }
    }

    /// Picks the frames whose callers are still waiting, marking them written.
    fn select_for_write(&self, batch: &mut Vec<Submission>, out: &mut Vec<RequestFrame>) {
        let mut table = self.table.lock();
        let mut keep = |frame: RequestFrame| {
            if table.mark_sent(frame.id) {
                out.push(frame);
            }
        };
        for submission in batch.drain(..) {
            match submission {
                Submission::One(frame) => keep(frame),
                Submission::Many(frames) => frames.into_iter().for_each(&mut keep),
            }
        }
    }

    /// Hands decoded replies to their callers. `Err` carries the reason the stream can't
    /// be trusted any more; replies before the offending one are still delivered.
    fn deliver(&self, frames: &mut Vec<ResponseFrame>) -> Result<(), String> {
        let mut ready = Vec::with_capacity(frames.len());
        let mut violation = None;
        {
            let mut table = self.table.lock();
            for frame in frames.drain(..) {
                match table.take(frame.id) {
                    Taken::Waiter(w) => match check_shape(&w.expect, &frame) {
                        Ok(()) => ready.push((w.tx, Ok(frame))),
                        Err(why) => {
                            ready.push((w.tx, Err(Error::Protocol(why.clone()))));
                            violation = Some(why);
                            break;
                        }
                    },
                    Taken::Abandoned => {}
                    Taken::Unknown => {
                        violation = Some(unknown_reply(&frame));
                        break;
                    }
                }
            }
        }
        let delivered = ready.iter().filter(|(_, outcome)| outcome.is_ok()).count();
        self.replies.fetch_add(delivered as u64, Ordering::Relaxed);
        for (tx, outcome) in ready {
            // The caller may have given up in the meantime; its reply is simply dropped.
            let _ = tx.send(outcome);
        }
        violation.map_or(Ok(()), Err)
    }

    /// The caller of `id` gave up.
    pub(super) fn abandon(&self, id: u32) {
        let reset = self.table.lock().abandon(id);
        if reset {
            self.fail(STUCK, true);
        }
    }

    /// Fails callers whose kept deadline passed, as [`Error::Timeout`].
    fn fail_late(&self, late: Vec<Waiter>) {
        for waiter in late {
            // The caller may be gone too; then nobody waits for the error.
            let _ = waiter.tx.send(Err(Error::Timeout));
        }
    }
}

fn unknown_reply(frame: &ResponseFrame) -> String {
    let id = frame.id;
    match frame.status() {
        Some(s) if s.is_error() => {
            let msg = String::from_utf8_lossy(&frame.payload[..frame.payload.len().min(200)]);
            format!("reply with unknown id {id}: {}: {msg}", s.name())
        }
        _ => format!("reply with unknown id {id} (status 0x{:02x})", frame.status),
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Submission>,
    mut wr: W,
) {
    let mut batch = Vec::with_capacity(MAX_WRITE_BATCH);
    let mut frames = Vec::new();
    let mut buf = BytesMut::new();
    // One waiter on the token for the loop's life: a fresh `cancelled()` per batch
    // registers and removes a waiter under the token's lock; polled through `Quiet`,
    // which asks the token only once it has signalled.
    let cancelled = shared.cancel.cancelled();
    tokio::pin!(cancelled);
    let mut cancelled = Quiet::new(cancelled);
    loop {
        let received = tokio::select! {
            _ = &mut cancelled => return,
            n = rx.recv_many(&mut batch, MAX_WRITE_BATCH) => n,
        };
        if received == 0 {
            return; // Every handle is gone.
        }
        // With other requests already waiting for replies, the connection is busy: let the
        // other tasks this scheduler tick woke (a router's client connections, each with a
        // request for this backend) queue theirs first, so they share one write instead of
        // a syscall each, for one trip through the run queue. A lone request goes at once.
        let busy = shared.table.lock().len() > received;
        if busy && received < MAX_WRITE_BATCH {
            tokio::task::yield_now().await;
            if !rx.is_empty() {
                rx.recv_many(&mut batch, MAX_WRITE_BATCH - received).await;
            }
        }
        shared.select_for_write(&mut batch, &mut frames);
        // Encoding happens outside the table lock: large values are copied here.
        for frame in frames.drain(..) {
            frame.encode(&mut buf);
        }
        if buf.is_empty() {
            continue;
        }
        let written = tokio::select! {
            _ = &mut cancelled => return,
            r = write_flushed(&mut wr, &buf) => r,
        };
        if let Err(e) = written {
            return shared.fail(&format!("write failed: {e}"), false);
        }
        if buf.capacity() > MAX_IDLE_WRITE_BUFFER {
            buf = BytesMut::new();
        } else {
            buf.clear();
        }
    }
}

/// Writes all of `buf` and flushes (a no-op for TCP; sends buffered TLS records).
async fn write_flushed<W: AsyncWrite + Unpin>(wr: &mut W, buf: &[u8]) -> std::io::Result<()> {
    wr.write_all(buf).await?;
    wr.flush().await
}

/// Why the bytes at the head of the read buffer cannot be replies because they are TLS
/// (what a TLS port sends a client that does not speak TLS). A binary frame's first byte is
/// always 0, so this never mistakes a reply.
fn speaks_tls(buf: &[u8]) -> Option<&'static str> {
    const TLS_ALERT: u8 = 0x15;
    const TLS_HANDSHAKE: u8 = 0x16;
    match buf {
        [TLS_ALERT | TLS_HANDSHAKE, 0x03, ..] => {
            Some("the server answered in TLS: connect with TLS (shales://, --tls)")
        }
        _ => None,
    }
}

async fn read_loop<R: AsyncRead + Unpin>(shared: Arc<Shared>, mut rd: R, mut codec: ClientCodec) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let cancelled = shared.cancel.cancelled();
    tokio::pin!(cancelled);
    let mut cancelled = Quiet::new(cancelled);
    let timer = tokio::time::sleep(SWEEP_TICK);
    tokio::pin!(timer);
    let mut ticking = false;
    loop {
        buf.reserve(READ_CHUNK);
        let read = tokio::select! {
            _ = &mut cancelled => return,
            r = rd.read_buf(&mut buf) => r,
            _ = &mut timer, if ticking => {
                let tick = shared.sweep.tick(&shared.table, timer.as_mut());
                ticking = tick.ticking;
                shared.fail_late(tick.late);
                if tick.reset {
                    return shared.fail(STUCK, true);
                }
                continue;
            }
            _ = shared.sweep.wanted(), if !ticking => {
                shared.sweep.start(timer.as_mut());
                ticking = true;
                continue;
            }
        };
        match read {
            Ok(0) => return shared.fail("closed by the server", false),
            Err(e) => return shared.fail(&format!("read failed: {e}"), false),
            Ok(_) => {}
        }
        if let Some(reason) = speaks_tls(&buf) {
            return shared.fail(reason, true);
        }
        let decoded = loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break Ok(()),
                Err(e) => break Err(format!("undecodable reply: {e}")),
            }
        };
        if let Err(reason) = shared.deliver(&mut frames).and(decoded) {
            return shared.fail(&reason, true);
        }
    }
}
