//! [`Quiet`]: a future that a loop polls on every turn but that is rarely ready (a close
//! or shutdown token's `cancelled()`), made cheap to poll. tokio-util's cancellation
//! future takes the token's mutex and the waiter list's on every poll; a connection loop
//! polls it once or twice per request. Wrapped, the inner future is polled only when its
//! own waker fired since the last poll (and the first time), so a turn costs an atomic
//! load and a waker check.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// `F`, polled only after it asked to be.
pub struct Quiet<F> {
    inner: F,
    flag: Arc<Flag>,
    waker: Waker,
    polled: bool,
}

/// Set by the inner future's waker; wakes the task that polled the wrapper last.
#[derive(Default)]
struct Flag {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<F> Quiet<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        let flag = Arc::new(Flag::default());
        let waker = Waker::from(flag.clone());
        Self { inner, flag, waker, polled: false }
    }
}

impl<F: Future + Unpin> Future for Quiet<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.flag.task.register(cx.waker());
        if this.polled && !this.flag.woken.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        this.polled = true;
        this.flag.woken.store(false, Ordering::Release);
        Pin::new(&mut this.inner).poll(&mut Context::from_waker(&this.waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn completes_when_the_token_is_cancelled_and_not_before() {
        let token = CancellationToken::new();
        let cancelled = token.cancelled();
        tokio::pin!(cancelled);
        let mut quiet = Quiet::new(cancelled);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..3 {
            assert!(Pin::new(&mut quiet).poll(&mut cx).is_pending());
        }
        let copy = token.clone();
        let task = tokio::spawn(async move { copy.cancel() });
        task.await.unwrap();
        assert!(Pin::new(&mut quiet).poll(&mut cx).is_ready());
    }

    #[tokio::test]
    async fn wakes_the_task_that_waits_on_it() {
        let token = CancellationToken::new();
        let copy = token.clone();
        let waiter = tokio::spawn(async move {
            let cancelled = copy.cancelled();
            tokio::pin!(cancelled);
            Quiet::new(cancelled).await;
        });
        tokio::task::yield_now().await;
        token.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter).await.unwrap().unwrap();
    }
}
