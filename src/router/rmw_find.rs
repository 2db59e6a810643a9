//! The coordinator search of a read-modify-write (see `rmw.rs` for the rest).
//!
//! Finding the coordinator (the nodes decide who it is, see `server/node/handover.rs`):
//! the shard's replicas are tried in map order, those held ejected after the others.
//! * NOT_COORDINATOR names the node that coordinates: the request goes there, once.
//! * NOT_READY (a handover in progress) is retried after a short backoff.
//! * A refused connection, or one reset before any reply, moves on to the next replica.
//!   Every attempt carries the command's id: a coordinator whose keys' states hold that id
//!   (the node that ran it, if alive, or one that took a later outcome of the key) answers
//!   REPLY_LOST and does not run it again; one that does not runs it, since nothing the
//!   cluster keeps holds its effect. After a reset with the command sent, the deadline
//!   stretches to [`RMW_RESOLVE_TIMEOUT`] so the next coordinator can say, and giving up
//!   then answers TIMEOUT (it may have run), not UNAVAILABLE.
//! * A timeout fails the command with TIMEOUT: it may or may not have been applied, so it
//!   is not retried and a client must not assume either.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;

use super::backend::Backend;
use super::forward::{Failed, Failure, no_replicas};
use super::topology::Route;
use crate::client::Error;
use crate::protocol::binary::RequestFrame;
use crate::protocol::rmw::{RmwOutcome, coordinator_named};
use crate::protocol::{ErrorReply, Status};

/// First pause before asking again after NOT_READY or a pass that found no coordinator.
pub const RMW_BACKOFF_BASE: Duration = Duration::from_millis(5);
/// Longest pause between two passes.
pub const RMW_BACKOFF_MAX: Duration = Duration::from_millis(100);
/// Time before the request deadline that a further attempt needs: one sent later could
/// only time out, leaving the client unsure whether it ran, where giving up says it did not.
pub const RMW_ATTEMPT_MIN: Duration = Duration::from_millis(50);
/// How long after a coordinator's connection dropped with the command on it the router
/// keeps looking for a coordinator (past the request deadline): the next one either knows
/// the command's id (it took effect: REPLY_LOST) or runs it, where giving up at the
/// deadline could only say "may or may not have run". Covers a takeover after a crash.
pub const RMW_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How one attempt on one node ended.
enum Attempt {
    Done(RmwOutcome),
    /// Go to the node this names.
    Redirect(Option<String>),
    /// Ask the same node again in a moment.
    Later(String),
    /// The node is gone: the next replica. `true` when the connection dropped with the
    /// command sent (it may have run there), `false` when it was refused.
    Gone(String, bool),
    Fail(Failed),
}

/// The time one command may take, and whether an attempt may have run it already.
pub(super) struct Budget {
    pub(super) deadline: Instant,
    /// Why it may have run: a coordinator's connection dropped before it answered.
    pub(super) unsure: Option<String>,
}

impl Budget {
    /// After a connection dropped with the command on it: keep looking for a coordinator
    /// that can say (until [`RMW_RESOLVE_TIMEOUT`] from the first such drop).
    fn unsure(&mut self, why: &str) {
        if self.unsure.is_none() {
            self.deadline = self.deadline.max(Instant::now() + RMW_RESOLVE_TIMEOUT);
            self.unsure = Some(why.to_owned());
        }
    }
}

/// Runs the RMW on the shard's coordinator; returns it and what it answered.
pub(super) async fn on_coordinator(
    route: Route<'_>,
    frame: &RequestFrame,
    budget: &mut Budget,
) -> Result<(Arc<Backend>, RmwOutcome), Failed> {
    let replicas = &route.targets[..route.replicas];
    if replicas.is_empty() {
        return Err(Failed::new(Failure::NoReplica, no_replicas(route.shard)));
    }
    // Ejected replicas last, not never: the router's view of health lags (a replica
    // behind a link that just healed), and the one that coordinates may be among them.
    let (mut order, ejected): (Vec<&Arc<Backend>>, Vec<_>) =
        replicas.iter().partition(|b| !b.health().is_ejected());
    order.extend(ejected);
    let mut walk = Walk { replicas, order, backoff: RMW_BACKOFF_BASE, last: String::new() };
    let mut pass = 0;
    while pass == 0 || room(budget.deadline) {
        if let Some(answered) = walk.pass(frame, budget).await {
            return answered;
        }
        pass += 1;
        sleep(&mut walk.backoff, budget.deadline).await;
    }
    Err(gave_up(route.shard, pass, &walk.last, budget))
}

/// The search for a shard's coordinator, pass after pass.
struct Walk<'a> {
    replicas: &'a [Arc<Backend>],
    /// Whom each pass asks first, then next when a connection drops.
    order: Vec<&'a Arc<Backend>>,
    backoff: Duration,
    /// Why the last attempt did not answer.
    last: String,
}

type Answered = Result<(Arc<Backend>, RmwOutcome), Failed>;

impl Walk<'_> {
    /// One pass: the first replica in order, the coordinator it names (once), and the next
    /// replicas while coordinators' connections drop. `None` when nobody answered.
    ///
    /// The deadline is read afresh for every attempt, wait and check: a dropped connection
    /// stretches it ([`Budget::unsure`]) for the attempts after it.
    async fn pass(&mut self, frame: &RequestFrame, budget: &mut Budget) -> Option<Answered> {
        let (mut next, mut redirected) = (1, false);
        let mut target = self.order[0];
        loop {
            match attempt(target, frame, budget.deadline).await {
                Attempt::Done(outcome) => return Some(Ok((target.clone(), outcome))),
                Attempt::Fail(f) => return Some(Err(f)),
                Attempt::Redirect(Some(name)) if !redirected && room(budget.deadline) => {
                    match self.replicas.iter().find(|b| b.name() == name) {
                        Some(b) => {
                            (target, redirected) = (b, true);
                            continue;
                        }
                        None => {
                            self.last = format!("{} named {name}, not a replica", target.name())
                        }
                    }
                }
                Attempt::Redirect(named) => {
                    let named = named.unwrap_or_else(|| "nobody".to_owned());
                    self.last = format!("{} says {named} coordinates", target.name());
                }
                Attempt::Later(why) => {
                    self.last = why;
                    sleep(&mut self.backoff, budget.deadline).await;
                    if room(budget.deadline) {
                        continue;
                    }
                }
                Attempt::Gone(why, sent) => {
                    if sent {
                        budget.unsure(&why);
                    }
                    if next < self.order.len() && room(budget.deadline) {
                        debug!(%why, "coordinator gone before answering; asking the next replica");
                        target = self.order[next];
                        next += 1;
                        continue;
                    }
                    self.last = why;
                }
            }
            return None;
        }
    }
}

/// The answer when no coordinator answered in time: UNAVAILABLE (it did not run) unless a
/// connection dropped with the command on it, then TIMEOUT (it may have run).
fn gave_up(shard: u32, passes: u32, last: &str, budget: &Budget) -> Failed {
    let tried = format!("{passes} passes; last: {last}");
    match &budget.unsure {
        None => fail(
            Status::Unavailable,
            format!("no coordinator of shard {shard} ran the command ({tried})"),
        ),
        Some(why) => {
            let msg = format!(
                "the command may or may not have been applied: a coordinator's connection \
                 dropped before it answered ({why}), and no coordinator of shard {shard} \
                 answered within {} s after ({tried})",
                RMW_RESOLVE_TIMEOUT.as_secs()
            );
            Failed::once(Failure::Timeout, ErrorReply::new(Status::Timeout, msg))
        }
    }
}

/// Sends the RMW to `b` once and classifies the answer.
async fn attempt(b: &Arc<Backend>, frame: &RequestFrame, deadline: Instant) -> Attempt {
    let name = b.name();
    let resp = match b.call(frame.clone(), deadline).await {
        Ok(resp) => resp,
        Err(Error::Server { status: Status::NotCoordinator, message }) => {
            return Attempt::Redirect(coordinator_named(&message).map(str::to_owned));
        }
        Err(Error::Server { status: Status::NotReady, message }) => {
            return Attempt::Later(format!("{name}: {message}"));
        }
        Err(Error::Server { status: Status::WrongShard, message }) => {
            let reply = ErrorReply::new(Status::WrongShard, format!("{name}: {message}"));
            return Attempt::Fail(Failed::new(Failure::WrongShard, reply));
        }
        Err(e @ Error::Connect { .. }) => return Attempt::Gone(format!("{name}: {e}"), false),
        Err(e @ Error::ConnectionClosed { .. }) => {
            return Attempt::Gone(format!("{name}: {e}"), true);
        }
        Err(Error::Timeout) => {
            let msg = format!(
                "the command timed out on node {name}: it may or may not have been applied"
            );
            return Attempt::Fail(Failed::once(
                Failure::Timeout,
                ErrorReply::new(Status::Timeout, msg),
            ));
        }
        Err(Error::Server { status, message }) => {
            return Attempt::Fail(fail(status, message));
        }
        Err(e) => {
            let msg = format!("node {name}: {e}");
            return Attempt::Fail(fail(Status::Internal, msg));
        }
    };
    match resp.status() {
        Some(Status::Ok) => match RmwOutcome::decode(resp.payload) {
            Some(outcome) => Attempt::Done(outcome),
            None => Attempt::Fail(fail(
                Status::Internal,
                format!("node {name} sent a malformed RMW reply"),
            )),
        },
        // The command's own error (a client fault the backend passes through as a reply).
        Some(status) => {
            let message = String::from_utf8_lossy(&resp.payload).into_owned();
            Attempt::Fail(fail(status, message))
        }
        None => {
            Attempt::Fail(fail(Status::Internal, format!("node {name} sent an unknown status")))
        }
    }
}

/// Whether a further attempt has time to be answered before `deadline`.
pub(super) fn room(deadline: Instant) -> bool {
    deadline.saturating_duration_since(Instant::now()) >= RMW_ATTEMPT_MIN
}

async fn sleep(backoff: &mut Duration, deadline: Instant) {
    tokio::time::sleep_until(deadline.min(Instant::now() + *backoff)).await;
    *backoff = (*backoff * 2).min(RMW_BACKOFF_MAX);
}

/// A failure of the coordinator path that did not apply the command: the client's error
/// reply, counted by its status.
pub(super) fn fail(status: Status, message: String) -> Failed {
    Failed::reply(ErrorReply::new(status, message))
}
