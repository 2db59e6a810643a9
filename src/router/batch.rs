//! Sending a sealed run ([`super::run`]): each request is placed on its backends (a read on
//! one replica picked as [`super::forward::read`] picks, a write on every replica, stamped
//! as [`Router::write_one`] stamps), each backend gets its requests as one write under one
//! deadline, and the replies are matched back in request order.
//!
//! Only the plain cases are finished here: a read answered; a write every replica acked or
//! failed (down, timed out), whose failed replicas are hinted and whose answer the
//! write-ack mode gives, as the per-request path does after its first attempt (it would
//! not send the write to a replica that failed it again either). A write is sent in a run
//! only when its shard has no movers, every replica is up and writable, the write-ack mode
//! waits for every answer and the replicas admit its size. Anything else (a request that
//! cannot be placed so, a read that failed, a STALE, a SUPERSEDED, WRONG_SHARD) takes the
//! request out of the run to be forwarded alone, by the same path as any request: a read
//! fails over to the other replicas (not the one that failed), a write is stamped again
//! and written to every replica with its re-stamps, hints and verdict. Writing a versioned
//! write again under a newer version is what a re-stamp does anyway, so a write that took
//! that path is one of the outcomes the plain path can have.
//!
//! A run of one request, the run of every client that waits for each reply, takes
//! [`one`]'s path: the same placing and finishing, one call per backend.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use super::Router;
use super::backend::Backend;
use super::fanout::{Answer, Tally};
use super::forward::{Earlier, Failed, Failure};
use super::run::{Item, Op};
use super::select::{ReadPolicy, first_replica};
use super::single::{blind_reply, key_frame, stamp};
use super::topology::Topology;
use super::write::{WriteAck, admit, hint_all, verdict};
use crate::client::Error;
use crate::cmd::BlindWrite;
use crate::protocol::binary::{RequestFrame, ResponseFrame, to_reply};
use crate::protocol::cluster::WriteAck as Ack;
use crate::protocol::{Opcode, Reply};

mod one;

/// Where one request of a run went.
enum Placed {
    /// Nowhere: it is forwarded alone.
    Alone,
    /// A read, to one replica.
    Read,
    /// A write on every replica.
    Write(Sent),
}

/// A run's write on its replicas, answer by answer.
struct Sent {
    /// Answers still due.
    due: usize,
    version: u64,
    /// Some replica removed a live key (for a delete).
    applied: bool,
    /// Replicas that failed it (down, timed out): the write is finished as the
    /// per-request path finishes one after its first attempt (hints, then the verdict).
    faults: Vec<(Arc<Backend>, String)>,
    first_fault: Option<Failure>,
    /// Some replica answered anything else (STALE, WRONG_SHARD, ...): forwarded alone.
    other: bool,
}

/// The requests of a run bound for one backend, reads or writes (each kind has its own
/// deadline).
struct Group<'a> {
    backend: &'a Arc<Backend>,
    write: bool,
    frames: Vec<RequestFrame>,
    /// The run index of each frame's request.
    owners: Vec<usize>,
}

/// How a run's requests are placed: the router's settings when it was sealed.
struct Placing<'a> {
    topo: &'a Topology,
    policy: ReadPolicy,
    /// Writes may be sent in the run (the write-ack mode waits for every answer).
    writes: bool,
}

impl Router {
    /// Sends a run's requests and returns their replies in order (a run of one takes
    /// [`Router::send_one`]).
    pub(super) async fn send_run(&self, items: Vec<Item>) -> Vec<Reply> {
        let started = Instant::now();
        let run = self.run_settings();
        let how = run.placing();
        let (mut placed, mut groups) = self.place(&items, &how);
        let sends = groups.iter_mut().map(|g| {
            g.backend.call_batch(std::mem::take(&mut g.frames), run.deadline(started, g.write))
        });
        let results = join_all(sends).await;
        let mut replies: Vec<Option<Reply>> = (0..items.len()).map(|_| None).collect();
        let mut earlier: Vec<Option<Earlier>> = (0..items.len()).map(|_| None).collect();
        for (group, results) in groups.iter().zip(results) {
            for (&i, result) in group.owners.iter().zip(results) {
                match take_answer(group.backend, &mut placed[i], result) {
                    Ok(Some(reply)) => replies[i] = Some(reply),
                    Ok(None) => {}
                    Err(e) => earlier[i] = Some(e),
                }
            }
        }
        let took = started.elapsed();
        let mut alone = Vec::new();
        for (i, (item, place)) in items.into_iter().zip(&placed).enumerate() {
            match self.settle(took, &run, &item, place, replies[i].take()) {
                Some(reply) => replies[i] = Some(reply),
                None => alone.push((i, item, earlier[i].take())),
            }
        }
        let again = join_all(alone.into_iter().map(|(i, item, earlier)| async move {
            (i, self.alone(item, earlier, started).await)
        }))
        .await;
        for (i, reply) in again {
            replies[i] = Some(reply);
        }
        replies.into_iter().map(|r| r.unwrap_or_else(super::run::lost)).collect()
    }

    /// What a run is sent under: the router's settings and map as it is sent.
    fn run_settings(&self) -> RunSettings {
        let settings = &self.inner.settings;
        let t = settings.timeouts();
        RunSettings {
            topo: self.inner.topology.load_full(),
            ack: settings.write_ack(),
            policy: settings.read_policy(),
            read_by: t.read_try.min(t.request),
            write_by: t.write.min(t.request),
        }
    }

    /// A request's reply from what its backends answered (`reply`, when that was all it
    /// needed), or `None` when it must be forwarded alone.
    fn settle(
        &self,
        took: Duration,
        run: &RunSettings,
        item: &Item,
        place: &Placed,
        reply: Option<Reply>,
    ) -> Option<Reply> {
        match (place, reply) {
            (_, Some(reply)) => Some(self.counted(took, Ok(reply))),
            (Placed::Write(sent), None) if sent.due == 0 && !sent.other => {
                let reply = finish_write(&run.topo, item, sent, run.ack);
                Some(self.counted(took, reply))
            }
            _ => None,
        }
    }

    /// Places every request of a run; the rng lives only here, never across an await.
    fn place<'a>(&self, items: &[Item], how: &Placing<'a>) -> (Vec<Placed>, Vec<Group<'a>>) {
        let mut rng = rand::thread_rng();
        let n = items.len();
        let mut groups: Vec<Group<'a>> = Vec::new();
        let mut add =
            |backend: &'a Arc<Backend>, write: bool, frame: RequestFrame, owner: usize| {
                let at =
                    groups.iter().position(|g| g.write == write && Arc::ptr_eq(g.backend, backend));
                let group = match at {
                    Some(at) => &mut groups[at],
                    None => {
                        // Room for the whole run: most runs go to one or two backends.
                        let (frames, owners) = (Vec::with_capacity(n), Vec::with_capacity(n));
                        groups.push(Group { backend, write, frames, owners });
                        let last = groups.len() - 1;
                        &mut groups[last]
                    }
                };
                group.frames.push(frame);
                group.owners.push(owner);
            };
        let mut placed = Vec::with_capacity(items.len());
        // The run's versions in one update of the router's clock, which every worker
        // thread shares (a version not used leaves a gap, which is harmless).
        let writes = items.iter().filter(|item| matches!(item.op, Op::Write { .. })).count();
        let (mut version, step) = match writes {
            0 => (0, 0),
            n => self.inner.hlc.now_run(n),
        };
        for (i, item) in items.iter().enumerate() {
            let stamped = version;
            if let Op::Write { .. } = item.op {
                version = version.saturating_add(step);
            }
            let mut sink = |b, write, frame| add(b, write, frame, i);
            placed.push(place_item(item, how, stamped, &mut rng, &mut sink));
        }
        (placed, groups)
    }

    /// Forwards a request of a run alone, by the path every request takes, within what is
    /// left of its time (it was taken on at `since`); a read does not go back to the
    /// replica that failed it in the run.
    async fn alone(&self, item: Item, earlier: Option<Earlier>, since: Instant) -> Reply {
        let result = match &item.op {
            Op::Get(key) => {
                let frame = key_frame(Opcode::Get, key);
                let result = self.read_frame_after(key, &frame, earlier, Some(since)).await;
                result.map(|resp| to_reply(Opcode::Get, &resp))
            }
            Op::Write { .. } => self.blind_write_since(&item.command, Some(since)).await,
        };
        self.count(since, result)
    }
}

/// One request's placement: a read on one replica picked as [`super::forward::read`]
/// picks, a plain write (stamped `version`) on every replica, each handed to `sink` as
/// (backend, is a write, frame); or [`Placed::Alone`].
fn place_item<'a, R: rand::Rng>(
    item: &Item,
    how: &Placing<'a>,
    version: u64,
    rng: &mut R,
    sink: &mut impl FnMut(&'a Arc<Backend>, bool, RequestFrame),
) -> Placed {
    match &item.op {
        Op::Get(key) => {
            let route = how.topo.route(key);
            let (shard, targets) = (route.shard, route.targets);
            let usable = |b: &Backend| b.readable(shard, key);
            let caught_up = |b: &Backend| b.caught_up(shard, key);
            match first_replica(how.policy, targets, usable, caught_up, rng) {
                Some(r) => {
                    sink(&targets[r], false, key_frame(Opcode::Get, key));
                    Placed::Read
                }
                None => Placed::Alone,
            }
        }
        Op::Write { write, .. } if how.writes => match plain_write(how.topo, write, version) {
            Some((targets, frame)) => {
                if let Some((last, others)) = targets.split_last() {
                    for b in others {
                        sink(b, true, frame.clone());
                    }
                    sink(last, true, frame);
                }
                Placed::Write(Sent::new(targets.len(), version))
            }
            None => Placed::Alone,
        },
        Op::Write { .. } => Placed::Alone,
    }
}

/// The router's settings and map a run is sent under, taken when it is sent.
struct RunSettings {
    topo: Arc<Topology>,
    ack: WriteAck,
    policy: ReadPolicy,
    read_by: Duration,
    write_by: Duration,
}

impl RunSettings {
    fn placing(&self) -> Placing<'_> {
        Placing {
            topo: &self.topo,
            policy: self.policy,
            writes: matches!(self.ack, WriteAck::Healthy | WriteAck::All),
        }
    }

    /// When a run sent at `started` stops waiting for a backend's reads or writes.
    fn deadline(&self, started: Instant, write: bool) -> Instant {
        started + if write { self.write_by } else { self.read_by }
    }
}

impl Sent {
    fn new(due: usize, version: u64) -> Self {
        Sent { due, version, applied: false, faults: Vec::new(), first_fault: None, other: false }
    }
}

/// Where a run's write goes and what it sends, when it can be sent in the run: its shard
/// has no movers, every replica is up and writable and admits its size.
fn plain_write<'a>(
    topo: &'a Topology,
    write: &BlindWrite,
    version: u64,
) -> Option<(&'a [Arc<Backend>], RequestFrame)> {
    let route = topo.route(&write.key);
    let targets = route.targets;
    let up = |b: &Arc<Backend>| !b.health().is_ejected() && b.writable();
    if route.replicas == 0 || route.replicas != targets.len() || !targets.iter().all(up) {
        return None;
    }
    let req = stamp(route.shard, write, version);
    admit(targets, &req).ok()?;
    Some((targets, req.frame()))
}

/// The answer to a run's write every replica answered, each acking it or failing (down,
/// timed out): the failed ones get hints and the write-ack mode judges, as after the first
/// attempt of [`super::write::write`] (which does not send it to them again either).
fn finish_write(topo: &Topology, item: &Item, sent: &Sent, ack: WriteAck) -> Result<Reply, Failed> {
    let Op::Write { write, deletes } = &item.op else {
        return Ok(super::run::lost());
    };
    if sent.faults.is_empty() {
        return Ok(blind_reply(*deletes, sent.applied));
    }
    let route = topo.route(&write.key);
    let req = stamp(route.shard, write, sent.version);
    hint_all(sent.faults.iter().map(|(b, _)| b), &req);
    let failed = |b: &Arc<Backend>| sent.faults.iter().any(|(f, _)| Arc::ptr_eq(f, b));
    let acked = route.targets.iter().filter(|b| !failed(b));
    let tally = Tally {
        acked: acked.map(|b| (b.clone(), Ack { applied: sent.applied, clock: 0 })).collect(),
        failed: sent.faults.clone(),
        first_failure: sent.first_fault,
        ..Tally::default()
    };
    verdict(tally, &[], route, ack).map(|_| blind_reply(*deletes, sent.applied))
}

/// Takes one backend's answer to one request of a run: the reply when the request is
/// done, `None` when it waits for more answers (or must go alone), or the read's failure.
fn take_answer(
    backend: &Arc<Backend>,
    place: &mut Placed,
    result: Result<ResponseFrame, Error>,
) -> Result<Option<Reply>, Earlier> {
    match place {
        Placed::Read => match result {
            Ok(resp) => Ok(Some(to_reply(Opcode::Get, &resp))),
            Err(error) => Err(Earlier { replica: backend.clone(), error }),
        },
        Placed::Write(sent) => {
            sent.due = sent.due.saturating_sub(1);
            match Answer::of(backend, result) {
                Answer::Acked(ack) => sent.applied |= ack.applied,
                Answer::NodeFault(failure, why) => {
                    sent.first_fault.get_or_insert(failure);
                    sent.faults.push((backend.clone(), why));
                }
                _ => sent.other = true,
            }
            Ok(None)
        }
        Placed::Alone => Ok(None),
    }
}
