//! Repair is the nodes' job: after a fault heals, replicas become identical within the
//! bound with no router running, deletes stay deleted however long a replica was away, a
//! restarted router serves no stale read, and a partition longer than the hint cap costs
//! time, not data.

use std::time::Duration;

use super::support::{TestCluster, client, keys, within};

/// The convergence bound the README promises.
const BOUND: Duration = Duration::from_secs(60);

async fn three_nodes(node_args: &[&str]) -> TestCluster {
    let mut c = TestCluster::new(&["a", "b", "c"], &[&["a", "b", "c"]], node_args).await;
    c.proxied_routers();
    c.start_all();
    c
}

/// Whether every running node holds exactly `want` for `keys`.
async fn all_hold(c: &TestCluster, keys: &[String], want: &[Option<String>]) -> bool {
    let want: Vec<Option<bytes::Bytes>> =
        want.iter().map(|v| v.as_ref().map(|s| bytes::Bytes::from(s.clone()))).collect();
    c.contents(keys).await.values().all(|got| got.as_ref() == Some(&want))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_converge_with_no_router_and_a_restarted_router_reads_nothing_stale() {
    let mut c = three_nodes(&[]).await;
    let ks = keys("k", 300);
    let router = c.router(&["--write-ack", "quorum"]);
    let r = client(&router.addr.to_string()).await;
    for k in &ks {
        r.set(k.clone(), "v1").await.unwrap();
    }
    c.partition("c", true);
    let mut want: Vec<Option<String>> = Vec::new();
    for (i, k) in ks.iter().enumerate() {
        if i % 3 == 0 {
            r.del(k.clone()).await.unwrap();
            want.push(None);
        } else {
            r.set(k.clone(), format!("v2-{i}")).await.unwrap();
            want.push(Some(format!("v2-{i}")));
        }
    }
    // The router goes away with c's hints; c comes back; no router runs.
    drop(router);
    c.partition("c", false);
    assert!(
        within(BOUND, || all_hold(&c, &ks, &want)).await,
        "replicas identical within the bound"
    );
    // A new router reads no stale value, from the first read on.
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    for (k, w) in ks.iter().zip(&want) {
        assert_eq!(
            r.get(k.clone()).await.unwrap().as_deref(),
            w.as_deref().map(str::as_bytes),
            "{k}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_restarted_during_a_partition_leaves_no_stale_read_after_it_heals() {
    let mut c = three_nodes(&[]).await;
    let ks = keys("k", 200);
    let first = c.router(&["--write-ack", "quorum"]);
    let r = client(&first.addr.to_string()).await;
    for k in &ks {
        r.set(k.clone(), "old").await.unwrap();
    }
    c.partition("c", true);
    for k in &ks {
        r.set(k.clone(), "new").await.unwrap();
    }
    drop(first);
    // The new router starts while c is still cut off, then c heals.
    let second = c.router(&["--write-ack", "quorum"]);
    c.partition("c", false);
    let r = client(&second.addr.to_string()).await;
    let want = vec![Some("new".to_owned()); ks.len()];
    assert!(within(BOUND, || all_hold(&c, &ks, &want)).await, "c repaired");
    for k in &ks {
        assert_eq!(r.get(k.clone()).await.unwrap().as_deref(), Some(&b"new"[..]), "{k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_never_come_back_after_a_replica_was_away_longer_than_the_grace() {
    // Tombstones live 10 s here; a replica out of touch for 5 s isolates itself.
    let c = three_nodes(&["--tombstone-grace", "10s"]).await;
    let ks = keys("k", 200);
    let first = c.router(&["--write-ack", "quorum"]);
    let r = client(&first.addr.to_string()).await;
    for k in &ks {
        r.set(k.clone(), "v").await.unwrap();
    }
    c.pause("c", true);
    for k in ks.iter().step_by(2) {
        r.del(k.clone()).await.unwrap();
    }
    // The hints for c go with the router, and the grace passes: a and b forget their
    // tombstones, c still holds every key.
    drop(first);
    tokio::time::sleep(Duration::from_secs(12)).await;
    c.pause("c", false);
    // c notices it was out of touch for longer than half the grace and resynchronises.
    for line in ["shard isolated", "dropped entries older than the isolation that no peer holds"] {
        if c.proc("c").try_wait_log(line).is_none() {
            panic!("c never logged '{line}':\n{}", c.logs());
        }
    }
    let want: Vec<Option<String>> =
        (0..ks.len()).map(|i| (i % 2 == 1).then(|| "v".to_owned())).collect();
    if !within(BOUND, || all_hold(&c, &ks, &want)).await {
        let held = c.contents(&ks).await;
        let back: Vec<String> = held
            .iter()
            .map(|(node, got)| match got {
                None => format!("{node}: unreadable"),
                Some(got) => {
                    let wrong = ks.iter().zip(got.iter().zip(&want));
                    let wrong: Vec<&String> = wrong
                        .filter(|(_, (g, w))| g.as_deref() != w.as_deref().map(str::as_bytes))
                        .map(|(k, _)| k)
                        .collect();
                    format!("{node}: {} keys wrong, first {:?}", wrong.len(), wrong.first())
                }
            })
            .collect();
        panic!("a deleted key came back or a node is unreadable: {back:?}\n{}", c.logs());
    }
    let router = c.router(&[]);
    let r = client(&router.addr.to_string()).await;
    for (k, w) in ks.iter().zip(&want) {
        assert_eq!(r.get(k.clone()).await.unwrap().as_deref(), w.as_deref().map(str::as_bytes));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_longer_than_the_hint_cap_costs_time_not_data() {
    let c = three_nodes(&[]).await;
    let ks = keys("k", 1000);
    let router = c.router(&["--max-hints-per-node", "100", "--write-ack", "quorum"]);
    let r = client(&router.addr.to_string()).await;
    c.pause("c", true);
    for k in &ks {
        r.set(k.clone(), "during").await.unwrap();
    }
    c.pause("c", false);
    let want = vec![Some("during".to_owned()); ks.len()];
    assert!(within(BOUND, || all_hold(&c, &ks, &want)).await, "c caught up past the hint cap");
    for k in &ks {
        assert_eq!(r.get(k.clone()).await.unwrap().as_deref(), Some(&b"during"[..]), "{k}");
    }
}

/// Keys written to a replica after its last anti-entropy round, then deleted while it was
/// paused for longer than the grace: the peers' tombstones are gone when it comes back,
/// and what it holds is newer than its last sync. It drops them all the same: a key no
/// peer holds that is older than a grace was deleted, or its tombstone would be there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_written_after_a_replicas_last_sync_and_deleted_while_it_was_away_stay_deleted() {
    let mut c =
        TestCluster::new(&["a", "b", "c"], &[&["a", "b", "c"]], &["--tombstone-grace", "10s"])
            .await;
    c.start_all();
    // Routers reach the nodes directly: c takes the writes, but syncs with no peer.
    c.partition("c", true);
    let ks = keys("late", 100);
    let first = c.router(&["--write-ack", "all"]);
    let r = client(&first.addr.to_string()).await;
    for k in &ks {
        r.set(k.clone(), "v").await.unwrap();
    }
    drop(first);
    c.pause("c", true);
    let second = c.router(&["--write-ack", "quorum"]);
    let r = client(&second.addr.to_string()).await;
    for k in &ks {
        r.del(k.clone()).await.unwrap();
    }
    // c's hints go with the router, and the tombstones with the grace.
    drop(second);
    tokio::time::sleep(Duration::from_secs(12)).await;
    c.partition("c", false);
    c.pause("c", false);
    if c.proc("c").try_wait_log("dropped entries older than the isolation").is_none() {
        panic!("c never resynchronised:\n{}", c.logs());
    }
    let want = vec![None; ks.len()];
    assert!(
        within(BOUND, || all_hold(&c, &ks, &want)).await,
        "no deleted key came back: {:?}\n{}",
        c.contents(&ks[..3]).await,
        c.logs()
    );
}
