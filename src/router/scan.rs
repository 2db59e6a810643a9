//! Walking the keyspace through a router: KEYS, SCAN and RANDOMKEY over every shard with
//! SHARD_SCAN pages ([`crate::protocol::shards`]), each shard read from one replica, so a
//! key stored on several replicas is reported once.
//!
//! # SCAN's cursor
//!
//! ```text
//!  63            48 47      44 43                                  0
//! +----------------+----------+-------------------------------------+
//! | shard - 1 (16) | replica  | the node's SHARD_SCAN cursor (44)   |
//! |                | (4)      | (0: the shard's start)              |
//! +----------------+----------+-------------------------------------+
//! ```
//!
//! The walk goes shard by shard in map order; within a shard it stays on one replica (its
//! position among the shard's replicas is in the cursor, since a node's cursor means
//! nothing to another node). If that replica cannot serve, the shard starts again from
//! its beginning on another one: keys of that shard may then come twice, never missed.
//! 0 starts the walk and ends it, as in Redis. A map change during a walk that moves a
//! shard may repeat or miss that shard's keys.

use std::collections::HashSet;

use bytes::Bytes;
use futures_util::StreamExt;
use rand::seq::SliceRandom;
use tokio::time::Instant;

use super::Router;
use super::allshards::SHARD_CALLS_AT_ONCE;
use super::forward::{Failed, Failure, no_replicas};
use crate::client::Error;
use crate::protocol::shards::{MAX_SCAN_COUNT, MAX_SCAN_CURSOR, ScanPage, ScanRequest};
use crate::protocol::{ErrorReply, Status};

/// Bits of the node's cursor in a router's SCAN cursor (a node's are at most
/// [`MAX_SCAN_CURSOR`]).
pub const NODE_CURSOR_BITS: u32 = MAX_SCAN_CURSOR.count_ones();
/// Most replicas (and movers) of one shard a SCAN cursor can name.
pub const MAX_SCAN_REPLICAS: usize = 16;
/// Pages one shard's walk reads for KEYS before it gives up (a bound on the loop; a
/// shard this large is no use to KEYS anyway).
pub const MAX_WALK_PAGES: usize = 1 << 20;

/// A router's SCAN cursor, taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The shard being walked (1-based).
    pub shard: u32,
    /// Its replica being read, by position among the shard's targets.
    pub replica: usize,
    /// That replica's cursor (0: from the start).
    pub node: u64,
}

impl Cursor {
    /// Parses a client's cursor; `None` if it names no shard of a map with `num_shards`
    /// (a cursor from another map or made up), so the walk starts over.
    pub fn decode(c: u64, num_shards: u32) -> Option<Self> {
        let shard = u32::try_from(c >> 48).ok()? + 1;
        let replica = ((c >> NODE_CURSOR_BITS) & 0xF) as usize;
        let node = c & ((1 << NODE_CURSOR_BITS) - 1);
        (shard <= num_shards).then_some(Self { shard, replica, node })
    }

    /// The client's form; `None` if the node's cursor does not fit.
    pub fn encode(self) -> Option<u64> {
        let fits = self.node < (1 << NODE_CURSOR_BITS)
            && self.replica < MAX_SCAN_REPLICAS
            && (1..=1 << 16).contains(&self.shard);
        let c = (u64::from(self.shard - 1) << 48)
            | ((self.replica as u64) << NODE_CURSOR_BITS)
            | self.node;
        fits.then_some(c)
    }
}

impl Router {
    /// One SCAN step from `cursor`: the next cursor (0: done) and keys of the shard walked.
    pub(super) async fn scan_step(
        &self,
        cursor: u64,
        pattern: Bytes,
        count: usize,
    ) -> Result<(u64, Vec<Bytes>), Failed> {
        let num_shards = self.inner.topology.load().map().num_shards();
        let mut at = match cursor {
            0 => Cursor { shard: 1, replica: 0, node: 0 },
            c => Cursor::decode(c, num_shards).ok_or_else(invalid_cursor)?,
        };
        if at.node == 0 {
            // A shard's start: any replica will do.
            at.replica = usize::MAX;
        }
        let count = u32::try_from(count.clamp(1, MAX_SCAN_COUNT)).unwrap_or(1);
        let req = ScanRequest {
            num_shards,
            shard: at.shard,
            cursor: at.node,
            count,
            random: false,
            pattern,
        };
        let (replica, page) = self.shard_page(at.replica, req).await?;
        let next = match page.next {
            Some(node) => Cursor { shard: at.shard, replica, node },
            None if at.shard < num_shards => Cursor { shard: at.shard + 1, replica: 0, node: 0 },
            None => return Ok((0, page.keys)),
        };
        let next = next.encode().ok_or_else(|| {
            let msg = format!("a replica of shard {} handed out a cursor too large", at.shard);
            Failed::new(Failure::Closed, ErrorReply::new(Status::Internal, msg))
        })?;
        Ok((next, page.keys))
    }

    /// Every key matching `pattern`, each once: each shard walked on one replica, shards
    /// in parallel, their keys concatenated in shard order.
    pub(super) async fn keys_matching(&self, pattern: Bytes) -> Result<Vec<Bytes>, Failed> {
        let num_shards = self.inner.topology.load().map().num_shards();
        let walks = (1..=num_shards).map(|shard| {
            let pattern = pattern.clone();
            async move { self.walk_shard(num_shards, shard, pattern).await }
        });
        let shards: Vec<Result<Vec<Bytes>, Failed>> =
            futures_util::stream::iter(walks).buffered(SHARD_CALLS_AT_ONCE).collect().await;
        let mut out = Vec::new();
        for keys in shards {
            out.extend(keys?);
        }
        Ok(out)
    }

    /// A random key: shards tried in random order, one random key asked of each until one
    /// has any.
    pub(super) async fn random_key(&self) -> Result<Option<Bytes>, Failed> {
        let num_shards = self.inner.topology.load().map().num_shards();
        let mut order: Vec<u32> = (1..=num_shards).collect();
        order.shuffle(&mut rand::thread_rng());
        for shard in order {
            let req = ScanRequest {
                num_shards,
                shard,
                cursor: 0,
                count: 1,
                random: true,
                pattern: Bytes::new(),
            };
            let (_, page) = self.shard_page(usize::MAX, req).await?;
            if let Some(key) = page.keys.into_iter().next() {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// All of one shard's keys matching `pattern`, each once.
    async fn walk_shard(
        &self,
        num_shards: u32,
        shard: u32,
        pattern: Bytes,
    ) -> Result<Vec<Bytes>, Failed> {
        let (mut seen, mut out) = (HashSet::new(), Vec::new());
        let (mut replica, mut cursor) = (usize::MAX, 0);
        for _ in 0..MAX_WALK_PAGES {
            let count = MAX_SCAN_COUNT as u32;
            let req = ScanRequest {
                num_shards,
                shard,
                cursor,
                count,
                random: false,
                pattern: pattern.clone(),
            };
            let (used, page) = self.shard_page(replica, req).await?;
            replica = used;
            out.extend(page.keys.into_iter().filter(|k| seen.insert(k.clone())));
            match page.next {
                Some(next) => cursor = next,
                None => return Ok(out),
            }
        }
        let msg = format!("shard {shard} has more than {MAX_WALK_PAGES} pages of keys");
        Err(Failed::refused(ErrorReply::new(Status::InvalidArgument, msg)))
    }

    /// One page of `req`'s shard from the replica at `replica` (its position among the
    /// shard's targets) if it can serve; otherwise from another caught-up one, starting
    /// the shard over. Returns the replica used and the page.
    async fn shard_page(
        &self,
        replica: usize,
        mut req: ScanRequest,
    ) -> Result<(usize, ScanPage), Failed> {
        let topo = self.inner.topology.load_full();
        let targets = topo.targets_of(req.shard);
        if targets.is_empty() {
            return Err(Failed::new(Failure::NoReplica, no_replicas(req.shard)));
        }
        let t = self.inner.settings.timeouts();
        let deadline = Instant::now() + t.request;
        let mut order: Vec<usize> = (0..targets.len().min(MAX_SCAN_REPLICAS)).collect();
        order.shuffle(&mut rand::thread_rng());
        // The replica the walk is on first; the others in random order, caught up first.
        order.sort_by_key(|&i| (i != replica, !targets[i].readable(req.shard, b"")));
        let mut last: Option<(String, Error)> = None;
        for i in order {
            let b = &targets[i];
            if !b.caught_up(req.shard, b"") {
                continue;
            }
            if i != replica {
                req.cursor = 0;
            }
            let try_deadline = deadline.min(Instant::now() + t.read_try);
            match b.call(req.frame(), try_deadline).await {
                Ok(resp) if resp.status() == Some(Status::Ok) => {
                    let page = ScanPage::decode(resp.payload).ok_or_else(|| {
                        let msg = format!("{} sent a malformed SHARD_SCAN page", b.name());
                        Failed::new(Failure::Closed, ErrorReply::new(Status::Internal, msg))
                    })?;
                    return Ok((i, page));
                }
                Ok(resp) => {
                    let status = resp.status().unwrap_or(Status::Internal);
                    let msg = String::from_utf8_lossy(&resp.payload).into_owned();
                    return Err(Failed::reply(ErrorReply::new(status, msg)));
                }
                Err(e) => last = Some((b.name().to_owned(), e)),
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        let (why, failure) = match last {
            Some((n, e)) => (format!("{n}: {e}"), Failure::of(&e)),
            None => ("none is caught up".to_owned(), Failure::NoReplica),
        };
        let msg = format!("no replica of shard {} could serve ({why})", req.shard);
        Err(Failed::new(failure, ErrorReply::new(Status::Unavailable, msg)))
    }
}

/// A cursor this router never handed out, as Redis words it.
fn invalid_cursor() -> Failed {
    Failed::refused(ErrorReply::invalid("invalid cursor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_what_does_not_fit() {
        let c = Cursor { shard: 7, replica: 2, node: 12_345 };
        assert_eq!(Cursor::decode(c.encode().expect("fits"), 16), Some(c));
        assert_eq!(Cursor::decode(c.encode().expect("fits"), 6), None, "shard 7 of 6");
        let last = Cursor { shard: 65_536, replica: 15, node: (1 << 44) - 1 };
        assert_eq!(Cursor::decode(last.encode().expect("fits"), 65_536), Some(last));
        assert_eq!(Cursor { node: 1 << 44, ..c }.encode(), None);
        assert_eq!(Cursor { replica: 16, ..c }.encode(), None);
        // The first shard's start is 0, Redis's "start" and "done".
        assert_eq!(Cursor { shard: 1, replica: 0, node: 0 }.encode(), Some(0));
    }
}
