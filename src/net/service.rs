//! What a service's accept loops and connections share, on every worker thread: the
//! handler, settings, counters and shutdown, unique connection ids, one connection limit,
//! the worker fleet when connections may move ([`Service`]), and each open connection's
//! place in the count ([`Open`]), which goes with it when it moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::connection::Serving;
use super::fleet::Fleet;
use super::{
    Handler, LogLimit, MAX_HANDSHAKE_FAILURE_LOGS_PER_SEC, MAX_REJECTING, NetConfig, NetStats,
};

/// What the accept loops of one service share, on every worker thread: connection ids
/// are unique and the connection limit is one across all of them.
pub(super) struct Service<H> {
    pub(super) handler: Arc<H>,
    pub(super) cfg: Arc<NetConfig>,
    pub(super) stats: Arc<NetStats>,
    pub(super) shutdown: CancellationToken,
    pub(super) rejecting: Arc<Semaphore>,
    pub(super) next_id: AtomicU64,
    pub(super) handshake_failures: LogLimit,
    /// The worker threads, when connections may move between them.
    pub(super) fleet: Option<Arc<Fleet>>,
}

impl<H: Handler> Service<H> {
    pub(super) fn new(
        handler: Arc<H>,
        cfg: Arc<NetConfig>,
        stats: Arc<NetStats>,
        shutdown: CancellationToken,
        fleet: Option<Arc<Fleet>>,
    ) -> Arc<Self> {
        Arc::new(Service {
            rejecting: Arc::new(Semaphore::new(MAX_REJECTING)),
            next_id: AtomicU64::new(1),
            handshake_failures: LogLimit::new(MAX_HANDSHAKE_FAILURE_LOGS_PER_SEC),
            handler,
            cfg,
            stats,
            shutdown,
            fleet,
        })
    }

    /// What a connection loop borrows from the service.
    pub(super) fn serving(&self) -> Serving<'_, H> {
        Serving {
            handler: &self.handler,
            cfg: &self.cfg,
            stats: &self.stats,
            shutdown: &self.shutdown,
        }
    }
}

/// One open connection, counted while it lives (the count is the connection limit's). It
/// moves with the connection when the connection moves to another worker.
pub(super) struct Open {
    stats: Arc<NetStats>,
}

impl Open {
    pub(super) fn new(stats: &Arc<NetStats>) -> Self {
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.connections.fetch_add(1, Ordering::Relaxed);
        Self { stats: stats.clone() }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.stats.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
