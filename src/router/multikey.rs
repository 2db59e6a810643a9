//! The errors of commands whose keys live on several shards. For writes (MSET, DEL) each
//! key is written on its own shard, and when some shards fail the client is told exactly
//! what happened: which shards (and keys) were applied and which failed, and why. A partly
//! applied command is PARTIAL; one that applied nowhere takes the first failure's status.
//! A split read (MGET, EXISTS) changed nothing: its error names the shards that failed.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::protocol::{ErrorReply, Status};

/// Keys named in an error, per shard, before the rest are counted.
pub const MAX_KEYS_NAMED: usize = 8;

/// One key's outcome, with its shard.
#[derive(Debug, Clone)]
pub struct KeyOutcome {
    /// The key.
    pub key: Bytes,
    /// Its shard.
    pub shard: u32,
    /// How its write ended.
    pub result: Result<(), ErrorReply>,
}

/// The error for `command` when some keys failed; `None` when every key succeeded. A
/// command of one key answers that key's error as it is.
pub fn partial_error(command: &str, outcomes: &[KeyOutcome]) -> Option<ErrorReply> {
    let first = outcomes.iter().find_map(|o| o.result.as_ref().err())?.clone();
    if outcomes.len() == 1 {
        return Some(first);
    }
    // A key whose write reached some replicas (PARTIAL) is held: the command then
    // applied somewhere even if it is listed under failures with what went wrong.
    let partly =
        outcomes.iter().any(|o| o.result.as_ref().is_err_and(|e| e.status == Status::Partial));
    let mut applied: BTreeMap<u32, Vec<&Bytes>> = BTreeMap::new();
    let mut failed: BTreeMap<u32, (Vec<&Bytes>, &ErrorReply)> = BTreeMap::new();
    for o in outcomes {
        match &o.result {
            Ok(()) => applied.entry(o.shard).or_default().push(&o.key),
            Err(e) => failed.entry(o.shard).or_insert((Vec::new(), e)).0.push(&o.key),
        }
    }
    // A shard where some keys were applied and others failed is reported under both.
    let applied_text: Vec<String> =
        applied.iter().map(|(s, keys)| format!("shard {s} ({})", key_list(keys))).collect();
    let failed_text: Vec<String> = failed
        .iter()
        .map(|(s, (keys, e))| format!("shard {s} ({}): {}", key_list(keys), e.message))
        .collect();
    let (status, head) = if applied.is_empty() && !partly {
        (first.status, format!("{command} applied to no shard"))
    } else if applied.is_empty() {
        (Status::Partial, format!("{command} applied to no shard in full"))
    } else {
        (Status::Partial, format!("{command} applied to {}", applied_text.join(", ")))
    };
    Some(ErrorReply::new(status, format!("{head}; failed on {}", failed_text.join(", "))))
}

/// The error of a split read with some failed shards (`(shard, its keys, its error)`):
/// `MGET failed on shard 2 (k4 k7): why`, with the first failure's status. Nothing was
/// changed anywhere, so no shard is reported applied.
pub fn read_error(command: &str, failed: &[(u32, &[Bytes], &ErrorReply)]) -> ErrorReply {
    let Some((_, _, first)) = failed.first() else {
        return ErrorReply::new(Status::Internal, format!("{command} failed on no shard"));
    };
    let text: Vec<String> = failed
        .iter()
        .map(|(s, keys, e)| {
            let keys: Vec<&Bytes> = keys.iter().collect();
            format!("shard {s} ({}): {}", key_list(&keys), e.message)
        })
        .collect();
    ErrorReply::new(first.status, format!("{command} failed on {}", text.join(", ")))
}

fn key_list(keys: &[&Bytes]) -> String {
    let mut names: Vec<String> =
        keys.iter().take(MAX_KEYS_NAMED).map(|k| String::from_utf8_lossy(k).into_owned()).collect();
    if keys.len() > MAX_KEYS_NAMED {
        names.push(format!("+{} more", keys.len() - MAX_KEYS_NAMED));
    }
    names.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(key: &'static str, shard: u32, ok: bool) -> KeyOutcome {
        let result = if ok {
            Ok(())
        } else {
            Err(ErrorReply::new(Status::Unavailable, format!("shard {shard} has no replicas")))
        };
        KeyOutcome { key: Bytes::from_static(key.as_bytes()), shard, result }
    }

    #[test]
    fn names_applied_and_failed_shards_and_keys() {
        let e = partial_error("MSET", &[o("k1", 1, true), o("k2", 1, true), o("k4", 4, false)])
            .expect("an error");
        assert_eq!(e.status, Status::Partial);
        assert_eq!(
            e.message,
            "MSET applied to shard 1 (k1 k2); failed on shard 4 (k4): shard 4 has no replicas"
        );
        let none = partial_error("DEL", &[o("k4", 4, false), o("k5", 4, false)]).expect("an error");
        assert_eq!(none.status, Status::Unavailable);
        assert!(none.message.starts_with("DEL applied to no shard; failed on shard 4 (k4 k5)"));
        let one = partial_error("DEL", &[o("k4", 4, false)]).expect("an error");
        assert_eq!(one.message, "shard 4 has no replicas", "one key: its own error");
        assert!(partial_error("MSET", &[o("k1", 1, true)]).is_none());
    }

    #[test]
    fn a_failed_read_names_its_shards_and_keys() {
        let keys = [Bytes::from_static(b"k4"), Bytes::from_static(b"k7")];
        let why = ErrorReply::new(Status::Unavailable, "no replica of shard 2 could serve");
        let e = read_error("mget", &[(2, &keys[..], &why)]);
        assert_eq!(e.status, Status::Unavailable);
        assert_eq!(e.message, "mget failed on shard 2 (k4 k7): no replica of shard 2 could serve");
    }
}
