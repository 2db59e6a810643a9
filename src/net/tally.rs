//! Per-command counters and latency histograms, kept by the connection loop for every
//! request it answers (server and router alike): how many of each command ended in each
//! [`Outcome`], and how long each [`Class`] of command took from dispatch to reply.
//!
//! Owns the counting only; rendering them (Prometheus, INFO) is for the readers. The hot
//! path takes no lock and allocates nothing: a command name is looked up in a fixed table
//! of `&'static str` slots (claimed once per name, lock-free), and every count is a relaxed
//! atomic add in one of [`STRIPES`] copies of the table, picked per thread, so worker
//! threads do not fight over cache lines. Readers add the stripes up. Time is read from the
//! CPU's timestamp counter ([`now`], through `quanta`): `std::time::Instant` costs about a
//! hundred instructions more per request (`clock_gettime` plus the `Duration` arithmetic).

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use quanta::Clock;

use crate::cmd::{Command, Flag, Spec};
use crate::protocol::{Reply, Status};

/// Distinct command names counted; a name seen after the table is full counts as
/// [`OVERFLOW_NAME`]. Well above the command set, so in practice never reached.
pub const MAX_COMMAND_NAMES: usize = 128;
/// Copies of the counters, one per thread modulo this; a power of two.
pub const STRIPES: usize = 8;
/// Upper bounds of the latency histogram buckets, in nanoseconds (10 us .. 2.5 s); a last
/// bucket takes everything slower.
pub const LATENCY_BOUNDS_NS: [u64; 17] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
];
/// The name requests that could not be decoded into a command are counted under.
pub const INVALID_NAME: &str = "invalid";
/// The name counted once [`MAX_COMMAND_NAMES`] names are taken.
pub const OVERFLOW_NAME: &str = "other";

const BUCKETS: usize = LATENCY_BOUNDS_NS.len() + 1;

/// How a request ended, from its reply's status. The router's outcomes (partial,
/// unavailable, timeout, crossshard, reply_lost) are statuses of their own, so nothing here reads
/// message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Any reply that is not an error (a miss included).
    Ok,
    /// An error not listed below (bad arguments, out of memory, ...).
    Error,
    /// Refused before authentication.
    NoAuth,
    /// The node does not serve the key's shard (yet).
    WrongShard,
    /// Router: a write reached only some replicas.
    Partial,
    /// Router: no replica could serve.
    Unavailable,
    /// A deadline passed.
    Timeout,
    /// Router: the keys of one request are on different shards (CROSSSHARD).
    CrossShard,
    /// Router: a read-modify-write ran once, but its reply was lost (REPLY_LOST).
    ReplyLost,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 9] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::NoAuth,
        Outcome::WrongShard,
        Outcome::Partial,
        Outcome::Unavailable,
        Outcome::Timeout,
        Outcome::CrossShard,
        Outcome::ReplyLost,
    ];

    /// The outcome of a request answered with `reply`.
    pub fn of(reply: &Reply) -> Self {
        let Reply::Error(e) = reply else { return Outcome::Ok };
        match e.status {
            Status::NoAuth => Outcome::NoAuth,
            Status::WrongShard => Outcome::WrongShard,
            Status::Partial => Outcome::Partial,
            Status::Unavailable => Outcome::Unavailable,
            Status::Timeout => Outcome::Timeout,
            Status::CrossShard => Outcome::CrossShard,
            Status::ReplyLost => Outcome::ReplyLost,
            _ => Outcome::Error,
        }
    }

    /// Lower-case label value.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::NoAuth => "noauth",
            Outcome::WrongShard => "wrongshard",
            Outcome::Partial => "partial",
            Outcome::Unavailable => "unavailable",
            Outcome::Timeout => "timeout",
            Outcome::CrossShard => "crossshard",
            Outcome::ReplyLost => "reply_lost",
        }
    }
}

/// What kind of work a command is, for latency histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Reads keys.
    Read,
    /// Writes or deletes keys.
    Write,
    /// Everything else: connection, server and replication commands, undecodable requests.
    Other,
}

impl Class {
    /// Every class, in label order.
    pub const ALL: [Class; 3] = [Class::Read, Class::Write, Class::Other];

    /// The class of `command`, from its declaration: writes are what Redis flags `write`,
    /// reads the `readonly` commands that name keys.
    pub fn of(command: &Command) -> Self {
        Self::of_spec(command.full_spec())
    }

    /// The class of the command `spec` declares.
    pub fn of_spec(spec: &Spec) -> Self {
        if spec.has(Flag::Write) {
            Class::Write
        } else if spec.has(Flag::ReadOnly) && !spec.keys.is_empty() {
            Class::Read
        } else {
            Class::Other
        }
    }

    /// Lower-case label value.
    pub fn name(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Write => "write",
            Class::Other => "other",
        }
    }
}

/// One row of [`CommandTally::counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandCount {
    /// Command name as declared (lower case, `config|get`), or [`INVALID_NAME`] /
    /// [`OVERFLOW_NAME`].
    pub command: &'static str,
    /// The command's class.
    pub class: Class,
    /// How the requests ended.
    pub outcome: Outcome,
    /// How many.
    pub count: u64,
}

/// A connection's last tallied command and its slot: requests of one command in a row
/// (most pipelines) find their slot with one pointer comparison instead of a name lookup.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memo {
    last: Option<(&'static Spec, u16, Class)>,
}

/// A request being answered: which counters it goes to and when it started.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    slot: u16,
    class: Class,
    /// [`now`] when it started.
    started: u64,
}

/// The process's request clock (calibrated once).
fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(Clock::new)
}

/// A timestamp for [`CommandTally::start`] and [`CommandTally::finish`]: raw counter ticks,
/// only meaningful as a difference of two of them.
pub fn now() -> u64 {
    clock().raw()
}

/// A latency histogram: counts per bucket of [`LATENCY_BOUNDS_NS`] and the total time.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, ns: u64) {
        let bucket = LATENCY_BOUNDS_NS.partition_point(|&bound| bound < ns);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }
}

/// A histogram read out: per-bucket (not cumulative) counts, the last one unbounded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySnapshot {
    /// `(upper bound in seconds, requests in that bucket)`; the last bound is infinite.
    pub buckets: Vec<(f64, u64)>,
    /// Total time, in seconds.
    pub sum_seconds: f64,
    /// Requests observed.
    pub count: u64,
}

/// One copy of every counter. Aligned so two stripes never share a cache line.
#[repr(align(128))]
struct Stripe {
    counts: [[AtomicU64; Outcome::ALL.len()]; MAX_COMMAND_NAMES],
    latency: [Histogram; Class::ALL.len()],
}

impl Default for Stripe {
    fn default() -> Self {
        Self { counts: std::array::from_fn(|_| Default::default()), latency: Default::default() }
    }
}

/// Requests by command name and outcome, and latency by class. See the module doc.
pub struct CommandTally {
    /// Each slot's command name and class, claimed on first sight.
    names: Box<[OnceLock<(&'static str, Class)>; MAX_COMMAND_NAMES]>,
    stripes: Box<[Stripe; STRIPES]>,
}

impl Default for CommandTally {
    fn default() -> Self {
        let names: Box<[OnceLock<(&'static str, Class)>; MAX_COMMAND_NAMES]> =
            Box::new(std::array::from_fn(|_| OnceLock::new()));
        // Slot 0 is the overflow slot, so a full table still counts everything.
        let _ = names[0].set((OVERFLOW_NAME, Class::Other));
        Self { names, stripes: Box::new(std::array::from_fn(|_| Stripe::default())) }
    }
}

impl std::fmt::Debug for CommandTally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.names.iter().filter(|n| n.get().is_some()).count();
        f.debug_struct("CommandTally").field("names", &names).finish_non_exhaustive()
    }
}

impl CommandTally {
    /// Starts timing a request at `now` (from [`now`]); `None` is a request that could not
    /// be decoded.
    pub fn start(&self, command: Option<&Command>, now: u64) -> Timing {
        self.start_spec(command.map(Command::full_spec), now, &mut Memo::default())
    }

    /// [`CommandTally::start`] for a command known by its spec (`None`: it did not parse),
    /// through a connection's `memo` of the last command it tallied.
    pub fn start_spec(&self, spec: Option<&'static Spec>, now: u64, memo: &mut Memo) -> Timing {
        if let (Some(spec), Some((last, slot, class))) = (spec, memo.last)
            && std::ptr::eq(spec, last)
        {
            return Timing { slot, class, started: now };
        }
        let (name, class) = match spec {
            Some(s) => (s.name, Class::of_spec(s)),
            None => (INVALID_NAME, Class::Other),
        };
        let slot = self.slot(name, class);
        memo.last = spec.map(|s| (s, slot, class));
        Timing { slot, class, started: now }
    }

    /// Counts a request started with `timing` and answered with `reply` at `now`.
    pub fn finish(&self, timing: Timing, reply: &Reply, now: u64) {
        let ns = clock().delta_as_nanos(timing.started, now);
        self.record(timing.slot, timing.class, Outcome::of(reply), ns);
    }

    fn record(&self, slot: u16, class: Class, outcome: Outcome, ns: u64) {
        let stripe = &self.stripes[stripe_index()];
        stripe.counts[usize::from(slot)][outcome as usize].fetch_add(1, Ordering::Relaxed);
        stripe.latency[class as usize].observe(ns);
    }

    /// Every command, outcome and count with a count above zero, in slot order.
    pub fn counts(&self) -> Vec<CommandCount> {
        let mut out = Vec::new();
        for (slot, claimed) in self.names.iter().enumerate() {
            let Some(&(command, class)) = claimed.get() else { continue };
            for outcome in Outcome::ALL {
                let count = self.sum(|s| &s.counts[slot][outcome as usize]);
                if count > 0 {
                    out.push(CommandCount { command, class, outcome, count });
                }
            }
        }
        out
    }

    /// The latency histogram of `class`, summed over stripes.
    pub fn latency(&self, class: Class) -> LatencySnapshot {
        fn h(s: &Stripe, class: Class) -> &Histogram {
            &s.latency[class as usize]
        }
        let bounds = LATENCY_BOUNDS_NS.iter().map(|&ns| ns as f64 / 1e9).chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> =
            bounds.enumerate().map(|(i, b)| (b, self.sum(|s| &h(s, class).buckets[i]))).collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum_seconds = self.sum(|s| &h(s, class).sum_ns) as f64 / 1e9;
        LatencySnapshot { buckets, sum_seconds, count }
    }

    fn sum(&self, counter: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes.iter().map(|s| counter(s).load(Ordering::Relaxed)).sum()
    }

    /// The slot counting `name`: found by probing from the name's hash, claimed on first
    /// sight; slot 0 once the table is full.
    fn slot(&self, name: &'static str, class: Class) -> u16 {
        let start = name_hash(name) % (MAX_COMMAND_NAMES - 1);
        for i in 0..MAX_COMMAND_NAMES - 1 {
            let slot = 1 + (start + i) % (MAX_COMMAND_NAMES - 1);
            let (held, _) = *self.names[slot].get_or_init(|| (name, class));
            if std::ptr::eq(held, name) || held == name {
                // Below MAX_COMMAND_NAMES, which fits in u16.
                return slot as u16;
            }
        }
        0
    }
}

/// A cheap hash of a short command name: its length and first and last letters, which
/// tell the command set apart well enough for a probe or two.
fn name_hash(name: &str) -> usize {
    let b = name.as_bytes();
    let (first, last) = (b.first().copied().unwrap_or(0), b.last().copied().unwrap_or(0));
    b.len().wrapping_mul(31) ^ usize::from(first).wrapping_mul(7) ^ usize::from(last)
}

/// This thread's stripe, assigned round robin the first time a thread counts (also the
/// client's and router's metrics' stripe, `client::metrics`).
/// A counter many threads add to: one copy per stripe, each on a cache line of its own, so
/// worker threads never write the same line; summed on read.
#[derive(Debug, Default)]
pub struct Striped {
    stripes: [PaddedU64; STRIPES],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct PaddedU64(AtomicU64);

impl Striped {
    /// Adds `n` (nothing at all for 0).
    pub fn add(&self, n: u64) {
        if n != 0 {
            self.stripes[stripe_index()].0.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The sum of every stripe.
    pub fn get(&self) -> u64 {
        self.stripes.iter().map(|s| s.0.load(Ordering::Relaxed)).fold(0, u64::wrapping_add)
    }

    /// Zeroes the counter.
    pub fn reset(&self) {
        self.stripes.iter().for_each(|s| s.0.store(0, Ordering::Relaxed));
    }
}

pub(crate) fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        s.get()
    })
}

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;
