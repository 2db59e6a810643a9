//! How a server answers the router's keyspace operations over shards (payloads in
//! [`crate::protocol::shards`]): VFLUSH (a versioned FLUSHALL: raise the flush floor and
//! drop what is below it), SHARD_COUNT (some shards' key counts) and SHARD_SCAN (a page of
//! one shard's keys). Each walks the store, so it runs off the async threads. A plain
//! server answers them too (the request's shard count says which keys are a shard's), so
//! a router also works in front of servers that are not cluster nodes; a cluster node has
//! already checked the request against its map and shard states.
//!
//! Does not own the store walks themselves (`store/floor.rs`, `store/count.rs`,
//! `store/dump.rs`) nor the node's admission check (`node/check.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::node::Cluster;
use crate::cmd::glob;
use crate::protocol::shards::{
    KeyCount, MAX_SCAN_COUNT, MAX_SCAN_CURSOR, SCAN_PAGE_BYTES, ScanPage, ScanRequest,
    encode_counts,
};
use crate::protocol::{Reply, Status};
use crate::shardmap::shard_for_key;
use crate::store::Store;

/// Pages a random-key lookup reads at most before it gives up (an empty shard, or keys
/// only in stripes before the random start: then it wraps to the start once).
const RANDOM_PAGES: usize = 4;

/// VFLUSH: flushes as of `version`; answers whether anything changed and the clock.
pub(super) fn vflush(store: &Store, cluster: Option<&Arc<Cluster>>, version: u64) -> Reply {
    let newer = version > store.flush_floor();
    let dropped = store.flush_versioned(version);
    if let Some(c) = cluster {
        c.node.invalidate_digests();
    }
    tracing::info!(version, dropped, newer, "versioned flush");
    let mut b = BytesMut::with_capacity(9);
    b.put_u8(u8::from(newer));
    b.put_u64(store.hlc().peek());
    Reply::Bulk(b.freeze())
}

/// SHARD_COUNT: the live keys of each shard asked about, in the order asked.
pub(super) fn count(store: &Store, num_shards: u32, shards: &[u32]) -> Reply {
    let at: HashMap<u32, usize> = shards.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let mut counts = vec![KeyCount::default(); shards.len()];
    store.for_each_key(&mut |key, ttl| {
        if let Some(&i) = at.get(&shard_for_key(key, num_shards)) {
            let ms = ttl.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
            counts[i].count(ms);
        }
    });
    // A shard asked about twice gets the same count twice.
    for (i, s) in shards.iter().enumerate() {
        if let Some(&j) = at.get(s).filter(|j| **j != i) {
            counts[i] = counts[j];
        }
    }
    Reply::Bulk(encode_counts(&counts))
}

/// SHARD_SCAN: one page of the shard's keys matching the pattern, from the cursor (or,
/// RANDOM, from a random place: at most one key).
pub(super) fn scan(store: &Store, req: &ScanRequest) -> Reply {
    let (num_shards, shard, pattern) = (req.num_shards, req.shard, &req.pattern[..]);
    let filter = |key: &[u8]| {
        shard_for_key(key, num_shards) == shard
            && (pattern.is_empty() || glob::matches(pattern, key, false))
    };
    let count = usize::try_from(req.count).unwrap_or(usize::MAX).clamp(1, MAX_SCAN_COUNT);
    if req.random {
        return Reply::Bulk(random_key(store, &filter).encode());
    }
    let (entries, next) = store.dump_page(req.cursor, count, SCAN_PAGE_BYTES, &filter);
    if next.is_some_and(|c| c > MAX_SCAN_CURSOR) {
        let msg = "this server's store has too many stripes for SHARD_SCAN cursors";
        return Reply::error(Status::Internal, msg);
    }
    let keys = entries.into_iter().filter(|e| e.value.is_some()).map(|e| e.key).collect();
    Reply::Bulk(ScanPage { next, keys }.encode())
}

/// A page with one key from a random place of the store, or none.
fn random_key(store: &Store, filter: &dyn Fn(&[u8]) -> bool) -> ScanPage {
    let mut cursor = Some(store.random_cursor());
    let mut wrapped = false;
    for _ in 0..RANDOM_PAGES {
        let from = match cursor {
            Some(c) => c,
            None if !wrapped => {
                wrapped = true;
                0
            }
            None => break,
        };
        let (entries, next) = store.dump_page(from, 1, SCAN_PAGE_BYTES, filter);
        if let Some(e) = entries.into_iter().find(|e| e.value.is_some()) {
            return ScanPage { next: None, keys: vec![e.key] };
        }
        cursor = next;
    }
    ScanPage { next: None, keys: Vec::<Bytes>::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::shards::decode_counts;
    use crate::store::{SetCond, StoreConfig};

    fn store_with(n: usize) -> Store {
        let s = Store::new(StoreConfig { shards: 4 });
        for i in 0..n {
            s.set(format!("k{i}").as_bytes(), b"v", None, SetCond::Always);
        }
        s
    }

    fn bulk(r: Reply) -> Bytes {
        match r {
            Reply::Bulk(b) => b,
            other => panic!("not a bulk reply: {other:?}"),
        }
    }

    #[test]
    fn counts_add_up_to_every_key_once() {
        let s = store_with(200);
        let counts = decode_counts(&bulk(count(&s, 4, &[1, 2, 3, 4]))).expect("decodes");
        assert_eq!(counts.iter().map(|c| c.keys).sum::<u64>(), 200);
        let one = decode_counts(&bulk(count(&s, 4, &[2, 2]))).expect("decodes");
        assert_eq!(one[0], one[1], "asked twice, counted the same");
    }

    #[test]
    fn a_scan_walks_one_shard_and_each_key_comes() {
        let s = store_with(300);
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = 0;
        for _ in 0..1000 {
            let req = ScanRequest {
                num_shards: 4,
                shard: 3,
                cursor,
                count: 7,
                random: false,
                pattern: Bytes::from_static(b"k*"),
            };
            let page = ScanPage::decode(bulk(scan(&s, &req))).expect("decodes");
            assert!(page.keys.iter().all(|k| shard_for_key(k, 4) == 3));
            seen.extend(page.keys);
            match page.next {
                Some(c) => cursor = c,
                None => break,
            }
        }
        let want = (0..300).filter(|i| shard_for_key(format!("k{i}").as_bytes(), 4) == 3).count();
        assert_eq!(seen.len(), want);
    }

    #[test]
    fn a_random_key_is_found_when_the_shard_has_one() {
        let s = store_with(50);
        let req = ScanRequest {
            num_shards: 1,
            shard: 1,
            cursor: 0,
            count: 1,
            random: true,
            pattern: Bytes::new(),
        };
        for _ in 0..20 {
            let page = ScanPage::decode(bulk(scan(&s, &req))).expect("decodes");
            assert_eq!(page.keys.len(), 1);
        }
        let empty = Store::new(StoreConfig { shards: 4 });
        let page = ScanPage::decode(bulk(scan(&empty, &req))).expect("decodes");
        assert!(page.keys.is_empty());
    }
}
