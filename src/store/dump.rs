//! Paging through the store's keys and tombstones ([`Store::dump_page`]) and dropping a
//! subset of them ([`Store::remove_matching`]), both in bounded chunks per lock hold.
//!
//! # Cursor
//!
//! ```text
//!  63          48 47                 32 31                              0
//! +--------------+---------------------+---------------------------------+
//! | 0 (16 bits)  | shard index (16)    | top (32): every index >= top of |
//! |              |                     | this shard has been visited     |
//! +--------------+---------------------+---------------------------------+
//! ```
//!
//! Each shard is scanned from its last entry downwards, `top` being where the scan resumes
//! (`top - 1` is visited next). A shard not yet started has `top = u32::MAX`, which the scan
//! clamps to the shard's length (a shard never holds more than `u32::MAX - 1` entries). The
//! cursor `0` means "start" (shard 0 from the top); no cursor handed out is `0`, because a
//! finished shard moves on to the next one. A cursor whose shard index is out of range ends
//! the dump. Cursors are only meaningful for the `Store` that issued them.
//!
//! Why downwards: entries move only when `swap_remove` moves the last entry into a freed
//! lower slot, so entries not yet visited always stay below `top` and no entry that exists for
//! the whole dump is skipped, however many inserts and deletes happen between pages, with no
//! restarts and no unbounded lock holds. An entry that was visited and then moved down by a
//! removal is emitted again: consumers apply pages last-writer-wins, so duplicates are
//! harmless. Entries added during the dump may or may not appear.

use bytes::Bytes;
use std::time::Duration;

use super::entry::EntryRef;
use super::slab::Garbage;
use super::{DumpEntry, Store};

/// Entries scanned per lock hold by [`Store::dump_page`] and [`Store::remove_matching`]
/// (a few microseconds of work).
pub const SCAN_CHUNK: usize = 256;

/// Entries one [`Store::dump_page`] call scans (over many lock holds) before it returns, even
/// with a short or empty page, so a filter matching few keys cannot make one call walk the
/// whole store.
pub const DUMP_SCAN_MAX: usize = 64 * 1024;

/// The `top` of a shard whose scan has not started: clamps to the shard's length.
pub(super) const FROM_END: usize = u32::MAX as usize;

pub(super) fn encode(shard: usize, top: usize) -> u64 {
    ((shard as u64) << 32) | top.min(FROM_END) as u64
}

pub(super) fn decode(cursor: u64) -> (usize, usize) {
    if cursor == 0 {
        return (0, FROM_END);
    }
    let shard = usize::try_from(cursor >> 32).unwrap_or(usize::MAX);
    (shard, (cursor & u64::from(u32::MAX)) as usize)
}

/// A page being filled under the caller's limits.
struct Page<'a> {
    out: Vec<DumpEntry>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
    filter: &'a dyn Fn(&[u8]) -> bool,
    /// An entry did not fit: it opens the next page.
    stopped: bool,
}

impl Page<'_> {
    fn is_full(&self) -> bool {
        self.stopped || self.out.len() >= self.max_items
    }

    /// Takes `e` if it belongs in the dump (unexpired, passes the filter). `false` if it
    /// belongs but the page is full: the scan stops and `e` opens the next page. A page always
    /// takes at least one entry, however big, so paging progresses.
    fn offer(&mut self, e: EntryRef<'_>, now: u64) -> bool {
        if e.is_expired(now) || !(self.filter)(e.key()) {
            return true;
        }
        let size = e.key().len() + e.value_len();
        let fits =
            self.out.len() < self.max_items && self.bytes.saturating_add(size) <= self.max_bytes;
        if !fits && !self.out.is_empty() {
            self.stopped = true;
            return false;
        }
        self.bytes = self.bytes.saturating_add(size);
        self.out.push(entry_of(e, now));
        true
    }
}

/// The unexpired entry `e` as a [`DumpEntry`]: key, value (none for a tombstone), time
/// left at `now`, version.
pub(super) fn entry_of(e: EntryRef<'_>, now: u64) -> DumpEntry {
    DumpEntry {
        key: Bytes::copy_from_slice(e.key()),
        value: (!e.is_tombstone()).then(|| e.value()),
        ttl: match e.expires_at() {
            0 => None,
            // Unexpired means now < at.
            at => Some(Duration::from_nanos(at.saturating_sub(now))),
        },
        version: e.version(),
    }
}

impl Store {
    /// One page of a dump of every unexpired key and tombstone whose key passes `filter`,
    /// starting at `cursor` (`0` = the beginning). Returns the page and the cursor of the
    /// next one, or `None` when the dump is complete.
    ///
    /// A page holds at most `max_items` entries (at least 1) and stops before key + value
    /// bytes would exceed `max_bytes` (but always holds at least one entry if any remain). It
    /// may be short or even empty with `Some` cursor: one call scans at most
    /// [`DUMP_SCAN_MAX`] entries, [`SCAN_CHUNK`] per lock hold. Every entry that exists from
    /// the first page to the last is returned at least once; entries may repeat (see the
    /// module docs). `filter` runs under a shard lock, so it must be cheap and must not call
    /// back into the store.
    pub fn dump_page(
        &self,
        cursor: u64,
        max_items: usize,
        max_bytes: usize,
        filter: &dyn Fn(&[u8]) -> bool,
    ) -> (Vec<DumpEntry>, Option<u64>) {
        let (mut shard, mut top) = decode(cursor);
        let max_items = max_items.max(1);
        let mut page =
            Page { out: Vec::new(), bytes: 0, max_items, max_bytes, filter, stopped: false };
        let mut scanned = 0;
        while let Some(slot) = self.slots.get(shard) {
            if page.is_full() || scanned >= DUMP_SCAN_MAX {
                return (page.out, Some(encode(shard, top)));
            }
            // Count every look and every lock hold, so empty shards cost something too.
            scanned += 1;
            top = {
                let s = slot.0.lock();
                let now = self.clock.now();
                s.scan_down(top, SCAN_CHUNK, |e| {
                    scanned += 1;
                    page.offer(e, now)
                })
            };
            if top == 0 {
                shard += 1;
                top = FROM_END;
            }
        }
        (page.out, None)
    }

    /// A cursor for [`Store::dump_page`] at a random place in the store (a random stripe, a
    /// random entry of it): where a random key is looked for. A dump from it runs to the
    /// end of the store, not round to where it began.
    pub fn random_cursor(&self) -> u64 {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let shard = rng.gen_range(0..self.slots.len());
        let len = self.slots[shard].0.lock().len();
        encode(shard, rng.gen_range(0..=len).max(1))
    }

    /// Calls `visit(key, version, is_tombstone)` for every unexpired key and tombstone,
    /// [`SCAN_CHUNK`] entries per lock hold (so writers wait at most a few microseconds).
    /// Entries written or removed during the walk may or may not be seen; an entry that
    /// exists throughout is seen at least once. `visit` runs under a shard lock: keep it
    /// cheap and never call back into the store.
    pub fn for_each_entry(&self, visit: &mut dyn FnMut(&[u8], u64, bool)) {
        for slot in &self.slots {
            let mut top = FROM_END;
            while top > 0 {
                let s = slot.0.lock();
                let now = self.clock.now();
                top = s.scan_down(top, SCAN_CHUNK, |e| {
                    if !e.is_expired(now) {
                        visit(e.key(), e.version(), e.is_tombstone());
                    }
                    true
                });
            }
        }
    }

    /// Removes every key and tombstone for which `filter(key, version)` holds (a shard of
    /// the keyspace that leaves this node, or its entries older than some version),
    /// [`SCAN_CHUNK`] entries per lock hold, freeing them outside the locks. Returns how many
    /// entries (keys and tombstones) were removed. Entries written concurrently may survive;
    /// stop routing writes for those keys first. `filter` runs under a shard lock.
    pub fn remove_matching(&self, filter: &dyn Fn(&[u8], u64) -> bool) -> usize {
        let mut removed = 0;
        for slot in &self.slots {
            let mut top = FROM_END;
            while top > 0 {
                let mut garbage = Garbage::default();
                let (next, n) = slot.0.lock().remove_down(top, SCAN_CHUNK, filter, &mut garbage);
                drop(garbage);
                removed += n;
                top = next;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_zero_is_start() {
        assert_eq!(decode(0), (0, FROM_END));
        assert_eq!(decode(encode(5, 1234)), (5, 1234));
        assert_eq!(decode(encode(0, FROM_END)), (0, FROM_END));
        assert_ne!(encode(0, 1), 0);
        assert_eq!(decode(encode(usize::from(u16::MAX), usize::MAX)), (65_535, FROM_END));
        // Garbage in the top bits decodes to an out-of-range shard, which ends the dump.
        assert!(decode(u64::MAX).0 >= super::super::MAX_SHARDS);
    }

    #[test]
    fn a_random_cursor_is_never_the_start_and_finds_keys() {
        let s = Store::new(crate::store::StoreConfig { shards: 4 });
        assert_ne!(s.random_cursor(), 0);
        for i in 0..100 {
            s.set(format!("k{i}").as_bytes(), b"v", None, crate::store::SetCond::Always);
        }
        let (page, _) = s.dump_page(s.random_cursor(), 1, usize::MAX, &|_| true);
        let (first, _) = s.dump_page(0, 1, usize::MAX, &|_| true);
        assert!(page.len() <= 1 && first.len() == 1);
    }
}
