//! Static checks of one shard map: every reason it would be refused, not only the first,
//! and what a valid map may still get wrong for a cluster (shards without replicas, two
//! nodes on one address). `shale map check` prints them; checks of a map *change* (against
//! the map before it) build on [`problems`] and live beside it.

use std::collections::BTreeMap;
use std::fmt;

use super::{MapError, ShardMap};

/// One problem with a map, worded for one line of output.
#[derive(Debug)]
#[non_exhaustive]
pub enum Problem {
    /// A reason the map is refused outright (routers and nodes keep their last good map).
    Invalid(MapError),
    /// Shards `first..=last` have no replica: keys there can be neither read nor written.
    NoReplicas {
        /// First shard of the run.
        first: u32,
        /// Last shard of the run.
        last: u32,
    },
    /// Two nodes name the same address and port, so they are one server twice.
    SharedAddress {
        /// The node defined first (by name order).
        first: String,
        /// The other one.
        second: String,
        /// `host:port`.
        address: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Invalid(e) => write!(f, "{e}"),
            Problem::NoReplicas { first, last } if first == last => {
                write!(f, "shard {first} has no replicas: its keys can be neither read nor written")
            }
            Problem::NoReplicas { first, last } => {
                write!(
                    f,
                    "shards {first}-{last} have no replicas: their keys can be neither read nor written"
                )
            }
            Problem::SharedAddress { first, second, address } => {
                write!(
                    f,
                    "nodes '{first}' and '{second}' are both {address}: one server can't be two replicas"
                )
            }
        }
    }
}

/// Every problem of the map in `text`, in file order; empty for a good map.
pub fn problems(text: &str) -> Vec<Problem> {
    match super::map::check_json(text) {
        Ok(map) => lint(&map),
        Err(errors) => errors.into_iter().map(Problem::Invalid).collect(),
    }
}

/// What a valid `map` may still get wrong: shards without replicas (in runs), and nodes
/// sharing an address.
pub fn lint(map: &ShardMap) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    for s in 1..=map.num_shards() {
        run = match (run, map.replicas(s).is_empty()) {
            (Some((first, last)), true) if last + 1 == s => Some((first, s)),
            (run, true) => {
                out.extend(run.map(|(first, last)| Problem::NoReplicas { first, last }));
                Some((s, s))
            }
            (run, false) => {
                out.extend(run.map(|(first, last)| Problem::NoReplicas { first, last }));
                None
            }
        };
    }
    out.extend(run.map(|(first, last)| Problem::NoReplicas { first, last }));
    let mut by_address: BTreeMap<String, &str> = BTreeMap::new();
    for node in map.nodes() {
        let address = node.addr_string().to_ascii_lowercase();
        if let Some(first) = by_address.get(&address) {
            out.push(Problem::SharedAddress {
                first: (*first).to_owned(),
                second: node.name.clone(),
                address,
            });
        } else {
            by_address.insert(address, &node.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        problems(text).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_map_has_no_problems() {
        let map = ShardMap::builder(2)
            .node("a", "10.0.0.1", 7379)
            .node("b", "10.0.0.2", 7379)
            .shard(1, &["a", "b"])
            .shard(2, &["b", "a"])
            .build()
            .unwrap();
        assert!(problems(&map.to_json()).is_empty());
    }

    #[test]
    fn every_refusal_is_listed_not_only_the_first() {
        let text = r#"{"numShards": 4,
            "nodes": {"a": {"address": "bad address", "port": 1}, "b": {"address": "h", "port": 0}},
            "shards": {"1": ["a", "zz"], "9": ["a"], "2": ["a", "a"]}}"#;
        assert_eq!(
            lines(text),
            [
                "node 'a' has address 'bad address', which is not an IP address or hostname",
                "node 'b' has port 0",
                "shard 1 names unknown node 'zz'",
                "shard 9 is out of range 1..=4",
                "shard 2 lists node 'a' twice",
            ]
        );
    }

    #[test]
    fn empty_shards_come_in_runs_and_shared_addresses_are_named() {
        let text = r#"{"numShards": 6,
            "nodes": {"a": {"address": "Host", "port": 1}, "b": {"address": "host", "port": 1}},
            "shards": {"1": ["a"], "2": [], "4": ["b"]}}"#;
        assert_eq!(
            lines(text),
            [
                "shards 2-3 have no replicas: their keys can be neither read nor written",
                "shards 5-6 have no replicas: their keys can be neither read nor written",
                "nodes 'a' and 'b' are both host:1: one server can't be two replicas",
            ]
        );
    }

    #[test]
    fn bad_json_is_one_problem() {
        assert_eq!(problems("{").len(), 1);
    }
}
