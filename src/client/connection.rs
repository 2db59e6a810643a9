//! [`Connection`]: one multiplexed binary-protocol connection to one address.
//!
//! Many callers share it. Each registers in the in-flight table (which assigns the id),
//! hands its frame to a bounded queue and awaits a `oneshot`. One writer task drains the
//! queue, encoding everything queued into one buffer for one write; one reader task
//! decodes replies with [`ClientCodec`], checks each against the request it claims to
//! answer and completes that caller. A reply with an unknown id, an undecodable frame or
//! a wrong shape means the stream can't be trusted: every caller on it fails with a
//! connection error and the connection closes. Owns no reconnect logic; that is
//! [`super::Pool`]'s.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};
use tokio_util::codec::Decoder;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{Instrument, debug, debug_span, field, warn};

use super::Error;
use super::config::{ConnectionConfig, MAX_IDLE_WRITE_BUFFER, MAX_WRITE_BATCH, READ_CHUNK};
use super::inflight::{InFlight, Outcome, Refused, Taken};
use super::reply::{Expect, check_shape};
use crate::codec::ClientCodec;
use crate::protocol::Opcode;
use crate::protocol::binary::{RequestFrame, ResponseFrame};

/// Replies are accepted up to the limits' frame length, but never less than this, so a
/// client with a tiny value limit can still read STATS and error messages.
const MIN_REPLY_FRAME_LEN: usize = 1024 * 1024;

/// What callers hand the writer: one frame, or a pipeline that must go out together.
enum Submission {
    One(RequestFrame),
    Many(Vec<RequestFrame>),
}

/// Why a submission did not reach the writer.
#[derive(Clone, Copy)]
enum NotSent {
    Timeout,
    Closed,
}

/// State shared by the handle and its two tasks.
struct Shared {
    addr: String,
    table: Mutex<InFlight>,
    cancel: CancellationToken,
    /// Replies delivered successfully; tells the pool whether this connection ever worked.
    replies: AtomicU64,
    /// Set when the connection died of a protocol violation or a stuck peer.
    unhealthy: AtomicBool,
}

/// One multiplexed connection to one address. Closes when dropped.
///
/// Requests get ids from a wrapping counter that skips ids still in flight, so replies
/// may arrive in any order. Every call has a deadline.
pub struct Connection {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Submission>,
    _close: DropGuard,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.shared.addr)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`) within `cfg.connect_timeout` and starts the
    /// connection's reader and writer tasks. Must be called inside a tokio runtime.
    pub async fn connect(addr: &str, cfg: &ConnectionConfig) -> Result<Self, Error> {
        let connect_err = |source| Error::Connect { addr: addr.to_owned(), source };
        let stream = match tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(addr)).await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(connect_err(e)),
            Err(_) => {
                let msg = format!("no connection within {:?}", cfg.connect_timeout);
                return Err(connect_err(io::Error::new(io::ErrorKind::TimedOut, msg)));
            }
        };
        // Requests are small and latency-bound; batching is done by the writer task.
        stream.set_nodelay(true).map_err(connect_err)?;
        Ok(Self::start(stream, addr, cfg))
    }

    fn start(stream: TcpStream, addr: &str, cfg: &ConnectionConfig) -> Self {
        let (rd, wr) = stream.into_split();
        let shared = Arc::new(Shared {
            addr: addr.to_owned(),
            table: Mutex::new(InFlight::new(cfg.max_in_flight, cfg.max_abandoned)),
            cancel: CancellationToken::new(),
            replies: AtomicU64::new(0),
            unhealthy: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel(cfg.queue_depth.max(1));
        let codec = ClientCodec::new(cfg.limits.max_frame_len().max(MIN_REPLY_FRAME_LEN));
        tokio::spawn(write_loop(shared.clone(), rx, wr));
        tokio::spawn(read_loop(shared.clone(), rd, codec));
        Self { _close: shared.cancel.clone().drop_guard(), shared, tx }
    }

    /// Sends `frame` (its `id` is replaced by a fresh one) and awaits the matching reply
    /// for at most `timeout`. A reply with an error status is returned as a frame; only
    /// transport failures and malformed replies are errors.
    pub async fn call(
        &self,
        frame: RequestFrame,
        timeout: Duration,
    ) -> Result<ResponseFrame, Error> {
        self.call_until(frame, Instant::now() + timeout).await
    }

    /// [`Connection::call`] with an absolute deadline.
    pub async fn call_until(&self, mut frame: RequestFrame, deadline: Instant) -> Outcome {
        let op = Opcode::from_u8(frame.opcode).map_or("UNKNOWN", Opcode::name);
        let span = debug_span!("shale_request", op, id = field::Empty, addr = %self.shared.addr);
        async move {
            let (id, rx) = self.shared.register(Expect::of(&frame))?;
            tracing::Span::current().record("id", id);
            frame.id = id;
            let mut pending = Pending { shared: &self.shared, id, rx, settled: false };
            if let Err(why) = self.submit(Submission::One(frame), deadline).await {
                return Err(self.shared.error(why));
            }
            pending.wait(deadline).await
        }
        .instrument(span)
        .await
    }

    /// Sends all `frames` in one write and awaits their replies until `deadline`; one
    /// outcome per frame, in order.
    pub async fn call_batch_until(
        &self,
        frames: Vec<RequestFrame>,
        deadline: Instant,
    ) -> Vec<Outcome> {
        let span = debug_span!("shale_pipeline", ops = frames.len(), addr = %self.shared.addr);
        async move {
            let mut slots = Vec::with_capacity(frames.len());
            let mut batch = Vec::with_capacity(frames.len());
            {
                let mut table = self.shared.table.lock();
                for mut frame in frames {
                    match table.register(Expect::of(&frame)) {
                        Ok((id, rx)) => {
                            frame.id = id;
                            batch.push(frame);
                            slots.push(Ok(Pending {
                                shared: &self.shared,
                                id,
                                rx,
                                settled: false,
                            }));
                        }
                        Err(refused) => slots.push(Err(self.shared.refused(refused))),
                    }
                }
            }
            let sent = if batch.is_empty() {
                Ok(())
            } else {
                self.submit(Submission::Many(batch), deadline).await
            };
            let mut outcomes = Vec::with_capacity(slots.len());
            for slot in slots {
                outcomes.push(match (slot, &sent) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(why)) => Err(self.shared.error(*why)),
                    (Ok(mut pending), Ok(())) => pending.wait(deadline).await,
                });
            }
            outcomes
        }
        .instrument(span)
        .await
    }

    async fn submit(&self, submission: Submission, deadline: Instant) -> Result<(), NotSent> {
        match timeout_at(deadline, self.tx.send(submission)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(NotSent::Closed),
            Err(_) => Err(NotSent::Timeout),
        }
    }

    /// Whether the connection is dead (or closing); a dead connection never revives.
    pub fn is_closed(&self) -> bool {
        self.shared.cancel.is_cancelled()
    }

    /// Closes the connection now, failing every request in flight.
    pub fn close(&self) {
        self.shared.fail("closed by the client", false);
    }

    /// The address this connection was opened to.
    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    /// Requests in flight, including abandoned ones whose reply is still due.
    pub fn in_flight(&self) -> usize {
        self.shared.table.lock().len()
    }

    /// Whether the connection, once dead, ended in a way that warrants reconnecting at
    /// once: it answered at least one request and did not break the protocol.
    pub(crate) fn ended_healthy(&self) -> bool {
        !self.shared.unhealthy.load(Ordering::Relaxed)
            && self.shared.replies.load(Ordering::Relaxed) > 0
    }

    /// Why the connection died, once it has.
    pub(crate) fn closed_reason(&self) -> Option<String> {
        self.shared.table.lock().closed_reason().map(str::to_owned)
    }
}

impl Shared {
    fn register(&self, expect: Expect) -> Result<(u32, oneshot::Receiver<Outcome>), Error> {
        self.table.lock().register(expect).map_err(|r| self.refused(r))
    }

    fn refused(&self, refused: Refused) -> Error {
        match refused {
            Refused::Closed(reason) => Error::ConnectionClosed { addr: self.addr.clone(), reason },
            Refused::Full(limit) => Error::InFlightLimit { limit },
        }
    }

    fn error(&self, why: NotSent) -> Error {
        match why {
            NotSent::Timeout => Error::Timeout,
            NotSent::Closed => self.closed_error(),
        }
    }

    fn closed_error(&self) -> Error {
        let reason = self.table.lock().closed_reason().unwrap_or("closed").to_owned();
        Error::ConnectionClosed { addr: self.addr.clone(), reason }
    }

    /// Kills the connection: fails every waiting caller and stops both tasks.
    fn fail(&self, reason: &str, unhealthy: bool) {
        if unhealthy {
            self.unhealthy.store(true, Ordering::Relaxed);
        }
        let waiters = self.table.lock().close(reason);
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
    fn abandon(&self, id: u32) {
        let reset = self.table.lock().abandon(id);
        if reset {
            self.fail("too many requests abandoned without a reply; peer presumed stuck", true);
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

/// A caller's claim on a reply. Dropping it unanswered (timeout, or the caller's future
/// was dropped) abandons the request, so the in-flight table never leaks.
struct Pending<'a> {
    shared: &'a Shared,
    id: u32,
    rx: oneshot::Receiver<Outcome>,
    settled: bool,
}

impl Pending<'_> {
    async fn wait(&mut self, deadline: Instant) -> Outcome {
        let outcome = match timeout_at(deadline, &mut self.rx).await {
            Ok(Ok(outcome)) => outcome,
            // Only `close` drops waiters, and it sends first; treat it as closed anyway.
            Ok(Err(_)) => Err(self.shared.closed_error()),
            Err(_) => return Err(Error::Timeout),
        };
        self.settled = true;
        outcome
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.abandon(self.id);
        }
    }
}

async fn write_loop(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Submission>,
    mut wr: OwnedWriteHalf,
) {
    let mut batch = Vec::with_capacity(MAX_WRITE_BATCH);
    let mut frames = Vec::new();
    let mut buf = BytesMut::new();
    loop {
        let received = tokio::select! {
            _ = shared.cancel.cancelled() => return,
            n = rx.recv_many(&mut batch, MAX_WRITE_BATCH) => n,
        };
        if received == 0 {
            return; // Every handle is gone.
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
            _ = shared.cancel.cancelled() => return,
            r = wr.write_all(&buf) => r,
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

async fn read_loop(shared: Arc<Shared>, mut rd: OwnedReadHalf, mut codec: ClientCodec) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    loop {
        buf.reserve(READ_CHUNK);
        let read = tokio::select! {
            _ = shared.cancel.cancelled() => return,
            r = rd.read_buf(&mut buf) => r,
        };
        match read {
            Ok(0) => return shared.fail("closed by the server", false),
            Err(e) => return shared.fail(&format!("read failed: {e}"), false),
            Ok(_) => {}
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
