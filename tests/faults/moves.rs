//! Shard moves are two-phase: the new replicas copy from the old ones (never only from each
//! other), the old ones keep and serve the data until every new one holds it, and routers
//! write to old and new replicas meanwhile. Nothing written before or during the move is
//! lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use shale::protocol::Status;

use super::common::{Proc, temp_file};
use super::support::{TestCluster, client, keys, stat, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_shard_to_new_replicas_loses_nothing() {
    let mut c = TestCluster::new(&["n1", "n2", "n3", "n4"], &[&["n1", "n2"]], &[]).await;
    c.start_all();
    let router = c.router(&[]);
    let addr = router.addr.to_string();
    let r = client(&addr).await;
    let before = keys("before", 500);
    for k in &before {
        r.set(k.clone(), "b").await.unwrap();
    }
    // A writer keeps writing through the move; every write it saw acknowledged must stay.
    let stop = Arc::new(AtomicBool::new(false));
    // (key, value, acknowledged): a failed write may or may not have been applied.
    let acked: Arc<Mutex<Vec<(String, String, bool)>>> = Arc::default();
    let writer = {
        let (stop, acked, r) = (stop.clone(), acked.clone(), client(&addr).await);
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (k, v) = (format!("during:{}", i % 200), format!("v{i}"));
                let ok = r.set(k.clone(), v.clone()).await.is_ok();
                acked.lock().push((k, v, ok));
                i += 1;
            }
        })
    };
    let counter = spawn_incrs(&addr, stop.clone()).await;
    c.remap(&[&["n3", "n4"]]);
    let n1 = format!("127.0.0.1:{}", c.nodes[0].port);
    let n3 = format!("127.0.0.1:{}", c.nodes[2].port);
    let moved = within(Duration::from_secs(60), || async {
        stat(&n3, "shards_ready").await.as_deref() == Some("1")
            && stat(&n1, "shards_retiring").await.as_deref() == Some("0")
            && stat(&n1, "shards_hosted").await.as_deref() == Some("0")
    })
    .await;
    assert!(moved, "the new replicas copied the shard and the old ones dropped it");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let (ran, unsure) = counter.await.unwrap();
    // The last write of each key, if it was acknowledged (keys whose last write failed are
    // uncertain and skipped; failures are counted and printed).
    let mut last = std::collections::HashMap::new();
    let mut failures = 0;
    for (k, v, ok) in acked.lock().iter() {
        failures += usize::from(!ok);
        last.insert(k.clone(), ok.then(|| v.clone()));
    }
    let last: std::collections::HashMap<String, String> =
        last.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
    println!(
        "writes during the move: {} keys checked, {failures} failed writes; {ran} INCR ran, \
         {unsure} unsure",
        last.len()
    );
    assert!(!last.is_empty(), "writes went through during the move");
    for node in ["n3", "n4"] {
        let d = c.direct(node).await;
        // Outcomes went to the old replicas as movers too (with their ids): whatever the
        // copy took from them, the count is a number and counts each INCR that ran once.
        let held = d.get("counter").await.unwrap().unwrap_or_default();
        let held: usize = std::str::from_utf8(&held).unwrap().parse().unwrap_or(usize::MAX);
        let counted = (ran..=ran + unsure).contains(&held);
        assert!(counted, "{node}: {held}, {ran} ran, {unsure} unsure\n{}", c.logs());
        for k in &before {
            assert_eq!(d.get(k.clone()).await.unwrap().as_deref(), Some(&b"b"[..]), "{node} {k}");
        }
        for (k, v) in &last {
            assert_eq!(
                d.get(k.clone()).await.unwrap().as_deref(),
                Some(v.as_bytes()),
                "{node} {k}"
            );
        }
    }
    for (k, v) in &last {
        assert_eq!(r.get(k.clone()).await.unwrap().as_deref(), Some(v.as_bytes()), "{k}");
    }
}

/// A router that never reads the new map writes the old replicas as replicas. Once they are
/// Retiring they refuse it (WRONG_SHARD: the new replicas may have copied already, and the
/// write would go when the old ones drop the shard), so it is never acknowledged and lost;
/// what they held before reaches the new replicas before they drop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_on_the_map_before_a_move_never_gets_ok_for_a_write_the_move_drops() {
    let mut c = TestCluster::new(&["n1", "n2", "n3", "n4"], &[&["n1", "n2"]], &[]).await;
    c.start_all();
    let old_map = std::fs::read_to_string(&c.router_map).unwrap();
    let frozen = temp_file("frozen-router.json", &old_map);
    let old = Proc::spawn(&["router", "--shardmap", frozen.to_str().unwrap()]);
    let r = client(&old.addr.to_string()).await;
    r.set("early", "e").await.unwrap();
    // n4 is cut off from the other nodes before the move, so the new replicas cannot be
    // ready yet and the old ones keep the shard (Retiring) while the old router writes.
    c.partition("n4", true);
    c.remap(&[&["n3", "n4"]]);
    let (n1, n2) = (addr_of(&c, 0), addr_of(&c, 1));
    let retiring = within(Duration::from_secs(60), || async {
        stat(&n1, "shards_retiring").await.as_deref() == Some("1")
            && stat(&n2, "shards_retiring").await.as_deref() == Some("1")
    });
    assert!(retiring.await, "the old replicas retire the shard");
    let late = r.set("late", "l").await;
    let err = late.as_ref().expect_err("a write only the retiring replicas would hold");
    assert!(err.to_string().contains("moving away"), "{err}");
    c.partition("n4", false);
    let (n3, n4) = (addr_of(&c, 2), addr_of(&c, 3));
    let moved = within(Duration::from_secs(60), || async {
        let stat_is =
            |addr, field, want| async move { stat(addr, field).await.as_deref() == Some(want) };
        stat_is(&n3, "shards_ready", "1").await
            && stat_is(&n4, "shards_ready", "1").await
            && stat_is(&n1, "shards_retiring", "0").await
            && stat_is(&n2, "shards_retiring", "0").await
    });
    assert!(
        moved.await,
        "the new replicas are ready and the old ones dropped the shard once n4 is back\n{}",
        c.logs()
    );
    for node in ["n3", "n4"] {
        let d = c.direct(node).await;
        assert_eq!(d.get("early").await.unwrap().as_deref(), Some(&b"e"[..]), "{node}");
        assert_eq!(d.get("late").await.unwrap(), None, "{node}: refused, so never written");
    }
}

/// A node that has not read the new map yet (here: never) still coordinates the shard by
/// the old one, for a router on the old map, while a new replica coordinates it by the new
/// one for a router that moved on. Each must fence the other when it takes over (the new
/// coordinator fences every node holding the shard, replica or not): they take turns, each
/// pulling the other's counts first, and every increment that ran is counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_the_old_map_and_the_new_coordinator_never_count_apart() {
    let mut c = TestCluster::new(&["n1", "n2", "n3", "n4"], &[&["n1", "n2"]], &[]).await;
    c.start_all();
    c.freeze_map("n1");
    c.restart("n1", true);
    let frozen = temp_file("frozen-router.json", &std::fs::read_to_string(&c.router_map).unwrap());
    let old = Proc::spawn(&["router", "--shardmap", frozen.to_str().unwrap()]);
    let new = c.router(&[]);
    c.remap(&[&["n3", "n4"]]);
    let n3 = addr_of(&c, 2);
    let ready = || async { stat(&n3, "shards_coordinated").await.as_deref() == Some("1") };
    assert!(within(Duration::from_secs(60), ready).await, "n3 coordinates the moved shard");
    let stop = Arc::new(AtomicBool::new(false));
    let counters = [
        spawn_incrs(&old.addr.to_string(), stop.clone()).await,
        spawn_incrs(&new.addr.to_string(), stop.clone()).await,
    ];
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ran, mut unsure) = (0, 0);
    for counter in counters {
        let (r, u) = counter.await.unwrap();
        (ran, unsure) = (ran + r, unsure + u);
    }
    assert!(ran > 0, "increments ran");
    // n1 keeps taking the shard back by its map, and n3 by its own; each takeover pulls
    // from the other, so n3 soon holds every increment.
    let d = c.direct("n3").await;
    let counted = || async {
        let held = d.get("counter").await.ok().flatten().unwrap_or_default();
        let held: usize = std::str::from_utf8(&held).unwrap().parse().unwrap_or(0);
        (ran..=ran + unsure).contains(&held)
    };
    let agreed = within(Duration::from_secs(30), counted).await;
    let held = d.get("counter").await;
    let (n1, n3) = (addr_of(&c, 0), addr_of(&c, 2));
    let takeovers = [stat(&n1, "coord_takeovers").await, stat(&n3, "coord_takeovers").await];
    println!("{ran} INCR ran, {unsure} unsure; takeovers of n1, n3: {takeovers:?}");
    assert!(
        agreed,
        "n3 counts every increment: {ran} ran ({unsure} unsure), it holds {held:?}\n{}",
        c.logs()
    );
    let apart = || async { stat(&n3, "map_peers_disagreeing").await.as_deref() == Some("1") };
    assert!(within(Duration::from_secs(10), apart).await, "n3 counts n1 on another map");
    let new_router = new.addr.to_string();
    let line = || async { stat(&new_router, "node_n1").await.unwrap_or_default() };
    let other = || async { line().await.ends_with(",map=other") };
    assert!(within(Duration::from_secs(10), other).await, "router: n1 {}", line().await);
    let n3_line = stat(&new_router, "node_n3").await.unwrap_or_default();
    assert!(n3_line.ends_with(",map=same"), "router: n3 {n3_line}");
}

fn addr_of(c: &TestCluster, i: usize) -> String {
    format!("127.0.0.1:{}", c.nodes[i].port)
}

/// INCRs `counter` through `addr` until `stop`; returns how many ran and how many may have.
async fn spawn_incrs(addr: &str, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(usize, usize)> {
    let r = client(addr).await;
    tokio::spawn(async move {
        let (mut ran, mut unsure) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            match r.cmd(&["INCR", "counter"]).await {
                Ok(_) => ran += 1,
                Err(e) => match e.status() {
                    Some(Status::Partial | Status::ReplyLost) => ran += 1,
                    Some(Status::Unavailable | Status::NotReady | Status::WrongShard) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    _ => unsure += 1,
                },
            }
        }
        (ran, unsure)
    })
}
