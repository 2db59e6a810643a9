//! A caller's claim on one reply ([`Pending`]): how a call waits for it, under its own
//! deadline or the one its connection keeps ([`super::sweep`]), and how a caller that
//! gives up frees its place in the in-flight table.

use std::ops::Deref;

use tokio::sync::oneshot;
use tokio::time::{Instant, timeout_at};

use super::Error;
use super::inflight::Outcome;
use super::tasks::Shared;

/// A caller's claim on a reply. Dropping it unanswered (timeout, or the caller's future
/// was dropped) abandons the request, so the in-flight table never leaks. `S` reaches the
/// connection's state: borrowed by a call, or owned with the connection ([`super::Claim`]).
pub(crate) struct Pending<S: Deref<Target = Shared>> {
    shared: S,
    id: u32,
    rx: oneshot::Receiver<Outcome>,
    settled: bool,
}

impl<S: Deref<Target = Shared>> Pending<S> {
    /// A claim on the reply to request `id`, received on `rx`.
    pub(super) fn new(shared: S, id: u32, rx: oneshot::Receiver<Outcome>) -> Self {
        Self { shared, id, rx, settled: false }
    }

    /// The reply, or [`Error::Timeout`] once `deadline` passes (the claim, unsettled, then
    /// abandons the request when dropped).
    pub(crate) async fn wait(&mut self, deadline: Instant) -> Outcome {
        timeout_at(deadline, self.reply()).await.unwrap_or(Err(Error::Timeout))
    }

    /// The reply. Without [`Pending::wait`]'s deadline, the request must have been
    /// registered with one, which the connection keeps: it fails the request with a
    /// timeout once that passes.
    pub(crate) async fn reply(&mut self) -> Outcome {
        let outcome = match (&mut self.rx).await {
            Ok(outcome) => outcome,
            // Only `close` drops waiters, and it sends first; treat it as closed anyway.
            Err(_) => Err(self.shared.closed_error()),
        };
        self.settled = true;
        outcome
    }
}

impl<S: Deref<Target = Shared>> Drop for Pending<S> {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.abandon(self.id);
        }
    }
}
