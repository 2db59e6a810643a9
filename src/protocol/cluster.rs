//! Payloads of the cluster's internal binary operations (router to node, node to node), sans
//! I/O. Every integer is big-endian; decoders check every length against the bytes present
//! and allocate nothing from a length read off the wire.
//!
//! ```text
//! VSET / VDEL  OK     applied:u8 | clock:u64           (VDEL: applied = a live key went)
//!              STALE  held:u64   | clock:u64           (the key holds a version that wins)
//! NODE_STATUS  OK     format:u8=1 | boot:u64 | clock:u64 | wall_ms:u64 | max_key:u32
//!                     | max_value:u32 | map_hash:u64 | name_len:u16 | name
//!                     | num_shards:u32 | state:u8 x num_shards
//! DIGEST       req    value = shard:u32 [| fresh:u8]   (fresh = 1: no cached digest)
//!              OK     clock:u64 | count:u16 | digest:u64 x count | flushed:u64
//! BUCKET_DUMP  req    ttl_ms = cursor; value = shard:u32 | bucket bitmap (DIGEST_BUCKETS bits)
//!              OK     a dump page (see [`super::dump`])
//! SYNC         req    value = shard:u32
//!              OK     repaired:u64
//! ```
//!
//! `clock` is the node's hybrid logical clock ([`crate::version`]): every reply to a write
//! carries it, so a writer whose clock is behind catches up before its next write.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::Opcode;
use super::binary::RequestFrame;

/// Buckets a shard's keys are hashed into for anti-entropy digests.
pub const DIGEST_BUCKETS: usize = 1024;
/// Bytes of a bucket bitmap.
pub const BUCKET_BITMAP_LEN: usize = DIGEST_BUCKETS / 8;
/// Bytes of a STALE payload.
pub const STALE_LEN: usize = 16;
/// Bytes of a VSET / VDEL OK payload.
pub const ACK_LEN: usize = 9;
/// Longest node name NODE_STATUS carries.
pub const MAX_NODE_NAME: usize = 255;

/// The OK payload of VSET / VDEL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteAck {
    /// The write was applied (VDEL: a live key was removed).
    pub applied: bool,
    /// The node's clock after the write.
    pub clock: u64,
}

impl WriteAck {
    /// The wire form.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(ACK_LEN);
        b.put_u8(u8::from(self.applied));
        b.put_u64(self.clock);
        b.freeze()
    }

    /// Parses the wire form; `None` if it is malformed.
    pub fn decode(mut p: &[u8]) -> Option<Self> {
        if p.len() != ACK_LEN || p[0] > 1 {
            return None;
        }
        let applied = p.get_u8() == 1;
        Some(Self { applied, clock: p.get_u64() })
    }
}

/// The payload of a STALE reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stale {
    /// The version the key holds (it wins over the write's).
    pub held: u64,
    /// The node's clock.
    pub clock: u64,
}

impl Stale {
    /// The wire form.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(STALE_LEN);
        b.put_u64(self.held);
        b.put_u64(self.clock);
        b.freeze()
    }

    /// Parses the wire form; `None` if it is malformed.
    pub fn decode(mut p: &[u8]) -> Option<Self> {
        if p.len() != STALE_LEN {
            return None;
        }
        Some(Self { held: p.get_u64(), clock: p.get_u64() })
    }
}

/// What a node does with one shard, as NODE_STATUS reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum ShardState {
    /// Not in this node's part of the map, and no data of it held.
    #[default]
    NotHosted = 0,
    /// Hosted and serving: holds every write its peers acknowledged.
    Ready = 1,
    /// Hosted, being copied from its peers: takes writes, answers reads NOT_READY.
    Copying = 2,
    /// No longer hosted by the map, but still holding (and serving) the data until every
    /// new replica is ready.
    Retiring = 3,
    /// Hosted, but cut off from its peers for longer than half the tombstone grace: it may
    /// hold deletes' victims, so it serves nothing until it has resynchronised.
    Isolated = 4,
}

impl ShardState {
    /// The state for a wire byte; unknown bytes read as [`ShardState::NotHosted`].
    pub fn from_u8(b: u8) -> Self {
        match b {
            1 => ShardState::Ready,
            2 => ShardState::Copying,
            3 => ShardState::Retiring,
            4 => ShardState::Isolated,
            _ => ShardState::NotHosted,
        }
    }

    /// Whether the node holds data of the shard that others may need (a copy source).
    pub fn holds_data(self) -> bool {
        matches!(self, ShardState::Ready | ShardState::Retiring)
    }

    /// Lower-case name for STATS and logs.
    pub fn name(self) -> &'static str {
        match self {
            ShardState::NotHosted => "not_hosted",
            ShardState::Ready => "ready",
            ShardState::Copying => "copying",
            ShardState::Retiring => "retiring",
            ShardState::Isolated => "isolated",
        }
    }
}

/// A node's NODE_STATUS reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeStatus {
    /// The node's name in the map (`--node`).
    pub name: String,
    /// Random per process start: a change means the node restarted (and lost its data).
    pub boot: u64,
    /// The node's hybrid logical clock.
    pub clock: u64,
    /// The node's wall clock, ms since the Unix epoch (for skew reports).
    pub wall_ms: u64,
    /// The node's key size limit.
    pub max_key: u32,
    /// The node's value size limit.
    pub max_value: u32,
    /// A hash of the map the node applies (0 when it follows none).
    pub map_hash: u64,
    /// `shards[s - 1]`: the node's state for shard `s`.
    pub shards: Vec<ShardState>,
}

const NODE_STATUS_FORMAT: u8 = 1;

impl NodeStatus {
    /// The state of shard `s` (1-based); [`ShardState::NotHosted`] when out of range.
    pub fn shard(&self, s: u32) -> ShardState {
        let i = usize::try_from(s).unwrap_or(0).wrapping_sub(1);
        self.shards.get(i).copied().unwrap_or_default()
    }

    /// The wire form.
    pub fn encode(&self) -> Bytes {
        let name = &self.name.as_bytes()[..self.name.len().min(MAX_NODE_NAME)];
        let mut b = BytesMut::with_capacity(64 + name.len() + self.shards.len());
        b.put_u8(NODE_STATUS_FORMAT);
        b.put_u64(self.boot);
        b.put_u64(self.clock);
        b.put_u64(self.wall_ms);
        b.put_u32(self.max_key);
        b.put_u32(self.max_value);
        b.put_u64(self.map_hash);
        b.put_u16(name.len() as u16);
        b.put_slice(name);
        b.put_u32(u32::try_from(self.shards.len()).unwrap_or(u32::MAX));
        b.extend(self.shards.iter().map(|s| *s as u8));
        b.freeze()
    }

    /// Parses the wire form; `None` if it is malformed.
    pub fn decode(mut p: &[u8]) -> Option<Self> {
        const FIXED: usize = 1 + 8 + 8 + 8 + 4 + 4 + 8 + 2;
        if p.len() < FIXED || p.get_u8() != NODE_STATUS_FORMAT {
            return None;
        }
        let (boot, clock, wall_ms) = (p.get_u64(), p.get_u64(), p.get_u64());
        let (max_key, max_value, map_hash) = (p.get_u32(), p.get_u32(), p.get_u64());
        let name_len = usize::from(p.get_u16());
        if p.len() < name_len + 4 {
            return None;
        }
        let name = String::from_utf8(p[..name_len].to_vec()).ok()?;
        p.advance(name_len);
        let count = p.get_u32() as usize;
        if p.len() != count {
            return None;
        }
        let shards = p.iter().map(|b| ShardState::from_u8(*b)).collect();
        Some(Self { name, boot, clock, wall_ms, max_key, max_value, map_hash, shards })
    }
}

/// A DIGEST reply: one hash per bucket of a shard's keys and versions, and the node's
/// flush floor (the newest versioned flush it applied), so a replica that missed a
/// FLUSHALL learns it from any peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The node's clock.
    pub clock: u64,
    /// `buckets[b]`: the combined hash of bucket `b`'s entries (0 when empty).
    pub buckets: Vec<u64>,
    /// The node's flush floor (0: none); absent from replies of nodes that predate it.
    pub flushed: u64,
}

impl Digest {
    /// The wire form.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(18 + 8 * self.buckets.len());
        b.put_u64(self.clock);
        b.put_u16(u16::try_from(self.buckets.len()).unwrap_or(u16::MAX));
        self.buckets.iter().for_each(|d| b.put_u64(*d));
        b.put_u64(self.flushed);
        b.freeze()
    }

    /// Parses the wire form; `None` if it is malformed or not [`DIGEST_BUCKETS`] long.
    pub fn decode(mut p: &[u8]) -> Option<Self> {
        let plain = 10 + 8 * DIGEST_BUCKETS;
        if p.len() != plain && p.len() != plain + 8 {
            return None;
        }
        let clock = p.get_u64();
        if usize::from(p.get_u16()) != DIGEST_BUCKETS {
            return None;
        }
        let buckets = (0..DIGEST_BUCKETS).map(|_| p.get_u64()).collect();
        let flushed = if p.is_empty() { 0 } else { p.get_u64() };
        Some(Self { clock, buckets, flushed })
    }
}

/// A set of digest buckets (a bitmap of [`DIGEST_BUCKETS`] bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketSet([u64; DIGEST_BUCKETS / 64]);

impl Default for BucketSet {
    fn default() -> Self {
        Self([0; DIGEST_BUCKETS / 64])
    }
}

impl BucketSet {
    /// Every bucket.
    pub fn all() -> Self {
        Self([u64::MAX; DIGEST_BUCKETS / 64])
    }

    /// Adds bucket `b` (ignored when out of range).
    pub fn insert(&mut self, b: usize) {
        if let Some(word) = self.0.get_mut(b / 64) {
            *word |= 1 << (b % 64);
        }
    }

    /// Whether bucket `b` is in the set.
    pub fn contains(&self, b: usize) -> bool {
        self.0.get(b / 64).is_some_and(|w| w & (1 << (b % 64)) != 0)
    }

    /// How many buckets are in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    fn put(&self, b: &mut BytesMut) {
        self.0.iter().for_each(|w| b.put_u64(*w));
    }

    fn get(mut p: &[u8]) -> Option<Self> {
        if p.len() != BUCKET_BITMAP_LEN {
            return None;
        }
        let mut set = Self::default();
        set.0.iter_mut().for_each(|w| *w = p.get_u64());
        Some(set)
    }
}

/// A shard number that an internal request's value starts with; the rest is returned.
fn shard_arg(mut value: &[u8]) -> Option<(u32, &[u8])> {
    (value.len() >= 4).then(|| (value.get_u32(), value))
}

/// Parses a request value that is exactly `shard:u32`.
pub fn parse_shard(value: &[u8]) -> Option<u32> {
    shard_arg(value).filter(|(_, rest)| rest.is_empty()).map(|(s, _)| s)
}

/// Parses a BUCKET_DUMP request value.
pub fn parse_bucket_dump(value: &[u8]) -> Option<(u32, BucketSet)> {
    let (shard, rest) = shard_arg(value)?;
    Some((shard, BucketSet::get(rest)?))
}

fn frame(op: Opcode, ttl_ms: u64, value: Bytes) -> RequestFrame {
    RequestFrame { opcode: op as u8, ttl_ms, value, ..Default::default() }
}

fn shard_value(shard: u32) -> Bytes {
    Bytes::copy_from_slice(&shard.to_be_bytes())
}

/// A NODE_STATUS request.
pub fn node_status_frame() -> RequestFrame {
    frame(Opcode::NodeStatus, 0, Bytes::new())
}

/// A DIGEST request for `shard`; `fresh` asks the node to walk its store now rather than
/// answer from its cache (a SYNC must not miss a write made a second ago).
pub fn digest_frame(shard: u32, fresh: bool) -> RequestFrame {
    let mut v = BytesMut::with_capacity(5);
    v.put_u32(shard);
    v.put_u8(u8::from(fresh));
    frame(Opcode::Digest, 0, v.freeze())
}

/// Parses a DIGEST request value: the shard and whether a fresh digest is wanted.
pub fn parse_digest(value: &[u8]) -> Option<(u32, bool)> {
    let (shard, rest) = shard_arg(value)?;
    match rest {
        [] | [0] => Some((shard, false)),
        [1] => Some((shard, true)),
        _ => None,
    }
}

/// A SYNC request for `shard`.
pub fn sync_frame(shard: u32) -> RequestFrame {
    frame(Opcode::Sync, 0, shard_value(shard))
}

/// A BUCKET_DUMP request: the page at `cursor` of `shard`'s entries in `buckets`; with
/// `ids`, flag [`super::binary::FLAG_RMW_IDS`] asks for each entry's RMW ids after the page
/// (nodes older than it refuse the flag as INVALID).
pub fn bucket_dump_frame(shard: u32, buckets: &BucketSet, cursor: u64, ids: bool) -> RequestFrame {
    let mut v = BytesMut::with_capacity(4 + BUCKET_BITMAP_LEN);
    v.put_u32(shard);
    buckets.put(&mut v);
    let flags = if ids { super::binary::FLAG_RMW_IDS } else { 0 };
    RequestFrame { flags, ..frame(Opcode::BucketDump, cursor, v.freeze()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let ack = WriteAck { applied: true, clock: 42 };
        assert_eq!(WriteAck::decode(&ack.encode()), Some(ack));
        let stale = Stale { held: 7, clock: 9 };
        assert_eq!(Stale::decode(&stale.encode()), Some(stale));
        let status = NodeStatus {
            name: "n1".into(),
            boot: 5,
            clock: 6,
            wall_ms: 7,
            max_key: 8,
            max_value: 9,
            map_hash: 10,
            shards: vec![ShardState::Ready, ShardState::Copying, ShardState::Retiring],
        };
        assert_eq!(NodeStatus::decode(&status.encode()), Some(status.clone()));
        assert_eq!(status.shard(2), ShardState::Copying);
        assert_eq!(status.shard(0), ShardState::NotHosted);
        assert_eq!(status.shard(9), ShardState::NotHosted);
        let digest = Digest { clock: 1, buckets: (0..DIGEST_BUCKETS as u64).collect(), flushed: 9 };
        assert_eq!(Digest::decode(&digest.encode()), Some(digest.clone()));
        let old = digest.encode().slice(..10 + 8 * DIGEST_BUCKETS);
        assert_eq!(Digest::decode(&old).map(|d| d.flushed), Some(0), "an older node's reply");
    }

    #[test]
    fn truncated_payloads_are_refused() {
        let status = NodeStatus {
            name: "node".into(),
            shards: vec![ShardState::Ready; 4],
            ..Default::default()
        };
        let bytes = status.encode();
        for cut in 0..bytes.len() {
            assert_eq!(NodeStatus::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        assert_eq!(WriteAck::decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(Digest::decode(&[0; 10]), None);
    }

    #[test]
    fn bucket_sets_and_requests() {
        let mut set = BucketSet::default();
        set.insert(0);
        set.insert(1023);
        set.insert(5000);
        assert_eq!(set.len(), 2);
        assert!(set.contains(1023) && !set.contains(1));
        let f = bucket_dump_frame(3, &set, 99, false);
        assert_eq!(f.ttl_ms, 99);
        assert_eq!(parse_bucket_dump(&f.value), Some((3, set)));
        assert_eq!(parse_digest(&digest_frame(12, true).value), Some((12, true)));
        assert_eq!(parse_digest(&sync_frame(12).value), Some((12, false)));
        assert_eq!(parse_shard(&sync_frame(12).value), Some(12));
        assert_eq!(parse_shard(&[0, 0, 1]), None);
        assert_eq!(BucketSet::all().len(), DIGEST_BUCKETS);
    }
}
