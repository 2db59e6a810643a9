//! The correctness checker of `shale stress`: a pure state machine, fed the send and
//! completion times of every write, delete and read, that decides whether each read
//! returned a value that could have been current.
//!
//! Owns the judging rules and nothing else: no clock, no I/O, no randomness, so every
//! rule has a unit test (`checker_tests.rs`). Times are microseconds on any monotonic
//! clock the caller likes, the same one for every event.
//!
//! # Rules
//!
//! A request is known to have taken effect somewhere between its send and its completion
//! time. So for each key the checker keeps:
//! - the mutations (SET/DEL) **in flight**;
//! - the **candidates**: completed mutations that may be the current state, initially
//!   "never written" (absent). An acknowledged mutation sent at `s` removes every candidate
//!   that completed before `s`: those certainly took effect before it. A mutation that
//!   failed or timed out is *unknown*: it becomes a candidate but removes nothing, because
//!   it may not have taken effect (and if it did, it is superseded only by a later
//!   acknowledged mutation sent after it failed);
//! - the time the last mutation completed.
//!
//! A read sent at `rs` and completed at `rd` is **judged** only if no mutation of its key
//! is in flight and none completed at or after `rs` (none overlapped it); otherwise it
//! is **unjudged**. A judged read is correct if some candidate admits what it returned:
//! - a value: a candidate SET of exactly that value, not yet certainly expired (its TTL has
//!   not run out since its completion, plus the slack, at `rs`; unknown SETs have no
//!   such bound);
//! - a miss: a candidate DEL or "never written", or a candidate SET whose TTL may have run
//!   out (since its *send*, less the slack, at `rd`).
//!
//! Memory stays bounded: per key, the in-flight mutations and the candidates, which a later
//! acknowledged mutation clears. Should a key pile up more than [`MAX_CANDIDATES`]
//! candidates (a long run of failures), the oldest are dropped and its reads stay unjudged
//! until an acknowledged mutation sent after them.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

/// A timestamp in microseconds.
pub type Micros = u64;

/// Most candidates kept per key before the oldest are forgotten.
pub const MAX_CANDIDATES: usize = 64;

/// Incorrect reads kept as examples.
pub const MAX_EXAMPLES: usize = 10;

/// Longest value prefix shown in an example.
const SHOWN_VALUE_LEN: usize = 24;

/// Names one mutation between [`Checker::begin_set`]/[`Checker::begin_del`] and
/// [`Checker::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutationId {
    key: u64,
    id: u64,
}

/// How a mutation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// The server acknowledged it.
    Acked,
    /// It failed or timed out: it may or may not have taken effect.
    Unknown,
}

/// The checker's answer for one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Judged, and some candidate admits the result.
    Correct,
    /// Judged, and no candidate admits the result.
    Incorrect,
    /// A mutation of the key overlapped the read, so any result is possible.
    Unjudged,
}

/// Read counts by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadCounts {
    /// Reads with no overlapping mutation.
    pub judged: u64,
    /// Judged reads that returned a possible value.
    pub correct: u64,
    /// Judged reads that returned an impossible value.
    pub incorrect: u64,
    /// Reads overlapped by a mutation of their key.
    pub unjudged: u64,
}

/// One incorrect read, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incorrect {
    /// The key's number.
    pub key: u64,
    /// When the read was sent.
    pub sent_us: Micros,
    /// When it completed.
    pub done_us: Micros,
    /// What it could have returned.
    pub expected: Vec<String>,
    /// What it returned (`None`: a miss), shortened.
    pub got: Option<String>,
}

/// What a mutation leaves behind when it takes effect.
#[derive(Debug, Clone)]
enum Effect {
    Value { value: Bytes, ttl: Option<Micros> },
    Absent,
}

#[derive(Debug, Clone)]
struct Candidate {
    effect: Effect,
    sent: Micros,
    /// `None` for the initial "never written" state, which precedes everything.
    done: Option<Micros>,
    acked: bool,
}

#[derive(Debug, Clone)]
struct InFlight {
    id: u64,
    effect: Effect,
    sent: Micros,
}

#[derive(Debug, Clone)]
struct KeyState {
    in_flight: Vec<InFlight>,
    candidates: Vec<Candidate>,
    last_done: Option<Micros>,
    /// Completion time of the newest forgotten candidate, while it could still matter.
    lost_until: Option<Micros>,
}

impl KeyState {
    fn new() -> Self {
        let never_written = Candidate { effect: Effect::Absent, sent: 0, done: None, acked: true };
        Self {
            in_flight: Vec::new(),
            candidates: vec![never_written],
            last_done: None,
            lost_until: None,
        }
    }
}

/// The per-key histories and the read counts.
#[derive(Debug, Clone)]
pub struct Checker {
    keys: HashMap<u64, KeyState>,
    next_id: u64,
    slack: Micros,
    counts: ReadCounts,
    examples: Vec<Incorrect>,
}

impl Checker {
    /// A checker for keys that are all absent now. `slack` widens TTL windows for clock
    /// granularity and TTL rounding.
    pub fn new(slack: Duration) -> Self {
        Self {
            keys: HashMap::new(),
            next_id: 0,
            slack: micros(slack),
            counts: ReadCounts::default(),
            examples: Vec::new(),
        }
    }

    /// A SET of `value` (expiring after `ttl`) to `key` is about to be sent at `sent`.
    pub fn begin_set(
        &mut self,
        key: u64,
        value: Bytes,
        ttl: Option<Duration>,
        sent: Micros,
    ) -> MutationId {
        self.begin(key, Effect::Value { value, ttl: ttl.map(micros) }, sent)
    }

    /// A DEL of `key` is about to be sent at `sent`.
    pub fn begin_del(&mut self, key: u64, sent: Micros) -> MutationId {
        self.begin(key, Effect::Absent, sent)
    }

    fn begin(&mut self, key: u64, effect: Effect, sent: Micros) -> MutationId {
        self.next_id += 1;
        let id = self.next_id;
        let state = self.keys.entry(key).or_insert_with(KeyState::new);
        state.in_flight.push(InFlight { id, effect, sent });
        MutationId { key, id }
    }

    /// Mutation `m` completed at `done`, acknowledged or not.
    pub fn finish(&mut self, m: MutationId, ack: Ack, done: Micros) {
        let Some(state) = self.keys.get_mut(&m.key) else { return };
        let Some(pos) = state.in_flight.iter().position(|f| f.id == m.id) else { return };
        let f = state.in_flight.swap_remove(pos);
        state.last_done = Some(state.last_done.map_or(done, |d| d.max(done)));
        let acked = ack == Ack::Acked;
        if acked {
            // Whatever completed before this was sent took effect before it: overwritten.
            state.candidates.retain(|c| c.done.is_some_and(|d| d >= f.sent));
            if state.lost_until.is_some_and(|l| l < f.sent) {
                state.lost_until = None;
            }
        }
        state.candidates.push(Candidate {
            effect: f.effect,
            sent: f.sent,
            done: Some(done),
            acked,
        });
        if state.candidates.len() > MAX_CANDIDATES {
            let oldest = state.candidates.remove(0);
            let lost = oldest.done.unwrap_or(0);
            state.lost_until = Some(state.lost_until.map_or(lost, |l| l.max(lost)));
        }
    }

    /// A read of `key` sent at `sent` returned `got` (`None`: a miss) at `done`.
    pub fn judge_read(
        &mut self,
        key: u64,
        sent: Micros,
        done: Micros,
        got: Option<&[u8]>,
    ) -> Verdict {
        let state = self.keys.entry(key).or_insert_with(KeyState::new);
        let overlapped = !state.in_flight.is_empty()
            || state.last_done.is_some_and(|d| d >= sent)
            || state.lost_until.is_some();
        if overlapped {
            self.counts.unjudged += 1;
            return Verdict::Unjudged;
        }
        self.counts.judged += 1;
        let slack = self.slack;
        if state.candidates.iter().any(|c| admits(c, got, sent, done, slack)) {
            self.counts.correct += 1;
            return Verdict::Correct;
        }
        self.counts.incorrect += 1;
        if self.examples.len() < MAX_EXAMPLES {
            let expected = state.candidates.iter().map(describe).collect();
            let got = got.map(show);
            self.examples.push(Incorrect { key, sent_us: sent, done_us: done, expected, got });
        }
        Verdict::Incorrect
    }

    /// Reads so far, by verdict.
    pub fn counts(&self) -> ReadCounts {
        self.counts
    }

    /// The first [`MAX_EXAMPLES`] incorrect reads.
    pub fn examples(&self) -> &[Incorrect] {
        &self.examples
    }
}

/// Whether a read sent at `sent` and done at `done` may return `got` if `c` is current.
fn admits(c: &Candidate, got: Option<&[u8]>, sent: Micros, done: Micros, slack: Micros) -> bool {
    match (&c.effect, got) {
        (Effect::Absent, None) => true,
        (Effect::Absent, Some(_)) => false,
        (Effect::Value { value, ttl }, Some(got)) => {
            // An acknowledged SET took effect by `c.done`, so its value is gone by then + TTL.
            let surely_expired = match (ttl, c.done) {
                (Some(ttl), Some(applied_by)) if c.acked => {
                    sent > applied_by.saturating_add(*ttl).saturating_add(slack)
                }
                _ => false,
            };
            value[..] == *got && !surely_expired
        }
        // It took effect no earlier than its send, so it may be gone from send + TTL on.
        (Effect::Value { ttl: Some(ttl), .. }, None) => {
            done.saturating_add(slack) >= c.sent.saturating_add(*ttl)
        }
        (Effect::Value { ttl: None, .. }, None) => false,
    }
}

fn describe(c: &Candidate) -> String {
    let mut s = match &c.effect {
        Effect::Absent if c.done.is_none() => "miss (never written)".to_owned(),
        Effect::Absent => "miss (deleted)".to_owned(),
        Effect::Value { value, ttl: None } => show(value),
        Effect::Value { value, ttl: Some(_) } => format!("{} or miss once expired", show(value)),
    };
    if !c.acked {
        s.push_str(" (unacknowledged)");
    }
    s
}

fn show(value: &[u8]) -> String {
    let cut = &value[..value.len().min(SHOWN_VALUE_LEN)];
    let more = if value.len() > SHOWN_VALUE_LEN { "..." } else { "" };
    format!("{:?}{more}", String::from_utf8_lossy(cut))
}

fn micros(d: Duration) -> Micros {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
