//! The checker's rules, one scenario each: what it must catch and what it must accept.
//! Times are microseconds; `SLACK` is 1 ms.

use std::time::Duration;

use super::checker::{Ack, Checker, MAX_CANDIDATES, ReadCounts, Verdict};

const SLACK: Duration = Duration::from_millis(1);
const K: u64 = 7;

fn checker() -> Checker {
    Checker::new(SLACK)
}

/// A SET of `value` sent at `sent` and acknowledged at `done`.
fn set(c: &mut Checker, value: &'static str, sent: u64, done: u64) {
    let m = c.begin_set(K, value.into(), None, sent);
    c.finish(m, Ack::Acked, done);
}

fn del(c: &mut Checker, sent: u64, done: u64) {
    let m = c.begin_del(K, sent);
    c.finish(m, Ack::Acked, done);
}

fn read(c: &mut Checker, sent: u64, done: u64, got: Option<&str>) -> Verdict {
    c.judge_read(K, sent, done, got.map(str::as_bytes))
}

#[test]
fn catches_a_wrong_value() {
    let mut c = checker();
    set(&mut c, "w1", 0, 10);
    assert_eq!(read(&mut c, 20, 30, Some("w1")), Verdict::Correct);
    assert_eq!(read(&mut c, 40, 50, Some("bogus")), Verdict::Incorrect);
    let ex = &c.examples()[0];
    assert_eq!((ex.key, ex.got.as_deref()), (K, Some("\"bogus\"")));
    assert_eq!(ex.expected, vec!["\"w1\"".to_owned()]);
}

#[test]
fn catches_a_value_nobody_wrote_and_a_miss_after_a_write() {
    let mut c = checker();
    assert_eq!(read(&mut c, 0, 5, None), Verdict::Correct); // never written
    assert_eq!(read(&mut c, 6, 8, Some("w1")), Verdict::Incorrect); // never written either
    set(&mut c, "w1", 10, 20);
    assert_eq!(read(&mut c, 30, 40, None), Verdict::Incorrect); // lost write
}

#[test]
fn catches_a_stale_read() {
    let mut c = checker();
    set(&mut c, "w1", 0, 10);
    set(&mut c, "w2", 20, 30); // sent after w1 was acknowledged: w1 is overwritten
    assert_eq!(read(&mut c, 40, 50, Some("w1")), Verdict::Incorrect);
    assert_eq!(read(&mut c, 60, 70, Some("w2")), Verdict::Correct);
}

#[test]
fn catches_a_resurrected_delete() {
    let mut c = checker();
    set(&mut c, "w1", 0, 10);
    del(&mut c, 20, 30);
    assert_eq!(read(&mut c, 40, 50, None), Verdict::Correct);
    assert_eq!(read(&mut c, 60, 70, Some("w1")), Verdict::Incorrect);
    assert_eq!(c.examples()[0].expected, vec!["miss (deleted)".to_owned()]);
}

#[test]
fn accepts_a_miss_once_the_ttl_may_have_run_out() {
    let mut c = checker();
    let m = c.begin_set(K, "w1".into(), Some(Duration::from_millis(100)), 1_000);
    c.finish(m, Ack::Acked, 2_000);
    // Before send + TTL - slack (100_000 us) a miss is wrong; after it, fine.
    assert_eq!(read(&mut c, 50_000, 60_000, None), Verdict::Incorrect);
    assert_eq!(read(&mut c, 95_000, 100_500, None), Verdict::Correct);
    assert_eq!(read(&mut c, 200_000, 200_100, None), Verdict::Correct);
    // The value is still fine while it may not have expired...
    assert_eq!(read(&mut c, 102_000, 102_100, Some("w1")), Verdict::Correct);
    // ...but not after acknowledgement + TTL + slack: an expired value came back.
    assert_eq!(read(&mut c, 104_000, 104_100, Some("w1")), Verdict::Incorrect);
}

#[test]
fn accepts_either_state_after_an_unknown_write_until_a_later_acked_write() {
    let mut c = checker();
    set(&mut c, "w1", 0, 10);
    let m = c.begin_set(K, "w2".into(), None, 20);
    c.finish(m, Ack::Unknown, 30); // timed out: applied or not
    assert_eq!(read(&mut c, 40, 50, Some("w1")), Verdict::Correct);
    assert_eq!(read(&mut c, 60, 70, Some("w2")), Verdict::Correct);
    assert_eq!(read(&mut c, 80, 90, Some("w3")), Verdict::Incorrect);
    set(&mut c, "w3", 100, 110); // sent after w2 failed: overwrites both
    assert_eq!(read(&mut c, 120, 130, Some("w2")), Verdict::Incorrect);
    assert_eq!(read(&mut c, 140, 150, Some("w1")), Verdict::Incorrect);
    assert_eq!(read(&mut c, 160, 170, Some("w3")), Verdict::Correct);
}

#[test]
fn an_unknown_delete_allows_a_miss_or_the_old_value() {
    let mut c = checker();
    set(&mut c, "w1", 0, 10);
    let m = c.begin_del(K, 20);
    c.finish(m, Ack::Unknown, 30);
    assert_eq!(read(&mut c, 40, 50, None), Verdict::Correct);
    assert_eq!(read(&mut c, 60, 70, Some("w1")), Verdict::Correct);
}

#[test]
fn leaves_reads_overlapping_a_write_unjudged() {
    let mut c = checker();
    set(&mut c, "w1", 0, 10);
    let m = c.begin_set(K, "w2".into(), None, 20);
    // In flight while the read completes: anything goes, nothing is judged.
    assert_eq!(read(&mut c, 15, 25, Some("whatever")), Verdict::Unjudged);
    c.finish(m, Ack::Acked, 40);
    // Completed after the read was sent: still overlapping.
    assert_eq!(read(&mut c, 35, 45, Some("w1")), Verdict::Unjudged);
    // Sent after the write completed: judged again.
    assert_eq!(read(&mut c, 41, 50, Some("w1")), Verdict::Incorrect);
    assert_eq!(read(&mut c, 51, 60, Some("w2")), Verdict::Correct);
    let counts = c.counts();
    assert_eq!(counts, ReadCounts { judged: 2, correct: 1, incorrect: 1, unjudged: 2 });
}

#[test]
fn concurrent_writes_leave_either_value_possible() {
    let mut c = checker();
    let a = c.begin_set(K, "wa".into(), None, 0);
    let b = c.begin_set(K, "wb".into(), None, 5);
    c.finish(a, Ack::Acked, 20);
    c.finish(b, Ack::Acked, 15); // the two overlapped: their order is unknown
    assert_eq!(read(&mut c, 30, 40, Some("wa")), Verdict::Correct);
    assert_eq!(read(&mut c, 50, 60, Some("wb")), Verdict::Correct);
    del(&mut c, 70, 80);
    assert_eq!(read(&mut c, 90, 100, Some("wa")), Verdict::Incorrect);
}

#[test]
fn keys_are_independent() {
    let mut c = checker();
    set(&mut c, "w1", 0, 10);
    let pending = c.begin_set(K + 1, "other".into(), None, 15);
    assert_eq!(read(&mut c, 20, 30, Some("w1")), Verdict::Correct);
    assert_eq!(c.judge_read(K + 1, 20, 30, Some(b"x")), Verdict::Unjudged);
    c.finish(pending, Ack::Acked, 35);
    assert_eq!(c.judge_read(K + 1, 40, 50, Some(b"other")), Verdict::Correct);
}

#[test]
fn memory_stays_bounded_under_endless_failures() {
    let mut c = checker();
    set(&mut c, "w0", 0, 1);
    let mut t = 10;
    for i in 0..(MAX_CANDIDATES as u64 * 3) {
        let m = c.begin_set(K, format!("u{i}").into(), None, t);
        c.finish(m, Ack::Unknown, t + 5);
        t += 10;
    }
    // Too much was forgotten to judge anything...
    assert_eq!(read(&mut c, t, t + 5, Some("w0")), Verdict::Unjudged);
    // ...until an acknowledged write sent after all of it.
    set(&mut c, "fresh", t + 10, t + 20);
    assert_eq!(read(&mut c, t + 30, t + 40, Some("fresh")), Verdict::Correct);
}

#[test]
fn finishing_an_unknown_id_is_ignored() {
    let mut c = checker();
    let m = c.begin_del(K, 0);
    c.finish(m, Ack::Acked, 5);
    c.finish(m, Ack::Acked, 6); // twice: no effect
    assert_eq!(read(&mut c, 10, 20, None), Verdict::Correct);
}
