//! The table of requests in flight on one connection: id allocation, reply matching, and
//! cleanup when a caller gives up. No I/O; [`super::connection`] drives it under a mutex.
//!
//! An entry moves `Queued` (registered, not yet written) -> `Sent` (written, reply due)
//! -> removed when the reply arrives. A caller that gives up removes a `Queued` entry
//! outright (the writer then skips its frame) but turns a `Sent` one into `Abandoned`:
//! the server will still answer it, and keeping the id reserved until then is what
//! guarantees the late reply can never be matched to a newer request.

use std::sync::Arc;

use ahash::AHashMap;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::batch::{Batch, Completion};
use super::reply::Expect;

pub(crate) use super::batch::Outcome;

/// A caller waiting for its reply.
#[derive(Debug)]
pub(crate) struct Waiter {
    /// Completes the caller's `call`.
    pub(crate) tx: Completion,
    /// The shape the reply must have.
    pub(crate) expect: Expect,
    /// When the connection's sweep fails it with a timeout ([`InFlight::overdue`]);
    /// `None` when the caller keeps its own deadline.
    pub(crate) deadline: Option<Instant>,
}

#[derive(Debug)]
enum Entry {
    Queued(Waiter),
    Sent(Waiter),
    Abandoned,
}

/// Result of matching a reply id.
#[derive(Debug)]
pub(crate) enum Taken {
    /// The caller is still waiting.
    Waiter(Waiter),
    /// The caller gave up; drop the reply.
    Abandoned,
    /// No request has this id: the stream is not what we think it is.
    Unknown,
}

/// Why a request could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The connection is dead, for this reason.
    Closed(String),
    /// The table is full.
    Full(usize),
}

/// Requests in flight on one connection.
#[derive(Debug)]
pub(crate) struct InFlight {
    entries: AHashMap<u32, Entry>,
    next_id: u32,
    abandoned: usize,
    max_entries: usize,
    max_abandoned: usize,
    closed: Option<String>,
}

impl InFlight {
    /// An empty table admitting `max_entries` (abandoned ones included) and at most
    /// `max_abandoned` abandoned ones.
    pub(crate) fn new(max_entries: usize, max_abandoned: usize) -> Self {
        Self {
            entries: AHashMap::new(),
            next_id: 1,
            abandoned: 0,
            // Below u32::MAX so allocation always finds a free id.
            max_entries: max_entries.clamp(1, 1 << 30),
            max_abandoned,
            closed: None,
        }
    }

    /// Registers a request, returning its id and the receiver of its outcome.
    pub(crate) fn register(
        &mut self,
        expect: Expect,
        deadline: Option<Instant>,
    ) -> Result<(u32, oneshot::Receiver<Outcome>), Refused> {
        let (tx, rx) = oneshot::channel();
        let id = self.insert(Waiter { tx: Completion::One(tx), expect, deadline })?;
        Ok((id, rx))
    }

    /// Registers a request whose outcome fills slot `index` of `batch`; returns its id.
    pub(crate) fn register_in(
        &mut self,
        expect: Expect,
        batch: &Arc<Batch>,
        index: usize,
    ) -> Result<u32, Refused> {
        self.insert(Waiter { tx: Completion::Batch(batch.clone(), index), expect, deadline: None })
    }

    fn insert(&mut self, waiter: Waiter) -> Result<u32, Refused> {
        if let Some(reason) = &self.closed {
            return Err(Refused::Closed(reason.clone()));
        }
        if self.entries.len() >= self.max_entries {
            return Err(Refused::Full(self.max_entries));
        }
        let id = self.alloc_id();
        self.entries.insert(id, Entry::Queued(waiter));
        Ok(id)
    }

    /// The next id after the last one handed out that is neither 0 (reserved for the
    /// server's connection-level errors) nor still in the table. Terminates because the
    /// table holds far fewer than 2^32 entries.
    fn alloc_id(&mut self) -> u32 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if id != 0 && !self.entries.contains_key(&id) {
                return id;
            }
        }
    }

    /// Marks a request as written. `false` means its caller already gave up, so the
    /// writer must skip the frame.
    pub(crate) fn mark_sent(&mut self, id: u32) -> bool {
        let Some(entry) = self.entries.get_mut(&id) else { return false };
        // Already sent or abandoned: never write the same id twice.
        let Entry::Queued(_) = entry else { return false };
        let Entry::Queued(w) = std::mem::replace(entry, Entry::Abandoned) else { return false };
        *entry = Entry::Sent(w);
        true
    }

    /// The caller of `id` gave up. Returns `true` when abandoned requests exceed the
    /// limit, meaning the connection should be reset.
    pub(crate) fn abandon(&mut self, id: u32) -> bool {
        match self.entries.get_mut(&id) {
            Some(Entry::Queued(_)) => {
                self.entries.remove(&id);
            }
            Some(entry @ Entry::Sent(_)) => {
                *entry = Entry::Abandoned;
                self.abandoned += 1;
            }
            Some(Entry::Abandoned) | None => {}
        }
        self.abandoned > self.max_abandoned
    }

    /// Matches a reply id, removing its entry.
    pub(crate) fn take(&mut self, id: u32) -> Taken {
        match self.entries.remove(&id) {
            Some(Entry::Sent(w)) => Taken::Waiter(w),
            Some(Entry::Abandoned) => {
                self.abandoned -= 1;
                Taken::Abandoned
            }
            Some(queued @ Entry::Queued(_)) => {
                // A reply to a request not yet written cannot be ours.
                self.entries.insert(id, queued);
                Taken::Unknown
            }
            None => Taken::Unknown,
        }
    }

    /// Takes the callers whose deadline is past at `now`, as if each had given up
    /// ([`InFlight::abandon`]): the caller is handed back to be failed, and a reply that
    /// still comes is dropped. The flag is `true` when abandoned requests now exceed the
    /// limit.
    pub(crate) fn overdue(&mut self, now: Instant) -> (Vec<Waiter>, bool) {
        let mut waiters = Vec::new();
        let mut abandoned = 0;
        self.entries.retain(|_, entry| {
            let late = |w: &Waiter| w.deadline.is_some_and(|d| d <= now);
            let written = match entry {
                Entry::Queued(w) if late(w) => false,
                Entry::Sent(w) if late(w) => true,
                _ => return true,
            };
            if let Entry::Queued(w) | Entry::Sent(w) = std::mem::replace(entry, Entry::Abandoned) {
                waiters.push(w);
            }
            // A written one's reply will still come: its id stays reserved until it does.
            abandoned += usize::from(written);
            written
        });
        self.abandoned += abandoned;
        (waiters, self.abandoned > self.max_abandoned)
    }

    /// Marks the connection dead and hands back every waiting caller, so each can be
    /// failed. The first reason sticks.
    pub(crate) fn close(&mut self, reason: &str) -> Vec<Waiter> {
        self.closed.get_or_insert_with(|| reason.to_owned());
        self.abandoned = 0;
        self.entries
            .drain()
            .filter_map(|(_, e)| match e {
                Entry::Queued(w) | Entry::Sent(w) => Some(w),
                Entry::Abandoned => None,
            })
            .collect()
    }

    /// Why the connection died, once it has.
    pub(crate) fn closed_reason(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    /// Entries in the table, abandoned ones included.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
#[path = "inflight_tests.rs"]
mod tests;
