//! One attempt of a versioned write: the frame sent to every target replica at once, and
//! what each answered, tallied. [`super::write`] decides what to do with a tally (answer,
//! re-stamp and retry, hint).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tokio::time::Instant;
use tracing::error;

use super::backend::{Backend, is_client_fault, observe};
use super::forward::Failure;
use crate::client::Error;
use crate::protocol::binary::{RequestFrame, ResponseFrame};
use crate::protocol::cluster::{Stale, WriteAck};
use crate::protocol::rmw::superseded_stale;
use crate::protocol::{ErrorReply, Status};

/// What one replica answered one attempt.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Applied (for a delete: `applied` says whether a live key went).
    Acked(WriteAck),
    /// Not applied: the replica holds a version that wins.
    Stale(Stale),
    /// The request itself is bad (too large, invalid): never hinted or retried.
    ClientFault(ErrorReply),
    /// The replica says the key's shard is not its own: the map changed.
    WrongShard(String),
    /// Not applied: a crashed coordinator's outcome that the node that took over computed
    /// past without (an RMW outcome is then lost; the router runs the command again). What
    /// the key holds, as a STALE reply says it (a blind write re-stamps above it).
    Superseded(Stale, String),
    /// The replica failed (down, timed out, refused for clock skew): hinted.
    NodeFault(Failure, String),
}

impl Answer {
    /// Classifies one replica's reply, merging the node's clock into the router's.
    pub fn of(b: &Backend, result: Result<ResponseFrame, Error>) -> Self {
        let resp = match result {
            Ok(resp) => resp,
            Err(Error::Server { status: Status::WrongShard, message }) => {
                return Answer::WrongShard(message);
            }
            Err(Error::Server { status: Status::Superseded, message }) => {
                let Some(stale) = superseded_stale(&message) else {
                    let why = format!("SUPERSEDED without what the key holds: {message}");
                    return Answer::NodeFault(Failure::Reply(Status::Superseded), why);
                };
                observe(b.hlc(), stale.clock);
                observe(b.hlc(), stale.held);
                return Answer::Superseded(stale, message);
            }
            Err(Error::Server { status: Status::ClockSkew, message }) => {
                b.view().count_clock_refusal();
                error!(node = b.name(), %message, "node refused a write for clock skew");
                let failure = Failure::Reply(Status::ClockSkew);
                return Answer::NodeFault(failure, format!("clock skew: {message}"));
            }
            Err(e) => return Answer::NodeFault(Failure::of(&e), e.to_string()),
        };
        match resp.status() {
            Some(Status::Ok) => match WriteAck::decode(&resp.payload) {
                Some(ack) => {
                    observe(b.hlc(), ack.clock);
                    Answer::Acked(ack)
                }
                None => Answer::NodeFault(Failure::Closed, "malformed write ack".to_owned()),
            },
            Some(Status::Stale) => match Stale::decode(&resp.payload) {
                Some(stale) => {
                    observe(b.hlc(), stale.clock);
                    observe(b.hlc(), stale.held);
                    Answer::Stale(stale)
                }
                None => Answer::NodeFault(Failure::Closed, "malformed STALE reply".to_owned()),
            },
            Some(s) if is_client_fault(s) => Answer::ClientFault(ErrorReply::new(
                s,
                String::from_utf8_lossy(&resp.payload).into_owned(),
            )),
            other => {
                let failure = Failure::Reply(other.unwrap_or(Status::Internal));
                Answer::NodeFault(failure, format!("unexpected reply {other:?}"))
            }
        }
    }
}

type Call = Pin<Box<dyn Future<Output = (Arc<Backend>, Answer)> + Send>>;

/// The replica calls of one attempt, yielded as they finish. Every wake-up polls every
/// unfinished call, which for a handful of replicas is cheaper than `FuturesUnordered` and,
/// unlike it, never wakes its own task: `FuturesUnordered` does that once it has polled all
/// its members, which made a pipelining connection stop after every second write and send
/// its backend frames one or two at a time.
#[derive(Default)]
pub struct FanOut {
    calls: Vec<Option<Call>>,
}

impl FanOut {
    /// Sends `frame` to `target` (its answer arrives through [`FanOut::next`]).
    pub fn push(&mut self, target: Arc<Backend>, frame: RequestFrame, deadline: Instant) {
        self.calls.push(Some(Box::pin(async move {
            let result = target.call(frame, deadline).await;
            let answer = Answer::of(&target, result);
            (target, answer)
        })));
    }

    /// Whether every call has finished.
    pub fn is_done(&self) -> bool {
        self.calls.iter().all(Option::is_none)
    }

    /// The next call to finish, or `None` when all have.
    pub async fn next(&mut self) -> Option<(Arc<Backend>, Answer)> {
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

/// What the replicas of one attempt answered so far.
#[derive(Debug, Default)]
pub struct Tally {
    /// Replicas that applied the write, with their acks.
    pub acked: Vec<(Arc<Backend>, WriteAck)>,
    /// Replicas that hold a winning version, and the newest such version.
    pub stale: Vec<Arc<Backend>>,
    /// The newest version a STALE reply reported.
    pub max_held: u64,
    /// Replicas that failed, and why (they get hints).
    pub failed: Vec<(Arc<Backend>, String)>,
    /// What the first failure was.
    pub first_failure: Option<Failure>,
    /// The first client fault: the request is bad; nothing is hinted.
    pub client_fault: Option<ErrorReply>,
    /// Replicas that answered WRONG_SHARD (no hint: the key is not their own).
    pub wrong_shard: Vec<(Arc<Backend>, String)>,
    /// Replicas that answered SUPERSEDED, and why; also counted in `stale` (a newer write
    /// holds the key), which is all a blind write needs to know.
    pub superseded: Vec<(Arc<Backend>, String)>,
    /// New replicas of a moving shard that have not applied the map yet (they answered
    /// WRONG_SHARD while an old replica took the write; they will copy it from there).
    pub joining: usize,
    /// Old replicas of a moving shard that took the write.
    pub movers_acked: usize,
}

impl Tally {
    /// The tally without the answers of `movers` (old replicas of a moving shard): they are
    /// written to, but their failures are only hinted, never the client's concern.
    pub fn without(mut self, movers: &[Arc<Backend>]) -> Self {
        let mover = |b: &Arc<Backend>| movers.iter().any(|m| Arc::ptr_eq(m, b));
        self.movers_acked = self.acked.iter().filter(|(b, _)| mover(b)).count();
        let mover_acked = self.movers_acked > 0;
        self.acked.retain(|(b, _)| !mover(b));
        self.stale.retain(|b| !mover(b));
        self.superseded.retain(|(b, _)| !mover(b));
        self.failed.retain(|(b, _)| !mover(b));
        self.wrong_shard.retain(|(b, _)| !mover(b));
        if mover_acked {
            self.joining = self.wrong_shard.len();
            self.wrong_shard.clear();
        }
        self
    }

    /// Counts one answer.
    pub fn record(&mut self, (b, answer): (Arc<Backend>, Answer)) {
        match answer {
            Answer::Acked(ack) => self.acked.push((b, ack)),
            Answer::Stale(s) => {
                self.max_held = self.max_held.max(s.held);
                self.stale.push(b);
            }
            Answer::ClientFault(e) => {
                self.client_fault.get_or_insert(e);
            }
            Answer::WrongShard(why) => self.wrong_shard.push((b, why)),
            Answer::Superseded(s, why) => {
                self.max_held = self.max_held.max(s.held);
                self.stale.push(b.clone());
                self.superseded.push((b, why));
            }
            Answer::NodeFault(failure, why) => {
                self.first_failure.get_or_insert(failure);
                self.failed.push((b, why));
            }
        }
    }
}
