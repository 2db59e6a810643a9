//! WATCH through a router in front of a real cluster: the marks come from the keys' shard
//! coordinator and EXEC hands them back to it, so a change by any client through any
//! router aborts the transaction (a null array, nothing run), a handover of the shard
//! between WATCH and EXEC counts as a change, keys of two shards are CROSSSHARD, and an
//! optimistic read-modify-write loop from several clients through two routers loses no
//! update.

use std::time::Duration;

use shale::client::{Client, Error};
use shale::protocol::Status;
use shale::protocol::text::RespValue;
use shale::shardmap::shard_for_key;

use super::coord::{acts, coordinated, node_stat};
use super::support::{TestCluster, client, keys, within};

/// How long a cluster may take to name (or replace) a coordinator.
const SETTLE: Duration = Duration::from_secs(30);

fn ok() -> RespValue {
    RespValue::Simple("OK".into())
}

/// WATCH `key`, read it, then queue `SET key value`: the open transaction.
async fn watched_set(r: &Client, key: &str, value: &str) -> shale::client::Transaction {
    let mut tx = r.begin_transaction(&[key]).await.unwrap();
    tx.cmd(&["GET", key]).await.unwrap();
    tx.queue(&["SET", key, value]).unwrap();
    tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_any_router_aborts_a_watched_transaction() {
    let shards: &[&[&str]] = &[&["a", "b"], &["b", "a"]];
    let mut c = TestCluster::new(&["a", "b"], shards, &[]).await;
    c.start_all();
    assert!(within(SETTLE, || coordinated(&c, 2)).await, "coordinators named");
    let (one, two) = (c.router(&[]), c.router(&[]));
    let (r1, r2) = (client(&one.addr.to_string()).await, client(&two.addr.to_string()).await);
    let ks = keys("w", 50);
    let k = ks[0].clone();
    let other =
        ks.iter().find(|o| shard_for_key(o.as_bytes(), 2) != shard_for_key(k.as_bytes(), 2));
    let other = other.unwrap().clone();
    r1.set(k.clone(), "0").await.unwrap();

    // Untouched: EXEC runs the queue.
    commits_untouched(&c, &r1, &k, "1").await;
    // Written through the other router in between: a null array, and nothing ran.
    let tx = watched_set(&r1, &k, "2").await;
    r2.set(k.clone(), "theirs").await.unwrap();
    assert_eq!(tx.exec().await.unwrap(), None, "aborted");
    assert_eq!(r1.get(k.clone()).await.unwrap().as_deref(), Some(&b"theirs"[..]));
    // Deleted, expired and created keys count as changes too.
    let tx = watched_set(&r1, &k, "3").await;
    r2.cmd(&["DEL", &k]).await.unwrap();
    assert_eq!(tx.exec().await.unwrap(), None, "a delete aborts");
    let tx = watched_set(&r1, &k, "4").await;
    r2.cmd(&["SET", &k, "back"]).await.unwrap();
    assert_eq!(tx.exec().await.unwrap(), None, "creating a watched absent key aborts");
    let tx = watched_set(&r1, &k, "5").await;
    r2.cmd(&["PEXPIRE", &k, "1"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(tx.exec().await.unwrap(), None, "an expiry aborts");
    // A change of another key of the shard does not.
    r2.set(format!("{k}-unrelated"), "x").await.unwrap();
    commits_untouched(&c, &r1, &k, "6").await;

    // Keys of two shards: CROSSSHARD at WATCH, or at EXEC (nothing runs).
    let err = r1.begin_transaction(&[k.as_str(), other.as_str()]).await.unwrap_err();
    assert_eq!(err.status(), Some(Status::CrossShard), "{err}");
    let mut tx = r1.begin_transaction(&[k.as_str()]).await.unwrap();
    tx.queue(&["SET", &other, "never"]).unwrap();
    let err = tx.exec().await.unwrap_err();
    assert_eq!(err.status(), Some(Status::CrossShard), "{err}");
    assert_eq!(r1.get(other.clone()).await.unwrap(), None, "nothing ran");
    assert_eq!(r1.get(k.clone()).await.unwrap().as_deref(), Some(&b"6"[..]));

    // The optimistic loop from four clients through two routers loses no increment.
    let counter = ks[1].clone();
    r1.set(counter.clone(), "0").await.unwrap();
    // Concurrent on one task: each loop waits on the network, not the CPU.
    let loops = (0..4).map(|i| {
        let (r, counter) = (if i % 2 == 0 { &r1 } else { &r2 }, counter.as_str());
        async move {
            for _ in 0..25 {
                increment(r, counter).await;
            }
        }
    });
    futures_util::future::join_all(loops).await;
    let want = Some(vec![Some(bytes::Bytes::from("100"))]);
    let held =
        || async { c.contents(std::slice::from_ref(&counter)).await.values().all(|v| *v == want) };
    assert!(
        within(SETTLE, held).await,
        "100 on both replicas: {:?}",
        c.contents(std::slice::from_ref(&counter)).await
    );
}

/// A transaction on `key` that nobody touches runs. A coordinator handover between its
/// WATCH and EXEC aborts it (the marks are the coordinator's, see the handover test); a
/// loaded machine can make a coordinator miss its lease renewal and take the shard anew,
/// so an abort is retried when the nodes' `coord_takeovers` moved meanwhile, never else.
async fn commits_untouched(c: &TestCluster, r: &Client, key: &str, value: &str) {
    let takeovers = || async {
        let mut sum = 0;
        for n in ["a", "b"] {
            sum += node_stat(c, n, "coord_takeovers").await.parse::<u64>().unwrap_or(0);
        }
        sum
    };
    for _ in 0..5 {
        let before = takeovers().await;
        let tx = watched_set(r, key, value).await;
        if tx.exec().await.unwrap() == Some(vec![ok()]) {
            return;
        }
        let after = takeovers().await;
        assert_ne!(before, after, "an untouched transaction aborted with no handover");
    }
    panic!("an untouched transaction aborted five times, each across a handover");
}

/// GET, then SET to one more, under WATCH, retried until it runs.
async fn increment(r: &Client, key: &str) {
    let done = r
        .transaction(&[key], async |tx| {
            let now = match tx.cmd(&["GET", key]).await? {
                RespValue::Bulk(v) => std::str::from_utf8(&v).unwrap().parse::<u64>().unwrap(),
                other => panic!("{other:?}"),
            };
            tx.queue(&["SET", key, &(now + 1).to_string()])?;
            Ok(())
        })
        .await;
    match done {
        Ok(replies) => assert_eq!(replies, [ok()]),
        Err(e @ Error::TransactionConflict { .. }) => panic!("{e}"),
        Err(e) => panic!("{key}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_handover_between_watch_and_exec_aborts_the_transaction() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.start_all();
    let a_coordinates = || acts(&c, "a");
    assert!(within(SETTLE, a_coordinates).await, "a (first in the map) coordinates");
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    r.set("k", "0").await.unwrap();

    // Watched on a; a dies; b takes over with no write to the key in between.
    let tx = watched_set(&r, "k", "mine").await;
    c.kill("a");
    let b_coordinates = || acts(&c, "b");
    assert!(within(SETTLE, b_coordinates).await, "b took over");
    // b's marks are not a's: the transaction cannot know the key did not change.
    assert_eq!(tx.exec().await.unwrap(), None, "aborted across the handover");
    assert_eq!(r.get("k").await.unwrap().as_deref(), Some(&b"0"[..]), "nothing ran");
    // Watched again under b's coordinatorship, it runs.
    let tx = watched_set(&r, "k", "mine").await;
    assert_eq!(tx.exec().await.unwrap(), Some(vec![ok()]));
    assert_eq!(r.get("k").await.unwrap().as_deref(), Some(&b"mine"[..]));
}
