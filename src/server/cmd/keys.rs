//! Key and value commands: GET, SET, DEL, EXISTS, MGET, MSET.

use bytes::Bytes;

use crate::protocol::{Reply, SetArgs, SetMode, Status};
use crate::store::{SetCond, Store, StoreError};

/// GET key: the value, or nil when absent or expired.
pub fn get(store: &Store, key: &[u8]) -> Reply {
    store.get(key).map_or(Reply::Nil, Reply::Bulk)
}

/// SET key value [EX|PX] [NX|XX]: OK, or nil when the NX/XX condition failed.
pub fn set(store: &Store, args: &SetArgs) -> Reply {
    let cond = match args.mode {
        SetMode::Always => SetCond::Always,
        SetMode::IfAbsent => SetCond::IfAbsent,
        SetMode::IfPresent => SetCond::IfPresent,
    };
    match store.try_set(&args.key, &args.value, args.ttl, cond) {
        Ok(true) => Reply::Ok,
        Ok(false) => Reply::Nil,
        Err(e) => store_error(&e),
    }
}

/// The reply for a write the store refused: OUT_OF_MEMORY (`-OOM ...`) when full.
pub fn store_error(e: &StoreError) -> Reply {
    let status = match e {
        StoreError::OutOfMemory { .. } => Status::OutOfMemory,
        _ => Status::InvalidArgument,
    };
    Reply::error(status, e.to_string())
}

/// DEL key...: how many live keys were removed.
pub fn del(store: &Store, keys: &[Bytes]) -> Reply {
    count(keys, |k| store.del(k))
}

/// EXISTS key...: how many of the keys are live (repeats count again, as in Redis).
pub fn exists(store: &Store, keys: &[Bytes]) -> Reply {
    count(keys, |k| store.exists(k))
}

/// MGET key...: one value or nil per key.
pub fn mget(store: &Store, keys: &[Bytes]) -> Reply {
    Reply::Array(keys.iter().map(|k| get(store, k)).collect())
}

/// MSET key value...: OK, or OOM at the first pair the store refuses. Each pair is written
/// atomically; the batch is not.
pub fn mset(store: &Store, pairs: &[(Bytes, Bytes)]) -> Reply {
    for (k, v) in pairs {
        if let Err(e) = store.try_set(k, v, None, SetCond::Always) {
            return store_error(&e);
        }
    }
    Reply::Ok
}

fn count(keys: &[Bytes], mut hit: impl FnMut(&[u8]) -> bool) -> Reply {
    let n = keys.iter().filter(|k| hit(k)).count();
    Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn set_get_del_exists() {
        let store = Store::new(StoreConfig::default());
        let args = SetArgs { key: b("k"), value: b("v"), ttl: None, mode: SetMode::Always };
        assert_eq!(set(&store, &args), Reply::Ok);
        assert_eq!(get(&store, b"k"), Reply::Bulk(b("v")));
        assert_eq!(exists(&store, &[b("k"), b("k"), b("x")]), Reply::Int(2));
        assert_eq!(del(&store, &[b("k"), b("x")]), Reply::Int(1));
        assert_eq!(get(&store, b"k"), Reply::Nil);
    }

    #[test]
    fn set_nx_xx_answer_nil_when_refused() {
        let store = Store::new(StoreConfig::default());
        let xx = SetArgs { key: b("k"), value: b("v"), ttl: None, mode: SetMode::IfPresent };
        assert_eq!(set(&store, &xx), Reply::Nil);
        let nx = SetArgs { mode: SetMode::IfAbsent, ..xx.clone() };
        assert_eq!(set(&store, &nx), Reply::Ok);
        assert_eq!(set(&store, &nx), Reply::Nil);
        assert_eq!(set(&store, &xx), Reply::Ok);
    }

    #[test]
    fn mset_then_mget() {
        let store = Store::new(StoreConfig::default());
        assert_eq!(mset(&store, &[(b("a"), b("1")), (b("b"), b("2"))]), Reply::Ok);
        let want = Reply::Array(vec![Reply::Bulk(b("1")), Reply::Nil, Reply::Bulk(b("2"))]);
        assert_eq!(mget(&store, &[b("a"), b("c"), b("b")]), want);
    }
}
