//! Node-to-node and router-to-node operations: the versioned writes replication uses
//! (VSET, VDEL, VFLUSH), shard copies (SHARD_DUMP), the cluster's status and anti-entropy
//! operations (NODE_STATUS, DIGEST, BUCKET_DUMP, SHARD_SYNC), the per-shard keyspace
//! operations routers use (SHARD_COUNT, SHARD_SCAN) and the coordinator's (RMW, FENCE).
//! Routers and peers send them as binary opcodes; their text forms exist so the same
//! declarations parse both, and for debugging.

mod coord_ops;
mod node_ops;
mod shard_dump;
mod shard_ops;
mod versioned;

pub use coord_ops::{Fence, FenceArgs, Rmw, RmwArgs, rmw_command};
pub use node_ops::{
    BucketDump, BucketDumpArgs, Digest, DigestArgs, NodeStatus, Sync, SyncArgs, needs_cluster,
};
pub use shard_dump::{ShardDump, ShardDumpArgs};
pub use shard_ops::{ShardCount, ShardScan, VFlush};
pub use versioned::{MAX_VERSION_SKEW, RmwIds, VDel, VDelArgs, VSet, VSetArgs, vset_ttl};
