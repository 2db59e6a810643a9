//! Why a shard map was rejected: one variant per problem, each message naming the shard,
//! node or file at fault.

use std::path::PathBuf;

/// Why a shard map was rejected. The message names the offending shard, node or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The text is not JSON of the expected shape; serde's message carries line and column.
    #[error("shard map is not valid JSON: {source}")]
    Json {
        /// The parser's error, with `line()` and `column()`.
        #[from]
        source: serde_json::Error,
    },
    /// `numShards` is 0.
    #[error("numShards must be at least 1")]
    NoShards,
    /// `numShards` is over [`MAX_SHARDS_IN_MAP`](super::map::MAX_SHARDS_IN_MAP).
    #[error("numShards {num_shards} exceeds the limit of {max}")]
    TooManyShards {
        /// The declared count.
        num_shards: u64,
        /// [`MAX_SHARDS_IN_MAP`](super::map::MAX_SHARDS_IN_MAP).
        max: u32,
    },
    /// A key of `"shards"` is not a decimal integer.
    #[error("shard key '{key}' is not an integer")]
    ShardKeyNotInteger {
        /// The key as written.
        key: String,
    },
    /// A shard number outside `1..=numShards`.
    #[error("shard {shard} is out of range 1..={num_shards}")]
    ShardOutOfRange {
        /// The shard as written (it may not fit in a `u32`).
        shard: String,
        /// The map's shard count.
        num_shards: u32,
    },
    /// The same shard appears twice in `"shards"` (for example as `"2"` and `"02"`).
    #[error("shard {shard} is listed twice")]
    DuplicateShard {
        /// The shard number.
        shard: u32,
    },
    /// A shard lists a node that `"nodes"` does not define.
    #[error("shard {shard} names unknown node '{node}'")]
    UnknownNode {
        /// The shard number.
        shard: u32,
        /// The undefined node name.
        node: String,
    },
    /// A shard lists the same node twice.
    #[error("shard {shard} lists node '{node}' twice")]
    DuplicateReplica {
        /// The shard number.
        shard: u32,
        /// The repeated node name.
        node: String,
    },
    /// `"nodes"` defines the same name twice.
    #[error("node '{node}' is defined twice")]
    DuplicateNode {
        /// The repeated node name.
        node: String,
    },
    /// A node name is the empty string.
    #[error("a node has an empty name")]
    EmptyNodeName,
    /// A node's weight is 0; weights must be at least 1.
    #[error("node '{node}' has weight 0; weights must be at least 1")]
    ZeroWeight {
        /// The node name.
        node: String,
    },
    /// A node's port is 0.
    #[error("node '{node}' has port 0")]
    ZeroPort {
        /// The node name.
        node: String,
    },
    /// A node's address is neither an IP address nor a valid hostname.
    #[error("node '{node}' has address '{address}', which is not an IP address or hostname")]
    BadAddress {
        /// The node name.
        node: String,
        /// The address as written.
        address: String,
    },
    /// [`super::ShardMapBuilder::weight`] was called before any [`super::ShardMapBuilder::node`].
    #[error("builder: weight() called before any node()")]
    WeightWithoutNode,
    /// The map file could not be opened or read.
    #[error("cannot read shard map {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The map is well formed but would lose data or contradict itself (or, as a change,
    /// the map in force): every problem found, one per line in the message.
    #[error("shard map refused: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused {
        /// What is wrong.
        problems: Vec<MapProblem>,
    },
    /// The map file is larger than [`MAX_MAP_FILE_BYTES`].
    #[error("shard map {} is larger than {max} bytes", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// [`MAX_MAP_FILE_BYTES`].
        max: u64,
    },
}

/// One reason a well-formed map cannot be used: it would lose data, contradict itself, or
/// (for a change) break what the map in force promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapProblem {
    /// A shard in `1..=numShards` has no replicas: its keys would have nowhere to live.
    #[error("shard {shard} has no replicas (every shard 1..=numShards needs at least one)")]
    NoReplicas {
        /// The shard.
        shard: u32,
    },
    /// Two nodes share one address and port: one of them is not the process it names.
    #[error("nodes '{first}' and '{second}' both have address {addr}")]
    SharedAddress {
        /// One node.
        first: String,
        /// The other.
        second: String,
        /// `host:port`.
        addr: String,
    },
    /// `numShards` differs from the map in force: every key would move to another shard.
    #[error(
        "numShards changed from {old} to {new}: keys would change shards (resharding a live cluster is not supported)"
    )]
    NumShardsChanged {
        /// The map in force.
        old: u32,
        /// The new map.
        new: u32,
    },
    /// A node that hosts shards in the map in force is gone from `"nodes"`, so its new
    /// replicas could not find it to copy from.
    #[error(
        "node '{node}' is removed while it still hosts shards {shards:?}: first move its shards away (keeping it in \"nodes\"), then remove it"
    )]
    NodeRemovedWithShards {
        /// The node.
        node: String,
        /// Its shards in the map in force.
        shards: Vec<u32>,
    },
}
