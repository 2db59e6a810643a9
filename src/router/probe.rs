//! Active health checks: one task per backend sends a PING about every second while the
//! node is up, and on the backoff schedule while it is ejected. The task holds only a weak
//! reference, so it ends by itself once a map reload drops the node.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::backend::Backend;

/// Starts probing `backend` until it is dropped or `cancel` fires.
pub fn spawn_prober(
    backend: &Arc<Backend>,
    timeout: Duration,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    let weak: Weak<Backend> = Arc::downgrade(backend);
    tracker.spawn(async move {
        while let Some(delay) = weak.upgrade().map(|b| b.health().next_probe_in()) {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
            let Some(backend) = weak.upgrade() else { break };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = backend.probe(timeout) => {}
            }
        }
    });
}
