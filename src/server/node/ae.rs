//! Anti-entropy: one round of one shard with one peer. Compare the two digests, pull the
//! entries of every bucket that differs (BUCKET_DUMP pages) and apply them last-writer-wins,
//! remaining TTLs kept, each with the RMW ids the peer keeps of it. A peer's digest also
//! carries its flush floor: a newer one than this node's is a FLUSHALL this node missed,
//! applied before anything is compared. A round only ever pulls; each replica pulls from
//! every other, so they converge on the newest version of every key. Pulls are paced to
//! [`AE_MAX_BYTES_PER_SEC`], so a full copy cannot saturate the node's network.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use super::Cluster;
use super::digest::{bucket_of, differing, key_hash};
use super::peers::PeerError;
use crate::protocol::Status;
use crate::protocol::cluster::{BucketSet, Digest, bucket_dump_frame, digest_frame};
use crate::protocol::dump::DumpRecord;
use crate::protocol::rmw::decode_page_ids;
use crate::shardmap::ShardMap;
use crate::store::{DumpEntry, Store};

/// Deadline of one digest or one page from a peer.
pub const AE_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes of pages one round pulls per second.
pub const AE_MAX_BYTES_PER_SEC: u64 = 64 * 1024 * 1024;

/// Why a round did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    /// The peer could not be reached or refused.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The store refused an entry (out of memory): the copy would be incomplete.
    #[error("applying a pulled entry: {0}")]
    Apply(String),
}

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundOutcome {
    /// Buckets that differed.
    pub buckets: usize,
    /// Entries applied (newer than what this node held).
    pub applied: u64,
    /// With [`Mode::Full`]: the [`key_hash`] of every key (or tombstone) the peer sent.
    pub seen: HashSet<u64>,
}

/// How a round finds what to pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compare digests, either side's possibly cached for a moment (periodic rounds: a
    /// difference missed now is found next round).
    Periodic,
    /// Compare digests both sides compute now (SYNC: nothing written before it may be
    /// missed).
    Exact,
    /// Pull every bucket (a copy: this replica may hold nothing yet).
    Full,
}

/// One round of `shard` with `peer` of `map`.
pub async fn round(
    c: &Arc<Cluster>,
    map: &ShardMap,
    peer: &str,
    shard: u32,
    mode: Mode,
) -> Result<RoundOutcome, RoundError> {
    let result = pull(c, map, peer, shard, mode).await;
    let stats = &c.node.stats;
    let counter = if result.is_ok() { &stats.ae_rounds } else { &stats.ae_failures };
    counter.fetch_add(1, Ordering::Relaxed);
    result
}

async fn pull(
    c: &Arc<Cluster>,
    map: &ShardMap,
    peer: &str,
    shard: u32,
    mode: Mode,
) -> Result<RoundOutcome, RoundError> {
    let diff = match mode {
        Mode::Full => {
            // Only for the flush floor: a copy takes every bucket.
            their_digest(c, map, peer, shard, false).await?;
            BucketSet::all()
        }
        Mode::Periodic | Mode::Exact => compare(c, map, peer, shard, mode == Mode::Exact).await?,
    };
    if diff.is_empty() {
        return Ok(RoundOutcome::default());
    }
    let mut seen = HashSet::new();
    let keep = (mode == Mode::Full).then_some(&mut seen);
    let applied = pull_buckets(c, map, peer, shard, &diff, keep).await?;
    c.node.invalidate_digests();
    c.node.stats.ae_keys_repaired.fetch_add(applied, Ordering::Relaxed);
    Ok(RoundOutcome { buckets: diff.len(), applied, seen })
}

/// `peer`'s digest of `shard`. A newer flush than this node's it reports is applied here
/// first (this node missed that FLUSHALL), so what it flushed is neither compared nor
/// taken back.
async fn their_digest(
    c: &Arc<Cluster>,
    map: &ShardMap,
    peer: &str,
    shard: u32,
    fresh: bool,
) -> Result<Digest, RoundError> {
    let resp = c.peers.call(map, peer, digest_frame(shard, fresh), AE_CALL_TIMEOUT).await?;
    let malformed = || PeerError::Malformed { peer: peer.to_owned(), what: "DIGEST" };
    let theirs = Digest::decode(&resp.payload).ok_or_else(malformed)?;
    observe_clock(&c.store, theirs.clock);
    if theirs.flushed > c.store.flush_floor() {
        let (store, flushed) = (c.store.clone(), theirs.flushed);
        let dropped =
            tokio::task::spawn_blocking(move || store.flush_versioned(flushed)).await.unwrap_or(0);
        c.node.invalidate_digests();
        info!(node = c.node.name(), peer, flushed, dropped, "applied a flush this node missed");
    }
    Ok(theirs)
}

/// The buckets where this node's digest of `shard` and `peer`'s differ.
async fn compare(
    c: &Arc<Cluster>,
    map: &ShardMap,
    peer: &str,
    shard: u32,
    fresh: bool,
) -> Result<BucketSet, RoundError> {
    let theirs = their_digest(c, map, peer, shard, fresh).await?;
    let c = c.clone();
    let mine = tokio::task::spawn_blocking(move || c.node.digest(&c.store, shard, fresh))
        .await
        .unwrap_or_default();
    Ok(differing(&mine, &theirs.buckets))
}

/// Pages through the peer's entries of `buckets`, applying each with the RMW ids the peer
/// keeps of it (a peer older than ids in pages refuses the flag: it is asked without).
/// Returns entries applied.
async fn pull_buckets(
    c: &Cluster,
    map: &ShardMap,
    peer: &str,
    shard: u32,
    buckets: &BucketSet,
    mut seen: Option<&mut HashSet<u64>>,
) -> Result<u64, RoundError> {
    let (node, store) = (&c.node, &c.store);
    let (started, mut bytes, mut cursor, mut applied) = (Instant::now(), 0u64, 0u64, 0u64);
    let mut ids = true;
    loop {
        let (payload, with_ids) = page_of(c, map, peer, shard, buckets, cursor, ids).await?;
        ids = with_ids;
        bytes += payload.len() as u64;
        node.stats.ae_bytes_pulled.fetch_add(payload.len() as u64, Ordering::Relaxed);
        let malformed = || PeerError::Malformed { peer: peer.to_owned(), what: "BUCKET_DUMP" };
        let (page, page_ids) = decode_page_ids(payload).ok_or_else(malformed)?;
        for (record, ids) in page.records.iter().zip(&page_ids) {
            // A record outside the asked shard and buckets is a confused peer: skip it.
            if map.shard_for_key(&record.key) != shard || !buckets.contains(bucket_of(&record.key))
            {
                continue;
            }
            if let Some(seen) = seen.as_deref_mut() {
                seen.insert(key_hash(&record.key));
            }
            // After a takeover from a crashed peer, RMWs compute over exactly what they
            // read: the apply holds the shard's window (and first the key's stripe, if ids).
            match node.pulled_write(shard, &record.key, ids, || store.try_apply(&to_entry(record)))
            {
                Ok(true) => applied += 1,
                Ok(false) => {}
                Err(e) => return Err(RoundError::Apply(e.to_string())),
            }
        }
        let Some(next) = page.next else { return Ok(applied) };
        cursor = next;
        pace(started, bytes).await;
    }
}

/// One BUCKET_DUMP page's payload, asking for ids if `ids`; and whether it was asked so
/// (a peer that refuses the flag as INVALID is asked again without it).
async fn page_of(
    c: &Cluster,
    map: &ShardMap,
    peer: &str,
    shard: u32,
    buckets: &BucketSet,
    cursor: u64,
    ids: bool,
) -> Result<(bytes::Bytes, bool), RoundError> {
    let ask = |ids| {
        c.peers.call(map, peer, bucket_dump_frame(shard, buckets, cursor, ids), AE_CALL_TIMEOUT)
    };
    match ask(ids).await {
        Ok(resp) => Ok((resp.payload, ids)),
        Err(PeerError::Refused { status: Status::InvalidArgument, .. }) if ids => {
            Ok((ask(false).await?.payload, false))
        }
        Err(e) => Err(e.into()),
    }
}

/// Sleeps as long as needed to keep `bytes` since `started` under the rate limit.
async fn pace(started: Instant, bytes: u64) {
    let allowed = Duration::from_secs_f64(bytes as f64 / AE_MAX_BYTES_PER_SEC as f64);
    if let Some(wait) = allowed.checked_sub(started.elapsed()) {
        tokio::time::sleep(wait).await;
    }
}

/// Merges a peer's clock into this node's, unless it is absurdly far ahead (the peer's
/// clock is wrong; following it would drag every later version along).
pub fn observe_clock(store: &Store, clock: u64) {
    if crate::version::within_skew(clock) {
        store.hlc().observe(clock);
    }
}

/// A dump record as a store entry.
pub fn to_entry(r: &DumpRecord) -> DumpEntry {
    DumpEntry {
        key: r.key.clone(),
        value: r.value.clone(),
        ttl: (r.ttl_ms > 0).then(|| Duration::from_millis(r.ttl_ms)),
        version: r.version,
    }
}

/// The wire form of a store entry.
pub fn to_record(e: DumpEntry) -> DumpRecord {
    let ttl_ms = e.ttl.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1));
    DumpRecord { key: e.key, value: e.value, ttl_ms, version: e.version }
}
