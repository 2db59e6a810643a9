//! Striped locks over keys, held by a read-modify-write on its coordinator from before its
//! command runs until the state it answers has been read. Without them, two RMWs of one
//! key on two worker threads interleave: the first reads the key's state after the second
//! ran, so its outcome carries the second's result. Should the second's answer then be
//! lost (its coordinator crashes before replying, and the router runs it again on the next
//! coordinator), the first outcome has already carried its effect to the other replicas:
//! it would count twice. Only RMWs take these locks; plain versioned writes do not need
//! to (a write landing inside an RMW's run is replicated with its own version, which is
//! what its writer sends everywhere anyway).

use parking_lot::{Mutex, MutexGuard};

use super::digest::key_hash;

/// Stripes of [`KeyLocks`]: RMWs of keys in different stripes never wait for each other.
pub const RMW_KEY_STRIPES: usize = 256;

/// The stripes.
#[derive(Debug)]
pub struct KeyLocks {
    stripes: Box<[Mutex<()>]>,
}

impl Default for KeyLocks {
    fn default() -> Self {
        Self { stripes: (0..RMW_KEY_STRIPES).map(|_| Mutex::new(())).collect() }
    }
}

impl KeyLocks {
    /// Locks the stripes of `keys`, in stripe order (so two RMWs over several keys never
    /// deadlock); held until the guards drop.
    pub fn lock<K: AsRef<[u8]>>(&self, keys: &[K]) -> Vec<MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = keys.iter().map(|k| self.stripe(k.as_ref())).collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes.into_iter().map(|i| self.stripes[i].lock()).collect()
    }

    fn stripe(&self, key: &[u8]) -> usize {
        (key_hash(key) % self.stripes.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_stripe_take_it_once_and_other_stripes_stay_free() {
        let locks = KeyLocks::default();
        let keys: Vec<Vec<u8>> = (0..1000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let held = locks.lock(&keys);
        assert_eq!(held.len(), RMW_KEY_STRIPES, "a thousand keys cover every stripe once");
        drop(held);
        let same = [b"k".to_vec(), b"k".to_vec()];
        let one = locks.lock(&same);
        assert_eq!(one.len(), 1, "a key named twice is locked once");
        let other = (0..100u32)
            .map(|i| i.to_be_bytes())
            .find(|k| locks.stripe(k) != locks.stripe(b"k"))
            .unwrap();
        assert!(locks.stripes[locks.stripe(&other)].try_lock().is_some(), "not held");
        assert!(locks.stripes[locks.stripe(b"k")].try_lock().is_none(), "held");
    }
}
