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
//! holds that command's effect. Count and key ids are remembered apart from command ids
//! (`Node::derived`), so they never crowd those out, and key ids never go in the rings: a
//! command takes two of a key's ring slots, not three. A coordinator asked to run a
//! command again counts the command's keys whose key id it knows against the count. Every
//! node must derive the same ids, so the derivation is fixed and portable (FNV-1a 64 and
//! splitmix64, as digests use).
//!
//! A command of one key, of more than [`EFFECT_MAX_KEYS`] (whose key ids would take a
//! FENCE answer's room and churn the derived ids), or one a node older than count ids ran,
//! is whole wherever its id is known, as before.

use bytes::Bytes;

use super::digest::{key_hash, mix};

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

/// The derived ids among and implied by `ids`, the ids a state of `key` holds: each count
/// id that stands beside its command's id, and that command's key id for `key`. What a
/// node remembers apart from command ids when it notes `ids`.
pub fn derived_ids(key: &[u8], ids: &[u64]) -> Vec<u64> {
    let counts: Vec<u64> = ids.iter().copied().filter(|&c| is_count(c)).collect();
    if counts.is_empty() {
        return Vec::new();
    }
    let mut derived = Vec::new();
    for &id in ids {
        let tag = count_tag(id);
        if let Some(&c) = counts.iter().find(|&&c| c & !COUNT_MASK == tag) {
            derived.extend([c, key_id(id, key)]);
        }
    }
    derived
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

/// What this node holds of command `id`'s effect on `keys`, the command's distinct keys,
/// by the derived ids it `knows`.
pub fn held(knows: impl Fn(u64) -> bool, id: u64, keys: &[Bytes]) -> Held {
    let counts = 2..=keys.len().min(EFFECT_MAX_KEYS);
    let Some(of) = counts.into_iter().find(|&n| knows(count_id(id, n))) else {
        return Held::Whole;
    };
    let held = keys.iter().filter(|k| knows(key_id(id, k))).count();
    if held >= of { Held::Whole } else { Held::Part { held, of } }
}

/// Whether `c` can be a count id: its count is one a coordinator writes.
fn is_count(c: u64) -> bool {
    (2..=EFFECT_MAX_KEYS as u64).contains(&(c & COUNT_MASK))
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
