use std::time::Duration;

use super::*;

fn k(s: &'static str) -> Vec<Bytes> {
    vec![Bytes::from_static(s.as_bytes())]
}

/// Whether `ticket` is still held back (checked with a short, generous-enough timeout:
/// a ticket that is free returns at once, so only the "waits" side depends on it).
async fn waits(ticket: &Ticket) -> bool {
    tokio::time::timeout(Duration::from_millis(20), ticket.ready()).await.is_err()
}

async fn free(ticket: &Ticket) {
    tokio::time::timeout(Duration::from_secs(5), ticket.ready()).await.expect("ticket is free");
}

#[tokio::test]
async fn a_read_waits_for_an_earlier_write_of_its_key_only() {
    let order = KeyOrder::default();
    let write = order.enter(k("a"), true);
    let same = order.enter(k("a"), false);
    let other = order.enter(k("b"), false);
    free(&other).await;
    assert!(waits(&same).await, "the read of a waits for the write of a");
    drop(write);
    free(&same).await;
}

#[tokio::test]
async fn writes_of_one_key_queue_in_order() {
    let order = KeyOrder::default();
    let first = order.enter(k("a"), true);
    let second = order.enter(k("a"), true);
    let read = order.enter(k("a"), false);
    assert!(waits(&second).await);
    drop(first);
    free(&second).await;
    assert!(waits(&read).await);
    drop(second);
    free(&read).await;
    drop(read);
    assert_eq!(order.tracked(), 0);
}

#[tokio::test]
async fn a_write_waits_for_earlier_reads_of_its_key() {
    let order = KeyOrder::default();
    let r1 = order.enter(k("a"), false);
    let r2 = order.enter(k("a"), false);
    let w = order.enter(k("a"), true);
    let r3 = order.enter(k("a"), false);
    free(&r1).await;
    free(&r2).await;
    assert!(waits(&w).await, "GET a; SET a must not let the SET overtake the GET");
    drop(r1);
    assert!(waits(&w).await, "one read of the group is still in flight");
    drop(r2);
    free(&w).await;
    assert!(waits(&r3).await, "a read after the write waits for it");
    drop(w);
    free(&r3).await;
    drop(r3);
    assert_eq!(order.tracked(), 0);
}

#[tokio::test]
async fn reads_never_wait_for_reads() {
    let order = KeyOrder::default();
    let tickets: Vec<_> = (0..5).map(|_| order.enter(k("a"), false)).collect();
    for t in &tickets {
        free(t).await;
    }
    drop(tickets);
    assert_eq!(order.tracked(), 0);
}

#[tokio::test]
async fn a_dropped_unfinished_request_releases_what_it_held() {
    let order = KeyOrder::default();
    let read = order.enter(k("a"), false);
    let write = order.enter(k("a"), true);
    let later = order.enter(k("a"), false);
    drop(read);
    drop(write); // never became ready, e.g. its connection closed
    free(&later).await;
    drop(later);
    assert_eq!(order.tracked(), 0);
}

#[tokio::test]
async fn multi_key_requests_wait_per_key() {
    let order = KeyOrder::default();
    let wa = order.enter(k("a"), true);
    let both = order.enter(vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")], false);
    let wb = order.enter(k("b"), true);
    assert!(waits(&both).await);
    assert!(waits(&wb).await);
    drop(wa);
    free(&both).await;
    assert!(waits(&wb).await, "the write of b waits for the read of a and b");
    drop(both);
    free(&wb).await;
    drop(wb);
    assert_eq!(order.tracked(), 0);
}

#[tokio::test]
async fn a_key_named_twice_never_waits_for_itself() {
    let order = KeyOrder::default();
    let twice = [Bytes::from_static(b"a"), Bytes::from_static(b"a")];
    let write = order.enter(twice.to_vec(), true);
    free(&write).await;
    let read = order.enter(twice.to_vec(), false);
    assert!(waits(&read).await);
    drop(write);
    free(&read).await;
    drop(read);
    assert_eq!(order.tracked(), 0);
}

#[tokio::test]
async fn a_request_kept_alone_is_put_in_order_when_another_comes() {
    let order = KeyOrder::default();
    // Alone, then dropped: nothing was ever tracked for it beyond its own keys.
    drop(order.enter(k("a"), true));
    assert_eq!(order.tracked(), 0);
    // Alone until the read comes; the read then waits for it.
    let write = order.enter(k("a"), true);
    free(&write).await;
    let read = order.enter(k("a"), false);
    assert!(waits(&read).await, "a later read waits for a write that entered alone");
    // The first finishes before the second: the second goes on, and a third waits for it.
    let later_write = order.enter(k("a"), true);
    drop(write);
    free(&read).await;
    assert!(waits(&later_write).await, "the write waits for the read before it");
    drop(read);
    free(&later_write).await;
    drop(later_write);
    assert_eq!(order.tracked(), 0);
    // With everything gone, the next request is alone again and waits for nothing.
    let next = order.enter(k("a"), false);
    free(&next).await;
    drop(next);
    assert_eq!(order.tracked(), 0);
}

#[tokio::test]
async fn a_later_request_dropped_first_leaves_the_adopted_one_in_order() {
    let order = KeyOrder::default();
    let first = order.enter(k("a"), true);
    let other = order.enter(k("b"), true);
    drop(other);
    let read = order.enter(k("a"), false);
    assert!(waits(&read).await, "the first write still holds a after the other key's went");
    drop(first);
    free(&read).await;
    drop(read);
    assert_eq!(order.tracked(), 0);
}

#[tokio::test]
async fn a_lone_ticket_hands_its_key_list_back_and_a_large_one_does_not() {
    let order = KeyOrder::default();
    let mut keys = k("a");
    let room = keys.capacity();
    let ticket = order.enter_reusing(&mut keys, true);
    assert_eq!(keys.capacity(), 0, "nothing was spare yet");
    drop(ticket);
    keys.push(Bytes::from_static(b"b"));
    let ticket = order.enter_reusing(&mut keys, false);
    assert!(keys.is_empty() && keys.capacity() >= room, "the first ticket's list came back");
    free(&ticket).await;
    drop(ticket);
    // A request entered without a list to refill leaves the spare to the one that has.
    let plain = order.enter(k("p"), true);
    let mut again = k("q");
    let ticket = order.enter_reusing(&mut again, true);
    assert!(again.is_empty() && again.capacity() >= room, "the spare was left for it");
    drop((plain, ticket));

    let mut many: Vec<Bytes> = Vec::with_capacity(SPARE_KEYS + 1);
    many.push(Bytes::from_static(b"c"));
    drop(order.enter_reusing(&mut many, true));
    let mut next = k("d");
    drop(order.enter_reusing(&mut next, true));
    assert_eq!(next.capacity(), 0, "the large list was not kept for an idle connection");
    assert_eq!(order.tracked(), 0);
}
