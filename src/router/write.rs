//! Write fan-out: a versioned SET or DEL sent to every replica of the shard at once.
//! Replicas that miss it (down, ejected, timed out) get a hint, replayed when they are
//! back. The client is answered when enough replicas acked (`--write-ack`): with `all`
//! (the default) after every replica answered, OK or PARTIAL; with `quorum` or `one` as
//! soon as enough did, while the rest complete in the background, their keys marked
//! settling on those replicas so no read goes there until they do.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::backend::{Backend, is_client_fault};
use super::forward::{Failed, Timeouts, no_replicas};
use super::hints::Hint;
use crate::client::Error;
use crate::protocol::binary::{RequestFrame, ResponseFrame, versioned_frame};
use crate::protocol::{ErrorReply, Status};

/// How many replicas must ack before the client is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteAck {
    /// Every replica (PARTIAL when some failed).
    #[default]
    All,
    /// A majority of the shard's replicas.
    Quorum,
    /// One replica.
    One,
}

impl std::str::FromStr for WriteAck {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(WriteAck::All),
            "quorum" => Ok(WriteAck::Quorum),
            "one" => Ok(WriteAck::One),
            other => Err(format!("unknown write ack '{other}' (use all, quorum or one)")),
        }
    }
}

/// One versioned write of one key.
#[derive(Debug, Clone)]
pub struct WriteReq {
    /// The key's shard.
    pub shard: u32,
    /// The key.
    pub key: Bytes,
    /// The value, or `None` to delete.
    pub value: Option<Bytes>,
    /// Time to live of the value.
    pub ttl: Option<Duration>,
    /// The router-stamped version.
    pub version: u64,
}

impl WriteReq {
    fn frame(&self) -> RequestFrame {
        let ttl_ms =
            self.ttl.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1));
        versioned_frame(self.key.clone(), self.value.as_deref(), ttl_ms, self.version)
    }

    fn hint(&self) -> Hint {
        let now = Instant::now();
        Hint {
            shard: self.shard,
            key: self.key.clone(),
            value: self.value.clone(),
            expires: self.ttl.map(|t| now + t),
            version: self.version,
            queued: now,
        }
    }
}

type Call = (Arc<Backend>, Result<ResponseFrame, Error>);

/// The replica calls of one fan-out, yielded as they finish. Every wake-up polls every
/// unfinished call, which for a handful of replicas is cheaper than `FuturesUnordered` and,
/// unlike it, never wakes its own task: `FuturesUnordered` does that once it has polled all
/// its members, which made a pipelining connection stop after every second write and send
/// its backend frames one or two at a time.
struct FanOut<F> {
    calls: Vec<Option<Pin<Box<F>>>>,
}

impl<F> Default for FanOut<F> {
    fn default() -> Self {
        Self { calls: Vec::new() }
    }
}

impl<F: Future> FanOut<F> {
    fn push(&mut self, call: F) {
        self.calls.push(Some(Box::pin(call)));
    }

    fn is_done(&self) -> bool {
        self.calls.iter().all(Option::is_none)
    }

    /// The next call to finish, or `None` when all have.
    async fn next(&mut self) -> Option<F::Output> {
        poll_fn(|cx| {
            let mut pending = false;
            for slot in &mut self.calls {
                let Some(call) = slot else { continue };
                if let Poll::Ready(out) = call.as_mut().poll(cx) {
                    *slot = None;
                    return Poll::Ready(Some(out));
                }
                pending = true;
            }
            if pending { Poll::Pending } else { Poll::Ready(None) }
        })
        .await
    }
}

/// Sends `req` to every replica and answers per `ack`. Returns the acks' replies, or
/// PARTIAL / UNAVAILABLE (noting a WRONG_SHARD).
pub async fn write(
    replicas: &[Arc<Backend>],
    req: &WriteReq,
    ack: WriteAck,
    timeouts: &Timeouts,
    deadline: Instant,
) -> Result<Vec<ResponseFrame>, Failed> {
    let total = replicas.len();
    if total == 0 {
        return Err(Failed::plain(no_replicas(req.shard)));
    }
    let deadline = deadline.min(Instant::now() + timeouts.write);
    let frame = req.frame();
    let all_ejected = replicas.iter().all(|b| b.health().is_ejected());
    let mut calls = FanOut::default();
    let mut in_flight: Vec<Arc<Backend>> = Vec::new();
    let mut tally = Tally::default();
    for b in replicas {
        if b.health().is_ejected() && !all_ejected {
            b.hints().push(req.hint());
            tally.failed.push((b.name().to_owned(), "ejected".to_owned()));
            continue;
        }
        in_flight.push(b.clone());
        let (b, frame) = (b.clone(), frame.clone());
        calls.push(async move {
            let result = b.call(frame, deadline).await;
            (b, result)
        });
    }
    let need = match ack {
        WriteAck::All => total,
        WriteAck::Quorum => total / 2 + 1,
        WriteAck::One => 1,
    };
    while tally.acked.len() < need {
        let Some(call) = calls.next().await else { break };
        in_flight.retain(|b| !Arc::ptr_eq(b, &call.0));
        tally.record(call, req);
    }
    if !calls.is_done() {
        // Marked before the client hears back, so a read right after the ack can't go to
        // a replica that has not applied the write yet. The futures are not polled again
        // until the task below runs, so none of them can finish before being marked.
        for b in &in_flight {
            b.hints().settle_begin(&req.key);
        }
        let req = req.clone();
        tokio::spawn(async move {
            let mut tally = Tally::default();
            while let Some(call) = calls.next().await {
                call.0.hints().settle_end(&req.key);
                tally.record(call, &req);
            }
        });
    }
    tally.into_result(req.shard, total, need)
}

#[derive(Debug, Default)]
struct Tally {
    acked: Vec<ResponseFrame>,
    failed: Vec<(String, String)>,
    wrong_shard: bool,
}

impl Tally {
    /// Counts one replica's answer; a miss becomes a hint (unless the replica says the key
    /// is not its shard, or the request itself was bad).
    fn record(&mut self, (b, result): Call, req: &WriteReq) {
        match result {
            Ok(resp) if resp.status().is_some_and(|s| !s.is_error()) => self.acked.push(resp),
            Ok(resp) => {
                let why = String::from_utf8_lossy(&resp.payload).into_owned();
                if resp.status().is_none_or(|s| !is_client_fault(s)) {
                    b.hints().push(req.hint());
                }
                self.failed.push((b.name().to_owned(), why));
            }
            Err(e) => {
                if matches!(&e, Error::Server { status: Status::WrongShard, .. }) {
                    self.wrong_shard = true;
                } else {
                    b.hints().push(req.hint());
                }
                self.failed.push((b.name().to_owned(), e.to_string()));
            }
        }
    }

    fn into_result(
        self,
        shard: u32,
        total: usize,
        need: usize,
    ) -> Result<Vec<ResponseFrame>, Failed> {
        if self.acked.len() >= need && (need < total || self.failed.is_empty()) {
            return Ok(self.acked);
        }
        let names: Vec<&str> = self.failed.iter().map(|(n, _)| n.as_str()).collect();
        let reply = if self.acked.is_empty() {
            let (node, why) = self.failed.first().map_or(("?", "no answer"), |(n, w)| (n, w));
            let msg = format!("no replica of shard {shard} acked the write ({node}: {why})");
            ErrorReply::new(Status::Unavailable, msg)
        } else {
            let msg = format!(
                "{}/{} replicas acked; failed: {}",
                self.acked.len(),
                total,
                names.join(",")
            );
            ErrorReply::new(Status::Partial, msg)
        };
        Err(Failed { reply, wrong_shard: self.wrong_shard })
    }
}
