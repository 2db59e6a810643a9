//! Forwarding one key's request: reads with failover (each replica at most once, healthy
//! ones first), the router's timeouts, and the typed failure every forwarded request ends
//! with ([`Failed`]: what happened, as a [`Failure`], and whether a retry is safe), which
//! reaches the client as an error reply and the router's counters by kind.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::backend::Backend;
use super::select::{ReadPolicy, next_replica};
use crate::client::Error;
use crate::protocol::binary::{RequestFrame, ResponseFrame};
use crate::protocol::{ErrorReply, Status};

/// Router timeouts; none is infinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect to a backend.
    pub connect: Duration,
    /// One read attempt on one replica.
    pub read_try: Duration,
    /// A write fan-out, waiting for every replica.
    pub write: Duration,
    /// A whole client request, failovers included.
    pub request: Duration,
}

/// Default backend connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// Default deadline of one read attempt.
pub const DEFAULT_READ_TRY_TIMEOUT: Duration = Duration::from_millis(250);
/// Default deadline of a write fan-out.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_millis(500);
/// Default deadline of a whole request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: DEFAULT_CONNECT_TIMEOUT,
            read_try: DEFAULT_READ_TRY_TIMEOUT,
            write: DEFAULT_WRITE_TIMEOUT,
            request: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// What went wrong with a forwarded request, as the router's counters and metrics count
/// it. Classified from the typed backend error, never from message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// A deadline passed before an answer came.
    Timeout,
    /// No connection could be made (refused, unreachable, connect timeout): nothing sent.
    Refused,
    /// The connection closed, or was reset for a bad reply, with the request in flight.
    Closed,
    /// The node answered with an error status.
    Reply(Status),
    /// The node does not host the key's shard: the router's map is behind or ahead.
    WrongShard,
    /// No replica could be asked: the shard has none, or none is caught up on the key.
    NoReplica,
    /// A write reached some replicas, but fewer than the write-ack mode asks for.
    Partial,
}

impl Failure {
    /// Every kind, in STATS order (all error statuses count as one, [`Failure::Reply`]).
    pub const KINDS: [Failure; 7] = [
        Failure::Timeout,
        Failure::Refused,
        Failure::Closed,
        Failure::Reply(Status::Internal),
        Failure::WrongShard,
        Failure::NoReplica,
        Failure::Partial,
    ];

    /// How a backend call failed.
    pub fn of(e: &Error) -> Self {
        match e {
            Error::Timeout => Failure::Timeout,
            Error::Connect { .. } | Error::NoAddresses | Error::Auth { .. } => Failure::Refused,
            Error::ConnectionClosed { .. } | Error::Protocol(_) | Error::Io(_) => Failure::Closed,
            Error::Server { status: Status::WrongShard, .. } => Failure::WrongShard,
            Error::Server { status, .. } => Failure::Reply(*status),
            Error::InFlightLimit { .. } => Failure::Reply(Status::Busy),
            Error::KeyTooLarge { .. } => Failure::Reply(Status::KeyTooLarge),
            Error::ValueTooLarge { .. } => Failure::Reply(Status::ValueTooLarge),
            Error::InvalidArgument(_) => Failure::Reply(Status::InvalidArgument),
            // The router never runs client transactions against its backends.
            Error::TransactionConflict { .. } => Failure::Reply(Status::Internal),
        }
    }

    /// Its position in [`Failure::KINDS`], for counters.
    pub fn index(self) -> usize {
        match self {
            Failure::Timeout => 0,
            Failure::Refused => 1,
            Failure::Closed => 2,
            Failure::Reply(_) => 3,
            Failure::WrongShard => 4,
            Failure::NoReplica => 5,
            Failure::Partial => 6,
        }
    }

    /// Lower-case name, as STATS (`errors_<name>`) and the metrics' `kind` label spell it.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Refused => "refused",
            Failure::Closed => "closed",
            Failure::Reply(_) => "reply",
            Failure::WrongShard => "wrong_shard",
            Failure::NoReplica => "no_replica",
            Failure::Partial => "partial",
        }
    }

    /// Whether the request may have taken effect although it failed: a non-idempotent
    /// request must then not be retried blindly.
    pub fn maybe_applied(self) -> bool {
        matches!(self, Failure::Timeout | Failure::Closed | Failure::Partial)
    }
}

/// Why a forwarded request failed: what the client gets, what happened, whether a retry
/// is safe, and whether some replica said the key's shard is not where the router's map
/// put it (so the map should be re-read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// What the client gets.
    pub reply: ErrorReply,
    /// What happened (for a failover, the last attempt's failure).
    pub failure: Failure,
    /// Sending the same request again cannot apply it twice: it is idempotent (reads,
    /// versioned writes), or it cannot have been applied.
    pub retry_safe: bool,
    /// A replica answered WRONG_SHARD.
    pub wrong_shard: bool,
}

impl Failed {
    /// A failure of an idempotent request (reads and versioned writes are).
    pub fn new(failure: Failure, reply: ErrorReply) -> Self {
        Self { reply, failure, retry_safe: true, wrong_shard: failure == Failure::WrongShard }
    }

    /// A failure of a request that is not idempotent: a retry is safe only if it cannot
    /// have been applied.
    pub fn once(failure: Failure, reply: ErrorReply) -> Self {
        Self { retry_safe: !failure.maybe_applied(), ..Self::new(failure, reply) }
    }

    /// The node's error reply to the request itself (bad arguments, too large): passed to
    /// the client as it is.
    pub fn reply(reply: ErrorReply) -> Self {
        Self::new(Failure::Reply(reply.status), reply)
    }

    /// The router answers the client itself with `reply` (a request it refuses).
    pub fn refused(reply: ErrorReply) -> Self {
        Self::reply(reply)
    }
}

/// A replica already asked for a read, and how that failed.
#[derive(Debug)]
pub struct Earlier {
    /// The replica.
    pub replica: Arc<Backend>,
    /// Its failure.
    pub error: Error,
}

/// Reads from one replica, failing over to each other replica at most once. A miss is a
/// success. Replicas that are ejected or not caught up on `key` are skipped (unless none
/// is usable). Returns the first good reply, or UNAVAILABLE naming the last error. A read
/// that `earlier`'s replica already failed does not ask it again, and its failure is the
/// last one until another's replaces it.
pub async fn read(
    policy: ReadPolicy,
    read: Read<'_>,
    replicas: &[Arc<Backend>],
    timeouts: &Timeouts,
    deadline: Instant,
    earlier: Option<Earlier>,
) -> Result<ResponseFrame, Failed> {
    let Read { shard, key, frame } = read;
    if replicas.is_empty() {
        return Err(Failed::new(Failure::NoReplica, no_replicas(shard)));
    }
    let usable = |b: &Backend| b.readable(shard, key);
    let caught_up = |b: &Backend| b.caught_up(shard, key);
    let mut tried = vec![false; replicas.len()];
    let mut wrong_shard = false;
    let mut last: Option<(String, Error)> = None;
    if let Some(Earlier { replica, error }) = earlier {
        for (i, b) in replicas.iter().enumerate() {
            tried[i] |= Arc::ptr_eq(b, &replica);
        }
        wrong_shard = matches!(&error, Error::Server { status: Status::WrongShard, .. });
        last = Some((replica.name().to_owned(), error));
    }
    loop {
        // The rng is not Send, so it must not live across the await below.
        let pick =
            next_replica(policy, replicas, &tried, usable, caught_up, &mut rand::thread_rng());
        let Some(i) = pick else { break };
        tried[i] = true;
        let try_deadline = deadline.min(Instant::now() + timeouts.read_try);
        match replicas[i].call(frame.clone(), try_deadline).await {
            Ok(resp) => return Ok(resp),
            Err(e) => {
                wrong_shard |= matches!(&e, Error::Server { status: Status::WrongShard, .. });
                last = Some((replicas[i].name().to_owned(), e));
            }
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    let (why, failure) = match last {
        Some((n, e)) => (format!("{n}: {e}"), Failure::of(&e)),
        // None was up to date: say why each was passed over. The shard is down for reads,
        // so whether an ejected replica is back is worth knowing sooner than its backoff.
        None => {
            replicas.iter().filter(|b| b.health().is_ejected()).for_each(|b| b.wake_prober());
            let each =
                replicas.iter().map(|b| format!("{}: {}", b.name(), b.why_not_read(shard, key)));
            (each.collect::<Vec<_>>().join("; "), Failure::NoReplica)
        }
    };
    let msg = format!("no replica of shard {shard} could serve ({why})");
    let failed = Failed::new(failure, ErrorReply::new(Status::Unavailable, msg));
    Err(Failed { wrong_shard, ..failed })
}

/// One read: the key's shard, the key (a replica must be caught up on it), and the frame
/// sent (a typed opcode, or CMD whose own key field is empty).
#[derive(Debug, Clone, Copy)]
pub struct Read<'a> {
    /// The key's shard.
    pub shard: u32,
    /// The key the read is about (for a multi-key read, any of its keys).
    pub key: &'a [u8],
    /// The request.
    pub frame: &'a RequestFrame,
}

/// UNAVAILABLE for a shard with no replicas.
pub fn no_replicas(shard: u32) -> ErrorReply {
    ErrorReply::new(Status::Unavailable, format!("shard {shard} has no replicas"))
}
