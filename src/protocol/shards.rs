//! Payloads of the operations a router sends to run a keyspace command over every shard,
//! sans I/O: a versioned flush (VFLUSH), per-shard key counts (SHARD_COUNT) and a page of
//! one shard's keys (SHARD_SCAN). Every integer is big-endian; decoders check every length
//! against the bytes present and allocate nothing from a length read off the wire.
//!
//! ```text
//! VFLUSH       req    value = version:u64
//!              OK     applied:u8 | clock:u64        (applied: the flush was newer)
//! SHARD_COUNT  req    value = num_shards:u32 | shard:u32 x n
//!              OK     n:u32 | (keys:u64 | expires:u64 | ttl_sum_ms:u64) x n
//! SHARD_SCAN   req    ttl_ms = cursor (0: the start); value = num_shards:u32 | shard:u32
//!                     | count:u32 | random:u8 | pattern (the rest; empty: every key)
//!              OK     next:u64 (0: done) | n:u32 | (key_len:u16 | key) x n
//! ```
//!
//! `num_shards` is the router's map's: a cluster node refuses a request whose shard count
//! is not its own map's, and a plain server uses it to tell which keys are the shard's.
//! SHARD_SCAN's cursor is only meaningful to the node that issued it, and is at most
//! [`MAX_SCAN_CURSOR`]; `random = 1` starts at a random place (a random key).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::Opcode;
use super::binary::RequestFrame;

/// Most shards one SHARD_COUNT asks about (the largest map's shard count).
pub const MAX_COUNT_SHARDS: usize = 65_536;
/// Largest SHARD_SCAN cursor a node hands out (44 bits, so a router's SCAN cursor also
/// holds the shard and the replica; a store of more than 4096 stripes cannot be walked).
pub const MAX_SCAN_CURSOR: u64 = (1 << 44) - 1;
/// Bytes of one shard's counts in a SHARD_COUNT reply.
pub const COUNT_LEN: usize = 24;
/// Bytes of a VFLUSH reply: applied:u8 | clock:u64.
pub const VFLUSH_ACK_LEN: usize = 9;
/// Bytes of a SHARD_SCAN reply before its keys: next:u64 | n:u32.
pub const SCAN_PAGE_HEAD: usize = 12;
/// Most keys one SHARD_SCAN page holds (a larger COUNT is clamped to it).
pub const MAX_SCAN_COUNT: usize = 1024;
/// Key and value bytes a node reads for one SHARD_SCAN page before it stops (the page
/// carries only the keys; at least one key always comes, so a walk progresses).
pub const SCAN_PAGE_BYTES: usize = 512 * 1024;

/// The live keys of one shard, as SHARD_COUNT reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCount {
    /// Unexpired keys (tombstones are not keys).
    pub keys: u64,
    /// Those with a time to live.
    pub expires: u64,
    /// Their times to live added up, in milliseconds.
    pub ttl_sum_ms: u64,
}

impl KeyCount {
    /// Counts one key with `ttl_ms` left (`None`: no expiry).
    pub fn count(&mut self, ttl_ms: Option<u64>) {
        self.keys += 1;
        if let Some(ms) = ttl_ms {
            self.expires += 1;
            self.ttl_sum_ms = self.ttl_sum_ms.saturating_add(ms);
        }
    }

    /// Adds `other` in.
    pub fn add(&mut self, other: &KeyCount) {
        self.keys = self.keys.saturating_add(other.keys);
        self.expires = self.expires.saturating_add(other.expires);
        self.ttl_sum_ms = self.ttl_sum_ms.saturating_add(other.ttl_sum_ms);
    }

    /// The mean time to live of the keys that have one, in milliseconds (0: none).
    pub fn avg_ttl_ms(&self) -> u64 {
        self.ttl_sum_ms.checked_div(self.expires).unwrap_or(0)
    }
}

fn frame(op: Opcode, ttl_ms: u64, value: Bytes) -> RequestFrame {
    RequestFrame { opcode: op as u8, ttl_ms, value, ..Default::default() }
}

/// A VFLUSH request: flush everything at or below `version`.
pub fn vflush_frame(version: u64) -> RequestFrame {
    frame(Opcode::VFlush, 0, Bytes::copy_from_slice(&version.to_be_bytes()))
}

/// A SHARD_COUNT request or its text form's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRequest {
    /// The shard count of the asker's map.
    pub num_shards: u32,
    /// The shards whose keys are counted.
    pub shards: Vec<u32>,
}

impl CountRequest {
    /// The request frame.
    pub fn frame(&self) -> RequestFrame {
        let mut v = BytesMut::with_capacity(4 + 4 * self.shards.len());
        v.put_u32(self.num_shards);
        self.shards.iter().for_each(|s| v.put_u32(*s));
        frame(Opcode::ShardCount, 0, v.freeze())
    }

    /// Parses a request value; `None` if it is malformed.
    pub fn decode(mut p: &[u8]) -> Option<Self> {
        if p.len() < 8 || p.len() % 4 != 0 || p.len() / 4 - 1 > MAX_COUNT_SHARDS {
            return None;
        }
        let num_shards = p.get_u32();
        let shards = (0..p.len() / 4).map(|_| p.get_u32()).collect();
        Some(Self { num_shards, shards })
    }
}

/// Encodes a SHARD_COUNT reply.
pub fn encode_counts(counts: &[KeyCount]) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + COUNT_LEN * counts.len());
    b.put_u32(u32::try_from(counts.len()).unwrap_or(u32::MAX));
    for c in counts {
        b.put_u64(c.keys);
        b.put_u64(c.expires);
        b.put_u64(c.ttl_sum_ms);
    }
    b.freeze()
}

/// Decodes a SHARD_COUNT reply; `None` if it is malformed.
pub fn decode_counts(mut p: &[u8]) -> Option<Vec<KeyCount>> {
    if p.len() < 4 {
        return None;
    }
    let n = p.get_u32() as usize;
    if p.len() != n.checked_mul(COUNT_LEN)? {
        return None;
    }
    let one = |p: &mut &[u8]| KeyCount {
        keys: p.get_u64(),
        expires: p.get_u64(),
        ttl_sum_ms: p.get_u64(),
    };
    Some((0..n).map(|_| one(&mut p)).collect())
}

/// A SHARD_SCAN request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    /// The shard count of the asker's map.
    pub num_shards: u32,
    /// The shard walked.
    pub shard: u32,
    /// Where to go on (0: the start).
    pub cursor: u64,
    /// Most keys wanted.
    pub count: u32,
    /// Start at a random place instead of `cursor`.
    pub random: bool,
    /// Only keys matching this glob (empty: every key).
    pub pattern: Bytes,
}

impl ScanRequest {
    /// The request frame.
    pub fn frame(&self) -> RequestFrame {
        let mut v = BytesMut::with_capacity(13 + self.pattern.len());
        v.put_u32(self.num_shards);
        v.put_u32(self.shard);
        v.put_u32(self.count);
        v.put_u8(u8::from(self.random));
        v.put_slice(&self.pattern);
        frame(Opcode::ShardScan, self.cursor, v.freeze())
    }

    /// Parses a request's cursor and value; `None` if it is malformed.
    pub fn decode(cursor: u64, mut value: Bytes) -> Option<Self> {
        if value.len() < 13 || value[12] > 1 {
            return None;
        }
        let (num_shards, shard, count) = (value.get_u32(), value.get_u32(), value.get_u32());
        let random = value.get_u8() == 1;
        Some(Self { num_shards, shard, cursor, count, random, pattern: value })
    }
}

/// A SHARD_SCAN reply: keys and where to go on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanPage {
    /// The next cursor, or `None` when the shard has been walked.
    pub next: Option<u64>,
    /// Keys of the shard (a key may come again in a later page).
    pub keys: Vec<Bytes>,
}

impl ScanPage {
    /// The wire form.
    pub fn encode(&self) -> Bytes {
        let len = SCAN_PAGE_HEAD + self.keys.iter().map(|k| 2 + k.len()).sum::<usize>();
        let mut b = BytesMut::with_capacity(len);
        b.put_u64(self.next.unwrap_or(0));
        b.put_u32(u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
        for k in &self.keys {
            b.put_u16(u16::try_from(k.len()).unwrap_or(u16::MAX));
            b.put_slice(k);
        }
        b.freeze()
    }

    /// Parses the wire form; `None` if it is malformed.
    pub fn decode(mut p: Bytes) -> Option<Self> {
        if p.len() < SCAN_PAGE_HEAD {
            return None;
        }
        let next = Some(p.get_u64()).filter(|c| *c != 0);
        let n = p.get_u32() as usize;
        let mut keys = Vec::with_capacity(n.min(p.len() / 2));
        for _ in 0..n {
            if p.len() < 2 {
                return None;
            }
            let len = usize::from(p.get_u16());
            if p.len() < len {
                return None;
            }
            keys.push(p.split_to(len));
        }
        p.is_empty().then_some(Self { next, keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let req = CountRequest { num_shards: 16, shards: vec![1, 7, 16] };
        assert_eq!(CountRequest::decode(&req.frame().value), Some(req));
        assert_eq!(CountRequest::decode(&[0, 0, 0, 16]), None, "no shard");
        let mut one = KeyCount::default();
        one.count(Some(900));
        one.count(None);
        assert_eq!((one.keys, one.expires, one.avg_ttl_ms()), (2, 1, 900));
        let counts = vec![one, KeyCount::default()];
        assert_eq!(decode_counts(&encode_counts(&counts)), Some(counts));
        assert_eq!(decode_counts(&[0, 0, 0, 9]), None, "nine counts promised, none there");
        let scan = ScanRequest {
            num_shards: 16,
            shard: 3,
            cursor: 77,
            count: 10,
            random: true,
            pattern: Bytes::from_static(b"user:*"),
        };
        let f = scan.frame();
        assert_eq!(ScanRequest::decode(f.ttl_ms, f.value), Some(scan));
        let page = ScanPage { next: Some(5), keys: vec![Bytes::from_static(b"a"), Bytes::new()] };
        assert_eq!(ScanPage::decode(page.encode()), Some(page.clone()));
        let done = ScanPage { next: None, ..page };
        assert_eq!(ScanPage::decode(done.encode()).and_then(|p| p.next), None);
    }

    #[test]
    fn truncated_pages_are_refused() {
        let page = ScanPage { next: Some(1), keys: vec![Bytes::from_static(b"key")] }.encode();
        for cut in 0..page.len() {
            assert_eq!(ScanPage::decode(page.slice(..cut)), None, "cut at {cut}");
        }
        let mut long = BytesMut::from(&page[..]);
        long.put_u8(0);
        assert_eq!(ScanPage::decode(long.freeze()), None, "trailing bytes");
    }
}
