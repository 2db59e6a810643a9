//! Read-modify-write commands (INCR, APPEND, SET NX, EXPIRE, ... and same-shard commands
//! such as RENAME) through the router: each runs on one coordinator replica of its keys'
//! shard, which answers the command's reply and the resulting state of every key it
//! changed; the router then writes that outcome to the shard's other replicas (and movers)
//! as versioned writes carrying the coordinator's versions, so hints, repair and
//! anti-entropy converge them exactly like a SET, and replaying a hint re-applies a value,
//! never an increment.
//!
//! Finding the coordinator, and what a dropped connection means: `rmw_find.rs`.
//!
//! Passes are repeated, with a backoff, until the request deadline; no attempt starts
//! within [`super::rmw_find::RMW_ATTEMPT_MIN`] of it, so running out of time while no
//! coordinator could be found answers UNAVAILABLE (it did not run), not TIMEOUT. Outcomes are never
//! re-stamped: a replica that answers STALE holds a newer write that superseded this one,
//! which counts as done. A replica that answers SUPERSEDED took over from a coordinator
//! that crashed, and ran the key's next command without this outcome (see
//! `server/node/orphans.rs`): the outcome is lost with its coordinator, so the command runs
//! again from the start (or, out of time, answers UNAVAILABLE: not applied). The client's
//! answer follows `--write-ack` as for SET, the coordinator counting as a replica that
//! acked; when the outcome misses some replica (hinted) the answer is PARTIAL naming the
//! coordinator that applied it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;
use tracing::debug;

use super::Router;
use super::backend::{Backend, observe};
use super::fanout::{FanOut, Tally};
use super::forward::{Failed, Failure, Timeouts};
use super::rmw_find::{Budget, fail, on_coordinator, room};
use super::topology::Route;
use super::write::{WriteAck, WriteReq, hint_all, start, verdict};
use crate::cmd::Command;
use crate::protocol::cluster::WriteAck as Ack;
use crate::protocol::dump::DumpRecord;
use crate::protocol::rmw::{RmwOutcome, rmw_frame};
use crate::protocol::text::{Argv, decode_value, to_reply};
use crate::protocol::{ErrorReply, Reply, Status};

impl Router {
    /// Runs `command`, whose arguments as the client sent them are `argv`, on its shard's
    /// coordinator and writes the outcome to the shard's other replicas. On WRONG_SHARD the
    /// map is re-read and the command retried once.
    pub(super) async fn rmw(&self, command: Command, argv: Option<Argv>) -> Result<Reply, Failed> {
        let Some(key) = command.keys().next() else {
            return Err(fail(Status::InvalidArgument, "no key to route by".to_owned()));
        };
        let Some(argv) = argv else {
            let msg = format!("{} cannot be sent as a typed binary request", command.name());
            return Err(fail(Status::InvalidArgument, msg));
        };
        // One id for every attempt, so a coordinator that already applied it says so; a new
        // one only for a run after the first outcome was superseded (below).
        let mut frame = rmw_frame(&argv.to_vec(), rand::random::<u64>().max(1));
        let t = self.inner.settings.timeouts();
        let mut budget = Budget { deadline: Instant::now() + t.request, unsure: None };
        let mut retried = false;
        loop {
            let topo = self.inner.topology.load_full();
            let route = topo.route(key);
            let ack = self.inner.settings.write_ack();
            let result = match on_coordinator(route, &frame, &mut budget).await {
                Ok((coordinator, outcome)) => {
                    replicate(route, &coordinator, outcome, ack, &t).await
                }
                Err(f) => Err(f),
            };
            match result {
                Err(f) if f.wrong_shard && !retried => retried = self.refresh_map(),
                // The coordinator that ran it crashed and its successor computed past the
                // outcome: it happened nowhere the cluster keeps, so it runs again, under a
                // new id: a replica that noted the old one with the late outcome (STALE)
                // would otherwise answer the new run REPLY_LOST, were it coordinating by then.
                Err(f) if f.failure == SUPERSEDED && room(budget.deadline) => {
                    debug!(why = %f.reply.message, "outcome superseded; running the command again");
                    frame.ttl_ms = rand::random::<u64>().max(1);
                }
                Err(f) if f.failure == SUPERSEDED => {
                    let msg = format!("not applied: {}", f.reply.message);
                    return Err(fail(Status::Unavailable, msg));
                }
                other => return other,
            }
        }
    }
}

/// A replica refused the outcome as one its new coordinator computed past.
const SUPERSEDED: Failure = Failure::Reply(Status::Superseded);

/// Writes each changed key's outcome to the shard's other targets and answers the client.
async fn replicate(
    route: Route<'_>,
    coordinator: &Arc<Backend>,
    outcome: RmwOutcome,
    ack: WriteAck,
    t: &Timeouts,
) -> Result<Reply, Failed> {
    let reply = decode_value(&outcome.reply).map(to_reply).map_err(|e| {
        fail(Status::Internal, format!("node {} sent a malformed reply: {e}", coordinator.name()))
    })?;
    for r in &outcome.records {
        observe(coordinator.hlc(), r.version);
    }
    let deadline = Instant::now() + t.write;
    let keys = outcome.records.len();
    let mut ids = outcome.ids.into_iter();
    let writes = outcome.records.into_iter().map(|r| {
        let ids = ids.next().unwrap_or_default();
        write_one(route, coordinator, (r, ids), ack, deadline)
    });
    let errors: Vec<ErrorReply> =
        join_all(writes).await.into_iter().filter_map(Result::err).collect();
    let superseded = errors.iter().filter(|e| e.status == Status::Superseded).count();
    if superseded > 0 && superseded < keys {
        return Err(part_superseded(coordinator, superseded, keys));
    }
    if let Some(lost) = errors.iter().find(|e| e.status == Status::Superseded) {
        return Err(Failed::new(SUPERSEDED, lost.clone()));
    }
    match errors.into_iter().next() {
        None => Ok(reply),
        Some(e) => {
            let msg = format!("applied by coordinator {}; {}", coordinator.name(), e.message);
            Err(Failed::once(Failure::Partial, ErrorReply::new(e.status, msg)))
        }
    }
}

/// The answer when the new coordinator computed past some of an outcome's keys but took
/// the rest: the command's effect holds on those only. Running it again would apply it to
/// them twice, and REPLY_LOST would say it took effect everywhere: neither, so an error.
fn part_superseded(coordinator: &Backend, superseded: usize, keys: usize) -> Failed {
    let msg = format!(
        "the command took effect on {} of its {keys} keys only: coordinator {} ran it and \
         crashed before its outcome was copied, and the node that took over ran later \
         commands on the other {superseded} without it; it was not run again",
        keys - superseded,
        coordinator.name()
    );
    Failed::once(Failure::Partial, ErrorReply::new(Status::Partial, msg))
}

/// Writes one key's outcome, with the coordinator's version, to every target but the
/// coordinator; the verdict counts the coordinator as a replica that acked.
async fn write_one(
    route: Route<'_>,
    coordinator: &Arc<Backend>,
    (r, ids): (DumpRecord, Vec<u64>),
    ack: WriteAck,
    deadline: Instant,
) -> Result<(), ErrorReply> {
    let ttl = (r.ttl_ms > 0).then(|| Duration::from_millis(r.ttl_ms));
    let (shard, version) = (route.shard, r.version);
    let req = WriteReq { shard, key: r.key, value: r.value, ttl, version, ids };
    let others: Vec<Arc<Backend>> =
        route.targets.iter().filter(|b| !Arc::ptr_eq(b, coordinator)).cloned().collect();
    let movers = &route.targets[route.replicas..];
    let (mut calls, mut tally, skipped): (FanOut, Tally, _) =
        start(&others, movers, &req, deadline);
    while let Some(answer) = calls.next().await {
        tally.record(answer);
    }
    hint_all(&skipped, &req);
    hint_all(tally.failed.iter().map(|(b, _)| b), &req);
    if let Some((b, why)) = tally.superseded.first() {
        return Err(ErrorReply::new(Status::Superseded, format!("{}: {why}", b.name())));
    }
    if let Some(e) = tally.client_fault.take() {
        // A replica with smaller limits than the coordinator's cannot take this value at
        // all: nothing to hint, but the client must hear that not every replica holds it.
        return Err(ErrorReply::new(Status::Partial, format!("a replica refused it: {e}")));
    }
    tally.acked.push((coordinator.clone(), Ack { applied: true, clock: r.version }));
    let tally = tally.without(&route.targets[route.replicas..]);
    verdict(tally, &skipped, route, ack).map(|_| ()).map_err(|f| f.reply)
}
