//! Per-command counters and latency histograms, kept by the connection loop for every
//! request it answers (server and router alike): how many of each command ended in each
//! [`Outcome`], and how long each [`Class`] of command took from dispatch to reply.
//!
//! Owns the counting only; rendering them (Prometheus, INFO) is for the readers. The hot
//! path takes no lock and allocates nothing: a command name is looked up in a fixed table
//! of `&'static str` slots (claimed once per name, lock-free), and every count is a relaxed
//! atomic add in one of [`STRIPES`] copies of the table, picked per thread, so worker
//! threads do not fight over cache lines. Readers add the stripes up.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::protocol::{Command, Reply, Status};

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
/// unavailable, timeout, crossshard) are statuses of their own, so nothing here reads
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
    /// Router: the keys of one request are on different shards. No status carries this
    /// yet; reserved for the CROSSSHARD reply of multi-key commands.
    CrossShard,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::NoAuth,
        Outcome::WrongShard,
        Outcome::Partial,
        Outcome::Unavailable,
        Outcome::Timeout,
        Outcome::CrossShard,
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

    /// The class of `command`. Commands not listed (new ones too) are [`Class::Other`]
    /// until they are added here.
    pub fn of(command: &Command) -> Self {
        match command {
            Command::Get(_) | Command::Exists(_) | Command::Ttl { .. } | Command::MGet(_) => {
                Class::Read
            }
            Command::Set(_)
            | Command::Del(_)
            | Command::MSet(_)
            | Command::Expire { .. }
            | Command::Persist(_)
            | Command::FlushAll
            | Command::VSet { .. }
            | Command::VDel { .. } => Class::Write,
            _ => Class::Other,
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
    /// Upper-case command name, or [`INVALID_NAME`] / [`OVERFLOW_NAME`].
    pub command: &'static str,
    /// The command's class.
    pub class: Class,
    /// How the requests ended.
    pub outcome: Outcome,
    /// How many.
    pub count: u64,
}

/// A request being answered: which counters it goes to and when it started.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    slot: u16,
    class: Class,
    started: Instant,
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
    /// Starts timing a request at `now`; `None` is a request that could not be decoded.
    pub fn start(&self, command: Option<&Command>, now: Instant) -> Timing {
        let (name, class) = match command {
            Some(c) => (c.name(), Class::of(c)),
            None => (INVALID_NAME, Class::Other),
        };
        Timing { slot: self.slot(name, class), class, started: now }
    }

    /// Counts a request started with `timing` and answered with `reply` at `now`.
    pub fn finish(&self, timing: Timing, reply: &Reply, now: Instant) {
        let stripe = &self.stripes[stripe_index()];
        let outcome = Outcome::of(reply) as usize;
        stripe.counts[usize::from(timing.slot)][outcome].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(now.saturating_duration_since(timing.started).as_nanos());
        stripe.latency[timing.class as usize].observe(ns.unwrap_or(u64::MAX));
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

/// A cheap hash of a short command name (FNV-1a).
fn name_hash(name: &str) -> usize {
    let h = name.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    h as usize
}

/// This thread's stripe, assigned round robin the first time a thread counts.
fn stripe_index() -> usize {
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
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::protocol::ErrorReply;

    fn get() -> Command {
        Command::Get(Bytes::from_static(b"k"))
    }

    #[test]
    fn counts_by_command_and_outcome() {
        let t = CommandTally::default();
        let now = Instant::now();
        for reply in [Reply::Nil, Reply::Bulk(Bytes::new())] {
            t.finish(t.start(Some(&get()), now), &reply, now);
        }
        let partial = Reply::Error(ErrorReply::new(Status::Partial, "x"));
        t.finish(t.start(Some(&Command::DbSize), now), &partial, now);
        t.finish(t.start(None, now), &Reply::Error(ErrorReply::invalid("bad")), now);
        let mut counts: Vec<_> =
            t.counts().into_iter().map(|c| (c.command, c.class, c.outcome, c.count)).collect();
        counts.sort_by_key(|c| c.0);
        assert_eq!(
            counts,
            [
                ("DBSIZE", Class::Other, Outcome::Partial, 1),
                ("GET", Class::Read, Outcome::Ok, 2),
                ("invalid", Class::Other, Outcome::Error, 1)
            ]
        );
    }

    #[test]
    fn latency_lands_in_its_bucket_and_class() {
        let t = CommandTally::default();
        let start = Instant::now();
        let timing = t.start(Some(&get()), start);
        t.finish(timing, &Reply::Nil, start + Duration::from_micros(30));
        let read = t.latency(Class::Read);
        assert_eq!(read.count, 1);
        assert_eq!(read.buckets[2], (50e-6, 1), "30 us is in the 50 us bucket");
        assert!((read.sum_seconds - 30e-6).abs() < 1e-9);
        assert_eq!(read.buckets.last().map(|b| b.0), Some(f64::INFINITY));
        assert_eq!(t.latency(Class::Write).count, 0);
    }

    #[test]
    fn a_full_table_counts_the_rest_as_other() {
        let t = CommandTally::default();
        let now = Instant::now();
        let names: Vec<&'static str> = (0..MAX_COMMAND_NAMES + 5)
            .map(|i| &*Box::leak(format!("C{i}").into_boxed_str()))
            .collect();
        for name in &names {
            let timing =
                Timing { slot: t.slot(name, Class::Other), class: Class::Other, started: now };
            t.finish(timing, &Reply::Ok, now);
        }
        let counts = t.counts();
        assert_eq!(counts.len(), MAX_COMMAND_NAMES);
        let other: u64 =
            counts.iter().filter(|c| c.command == OVERFLOW_NAME).map(|c| c.count).sum();
        assert_eq!(other, 6, "names past the table's room");
        assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), names.len() as u64);
    }

    #[test]
    fn outcomes_follow_statuses() {
        let err = |s| Reply::Error(ErrorReply::new(s, "m"));
        assert_eq!(Outcome::of(&Reply::Nil), Outcome::Ok);
        assert_eq!(Outcome::of(&err(Status::Timeout)), Outcome::Timeout);
        assert_eq!(Outcome::of(&err(Status::Unavailable)), Outcome::Unavailable);
        assert_eq!(Outcome::of(&err(Status::WrongShard)), Outcome::WrongShard);
        assert_eq!(Outcome::of(&err(Status::OutOfMemory)), Outcome::Error);
    }
}
