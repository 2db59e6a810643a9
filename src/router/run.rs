//! Run-level forwarding of the hot path. While the connection loop hands a turn's requests
//! over, the GETs and the blind one-key writes (SET, SETEX, a one-key DEL, ...) on distinct
//! keys are collected into one *run* on the connection instead of each becoming its own
//! forwarding future. When the turn ends, or before the first request that cannot join,
//! the run is sealed: it takes one order ticket for all its keys (so the connection's later
//! requests on them wait for it, and it for earlier ones), and [`super::batch`] sends it as
//! one write per backend.
//!
//! Each request of the run gets a small [`Member`] future holding its place in the
//! connection's reply order; the run's first member drives the whole run, and every member
//! is woken when the replies are in.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use parking_lot::Mutex;

use super::Router;
use super::handler::RouterFuture;
use crate::cmd::order::KeyOrder;
use crate::cmd::{BlindWrite, Command, Route, Session};
use crate::protocol::{Reply, Status};

/// Most requests in one run; a longer turn seals a run and opens another. Runs check
/// their keys for repeats by a linear scan, which this keeps cheap.
pub const MAX_RUN: usize = 64;

/// What a request of a run is.
pub(super) enum Op {
    /// A GET of the key.
    Get(Bytes),
    /// One blind write; `deletes` when the command is a delete (DEL of one key).
    Write { write: BlindWrite, deletes: bool },
}

impl Op {
    /// How `command` can travel in a run, if it can.
    pub(super) fn of(command: &Command) -> Option<Op> {
        match command {
            Command::Get(key) => Some(Op::Get(key.clone())),
            c if c.route() == Route::Write => {
                let mut writes = c.blind_writes();
                let deletes = writes.all_deletes();
                match (writes.next(), writes.next()) {
                    (Some(write), None) => Some(Op::Write { write, deletes }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn key(&self) -> &Bytes {
        match self {
            Op::Get(key) => key,
            Op::Write { write, .. } => &write.key,
        }
    }
}

/// A request of a run: the command (for the path it takes alone when it must) and what
/// it is.
pub(super) struct Item {
    pub(super) command: Command,
    pub(super) op: Op,
}

/// The run being collected on a connection, kept in its session's handler slot.
#[derive(Default)]
struct OpenRun {
    items: Vec<Item>,
    keys: Vec<Bytes>,
    /// Each key's [`fingerprint`], so the check for a repeated key compares bytes only
    /// where the fingerprints match.
    prints: Vec<u64>,
    shared: Option<Arc<RunShared>>,
    /// The last sealed run's length: the next run's lists start with that much room, so
    /// a connection pipelining runs of one length fills them without growing them. Taken
    /// when the next run starts, not at the seal, so an idle connection holds no lists.
    last_len: usize,
}

impl OpenRun {
    fn has(&self, print: u64, key: &Bytes) -> bool {
        self.prints.iter().zip(&self.keys).any(|(&p, k)| p == print && k == key)
    }
}

/// A cheap hash of all of `key`'s bytes: equal keys have equal fingerprints. Only a
/// filter before the byte comparison, so its collisions cost a comparison, never a
/// wrong answer, and a fixed function is enough.
fn fingerprint(key: &[u8]) -> u64 {
    const MIX: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut words = key.chunks_exact(8);
    let mut h = (key.len() as u64).wrapping_mul(MIX);
    for word in &mut words {
        let mut w = [0; 8];
        w.copy_from_slice(word);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(MIX).rotate_left(29);
    }
    let tail = words.remainder().iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    (h ^ tail).wrapping_mul(MIX)
}

/// A run's replies, in order: a run of one request (every run of a client that waits for
/// each reply) needs no list.
enum Replies {
    One(Reply),
    Many(Vec<Reply>),
}

type Driver = Pin<Box<dyn Future<Output = Replies> + Send>>;

/// What a run's members share: the run's future until it is done, then the replies.
#[derive(Default)]
struct RunShared {
    state: Mutex<RunState>,
}

#[derive(Default)]
struct RunState {
    driver: Option<Driver>,
    done: bool,
    replies: Vec<Option<Reply>>,
    /// The first member's waker, while it waits for the run to be sealed: kept apart
    /// from the others' list so a run of one never allocates that list.
    first: Option<Waker>,
    /// The other members' wakers (member `i` at `i - 1`).
    wakers: Vec<Option<Waker>>,
}

impl RunState {
    /// Takes every member's waker, to wake them once the lock is dropped.
    fn take_wakers(&mut self) -> impl Iterator<Item = Waker> + use<> {
        let first = self.first.take();
        first.into_iter().chain(std::mem::take(&mut self.wakers).into_iter().flatten())
    }

    fn waker_slot(&mut self, index: usize) -> &mut Option<Waker> {
        let Some(i) = index.checked_sub(1) else { return &mut self.first };
        if self.wakers.len() <= i {
            self.wakers.resize_with(i + 1, || None);
        }
        &mut self.wakers[i]
    }
}

impl RunShared {
    fn start(&self, driver: Driver) {
        let wakers = {
            let mut st = self.state.lock();
            st.driver = Some(driver);
            st.take_wakers()
        };
        wakers.for_each(Waker::wake);
    }
}

/// One request's place in a run: resolves to its reply.
pub(super) struct Member {
    shared: Arc<RunShared>,
    index: usize,
}

impl Future for Member {
    type Output = Reply;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let index = self.index;
        let mut st = self.shared.state.lock();
        if let Some(reply) = st.replies.get_mut(index).and_then(Option::take) {
            return Poll::Ready(reply);
        }
        if st.done {
            return Poll::Ready(lost());
        }
        if index == 0 {
            if let Some(driver) = st.driver.as_mut() {
                let Poll::Ready(replies) = driver.as_mut().poll(cx) else {
                    return Poll::Pending;
                };
                st.driver = None;
                st.done = true;
                let mine = match replies {
                    Replies::One(reply) => Some(reply),
                    Replies::Many(replies) => {
                        st.replies = replies.into_iter().map(Some).collect();
                        st.replies.first_mut().and_then(Option::take)
                    }
                };
                let wakers = st.take_wakers();
                drop(st);
                wakers.for_each(Waker::wake);
                return Poll::Ready(mine.unwrap_or_else(lost));
            }
        }
        match st.waker_slot(index) {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// A member whose run ended without its reply (a bug; never expected).
pub(super) fn lost() -> Reply {
    Reply::error(Status::Internal, "a forwarded run ended without this request's reply")
}

impl Router {
    /// Adds a request to the connection's open run (sealing the run first if it is full
    /// or already has the key); the request's reply future.
    pub(super) fn join_run(&self, session: &mut Session, command: Command, op: Op) -> RouterFuture {
        let run = session.handler_state.get_or_insert_with(OpenRun::default);
        let print = fingerprint(op.key());
        if run.items.len() >= MAX_RUN || run.has(print, op.key()) {
            self.seal(run, &session.order);
        }
        if run.items.is_empty() {
            run.items.reserve(run.last_len);
            run.keys.reserve(run.last_len);
        }
        let shared = run.shared.get_or_insert_with(Arc::default).clone();
        let index = run.items.len();
        run.prints.push(print);
        run.keys.push(op.key().clone());
        run.items.push(Item { command, op });
        RouterFuture::member(Member { shared, index })
    }

    /// Sends the connection's open run, if it has one.
    pub(super) fn seal_run(&self, session: &mut Session) {
        if let Some(run) = session.handler_state.get_mut::<OpenRun>() {
            self.seal(run, &session.order);
        }
    }

    fn seal(&self, run: &mut OpenRun, order: &KeyOrder) {
        let Some(shared) = run.shared.take() else { return };
        run.last_len = run.items.len();
        // Every key as written: a later read of a key the run only reads waits for the run
        // too, which costs nothing in order and keeps one ticket for the whole run.
        let ticket = order.enter_reusing(&mut run.keys, true);
        run.prints.clear();
        let router = self.clone();
        // A run of one is popped, so the list keeps its room for the connection's next run.
        let one = if run.items.len() == 1 { run.items.pop() } else { None };
        let driver: Driver = match one {
            Some(item) => Box::pin(async move {
                ticket.ready().await;
                let reply = router.send_one(item).await;
                drop(ticket);
                Replies::One(reply)
            }),
            None => {
                let items = std::mem::take(&mut run.items);
                Box::pin(async move {
                    ticket.ready().await;
                    let replies = router.send_run(items).await;
                    drop(ticket);
                    Replies::Many(replies)
                })
            }
        };
        shared.start(driver);
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn fingerprints_tell_keys_apart_by_every_byte() {
        let keys: Vec<Vec<u8>> = (0..2000u32)
            .flat_map(|i| [format!("key:{i:012}"), format!("user:{i}:profile"), format!("{i}")])
            .map(String::into_bytes)
            .chain([vec![], vec![0], vec![0, 0], b"a".repeat(8), b"a".repeat(9)])
            .collect();
        let mut prints: Vec<u64> = keys.iter().map(|k| fingerprint(k)).collect();
        assert_eq!(
            fingerprint(b"user:7:profile"),
            fingerprint(format!("user:{}:profile", 7).as_bytes())
        );
        prints.sort_unstable();
        prints.dedup();
        assert_eq!(prints.len(), keys.len());
    }
}
