//! Per-connection ordering of requests that touch the same key, for handlers that answer
//! a connection's requests concurrently (the router). A pipelined `SET k v` then `GET k`
//! must read `v`, and two pipelined SETs of `k` must land in the order sent, even though
//! the router works on both at once. So a request first waits for the writes of its keys
//! that the same connection sent earlier and that are still in flight, and a write holds a
//! gate on its keys until it completes. Requests on other keys never wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Opened when a write completes.
#[derive(Debug, Default)]
pub struct Gate {
    open: AtomicBool,
    notify: Notify,
}

impl Gate {
    /// Waits until the gate is open.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.open.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// Keys with writes in flight on one connection.
#[derive(Debug, Clone, Default)]
pub struct KeyOrder {
    gates: Arc<Mutex<HashMap<Bytes, Arc<Gate>>>>,
    /// Writes in flight; zero lets reads skip the lock.
    writes: Arc<AtomicUsize>,
}

/// What a request must wait for, and (for a write) the gate it must open when done.
#[derive(Debug, Default)]
pub struct Ticket {
    earlier: Vec<Arc<Gate>>,
    mine: Option<(KeyOrder, Vec<Bytes>, Arc<Gate>)>,
}

impl KeyOrder {
    /// Registers a request on `keys`: it must wait for earlier writes of those keys; a
    /// write also makes later requests on them wait for it. Called in request order.
    pub fn enter(&self, keys: &[Bytes], write: bool) -> Ticket {
        if !write && self.writes.load(Ordering::Acquire) == 0 {
            return Ticket::default();
        }
        let mut gates = self.gates.lock();
        let earlier = keys.iter().filter_map(|k| gates.get(k).cloned()).collect();
        let mine = write.then(|| {
            let gate = Arc::new(Gate::default());
            for k in keys {
                gates.insert(k.clone(), gate.clone());
            }
            self.writes.fetch_add(1, Ordering::AcqRel);
            (self.clone(), keys.to_vec(), gate)
        });
        Ticket { earlier, mine }
    }
}

impl Ticket {
    /// Waits for the earlier writes this request depends on.
    pub async fn ready(&self) {
        for gate in &self.earlier {
            gate.wait().await;
        }
    }
}

impl Drop for Ticket {
    /// Opens this write's gate (also when the request is dropped unfinished) and forgets
    /// its keys unless a later write of the same key took them over.
    fn drop(&mut self) {
        let Some((order, keys, gate)) = self.mine.take() else { return };
        {
            let mut gates = order.gates.lock();
            for k in &keys {
                if gates.get(k).is_some_and(|g| Arc::ptr_eq(g, &gate)) {
                    gates.remove(k);
                }
            }
        }
        order.writes.fetch_sub(1, Ordering::AcqRel);
        gate.open.store(true, Ordering::Release);
        gate.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn k(s: &'static str) -> Vec<Bytes> {
        vec![Bytes::from_static(s.as_bytes())]
    }

    #[tokio::test]
    async fn a_read_waits_for_an_earlier_write_of_its_key_only() {
        let order = KeyOrder::default();
        let write = order.enter(&k("a"), true);
        let same = order.enter(&k("a"), false);
        let other = order.enter(&k("b"), false);
        other.ready().await;
        let waiting = tokio::time::timeout(Duration::from_millis(50), same.ready()).await;
        assert!(waiting.is_err(), "the read of a waits for the write of a");
        drop(write);
        tokio::time::timeout(Duration::from_secs(5), same.ready()).await.unwrap();
    }

    #[tokio::test]
    async fn writes_of_one_key_queue_in_order() {
        let order = KeyOrder::default();
        let first = order.enter(&k("a"), true);
        let second = order.enter(&k("a"), true);
        let read = order.enter(&k("a"), false);
        assert!(tokio::time::timeout(Duration::from_millis(20), second.ready()).await.is_err());
        drop(first);
        second.ready().await;
        assert!(tokio::time::timeout(Duration::from_millis(20), read.ready()).await.is_err());
        drop(second);
        read.ready().await;
        assert_eq!(order.writes.load(Ordering::Relaxed), 0);
        assert!(order.gates.lock().is_empty());
    }
}
