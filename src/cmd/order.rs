//! Per-connection ordering of requests that touch the same key, for handlers that answer
//! a connection's requests concurrently (the router). A pipelined `SET k v` then `GET k`
//! must read `v`; `GET k` then `SET k w` must not read `w`; and two pipelined SETs of `k`
//! must land in the order sent, even though the router works on all of them at once. So:
//!
//! * a read waits for the latest earlier write of its keys that is still in flight;
//! * a write waits for that write too, and for every read of its keys sent since then.
//!
//! Requests on other keys never wait. Reads since the latest write form a *group* that
//! the next write of the key waits for as a whole; later reads start a new group behind
//! that write. Everything is under one per-connection mutex, which only this connection's
//! task and its request futures take.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ahash::HashMap;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Most keys of room a connection keeps in its spare list between requests: enough for a
/// client's usual request, little held by an idle connection.
const SPARE_KEYS: usize = 8;

/// Opened when the request (or group of reads) it stands for completes.
#[derive(Debug, Default)]
pub struct Gate {
    open: AtomicBool,
    /// Someone waits (or waited) on the gate: most gates are opened with nobody
    /// waiting, and then skip the notification's lock.
    watched: AtomicBool,
    notify: Notify,
}

impl Gate {
    /// Waits until the gate is open.
    pub async fn wait(&self) {
        loop {
            // The `Notified` exists before `watched` is set and `open` read: an opener that
            // then misses `watched` set has stored `open` first, which this load sees.
            let notified = self.notify.notified();
            self.watched.store(true, Ordering::SeqCst);
            if self.open.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }

    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        if self.watched.load(Ordering::SeqCst) {
            self.notify.notify_waiters();
        }
    }
}

/// Reads of one key in flight since its latest write; the gate opens when the last ends.
/// A later write takes the group out of the key's state and waits on the gate, while the
/// reads keep their handles to count themselves out.
#[derive(Debug, Default)]
struct Group {
    left: AtomicUsize,
    done: Arc<Gate>,
}

/// What is in flight on one key.
#[derive(Debug, Default)]
struct KeyState {
    write: Option<Arc<Gate>>,
    reads: Option<Arc<Group>>,
}

impl KeyState {
    fn is_idle(&self) -> bool {
        self.write.is_none() && self.reads.is_none()
    }
}

/// Keys with requests in flight on one connection.
#[derive(Debug, Clone, Default)]
pub struct KeyOrder {
    keys: Arc<Mutex<Keys>>,
}

/// What [`KeyOrder`] keeps under its mutex.
///
/// A request entered while nothing else is in flight (every request of a client that
/// waits for each reply) cannot wait for anything, and nothing waits for it unless a
/// later request comes while it is still in flight: it is kept aside as `alone`, out of
/// the map, and put in the map only when that later request enters.
#[derive(Debug, Default)]
struct Keys {
    map: HashMap<Bytes, KeyState>,
    /// Tickets not yet dropped.
    live: usize,
    alone: Option<Alone>,
    /// The `alone` ticket once a later one put it in the map: what it holds there.
    adopted: Option<(u64, Held)>,
    next_id: u64,
    /// An `alone` ticket's emptied key list, for [`KeyOrder::enter_reusing`]'s caller to
    /// fill again: a client that waits for each reply then allocates no list per request.
    spare: Vec<Bytes>,
}

/// A ticket kept out of the map.
#[derive(Debug)]
struct Alone {
    id: u64,
    keys: Vec<Bytes>,
    write: bool,
}

/// What a request must wait for, and what it must release when done.
#[derive(Debug, Default)]
pub struct Ticket {
    earlier: Vec<Arc<Gate>>,
    mine: Option<Mine>,
}

#[derive(Debug)]
struct Mine {
    order: KeyOrder,
    id: u64,
    /// What it holds in the map; `None` while it is `alone` (or once it was adopted).
    held: Option<Held>,
}

/// A ticket's claims in the map.
#[derive(Debug)]
struct Held {
    keys: Vec<Bytes>,
    /// The write's own gate, or `None` for a read (which counts in each key's group).
    write: Option<Arc<Gate>>,
    /// For a read: the group it joined, per key.
    groups: Vec<Arc<Group>>,
}

impl KeyOrder {
    /// Registers a request on `keys`; called in request order.
    pub fn enter(&self, keys: Vec<Bytes>, write: bool) -> Ticket {
        if keys.is_empty() {
            return Ticket::default();
        }
        self.enter_locked(&mut self.keys.lock(), keys, write)
    }

    /// [`KeyOrder::enter`] for a caller that fills a key list again and again: takes the
    /// keys out of `keys` and leaves it empty, with the room of a finished ticket's list
    /// when one is spare.
    pub fn enter_reusing(&self, keys: &mut Vec<Bytes>, write: bool) -> Ticket {
        if keys.is_empty() {
            return Ticket::default();
        }
        let mut inner = self.keys.lock();
        let keys = std::mem::replace(keys, std::mem::take(&mut inner.spare));
        self.enter_locked(&mut inner, keys, write)
    }

    fn enter_locked(&self, inner: &mut Keys, keys: Vec<Bytes>, write: bool) -> Ticket {
        let id = inner.next_id;
        inner.next_id = inner.next_id.wrapping_add(1);
        inner.live += 1;
        let order = self.clone();
        if inner.live == 1 {
            inner.alone = Some(Alone { id, keys, write });
            return Ticket { earlier: Vec::new(), mine: Some(Mine { order, id, held: None }) };
        }
        if let Some(alone) = inner.alone.take() {
            // It entered with nothing in flight, so it waits for nothing.
            let (_, held) = inner.claim(alone.keys, alone.write);
            inner.adopted = Some((alone.id, held));
        }
        let (earlier, held) = inner.claim(keys, write);
        Ticket { earlier, mine: Some(Mine { order, id, held: Some(held) }) }
    }

    /// Keys with something in flight (for tests of cleanup).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        let inner = self.keys.lock();
        inner.map.len() + inner.alone.as_ref().map_or(0, |a| a.keys.len())
    }
}

impl Keys {
    /// Puts a request on `keys` in the map: the gates it waits for, and what it holds.
    fn claim(&mut self, keys: Vec<Bytes>, write: bool) -> (Vec<Arc<Gate>>, Held) {
        let mut earlier = Vec::new();
        let own = write.then(|| Arc::new(Gate::default()));
        let mut groups = Vec::new();
        for key in &keys {
            let state = self.map.entry(key.clone()).or_default();
            // A key named twice (`DEL k k`) must not make a write wait for itself.
            let mine = |g: &Arc<Gate>| own.as_ref().is_some_and(|o| Arc::ptr_eq(o, g));
            earlier.extend(state.write.clone().filter(|g| !mine(g)));
            match &own {
                Some(gate) => {
                    earlier.extend(state.reads.take().map(|g| g.done.clone()));
                    state.write = Some(gate.clone());
                }
                None => {
                    let group = state.reads.get_or_insert_with(Arc::default);
                    group.left.fetch_add(1, Ordering::Relaxed);
                    groups.push(group.clone());
                }
            }
        }
        (earlier, Held { keys, write: own, groups })
    }

    /// Releases what a request held and forgets keys with nothing in flight any more.
    fn release(&mut self, held: &Held) {
        for (i, key) in held.keys.iter().enumerate() {
            let Some(state) = self.map.get_mut(key) else { continue };
            match &held.write {
                Some(gate) => {
                    if state.write.as_ref().is_some_and(|g| Arc::ptr_eq(g, gate)) {
                        state.write = None;
                    }
                }
                None => leave_group(state, &held.groups[i]),
            }
            if state.is_idle() {
                self.map.remove(key);
            }
        }
    }
}

impl Ticket {
    /// Waits for the earlier requests this one depends on.
    pub async fn ready(&self) {
        for gate in &self.earlier {
            gate.wait().await;
        }
    }
}

impl Drop for Ticket {
    /// Releases the request's claim (also when it is dropped unfinished) and forgets keys
    /// that have nothing in flight any more.
    fn drop(&mut self) {
        let Some(mine) = self.mine.take() else { return };
        let mut inner = mine.order.keys.lock();
        inner.live = inner.live.saturating_sub(1);
        let held = match mine.held {
            Some(held) => held,
            None => match inner.alone.take_if(|a| a.id == mine.id) {
                // Never in the map: nothing waits for it.
                Some(alone) => {
                    let mut keys = alone.keys;
                    let room = keys.capacity();
                    if room <= SPARE_KEYS && inner.spare.capacity() < room {
                        keys.clear();
                        inner.spare = keys;
                    } else {
                        // Anything larger is freed after the lock, as before.
                        drop(inner);
                        drop(keys);
                    }
                    return;
                }
                None => match inner.adopted.take_if(|(id, _)| *id == mine.id) {
                    Some((_, held)) => held,
                    None => return,
                },
            },
        };
        inner.release(&held);
        drop(inner);
        if let Some(gate) = &held.write {
            gate.open();
        }
    }
}

/// A read of the key ends; the last of its group opens the group's gate. The group may
/// have been taken over by a later write by now, which waits on that gate.
fn leave_group(state: &mut KeyState, group: &Arc<Group>) {
    // Every change of `left` happens under the connection's key mutex.
    if group.left.fetch_sub(1, Ordering::Relaxed) == 1 {
        if state.reads.as_ref().is_some_and(|g| Arc::ptr_eq(g, group)) {
            state.reads = None;
        }
        group.done.open();
    }
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
