//! [`Connection`]: one multiplexed binary-protocol connection to one address.
//!
//! Many callers share it. Each registers in the in-flight table (which assigns the id),
//! hands its frame to a bounded queue and awaits a `oneshot`; the connection's writer and
//! reader tasks ([`super::tasks`]) do the I/O and complete callers by id, in any order. A
//! reply that fits no request resets the connection rather than reaching the wrong
//! caller. The stream is TCP, or TLS over it when the config has a
//! [`crate::tls::TlsConnector`]. Owns the caller-facing half only; reconnecting is
//! [`super::Pool`]'s job.

use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::DropGuard;
use tracing::{Instrument, debug_span, field};

use super::Error;
use super::batch::Batch;
use super::config::ConnectionConfig;
use super::inflight::Outcome;
use super::pending::Pending;
use super::reply::Expect;
use super::tasks::{self, NotSent, Shared, Submission};
use crate::auth::Password;
use crate::protocol::binary::{RequestFrame, ResponseFrame};
use crate::protocol::{Opcode, Status};

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
    /// Connects to `addr` (`host:port`) within `cfg.connect_timeout` (a TLS handshake
    /// included) and starts the connection's reader and writer tasks; with `cfg.password`,
    /// then sends AUTH and returns only once it was accepted (the AUTH round trip gets its
    /// own `connect_timeout`). A refused password is [`Error::Auth`]; a server certificate
    /// that fails verification is [`Error::Connect`] saying why. Must be called inside a
    /// tokio runtime.
    pub async fn connect(addr: &str, cfg: &ConnectionConfig) -> Result<Self, Error> {
        let connect_err = |source| Error::Connect { addr: addr.to_owned(), source };
        let deadline = Instant::now() + cfg.connect_timeout;
        let connecting = async {
            match &cfg.resolver {
                None => TcpStream::connect(addr).await,
                Some(resolve) => TcpStream::connect(&(resolve.0)(addr)?[..]).await,
            }
        };
        let stream = match timeout_at(deadline, connecting).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(connect_err(e)),
            Err(_) => {
                let msg = format!("no connection within {:?}", cfg.connect_timeout);
                return Err(connect_err(io::Error::new(io::ErrorKind::TimedOut, msg)));
            }
        };
        // Requests are small and latency-bound; batching is done by the writer task.
        stream.set_nodelay(true).map_err(connect_err)?;
        let (shared, tx) = match &cfg.tls {
            None => tasks::start(stream, addr, cfg),
            Some(tls) => match timeout_at(deadline, tls.connect(addr, stream)).await {
                Ok(Ok(stream)) => tasks::start(stream, addr, cfg),
                Ok(Err(e)) => {
                    let msg = format!("TLS handshake failed: {e}");
                    return Err(connect_err(io::Error::new(e.kind(), msg)));
                }
                Err(_) => {
                    let msg = format!("no TLS handshake within {:?}", cfg.connect_timeout);
                    return Err(connect_err(io::Error::new(io::ErrorKind::TimedOut, msg)));
                }
            },
        };
        let conn = Self { _close: shared.cancel.clone().drop_guard(), shared, tx };
        if let Some(password) = &cfg.password {
            // On failure `conn` is dropped here, which closes the socket.
            conn.authenticate(password, Instant::now() + cfg.connect_timeout).await?;
        }
        if let Some(greeting) = &cfg.greeting {
            let deadline = Instant::now() + cfg.connect_timeout;
            let resp = conn.call_until(greeting.frame.clone(), deadline).await?;
            (greeting.accept)(&resp).map_err(|why| Error::Connect {
                addr: addr.to_owned(),
                source: io::Error::other(why),
            })?;
        }
        Ok(conn)
    }

    /// AUTH as the connection's first request; anything but OK is [`Error::Auth`].
    async fn authenticate(&self, password: &Password, deadline: Instant) -> Result<(), Error> {
        let value = password.expose().clone();
        let frame = RequestFrame { opcode: Opcode::Auth as u8, value, ..Default::default() };
        let resp = self.call_until(frame, deadline).await?;
        match resp.status() {
            Some(Status::Ok) => Ok(()),
            status => Err(Error::Auth {
                addr: self.shared.addr.clone(),
                status: status.unwrap_or(Status::Internal),
                message: String::from_utf8_lossy(&resp.payload).into_owned(),
            }),
        }
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
        // Recording looks the current span up in the subscriber: only worth it when the
        // span is on (a router forwards every request through here).
        let traced = !span.is_disabled();
        async move {
            let (id, rx) = self.shared.register(Expect::of(&frame), None)?;
            if traced {
                tracing::Span::current().record("id", id);
            }
            frame.id = id;
            let mut pending = Pending::new(&*self.shared, id, rx);
            if let Err(why) = self.submit(Submission::One(frame), deadline).await {
                return Err(self.shared.error(why));
            }
            pending.wait(deadline).await
        }
        .instrument(span)
        .await
    }

    /// Registers `frame` (its `id` replaced by a fresh one) and hands it to the writer
    /// without waiting: the claim on its reply ([`Pending::reply`]), which holds the
    /// connection open. The connection keeps `deadline` ([`super::sweep`]): it fails the
    /// request with [`Error::Timeout`] then. `Later` gives the frame back untouched when
    /// the writer's queue is full, for [`Connection::call_until`] to wait for room;
    /// `Failed` when the connection is dead or has too many requests in flight.
    /// Untraced: [`Connection::call_until`] has the request's span.
    pub(crate) fn send(self: Arc<Self>, mut frame: RequestFrame, deadline: Instant) -> Sent {
        let permit = match self.tx.try_reserve() {
            Ok(permit) => permit,
            Err(mpsc::error::TrySendError::Full(())) => return Sent::Later(frame),
            Err(mpsc::error::TrySendError::Closed(())) => {
                return Sent::Failed(self.shared.error(NotSent::Closed));
            }
        };
        let (id, rx) = match self.shared.register(Expect::of(&frame), Some(deadline)) {
            Ok(registered) => registered,
            Err(e) => return Sent::Failed(e),
        };
        frame.id = id;
        permit.send(Submission::One(frame));
        Sent::Now(Pending::new(Held(self), id, rx))
    }

    /// Sends all `frames` in one write and awaits their replies until `deadline`; one
    /// outcome per frame, in order. The frames are registered as one [`Batch`]: one
    /// allocation and one wake-up for all of them.
    pub async fn call_batch_until(
        &self,
        frames: Vec<RequestFrame>,
        deadline: Instant,
    ) -> Vec<Outcome> {
        let span = debug_span!("shale_pipeline", ops = frames.len(), addr = %self.shared.addr);
        async move {
            let batch = Batch::new(frames.len());
            let (ids, frames) = self.register_batch(frames, &batch);
            // Abandons what is still unanswered when dropped (a timeout, a caller gone).
            let mut claim = BatchClaim { shared: &self.shared, batch: &batch, ids };
            if !frames.is_empty() {
                if let Err(why) = self.submit(Submission::Many(frames), deadline).await {
                    claim.give_up(|| self.shared.error(why));
                }
            }
            if timeout_at(deadline, poll_fn(|cx| batch.poll_done(cx))).await.is_err() {
                claim.give_up(|| Error::Timeout);
            }
            // Every slot has its outcome: nothing is left to abandon.
            claim.ids.clear();
            batch.take_all(|| Err(Error::Timeout))
        }
        .instrument(span)
        .await
    }

    /// Registers every frame under one lock, assigning ids; a frame the table refuses
    /// gets its error in its slot at once. Returns each slot's id and the frames to send.
    fn register_batch(
        &self,
        frames: Vec<RequestFrame>,
        batch: &Arc<Batch>,
    ) -> (Vec<Option<u32>>, Vec<RequestFrame>) {
        let mut ids = Vec::with_capacity(frames.len());
        let mut send = Vec::with_capacity(frames.len());
        let mut table = self.shared.table.lock();
        for (index, mut frame) in frames.into_iter().enumerate() {
            match table.register_in(Expect::of(&frame), batch, index) {
                Ok(id) => {
                    frame.id = id;
                    send.push(frame);
                    ids.push(Some(id));
                }
                Err(refused) => {
                    batch.complete(index, Err(self.shared.refused(refused)));
                    ids.push(None);
                }
            }
        }
        (ids, send)
    }

    async fn submit(&self, submission: Submission, deadline: Instant) -> Result<(), NotSent> {
        // The queue almost always has room: no timer, and no send future in every request's
        // state (which the router boxes per request), unless it is full.
        match self.tx.try_send(submission) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(NotSent::Closed),
            Err(mpsc::error::TrySendError::Full(submission)) => {
                Box::pin(self.submit_when_room(submission, deadline)).await
            }
        }
    }

    /// Waits (until `deadline`) for room in the full queue to the writer task.
    async fn submit_when_room(&self, s: Submission, deadline: Instant) -> Result<(), NotSent> {
        match timeout_at(deadline, self.tx.send(s)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(NotSent::Closed),
            Err(_) => Err(NotSent::Timeout),
        }
    }

    /// Whether the connection is dead (or closing); a dead connection never revives.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(std::sync::atomic::Ordering::Acquire)
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

/// A connection as a request's [`Claim`] holds it: open until the reply is in.
pub(crate) struct Held(Arc<Connection>);

impl std::ops::Deref for Held {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0.shared
    }
}

/// A request handed to its connection's writer by [`Connection::send`]; its reply comes
/// from [`Pending::reply`].
pub(crate) type Claim = Pending<Held>;

/// How [`Connection::send`] went.
pub(crate) enum Sent {
    /// Handed to the writer.
    Now(Claim),
    /// Not sent, for want of room or of a live connection: the frame, as given.
    Later(RequestFrame),
    /// Not sent, and it cannot be on this connection.
    Failed(Error),
}

/// A caller's claim on the replies of a batch: dropped (or given up) with slots still
/// unanswered, it abandons their requests, as a dropped [`Pending`] does one.
struct BatchClaim<'a> {
    shared: &'a Shared,
    batch: &'a Batch,
    /// Each slot's request id (`None`: refused at registration, its outcome set).
    ids: Vec<Option<u32>>,
}

impl BatchClaim<'_> {
    /// Ends the wait: every slot still unanswered gets `why` and its request is abandoned
    /// (a reply that arrives later is dropped).
    fn give_up(&self, why: impl Fn() -> Error) {
        for index in self.abandon_unanswered() {
            self.batch.complete(index, Err(why()));
        }
    }

    /// Abandons the requests of the slots still unanswered; returns those slots.
    fn abandon_unanswered(&self) -> Vec<usize> {
        let unanswered = self.batch.unanswered();
        for id in unanswered.iter().filter_map(|i| self.ids.get(*i).copied().flatten()) {
            self.shared.abandon(id);
        }
        unanswered
    }
}

impl Drop for BatchClaim<'_> {
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            self.abandon_unanswered();
        }
    }
}
