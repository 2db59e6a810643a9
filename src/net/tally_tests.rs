//! Tests of the per-command tally: counting, buckets, the full table, outcomes, the clock.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::protocol::ErrorReply;

fn get() -> Command {
    Command::Get(Bytes::from_static(b"k"))
}

/// Every (command, class, outcome, count) the tally holds, by command name.
fn sorted_counts(t: &CommandTally) -> Vec<(&'static str, Class, Outcome, u64)> {
    let mut counts: Vec<_> =
        t.counts().into_iter().map(|c| (c.command, c.class, c.outcome, c.count)).collect();
    counts.sort_by_key(|c| c.0);
    counts
}

#[test]
fn counts_by_command_and_outcome() {
    let t = CommandTally::default();
    let now = now();
    for reply in [Reply::Nil, Reply::Bulk(Bytes::new())] {
        t.finish(t.start(Some(&get()), now), &reply, now);
    }
    let partial = Reply::Error(ErrorReply::new(Status::Partial, "x"));
    t.finish(t.start(Some(&Command::DbSize(())), now), &partial, now);
    t.finish(t.start(None, now), &Reply::Error(ErrorReply::invalid("bad")), now);
    assert_eq!(
        sorted_counts(&t),
        [
            ("dbsize", Class::Other, Outcome::Partial, 1),
            ("get", Class::Read, Outcome::Ok, 2),
            ("invalid", Class::Other, Outcome::Error, 1)
        ]
    );
}

/// A connection's memo of its last command must not leak one command's slot or class
/// into the next: runs of one command, alternation, and an unparsed request between.
#[test]
fn the_memo_keeps_each_command_in_its_own_slot() {
    let t = CommandTally::default();
    let mut memo = Memo::default();
    let set = Command::Set(crate::cmd::string::SetArgs::plain(
        Bytes::from_static(b"k"),
        Bytes::from_static(b"v"),
        None,
    ));
    let seq = [Some(&get()), Some(&get()), Some(&set), None, Some(&get()), Some(&set), Some(&set)];
    for command in seq {
        let now = now();
        let timing = t.start_spec(command.map(Command::full_spec), now, &mut memo);
        t.finish(timing, &Reply::Ok, now);
    }
    assert_eq!(
        sorted_counts(&t),
        [
            ("get", Class::Read, Outcome::Ok, 3),
            ("invalid", Class::Other, Outcome::Ok, 1),
            ("set", Class::Write, Outcome::Ok, 3)
        ]
    );
    assert_eq!(t.latency(Class::Read).count, 3);
    assert_eq!(t.latency(Class::Write).count, 3);
    assert_eq!(t.latency(Class::Other).count, 1);
}

#[test]
fn latency_lands_in_its_bucket_and_class() {
    let t = CommandTally::default();
    let timing = t.start(Some(&get()), now());
    t.record(timing.slot, timing.class, Outcome::Ok, 30_000);
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
    let now = now();
    let names: Vec<&'static str> =
        (0..MAX_COMMAND_NAMES + 5).map(|i| &*Box::leak(format!("C{i}").into_boxed_str())).collect();
    for name in &names {
        let timing = Timing { slot: t.slot(name, Class::Other), class: Class::Other, started: now };
        t.finish(timing, &Reply::Ok, now);
    }
    let counts = t.counts();
    assert_eq!(counts.len(), MAX_COMMAND_NAMES);
    let other: u64 = counts.iter().filter(|c| c.command == OVERFLOW_NAME).map(|c| c.count).sum();
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

#[test]
fn the_clock_measures_real_time() {
    let (wall, start) = (Instant::now(), now());
    std::thread::sleep(Duration::from_millis(20));
    let (ticks, wall) = (clock().delta_as_nanos(start, now()), wall.elapsed());
    // The counter's nanoseconds agree with the OS clock's to within a few percent.
    let ratio = ticks as f64 / wall.as_nanos() as f64;
    assert!((0.8..1.25).contains(&ratio), "{ticks} ns by the counter, {wall:?} by the OS");
}
