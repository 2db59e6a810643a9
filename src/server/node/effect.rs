//! Which keys of a read-modify-write of several keys hold its effect on this node, for a
//! command sent again after its reply was lost.
//!
//! A known id ([`super::known`]) says a command took effect, not on which keys. A command
//! that changed keys a and b on a coordinator that then crashed can reach the next
//! coordinator with a's state only: a later outcome of a carried the id, or an anti-entropy
//! round copied a's bucket and not b's. Sent again, it must not run again (a took it), and
//! REPLY_LOST ("it took effect") would be unconfirmed for b: it is PARTIAL.
//!
//! So on each key a command of 2 to [`EFFECT_MAX_KEYS`] keys changed, the coordinator notes
//! a *count id* next to the command's id (derived from the id, it says how many keys the
//! command changed), and they travel together in the key's ids (per-key rings, outcomes,
//! hints, anti-entropy pages). Whoever notes a key's ids, coordinator or replica, also
//! remembers a *key id* for each command whose count id is beside it: the key's state
//! holds that command's effect. The key ids live only in the remembered ids (and FENCE
//! answers), not in the rings, so a command takes two of a key's ring slots, not three.
//! A coordinator asked to run a command again counts the command's keys whose key id it
//! knows against the count. Every node must derive the same ids, so the derivation is fixed
//! and portable (FNV-1a 64 and splitmix64, as digests use).
//!
//! A command of one key, of more than [`EFFECT_MAX_KEYS`] (whose key ids would crowd out
//! other commands' ids), or one a node older than count ids ran, is whole wherever its id is
//! known, as before.

use bytes::Bytes;

use super::digest::{key_hash, mix};
use super::known::KnownIds;

/// Most keys a command may change and still be told whole from part when sent again.
pub const EFFECT_MAX_KEYS: usize = 64;
/// Low bits of a count id that hold the count (the rest is a hash of the command's id).
const COUNT_MASK: u64 = 0xffff;
/// Salt of count ids ("count_id"), so that no count id is a key id of the same command.
const COUNT_SALT: u64 = 0x636f_756e_745f_6964;

/// The ids the coordinator notes on each key command `id` changed, when it changed
/// `changed` keys in all, oldest first: the count id (if any), then the id, so a ring that
/// drops its oldest loses the count before the id that recognises the command.
pub fn ring_ids(id: u64, changed: usize) -> Vec<u64> {
    if (2..=EFFECT_MAX_KEYS).contains(&changed) {
        vec![count_id(id, changed), id]
    } else {
        vec![id]
    }
}

/// The key ids that `ids`, the ids a state of `key` holds, imply: one for each id whose
/// count id is among them too. What a node remembers beside `ids` when it notes them.
pub fn key_ids(key: &[u8], ids: &[u64]) -> Vec<u64> {
    let counted = |id: u64| {
        let tag = count_tag(id);
        ids.iter().any(|&c| {
            c & !COUNT_MASK == tag && (2..=EFFECT_MAX_KEYS as u64).contains(&(c & COUNT_MASK))
        })
    };
    ids.iter().filter(|&&id| counted(id)).map(|&id| key_id(id, key)).collect()
}

/// What this node holds of the effect of command `id` whose id it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// On every key it changed (or it changed one, or more than [`EFFECT_MAX_KEYS`], or a
    /// node without count ids ran it).
    Whole,
    /// On `held` of the `of` keys it changed; the others' are not confirmed here.
    Part { held: usize, of: usize },
}

/// What `known` holds of command `id`'s effect on `keys`, the command's distinct keys.
pub fn held(known: &KnownIds, id: u64, keys: &[Bytes]) -> Held {
    let held = keys.iter().filter(|k| known.contains(key_id(id, k))).count();
    if held == keys.len() {
        return Held::Whole;
    }
    // Counts from `held` up: a count of `held` or less is whole anyway.
    let counts = (held + 1).max(2)..=keys.len().min(EFFECT_MAX_KEYS);
    match counts.into_iter().find(|&n| known.contains(count_id(id, n))) {
        Some(of) => Held::Part { held, of },
        None => Held::Whole,
    }
}

/// The high bits every count id of command `id` shares.
fn count_tag(id: u64) -> u64 {
    mix(id ^ COUNT_SALT) & !COUNT_MASK
}

/// The count id of command `id` that changed `changed` (2 to [`EFFECT_MAX_KEYS`]) keys.
fn count_id(id: u64, changed: usize) -> u64 {
    count_tag(id) | changed as u64
}

/// The id that says `key`'s state holds command `id`'s effect (never 0: no id).
fn key_id(id: u64, key: &[u8]) -> u64 {
    mix(id ^ mix(key_hash(key))).max(1)
}

#[cfg(test)]
#[path = "effect_tests.rs"]
mod tests;
