//! Shard ownership for a server that is one node of a cluster (`--shardmap --node`): keys
//! of shards the node does not host are answered WRONG_SHARD, so a stale router or a
//! misdirected client can't write where nobody will read. The map is followed live.

use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::{Command, ErrorReply, Status};
use crate::router::watch::MapWatcher;

/// Which shards this node serves, per the current map.
#[derive(Debug, Clone)]
pub struct ShardFilter {
    watcher: Arc<MapWatcher>,
    node: String,
}

impl ShardFilter {
    /// Serve the shards `node` hosts in the map `watcher` follows.
    pub fn new(watcher: Arc<MapWatcher>, node: impl Into<String>) -> Self {
        Self { watcher, node: node.into() }
    }

    /// The node name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The map being followed.
    pub fn watcher(&self) -> &Arc<MapWatcher> {
        &self.watcher
    }

    /// WRONG_SHARD for the first key of `command` this node does not host.
    pub fn check(&self, command: &Command) -> Result<(), ErrorReply> {
        let map = self.watcher.load();
        let check = |key: &Bytes| {
            let shard = map.shard_for_key(key);
            if map.hosts(&self.node, shard) {
                return Ok(());
            }
            let msg = format!("shard {shard} is not hosted by node {}", self.node);
            Err(ErrorReply::new(Status::WrongShard, msg))
        };
        match command {
            Command::Get(k) | Command::Persist(k) => check(k),
            Command::Ttl { key, .. } | Command::Expire { key, .. } => check(key),
            Command::Set(args) => check(&args.key),
            Command::Del(keys) | Command::Exists(keys) | Command::MGet(keys) => {
                keys.iter().try_for_each(check)
            }
            Command::MSet(pairs) => pairs.iter().try_for_each(|(k, _)| check(k)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::shardmap::ShardMap;

    #[test]
    fn keys_of_unhosted_shards_are_wrong_shard() {
        // "abc" is in shard 4 of 8.
        let map = ShardMap::builder(8)
            .node("n1", "127.0.0.1", 7401)
            .node("n2", "127.0.0.1", 7402)
            .shard(4, &["n1"])
            .build()
            .unwrap();
        let watcher = MapWatcher::new("unused.json".into(), map);
        let n1 = ShardFilter::new(watcher.clone(), "n1");
        let n2 = ShardFilter::new(watcher, "n2");
        let get = Command::Get(Bytes::from_static(b"abc"));
        assert!(n1.check(&get).is_ok());
        assert_eq!(n2.check(&get).unwrap_err().status, Status::WrongShard);
        assert!(n2.check(&Command::DbSize).is_ok(), "keyless commands pass");
    }
}
