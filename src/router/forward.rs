//! Forwarding one key's request: reads with failover (each replica at most once, healthy
//! ones first), writes fanned out to every replica concurrently with the outcome reported
//! as OK, PARTIAL or UNAVAILABLE.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use super::backend::{Backend, is_client_fault};
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

/// Reads from one replica, failing over to each other replica at most once. A miss is a
/// success. Returns the first good reply, or UNAVAILABLE naming the last error.
pub async fn read(
    policy: ReadPolicy,
    shard: u32,
    replicas: &[Arc<Backend>],
    frame: &RequestFrame,
    timeouts: &Timeouts,
    deadline: Instant,
) -> Result<ResponseFrame, ErrorReply> {
    if replicas.is_empty() {
        return Err(no_replicas(shard));
    }
    let mut tried = vec![false; replicas.len()];
    let mut last: Option<(String, Error)> = None;
    loop {
        let pick = next_replica(policy, replicas, &tried, &mut rand::thread_rng());
        let Some(i) = pick else { break };
        tried[i] = true;
        let try_deadline = deadline.min(Instant::now() + timeouts.read_try);
        match replicas[i].call(frame.clone(), try_deadline).await {
            Ok(resp) => return Ok(resp),
            Err(e) => last = Some((replicas[i].name().to_owned(), e)),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    let why =
        last.map_or_else(|| "every replica is ejected".to_owned(), |(n, e)| format!("{n}: {e}"));
    Err(ErrorReply::new(
        Status::Unavailable,
        format!("no replica of shard {shard} could serve ({why})"),
    ))
}

/// What a write fan-out achieved.
#[derive(Debug)]
pub struct WriteOutcome {
    /// Replies of the replicas that acknowledged.
    pub acked: Vec<ResponseFrame>,
    /// Names and errors of the replicas that did not.
    pub failed: Vec<(String, String)>,
}

/// Sends a write to every replica at once and waits for all (bounded by the write
/// timeout). Ejected replicas are not contacted, unless all are ejected: they count as
/// failed, so a dead node costs nothing per request.
pub async fn write(
    replicas: &[Arc<Backend>],
    frame: &RequestFrame,
    timeouts: &Timeouts,
    deadline: Instant,
) -> WriteOutcome {
    let deadline = deadline.min(Instant::now() + timeouts.write);
    let all_ejected = replicas.iter().all(|b| b.health().is_ejected());
    let calls = replicas.iter().map(|b| async move {
        if b.health().is_ejected() && !all_ejected {
            return (b.name(), Err("ejected".to_owned()));
        }
        let result = b.call(frame.clone(), deadline).await.map_err(|e| e.to_string());
        (b.name(), result)
    });
    let mut out = WriteOutcome { acked: Vec::new(), failed: Vec::new() };
    for (name, result) in join_all(calls).await {
        match result {
            Ok(resp) if resp.status().is_some_and(|s| !is_client_fault(s)) => out.acked.push(resp),
            Ok(resp) => {
                out.failed.push((name.to_owned(), String::from_utf8_lossy(&resp.payload).into()))
            }
            Err(e) => out.failed.push((name.to_owned(), e)),
        }
    }
    out
}

impl WriteOutcome {
    /// OK (the first ack), PARTIAL or UNAVAILABLE.
    pub fn into_result(self, shard: u32, total: usize) -> Result<Vec<ResponseFrame>, ErrorReply> {
        if total == 0 {
            return Err(no_replicas(shard));
        }
        if self.failed.is_empty() {
            return Ok(self.acked);
        }
        let names: Vec<&str> = self.failed.iter().map(|(n, _)| n.as_str()).collect();
        if self.acked.is_empty() {
            let (node, why) = &self.failed[0];
            let msg = format!("no replica of shard {shard} acked the write ({node}: {why})");
            return Err(ErrorReply::new(Status::Unavailable, msg));
        }
        let msg =
            format!("{}/{} replicas acked; failed: {}", self.acked.len(), total, names.join(","));
        Err(ErrorReply::new(Status::Partial, msg))
    }
}

fn no_replicas(shard: u32) -> ErrorReply {
    ErrorReply::new(Status::Unavailable, format!("shard {shard} has no replicas"))
}
