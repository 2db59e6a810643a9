//! A coordinator that crashes leaves outcomes behind it: increments it applied and answered
//! whose writes to the other replicas are still on their way. A successor that computes
//! over a key before such a write lands would silently drop it (its own newer version
//! wins), while the client was told the increment happened. The successor tells the late
//! write apart (SUPERSEDED), and the router runs the command again on it: every count a
//! client was answered is distinct, and the replicas hold one increment per answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use shale::protocol::text::RespValue;

use super::coord::{Outcome, acts, coordinated, node_stat, rmw, rmw_until_run};
use super::proxy::Mode;
use super::support::{TestCluster, client, router_node_stat, within};

const BOUND: Duration = Duration::from_secs(60);

/// INCRs whose outcomes are held on their way to the other replica when the coordinator dies.
const LATE: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_coordinators_late_outcomes_are_run_again_not_lost() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.start_all();
    assert!(within(BOUND, || coordinated(&c, 1)).await, "a coordinator named");
    let a_acts = || acts(&c, "a");
    assert!(within(BOUND, a_acts).await, "a, first in the map, coordinates");
    // One router straight to the nodes, one through the fault proxies whose writes to b
    // can be held back (and wait long for them).
    let direct = c.router(&[]);
    c.proxied_routers();
    let slow = c.router(&["--threads", "1", "--write-timeout", "30s", "--request-timeout", "40s"]);
    let (direct, slow_proc) = (direct.addr.to_string(), slow);
    let slow = slow_proc.addr.to_string();
    let (rd, rs) = (client(&direct).await, client(&slow).await);
    assert_eq!(rmw_until_run(&rd, &["INCR", "n"]).await, Some(RespValue::Int(1)));
    assert_eq!(rmw_until_run(&rs, &["INCR", "n"]).await, Some(RespValue::Int(2)));

    // The slow router's link to b stops forwarding (the bytes wait in the kernel): a
    // applies LATE increments whose writes to b hang.
    c.fault("b", Mode::Blackhole);
    let partial = Arc::new(AtomicUsize::new(0));
    let late: Vec<_> = (0..LATE)
        .map(|_| {
            let (addr, partial) = (slow.clone(), partial.clone());
            tokio::spawn(async move {
                let r = client(&addr).await;
                for _ in 0..600 {
                    match rmw(&r, &["INCR", "n"]).await {
                        Outcome::Applied(Some(RespValue::Int(n))) => return Some(n),
                        Outcome::Applied(None) => {
                            partial.fetch_add(1, Ordering::Relaxed);
                            return None;
                        }
                        Outcome::Applied(other) => panic!("INCR answered {other:?}"),
                        Outcome::NotRun => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
                panic!("an INCR never ran");
            })
        })
        .collect();
    let held = || async { router_node_stat(&slow, "b", "in_flight").await >= Some(LATE as u64) };
    assert!(within(BOUND, held).await, "the slow router's outcome writes to b are held");
    // a dies with them answered but not on b; b takes over and increments before they land.
    c.kill("a");
    let b_acts = || acts(&c, "b");
    assert!(within(BOUND, b_acts).await, "b takes over");
    let Some(RespValue::Int(after)) = rmw_until_run(&rd, &["INCR", "n"]).await else {
        panic!("b's INCR through the direct router")
    };
    c.fault("b", Mode::Pass);

    let mut answered = vec![1, 2, after];
    for t in late {
        let Ok(got) = t.await else { panic!("{}\n{}", c.logs(), slow_proc.log()) };
        answered.extend(got);
    }
    assert_eq!(partial.load(Ordering::Relaxed), 0, "every late INCR was answered a count");
    answered.sort_unstable();
    let total = answered.len() as i64;
    assert_eq!(answered, (1..=total).collect::<Vec<_>>(), "each count answered once");
    let want = vec![Some(bytes::Bytes::from(total.to_string()))];
    let agree =
        || async { c.contents(&["n".to_owned()]).await.get("b") == Some(&Some(want.clone())) };
    assert!(
        within(BOUND, agree).await,
        "b holds {total}: {:?}",
        c.contents(&["n".to_owned()]).await
    );
    let superseded: u64 = node_stat(&c, "b", "outcomes_superseded").await.parse().unwrap();
    println!("b refused {superseded} late outcomes of the dead coordinator; answered {answered:?}");
    assert!(superseded >= 1, "the held outcomes reached b late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_of_two_keys_superseded_on_one_answers_partial_and_is_not_run_again() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.start_all();
    let a_acts = || acts(&c, "a");
    assert!(within(BOUND, a_acts).await, "a, first in the map, coordinates");
    let direct = c.router(&[]);
    c.proxied_routers();
    let slow_proc =
        c.router(&["--threads", "1", "--write-timeout", "30s", "--request-timeout", "40s"]);
    let slow = slow_proc.addr.to_string();
    let (rd, rs) = (client(&direct.addr.to_string()).await, client(&slow).await);
    // Through the slow router, so its connections to both nodes are up before the fault.
    assert_eq!(rmw_until_run(&rs, &["INCR", "x"]).await, Some(RespValue::Int(1)));

    // a renames x to y; both of its writes to b are held on the slow router's link.
    c.fault("b", Mode::Blackhole);
    let late = tokio::spawn(async move { rs.cmd(&["RENAME", "x", "y"]).await });
    let held = || async { router_node_stat(&slow, "b", "in_flight").await >= Some(2) };
    assert!(within(BOUND, held).await, "the rename's writes to b are held");
    // a dies; b takes over and increments x, which it still holds, before they land.
    c.kill("a");
    let b_acts = || acts(&c, "b");
    assert!(within(BOUND, b_acts).await, "b takes over");
    assert_eq!(rmw_until_run(&rd, &["INCR", "x"]).await, Some(RespValue::Int(2)));
    c.fault("b", Mode::Pass);

    // x's removal is superseded, y's value is taken: the rename holds on y only. Run again,
    // it would move b's 2 onto y; recognised by its id, it would claim both keys.
    let Ok(answer) = late.await else { panic!("{}\n{}", c.logs(), slow_proc.log()) };
    let err = answer.expect_err("the rename took effect in part");
    assert_eq!(err.status(), Some(shale::protocol::Status::Partial), "{err}");
    assert!(err.to_string().contains("on 1 of its 2 keys only"), "{err}");
    let keys = ["x".to_owned(), "y".to_owned()];
    let want = vec![Some(bytes::Bytes::from("2")), Some(bytes::Bytes::from("1"))];
    let held = || async { c.contents(&keys).await.get("b") == Some(&Some(want.clone())) };
    assert!(within(BOUND, held).await, "b holds x=2, y=1: {:?}", c.contents(&keys).await);
}
