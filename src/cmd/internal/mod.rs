//! Node-to-node and router-to-node operations: the versioned writes replication uses
//! (VSET, VDEL) and shard copies (SHARD_DUMP). Routers send them as binary opcodes; their
//! text forms exist so the same declarations parse both, and for debugging.

mod shard_dump;
mod versioned;

pub use shard_dump::{ShardDump, ShardDumpArgs};
pub use versioned::{MAX_VERSION_SKEW, VDel, VDelArgs, VSet, VSetArgs};
