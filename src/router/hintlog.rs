//! The bytes of one node's queued hints. Keys and values are appended to chunks of
//! [`CHUNK_BYTES`] in queue order and a chunk is freed whole once its last hint is taken,
//! so after an outage is replayed the memory goes back to the allocator as large blocks it
//! returns to the system (per-hint allocations left fragments it kept: the router's RSS
//! stayed up after replay). The cap on hint bytes counts these chunks: real bytes.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::time::Instant;

use crate::protocol::rmw::MAX_RMW_IDS;

/// Bytes of one chunk of hint data (a bigger key + value gets a chunk of its own size).
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// A queued hint's metadata; its key and value live in a chunk.
#[derive(Debug, Clone, Copy)]
struct Entry {
    shard: u32,
    /// RMW ids stored after the value (an outcome's; at most `MAX_RMW_IDS`).
    ids: u8,
    version: u64,
    expires: Option<Instant>,
    queued: Instant,
    /// Sequence number of the chunk holding the bytes.
    chunk: u64,
    at: usize,
    key_len: usize,
    /// `None` for a delete.
    value_len: Option<usize>,
}

/// A write a node missed, as taken out of the log (owning copies of its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// Shard of the key.
    pub shard: u32,
    /// The key.
    pub key: Bytes,
    /// The value, or `None` for a delete.
    pub value: Option<Bytes>,
    /// When the value expires, if it does.
    pub expires: Option<Instant>,
    /// The write's version.
    pub version: u64,
    /// When the write is a read-modify-write's outcome: the ids of the commands whose
    /// effect it holds, replayed with it.
    pub ids: Vec<u64>,
    /// When it was queued.
    pub queued: Instant,
}

/// The queue of one node's hints, oldest first.
#[derive(Debug, Default)]
pub struct HintLog {
    entries: VecDeque<Entry>,
    chunks: VecDeque<(Vec<u8>, usize)>,
    /// Sequence number of `chunks[0]`.
    first: u64,
}

impl HintLog {
    /// Hints queued.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no hint is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held: every chunk's capacity and every entry's slot.
    pub fn bytes(&self) -> usize {
        let chunks: usize = self.chunks.iter().map(|(c, _)| c.capacity()).sum();
        chunks + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// Bytes `key`, `value` and `ids` would add (a new chunk, if they do not fit the last
    /// one).
    pub fn cost(&self, key: &[u8], value: Option<&[u8]>, ids: &[u64]) -> usize {
        let len = key.len() + value.map_or(0, <[u8]>::len) + 8 * ids.len();
        let fits = self.chunks.back().is_some_and(|(c, _)| c.capacity() - c.len() >= len);
        std::mem::size_of::<Entry>() + if fits { 0 } else { len.max(CHUNK_BYTES) }
    }

    /// Appends a hint (of at most [`MAX_RMW_IDS`] `ids`, the newest kept).
    pub fn push(
        &mut self,
        shard: u32,
        (key, value, ids): (&[u8], Option<&[u8]>, &[u64]),
        expires: Option<Instant>,
        version: u64,
    ) {
        let ids = &ids[ids.len().saturating_sub(MAX_RMW_IDS)..];
        let len = key.len() + value.map_or(0, <[u8]>::len) + 8 * ids.len();
        if self.chunks.back().is_none_or(|(c, _)| c.capacity() - c.len() < len) {
            self.chunks.push_back((Vec::with_capacity(len.max(CHUNK_BYTES)), 0));
        }
        let chunk = self.first + self.chunks.len() as u64 - 1;
        let Some((buf, live)) = self.chunks.back_mut() else { return };
        let at = buf.len();
        buf.extend_from_slice(key);
        buf.extend_from_slice(value.unwrap_or_default());
        for id in ids {
            buf.extend_from_slice(&id.to_be_bytes());
        }
        *live += 1;
        let value_len = value.map(<[u8]>::len);
        let queued = Instant::now();
        self.entries.push_back(Entry {
            shard,
            ids: ids.len() as u8,
            version,
            expires,
            queued,
            chunk,
            at,
            key_len: key.len(),
            value_len,
        });
    }

    /// Takes the oldest hint, freeing its chunk when it was the chunk's last.
    pub fn pop(&mut self) -> Option<Hint> {
        let e = self.entries.pop_front()?;
        let i = usize::try_from(e.chunk - self.first).ok()?;
        let (buf, live) = self.chunks.get_mut(i)?;
        let key = Bytes::copy_from_slice(&buf[e.at..e.at + e.key_len]);
        let value = e.value_len.map(|n| {
            let start = e.at + e.key_len;
            Bytes::copy_from_slice(&buf[start..start + n])
        });
        let ids_at = e.at + e.key_len + e.value_len.unwrap_or(0);
        let ids = buf[ids_at..ids_at + 8 * usize::from(e.ids)]
            .chunks_exact(8)
            .map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect();
        *live -= 1;
        // Chunks empty out in queue order: free every leading one with no hint left, but
        // keep the last (it is still being filled).
        while self.chunks.len() > 1 && self.chunks.front().is_some_and(|(_, live)| *live == 0) {
            self.chunks.pop_front();
            self.first += 1;
        }
        if self.entries.is_empty() {
            self.chunks.clear();
            self.first += 1;
            self.entries.shrink_to_fit();
        } else if self.entries.capacity() > 1024 && self.entries.len() < self.entries.capacity() / 4
        {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        Some(Hint {
            shard: e.shard,
            key,
            value,
            expires: e.expires,
            version: e.version,
            ids,
            queued: e.queued,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_come_back_in_order_and_chunks_are_freed() {
        let mut log = HintLog::default();
        let value = vec![7u8; 1000];
        for i in 0..5000u32 {
            let ids = [u64::from(i) + 1];
            let ids = if i % 5 == 0 { &ids[..] } else { &[] };
            let key = format!("k{i}");
            log.push(
                i % 4,
                (key.as_bytes(), (i % 3 != 0).then_some(&value[..]), ids),
                None,
                u64::from(i),
            );
        }
        assert!(log.bytes() >= 4 * CHUNK_BYTES, "about 5 MB in chunks: {}", log.bytes());
        for i in 0..5000u32 {
            let t = log.pop().expect("a hint");
            assert_eq!((t.shard, t.version), (i % 4, u64::from(i)));
            assert_eq!(t.key, format!("k{i}").as_bytes());
            assert_eq!(t.value.is_some(), i % 3 != 0);
            assert_eq!(t.ids, if i % 5 == 0 { vec![u64::from(i) + 1] } else { vec![] });
            if i == 2500 {
                assert!(log.bytes() < 4 * CHUNK_BYTES, "taken chunks freed: {}", log.bytes());
            }
        }
        assert!(log.pop().is_none());
        assert_eq!(log.bytes(), 0, "everything given back");
    }

    #[test]
    fn a_value_bigger_than_a_chunk_gets_its_own() {
        let mut log = HintLog::default();
        let big = vec![1u8; 3 * CHUNK_BYTES];
        log.push(1, (b"small", Some(b"v"), &[]), None, 1);
        log.push(1, (b"big", Some(&big), &[]), None, 2);
        log.push(1, (b"after", None, &[]), None, 3);
        assert_eq!(log.pop().map(|t| t.key), Some(Bytes::from_static(b"small")));
        assert_eq!(log.pop().and_then(|t| t.value).map(|v| v.len()), Some(big.len()));
        assert_eq!(log.pop().map(|t| t.value), Some(None));
    }
}
