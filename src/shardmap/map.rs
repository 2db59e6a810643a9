//! The shard map: how many shards there are, which nodes exist and which nodes hold each shard.
//!
//! Owns: the JSON file format, its validation ([`MapError`] names every problem found) and the
//! read-only lookups the router makes per request. Does not own: key hashing (see
//! [`super::hash`]), reloading the file (see [`super::watch`]), health or replica selection.
//!
//! # Format
//!
//! ```json
//! {
//!   "numShards": 8,
//!   "nodes": {
//!     "n1": { "address": "127.0.0.1", "port": 7401, "weight": 2 },
//!     "n2": { "address": "cache-2.internal", "port": 7401 }
//!   },
//!   "shards": { "1": ["n1", "n2"], "2": ["n2"] }
//! }
//! ```
//!
//! Shards are numbered `1..=numShards`. A shard missing from `"shards"` or mapped to `[]` has
//! no replicas. `"weight"` defaults to 1. Unknown fields are ignored at every level, so newer
//! tools can add fields without breaking older routers. Duplicate keys inside `"nodes"` or
//! `"shards"` are rejected rather than silently letting the last one win.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;

use std::path::Path;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub use super::error::{MapError, MapProblem};
use super::syntax::{is_ip_or_hostname, parse_shard_key};

/// Largest `numShards` a map may declare. The map keeps one entry per shard, so this bounds
/// the memory a hostile or mistyped file can make the router allocate.
pub const MAX_SHARDS_IN_MAP: u32 = 65_536;

/// Largest map file [`ShardMap::load`] will read, in bytes.
pub const MAX_MAP_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// One cache node named by the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// The node's name, the key in `"nodes"`.
    pub name: String,
    /// IP address or hostname, without brackets or port.
    pub address: String,
    /// TCP port, never 0.
    pub port: u16,
    /// Relative weight for replica selection, at least 1.
    pub weight: u32,
}

impl NodeSpec {
    /// `host:port`, with an IPv6 address bracketed (`[::1]:7401`) so it parses as a socket
    /// address.
    pub fn addr_string(&self) -> String {
        if self.address.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

/// A validated shard map. Immutable: a new file produces a new map (see [`super::watch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMap {
    num_shards: u32,
    /// Keyed by name, so iteration is sorted by name.
    nodes: BTreeMap<String, NodeSpec>,
    /// `replicas[shard - 1]`, in the order the file lists them.
    replicas: Vec<Vec<String>>,
    /// Each node's shards, sorted: derived from `replicas` so `hosts` is a lookup plus a
    /// binary search instead of a scan.
    hosted: BTreeMap<String, Vec<u32>>,
}

impl ShardMap {
    /// Parses and validates a map from JSON text.
    pub fn from_json(text: &str) -> Result<Self, MapError> {
        let raw: RawMap = serde_json::from_str(text)?;
        raw.validate()
    }

    /// The problems that make this well-formed map unusable: shards with no replicas, nodes
    /// sharing an address. Empty when it can be used.
    pub fn problems(&self) -> Vec<MapProblem> {
        let mut out: Vec<MapProblem> = (1..=self.num_shards)
            .filter(|&s| self.replicas(s).is_empty())
            .map(|shard| MapProblem::NoReplicas { shard })
            .collect();
        let mut by_addr: BTreeMap<String, &str> = BTreeMap::new();
        for node in self.nodes.values() {
            let addr = node.addr_string().to_ascii_lowercase();
            if let Some(first) = by_addr.insert(addr.clone(), &node.name) {
                let (first, second) = (first.to_owned(), node.name.clone());
                out.push(MapProblem::SharedAddress { first, second, addr });
            }
        }
        out
    }

    /// The problems of replacing the map in force (`self`) with `next`: those of `next`
    /// itself, a changed `numShards`, and nodes removed while they still host shards.
    pub fn change_problems(&self, next: &ShardMap) -> Vec<MapProblem> {
        let mut out = next.problems();
        if next.num_shards != self.num_shards {
            out.push(MapProblem::NumShardsChanged { old: self.num_shards, new: next.num_shards });
        }
        for (node, shards) in &self.hosted {
            if !shards.is_empty() && next.node(node).is_none() {
                out.push(MapProblem::NodeRemovedWithShards {
                    node: node.clone(),
                    shards: shards.clone(),
                });
            }
        }
        out
    }

    /// This map if it has no [`ShardMap::problems`], else [`MapError::Refused`].
    pub fn usable(self) -> Result<Self, MapError> {
        let problems = self.problems();
        if problems.is_empty() { Ok(self) } else { Err(MapError::Refused { problems }) }
    }

    /// Reads and validates a map file, refusing files over [`MAX_MAP_FILE_BYTES`].
    pub fn load(path: &Path) -> Result<Self, MapError> {
        let unreadable = |source| MapError::Unreadable { path: path.to_owned(), source };
        let too_large =
            || MapError::FileTooLarge { path: path.to_owned(), max: MAX_MAP_FILE_BYTES };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        // The length check is a fast path; `take` is what bounds the read, because the file
        // may grow between the stat and the read, or report no length at all.
        if file.metadata().map_err(unreadable)?.len() > MAX_MAP_FILE_BYTES {
            return Err(too_large());
        }
        let mut text = String::new();
        file.take(MAX_MAP_FILE_BYTES + 1).read_to_string(&mut text).map_err(unreadable)?;
        if text.len() as u64 > MAX_MAP_FILE_BYTES {
            return Err(too_large());
        }
        Self::from_json(&text)
    }

    /// Canonical pretty JSON in the file format: nodes sorted by name, every shard `1..=N`
    /// listed (empty ones as `[]`), weights explicit. Round-trips through [`Self::from_json`].
    pub fn to_json(&self) -> String {
        let out =
            MapOut { num_shards: self.num_shards, nodes: &self.nodes, shards: &self.replicas };
        // Cannot fail: every map key is a string and no Serialize impl here returns an error.
        serde_json::to_string_pretty(&out).expect("shard map serialization is infallible")
    }

    /// A hash of where keys live: `numShards` and each shard's replica names in order, not
    /// addresses or weights (a router may reach nodes by other addresses than their peers
    /// do). Nodes report it in NODE_STATUS so peers and routers can tell who places keys
    /// by another map.
    pub fn placement_hash(&self) -> u64 {
        let mut text = self.num_shards.to_string();
        for replicas in &self.replicas {
            text.push('\n');
            text.push_str(&replicas.join(","));
        }
        u64::from(super::fnv1_32(text.as_bytes()))
    }

    /// What nodes before [`Self::placement_hash`] reported: a hash of the canonical JSON.
    pub fn json_hash(&self) -> u64 {
        u64::from(super::fnv1_32(self.to_json().as_bytes()))
    }

    /// The number of shards, at least 1.
    pub fn num_shards(&self) -> u32 {
        self.num_shards
    }

    /// The 1-based shard that owns `key`.
    pub fn shard_for_key(&self, key: &[u8]) -> u32 {
        super::hash::shard_for_key(key, self.num_shards)
    }

    /// The nodes holding `shard`, in file order; empty for an unknown or unassigned shard.
    pub fn replicas(&self, shard: u32) -> &[String] {
        let index = shard.checked_sub(1).map(|i| i as usize);
        index.and_then(|i| self.replicas.get(i)).map_or(&[], Vec::as_slice)
    }

    /// Every node, sorted by name.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.values()
    }

    /// The node called `name`, if the map defines it.
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.get(name)
    }

    /// The shards `node` holds, sorted; empty for an unknown node.
    pub fn shards_of(&self, node: &str) -> Vec<u32> {
        self.hosted.get(node).cloned().unwrap_or_default()
    }

    /// Whether `node` holds `shard`. O(log nodes + log shards).
    pub fn hosts(&self, node: &str, shard: u32) -> bool {
        self.hosted.get(node).is_some_and(|shards| shards.binary_search(&shard).is_ok())
    }

    /// One shard with no replicas and no nodes: what a watcher holds before its file first
    /// exists (see [`super::MapWatcher::waiting`]). Routes nothing anywhere.
    pub(super) fn placeholder() -> Self {
        Self {
            num_shards: 1,
            nodes: BTreeMap::new(),
            replicas: vec![Vec::new()],
            hosted: BTreeMap::new(),
        }
    }

    /// Starts building a map in code (for `shale cluster` and tests).
    pub fn builder(num_shards: u32) -> ShardMapBuilder {
        ShardMapBuilder {
            raw: RawMap {
                num_shards: u64::from(num_shards),
                nodes: Vec::new(),
                shards: Vec::new(),
            },
            misuse: None,
        }
    }
}

/// Builds a [`ShardMap`] in code; [`Self::build`] applies the same validation as a file.
///
/// ```
/// use shale::shardmap::ShardMap;
/// let map = ShardMap::builder(2)
///     .node("n1", "127.0.0.1", 7401)
///     .weight(3)
///     .node("n2", "::1", 7402)
///     .shard(1, &["n1", "n2"])
///     .build()
///     .unwrap();
/// assert_eq!(map.replicas(1), ["n1", "n2"]);
/// assert_eq!(map.node("n2").unwrap().addr_string(), "[::1]:7402");
/// ```
#[derive(Debug)]
#[must_use = "call build() to get the map"]
pub struct ShardMapBuilder {
    raw: RawMap,
    /// A misuse of the builder, reported by `build` rather than panicking.
    misuse: Option<MapError>,
}

impl ShardMapBuilder {
    /// Adds a node with weight 1.
    pub fn node(mut self, name: &str, address: &str, port: u16) -> Self {
        let node = RawNode { address: address.to_owned(), port, weight: 1 };
        self.raw.nodes.push((name.to_owned(), node));
        self
    }

    /// Sets the weight of the node added last.
    pub fn weight(mut self, weight: u32) -> Self {
        match self.raw.nodes.last_mut() {
            Some((_, node)) => node.weight = weight,
            None => self.misuse = self.misuse.or(Some(MapError::WeightWithoutNode)),
        }
        self
    }

    /// Assigns `nodes` (in order) to `shard`.
    pub fn shard(mut self, shard: u32, nodes: &[&str]) -> Self {
        let names = nodes.iter().map(|n| (*n).to_owned()).collect();
        self.raw.shards.push((shard.to_string(), names));
        self
    }

    /// Validates and returns the map.
    pub fn build(self) -> Result<ShardMap, MapError> {
        match self.misuse {
            Some(err) => Err(err),
            None => self.raw.validate(),
        }
    }
}

/// The file as parsed, before validation. Object entries are kept as lists so duplicate
/// keys can be reported instead of silently overwritten.
#[derive(Debug, Deserialize)]
struct RawMap {
    #[serde(rename = "numShards")]
    num_shards: u64,
    #[serde(default, deserialize_with = "entries")]
    nodes: Vec<(String, RawNode)>,
    #[serde(default, deserialize_with = "entries")]
    shards: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Deserialize, Serialize)]
struct RawNode {
    address: String,
    port: u16,
    #[serde(default = "default_weight")]
    weight: u32,
}

fn default_weight() -> u32 {
    1
}

impl RawMap {
    fn validate(self) -> Result<ShardMap, MapError> {
        self.check().map_err(|mut errors| errors.swap_remove(0))
    }

    /// The map, or every problem found (at least one), in file order. Checking goes on past
    /// a problem wherever what follows can still be judged.
    fn check(self) -> Result<ShardMap, Vec<MapError>> {
        let mut errors = Vec::new();
        let num_shards = match self.num_shards {
            0 => Err(MapError::NoShards),
            n if n > u64::from(MAX_SHARDS_IN_MAP) => {
                Err(MapError::TooManyShards { num_shards: n, max: MAX_SHARDS_IN_MAP })
            }
            n => Ok(n as u32), // In range: checked just above.
        };
        let num_shards = num_shards.map_err(|e| errors.push(e)).ok();
        let mut nodes = BTreeMap::new();
        // Every name given, valid or not, so a bad node is not reported again as unknown.
        let mut named = BTreeSet::new();
        for (name, raw) in self.nodes {
            let fresh = named.insert(name.clone());
            match validate_node(name, raw) {
                Ok(spec) if !fresh => errors.push(MapError::DuplicateNode { node: spec.name }),
                Ok(spec) => drop(nodes.insert(spec.name.clone(), spec)),
                Err(e) => errors.push(e),
            }
        }
        let mut replicas = vec![Vec::new(); num_shards.unwrap_or(0) as usize];
        let mut seen = BTreeSet::new();
        let mut hosted: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (key, names) in self.shards {
            let shard = match parse_shard_key(&key, num_shards.unwrap_or(MAX_SHARDS_IN_MAP)) {
                Ok(shard) if !seen.insert(shard) => Err(MapError::DuplicateShard { shard }),
                other => other,
            };
            let Some(shard) = shard.map_err(|e| errors.push(e)).ok() else { continue };
            for name in &names {
                let held = hosted.entry(name.clone()).or_default();
                if !named.contains(name) {
                    errors.push(MapError::UnknownNode { shard, node: name.clone() });
                } else if held.last() == Some(&shard) {
                    errors.push(MapError::DuplicateReplica { shard, node: name.clone() });
                } else {
                    held.push(shard);
                }
            }
            if let Some(slot) = replicas.get_mut(shard as usize - 1) {
                *slot = names;
            }
        }
        let Some(num_shards) = num_shards.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        // Shards arrive in file order, not numeric order.
        hosted.retain(|_, shards| !shards.is_empty());
        hosted.values_mut().for_each(|shards| shards.sort_unstable());
        Ok(ShardMap { num_shards, nodes, replicas, hosted })
    }
}

/// Every problem of the map in `text` (at least one), or the map if it has none.
pub(super) fn check_json(text: &str) -> Result<ShardMap, Vec<MapError>> {
    let raw: RawMap = serde_json::from_str(text).map_err(|e| vec![MapError::from(e)])?;
    raw.check()
}

fn validate_node(name: String, raw: RawNode) -> Result<NodeSpec, MapError> {
    if name.is_empty() {
        return Err(MapError::EmptyNodeName);
    }
    if raw.port == 0 {
        return Err(MapError::ZeroPort { node: name });
    }
    if raw.weight == 0 {
        return Err(MapError::ZeroWeight { node: name });
    }
    if !is_ip_or_hostname(&raw.address) {
        return Err(MapError::BadAddress { node: name, address: raw.address });
    }
    Ok(NodeSpec { name, address: raw.address, port: raw.port, weight: raw.weight })
}

/// Deserializes a JSON object into its entries in file order, keeping duplicate keys.
fn entries<'de, D, V>(deserializer: D) -> Result<Vec<(String, V)>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Entries<V>(PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
        type Value = Vec<(String, V)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(Entries(PhantomData))
}

/// The canonical output shape, borrowing from the map.
#[derive(Serialize)]
struct MapOut<'a> {
    #[serde(rename = "numShards")]
    num_shards: u32,
    #[serde(serialize_with = "nodes_out")]
    nodes: &'a BTreeMap<String, NodeSpec>,
    #[serde(serialize_with = "shards_out")]
    shards: &'a [Vec<String>],
}

fn nodes_out<S: Serializer>(nodes: &&BTreeMap<String, NodeSpec>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(nodes.iter().map(|(name, n)| {
        (name, RawNode { address: n.address.clone(), port: n.port, weight: n.weight })
    }))
}

/// Shards in numeric order; a `BTreeMap<String, _>` would put "10" before "2".
fn shards_out<S: Serializer>(shards: &&[Vec<String>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(shards.iter().enumerate().map(|(i, names)| ((i + 1).to_string(), names)))
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;
