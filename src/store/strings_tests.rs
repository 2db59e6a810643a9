//! Tests of the string operations beyond GET/SET (`strings.rs`, `shard/strings.rs`): edits
//! in place and out of place, TTLs kept or changed, versions, memory, and MSETNX.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::Keyspace;
use super::tests::{store_opts, store_with};
use super::{
    Edit, Expiry, INLINE_VALUE_MAX, Plan, SetCond, SetOptions, Store, StoreError, StoreOptions,
    TtlState,
};

const SEC: Duration = Duration::from_secs(1);

/// Appends `suffix`; remembers the length it saw.
struct Append {
    suffix: Vec<u8>,
    seen: Option<usize>,
}

impl Edit for Append {
    fn plan(&mut self, old: Option<&[u8]>) -> Plan {
        self.seen = old.map(<[u8]>::len);
        Plan::Write(old.map_or(0, <[u8]>::len) + self.suffix.len())
    }

    fn apply(&mut self, value: &mut [u8]) {
        let at = value.len() - self.suffix.len();
        value[at..].copy_from_slice(&self.suffix);
    }
}

fn append(store: &Store, key: &[u8], suffix: &[u8]) -> Option<super::Written> {
    let mut edit = Append { suffix: suffix.to_vec(), seen: None };
    store.rewrite(key, &mut edit).expect("room")
}

/// Writes nothing.
struct Look;

impl Edit for Look {
    fn plan(&mut self, _: Option<&[u8]>) -> Plan {
        Plan::Keep
    }

    fn apply(&mut self, _: &mut [u8]) {
        unreachable!("nothing planned")
    }
}

fn get(store: &Store, key: &[u8]) -> Option<Vec<u8>> {
    store.get(key).map(|b| b.to_vec())
}

#[test]
fn rewrite_creates_extends_and_keeps_the_ttl() {
    let (s, clock) = store_with(2);
    let w = append(&s, b"k", b"ab").expect("written");
    assert_eq!((w.ttl, w.live), (None, true), "a new key has no TTL");
    assert_eq!(get(&s, b"k").as_deref(), Some(&b"ab"[..]));
    s.expire(b"k", 10 * SEC);
    clock.advance(SEC);
    let w2 = append(&s, b"k", b"cd").expect("written");
    assert!(w2.version > w.version, "a fresh version");
    assert_eq!(w2.ttl, Some(9 * SEC), "the deadline stays");
    assert_eq!(s.ttl(b"k"), TtlState::Expires(9 * SEC));
    assert_eq!(get(&s, b"k").as_deref(), Some(&b"abcd"[..]));
    assert_eq!(s.version_of(b"k"), Some(w2.version));
    assert_eq!(s.rewrite(b"k", &mut Look).expect("no write"), None);
    assert_eq!(s.version_of(b"k"), Some(w2.version), "a planned no-op stamps nothing");
    clock.advance(9 * SEC);
    append(&s, b"k", b"x");
    assert_eq!((get(&s, b"k").as_deref(), s.ttl(b"k")), (Some(&b"x"[..]), TtlState::Persistent));
    s.check_invariants();
}

#[test]
fn rewrite_grows_through_every_storage_form() {
    let (s, _) = store_with(1);
    let mut want = Vec::new();
    // Inline in place, inline moving class, inline to big, big in place or copied.
    for step in 0..600 {
        let piece = [b'a' + (step % 26) as u8; 3];
        append(&s, b"key", &piece);
        want.extend_from_slice(&piece);
        if step % 50 == 0 {
            s.check_invariants();
        }
    }
    assert_eq!(get(&s, b"key"), Some(want.clone()));
    assert_eq!(s.stats().used_memory, 3 + want.len() + super::ENTRY_OVERHEAD);
    // A reader holding the big value forces a copy; both see consistent values.
    let held = s.get(b"key").expect("live");
    append(&s, b"key", b"!");
    assert_eq!(held.len(), want.len(), "the reader's handle is unchanged");
    assert_eq!(s.get(b"key").expect("live").len(), want.len() + 1);
    s.check_invariants();
}

#[test]
fn rewrite_shrinks_big_values_back_inline() {
    struct Replace(Vec<u8>);
    impl Edit for Replace {
        fn plan(&mut self, _: Option<&[u8]>) -> Plan {
            Plan::Write(self.0.len())
        }
        fn apply(&mut self, value: &mut [u8]) {
            value.copy_from_slice(&self.0);
        }
    }
    let (s, _) = store_with(1);
    s.set(b"k", &[7; INLINE_VALUE_MAX + 10], None, SetCond::Always);
    s.rewrite(b"k", &mut Replace(b"12".to_vec())).expect("room");
    assert_eq!(get(&s, b"k").as_deref(), Some(&b"12"[..]));
    s.rewrite(b"k", &mut Replace(vec![1; 2 * INLINE_VALUE_MAX])).expect("room");
    assert_eq!(get(&s, b"k").map(|v| v.len()), Some(2 * INLINE_VALUE_MAX));
    s.check_invariants();
}

#[test]
fn rewrite_respects_maxmemory_and_tombstones() {
    let opts = StoreOptions { maxmemory: 400, tombstones: true, ..StoreOptions::default() };
    let (s, _) = store_opts(1, opts);
    append(&s, b"k", b"v");
    let mut big = Append { suffix: vec![0; 1000], seen: None };
    assert!(matches!(s.rewrite(b"k", &mut big), Err(StoreError::OutOfMemory { .. })));
    assert_eq!(get(&s, b"k").as_deref(), Some(&b"v"[..]), "refused writes change nothing");
    assert!(s.del(b"k"));
    let tomb = s.version_of(b"k").expect("a tombstone");
    let w = append(&s, b"k", b"new").expect("written");
    assert!(w.version > tomb, "a write over a tombstone beats it");
    assert_eq!(get(&s, b"k").as_deref(), Some(&b"new"[..]));
    s.check_invariants();
}

#[test]
fn read_sees_small_and_big_values() {
    let (s, _) = store_with(2);
    let mut seen = Vec::new();
    s.read(b"none", &mut |v| seen.push(v.map(<[u8]>::len)));
    s.set(b"small", b"abc", None, SetCond::Always);
    s.read(b"small", &mut |v| seen.push(v.map(<[u8]>::len)));
    s.set(b"big", &[1; 1000], None, SetCond::Always);
    s.read(b"big", &mut |v| seen.push(v.map(<[u8]>::len)));
    assert_eq!(seen, [None, Some(3), Some(1000)]);
    let st = s.stats();
    assert_eq!((st.get_hits, st.get_misses), (2, 1), "counted like GET");
}

#[test]
fn set_with_keeps_ttl_returns_old_and_deletes_past_deadlines() {
    let (s, clock) = store_with(2);
    let keep = SetOptions { expiry: Expiry::Keep, ..SetOptions::default() };
    let out = s.set_with(b"k", b"1", SetOptions { get: true, ..keep }).expect("room");
    assert_eq!((out.old, out.written.map(|w| w.ttl)), (None, Some(None)));
    s.set_with(b"k", b"2", SetOptions { expiry: Expiry::In(10 * SEC), ..keep }).expect("room");
    clock.advance(SEC);
    let out = s.set_with(b"k", b"3", SetOptions { get: true, ..keep }).expect("room");
    assert_eq!(out.old.as_deref(), Some(&b"2"[..]));
    assert_eq!(out.written.and_then(|w| w.ttl), Some(9 * SEC), "KEEPTTL");
    let nx = SetOptions { cond: SetCond::IfAbsent, get: true, ..SetOptions::default() };
    let out = s.set_with(b"k", b"4", nx).expect("room");
    assert_eq!((out.old.as_deref(), out.written), (Some(&b"3"[..]), None), "NX with GET");
    let past =
        SetOptions { expiry: Expiry::In(Duration::ZERO), get: true, ..SetOptions::default() };
    let out = s.set_with(b"k", b"5", past).expect("room");
    assert_eq!(out.old.as_deref(), Some(&b"3"[..]));
    assert!(out.written.is_some_and(|w| !w.live));
    assert_eq!(get(&s, b"k"), None, "a deadline already past deletes");
    let out = s.set_with(b"k", b"6", SetOptions::default()).expect("room");
    assert_eq!(s.ttl(b"k"), TtlState::Persistent);
    assert!(out.written.is_some());
    s.check_invariants();
}

#[test]
fn get_del_and_get_ex() {
    let (s, clock) = store_with(2);
    assert_eq!(s.get_del(b"k"), None);
    assert_eq!(s.get_ex(b"k", Expiry::Persist), None);
    s.set(b"k", b"v", Some(10 * SEC), SetCond::Always);
    let f = s.get_ex(b"k", Expiry::Keep).expect("live");
    assert_eq!((&f.value[..], f.written), (&b"v"[..], None), "no change, no version");
    let before = s.version_of(b"k");
    let f = s.get_ex(b"k", Expiry::In(100 * SEC)).expect("live");
    assert_eq!(f.written.and_then(|w| w.ttl), Some(100 * SEC));
    assert!(s.version_of(b"k") > before);
    s.get_ex(b"k", Expiry::Persist).expect("live");
    assert_eq!(s.ttl(b"k"), TtlState::Persistent);
    assert!(s.get_ex(b"k", Expiry::Persist).expect("live").written.is_none());
    clock.advance(SEC);
    let f = s.get_del(b"k").expect("live");
    assert_eq!(&f.value[..], b"v");
    assert!(f.written.is_some_and(|w| !w.live));
    assert_eq!(get(&s, b"k"), None);
    s.set(b"k", b"v", None, SetCond::Always);
    assert!(s.get_ex(b"k", Expiry::In(Duration::ZERO)).is_some());
    assert_eq!(get(&s, b"k"), None, "GETEX with a past deadline deletes");
    s.check_invariants();
}

#[test]
fn mset_nx_is_all_or_nothing() {
    let (s, _) = store_with(8);
    let pairs = |items: &[(&str, &str)]| -> Vec<(Bytes, Bytes)> {
        items
            .iter()
            .map(|(k, v)| (Bytes::from(k.to_string()), Bytes::from(v.to_string())))
            .collect()
    };
    assert_eq!(s.mset_nx(&pairs(&[("a", "1"), ("b", "2"), ("a", "3")])), Ok(true));
    assert_eq!(get(&s, b"a").as_deref(), Some(&b"3"[..]), "a repeated key: the last wins");
    assert_eq!(s.mset_nx(&pairs(&[("c", "1"), ("b", "9")])), Ok(false));
    assert_eq!((get(&s, b"c"), get(&s, b"b").as_deref()), (None, Some(&b"2"[..])));
    s.check_invariants();
}

#[test]
fn concurrent_rewrites_lose_nothing() {
    let s = Arc::new(store_with(4).0);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for _ in 0..200 {
                    append(&s, b"log", &[b'0' + t; 5]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no panic");
    }
    assert_eq!(get(&s, b"log").map(|v| v.len()), Some(4 * 200 * 5));
    s.check_invariants();
}
