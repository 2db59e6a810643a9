//! Forwarding one key's request: reads with failover (each replica at most once, healthy
//! ones first), writes fanned out to every replica concurrently with the outcome reported
//! as OK, PARTIAL or UNAVAILABLE.

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

/// Why a forwarded request failed: the error reply, and whether some replica said the
/// key's shard is not where the router's map put it (so the map should be re-read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// What the client gets.
    pub reply: ErrorReply,
    /// A replica answered WRONG_SHARD.
    pub wrong_shard: bool,
}

impl Failed {
    /// A failure that says nothing about the map.
    pub fn plain(reply: ErrorReply) -> Self {
        Self { reply, wrong_shard: false }
    }
}

/// Reads from one replica, failing over to each other replica at most once. A miss is a
/// success. Replicas that are ejected or not caught up on `key` are skipped (unless none
/// is usable). Returns the first good reply, or UNAVAILABLE naming the last error.
pub async fn read(
    policy: ReadPolicy,
    shard: u32,
    replicas: &[Arc<Backend>],
    frame: &RequestFrame,
    timeouts: &Timeouts,
    deadline: Instant,
) -> Result<ResponseFrame, Failed> {
    if replicas.is_empty() {
        return Err(Failed::plain(no_replicas(shard)));
    }
    let usable = |b: &Backend| b.readable(shard, &frame.key);
    let caught_up = |b: &Backend| b.caught_up(shard, &frame.key);
    let mut tried = vec![false; replicas.len()];
    let mut last: Option<(String, Error)> = None;
    let mut wrong_shard = false;
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
    let why = match last {
        Some((n, e)) => format!("{n}: {e}"),
        // None was up to date: say why each was passed over.
        None => {
            let each = replicas
                .iter()
                .map(|b| format!("{}: {}", b.name(), b.why_not_read(shard, &frame.key)));
            each.collect::<Vec<_>>().join("; ")
        }
    };
    let msg = format!("no replica of shard {shard} could serve ({why})");
    Err(Failed { reply: ErrorReply::new(Status::Unavailable, msg), wrong_shard })
}

/// UNAVAILABLE for a shard with no replicas.
pub fn no_replicas(shard: u32) -> ErrorReply {
    ErrorReply::new(Status::Unavailable, format!("shard {shard} has no replicas"))
}
