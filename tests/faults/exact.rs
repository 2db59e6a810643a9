//! Read-modify-writes replicate outcomes, never commands: a hint or a late write replayed on
//! a replica re-applies a value with the coordinator's version, so a replica that got an
//! outcome twice (late, then from a hint) holds what the coordinator holds.

use std::time::Duration;

use shale::protocol::text::RespValue;

use super::coord::{coordinated, rmw_until_run};
use super::proxy::Mode;
use super::support::{TestCluster, client, keys, stat, within};

/// How long replicas may take to agree once a fault healed.
const BOUND: Duration = Duration::from_secs(60);

/// `field` of node `node` in the router's STATS (`node_NAME:a=..,b=..`).
async fn router_node_stat(router: &str, node: &str, field: &str) -> Option<u64> {
    let line = stat(router, &format!("node_{node}")).await?;
    let prefix = format!("{field}=");
    line.split(',').find_map(|kv| kv.strip_prefix(&prefix)?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_hint_never_applies_a_read_modify_write_twice() {
    let mut c = TestCluster::new(&["a", "b"], &[&["a", "b"]], &[]).await;
    c.proxied_routers();
    c.start_all();
    assert!(within(BOUND, || coordinated(&c, 1)).await, "a coordinator named");
    let router = c.router(&["--write-timeout", "200ms"]);
    let addr = router.addr.to_string();
    let r = client(&addr).await;
    let ks = keys("h", 10);
    for k in &ks {
        assert_eq!(
            rmw_until_run(&r, &["SET", k, "0", "NX"]).await,
            Some(RespValue::Simple("OK".into()))
        );
    }
    // b's link gets slower than the router's write timeout: each outcome reaches b late,
    // after the router gave up on it and hinted it, so b gets it twice.
    c.fault("b", Mode::Delay(Duration::from_millis(300)));
    for round in 1..=3 {
        for k in &ks {
            let reply = rmw_until_run(&r, &["SET", k, &round.to_string(), "XX"]).await;
            assert!(matches!(reply, None | Some(RespValue::Simple(_))), "{k}: {reply:?}");
        }
    }
    assert_eq!(rmw_until_run(&r, &["EXPIRE", &ks[0], "1000"]).await, Some(RespValue::Int(1)));
    let hinted = router_node_stat(&addr, "b", "hinted").await.unwrap_or(0);
    c.fault("b", Mode::Pass);
    let replayed = || async { router_node_stat(&addr, "b", "hints").await == Some(0) };
    assert!(within(BOUND, replayed).await, "the router replays its hints for b");
    let want: Vec<Option<bytes::Bytes>> = ks.iter().map(|_| Some("3".into())).collect();
    let agree = || async { c.contents(&ks).await.values().all(|got| got.as_ref() == Some(&want)) };
    assert!(within(BOUND, agree).await, "every replica holds the last outcome\n{}", c.logs());
    let ttl = c.direct("b").await.ttl(ks[0].clone()).await.unwrap().flatten();
    assert!(ttl.is_some_and(|t| t > Duration::from_secs(900)), "b has the EXPIRE: {ttl:?}");
    println!("{hinted} outcomes hinted for b");
    assert!(hinted > 0, "outcomes were hinted");
}
