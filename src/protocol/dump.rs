//! The payload of a SHARD_DUMP reply: one page of a shard's entries (values and
//! tombstones) with their versions and remaining TTLs, and the cursor of the next page.
//!
//! ```text
//! page  = more:u8 | next_cursor:u64 | count:u32 | entry{count}
//! entry = kind:u8 (0 value, 1 tombstone) | version:u64 | ttl_ms:u64 (0 = none)
//!         | key_len:u16 | key | value_len:u32 | value
//! ```
//!
//! Decoding trusts nothing: `count` and lengths are checked against the bytes present and
//! nothing is reserved from them.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::binary::FrameError;

/// Most entries in one page.
pub const DUMP_PAGE_MAX_ITEMS: usize = 1024;
/// Page size in payload bytes past which no further entry is added (one entry may exceed it).
pub const DUMP_PAGE_MAX_BYTES: usize = 512 * 1024;
/// Bytes of a page header.
pub const PAGE_HEADER_LEN: usize = 1 + 8 + 4;
/// Bytes of an entry without its key and value.
pub const ENTRY_HEADER_LEN: usize = 1 + 8 + 8 + 2 + 4;

/// One dumped entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpRecord {
    /// The key.
    pub key: Bytes,
    /// The value, or `None` for a tombstone.
    pub value: Option<Bytes>,
    /// Remaining time to live in ms (0 = none).
    pub ttl_ms: u64,
    /// Last-writer-wins version.
    pub version: u64,
}

impl DumpRecord {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        ENTRY_HEADER_LEN + self.key.len() + self.value.as_ref().map_or(0, Bytes::len)
    }
}

/// A decoded page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DumpPage {
    /// The entries.
    pub records: Vec<DumpRecord>,
    /// Where the next page starts, or `None` when this was the last page.
    pub next: Option<u64>,
}

/// Encodes a page.
pub fn encode_page(page: &DumpPage) -> Bytes {
    let len = PAGE_HEADER_LEN + page.records.iter().map(DumpRecord::encoded_len).sum::<usize>();
    let mut out = BytesMut::with_capacity(len);
    out.put_u8(u8::from(page.next.is_some()));
    out.put_u64(page.next.unwrap_or(0));
    out.put_u32(u32::try_from(page.records.len()).unwrap_or(u32::MAX));
    for r in &page.records {
        out.put_u8(u8::from(r.value.is_none()));
        out.put_u64(r.version);
        out.put_u64(r.ttl_ms);
        out.put_u16(u16::try_from(r.key.len()).unwrap_or(u16::MAX));
        out.put_slice(&r.key);
        let value = r.value.as_deref().unwrap_or_default();
        out.put_u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        out.put_slice(value);
    }
    out.freeze()
}

/// Decodes a page, rejecting truncated or inconsistent payloads.
pub fn decode_page(p: Bytes) -> Result<DumpPage, FrameError> {
    let (page, rest) = decode_page_prefix(p)?;
    if !rest.is_empty() {
        return Err(FrameError::Short { id: 0, len: rest.len(), need: 0 });
    }
    Ok(page)
}

/// Decodes a page at the front of `p`; returns it and the bytes after it.
pub fn decode_page_prefix(mut p: Bytes) -> Result<(DumpPage, Bytes), FrameError> {
    let short = |len: usize, need: usize| FrameError::Short { id: 0, len, need };
    if p.len() < PAGE_HEADER_LEN {
        return Err(short(p.len(), PAGE_HEADER_LEN));
    }
    let more = p.get_u8() != 0;
    let next = p.get_u64();
    let count = p.get_u32() as usize;
    let mut records = Vec::with_capacity(count.min(DUMP_PAGE_MAX_ITEMS));
    for _ in 0..count {
        if p.len() < ENTRY_HEADER_LEN - 4 {
            return Err(short(p.len(), ENTRY_HEADER_LEN));
        }
        let tombstone = p.get_u8() != 0;
        let version = p.get_u64();
        let ttl_ms = p.get_u64();
        let key_len = usize::from(p.get_u16());
        if p.len() < key_len + 4 {
            return Err(short(p.len(), key_len + 4));
        }
        let key = p.split_to(key_len);
        let value_len = p.get_u32() as usize;
        if p.len() < value_len {
            return Err(short(p.len(), value_len));
        }
        let value = p.split_to(value_len);
        records.push(DumpRecord { key, value: (!tombstone).then_some(value), ttl_ms, version });
    }
    Ok((DumpPage { records, next: more.then_some(next) }, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> DumpPage {
        let r = |k: &'static str, v: Option<&'static str>, ttl_ms, version| DumpRecord {
            key: Bytes::from_static(k.as_bytes()),
            value: v.map(|v| Bytes::from_static(v.as_bytes())),
            ttl_ms,
            version,
        };
        DumpPage { records: vec![r("a", Some("1"), 0, 5), r("b", None, 30_000, 9)], next: Some(77) }
    }

    #[test]
    fn pages_round_trip() {
        for p in [page(), DumpPage::default()] {
            assert_eq!(decode_page(encode_page(&p)), Ok(p));
        }
    }

    #[test]
    fn truncated_or_padded_pages_are_rejected() {
        let bytes = encode_page(&page());
        for cut in 0..bytes.len() {
            assert!(decode_page(bytes.slice(..cut)).is_err(), "cut at {cut}");
        }
        let mut padded = BytesMut::from(&bytes[..]);
        padded.put_u8(0);
        assert!(decode_page(padded.freeze()).is_err());
    }

    #[test]
    fn huge_count_does_not_allocate() {
        let mut b = BytesMut::new();
        b.put_u8(0);
        b.put_u64(0);
        b.put_u32(u32::MAX);
        assert!(decode_page(b.freeze()).is_err());
    }
}
