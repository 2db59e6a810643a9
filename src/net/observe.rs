//! What a connection reports to its process's [`Services`] and the per-request effects of
//! its session: registration in the client registry (for CLIENT LIST and KILL), the
//! activity CLIENT LIST shows (published once per turn), slow-log timing, MONITOR feeding
//! and subscription, and CLIENT REPLY's suppression of replies.
//!
//! All of it is skipped for handlers without services (test fakes), and the costs on the
//! hot path are one clock read per request while the slow log is on and one relaxed load
//! per request to see whether anyone monitors.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::broadcast::error::RecvError;

use crate::cmd::clients::Registration;
use crate::cmd::monitor::{Subscription, redact};
use crate::cmd::session::ConnFacts;
use crate::cmd::slowlog::SLOWLOG_TIME_ALL_BELOW;
use crate::cmd::{Command, ReplyMode, Services, Session, Spec};
use crate::codec::Shape;
use crate::protocol::text::Argv;

/// How often a busy connection refreshes what CLIENT LIST shows of it (its last command
/// is refreshed at once when it changes); idle and age are shown in whole seconds.
pub const ACTIVITY_REFRESH: Duration = Duration::from_millis(100);

/// One connection's link to its process's services.
pub(super) struct Observer<'a> {
    services: Option<&'a Services>,
    registration: Option<Registration<'a>>,
    /// The MONITOR subscription while the session is in MONITOR mode.
    monitor: Option<Subscription<'a>>,
    last_cmd: &'static str,
    /// What was last published, so a busy connection does not take the lock every turn.
    published: Option<(Instant, &'static str)>,
    /// The slow log threshold for this turn (`None`: the log is off), read once per turn.
    slow_after: Option<Duration>,
    /// Whether this turn times `O(1)` commands too (a threshold under
    /// [`SLOWLOG_TIME_ALL_BELOW`]).
    time_all: bool,
    /// Whether anyone monitored when this turn began.
    monitored: bool,
}

/// What [`Observer::before`] noted about a request, for [`Observer::after`].
pub(super) struct Pending {
    spec: &'static Spec,
    started: Option<Instant>,
    /// The first key of a typed binary request (which has no argument vector) while a
    /// monitor watches, so it can be shown.
    key: Option<Bytes>,
    /// Refused without running (a monitor's keyspace command): not shown to monitors.
    refused: bool,
}

impl<'a> Observer<'a> {
    /// Registers the connection (when there are services) with its socket facts.
    pub(super) fn new(services: Option<&'a Services>, session: &Session, facts: ConnFacts) -> Self {
        session.client.set_conn(facts);
        let registration = services.map(|s| s.clients.register(session.client.clone()));
        Self {
            services,
            registration,
            monitor: None,
            last_cmd: "NULL",
            published: None,
            slow_after: None,
            time_all: false,
            monitored: false,
        }
    }

    /// Reads the shared settings once for a turn's requests, so each request costs plain
    /// field reads.
    pub(super) fn begin_turn(&mut self) {
        if let Some(s) = self.services {
            let limit = s.slowlog.slower_than_us();
            self.slow_after = u64::try_from(limit).ok().map(Duration::from_micros);
            self.time_all = self.slow_after.is_some_and(|d| d < SLOWLOG_TIME_ALL_BELOW);
            self.monitored = s.monitors.active();
        }
    }

    /// Notes a request about to be handed to the handler; `prev` is when the request before
    /// it was done, if that is known (it was timed, or it is the first of the turn).
    pub(super) fn before(
        &self,
        command: &Command,
        has_argv: bool,
        prev: Option<Instant>,
        session: &Session,
    ) -> Pending {
        let spec = command.full_spec();
        // A monitor's keyspace commands are refused before they run, so nothing is shown.
        let refused = session.monitor && crate::cmd::touches_keyspace(spec);
        // Only a monitor pays for the key of a typed binary request: the slow log shows
        // such a request by its command name alone.
        let key = match has_argv || !self.monitored {
            true => None,
            false => command.keys().next().cloned(),
        };
        let timed = self.slow_after.is_some() && (self.time_all || !spec.constant_time());
        let started = if timed { Some(prev.unwrap_or_else(Instant::now)) } else { None };
        Pending { spec, started, key, refused }
    }

    /// After the handler took the request: slow log, MONITOR, the reply mode. Returns the
    /// shape the reply goes out in and, if the request was timed, the time now (the next
    /// request's start).
    pub(super) fn after(
        &mut self,
        p: Pending,
        argv: Option<&Argv>,
        session: &mut Session,
        shape: Shape,
    ) -> (Shape, Option<Instant>) {
        self.last_cmd = p.spec.name;
        let Some(services) = self.services else {
            return (shape, None);
        };
        let shown = |p: &Pending| match argv {
            Some(a) => a.to_vec(),
            None => synthesize(p.spec, p.key.clone()),
        };
        let mut now = None;
        if let (Some(start), Some(limit)) = (p.started, self.slow_after) {
            let at = Instant::now();
            let took = at.saturating_duration_since(start);
            if took >= limit && !p.spec.has(crate::cmd::Flag::SkipSlowlog) {
                let argv = redact(p.spec, &shown(&p));
                services.slowlog.record(took, &argv, session.peer, session.name());
            }
            now = Some(at);
        }
        if self.monitored && session.authenticated && !p.refused {
            services.monitors.feed(p.spec, session.peer, &shown(&p));
        }
        self.sync_monitor(session);
        // An admin command (CONFIG SET) may have changed the settings: the next request of
        // this turn sees the new ones, as in Redis.
        if p.spec.has(crate::cmd::Flag::Admin) {
            self.begin_turn();
        }
        (reply_shape(session, shape), now)
    }

    fn sync_monitor(&mut self, session: &Session) {
        match (session.monitor, self.monitor.is_some(), self.services) {
            (true, false, Some(s)) => self.monitor = Some(s.monitors.subscribe()),
            (false, true, _) => self.monitor = None,
            _ => {}
        }
    }

    /// Ends the link for a connection moving to another worker, leaving it registered
    /// (see [`Registration::keep`]).
    pub(super) fn leave(mut self) {
        if let Some(r) = self.registration.take() {
            r.keep();
        }
    }

    /// Whether the connection streams MONITOR lines.
    pub(super) fn monitoring(&self) -> bool {
        self.monitor.is_some()
    }

    /// The next MONITOR line; `None` when this monitor fell too far behind and must be
    /// closed. Pending forever while not monitoring.
    pub(super) async fn next_line(&mut self) -> Option<Bytes> {
        let Some(sub) = &mut self.monitor else {
            return std::future::pending().await;
        };
        loop {
            match sub.rx.recv().await {
                Ok(line) => return Some(line),
                Err(RecvError::Lagged(_)) => return None,
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// Publishes the turn's activity (as of `now`) for CLIENT LIST: at most one lock per
    /// [`ACTIVITY_REFRESH`] while the last command stays the same.
    pub(super) fn publish(
        &mut self,
        session: &Session,
        now: Instant,
        rbuf: &BytesMut,
        wbuf: &BytesMut,
    ) {
        if self.services.is_none() {
            return;
        }
        let last = self.last_cmd;
        let fresh = |(at, cmd): (Instant, &str)| {
            cmd == last && now.saturating_duration_since(at) < ACTIVITY_REFRESH
        };
        if self.published.is_some_and(fresh) {
            return;
        }
        self.published = Some((now, last));
        session.client.update(|c| {
            c.last_cmd = last;
            c.last_active = now;
            c.qbuf = rbuf.len();
            c.qbuf_free = rbuf.capacity() - rbuf.len();
            c.obl = wbuf.len();
            c.omem = wbuf.capacity();
        });
    }
}

/// The arguments shown for a typed binary request: the command's name and its key.
fn synthesize(spec: &Spec, key: Option<Bytes>) -> Vec<Bytes> {
    std::iter::once(Bytes::from_static(spec.name.as_bytes())).chain(key).collect()
}

/// The shape a text reply goes out in under CLIENT REPLY, advancing SKIP by one command.
/// Binary replies are always sent: their clients match replies by id.
pub(super) fn reply_shape(session: &mut Session, shape: Shape) -> Shape {
    if shape != Shape::Text {
        return shape;
    }
    let (silent, next) = match session.reply {
        ReplyMode::On => (false, ReplyMode::On),
        ReplyMode::Off => (true, ReplyMode::Off),
        ReplyMode::Skip => (true, ReplyMode::SkipNext),
        ReplyMode::SkipNext => (true, ReplyMode::On),
    };
    session.reply = next;
    if silent { Shape::Silent } else { shape }
}

/// The facts CLIENT LIST shows about a socket.
pub(super) fn facts(
    stream: &tokio::net::TcpStream,
    close: tokio_util::sync::CancellationToken,
) -> ConnFacts {
    let local: Option<SocketAddr> = stream.local_addr().ok();
    #[cfg(unix)]
    let fd = i64::from(std::os::fd::AsRawFd::as_raw_fd(stream));
    #[cfg(not(unix))]
    let fd = -1;
    ConnFacts { local, fd, close }
}
