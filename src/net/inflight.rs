//! The queue of requests a connection is still answering: replies leave in request order,
//! whichever finishes first, so text clients (which match replies by position) stay correct
//! while an asynchronous handler (the router) works on many requests at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::{FuturesOrdered, StreamExt as _};

use super::tally::Timing;
use crate::codec::Shape;
use crate::protocol::Reply;

/// A reply being produced: by the handler, or already known (an error, QUIT's OK).
enum Slot<F> {
    Handler(F),
    Ready(Option<Reply>),
}

/// A slot with the id and shape its reply must be encoded with, and its request's timing.
struct Tagged<F> {
    id: u32,
    shape: Shape,
    timing: Timing,
    slot: Slot<F>,
}

/// A finished request: id, shape, reply, timing and when the reply was complete (a
/// [`super::tally::now`] timestamp; it may be earlier than when the reply leaves, if an
/// earlier request is slower).
pub(super) type Done = (u32, Shape, Reply, Timing, u64);

impl<F: Future<Output = Reply> + Unpin> Future for Tagged<F> {
    type Output = Done;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (id, shape, timing) = (self.id, self.shape, self.timing);
        let reply = match &mut self.slot {
            Slot::Handler(f) => std::task::ready!(Pin::new(f).poll(cx)),
            Slot::Ready(r) => r
                .take()
                .unwrap_or_else(|| Reply::error(crate::protocol::Status::Internal, "polled twice")),
        };
        Poll::Ready((id, shape, reply, timing, super::tally::now()))
    }
}

/// Ordered in-flight replies of one connection.
pub(super) struct InFlight<F: Future<Output = Reply> + Unpin> {
    /// The one reply in flight while it is alone, polled directly: a client that waits
    /// for each reply never pays for the ordered queue's task and wake-ups. Never set
    /// while `queue` holds anything.
    solo: Option<Tagged<F>>,
    queue: FuturesOrdered<Tagged<F>>,
}

impl<F: Future<Output = Reply> + Unpin> InFlight<F> {
    pub(super) fn new() -> Self {
        Self { solo: None, queue: FuturesOrdered::new() }
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.solo.is_some()) + self.queue.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.solo.is_none() && self.queue.is_empty()
    }

    /// Queues a handler future. Returns its reply at once instead when nothing is queued
    /// ahead of it and it is already complete, which is always so for the store.
    pub(super) fn push(
        &mut self,
        id: u32,
        shape: Shape,
        timing: Timing,
        mut fut: F,
    ) -> Option<Reply> {
        let alone = self.is_empty();
        if alone {
            let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
            if let Poll::Ready(reply) = Pin::new(&mut fut).poll(&mut cx) {
                return Some(reply);
            }
        }
        self.enqueue(Tagged { id, shape, timing, slot: Slot::Handler(fut) });
        None
    }

    /// Queues a known reply behind the ones in flight, or returns it if none are.
    pub(super) fn push_ready(
        &mut self,
        id: u32,
        shape: Shape,
        timing: Timing,
        reply: Reply,
    ) -> Option<Reply> {
        if self.is_empty() {
            return Some(reply);
        }
        self.enqueue(Tagged { id, shape, timing, slot: Slot::Ready(Some(reply)) });
        None
    }

    fn enqueue(&mut self, tagged: Tagged<F>) {
        if self.is_empty() {
            self.solo = Some(tagged);
            return;
        }
        if let Some(solo) = self.solo.take() {
            self.queue.push_back(solo);
        }
        self.queue.push_back(tagged);
    }

    /// The next reply in request order.
    pub(super) async fn next(&mut self) -> Option<Done> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Done>> {
        if let Some(solo) = &mut self.solo {
            let done = std::task::ready!(Pin::new(solo).poll(cx));
            self.solo = None;
            return Poll::Ready(Some(done));
        }
        self.queue.poll_next_unpin(cx)
    }
}
