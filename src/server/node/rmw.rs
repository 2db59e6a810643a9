//! One RMW request on this node as its shard's coordinator: the command is admitted like a
//! write of its keys (`check.rs`), runs only while this node acts for the shard
//! ([`super::coord`]), runs through the same [`cmd::execute`] as any command, and is
//! answered with its reply and the resulting state of every key it changed (value or
//! tombstone, remaining TTL, version) for the router to write to the shard's other replicas
//! with the versions stamped here.

use std::collections::HashSet;

use bytes::{Bytes, BytesMut};

use super::Node;
use super::ae::to_record;
use super::coord::Refusal;
use crate::cmd::{self, Command, Ctx};
use crate::protocol::limits::{MAX_FRAME_LEN_HARD, RESPONSE_HEADER_LEN};
use crate::protocol::rmw::{RmwOutcome, not_coordinator_message};
use crate::protocol::text::encode_reply_resp3;
use crate::protocol::{Reply, Status};
use crate::store::Store;

/// Largest RMW reply payload: what fits one response frame. A command whose reply and
/// outcome together are larger (GETSET of two values near the hard frame limit) is applied
/// here but answered PARTIAL: anti-entropy carries the outcome to the other replicas.
pub const MAX_RMW_REPLY: usize = MAX_FRAME_LEN_HARD - RESPONSE_HEADER_LEN;

impl Node {
    /// Runs `inner`, an RMW request's command, on `store` as the coordinator of its shard.
    /// The request passed [`Node::check`], so its keys are in one shard this node may write.
    pub fn rmw(&self, store: &Store, inner: Command, ctx: &mut Ctx<'_>) -> Reply {
        let shard = match self.rmw_shard(&self.shards(), &inner) {
            Ok(shard) => shard,
            Err(e) => return Reply::Error(e),
        };
        let _running = match self.coord.enter(shard) {
            Ok(running) => running,
            Err(refusal) => return self.refused(shard, refusal),
        };
        let mut seen = HashSet::new();
        let keys: Vec<Bytes> = inner.keys().filter(|k| seen.insert(*k)).cloned().collect();
        let before: Vec<Option<u64>> = keys.iter().map(|k| store.version_of(k)).collect();
        let reply = cmd::execute(inner, ctx);
        if let Reply::Error(_) = reply {
            // Commands check before they change anything: an error changed nothing.
            return reply;
        }
        // A key whose version moved was written (by this command, or by a write that
        // landed meanwhile, which is then the state to replicate anyway).
        let records = keys
            .iter()
            .zip(before)
            .filter_map(|(k, was)| store.state_of(k).filter(|now| Some(now.version) != was))
            .map(to_record)
            .collect();
        let mut encoded = BytesMut::new();
        encode_reply_resp3(&reply, &mut encoded);
        let payload = RmwOutcome { reply: encoded.freeze(), records }.encode();
        if payload.len() > MAX_RMW_REPLY {
            let msg = format!(
                "applied on coordinator {} of shard {shard}, but its reply and outcome ({} \
                 bytes) exceed a frame; anti-entropy copies it to the other replicas",
                self.name,
                payload.len()
            );
            return Reply::error(Status::Partial, msg);
        }
        Reply::Bulk(payload)
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
