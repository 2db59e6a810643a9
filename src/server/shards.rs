//! Shard ownership for a server that is one node of a cluster (`--shardmap --node`).
//!
//! The node serves a shard's reads only once the shard is *ready* (copied from a peer);
//! while it is being copied, versioned writes from routers are accepted (last-writer-wins
//! merges them with the copy, so nothing written meanwhile is lost) and everything else
//! answers WRONG_SHARD. Keys of shards the node does not host always get WRONG_SHARD. The
//! state here is what [`super::sync`] has applied, not merely what the map file says, so
//! a shard removed and re-added is never served before its old data is gone and its new
//! copy is complete.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::cmd::{Command, Route};
use crate::protocol::{ErrorReply, Status};
use crate::shardmap::ShardMap;
use crate::shardmap::watch::MapWatcher;

/// The map being served and which of the node's shards are ready.
#[derive(Debug, Clone)]
pub struct Served {
    /// The map applied so far.
    pub map: Arc<ShardMap>,
    /// `ready[s - 1]`: shard `s` is hosted here and fully copied.
    pub ready: Vec<bool>,
}

impl Served {
    fn is_ready(&self, shard: u32) -> bool {
        usize::try_from(shard).ok().and_then(|s| self.ready.get(s.wrapping_sub(1))).copied()
            == Some(true)
    }
}

/// Which shards this node serves.
#[derive(Debug)]
pub struct ShardFilter {
    watcher: Arc<MapWatcher>,
    node: String,
    served: ArcSwap<Served>,
}

impl ShardFilter {
    /// Serve the shards `node` hosts in the map `watcher` follows; none is ready until
    /// [`super::sync`] has copied it.
    pub fn new(watcher: Arc<MapWatcher>, node: impl Into<String>) -> Arc<Self> {
        let map = watcher.current();
        let ready = vec![false; map.num_shards() as usize];
        Arc::new(Self {
            watcher,
            node: node.into(),
            served: ArcSwap::from_pointee(Served { map, ready }),
        })
    }

    /// The node name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The map file being followed.
    pub fn watcher(&self) -> &Arc<MapWatcher> {
        &self.watcher
    }

    /// What is served now.
    pub fn served(&self) -> Arc<Served> {
        self.served.load_full()
    }

    /// Publishes a new served state.
    pub fn publish(&self, served: Served) {
        self.served.store(Arc::new(served));
    }

    /// Whether `shard` is ready (hosted and copied).
    pub fn is_ready(&self, shard: u32) -> bool {
        self.served.load().is_ready(shard)
    }

    /// WRONG_SHARD for the first key of `command` this node may not answer now. Every key
    /// a command names is checked (its declaration lists them), so a new command cannot
    /// skip the check; the internal versioned writes (VSET, VDEL) are also accepted for a
    /// shard still being copied. Whether a shard may be dumped is [`super::env`]'s check.
    pub fn check(&self, command: &Command) -> Result<(), ErrorReply> {
        let served = self.served.load();
        let write_only = command.route() == Route::Internal;
        command.keys().try_for_each(|key| {
            let shard = served.map.shard_for_key(key);
            if served.is_ready(shard) || (write_only && served.map.hosts(&self.node, shard)) {
                return Ok(());
            }
            let msg = if served.map.hosts(&self.node, shard) {
                format!("shard {shard} is still being copied to node {}", self.node)
            } else {
                format!("shard {shard} is not hosted by node {}", self.node)
            };
            Err(ErrorReply::new(Status::WrongShard, msg))
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::cmd::internal::VSetArgs;

    fn filter(node: &str) -> Arc<ShardFilter> {
        // "abc" is in shard 4 of 8; n1 hosts it, n2 does not.
        let map = ShardMap::builder(8)
            .node("n1", "127.0.0.1", 7401)
            .node("n2", "127.0.0.1", 7402)
            .shard(4, &["n1"])
            .build()
            .unwrap();
        ShardFilter::new(MapWatcher::new("unused.json".into(), map), node)
    }

    fn ready_all(f: &ShardFilter) {
        let mut served = (*f.served()).clone();
        served.ready = (1..=8).map(|s| served.map.hosts(f.node(), s)).collect();
        f.publish(served);
    }

    #[test]
    fn keys_of_unhosted_shards_are_wrong_shard() {
        let (n1, n2) = (filter("n1"), filter("n2"));
        ready_all(&n1);
        ready_all(&n2);
        let get = Command::Get(Bytes::from_static(b"abc"));
        assert!(n1.check(&get).is_ok());
        assert_eq!(n2.check(&get).unwrap_err().status, Status::WrongShard);
        assert!(n2.check(&Command::DbSize(())).is_ok(), "keyless commands pass");
        let mget = Command::MGet(vec![Bytes::from_static(b"zz"), Bytes::from_static(b"abc")]);
        assert!(n2.check(&mget).is_err(), "every key of a multi-key command is checked");
    }

    #[test]
    fn a_shard_being_copied_takes_versioned_writes_only() {
        let n1 = filter("n1");
        let key = Bytes::from_static(b"abc");
        let get = Command::Get(key.clone());
        let vset = Command::VSet(VSetArgs { key, value: Bytes::new(), ttl: None, version: 1 });
        assert!(n1.check(&get).unwrap_err().message.contains("being copied"));
        assert!(!n1.is_ready(4), "a half-copied shard is no copy source");
        assert!(n1.check(&vset).is_ok());
        ready_all(&n1);
        assert!(n1.check(&get).is_ok() && n1.is_ready(4));
    }
}
