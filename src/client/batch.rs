//! How a caller learns its outcome: one request's `oneshot`, or one slot of a [`Batch`]
//! that a pipelined call registered as a whole. A batch is one allocation and one wake-up
//! for all its requests, where a `oneshot` per request costs an allocation, a wake-up and a
//! poll each; the reader fills its slots as replies arrive and wakes the caller when the
//! last one is in.

use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::Error;
use crate::protocol::binary::ResponseFrame;

/// What a waiting caller eventually receives.
pub(crate) type Outcome = Result<ResponseFrame, Error>;

/// Where a request's outcome goes.
#[derive(Debug)]
pub(crate) enum Completion {
    /// A lone request's caller.
    One(oneshot::Sender<Outcome>),
    /// Slot `.1` of a batch.
    Batch(Arc<Batch>, usize),
}

impl Completion {
    /// Hands the outcome over; `Err` gives it back when a lone caller is gone.
    pub(crate) fn send(self, outcome: Outcome) -> Result<(), Outcome> {
        match self {
            Completion::One(tx) => tx.send(outcome),
            Completion::Batch(batch, index) => {
                batch.complete(index, outcome);
                Ok(())
            }
        }
    }
}

/// The outcomes of a batch of requests, filled in any order.
#[derive(Debug)]
pub(crate) struct Batch {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    outcomes: Vec<Option<Outcome>>,
    left: usize,
    waker: Option<Waker>,
}

impl Batch {
    /// A batch of `n` requests, none answered.
    pub(crate) fn new(n: usize) -> Arc<Self> {
        let outcomes = (0..n).map(|_| None).collect();
        Arc::new(Self { state: Mutex::new(State { outcomes, left: n, waker: None }) })
    }

    /// Sets slot `index`'s outcome unless it has one; wakes the caller after the last.
    pub(crate) fn complete(&self, index: usize, outcome: Outcome) {
        let waker = {
            let mut st = self.state.lock();
            let Some(slot @ None) = st.outcomes.get_mut(index) else { return };
            *slot = Some(outcome);
            st.left -= 1;
            if st.left > 0 {
                return;
            }
            st.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Ready once every slot has its outcome.
    pub(crate) fn poll_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.state.lock();
        if st.left == 0 {
            return Poll::Ready(());
        }
        match &mut st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The slots still without an outcome.
    pub(crate) fn unanswered(&self) -> Vec<usize> {
        let st = self.state.lock();
        (0..st.outcomes.len()).filter(|i| st.outcomes[*i].is_none()).collect()
    }

    /// Every outcome, in order (`missing` for a slot without one, which `poll_done` rules
    /// out).
    pub(crate) fn take_all(&self, missing: impl Fn() -> Outcome) -> Vec<Outcome> {
        let mut st = self.state.lock();
        st.outcomes.iter_mut().map(|o| o.take().unwrap_or_else(&missing)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;
    use crate::client::Error;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn wakes_once_every_slot_is_filled_and_keeps_the_first_outcome() {
        let batch = Batch::new(2);
        let count = Arc::new(Count::default());
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(batch.poll_done(&mut cx).is_pending());
        batch.complete(1, Err(Error::Timeout));
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
        assert_eq!(batch.unanswered(), vec![0]);
        batch.complete(0, Err(Error::NoAddresses));
        batch.complete(0, Err(Error::Timeout));
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(batch.poll_done(&mut cx).is_ready());
        let all = batch.take_all(|| Err(Error::Timeout));
        assert!(matches!(all[0], Err(Error::NoAddresses)));
        assert!(matches!(all[1], Err(Error::Timeout)));
    }
}
