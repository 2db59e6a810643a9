//! The end of a move on an old replica: once every new replica of a Retiring shard is
//! Ready, the data goes, after one last pull by each new replica.
//!
//! The new replicas copied from this node while routers on the map before the move still
//! wrote here as a replica, and this node may have taken such writes (Ready under the old
//! map, before it read the new one) after a new replica had copied the keys. Since it turned
//! Retiring it refuses them (WRONG_SHARD, see `check.rs`), and the writes it still takes
//! (routers' writes to it as a mover) went to the new replicas too. So asking each new
//! replica to SYNC the shard now (an exact round with every holder, this node among them)
//! brings every write this node acknowledged to the new replicas; only then is it dropped.
//! A SYNC that fails leaves the shard Retiring, tried again on the next step.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tracing::info;

use super::lifecycle::Cluster;
use crate::protocol::cluster::{ShardState, sync_frame};
use crate::shardmap::ShardMap;

/// Deadline of the last SYNC a retiring replica asks of each new replica: an exact round
/// of the shard with every holder (paced like any round).
pub const RETIRE_SYNC_TIMEOUT: Duration = Duration::from_secs(60);

impl Cluster {
    /// Drops the retired `shard` once every new replica pulled from every holder after this
    /// node stopped taking writes as a replica of it.
    pub(super) async fn drop_retired(
        self: &Arc<Self>,
        map: &ShardMap,
        shard: u32,
    ) -> Result<u64, String> {
        let replicas = map.replicas(shard);
        let syncs = replicas
            .iter()
            .map(|r| self.peers.call(map, r, sync_frame(shard), RETIRE_SYNC_TIMEOUT));
        for (replica, result) in replicas.iter().zip(join_all(syncs).await) {
            result.map_err(|e| format!("last pull of new replica {replica} failed: {e}"))?;
        }
        let dropped = self.remove_from_shard(map, shard, |_, _| true).await;
        info!(
            node = self.node.name(),
            shard, dropped, "new replicas ready and caught up; dropped the retired shard"
        );
        self.set_state(shard, ShardState::NotHosted);
        Ok(0)
    }
}
