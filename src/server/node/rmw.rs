//! One RMW request on this node as its shard's coordinator: the command is admitted like a
//! write of its keys (`check.rs`), runs only while this node acts for the shard
//! ([`super::coord`]), runs through the same [`cmd::execute`] as any command, and is
//! answered with its reply and the resulting state of every key it changed (value or
//! tombstone, remaining TTL, version) for the router to write to the shard's other replicas
//! with the versions stamped here. A command whose id this node knows (see [`super::known`])
//! took effect before, and its reply was lost: it is not run again, and is answered
//! REPLY_LOST with its keys' states, which the router writes out as an outcome (PARTIAL when
//! it changed several keys and this node holds its effect on some only: see `effect.rs`).

use std::sync::atomic::Ordering;

use bytes::BytesMut;
use tracing::warn;

use super::Node;
use super::ae::to_record;
use super::coord::Refusal;
use super::effect::{Held, derived_ids, held, ring_ids};
use super::keylock::Locked;
use super::known::FENCE_MAX_IDS;
use super::orphans::Late;
use crate::cmd::internal::RmwArgs;
use crate::cmd::tx::distinct_keys;
use crate::cmd::{self, Command, Ctx};
use crate::protocol::cluster::Stale;
use crate::protocol::dump::DumpRecord;
use crate::protocol::limits::{MAX_FRAME_LEN_HARD, RESPONSE_HEADER_LEN};
use crate::protocol::rmw::{RmwOutcome, not_coordinator_message, superseded_message};
use crate::protocol::text::encode_reply_resp3;
use crate::protocol::{ErrorReply, Reply, Status};
use crate::store::Store;

/// Largest RMW reply payload: what fits one response frame. A command whose reply and
/// outcome together are larger (GETSET of two values near the hard frame limit) is applied
/// here but answered PARTIAL: anti-entropy carries the outcome to the other replicas.
pub const MAX_RMW_REPLY: usize = MAX_FRAME_LEN_HARD - RESPONSE_HEADER_LEN;

impl Node {
    /// Runs an RMW request's command on `store` as the coordinator of its shard. The request
    /// passed [`Node::check`], so its keys are in one shard this node may write.
    pub fn rmw(&self, store: &Store, args: RmwArgs, ctx: &mut Ctx<'_>) -> Reply {
        let RmwArgs { id, command: inner } = args;
        let shard = match self.rmw_shard(&self.shards(), &inner) {
            Ok(shard) => shard,
            Err(e) => return Reply::Error(e),
        };
        let _running = match self.coord.enter(shard) {
            Ok(running) => running,
            Err(refusal) => return self.refused(shard, refusal),
        };
        // Only TXWATCH answers the token (TXEXEC hands it back); other commands skip it.
        let token = matches!(inner, Command::TxWatch(_)).then(|| self.coord.token(shard));
        self.run(store, shard, (id, inner), token, ctx)
    }

    /// Runs an admitted RMW's command and answers its reply (after `token`, if any) and the
    /// state of every key it changed, with the ids of the commands each state holds.
    fn run(
        &self,
        store: &Store,
        shard: u32,
        (id, inner): (u64, Command),
        token: Option<String>,
        ctx: &mut Ctx<'_>,
    ) -> Reply {
        let keys = distinct_keys(inner.keys());
        // Held until the changed keys' states are read: they are what this command left.
        // Taken before the window, as an outcome write takes its key's stripe before the
        // window (`outcome_write`): one lock order, or the two deadlock.
        let mut locked = self.rmw_keys.lock(&keys);
        // After a takeover from a crashed peer, versioned writes wait while this runs, so
        // `before` is what the command computes over (see `orphans.rs`).
        let mut window = self.orphans.window(shard);
        if id != 0 && self.known.contains(id) {
            drop(window);
            return self.ran_before(store, shard, id, &keys, &mut locked);
        }
        if self.watch_broken(shard, &inner) {
            // Checked after the id: a transaction that ran before a handover, sent again,
            // ran; it did not abort.
            return outcome(shard, &self.name, Reply::NilArray, Vec::new(), Vec::new());
        }
        let before: Vec<Option<u64>> = keys.iter().map(|k| store.version_of(k)).collect();
        let reply = match (cmd::execute(inner, ctx), token) {
            (Reply::Array(marks), Some(token)) => {
                Reply::Array(std::iter::once(Reply::Bulk(token.into())).chain(marks).collect())
            }
            (reply, _) => reply,
        };
        if let Reply::Error(_) = reply {
            // Commands check before they change anything: an error changed nothing.
            return reply;
        }
        // A key whose version moved was written (by this command, or by a plain versioned
        // write that landed meanwhile, which is then the state to replicate anyway; never
        // by another RMW, which waits for the key locks).
        let changed: Vec<_> = keys
            .iter()
            .zip(before)
            .filter_map(|(k, was)| {
                store.state_of(k).filter(|now| Some(now.version) != was).map(|now| (k, was, now))
            })
            .collect();
        if let Some(w) = window.as_deref_mut().and_then(Option::as_mut) {
            let full = changed.iter().any(|(k, was, _)| !w.note(k, *was));
            if full {
                self.stats.orphan_overflows.fetch_add(1, Ordering::Relaxed);
                warn!(node = self.name, shard, "takeover window full: later keys unguarded");
            }
        }
        drop(window);
        let mut ids = Vec::new();
        if id != 0 && !changed.is_empty() {
            let noted = ring_ids(id, changed.len());
            self.known.note(shard, &[id], false);
            for (k, _, _) in &changed {
                self.derived.note(shard, &derived_ids(k, &noted), false);
                ids.push(locked.note(k, &noted));
            }
        }
        drop(locked);
        let records = changed.into_iter().map(|(_, _, now)| to_record(now)).collect();
        outcome(shard, &self.name, reply, records, ids)
    }

    /// The answer to command `id` sent again after it took effect: REPLY_LOST (PARTIAL when
    /// this node holds it on some of the keys it changed only), with its keys' states and
    /// ids as an outcome for the router to write out.
    fn ran_before(
        &self,
        store: &Store,
        shard: u32,
        id: u64,
        keys: &[bytes::Bytes],
        locked: &mut Locked<'_>,
    ) -> Reply {
        self.stats.rmw_reruns_recognised.fetch_add(1, Ordering::Relaxed);
        let knows = |id| self.known.contains(id) || self.derived.contains(id);
        let answer = match held(knows, id, keys) {
            Held::Whole => reply_lost(shard, id),
            Held::Part { held, of } => {
                self.stats.rmw_reruns_partial.fetch_add(1, Ordering::Relaxed);
                lost_in_part(shard, id, held, of)
            }
        };
        let (records, ids) = keys
            .iter()
            .filter_map(|k| store.state_of(k).map(|now| (to_record(now), locked.ids(k))))
            .unzip();
        outcome(shard, &self.name, Reply::Error(answer), records, ids)
    }

    /// Whether `inner` is a TXEXEC whose WATCH marks were made on another node, process or
    /// coordinatorship: the watched keys may have changed in between, so it aborts.
    fn watch_broken(&self, shard: u32, inner: &Command) -> bool {
        matches!(inner, Command::TxExec(args)
            if args.watched.as_ref().is_some_and(|w| w.token != self.coord.token(shard).as_bytes()))
    }

    /// The RMW ids this node knows of `shard`, for a node taking it over (FENCE): command
    /// ids first, then count and key ids in the room left.
    pub fn rmw_ids_of(&self, shard: u32) -> Vec<u64> {
        let mut ids = self.known.export(shard, FENCE_MAX_IDS);
        ids.extend(self.derived.export(shard, FENCE_MAX_IDS - ids.len()));
        ids
    }

    /// Keeps a fenced peer's RMW ids of `shard` (see [`Node::rmw_ids_of`]) once its state
    /// is pulled. Command and derived ids cannot be told apart here: all go with the
    /// command ids (at most a FENCE answer's worth).
    pub fn keep_rmw_ids(&self, shard: u32, ids: &[u64]) {
        self.known.note(shard, ids, true);
    }

    /// The RMW ids `key`'s state holds the effect of, for a BUCKET_DUMP page that read it at
    /// `version`: none if the key has moved on since (the ids noted may then be of a newer
    /// state than the page carries, and a peer would recognise commands it does not hold).
    pub fn rmw_ids_held(&self, store: &Store, key: &[u8], version: u64) -> Vec<u64> {
        let mut locked = self.rmw_keys.lock(&[key]);
        let ids = locked.ids(key);
        if ids.is_empty() || store.state_of(key).map(|e| e.version) != Some(version) {
            return Vec::new();
        }
        ids
    }

    /// Applies an entry an anti-entropy round pulled, which carries `ids` (its RMW ids on
    /// the peer), as [`Node::outcome_write`] applies an outcome: under the key's stripe and
    /// then `shard`'s takeover window, noting the ids once `apply` ran (behind the key's
    /// own when it did not apply: this node's state is newer).
    pub fn pulled_write<E>(
        &self,
        shard: u32,
        key: &[u8],
        ids: &[u64],
        apply: impl FnOnce() -> Result<bool, E>,
    ) -> Result<bool, E> {
        let mut locked = (!ids.is_empty()).then(|| self.rmw_keys.lock(&[key]));
        let window = self.orphans.window(shard);
        let applied = apply()?;
        drop(window);
        if let Some(locked) = locked.as_mut() {
            self.note_taken(locked, shard, key, ids, !applied);
        }
        Ok(applied)
    }

    /// Applies a versioned write (VSET, VDEL) of `key` at `version` that carries `ids`, the
    /// read-modify-writes whose effect it holds (an outcome): under the key's stripe, noting
    /// them once it applied or lost to a newer write (which came after them), so an RMW
    /// checking for one of them never runs between the two.
    pub fn outcome_write(
        &self,
        key: &[u8],
        version: u64,
        ids: &[u64],
        apply: impl FnOnce() -> Reply,
    ) -> Reply {
        if ids.is_empty() {
            return self.versioned(key, version, apply);
        }
        // The stripe first, then (in `versioned`) the window: the order `run` takes them in.
        let mut locked = self.rmw_keys.lock(&[key]);
        let reply = self.versioned(key, version, apply);
        if matches!(reply, Reply::Bulk(_) | Reply::Raw(Status::Stale, _)) {
            let stale = matches!(reply, Reply::Raw(Status::Stale, _));
            let shard = self.shards().map.shard_for_key(key);
            self.note_taken(&mut locked, shard, key, ids, stale);
        }
        reply
    }

    /// Notes that `key`'s state (or, `older`, a newer one) holds the effect of the commands
    /// `ids` another node ran: in the key's ring, and remembered with the key ids they
    /// imply (`effect.rs`). Under the key's stripe, held in `locked`.
    fn note_taken(
        &self,
        locked: &mut Locked<'_>,
        shard: u32,
        key: &[u8],
        ids: &[u64],
        older: bool,
    ) {
        let fresh = locked.note_fresh(key, ids, older);
        if fresh.is_empty() {
            return;
        }
        let derived = derived_ids(key, ids);
        let commands: Vec<u64> = fresh.into_iter().filter(|id| !derived.contains(id)).collect();
        self.known.note(shard, &commands, true);
        self.derived.note(shard, &derived, true);
    }

    /// Applies a versioned write (VSET, VDEL) of `key` at `version`; after a takeover from a
    /// crashed peer, a losing write this node computed past without is SUPERSEDED.
    pub fn versioned(&self, key: &[u8], version: u64, apply: impl FnOnce() -> Reply) -> Reply {
        if !self.orphans.any_open() {
            return apply();
        }
        let shard = self.shards().map.shard_for_key(key);
        let Some(window) = self.orphans.window(shard) else { return apply() };
        let reply = apply();
        let (Reply::Raw(Status::Stale, payload), Some(w)) = (&reply, window.as_ref()) else {
            return reply;
        };
        let (Late::Superseded { base }, Some(stale)) =
            (w.judge(key, version), Stale::decode(payload))
        else {
            return reply;
        };
        self.stats.outcomes_superseded.fetch_add(1, Ordering::Relaxed);
        warn!(node = self.name, shard, version, base, "late outcome superseded");
        let why = format!(
            "node {} took over shard {shard} from a crashed coordinator and ran a \
             read-modify-write over this key at version {base}, without this write (version \
             {version}): the outcome died with its coordinator",
            self.name
        );
        // The STALE reply's figures go along, so a blind write can re-stamp above them.
        Reply::error(Status::Superseded, superseded_message(&why, stale))
    }

    fn refused(&self, shard: u32, refusal: Refusal) -> Reply {
        match refusal {
            Refusal::NotCoordinator(Some(other)) => Reply::error(
                Status::NotCoordinator,
                not_coordinator_message(&self.name, shard, Some(&other)),
            ),
            Refusal::NotCoordinator(None) => {
                let msg = format!(
                    "shard {shard} has no coordinator yet: node {} knows no replica of it that \
                     is ready and reachable",
                    self.name
                );
                Reply::error(Status::NotReady, msg)
            }
            Refusal::Handover => {
                let msg = format!("coordinator handover in progress for shard {shard}");
                Reply::error(Status::NotReady, format!("{msg} on node {}", self.name))
            }
        }
    }
}

/// The reply to command `id` run again after it took effect.
fn reply_lost(shard: u32, id: u64) -> ErrorReply {
    let msg = format!(
        "the command took effect on shard {shard}, but its reply was lost (a coordinator \
         crashed or a connection dropped before answering); it was not run again (id {id:016x})"
    );
    ErrorReply::new(Status::ReplyLost, msg)
}

/// The reply to command `id` run again after it took effect, when this node holds its
/// effect on `held` of the `of` keys it changed only (see `effect.rs`).
fn lost_in_part(shard: u32, id: u64, held: usize, of: usize) -> ErrorReply {
    let msg = format!(
        "the command took effect on shard {shard}, but this node holds its effect on {held} \
         of the {of} keys it changed: the others' may have been lost (with a coordinator that \
         crashed before their outcome reached another replica); it was not run again (id \
         {id:016x})"
    );
    ErrorReply::new(Status::Partial, msg)
}

/// The RMW answer: the command's reply and the state of each key it changed, with the ids
/// of the commands each state holds (empty: the request carried no id).
fn outcome(
    shard: u32,
    me: &str,
    reply: Reply,
    records: Vec<DumpRecord>,
    ids: Vec<Vec<u64>>,
) -> Reply {
    let mut encoded = BytesMut::new();
    encode_reply_resp3(&reply, &mut encoded);
    let payload = RmwOutcome { reply: encoded.freeze(), records, ids }.encode();
    if payload.len() > MAX_RMW_REPLY {
        let msg = format!(
            "applied on coordinator {me} of shard {shard}, but its reply and outcome ({} \
             bytes) exceed a frame; anti-entropy copies it to the other replicas",
            payload.len()
        );
        return Reply::error(Status::Partial, msg);
    }
    Reply::Bulk(payload)
}

#[cfg(test)]
#[path = "rmw_tests.rs"]
mod tests;
