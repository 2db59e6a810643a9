//! Which commands a node answers for a shard, by the shard's state on this node:
//!
//! | command                        | Ready | Copying | Isolated | Retiring | NotHosted |
//! |--------------------------------|-------|---------|----------|----------|-----------|
//! | VSET / VDEL (router writes)    | yes   | yes     | yes      | WRONGSHARD| WRONGSHARD|
//! | VSET / VDEL flagged MOVER      | yes   | yes     | yes      | yes      | WRONGSHARD|
//! | reads (GET, TTL, EXISTS, MGET) | yes   | NOTREADY| NOTREADY | yes      | WRONGSHARD|
//! | plain writes (SET, DEL, ...)   | yes   | NOTREADY| NOTREADY | WRONGSHARD| WRONGSHARD|
//! | DIGEST, BUCKET_DUMP (peers)    | yes   | yes     | NOTREADY | yes      | WRONGSHARD|
//! | SHARD_DUMP (a full copy)       | yes   | NOTREADY| NOTREADY | yes      | WRONGSHARD|
//! | SYNC                           | yes   | yes     | yes      | WRONGSHARD| WRONGSHARD|
//! | RMW (a read-modify-write)      | yes*  | NOTCOORD| NOTCOORD | WRONGSHARD| WRONGSHARD|
//! | FENCE                          | yes   | yes     | yes      | yes      | yes       |
//!
//! \* only while this node coordinates the shard (`coord.rs`); otherwise NOT_COORDINATOR
//! naming the node it believes does, or NOT_READY while none is known or it is taking over.
//! A Copying or Isolated replica answers an RMW NOT_COORDINATOR too (NOT_READY if it knows
//! of no coordinator): it cannot coordinate, and the router should go where one does.
//!
//! A router writes an old replica during a move as a *mover* (`FLAG_MOVER`), alongside the
//! new replicas; a Retiring shard takes only those. A write sent to it as a replica comes
//! from a router still on the map before the move: the new replicas may have copied
//! already, so it would be lost when the old replica drops the shard. WRONG_SHARD makes
//! that router reload its map and write the new replicas instead.
//!
//! A copying replica's partial data is still worth pulling (it may hold writes only it
//! acknowledged), but an isolated one's is not: it may hold keys whose deletes it missed.

use super::{Node, Shards};
use crate::cmd::internal::{VDelArgs, VSetArgs};
use crate::cmd::{Command, Flag, Route};
use crate::protocol::cluster::ShardState;
use crate::protocol::rmw::not_coordinator_message;
use crate::protocol::{ErrorReply, Status};

/// What a command does with a shard, for admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A router's VSET/VDEL to this node as a replica of the shard.
    ReplicaWrite,
    /// Other internal writes, and a router's VSET/VDEL to this node as a mover.
    Versioned,
    Read,
    Write,
    Peer,
    FullDump,
    Sync,
}

impl Access {
    fn allowed(self, state: ShardState) -> Result<(), Status> {
        use ShardState::{Copying, Isolated, NotHosted, Ready, Retiring};
        match (self, state) {
            (_, NotHosted) | (Access::ReplicaWrite, Retiring) => Err(Status::WrongShard),
            (_, Ready) | (Access::Versioned | Access::ReplicaWrite, _) => Ok(()),
            (Access::Read | Access::Peer | Access::FullDump, Retiring) => Ok(()),
            (Access::Peer | Access::Sync, Copying) | (Access::Sync, Isolated) => Ok(()),
            (Access::Write | Access::Sync, Retiring) => Err(Status::WrongShard),
            (Access::Read | Access::Write | Access::FullDump, Copying | Isolated) => {
                Err(Status::NotReady)
            }
            (Access::Peer, Isolated) => Err(Status::NotReady),
        }
    }
}

impl Node {
    /// WRONG_SHARD or NOT_READY for the first key (or shard) of `command` this node may not
    /// answer now; `Ok` for commands without keys. Every key a command's declaration names
    /// is checked, by what the declaration says the command does with it, so a new
    /// command cannot skip the check.
    pub fn check(&self, command: &Command) -> Result<(), ErrorReply> {
        let shards = self.shards.load_full();
        let shards = &*shards;
        if let Command::Rmw(inner) = command {
            return self.rmw_shard(shards, &inner.command).map(|_| ());
        }
        if let Some((shard, access)) = shard_operation(command) {
            return self.admit(shards, shard, access);
        }
        if let Some((num_shards, listed)) = shards_counted(command) {
            self.same_map(shards, num_shards)?;
            return listed.iter().try_for_each(|&s| self.admit(shards, s, Access::Read));
        }
        let spec = command.full_spec();
        let access = if let Command::VSet(VSetArgs { mover: false, .. })
        | Command::VDel(VDelArgs { mover: false, .. }) = command
        {
            Access::ReplicaWrite
        } else if spec.route == Route::Internal {
            Access::Versioned
        } else if spec.has(Flag::Write) {
            Access::Write
        } else {
            Access::Read
        };
        command.keys().try_for_each(|key| self.admit(shards, shards.map.shard_for_key(key), access))
    }

    /// A router whose map has another shard count means other shards by the same numbers.
    fn same_map(&self, shards: &Shards, num_shards: u32) -> Result<(), ErrorReply> {
        let mine = shards.map.num_shards();
        if num_shards == mine {
            return Ok(());
        }
        let msg = format!("the request's map has {num_shards} shards, node {}'s {mine}", self.name);
        Err(ErrorReply::new(Status::WrongShard, msg))
    }

    /// The shard an RMW request's command runs in, once it is admitted: a read-modify-write
    /// (or same-shard) command whose keys all lie in one shard this node may write.
    pub(super) fn rmw_shard(&self, shards: &Shards, inner: &Command) -> Result<u32, ErrorReply> {
        // Reads too: a router reads on the coordinator for a client that watches keys.
        if !matches!(inner.route(), Route::ReadModifyWrite | Route::SameShard | Route::Read) {
            let msg = format!("RMW runs read-modify-write commands, not '{}'", inner.name());
            return Err(ErrorReply::invalid(msg));
        }
        let mut keys = inner.keys();
        let first =
            keys.next().ok_or_else(|| ErrorReply::invalid("RMW of a command without keys"))?;
        let shard = shards.map.shard_for_key(first);
        if keys.any(|k| shards.map.shard_for_key(k) != shard) {
            return Err(ErrorReply::invalid("RMW of a command whose keys are in several shards"));
        }
        self.admit(shards, shard, Access::Write).map_err(|e| {
            // A replica not ready for the shard cannot coordinate it: point at the one that
            // does, so a router does not wait here for a copy to finish.
            match self.coord.believed(shard) {
                Some(other) if e.status == Status::NotReady && other != self.name => {
                    let msg = not_coordinator_message(&self.name, shard, Some(&other));
                    ErrorReply::new(Status::NotCoordinator, msg)
                }
                _ => e,
            }
        })?;
        Ok(shard)
    }

    fn admit(&self, shards: &Shards, shard: u32, access: Access) -> Result<(), ErrorReply> {
        let mut state = shards.state(shard);
        // A shard out of touch with its peers for half the grace is isolated even before
        // the lifecycle task says so (it may have been paused): peers must not pull from
        // it, or keys whose tombstones they dropped would come back.
        if matches!(access, Access::Peer | Access::FullDump) && self.out_of_touch(shards, shard) {
            state = ShardState::Isolated;
        }
        access.allowed(state).map_err(|status| {
            let msg = match (status, state) {
                (Status::WrongShard, ShardState::Retiring) => {
                    format!("shard {shard} is moving away from node {}", self.name)
                }
                (Status::WrongShard, _) => {
                    format!("shard {shard} is not hosted by node {}", self.name)
                }
                (_, ShardState::Isolated) => format!(
                    "shard {shard} on node {} is resynchronising after losing touch with its peers",
                    self.name
                ),
                _ => format!("shard {shard} is still being copied to node {}", self.name),
            };
            ErrorReply::new(status, msg)
        })
    }
}

/// The shard a peer operation names, and what it does with it.
fn shard_operation(command: &Command) -> Option<(u32, Access)> {
    match command {
        Command::ShardDump(a) => Some((a.shard, Access::FullDump)),
        Command::Digest(a) => Some((a.shard, Access::Peer)),
        Command::BucketDump(a) => Some((a.shard, Access::Peer)),
        Command::Sync(a) => Some((a.shard, Access::Sync)),
        _ => None,
    }
}

/// The shards a router's keyspace operation reads (SHARD_COUNT, SHARD_SCAN), with the
/// shard count of the router's map.
fn shards_counted(command: &Command) -> Option<(u32, &[u32])> {
    match command {
        Command::ShardCount(a) => Some((a.num_shards, &a.shards)),
        Command::ShardScan(a) => Some((a.num_shards, std::slice::from_ref(&a.shard))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::cmd::internal::{DigestArgs, ShardDumpArgs};
    use crate::shardmap::{MapWatcher, ShardMap};

    fn digest(shard: u32) -> Command {
        Command::Digest(DigestArgs { shard, fresh: false })
    }

    fn node(name: &str) -> Arc<Node> {
        // "abc" is in shard 4 of 8; n1 hosts it, n2 does not.
        let mut b =
            ShardMap::builder(8).node("n1", "127.0.0.1", 7401).node("n2", "127.0.0.1", 7402);
        for s in 1..=8 {
            b = b.shard(s, if s == 4 { &["n1"] } else { &["n1", "n2"] });
        }
        let map = b.build().unwrap();
        Node::new(MapWatcher::new("unused.json".into(), map), name, Duration::from_secs(60))
    }

    fn set_state(n: &Node, shard: u32, state: ShardState) {
        let mut s = (*n.shards()).clone();
        s.states[shard as usize - 1] = state;
        n.publish(s);
    }

    #[test]
    fn keys_of_unhosted_shards_are_wrong_shard() {
        let (n1, n2) = (node("n1"), node("n2"));
        set_state(&n1, 4, ShardState::Ready);
        let get = Command::Get(Bytes::from_static(b"abc"));
        assert!(n1.check(&get).is_ok());
        assert_eq!(n2.check(&get).unwrap_err().status, Status::WrongShard);
        assert!(n2.check(&Command::DbSize(())).is_ok(), "keyless commands pass");
        let mget = Command::MGet(vec![Bytes::from_static(b"zz"), Bytes::from_static(b"abc")]);
        assert!(n2.check(&mget).is_err(), "every key of a multi-key command is checked");
    }

    #[test]
    fn a_shard_being_copied_takes_versioned_writes_only() {
        let n1 = node("n1");
        set_state(&n1, 4, ShardState::Copying);
        let key = Bytes::from_static(b"abc");
        let get = Command::Get(key.clone());
        let vset = Command::VSet(VSetArgs {
            key,
            value: Bytes::new(),
            ttl_ms: None,
            version: 1,
            mover: false,
            ids: Default::default(),
        });
        let dump = Command::ShardDump(ShardDumpArgs { shard: 4, cursor: 0, max_items: 0 });
        let err = n1.check(&get).unwrap_err();
        assert_eq!(err.status, Status::NotReady);
        assert!(err.message.contains("being copied"), "{}", err.message);
        assert!(n1.check(&dump).is_err(), "a half-copied shard is no full copy source");
        assert!(n1.check(&digest(4)).is_ok(), "but its writes can be pulled");
        assert!(n1.check(&vset).is_ok());
        set_state(&n1, 4, ShardState::Ready);
        assert!(n1.check(&get).is_ok() && n1.check(&dump).is_ok());
    }

    #[test]
    fn an_rmw_is_admitted_as_a_write_of_a_read_modify_write_command() {
        let n1 = node("n1");
        let limits = crate::protocol::Limits::default();
        let rmw = |words: &[&str]| {
            let argv: Vec<Bytes> =
                words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
            let command = crate::cmd::parse(&argv.into(), &limits).unwrap();
            Command::Rmw(Box::new(crate::cmd::internal::RmwArgs { id: 0, command }))
        };
        set_state(&n1, 4, ShardState::Ready);
        assert!(n1.check(&rmw(&["expire", "abc", "10"])).is_ok());
        n1.check(&rmw(&["get", "abc"])).expect("a read on the coordinator (WATCH)");
        let ping = n1.check(&rmw(&["dbsize"])).unwrap_err();
        assert!(ping.message.contains("not 'dbsize'"), "{}", ping.message);
        set_state(&n1, 4, ShardState::Copying);
        let copying = n1.check(&rmw(&["persist", "abc"])).unwrap_err();
        assert_eq!(copying.status, Status::NotReady, "no coordinator known yet");
        n1.coord.believe(4, Some("n2"));
        let copying = n1.check(&rmw(&["persist", "abc"])).unwrap_err();
        assert_eq!(copying.status, Status::NotCoordinator, "pointed at the coordinator");
        assert!(copying.message.ends_with("coordinator=n2"), "{}", copying.message);
        assert_eq!(
            node("n2").check(&rmw(&["persist", "abc"])).unwrap_err().status,
            Status::WrongShard
        );
    }

    #[test]
    fn a_retiring_shard_serves_reads_until_it_is_dropped() {
        let n1 = node("n1");
        set_state(&n1, 4, ShardState::Retiring);
        let key = Bytes::from_static(b"abc");
        assert!(n1.check(&Command::Get(key.clone())).is_ok());
        assert_eq!(
            n1.check(&Command::Del(vec![key.clone()])).unwrap_err().status,
            Status::WrongShard
        );
        // A router still on the old map writes it as a replica: refused, so it reloads.
        let vset = |mover| {
            let value = Bytes::new();
            let (key, ids) = (key.clone(), Default::default());
            Command::VSet(VSetArgs { key, value, ttl_ms: None, version: 1, mover, ids })
        };
        let err = n1.check(&vset(false)).unwrap_err();
        assert_eq!(err.status, Status::WrongShard);
        assert!(err.message.contains("moving away"), "{}", err.message);
        let ids = Default::default();
        let vdel = Command::VDel(VDelArgs { key: key.clone(), version: 1, mover: false, ids });
        assert_eq!(n1.check(&vdel).unwrap_err().status, Status::WrongShard);
        n1.check(&vset(true)).expect("a write to it as a mover, alongside the new replicas");
        set_state(&n1, 4, ShardState::Ready);
        n1.check(&vset(true)).expect("a mover that has not read the new map yet");
        set_state(&n1, 4, ShardState::Isolated);
        assert_eq!(n1.check(&digest(4)).unwrap_err().status, Status::NotReady);
    }
}
