//! The per-connection loop: read, decode every complete request (in runs of up to
//! [`PREPARE_RUN`], each shown to [`Handler::prepare`] first), dispatch to the handler,
//! encode replies into one buffer and flush once per batch.
//!
//! One task owns the stream (plain TCP or TLS, see [`Stream`]) and `select!`s between its
//! reads and writes, replies still in flight, the deadline and shutdown, so pending output
//! is always bounded: reading pauses above the soft output limit or
//! [`MAX_IN_FLIGHT`](super::MAX_IN_FLIGHT) unanswered requests, and the client is dropped
//! above the hard limit or when output makes no progress for the output timeout. Replies
//! leave in request order.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::debug;

mod deadline;
mod output;
mod turn;

use super::inflight::InFlight;
use super::observe::{Observer, facts};
use super::stream::{Io, IoEvent, Stream};
use super::{Handler, NetConfig, NetStats, READ_CHUNK, Session};
use crate::codec::{Inbound, ServerCodec};
use crate::protocol::Status;
use crate::protocol::text::Argv;

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
    Killed,
    MonitorLagged,
    Io,
    /// Leaves for worker `.0` (see `balance`); the socket stays open.
    Moved(usize),
}

/// "No deadline": further out than any timeout a connection has.
const FAR: Duration = Duration::from_secs(24 * 3600);

/// Outcome of one processing turn.
enum Turn {
    /// Nothing more can be decoded now (or a limit on pending work was reached).
    Drained,
    /// The batch cap was hit with requests still buffered.
    More,
    /// Stop reading; answer what is in flight, flush, then close.
    Close(End),
}

/// What one connection's loop carries from turn to turn.
struct LoopState {
    closing: Option<End>,
    /// The last turn stopped at the batch limit with requests still buffered.
    more: bool,
    /// A reply became pending with nothing in flight: write it before waiting.
    flush_now: bool,
    /// A pipelined turn's replies became pending with nothing in flight: write them once
    /// the worker's other ready connections have had their turn (see `prepare`).
    flush_after_round: bool,
    /// Bytes arrived since the last quiet moment (only a connection that reads may move).
    read: bool,
    clock: Clock,
}

impl LoopState {
    /// Bytes arrived (or the peer closed).
    fn on_read(&mut self, res: std::io::Result<usize>, mid_frame: bool) -> Option<End> {
        match res {
            Ok(0) => self.closing = Some(End::Eof),
            Ok(_) => {
                self.read = true;
                self.clock.last_read = Instant::now();
                if !mid_frame {
                    self.clock.frame_start = self.clock.last_read;
                }
            }
            Err(_) => return Some(End::Io),
        }
        None
    }
}

/// When things last happened, for the deadlines.
struct Clock {
    last_read: Instant,
    frame_start: Instant,
    last_write: Instant,
}

struct Conn<'a, H: Handler> {
    handler: &'a H,
    cfg: &'a NetConfig,
    stats: &'a NetStats,
    codec: ServerCodec,
    session: Session,
    rbuf: BytesMut,
    wbuf: BytesMut,
    inflight: InFlight<H::Future>,
    /// The run of requests being decoded (kept to reuse its buffer).
    run: Vec<Inbound>,
    /// The argument vectors of `run`'s requests, index for index.
    argvs: Vec<Option<Argv>>,
    /// The last command tallied, for the next one's slot.
    memo: super::tally::Memo,
    /// A last error to send once in-flight replies are out, then close.
    last_words: Option<(Status, String)>,
    /// The codec enforces `cfg.pre_auth_limits` until the session authenticates.
    pre_auth: bool,
    /// Registration, activity, slow log, MONITOR and CLIENT REPLY.
    observer: Observer<'a>,
    /// Whether it may move to another worker (see `balance`), and the balancing period it
    /// was last counted active in.
    may_move: bool,
    period_seen: u64,
}

/// A connection leaving its worker between requests (see `balance`): its socket and what
/// the loop keeps of it across requests. Nothing is in flight or buffered.
pub(super) struct Parked<S> {
    pub(super) stream: S,
    pub(super) session: Session,
    pub(super) codec: ServerCodec,
    /// The worker it goes to.
    pub(super) to: usize,
}

/// Serves one accepted connection (TCP, or TLS after its handshake) until it ends, the
/// client quits or `shutdown` fires.
pub async fn serve_connection<H: Handler, S: Stream>(
    stream: S,
    session: Session,
    handler: Arc<H>,
    cfg: Arc<NetConfig>,
    stats: Arc<NetStats>,
    shutdown: CancellationToken,
) {
    let serving = Serving { handler: &*handler, cfg: &cfg, stats: &stats, shutdown: &shutdown };
    let parked = serve_movable(stream, session, None, false, serving).await;
    debug_assert!(parked.is_none(), "a connection that may not move moved");
}

/// What a connection loop borrows from its service.
pub(super) struct Serving<'a, H> {
    pub(super) handler: &'a H,
    pub(super) cfg: &'a NetConfig,
    pub(super) stats: &'a NetStats,
    pub(super) shutdown: &'a CancellationToken,
}

/// [`serve_connection`], resuming with `codec` if the connection comes from another
/// worker; if `may_move` (and the stream can), returns the connection instead of closing
/// it when the balancer moves it.
pub(super) async fn serve_movable<H: Handler, S: Stream>(
    stream: S,
    session: Session,
    codec: Option<ServerCodec>,
    may_move: bool,
    serving: Serving<'_, H>,
) -> Option<Parked<S>> {
    let Serving { handler, cfg, stats, shutdown } = serving;
    let pre_auth = !session.authenticated;
    let limits = if pre_auth { cfg.pre_auth_limits } else { cfg.limits };
    // Cancelled by shutdown or by CLIENT KILL; the loop tells which from `shutdown`. A
    // connection from another worker keeps its token, which a KILL may have cancelled on
    // the way.
    let close = session.client.conn().map_or_else(|| shutdown.child_token(), |f| f.close.clone());
    let observer = Observer::new(handler.services(), &session, facts(stream.tcp(), close.clone()));
    let mut conn = Conn {
        handler,
        cfg,
        stats,
        codec: codec.unwrap_or_else(|| ServerCodec::new(limits)),
        session,
        rbuf: BytesMut::with_capacity(READ_CHUNK),
        wbuf: BytesMut::with_capacity(READ_CHUNK),
        inflight: InFlight::new(),
        run: Vec::new(),
        argvs: Vec::new(),
        memo: super::tally::Memo::default(),
        last_words: None,
        pre_auth,
        observer,
        may_move: may_move && S::MOVABLE,
        period_seen: u64::MAX,
    };
    let mut io = Io::new(stream);
    let end = conn.run(&mut io, &close, shutdown).await;
    if let End::Moved(to) = end {
        debug!(to, "connection moves to another worker");
        let Conn { session, codec, observer, .. } = conn;
        observer.leave();
        return Some(Parked { stream: io.into_inner(), session, codec, to });
    }
    debug!(?end, "connection closed");
    io.close(end != End::Io).await;
    None
}

impl<H: Handler> Conn<'_, H> {
    async fn run<S: Stream>(
        &mut self,
        io: &mut Io<S>,
        close: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> End {
        let _live = super::spin::Live::enter();
        let _placed = self.stats.placement.enter();
        let now = Instant::now();
        let mut st = LoopState {
            closing: None,
            more: false,
            flush_now: false,
            flush_after_round: false,
            read: false,
            clock: Clock { last_read: now, frame_start: now, last_write: now },
        };
        // One timer for the connection's life: re-arming a fresh one on every turn costs a
        // timer-wheel insert and removal per request. It is moved earlier when a deadline
        // comes closer and otherwise allowed to fire early, then re-armed.
        let timer = tokio::time::sleep_until(now + FAR);
        tokio::pin!(timer);
        // One waiter on the close token for the connection's life, likewise: a fresh
        // `cancelled()` each turn registers and removes a waiter under the token's lock.
        // Polled through `Quiet`, which asks the token only once it has signalled.
        let cancelled = close.cancelled();
        tokio::pin!(cancelled);
        let mut cancelled = super::Quiet::new(cancelled);
        loop {
            if let Err(end) = self.prepare(&mut st, io) {
                return end;
            }
            if self.may_move && st.read && st.closing.is_none() && !st.more && self.quiet(io) {
                st.read = false;
                if let Some(to) = super::fleet::at_quiet_moment(&mut self.period_seen) {
                    return End::Moved(to);
                }
            }
            let reading = st.closing.is_none() && !st.more && self.has_room();
            let mid_frame = self.codec.is_mid_frame(&self.rbuf);
            // With no deadline (no timeouts configured, the common case), the timer is
            // not polled at all: polling it costs more than the turn's other waits. An
            // earlier arming may still fire; that turn only re-checks.
            let armed = self.deadline(reading, mid_frame, &st.clock);
            if let Some((at, _)) = armed.filter(|(at, _)| *at < timer.deadline()) {
                timer.as_mut().reset(at);
            }
            if reading && self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 2 {
                self.rbuf.reserve(READ_CHUNK);
            }
            let done = tokio::select! {
                biased;
                _ = &mut cancelled, if st.closing.is_none() => {
                    st.closing =
                        Some(if shutdown.is_cancelled() { End::Shutdown } else { End::Killed });
                    None
                }
                _ = tokio::task::yield_now(), if st.flush_after_round => {
                    st.flush_after_round = false;
                    let flushed = io.try_flush(&mut self.wbuf);
                    self.stats.bytes_out.add(io.take_written());
                    (!flushed).then_some(End::Io)
                }
                // Replies first, and all that are ready at once, so one write carries them
                // all instead of one write per reply.
                Some(done) = self.inflight.next(), if !self.inflight.is_empty() => {
                    self.finish(done);
                    self.drain_ready();
                    None
                }
                // Output first, then reads, in one poll of the one stream.
                event = std::future::poll_fn(|cx| io.poll(cx, &mut self.rbuf, &mut self.wbuf, reading)),
                    if (reading || !io.is_flushed(&self.wbuf)) && !st.flush_after_round => match event {
                    IoEvent::Wrote => {
                        self.stats.bytes_out.add(io.take_written());
                        st.clock.last_write = Instant::now();
                        None
                    }
                    IoEvent::WriteFailed => Some(End::Io),
                    IoEvent::Read(res) => {
                        super::spin::note_activity();
                        if let Ok(n) = res {
                            self.stats.bytes_in.add(n as u64);
                        }
                        st.on_read(res, mid_frame)
                    }
                },
                line = self.observer.next_line(), if self.observer.monitoring() => match line {
                    Some(line) => {
                        self.wbuf.extend_from_slice(&line);
                        None
                    }
                    None => Some(End::MonitorLagged),
                },
                _ = tokio::task::yield_now(), if st.more => None,
                _ = &mut timer, if armed.is_some() => match armed {
                    Some((at, _)) if Instant::now() < at => {
                        timer.as_mut().reset(at);
                        None
                    }
                    Some((_, why)) => self.on_deadline(&mut st, why),
                    None => None,
                },
            };
            if let Some(end) = done {
                return end;
            }
            if let Some(End::Shutdown) = st.closing {
                // Requests already fully received still get their replies.
                if let (Turn::Close(end), _) = self.process(std::time::Instant::now()) {
                    st.closing = Some(end);
                }
            }
        }
    }

    /// A deadline passed: a slow frame gets an error before the close, the others close.
    fn on_deadline(&mut self, st: &mut LoopState, why: End) -> Option<End> {
        match why {
            End::SlowFrame => {
                let msg = format!("request incomplete after {:?}", self.cfg.frame_timeout);
                self.last_words = Some((Status::ProtocolError, msg));
                st.closing = Some(End::SlowFrame);
                None
            }
            other => Some(other),
        }
    }

    /// Whether the connection is between requests, with nothing in flight, buffered in or
    /// out, or owed (a monitor never is): what it carries is then its session and codec.
    fn quiet<S: Stream>(&self, io: &Io<S>) -> bool {
        self.inflight.is_empty()
            && self.rbuf.is_empty()
            && io.is_flushed(&self.wbuf)
            && self.last_words.is_none()
            && !self.observer.monitoring()
    }
}
