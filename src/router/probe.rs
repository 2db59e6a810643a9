//! Active health checks: one task per backend sends a PING about every second while the
//! node is up, and on the backoff schedule while it is ejected. The task holds only a weak
//! reference, so it ends by itself once a map reload drops the node.
//!
//! An ejected node still gets every write, and one that answers one is alive: its prober
//! is woken then, instead of waiting out a backoff that may have grown to
//! [`super::health::DEFAULT_BACKOFF_MAX`] while the node was down (a router started before
//! its nodes would refuse reads that long after they came up). So is the prober of each
//! ejected replica of a shard that a read finds no replica of to serve it. Woken probes
//! are at least [`EARLY_PROBE_GAP`] apart, so a node that answers writes but fails probes
//! is not probed faster than that, and a woken probe that succeeds wakes the next one,
//! which readmission needs.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::backend::Backend;
use super::health::State;

/// Least time between two probes of a node when the second was woken by an answer.
pub const EARLY_PROBE_GAP: Duration = Duration::from_millis(100);

/// Starts probing `backend` until it is dropped or `cancel` fires.
pub fn spawn_prober(
    backend: &Arc<Backend>,
    timeout: Duration,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    let weak: Weak<Backend> = Arc::downgrade(backend);
    let soon = backend.probe_soon();
    tracker.spawn(async move {
        let mut last = Instant::now();
        while let Some(delay) = weak.upgrade().map(|b| b.health().next_probe_in()) {
            let woken = tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(delay) => false,
                _ = soon.notified() => true,
            };
            if woken {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep_until(last + EARLY_PROBE_GAP) => {}
                }
            }
            let Some(backend) = weak.upgrade() else { break };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = backend.probe(timeout) => {}
            }
            last = Instant::now();
            if woken && backend.health().state() == State::Probing {
                // Readmission takes more than one good probe: the rest follow as quickly.
                soon.notify_one();
            }
        }
    });
}
