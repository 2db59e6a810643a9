//! One key's requests: a read on one caught-up replica (failing over; [`super::forward`])
//! and a blind write as a versioned write to every replica ([`super::write`]). Reads use
//! the typed opcodes where they exist (GET, TTL) and the CMD opcode for every other read,
//! whose RESP3 reply the connection renders in the client's dialect. A WRONG_SHARD from a
//! replica makes the router re-read its map and try once more.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::Router;
use super::forward::{Earlier, Failed, Read, read};
use super::write::{WriteReq, write};
use crate::cmd::expiry::{TtlUnit, ttl_reply};
use crate::cmd::{BlindWrite, Command};
use crate::protocol::binary::{RequestFrame, ResponseFrame, cmd_frame, to_reply};
use crate::protocol::cluster::WriteAck as Ack;
use crate::protocol::text::Argv;
use crate::protocol::{ErrorReply, Opcode, Reply, Status};
use crate::store::TtlState;

/// Whether a read travels on a typed opcode rather than as its arguments.
pub(super) fn typed_read(command: &Command) -> bool {
    matches!(command, Command::Get(_) | Command::Ttl(_) | Command::Pttl(_))
}

/// The CMD frame of an argument vector.
pub(super) fn argv_frame(argv: &Argv) -> RequestFrame {
    cmd_frame(&argv.iter().collect::<Vec<&[u8]>>())
}

/// The error for a command whose arguments did not come along (a routing bug).
pub(super) fn no_argv(command: &Command) -> Failed {
    let msg = format!("'{}' arrived without its arguments", command.name());
    Failed::refused(ErrorReply::new(Status::Internal, msg))
}

impl Router {
    /// A single-key read.
    pub(super) async fn read_one(
        &self,
        command: &Command,
        argv: Option<Argv>,
    ) -> Result<Reply, Failed> {
        match command {
            Command::Get(key) => {
                let resp = self.read_frame(key, &key_frame(Opcode::Get, key)).await?;
                Ok(to_reply(Opcode::Get, &resp))
            }
            Command::Ttl(key) => self.ttl(key, TtlUnit::Seconds).await,
            Command::Pttl(key) => self.ttl(key, TtlUnit::Millis).await,
            other => {
                let key = other.keys().next().cloned().unwrap_or_default();
                let argv = argv.ok_or_else(|| no_argv(other))?;
                self.read_cmd(&key, &argv).await
            }
        }
    }

    /// A read sent as its arguments (CMD), routed by `key`.
    pub(super) async fn read_cmd(&self, key: &[u8], argv: &Argv) -> Result<Reply, Failed> {
        let resp = self.read_frame(key, &argv_frame(argv)).await?;
        Ok(to_reply(Opcode::Cmd, &resp))
    }

    /// Sends a read about `key` to one replica of its shard and returns the reply frame.
    /// On WRONG_SHARD the map is re-read and the request retried once.
    pub(super) async fn read_frame(
        &self,
        key: &[u8],
        frame: &RequestFrame,
    ) -> Result<ResponseFrame, Failed> {
        self.read_frame_after(key, frame, None, None).await
    }

    /// [`Router::read_frame`] continuing a read `earlier`'s replica already failed, of a
    /// request the router took on at `since` (its deadline counts from then; `None`: now).
    pub(super) async fn read_frame_after(
        &self,
        key: &[u8],
        frame: &RequestFrame,
        mut earlier: Option<Earlier>,
        since: Option<Instant>,
    ) -> Result<ResponseFrame, Failed> {
        let mut retried = false;
        loop {
            let (t, policy) = (self.inner.settings.timeouts(), self.inner.settings.read_policy());
            let topo = self.inner.topology.load_full();
            let route = topo.route(key);
            let one = Read { shard: route.shard, key, frame };
            let deadline = since.unwrap_or_else(Instant::now) + t.request;
            match read(policy, one, route.targets, &t, deadline, earlier.take()).await {
                Ok(resp) => return Ok(resp),
                Err(f) if f.wrong_shard && !retried => retried = self.refresh_map(),
                Err(f) => return Err(f),
            }
        }
    }

    async fn ttl(&self, key: &Bytes, unit: TtlUnit) -> Result<Reply, Failed> {
        let resp = self.read_frame(key, &key_frame(Opcode::Ttl, key)).await?;
        Ok(match to_reply(Opcode::Ttl, &resp) {
            Reply::Int(-2) => ttl_reply(TtlState::Missing, unit),
            Reply::Int(-1) => ttl_reply(TtlState::Persistent, unit),
            Reply::Int(ms) => {
                let left = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
                ttl_reply(TtlState::Expires(left), unit)
            }
            other => other,
        })
    }

    /// A blind write of one key: OK for a value, the count of live keys removed for a
    /// delete (DEL of one key).
    pub(super) async fn blind_write(&self, command: &Command) -> Result<Reply, Failed> {
        self.blind_write_since(command, None).await
    }

    /// [`Router::blind_write`] of a request the router took on at `since` (its deadline
    /// counts from then; `None`: now).
    pub(super) async fn blind_write_since(
        &self,
        command: &Command,
        since: Option<Instant>,
    ) -> Result<Reply, Failed> {
        let mut writes = command.blind_writes();
        let deletes = writes.all_deletes();
        let (Some(w), None) = (writes.next(), writes.next()) else {
            let msg = format!(
                "'{}' is routed as one blind write but declares another number",
                command.name()
            );
            return Err(Failed::refused(ErrorReply::new(Status::Internal, msg)));
        };
        let acks = self.write_one(w, since).await?;
        Ok(blind_reply(deletes, acks.iter().any(|a| a.applied)))
    }

    /// Stamps `w` and writes it to every replica of its key's shard (same retry rule as
    /// reads); returns the replicas' acks. An absolute expiry becomes the time left at the
    /// stamp, and one already passed makes the write a delete. The request's deadline
    /// counts from `since` (`None`: now).
    pub(super) async fn write_one(
        &self,
        w: BlindWrite,
        since: Option<Instant>,
    ) -> Result<Vec<Ack>, Failed> {
        let mut retried = false;
        loop {
            let (t, ack) = (self.inner.settings.timeouts(), self.inner.settings.write_ack());
            let topo = self.inner.topology.load_full();
            let route = topo.route(&w.key);
            let req = stamp(route.shard, &w, self.inner.hlc.now());
            let deadline = since.unwrap_or_else(Instant::now) + t.request;
            match write(route, req, ack, &t, deadline).await {
                Ok(acks) => return Ok(acks),
                Err(f) if f.wrong_shard && !retried => retried = self.refresh_map(),
                Err(f) => return Err(f),
            }
        }
    }
}

/// The client's reply to a blind write that took: OK, or for a delete the count of live
/// keys removed (`applied`: some replica removed one).
pub(super) fn blind_reply(deletes: bool, applied: bool) -> Reply {
    if deletes { Reply::Int(i64::from(applied)) } else { Reply::Ok }
}

/// The versioned write of `w` at `version`: an absolute expiry becomes the time left now,
/// and one already passed makes the write a delete.
pub(super) fn stamp(shard: u32, w: &BlindWrite, version: u64) -> WriteReq {
    let left = w.expiry.left_now();
    let value = w.value.clone().filter(|_| left.is_some());
    let ttl = left.flatten().filter(|_| value.is_some());
    WriteReq { shard, key: w.key.clone(), value, ttl, version, ids: Vec::new() }
}

/// A typed request about one key.
pub(super) fn key_frame(op: Opcode, key: &Bytes) -> RequestFrame {
    RequestFrame { opcode: op as u8, key: key.clone(), ..Default::default() }
}
