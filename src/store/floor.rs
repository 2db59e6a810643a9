//! Versioned flushes: FLUSHALL through a router reaches every node as one version, and a
//! node keeps the newest such version as its *flush floor*. Every entry at or below the
//! floor is dropped, and a versioned write or pulled entry at or below it is refused as
//! stale (it was made before the flush), so no hint, anti-entropy round or late write
//! brings a flushed key back. The floor covers every key: a FLUSHALL covers every shard,
//! so one version per node says what one per shard would.
//!
//! Order is what makes it hold: the clock observes the floor, then the floor is raised,
//! then entries are dropped stripe by stripe. A versioned write checks the floor under its
//! stripe's lock, so it either landed before the drop reached its stripe (and is dropped)
//! or sees the new floor (and is refused); a plain write is stamped under the lock by a
//! clock that has already passed the floor.

use std::sync::atomic::Ordering;

use super::Store;

impl Store {
    /// The newest versioned flush applied here (0: none).
    pub fn flush_floor(&self) -> u64 {
        self.flush_floor.load(Ordering::SeqCst)
    }

    /// Flushes as of `version`: raises the floor to it and drops every key and tombstone at
    /// or below it. Returns how many entries were dropped; an older flush than the floor
    /// drops nothing. Walks the whole store in short lock holds: call it off the async
    /// threads.
    pub fn flush_versioned(&self, version: u64) -> usize {
        self.hlc.observe(version);
        let old = self.flush_floor.fetch_max(version, Ordering::SeqCst);
        if version <= old {
            return 0;
        }
        self.remove_matching(&|_, v| v <= version)
    }

    /// Whether a versioned write at `version` comes after the newest flush. Checked under
    /// the key's stripe lock (see the module docs).
    pub(super) fn above_floor(&self, version: u64) -> Result<(), u64> {
        // 0 is no flush at all: versions start above it, but a write at 0 is not refused.
        let floor = self.flush_floor.load(Ordering::SeqCst);
        if floor == 0 || version > floor { Ok(()) } else { Err(floor) }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{DumpEntry, Lww, SetCond, Store, StoreConfig};

    #[test]
    fn a_flush_drops_older_entries_and_refuses_older_writes() {
        let s = Store::new(StoreConfig::default());
        s.set_versioned(b"old", b"v", None, 10);
        s.del_versioned(b"gone", 11);
        s.set_versioned(b"new", b"v", None, 30);
        assert_eq!(s.flush_versioned(20), 2, "the value and the tombstone below 20");
        assert_eq!(s.get(b"old"), None);
        assert_eq!(s.get(b"new").as_deref(), Some(&b"v"[..]), "written after the flush");
        assert_eq!(s.write_versioned(b"old", Some(b"late"), None, 15), Ok(Lww::Stale { held: 20 }));
        assert_eq!(s.write_versioned(b"old", None, None, 20), Ok(Lww::Stale { held: 20 }));
        let pulled =
            DumpEntry { key: "old".into(), value: Some("v".into()), ttl: None, version: 19 };
        assert_eq!(s.try_apply(&pulled), Ok(false), "a repair from before the flush");
        assert!(s.set_versioned(b"old", b"later", None, 21));
        // A plain write is stamped above the floor, so it sticks.
        assert!(s.set(b"plain", b"v", None, SetCond::Always));
        assert!(s.version_of(b"plain").is_some_and(|v| v > 20));
        assert_eq!(s.flush_versioned(5), 0, "an older flush changes nothing");
        assert_eq!(s.flush_floor(), 20);
    }
}
