//! The cluster's shard map, below both the server and the router: the JSON file format and
//! its validation ([`ShardMap`]), the key hash that places a key in a shard ([`hash`]), why a map
//! is refused ([`MapError`]), every problem of one map at once ([`check`]), planning balanced
//! maps and their next versions with the fewest moves ([`plan`], behind `shale map`) and the
//! watcher that follows the file ([`watch`]).
//!
//! Owns: what the map says and whether it is well formed. Does not own: what a node or a
//! router does with a new map (copying shards, reconnecting, routing): those are theirs.

pub mod check;
mod error;
mod flow;
pub mod hash;
mod map;
pub mod plan;
mod syntax;
pub mod watch;

pub use error::{MapError, MapProblem};
pub use hash::{fnv1_32, shard_for_key};
pub use map::{MAX_MAP_FILE_BYTES, MAX_SHARDS_IN_MAP, NodeSpec, ShardMap, ShardMapBuilder};
pub use watch::{MAP_POLL_INTERVAL, MapUpdates, MapWatcher};
