//! [`Pool`]: a fixed number of [`Connection`]s to one address, used round-robin, each
//! (re)connected lazily with exponential backoff.
//!
//! A slot connects on first use, in a spawned task, so a slow connect keeps going even
//! if the caller that started it times out; later callers wait on the same attempt. A
//! dead connection is replaced on the next use: at once if it had worked and ended
//! cleanly, after a backoff delay if it never answered or broke the protocol. While a
//! slot is in backoff, calls fail fast with [`Error::Connect`] (or [`Error::Auth`] when the
//! server refused the password, so a wrong password is never retried in a tight loop)
//! instead of waiting. Owns no failover between addresses; that is [`super::Client`]'s.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::{Instant, timeout_at};

use super::config::{ConnectionConfig, ReconnectPolicy};
use super::connection::{Connection, Sent};
use super::error::Error;
use super::inflight::Outcome;
use crate::protocol::Status;
use crate::protocol::binary::{RequestFrame, ResponseFrame};

/// The result of one connect attempt, shared with every caller waiting on it.
type Attempt = Result<Arc<Connection>, Failure>;

/// Why a connect attempt failed, in a form that can be cloned to every waiter (an
/// `io::Error` cannot be).
#[derive(Debug, Clone)]
enum Failure {
    /// No usable connection: kind and text of the I/O error, or of a failed setup step.
    Io(io::ErrorKind, String),
    /// The server refused the password; kept apart so callers see [`Error::Auth`].
    Auth { status: Status, message: String },
}

impl Failure {
    fn of(e: Error) -> Self {
        match e {
            Error::Connect { source, .. } => Failure::Io(source.kind(), source.to_string()),
            Error::Auth { status, message, .. } => Failure::Auth { status, message },
            Error::Timeout => {
                Failure::Io(io::ErrorKind::TimedOut, "connection setup timed out".into())
            }
            other => Failure::Io(io::ErrorKind::Other, other.to_string()),
        }
    }

    /// The caller-facing error, with `note` (such as the backoff left) after the message.
    fn to_error(&self, addr: &str, note: &str) -> Error {
        match self {
            Failure::Io(kind, msg) => Error::Connect {
                addr: addr.to_owned(),
                source: io::Error::new(*kind, format!("{msg}{note}")),
            },
            Failure::Auth { status, message } => Error::Auth {
                addr: addr.to_owned(),
                status: *status,
                message: format!("{message}{note}"),
            },
        }
    }
}

/// One connection's place in the pool.
#[derive(Default)]
struct Slot {
    conn: Option<Arc<Connection>>,
    connecting: Option<watch::Receiver<Option<Attempt>>>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<Failure>,
    ever_connected: bool,
}

impl Slot {
    /// The live connection, after retiring a dead one (which schedules the backoff).
    fn live(&mut self, policy: &ReconnectPolicy) -> Option<Arc<Connection>> {
        let Some(dead) = self.conn.take_if(|c| c.is_closed()) else {
            return self.conn.clone();
        };
        if dead.ended_healthy() {
            self.failures = 0;
            self.retry_at = None;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.retry_at = Some(Instant::now() + policy.delay(self.failures));
            let reason = dead.closed_reason().unwrap_or_default();
            let kind = io::ErrorKind::ConnectionAborted;
            self.last_error = Some(Failure::Io(kind, format!("connection reset: {reason}")));
        }
        None
    }

    fn record_failure(&mut self, detail: Failure, policy: &ReconnectPolicy) {
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(Instant::now() + policy.delay(self.failures));
        self.last_error = Some(detail);
    }
}

enum Checkout {
    Ready(Arc<Connection>),
    Wait(watch::Receiver<Option<Attempt>>),
    Backoff(Error),
}

struct PoolInner {
    addr: String,
    cfg: ConnectionConfig,
    policy: ReconnectPolicy,
    slots: Box<[Mutex<Slot>]>,
    next: AtomicUsize,
    reconnects: AtomicU64,
}

/// `size` lazily connected [`Connection`]s to one address, used round-robin. Cheap to
/// clone; connections close when the last clone is dropped.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("addr", &self.inner.addr)
            .field("size", &self.inner.slots.len())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of `size` (at least 1) connections to `addr`; nothing connects until first
    /// use, so this needs no runtime.
    pub fn new(
        addr: impl Into<String>,
        size: usize,
        cfg: ConnectionConfig,
        policy: ReconnectPolicy,
    ) -> Self {
        let slots = (0..size.max(1)).map(|_| Mutex::new(Slot::default())).collect();
        let inner = PoolInner {
            addr: addr.into(),
            cfg,
            policy,
            slots,
            next: AtomicUsize::new(0),
            reconnects: AtomicU64::new(0),
        };
        Self { inner: Arc::new(inner) }
    }

    /// A new connection to this pool's address with its settings, not shared with the
    /// pool (a transaction's own connection).
    pub(crate) async fn dedicated(&self, deadline: Instant) -> Result<Connection, Error> {
        let connect = Connection::connect(&self.inner.addr, &self.inner.cfg);
        tokio::time::timeout_at(deadline, connect).await.map_err(|_| Error::Timeout)?
    }

    /// The address every connection goes to.
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Number of connection slots.
    pub fn size(&self) -> usize {
        self.inner.slots.len()
    }

    /// Successful connects that replaced an earlier connection or failed attempt.
    pub fn reconnects(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    /// Sends `frame` on the next connection (connecting it if needed) and awaits the reply;
    /// `timeout` covers connection setup too. Same contract as [`Connection::call`].
    pub async fn call(
        &self,
        frame: RequestFrame,
        timeout: Duration,
    ) -> Result<ResponseFrame, Error> {
        self.call_until(frame, Instant::now() + timeout).await
    }

    /// [`Pool::call`] with an absolute deadline.
    pub async fn call_until(&self, frame: RequestFrame, deadline: Instant) -> Outcome {
        self.connection(deadline).await?.call_until(frame, deadline).await
    }

    /// [`Connection::send`] on the next connection, without waiting: `Later` when that
    /// one is not up (or debug tracing is on, which [`Pool::call_until`]'s span serves).
    pub(crate) fn send(&self, frame: RequestFrame, deadline: Instant) -> Sent {
        if tracing::enabled!(tracing::Level::DEBUG) {
            return Sent::Later(frame);
        }
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.slots.len();
        match self.inner.checkout(start) {
            Checkout::Ready(conn) => conn.send(frame, deadline),
            _ => Sent::Later(frame),
        }
    }

    /// Sends all `frames` in one write on the next connection and awaits their replies
    /// until `deadline`: one outcome per frame, in order (see
    /// [`Connection::call_batch_until`]). A connection that cannot be had fails them all.
    pub async fn call_batch_until(
        &self,
        frames: Vec<RequestFrame>,
        deadline: Instant,
    ) -> Vec<Outcome> {
        match self.connection(deadline).await {
            Ok(conn) => conn.call_batch_until(frames, deadline).await,
            Err(e) => frames.iter().map(|_| Err(e.duplicate())).collect(),
        }
    }

    /// The next connection in round-robin order, connecting its slot if needed. While
    /// that slot reconnects, another slot's live connection is used instead.
    pub async fn connection(&self, deadline: Instant) -> Result<Arc<Connection>, Error> {
        let n = self.inner.slots.len();
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed) % n;
        let first = self.inner.checkout(start);
        if let Checkout::Ready(conn) = first {
            return Ok(conn);
        }
        let policy = &self.inner.policy;
        let other = (1..n).find_map(|k| self.inner.slots[(start + k) % n].lock().live(policy));
        if let Some(conn) = other {
            return Ok(conn);
        }
        match first {
            Checkout::Ready(conn) => Ok(conn),
            Checkout::Backoff(e) => Err(e),
            // Boxed: a connect in progress is rare, and its wait would otherwise grow the
            // state of every request's future.
            Checkout::Wait(rx) => Box::pin(self.inner.await_attempt(rx, deadline)).await,
        }
    }
}

impl PoolInner {
    fn checkout(self: &Arc<Self>, i: usize) -> Checkout {
        let mut slot = self.slots[i].lock();
        if let Some(conn) = slot.live(&self.policy) {
            return Checkout::Ready(conn);
        }
        // `has_changed` fails once the attempt's task is gone without reporting (its
        // runtime shut down); start a new attempt then.
        if let Some(rx) = slot.connecting.as_ref().filter(|rx| rx.has_changed().is_ok()) {
            return Checkout::Wait(rx.clone());
        }
        let now = Instant::now();
        if let Some(at) = slot.retry_at.filter(|at| *at > now) {
            let last = slot.last_error.clone();
            let last = last.unwrap_or_else(|| Failure::Io(io::ErrorKind::Other, String::new()));
            let note = format!(" (next attempt in {:?})", at - now);
            return Checkout::Backoff(last.to_error(&self.addr, &note));
        }
        let (tx, rx) = watch::channel(None);
        slot.connecting = Some(rx.clone());
        tokio::spawn(self.clone().connect_slot(i, tx));
        Checkout::Wait(rx)
    }

    async fn connect_slot(self: Arc<Self>, i: usize, tx: watch::Sender<Option<Attempt>>) {
        let result = Connection::connect(&self.addr, &self.cfg).await;
        let attempt = {
            let mut slot = self.slots[i].lock();
            slot.connecting = None;
            match result {
                Ok(conn) => {
                    let conn = Arc::new(conn);
                    if slot.ever_connected || slot.failures > 0 {
                        self.reconnects.fetch_add(1, Ordering::Relaxed);
                    }
                    slot.ever_connected = true;
                    slot.retry_at = None;
                    slot.conn = Some(conn.clone());
                    Ok(conn)
                }
                Err(e) => {
                    let detail = Failure::of(e);
                    slot.record_failure(detail.clone(), &self.policy);
                    Err(detail)
                }
            }
        };
        // Nobody may be waiting any more; the slot already holds the result.
        let _ = tx.send(Some(attempt));
    }

    async fn await_attempt(
        &self,
        mut rx: watch::Receiver<Option<Attempt>>,
        deadline: Instant,
    ) -> Result<Arc<Connection>, Error> {
        let gone = || self.connect_error(io::ErrorKind::Other, "connect attempt abandoned".into());
        match timeout_at(deadline, rx.wait_for(Option::is_some)).await {
            Err(_) => Err(Error::Timeout),
            Ok(Err(_)) => Err(gone()),
            Ok(Ok(attempt)) => match attempt.as_ref() {
                Some(Ok(conn)) => Ok(conn.clone()),
                Some(Err(failure)) => Err(failure.to_error(&self.addr, "")),
                None => Err(gone()),
            },
        }
    }

    fn connect_error(&self, kind: io::ErrorKind, msg: String) -> Error {
        Error::Connect { addr: self.addr.clone(), source: io::Error::new(kind, msg) }
    }
}
