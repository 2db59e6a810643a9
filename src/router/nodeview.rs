//! What the router knows of one node from its NODE_STATUS probes: that it is the node the
//! map names (a map pointing at the wrong process must not be written to), its limits (so
//! nothing the router forwards exceeds them; the version a forwarded write adds is within
//! [`crate::protocol::limits::FORWARD_OVERHEAD`], which every node's frame limit counts), which shards it is ready to serve, its boot
//! (a change means it restarted) and how far its clock is from the router's.
//!
//! A node that does not speak NODE_STATUS (a plain `shale server`, not a cluster node)
//! leaves everything unknown: every shard counts as ready and the router's own limits apply.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tracing::{error, warn};

use crate::protocol::binary::ResponseFrame;
use crate::protocol::cluster::{NodeStatus, ShardState};
use crate::protocol::{ErrorReply, Status};

/// A node clock further than this from the router's is reported (WARN, STATS).
pub const CLOCK_WARN_OFFSET: Duration = Duration::from_secs(1);

/// The latest NODE_STATUS of a node and what was derived from it.
#[derive(Debug, Default)]
pub struct NodeView {
    status: ArcSwapOption<NodeStatus>,
    /// The node answered with another name: the map points at the wrong process.
    impostor: AtomicBool,
    /// Node wall clock minus router wall clock, ms, at the last probe.
    clock_offset_ms: AtomicI64,
    /// Times the node's boot changed (restarts seen).
    restarts: AtomicU64,
    /// A restart was seen and not yet handled by the router's repair.
    restarted: AtomicBool,
    /// Writes the node refused for clock skew.
    clock_refusals: AtomicU64,
}

impl NodeView {
    /// Takes a probe's NODE_STATUS from node `name`, sent at `sent_ms` and answered at
    /// `got_ms` (router wall clock). Returns whether the node is who the map says.
    pub fn update(&self, name: &str, status: NodeStatus, sent_ms: u64, got_ms: u64) -> bool {
        if status.name != name {
            if !self.impostor.swap(true, Ordering::Relaxed) {
                error!(node = name, answered_as = %status.name,
                    "the map's address for this node reaches another node; not using it");
            }
            self.status.store(None);
            return false;
        }
        self.impostor.store(false, Ordering::Relaxed);
        let midpoint = (sent_ms / 2).saturating_add(got_ms / 2);
        let offset = i64::try_from(status.wall_ms)
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(midpoint).unwrap_or(i64::MAX));
        let old = self.clock_offset_ms.swap(offset, Ordering::Relaxed);
        let warn_ms = CLOCK_WARN_OFFSET.as_millis() as i64;
        if offset.abs() > warn_ms && old.abs() <= warn_ms {
            warn!(node = name, offset_ms = offset, "node clock differs from the router's");
        }
        if let Some(prev) = self.status.load().as_ref() {
            if prev.boot != status.boot {
                self.restarts.fetch_add(1, Ordering::Relaxed);
                self.restarted.store(true, Ordering::Relaxed);
            }
        }
        self.status.store(Some(Arc::new(status)));
        true
    }

    /// Whether a restart was seen that the router has not handled yet (the node lost its
    /// data and copied it back from peers that may themselves have been missing writes).
    pub fn restart_seen(&self) -> bool {
        self.restarted.load(Ordering::Relaxed)
    }

    /// The router has marked the node's shards stale after a restart.
    pub fn restart_handled(&self) {
        self.restarted.store(false, Ordering::Relaxed);
    }

    /// Forgets the status (the node stopped answering NODE_STATUS).
    pub fn clear(&self) {
        self.status.store(None);
    }

    /// Whether the node answered as another node at the last probe.
    pub fn is_impostor(&self) -> bool {
        self.impostor.load(Ordering::Relaxed)
    }

    /// The hash of the map the node applies, if known and it follows one.
    pub fn map_hash(&self) -> Option<u64> {
        self.status.load().as_ref().map(|s| s.map_hash).filter(|h| *h != 0)
    }

    /// The node's state for `shard`, if known.
    pub fn shard_state(&self, shard: u32) -> Option<ShardState> {
        self.status.load().as_ref().map(|s| s.shard(shard))
    }

    /// Whether reads of `shard` may go to the node: Ready or Retiring, or not known, and no
    /// restart seen that the router's repair has not handled yet.
    pub fn serves_reads(&self, shard: u32) -> bool {
        !self.restarted.load(Ordering::Relaxed)
            && self.shard_state(shard).is_none_or(|s| s.holds_data())
    }

    /// Judges the NODE_STATUS answer that opens each new connection to the node: the node
    /// must be the one the map names, and a restart (a new boot) fails this connection's
    /// first request, so nothing is read from the node before the router has caught it up.
    pub fn greet(&self, name: &str, resp: &ResponseFrame) -> Result<(), String> {
        match resp.status() {
            Some(Status::Ok) => {}
            Some(Status::InvalidArgument) => return Ok(()), // not a cluster node
            other => {
                let why = String::from_utf8_lossy(&resp.payload);
                let status = other.map_or("an unknown status", Status::name);
                return Err(format!("node {name} answered {status}: {why}"));
            }
        }
        let status = NodeStatus::decode(&resp.payload).ok_or("malformed NODE_STATUS reply")?;
        let known = self.boot();
        let now = crate::version::wall_ms();
        if !self.update(name, status, now, now) {
            return Err(format!("the address of node {name} reaches another node"));
        }
        match known {
            Some(boot) if Some(boot) != self.boot() => {
                Err(format!("node {name} restarted; it is caught up before it is read"))
            }
            _ => Ok(()),
        }
    }

    /// Shards the node reports in `state`.
    pub fn shards_in(&self, state: ShardState) -> Vec<u32> {
        let status = self.status.load();
        let Some(s) = status.as_ref() else { return Vec::new() };
        (1..=s.shards.len() as u32).filter(|&i| s.shard(i) == state).collect()
    }

    /// The node's boot id, if known.
    pub fn boot(&self) -> Option<u64> {
        self.status.load().as_ref().map(|s| s.boot)
    }

    /// Refuses a request the node would refuse for size: `key_len` or `value_len` over the
    /// node's reported limits (a client error; nothing is sent or hinted).
    pub fn admits(&self, name: &str, key_len: usize, value_len: usize) -> Result<(), ErrorReply> {
        let status = self.status.load();
        let Some(s) = status.as_ref() else { return Ok(()) };
        if key_len > s.max_key as usize {
            let msg =
                format!("key of {key_len} bytes is over node {name}'s limit of {}", s.max_key);
            return Err(ErrorReply::new(Status::KeyTooLarge, msg));
        }
        // The version a versioned write carries is within FORWARD_OVERHEAD, which every
        // node's frame limit counts: only the value itself needs checking.
        if value_len > s.max_value as usize {
            let msg = format!(
                "value of {value_len} bytes is over node {name}'s limit of {}",
                s.max_value
            );
            return Err(ErrorReply::new(Status::ValueTooLarge, msg));
        }
        Ok(())
    }

    /// Counts a write refused for clock skew.
    pub fn count_clock_refusal(&self) {
        self.clock_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// (clock offset ms, restarts seen, clock refusals) for STATS.
    pub fn counters(&self) -> (i64, u64, u64) {
        (
            self.clock_offset_ms.load(Ordering::Relaxed),
            self.restarts.load(Ordering::Relaxed),
            self.clock_refusals.load(Ordering::Relaxed),
        )
    }
}
