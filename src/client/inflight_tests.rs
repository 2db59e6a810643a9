//! Unit tests for the in-flight table: id allocation, matching and cleanup.

use super::*;
use crate::protocol::Opcode;
use crate::protocol::binary::ResponseFrame;

fn get() -> Expect {
    Expect::Op(Opcode::Get)
}

fn reg(t: &mut InFlight) -> u32 {
    t.register(get(), None).expect("registers").0
}

#[test]
fn ids_start_at_one_and_increase() {
    let mut t = InFlight::new(16, 16);
    assert_eq!((reg(&mut t), reg(&mut t), reg(&mut t)), (1, 2, 3));
}

#[test]
fn ids_wrap_skipping_zero_and_ids_in_flight() {
    let mut t = InFlight::new(16, 16);
    t.next_id = u32::MAX - 1;
    let a = reg(&mut t);
    let b = reg(&mut t);
    assert_eq!((a, b), (u32::MAX - 1, u32::MAX));
    // Wraps past 0, which is reserved for connection-level errors.
    assert_eq!(reg(&mut t), 1);
    // Wrap again onto ids still in flight: they are skipped.
    t.next_id = u32::MAX - 1;
    assert_eq!(reg(&mut t), 2);
}

#[test]
fn reply_reaches_its_waiter_once() {
    let mut t = InFlight::new(16, 16);
    let (id, mut rx) = t.register(get(), None).expect("registers");
    assert!(t.mark_sent(id));
    let Taken::Waiter(w) = t.take(id) else { panic!("waiter expected") };
    let frame = ResponseFrame { status: 0, flags: 0, id, payload: Default::default() };
    w.tx.send(Ok(frame)).expect("receiver alive");
    assert!(rx.try_recv().is_ok());
    assert!(matches!(t.take(id), Taken::Unknown));
    assert_eq!(t.len(), 0);
}

#[test]
fn reply_to_unwritten_request_is_unknown() {
    let mut t = InFlight::new(16, 16);
    let id = reg(&mut t);
    assert!(matches!(t.take(id), Taken::Unknown));
    // The entry survives, so its caller still gets an outcome.
    assert_eq!(t.len(), 1);
}

#[test]
fn abandoning_a_queued_request_removes_it_and_the_writer_skips_it() {
    let mut t = InFlight::new(16, 16);
    let id = reg(&mut t);
    assert!(!t.abandon(id));
    assert_eq!(t.len(), 0);
    assert!(!t.mark_sent(id));
}

#[test]
fn abandoned_sent_request_keeps_its_id_until_the_late_reply() {
    let mut t = InFlight::new(16, 16);
    let id = reg(&mut t);
    assert!(t.mark_sent(id));
    assert!(!t.abandon(id));
    assert_eq!(t.len(), 1);
    t.next_id = id;
    assert_ne!(reg(&mut t), id, "id of an abandoned request reused");
    assert!(matches!(t.take(id), Taken::Abandoned));
    assert_eq!(t.abandoned, 0);
}

#[test]
fn too_many_abandoned_asks_for_a_reset() {
    let mut t = InFlight::new(16, 2);
    let ids: Vec<u32> = (0..3).map(|_| reg(&mut t)).collect();
    for &id in &ids {
        assert!(t.mark_sent(id));
    }
    assert!(!t.abandon(ids[0]));
    assert!(!t.abandon(ids[1]));
    assert!(t.abandon(ids[2]));
}

#[test]
fn full_table_refuses() {
    let mut t = InFlight::new(2, 2);
    reg(&mut t);
    reg(&mut t);
    assert_eq!(t.register(get(), None).err(), Some(Refused::Full(2)));
}

#[test]
fn close_fails_everyone_and_refuses_later_requests() {
    let mut t = InFlight::new(16, 16);
    let queued = reg(&mut t);
    let sent = reg(&mut t);
    let gone = reg(&mut t);
    assert!(t.mark_sent(sent) && t.mark_sent(gone));
    t.abandon(gone);
    let waiters = t.close("peer closed");
    assert_eq!(waiters.len(), 2, "queued {queued} and sent {sent}, not the abandoned one");
    assert_eq!(t.len(), 0);
    assert_eq!(t.closed_reason(), Some("peer closed"));
    t.close("second reason");
    assert_eq!(t.closed_reason(), Some("peer closed"));
    assert_eq!(t.register(get(), None).err(), Some(Refused::Closed("peer closed".into())));
}

#[test]
fn overdue_requests_are_handed_back_once_and_sent_ids_stay_reserved() {
    let mut t = InFlight::new(16, 16);
    let now = tokio::time::Instant::now();
    let later = now + std::time::Duration::from_secs(1);
    let (queued, _) = t.register(get(), Some(now)).expect("registers");
    let (sent, _) = t.register(get(), Some(now)).expect("registers");
    let (kept, _) = t.register(get(), Some(later)).expect("registers");
    let (own, _) = t.register(get(), None).expect("registers");
    assert!(t.mark_sent(sent));
    let (late, reset) = t.overdue(now);
    assert_eq!(late.len(), 2, "both past their deadline, written or not");
    assert!(!reset);
    // The written one's reply may still come: dropped, never matched to a newer request.
    assert!(matches!(t.take(sent), Taken::Abandoned));
    // The unwritten one is gone: the writer skips it.
    assert!(!t.mark_sent(queued));
    assert!(t.overdue(now).0.is_empty(), "each caller is failed once");
    assert_eq!(t.len(), 2, "{kept} and {own} wait on");
    assert_eq!(t.overdue(later).0.len(), 1, "a request without a kept deadline is never swept");
}

#[test]
fn overdue_requests_count_toward_the_abandoned_limit() {
    let mut t = InFlight::new(16, 1);
    let now = tokio::time::Instant::now();
    for _ in 0..2 {
        let (id, _) = t.register(get(), Some(now)).expect("registers");
        assert!(t.mark_sent(id));
    }
    let (late, reset) = t.overdue(now);
    assert_eq!(late.len(), 2);
    assert!(reset, "two abandoned over a limit of one: the peer is presumed stuck");
}
