//! Versioned writes: a SET or DEL stamped with the router's clock and sent to every replica
//! of the shard at once ([`super::fanout`]).
//!
//! *OK means "this is now the value".* A replica that holds a version that wins over the
//! write's answers STALE with that version; the router then re-stamps the write above it
//! and sends it to every replica again (at most [`MAX_RESTAMPS`] times: a write still
//! stale after that lost to writes that began after it, which is a correct order). So a
//! router whose clock is behind, or a write that raced a newer one, never answers OK for a
//! value that is not there.
//!
//! Replicas that miss the write (ejected, down, timed out, or refusing it for clock skew)
//! get a hint, replayed when they are back; a request that is itself bad (too large,
//! invalid) is answered to its client only, never hinted or retried. The client is
//! answered per `--write-ack`:
//!
//! | mode | OK when |
//! |---|---|
//! | `healthy` (default) | every replica the router does not hold ejected acked, and at least one did |
//! | `all` | every replica acked |
//! | `quorum` | a majority acked (the rest complete in the background) |
//! | `one` | one acked (the rest complete in the background) |
//!
//! Otherwise PARTIAL (some acked) or UNAVAILABLE (none). In the background cases the keys
//! are marked settling on the replicas still writing, so no read goes there until they are
//! done, and a STALE there is re-stamped like any other.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::backend::Backend;
use super::fanout::{FanOut, Tally};
use super::forward::{Failed, Failure, Timeouts, no_replicas};
use super::topology::Route;
use crate::protocol::binary::{FLAG_MOVER, RequestFrame};
use crate::protocol::cluster::WriteAck as Ack;
use crate::protocol::rmw::outcome_frame;
use crate::protocol::{ErrorReply, Status};

/// Most times one write is re-stamped after STALE replies.
pub const MAX_RESTAMPS: usize = 3;

/// How many replicas must ack before the client is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteAck {
    /// Every replica not held ejected, and at least one (ejected ones get hints).
    #[default]
    Healthy,
    /// Every replica (PARTIAL when some failed).
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
            "healthy" => Ok(WriteAck::Healthy),
            "all" => Ok(WriteAck::All),
            "quorum" => Ok(WriteAck::Quorum),
            "one" => Ok(WriteAck::One),
            other => Err(format!("unknown write ack '{other}' (use healthy, all, quorum or one)")),
        }
    }
}

impl WriteAck {
    /// Acks after which the client may be answered while the rest complete in the
    /// background; `None` when every answer is awaited.
    fn early(self, total: usize) -> Option<usize> {
        match self {
            WriteAck::Healthy | WriteAck::All => None,
            WriteAck::Quorum => Some(total / 2 + 1),
            WriteAck::One => Some(1),
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
    /// When the write is a read-modify-write's outcome: the ids of the commands whose
    /// effect the value holds (sent with [`outcome_frame`], hinted with it).
    pub ids: Vec<u64>,
}

impl WriteReq {
    /// The VSET (or VDEL) frame of the write.
    pub fn frame(&self) -> RequestFrame {
        let ttl_ms =
            self.ttl.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1));
        outcome_frame(self.key.clone(), self.value.as_deref(), ttl_ms, self.version, &self.ids)
    }
}

/// Writes `req` to the route's targets (the shard's replicas, plus old replicas still
/// holding it during a move) and answers per `ack`, counting replicas only. Returns the
/// acks, or PARTIAL / UNAVAILABLE (noting a WRONG_SHARD), or a client fault.
pub async fn write(
    route: Route<'_>,
    mut req: WriteReq,
    ack: WriteAck,
    timeouts: &Timeouts,
    deadline: Instant,
) -> Result<Vec<Ack>, Failed> {
    let targets = route.targets;
    if route.replicas == 0 {
        return Err(Failed::new(Failure::NoReplica, no_replicas(req.shard)));
    }
    admit(targets, &req)?;
    let deadline = deadline.min(Instant::now() + timeouts.write);
    for attempt in 0..=MAX_RESTAMPS {
        let movers = &targets[route.replicas..];
        let (mut calls, mut tally, skipped) = start(targets, movers, &req, deadline);
        let early = ack.early(route.replicas);
        while let Some(answer) = calls.next().await {
            tally.record(answer);
            let enough = early.is_some_and(|need| tally.acked.len() >= need);
            if enough && tally.stale.is_empty() && tally.client_fault.is_none() {
                break;
            }
        }
        if let Some(e) = tally.client_fault {
            return Err(Failed::reply(e));
        }
        if !calls.is_done() {
            finish_in_background(route, &tally, &skipped, req.clone(), calls, deadline);
            hint_all(&skipped, &req);
            return Ok(tally.acked.into_iter().map(|(_, a)| a).collect());
        }
        if !tally.stale.is_empty() && attempt < MAX_RESTAMPS {
            req.version = restamp(targets, tally.max_held);
            continue;
        }
        hint_all(&skipped, &req);
        hint_all(tally.failed.iter().map(|(b, _)| b), &req);
        return verdict(tally.without(&targets[route.replicas..]), &skipped, route, ack);
    }
    unreachable_restamps(req.shard)
}

/// The last attempt always returns; this keeps the loop's type honest without a panic.
fn unreachable_restamps(shard: u32) -> Result<Vec<Ack>, Failed> {
    let msg = format!("write to shard {shard} was re-stamped too often");
    Err(Failed::reply(ErrorReply::new(Status::Internal, msg)))
}

/// Refuses a request some target would refuse for its size, before anything is sent.
pub(super) fn admit(targets: &[Arc<Backend>], req: &WriteReq) -> Result<(), Failed> {
    let value_len = req.value.as_ref().map_or(0, Bytes::len);
    for b in targets {
        b.view().admits(b.name(), req.key.len(), value_len).map_err(Failed::reply)?;
    }
    Ok(())
}

/// A version above `held` (and everything the router's clock has seen).
fn restamp(targets: &[Arc<Backend>], held: u64) -> u64 {
    let hlc = targets[0].hlc();
    hlc.observe(held);
    hlc.now()
}

/// Sends the write to every target that can take it, flagged [`FLAG_MOVER`] to those among
/// `movers` (a shard's old replicas during a move, which take no other write); ejected
/// ones (unless all are) and ones that are not the node the map names are returned to be
/// hinted.
pub(super) fn start(
    targets: &[Arc<Backend>],
    movers: &[Arc<Backend>],
    req: &WriteReq,
    deadline: Instant,
) -> (FanOut, Tally, Vec<Arc<Backend>>) {
    let all_ejected = targets.iter().all(|b| b.health().is_ejected());
    let frame = req.frame();
    let (mut calls, mut skipped) = (FanOut::default(), Vec::new());
    for b in targets {
        if (b.health().is_ejected() && !all_ejected) || !b.writable() {
            skipped.push(b.clone());
        } else if movers.iter().any(|m| Arc::ptr_eq(m, b)) {
            calls.push(b.clone(), as_mover(&frame), deadline);
        } else {
            calls.push(b.clone(), frame.clone(), deadline);
        }
    }
    (calls, Tally::default(), skipped)
}

/// `frame` as sent to a mover: flagged [`FLAG_MOVER`] on top of its own flags (an
/// outcome's `FLAG_RMW_IDS` says how its value is laid out).
fn as_mover(frame: &RequestFrame) -> RequestFrame {
    RequestFrame { flags: frame.flags | FLAG_MOVER, ..frame.clone() }
}

pub(super) fn hint_all<'a>(nodes: impl IntoIterator<Item = &'a Arc<Backend>>, req: &WriteReq) {
    for b in nodes {
        let write = (&req.key[..], req.value.as_deref(), &req.ids[..]);
        b.hints().push_outcome(req.shard, write, req.ttl, req.version);
    }
}

/// Lets the calls still running finish after the client was answered: their keys are
/// marked settling until then (so no read goes there), failures are hinted, and a STALE is
/// re-stamped and rewritten to every target.
fn finish_in_background(
    route: Route<'_>,
    answered: &Tally,
    skipped: &[Arc<Backend>],
    req: WriteReq,
    mut calls: FanOut,
    deadline: Instant,
) {
    let (pending, replicas): (Vec<Arc<Backend>>, _) = (route.targets.to_vec(), route.replicas);
    let done = |b: &Arc<Backend>| {
        answered.acked.iter().any(|(a, _)| Arc::ptr_eq(a, b))
            || skipped.iter().any(|s| Arc::ptr_eq(s, b))
    };
    let settling: Vec<Arc<Backend>> = pending.iter().filter(|b| !done(b)).cloned().collect();
    // Marked before the client hears back; the calls are not polled again until the task
    // below runs, so none of them can finish before being marked.
    for b in &settling {
        b.hints().settle_begin(&req.key);
    }
    tokio::spawn(async move {
        let mut tally = Tally::default();
        while let Some(answer) = calls.next().await {
            tally.record(answer);
        }
        let mut req = req;
        let mut stale = !tally.stale.is_empty();
        hint_all(tally.failed.iter().map(|(b, _)| b), &req);
        for _ in 0..MAX_RESTAMPS {
            if !stale {
                break;
            }
            req.version = restamp(&pending, tally.max_held);
            let (mut calls, mut again, skipped) =
                start(&pending, &pending[replicas..], &req, deadline.max(Instant::now()));
            while let Some(answer) = calls.next().await {
                again.record(answer);
            }
            hint_all(&skipped, &req);
            hint_all(again.failed.iter().map(|(b, _)| b), &req);
            stale = !again.stale.is_empty();
            tally = again;
        }
        for b in &settling {
            b.hints().settle_end(&req.key);
        }
    });
}

/// The client's answer once every call finished.
pub(super) fn verdict(
    tally: Tally,
    skipped: &[Arc<Backend>],
    route: Route<'_>,
    ack: WriteAck,
) -> Result<Vec<Ack>, Failed> {
    let (total, shard) = (route.replicas, route.shard);
    let is_replica = |b: &&Arc<Backend>| route.targets[..total].iter().any(|r| Arc::ptr_eq(r, b));
    let skipped: Vec<&Arc<Backend>> = skipped.iter().filter(is_replica).collect();
    // A replica still stale after the last re-stamp holds a write that began after this
    // one: this write was the value, then was replaced. It counts as done.
    let done = tally.acked.len() + tally.stale.len();
    let excused = skipped
        .iter()
        .copied()
        .chain(tally.failed.iter().map(|(b, _)| b))
        .filter(|b| b.health().is_ejected())
        .count()
        + tally.joining;
    let ok = match ack {
        WriteAck::Healthy => done + tally.movers_acked > 0 && done + excused >= total,
        WriteAck::All => done == total,
        WriteAck::Quorum => done > total / 2,
        WriteAck::One => done > 0,
    };
    let wrong_shard = !tally.wrong_shard.is_empty();
    if ok && !wrong_shard {
        return Ok(tally.acked.into_iter().map(|(_, a)| a).collect());
    }
    let mut failed: Vec<String> =
        tally.failed.iter().map(|(b, why)| format!("{} ({why})", b.name())).collect();
    failed.extend(skipped.iter().map(|b| format!("{} (ejected)", b.name())));
    if let Some((b, why)) = tally.wrong_shard.first() {
        failed.push(format!("{} (wrong shard: {why})", b.name()));
    }
    let (reply, failure) = if done == 0 {
        let msg = format!("no replica of shard {shard} acked the write: {}", failed.join(", "));
        let failure = match tally.first_failure {
            Some(f) => f,
            None if wrong_shard => Failure::WrongShard,
            None => Failure::NoReplica,
        };
        (ErrorReply::new(Status::Unavailable, msg), failure)
    } else {
        let msg = format!("{done}/{total} replicas acked; failed: {}", failed.join(", "));
        (ErrorReply::new(Status::Partial, msg), Failure::Partial)
    };
    Err(Failed { wrong_shard, ..Failed::new(failure, reply) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{Command, from_frame};
    use crate::protocol::Limits;

    /// An outcome sent to a mover keeps its ids' flag: without it the node would read the
    /// ids as the start of the value.
    #[test]
    fn a_movers_outcome_write_keeps_its_ids() {
        let req = WriteReq {
            shard: 1,
            key: Bytes::from_static(b"k"),
            value: Some(Bytes::from_static(b"7")),
            ttl: None,
            version: 9,
            ids: vec![3, 4],
        };
        let parsed = from_frame(as_mover(&req.frame()), &Limits::default()).unwrap();
        let Command::VSet(a) = parsed else { panic!("{parsed:?}") };
        assert!(a.mover);
        assert_eq!((&a.value[..], a.ids.as_slice()), (&b"7"[..], &[3, 4][..]));
    }
}
