//! Which keys of a read-modify-write of several keys hold its effect on this node, for a
//! command sent again after its reply was lost.
//!
//! A known id ([`super::known`]) says a command took effect, not on which keys. A command
//! that changed keys a and b on a coordinator that then crashed can reach the next
//! coordinator with a's state only: a later outcome of a carried the id, or an anti-entropy
//! round copied a's bucket and not b's. Sent again, it must not run again (a took it), and
//! REPLY_LOST ("it took effect") would be false for b: it is PARTIAL.
//!
//! So a coordinator notes two more ids on each key a command of several keys changed,
//! derived from the command's id: a *count id*, which says how many keys it changed, and a
//! *key id*, which names the key. They travel wherever the command's id travels with a
//! key's state (per-key rings, outcomes, hints, anti-entropy pages, FENCE answers), so a
//! node holding a key's state with the command's effect knows that key's id, and counting
//! them over the command's keys tells whole from part. Every node must derive the same ids,
//! so the derivation is fixed and portable (FNV-1a 64 and splitmix64, as digests use). A
//! command of one key, or one a node older than these ids ran, is whole wherever its id is
//! known, as before.

use bytes::Bytes;

use super::digest::{key_hash, mix};
use super::known::KnownIds;

/// Low bits of a count id that hold the count (the rest is the hash of the command's id).
const COUNT_BITS: u32 = 16;
/// Largest count a count id holds: a command that changed more keys counts as this many.
const COUNT_MAX: usize = (1 << COUNT_BITS) - 1;
/// Salt of count ids ("count_id"), so that no count id is a key id of the same command.
const COUNT_SALT: u64 = 0x636f_756e_745f_6964;

/// The ids a coordinator notes on a key command `id` changed, when it changed `changed`
/// keys in all: the id, then (with several keys) its count id and this key's id.
pub fn effect_ids(id: u64, key: &[u8], changed: usize) -> Vec<u64> {
    if changed < 2 {
        return vec![id];
    }
    vec![id, count_id(id, changed), key_id(id, key)]
}

/// What this node holds of the effect of command `id` whose id it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// On every key it changed (or it changed one, or a node without count ids ran it).
    Whole,
    /// On `held` of the `of` keys it changed only.
    Part { held: usize, of: usize },
}

/// What `known` holds of command `id`'s effect on `keys`, the command's distinct keys.
pub fn held(known: &KnownIds, id: u64, keys: &[Bytes]) -> Held {
    let counts = 2..=keys.len().min(COUNT_MAX);
    let Some(of) = counts.into_iter().find(|&n| known.contains(count_id(id, n))) else {
        return Held::Whole;
    };
    let held = keys.iter().filter(|k| known.contains(key_id(id, k))).count();
    if held >= of { Held::Whole } else { Held::Part { held, of } }
}

/// The count id of command `id` that changed `changed` (at least 2) keys.
fn count_id(id: u64, changed: usize) -> u64 {
    let count = changed.min(COUNT_MAX) as u64;
    (mix(id ^ COUNT_SALT) & !(COUNT_MAX as u64)) | count
}

/// The id that says `key`'s state holds command `id`'s effect (never 0: no id).
fn key_id(id: u64, key: &[u8]) -> u64 {
    mix(id ^ mix(key_hash(key))).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<Bytes> {
        names.iter().map(|n| Bytes::copy_from_slice(n.as_bytes())).collect()
    }

    #[test]
    fn a_command_of_one_key_notes_its_id_only() {
        assert_eq!(effect_ids(7, b"a", 1), [7]);
        assert_eq!(effect_ids(7, b"a", 0), [7]);
    }

    #[test]
    fn every_key_that_took_it_counts_and_a_missing_one_makes_it_part() {
        let (known, all) = (KnownIds::default(), keys(&["a", "b", "c"]));
        // c was among the command's keys, but it changed only a and b.
        known.note(1, &effect_ids(9, b"a", 2), true);
        assert_eq!(held(&known, 9, &all), Held::Part { held: 1, of: 2 });
        known.note(1, &effect_ids(9, b"b", 2), true);
        assert_eq!(held(&known, 9, &all), Held::Whole);
        // Another command's ids say nothing of this one.
        known.note(1, &[10], true);
        assert_eq!(held(&known, 10, &all), Held::Whole, "no count id: as before");
    }

    #[test]
    fn derived_ids_differ_from_each_other_and_from_the_id() {
        let ids = effect_ids(9, b"a", 2);
        let other = effect_ids(9, b"b", 2);
        assert_eq!((ids[0], ids[1]), (other[0], other[1]), "one id and count per command");
        assert_ne!(ids[2], other[2], "one key id per key");
        assert!(ids[1] != ids[0] && ids[2] != ids[0] && ids[1] != ids[2]);
        assert_eq!(ids[1] & COUNT_MAX as u64, 2);
        assert_eq!(count_id(9, 1 << 20) & COUNT_MAX as u64, COUNT_MAX as u64, "capped");
    }
}
